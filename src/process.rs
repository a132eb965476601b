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
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_a_name_with_spaces_and_parentheses() {
        let line = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 \
                    3 0 123456 10485760 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0";
        let f = parse_stat(line).expect("parsed");
        assert_eq!(
            f,
            StatFields {
                utime: 250,
                stime: 50,
                starttime: 123456,
                vsize: 10485760,
                rss_pages: 2560,
            }
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn btime_and_fd_limit_are_read_and_unlimited_is_no_value() {
        assert_eq!(
            parse_btime("cpu 1 2 3\nbtime 1700000000\nprocesses 5\n"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_btime("cpu 1\n"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_max_fds(limits), Some(1024.0));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_max_fds(unlimited), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_a_start_time_in_the_past_and_some_memory() {
        let p = read();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let start = p.start_time_seconds.expect("start time");
        assert!(
            start <= now + 1.0 && start > now - 86_400.0 * 365.0,
            "{start} vs {now}"
        );
        assert!(p.resident_bytes.expect("rss") > 0.0);
        assert!(p.open_fds.expect("fds") >= 3.0);
    }
}
