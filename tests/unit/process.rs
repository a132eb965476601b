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
    let unlimited = "Max open files            unlimited            unlimited            files\n";
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
