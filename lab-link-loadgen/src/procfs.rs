//! The server's CPU time and memory from `/proc/PID`, and the open-file
//! limit that a connect storm needs.
//!
//! CPU time is utime + stime of `/proc/PID/stat` (all threads, exited ones
//! included), in clock ticks of `sysconf(_SC_CLK_TCK)` (100 per second on
//! Linux): scenarios run for seconds so that a tick's resolution does not
//! matter. Memory is `VmRSS` of `/proc/PID/status`.

use std::time::Duration;

use crate::{Error, Result};

/// utime + stime, in clock ticks, from the text of `/proc/PID/stat`.
///
/// The command name (field 2) is in parentheses and may hold spaces and
/// parentheses itself, so the fields are counted after its last `)`.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // After the name: state (field 3), then fields 4..=13, utime (14) and
    // stime (15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` in bytes, from the text of `/proc/PID/status`.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    (words.next()? == "kB").then_some(kib * 1024)
}

/// Busy and total clock ticks of all cores, from the first line of
/// `/proc/stat` (`cpu  user nice system idle iowait irq softirq steal …`):
/// busy is user + nice + system + irq + softirq + steal.
pub fn parse_machine_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = fields[..] else {
        return None;
    };
    let busy = user + nice + system + irq + softirq + steal;
    Some((busy, busy + idle + iowait))
}

/// The machine's busy CPU time so far, all processes.
///
/// # Errors
///
/// When `/proc/stat` is not readable.
pub fn machine_busy() -> Result<Duration> {
    let text = read("/proc/stat")?;
    let (busy, _) = parse_machine_ticks(&text)
        .ok_or_else(|| Error::Protocol("cannot parse /proc/stat".to_owned()))?;
    Ok(Duration::from_nanos(
        busy.saturating_mul(1_000_000_000) / clock_ticks_per_second(),
    ))
}

/// Clock ticks per second of `/proc/PID/stat`: `getconf CLK_TCK`, or 100
/// (the value on every Linux architecture this runs on) when that fails.
pub fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

/// A process observed through `/proc`.
#[derive(Debug, Clone)]
pub struct Probe {
    pid: u32,
    ticks_per_second: u64,
}

impl Probe {
    /// Observes process `pid`.
    pub fn new(pid: u32) -> Self {
        Self {
            pid,
            ticks_per_second: clock_ticks_per_second(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The process's CPU time so far (user + system, all threads).
    ///
    /// # Errors
    ///
    /// When the process is gone or `/proc` is not readable.
    pub fn cpu(&self) -> Result<Duration> {
        let path = format!("/proc/{}/stat", self.pid);
        let text = read(&path)?;
        let ticks = parse_stat_ticks(&text)
            .ok_or_else(|| Error::Protocol(format!("cannot parse {path}")))?;
        Ok(Duration::from_nanos(
            ticks.saturating_mul(1_000_000_000) / self.ticks_per_second,
        ))
    }

    /// The process's resident memory in bytes.
    ///
    /// # Errors
    ///
    /// When the process is gone or `/proc` is not readable.
    pub fn rss(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid);
        let text = read(&path)?;
        parse_vm_rss(&text).ok_or_else(|| Error::Protocol(format!("no VmRSS in {path}")))
    }
}

fn read(path: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        context: format!("reading {path}"),
        source,
    })
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit, and
/// returns the new soft limit (a connect storm holds one socket per
/// client).
///
/// # Errors
///
/// When the limit cannot be set.
pub fn raise_open_files_limit() -> Result<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    setrlimit(Resource::Nofile, raised).map_err(|errno| Error::Io {
        context: "raising RLIMIT_NOFILE".to_owned(),
        source: errno.into(),
    })?;
    Ok(getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_name_with_spaces_and_parentheses() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 3 0 100 1000000 500 18446744073709551615";
        assert_eq!(parse_stat_ticks(stat), Some(325));
        assert_eq!(parse_stat_ticks("4242 (short) S 1 2"), None);
        assert_eq!(parse_stat_ticks("no parenthesis"), None);
    }

    #[test]
    fn machine_ticks() {
        let stat = "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n";
        assert_eq!(parse_machine_ticks(stat), Some((161, 1181)));
        assert_eq!(parse_machine_ticks("cpu  1 2 3\n"), None);
        assert!(machine_busy().is_ok());
    }

    #[test]
    fn vm_rss_in_bytes() {
        let status = "Name:\tpython\nVmPeak:\t  9000 kB\nVmRSS:\t   1234 kB\nThreads:\t1\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        assert_eq!(parse_vm_rss("VmRSS:\t12 MB\n"), None);
    }

    #[test]
    fn this_process_is_observable() {
        let probe = Probe::new(std::process::id());
        assert!(probe.rss().is_ok_and(|rss| rss > 0));
        assert!(probe.cpu().is_ok());
        assert!(Probe::new(u32::MAX).cpu().is_err());
        assert!(clock_ticks_per_second() > 0);
    }
}
