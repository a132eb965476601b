//! The standard `process_*` metrics (CPU, memory, file descriptors, start time), read from
//! `/proc/self` at scrape time as the official Prometheus client libraries export them.
//!
//! Alert rules use `process_start_time_seconds` to see a crash loop. On a platform without
//! `/proc`, or when a file cannot be read, the affected series are simply absent.

use std::fs;

/// What one reading of `/proc/self` gave; `None` where it could not be read.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// User + system CPU time in seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident set size in bytes.
    pub resident_bytes: Option<f64>,
    /// Virtual memory size in bytes.
    pub virtual_bytes: Option<f64>,
    /// Open file descriptors.
    pub open_fds: Option<f64>,
    /// The soft limit on open file descriptors.
    pub max_fds: Option<f64>,
    /// Unix time the process started.
    pub start_time_seconds: Option<f64>,
}

/// Reads the current process's figures.
pub fn read() -> ProcessStats {
    let (ticks, page) = units();
    let stat = fs::read_to_string("/proc/self/stat").ok();
    let fields = stat.as_deref().and_then(parse_stat);
    let btime = fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| parse_btime(&s));
    ProcessStats {
        cpu_seconds: fields.map(|f| (f.utime + f.stime) as f64 / ticks),
        resident_bytes: fields.map(|f| f.rss_pages as f64 * page),
        virtual_bytes: fields.map(|f| f.vsize as f64),
        open_fds: fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as f64),
        max_fds: fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|s| parse_max_fds(&s)),
        start_time_seconds: fields
            .zip(btime)
            .map(|(f, b)| b as f64 + f.starttime as f64 / ticks),
    }
}

/// Clock ticks per second and the page size in bytes.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn units() -> (f64, f64) {
    // SAFETY: sysconf only reads a system constant.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let or = |v: libc::c_long, d: f64| if v > 0 { v as f64 } else { d };
    (or(ticks, 100.0), or(page, 4096.0))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn units() -> (f64, f64) {
    (100.0, 4096.0)
}

/// The fields of `/proc/self/stat` that the metrics need.
#[derive(Debug, Clone, Copy, PartialEq)]
struct StatFields {
    utime: u64,
    stime: u64,
    starttime: u64,
    vsize: u64,
    rss_pages: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses,
/// so fields are counted from the last `)`.
fn parse_stat(s: &str) -> Option<StatFields> {
    let rest = &s[s.rfind(')')? + 1..];
    // After the name: field 3 (state) is index 0 here.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |field: usize| f.get(field - 3)?.parse::<u64>().ok();
    Some(StatFields {
        utime: n(14)?,
        stime: n(15)?,
        starttime: n(22)?,
        vsize: n(23)?,
        rss_pages: n(24)?,
    })
}

/// The boot time (`btime`) from `/proc/stat`.
fn parse_btime(s: &str) -> Option<u64> {
    s.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft limit of "Max open files" from `/proc/self/limits` (`None` when unlimited).
fn parse_max_fds(s: &str) -> Option<f64> {
    let line = s.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse::<u64>()
        .ok()
        .map(|v| v as f64)
}

#[cfg(test)]
#[path = "../tests/unit/process.rs"]
mod tests;
