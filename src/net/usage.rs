//! What a process holds, for leak checks (`arena bot --usage-every`,
//! `arena churn`, tests/churn.rs): resident memory and open file
//! descriptors from `/proc/self` (Linux), and the tasks alive on the net
//! thread's tokio runtime (given by the caller). It only reads; it must not
//! hold anything itself between readings.

use std::fmt;

/// One reading of a process's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Resident set size, KiB (`VmRSS` of `/proc/self/status`); `None`
    /// where there is no `/proc`.
    pub rss_kb: Option<u64>,
    /// Open file descriptors (entries of `/proc/self/fd`); `None` where
    /// there is no `/proc`.
    pub fds: Option<usize>,
    /// Tasks alive on the net thread's tokio runtime.
    pub tasks: usize,
}

impl Usage {
    /// Reads this process's memory and descriptors now, with `tasks` alive.
    pub fn now(tasks: usize) -> Usage {
        Usage {
            rss_kb: rss_kb(),
            fds: open_fds(),
            tasks,
        }
    }
}

/// `rss_kb=N fds=N tasks=N` (`-` for what could not be read): the form the
/// `USAGE` lines of `arena bot` and `arena churn` print.
impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
        write!(
            f,
            "rss_kb={} fds={} tasks={}",
            opt(self.rss_kb),
            opt(self.fds.map(|n| n as u64)),
            self.tasks
        )
    }
}

fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_rss_kb(&status)
}

/// `VmRSS:    1234 kB` → 1234.
fn parse_rss_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line["VmRSS:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn open_fds() -> Option<usize> {
    // The directory handle used to read it is one of the entries: not counted.
    let n = std::fs::read_dir("/proc/self/fd").ok()?.count();
    Some(n.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn rss_is_parsed_from_proc_status() {
        let status = "Name:\tarena\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n";
        assert_eq!(parse_rss_kb(status), Some(12345));
        assert_eq!(parse_rss_kb("Name:\tx\n"), None);
        assert_eq!(parse_rss_kb("VmRSS:\tlots kB\n"), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn an_opened_file_shows_in_the_count() {
        let before = Usage::now(0);
        assert!(before.rss_kb.unwrap() > 0);
        let f = std::fs::File::open("/proc/self/status").unwrap();
        let with = Usage::now(0).fds.unwrap();
        drop(f);
        // Other tests run in parallel threads: only ask for a difference.
        assert!(with >= 1, "{with}");
        assert_eq!(before.to_string().split(' ').count(), 3);
    }
}
