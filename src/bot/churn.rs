//! `arena churn`: a client that joins a room and leaves it again, N times,
//! over one server connection, with the WebRTC link to the room's players
//! opened (both data channels) and closed each time. It is the churning side
//! of the leak test (tests/churn.rs); a long-lived `arena bot --usage-every`
//! in the room is the other side.
//!
//! It prints one line per step on stdout, so a test follows it without
//! polling files:
//!
//! ```text
//! CYCLE <i> open_ms=<join → link open> cycle_ms=<join → left> rss_kb=<N> fds=<N> tasks=<N>
//! BASELINE rss_kb=<N> fds=<N> tasks=<N>       after cycle 1, once its tasks are gone
//! HOLD                                        (--hold) waiting for a line on stdin
//! FINAL rss_kb=<N> fds=<N> tasks=<N> settle_ms=<N>
//! DONE cycles=<N> total_s=<S>
//! ```
//!
//! The baseline is taken after the first cycle (allocator arenas, lazy
//! statics and the first connection's one-time costs are warm by then),
//! once the net thread's task count is back to what it was before joining;
//! the final reading after the last cycle, once tasks and descriptors are
//! back to the baseline or [`SETTLE`] has passed. It owns no socket itself:
//! everything goes through [`NetHandle`].

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use crate::net::{
    LeaveReason, NetCommand, NetConfig, NetError, NetEvent, NetHandle, RoomErrorKind, Usage,
};

/// How long the net thread may take to give back a cycle's tasks and
/// descriptors (the last leave lingers ~0.2 s for the goodbyes).
pub const SETTLE: Duration = Duration::from_secs(10);

/// What `arena churn` does.
#[derive(Debug, Clone)]
pub struct ChurnConfig {
    /// Network configuration (server, name, bind address, ...).
    pub net: NetConfig,
    /// The room to join and leave.
    pub code: String,
    /// How many times.
    pub cycles: u32,
    /// After the baseline, print `HOLD` and wait for a line on stdin (so a
    /// test can take the other side's baseline while nothing happens).
    pub hold: bool,
    /// Longest wait for each step (connected, joined, link open, left).
    pub step_timeout: Duration,
}

/// Why churning stopped.
#[derive(Debug, thiserror::Error)]
pub enum ChurnError {
    /// The net thread could not start.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The server refused the join.
    #[error("cycle {cycle}: could not join the room ({kind:?}): {message}")]
    Room {
        /// Which cycle.
        cycle: u32,
        /// Why, as a kind.
        kind: RoomErrorKind,
        /// Why, as the server said it.
        message: String,
    },
    /// A step did not happen in time.
    #[error("cycle {cycle}: {what} did not happen within {timeout:?}")]
    Timeout {
        /// Which cycle (0: before the first).
        cycle: u32,
        /// The step.
        what: &'static str,
        /// The wait.
        timeout: Duration,
    },
    /// The net thread ended.
    #[error("the net thread stopped")]
    Stopped,
    /// Reading stdin or writing stdout failed.
    #[error("stdin/stdout: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the cycles; prints to `out`, reads `hold` for `--hold`.
pub fn run(
    config: ChurnConfig,
    out: &mut impl Write,
    hold: &mut impl BufRead,
) -> Result<(), ChurnError> {
    let start = Instant::now();
    let net = NetHandle::spawn(config.net.clone())?;
    let churn = Churn {
        net: &net,
        timeout: config.step_timeout,
    };
    churn.wait(0, "connecting to the server", |e| {
        matches!(e, NetEvent::Connected { .. })
    })?;
    let idle_tasks = churn.quiet().tasks;
    let mut baseline = None;
    for cycle in 1..=config.cycles {
        let t0 = Instant::now();
        net.send(NetCommand::JoinRoom(config.code.clone()));
        let joined = churn.wait(cycle, "joining the room", |e| {
            matches!(e, NetEvent::RoomJoined { .. } | NetEvent::RoomFailed { .. })
        })?;
        if let NetEvent::RoomFailed { kind, message } = joined {
            return Err(ChurnError::Room {
                cycle,
                kind,
                message,
            });
        }
        churn.wait(
            cycle,
            "the WebRTC link opening",
            |e| matches!(e, NetEvent::RouteChanged { route, .. } if route.is_p2p()),
        )?;
        let open_ms = ms(t0.elapsed());
        net.send(NetCommand::LeaveRoom);
        churn.wait(cycle, "leaving the room", |e| {
            matches!(
                e,
                NetEvent::PeerLeft {
                    reason: LeaveReason::WeLeft,
                    ..
                }
            )
        })?;
        let cycle_ms = ms(t0.elapsed());
        writeln!(
            out,
            "CYCLE {cycle} open_ms={open_ms:.1} cycle_ms={cycle_ms:.1} {}",
            net.usage()
        )?;
        if cycle == 1 {
            let base = churn.settle(|u| u.tasks.saturating_sub(idle_tasks));
            writeln!(out, "BASELINE {base}")?;
            baseline = Some(base);
            if config.hold {
                writeln!(out, "HOLD")?;
                out.flush()?;
                hold.read_line(&mut String::new())?;
            }
        }
        out.flush()?;
    }
    let settle_from = Instant::now();
    let last = match baseline {
        Some(base) => churn.settle(|u| {
            let fds = u.fds.unwrap_or(0).saturating_sub(base.fds.unwrap_or(0));
            u.tasks.saturating_sub(base.tasks) + fds
        }),
        None => net.usage(),
    };
    writeln!(
        out,
        "FINAL {last} settle_ms={:.0}",
        ms(settle_from.elapsed())
    )?;
    writeln!(
        out,
        "DONE cycles={} total_s={:.1}",
        config.cycles,
        start.elapsed().as_secs_f64()
    )?;
    out.flush()?;
    net.shutdown();
    Ok(())
}

struct Churn<'a> {
    net: &'a NetHandle,
    timeout: Duration,
}

impl Churn<'_> {
    /// Waits for an event `wanted` says yes to and returns it (others are dropped).
    fn wait(
        &self,
        cycle: u32,
        what: &'static str,
        wanted: impl Fn(&NetEvent) -> bool,
    ) -> Result<NetEvent, ChurnError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.net.events().recv_timeout(left) {
                Ok(e) if wanted(&e) => return Ok(e),
                Ok(_) => {}
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    return Err(ChurnError::Timeout {
                        cycle,
                        what,
                        timeout: self.timeout,
                    });
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err(ChurnError::Stopped);
                }
            }
        }
    }

    /// Reads the task count until it has not changed for 100 ms (the
    /// requests of connecting have ended), or [`SETTLE`] has passed.
    fn quiet(&self) -> Usage {
        let deadline = Instant::now() + SETTLE;
        let mut last = self.net.usage();
        let mut since = Instant::now();
        while since.elapsed() < Duration::from_millis(100) && Instant::now() < deadline {
            let _ = self.net.events().recv_timeout(Duration::from_millis(5));
            let u = self.net.usage();
            if u.tasks != last.tasks {
                since = Instant::now();
            }
            last = u;
        }
        last
    }

    /// Reads the usage until `excess` of it is 0 or [`SETTLE`] has passed
    /// (events meanwhile are dropped); returns the last reading. The wait is
    /// for the net thread's tasks to end: polled every 5 ms, no fixed sleep.
    fn settle(&self, excess: impl Fn(&Usage) -> usize) -> Usage {
        let deadline = Instant::now() + SETTLE;
        loop {
            let u = self.net.usage();
            if excess(&u) == 0 || Instant::now() >= deadline {
                return u;
            }
            // Waiting on the event channel doubles as the poll interval.
            let _ = self.net.events().recv_timeout(Duration::from_millis(5));
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
