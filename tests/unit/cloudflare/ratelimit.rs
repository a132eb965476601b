use super::*;

#[test]
fn ratelimit_header_is_parsed() {
    assert_eq!(
        parse_ratelimit("\"default\";r=50;t=30"),
        Some(RateLimitInfo {
            remaining: 50,
            reset: Duration::from_secs(30)
        })
    );
    assert_eq!(parse_ratelimit("\"default\";t=30"), None);
    assert_eq!(parse_ratelimit("garbage"), None);
}

#[test]
fn retry_after_is_whole_seconds_and_bounded() {
    assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
    assert_eq!(
        parse_retry_after(" 1.5 "),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(parse_retry_after("-1"), None);
    assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    assert_eq!(
        parse_retry_after("99999999"),
        Some(Duration::from_secs(3600))
    );
}

#[test]
fn pacing_starts_only_when_few_requests_remain() {
    let plenty = RateLimitInfo {
        remaining: 500,
        reset: Duration::from_secs(60),
    };
    assert_eq!(pacing_interval(plenty, 600), None);
    let few = RateLimitInfo {
        remaining: 9,
        reset: Duration::from_secs(59),
    };
    assert_eq!(pacing_interval(few, 600), Some(Duration::from_secs(6)));
    assert_eq!(
        pacing_interval(few, 9),
        None,
        "nobody else spends the budget: our limiter suffices"
    );
    let none = RateLimitInfo {
        remaining: 0,
        reset: Duration::from_secs(59),
    };
    assert_eq!(pacing_interval(none, 600), Some(Duration::from_secs(60)));
}

#[test]
fn the_safety_margin_is_one_percent_within_bounds() {
    assert_eq!(
        safety_margin(Duration::from_secs(300)),
        Duration::from_secs(2)
    );
    assert_eq!(
        safety_margin(Duration::from_secs(60)),
        Duration::from_millis(600)
    );
    assert_eq!(
        safety_margin(Duration::from_secs(1)),
        Duration::from_millis(20)
    );
}

#[test]
fn sliding_window_never_admits_more_than_capacity_per_window() {
    let per = Duration::from_secs(10);
    let mut w = SlidingWindow::new(3, per);
    let t0 = Instant::now();
    for _ in 0..3 {
        assert_eq!(w.next_slot(t0), t0);
        w.record(t0);
    }
    assert_eq!(w.next_slot(t0), t0 + per);
    w.record(t0 + per);
    assert_eq!(w.next_slot(t0 + per), t0 + per);
}

#[tokio::test(start_paused = true)]
async fn limiter_waits_for_budget_and_obeys_pause() {
    let l = RateLimiter::new(2, Duration::from_secs(10));
    let t0 = Instant::now();
    l.acquire().await;
    l.acquire().await;
    l.acquire().await;
    assert!(
        Instant::now() - t0 >= Duration::from_secs(10) + safety_margin(Duration::from_secs(10))
    );
    l.pause_for(Duration::from_secs(30)).await;
    let t1 = Instant::now();
    l.acquire().await;
    assert!(Instant::now() - t1 >= Duration::from_secs(30));
}
