//! A coturn TURN server in a child process, for tests and benches (included
//! with `#[path]` by `tests/net.rs` and `benches/net_link.rs`; test code, not
//! part of the library): how to run coturn with the TURN REST secret that
//! `arena-server` shares with it.
//!
//! It listens on a free loopback port, relays on loopback only, and is ready
//! when `start` returns (it answered a STUN binding request). Killed on drop.

use std::io;
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A running `turnserver`.
pub struct Coturn {
    child: Child,
    port: u16,
}

impl Coturn {
    /// Starts `turnserver` with `--use-auth-secret` and `secret`; its log,
    /// pid file and database go to `dir`.
    pub fn start(secret: &str, dir: &Path) -> io::Result<Coturn> {
        std::fs::create_dir_all(dir)?;
        let port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = std::fs::File::create(dir.join(format!("turn-{port}.log")))?;
        let child = Command::new("turnserver")
            .args(["-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
            .arg(format!("--listening-port={port}"))
            .args([
                "--realm=arena.test",
                "--no-tls",
                "--no-dtls",
                "--allow-loopback-peers",
            ])
            .args(["--fingerprint", "--no-cli", "--use-auth-secret"])
            .arg(format!("--static-auth-secret={secret}"))
            .arg(format!(
                "--pidfile={}",
                dir.join(format!("turn-{port}.pid")).display()
            ))
            .arg(format!(
                "--db={}",
                dir.join(format!("turn-{port}.db")).display()
            ))
            .args(["--min-port=40000", "--max-port=40999"])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let turn = Coturn { child, port };
        turn.wait_ready()?;
        Ok(turn)
    }

    /// The `turn:` URL for clients and `arena-server`'s `--turn-url`.
    pub fn url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=udp", self.port)
    }

    /// Ready when it answers a STUN binding request (RFC 5389).
    fn wait_ready(&self) -> io::Result<()> {
        let s = UdpSocket::bind("127.0.0.1:0")?;
        s.set_read_timeout(Some(Duration::from_millis(100)))?;
        let mut req = [0u8; 20];
        req[1] = 1; // binding request, no attributes
        req[4..8].copy_from_slice(&0x2112_A442u32.to_be_bytes());
        req[8..20].copy_from_slice(b"arena-ready!");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            // Before it listens, the kernel answers with an ICMP error: ignore and retry.
            let _ = s.send_to(&req, ("127.0.0.1", self.port));
            let mut buf = [0u8; 512];
            if let Ok((n, _)) = s.recv_from(&mut buf) {
                if n >= 20 && buf[0..2] == [0x01, 0x01] {
                    return Ok(());
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "coturn did not answer a STUN request",
        ))
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
