//! An `arena bot` process for the end-to-end tests (`tests/net.rs` on
//! loopback, `tests/netlab.rs` in the NAT lab): the lines it prints, each
//! with when it came, and its JSON report at the end.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a bot may take to print the line a test waits for.
pub const WAIT: Duration = Duration::from_secs(40);

/// One `arena bot` process and the lines it prints.
pub struct Bot {
    /// Its name.
    pub name: String,
    child: Option<Child>,
    /// Lines not read yet, with when they came.
    pub lines: mpsc::Receiver<(Instant, String)>,
    /// Lines read so far.
    pub seen: Vec<(Instant, String)>,
    report: PathBuf,
    stderr: PathBuf,
}

impl Bot {
    /// Runs `cmd`, an `arena bot` command line, with `--report` and its log
    /// in `dir` (named after the bot), its stdout read line by line.
    pub fn start(mut cmd: Command, name: &str, dir: &Path) -> Bot {
        std::fs::create_dir_all(dir).expect("bot folder");
        let report = dir.join(format!("{name}.json"));
        let stderr = dir.join(format!("{name}.log"));
        let _ = std::fs::remove_file(&report);
        let mut child = cmd
            .arg("--report")
            .arg(&report)
            .env(
                "RUST_LOG",
                std::env::var("ARENA_BOT_LOG").unwrap_or_else(|_| {
                    "info,rtc=warn,rtc_ice=warn,rtc_turn=warn,webrtc=warn,rust_socketio=warn".into()
                }),
            )
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("bot log"))
            .spawn()
            .expect("run arena bot");
        let out = child.stdout.take().expect("bot stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Bot {
            name: name.into(),
            child: Some(child),
            lines,
            seen: Vec::new(),
            report,
            stderr,
        }
    }

    /// Its process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its whole log (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Stops it at once.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for a line starting with `prefix`; returns it and when it came.
    pub fn wait_for(&mut self, prefix: &str, within: Duration) -> (Instant, String) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) => {
                    self.seen.push((at, line.clone()));
                    if line.starts_with(prefix) {
                        return (at, line);
                    }
                }
                Err(_) => panic!(
                    "{}: no line starting with {prefix:?} within {within:?}; saw {:?}\n{}",
                    self.name,
                    self.seen.iter().map(|(_, l)| l).collect::<Vec<_>>(),
                    self.log_tail()
                ),
            }
        }
    }

    /// The room code it printed.
    pub fn code(&mut self) -> String {
        let (_, line) = self.wait_for("ROOM ", WAIT);
        line["ROOM ".len()..].to_owned()
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Waits for the bot to finish; returns its report and every line it
    /// printed, with when it came.
    pub fn finish_with_lines(mut self) -> (Value, Vec<(Instant, String)>) {
        let lines = std::mem::take(&mut self.seen);
        let report = self.finish_inner();
        let mut all = lines;
        all.extend(std::mem::take(&mut self.seen));
        (report, all)
    }

    /// Waits for the bot to finish and returns its report.
    pub fn finish(mut self) -> Value {
        self.finish_inner()
    }

    fn finish_inner(&mut self) -> Value {
        self.wait_for("DONE", WAIT * 3);
        let mut child = self.child.take().expect("running");
        let status = child.wait().expect("wait for the bot");
        assert!(
            status.success(),
            "{} exited with {status}\n{}",
            self.name,
            self.log_tail()
        );
        let text = std::fs::read_to_string(&self.report).expect("bot report");
        serde_json::from_str(&text).expect("report JSON")
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.kill();
    }
}
