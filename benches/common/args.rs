//! The benches' command-line options: `cargo bench --bench NAME -- --secs 30`.

/// The number after `name` on the command line, or `default`.
pub fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether `name` is on the command line.
#[allow(dead_code)] // not every bench has switches
pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}
