//! A real `redis-server` for the tests, on a free loopback port, with no
//! persistence (a restart comes back empty: the hard case for the nodes).
//! `scripts/test.sh` installs it.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// One `redis-server` process.
pub struct Redis {
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Redis {
    /// Starts one with its files in `dir`; panics with what it printed if it
    /// does not come up.
    pub fn start(dir: &Path) -> Redis {
        std::fs::create_dir_all(dir).expect("redis folder");
        for _ in 0..5 {
            // A port the kernel says is free now (redis-server cannot be told
            // to pick one itself): taken again in the rare case it is lost.
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut r = Redis {
                port,
                dir: dir.to_owned(),
                child: None,
            };
            if r.launch() {
                return r;
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it at once (SIGKILL): everything it held is lost.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again, empty, on the same port.
    pub fn restart(&mut self) {
        self.kill();
        assert!(
            self.launch(),
            "redis-server did not come back on {}",
            self.port
        );
    }

    /// Runs `redis-cli ARGS` against it; its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Starts the process and waits for "Ready to accept connections";
    /// `false` if the port was taken meanwhile.
    fn launch(&mut self) -> bool {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run redis-server (scripts/test.sh installs it)");
        let out = child.stdout.take().expect("redis stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(line) if line.contains("Ready to accept connections") => {
                    // Keep draining its output so it never blocks on a full pipe.
                    std::thread::spawn(move || while rx.recv().is_ok() {});
                    self.child = Some(child);
                    return true;
                }
                Ok(line) if line.contains("Address already in use") => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!("redis-server did not start:\n{}", seen.join("\n"));
                }
            }
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
