//! Lets the `sound` feature link on a machine without ALSA's development
//! package.
//!
//! macroquad's audio (quad-snd, through quad-alsa-sys) links `-lasound`,
//! which needs the unversioned `libasound.so` that only `libasound2-dev`
//! installs; the runtime package every desktop Linux has ships
//! `libasound.so.2` alone, so `cargo run --release` failed to link on a fresh
//! machine. quad-alsa-sys declares the functions itself (no headers needed),
//! so when `libasound.so` is missing but `libasound.so.2` is there, this
//! script puts a `libasound.so` link to it in its own output folder and adds
//! that folder to the linker's search path. With neither, it says what to
//! install (or to build with `--no-default-features`, without sound).

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if !linux || std::env::var_os("CARGO_FEATURE_SOUND").is_none() {
        return;
    }
    let dirs = library_dirs();
    if find(&dirs, "libasound.so").is_some() {
        return;
    }
    let Some(runtime) = find(&dirs, "libasound.so.2") else {
        println!(
            "cargo:warning=ALSA (libasound.so.2) not found: install libasound2 \
             (or libasound2-dev), or build without sound: --no-default-features"
        );
        return;
    };
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    let dir = out.join("alsa");
    let link = dir.join("libasound.so");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::remove_file(&link);
    match std::os::unix::fs::symlink(&runtime, &link) {
        Ok(()) => println!("cargo:rustc-link-search=native={}", dir.display()),
        Err(e) => println!(
            "cargo:warning=cannot link {} to {}: {e}",
            link.display(),
            runtime.display()
        ),
    }
}

/// Where the system keeps shared libraries for the target.
fn library_dirs() -> Vec<PathBuf> {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = match arch.as_str() {
        "x86" => "i386".to_owned(),
        "arm" => "arm".to_owned(),
        other => other.to_owned(),
    };
    let mut dirs = Vec::new();
    for root in ["/usr/lib", "/lib"] {
        if let Ok(entries) = std::fs::read_dir(root) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let gnu = name.ends_with("-linux-gnu") || name.contains("-linux-gnueabi");
                if name.starts_with(&multiarch) && gnu {
                    dirs.push(e.path());
                }
            }
        }
    }
    dirs.extend(["/usr/lib64", "/usr/lib", "/lib64", "/lib"].map(PathBuf::from));
    dirs
}

fn find(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(name)).find(|p| Path::exists(p))
}
