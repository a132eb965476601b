//! The client-side request budget of one credential, and the rate-limit headers Cloudflare
//! sends.
//!
//! Cloudflare counts 1,200 requests per 5 minutes per user across every tool that user
//! runs, and going over blocks all of that user's calls for five minutes. The daemon keeps
//! to its own, smaller budget with a sliding window (no window of `per` ever holds more
//! than `requests`), waits out a 429's `retry-after`, and paces itself when the `Ratelimit`
//! header says few requests remain.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::shutdown::Shutdown;

/// What a `Ratelimit` header (`"default";r=50;t=30`) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitInfo {
    /// Requests remaining in the current window.
    pub remaining: u64,
    /// Seconds until the window resets.
    pub reset: Duration,
}

/// Parses the `Ratelimit` header. Missing parameters make it unusable (`None`).
pub fn parse_ratelimit(header: &str) -> Option<RateLimitInfo> {
    let mut remaining = None;
    let mut reset = None;
    for part in header.split([';', ',']) {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("r=") {
            remaining = v.trim().parse::<u64>().ok();
        } else if let Some(v) = part.strip_prefix("t=") {
            reset = v.trim().parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    Some(RateLimitInfo {
        remaining: remaining?,
        reset: reset.unwrap_or(Duration::ZERO),
    })
}

/// Parses `retry-after` in whole (or fractional) seconds. HTTP dates are not used by
/// Cloudflare and are ignored; the longest wait honoured is one hour.
pub fn parse_retry_after(header: &str) -> Option<Duration> {
    let v: f64 = header.trim().parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(v.min(3600.0)))
}

/// When remaining requests are this few, requests are spread over the time to reset.
pub const LOW_REMAINING: u64 = 20;

/// How long to space requests, given what `Ratelimit` said: `None` while plenty remain,
/// else the reset time divided among the requests that remain (all of it when none do).
pub fn pacing_interval(info: RateLimitInfo) -> Option<Duration> {
    if info.remaining >= LOW_REMAINING {
        return None;
    }
    Some(info.reset / u32::try_from(info.remaining + 1).unwrap_or(u32::MAX))
}

/// A sliding window of the times of the last `capacity` requests.
#[derive(Debug)]
pub struct SlidingWindow {
    capacity: usize,
    per: Duration,
    sent: VecDeque<Instant>,
}

impl SlidingWindow {
    /// At most `capacity` requests in any window of `per`.
    pub fn new(capacity: u32, per: Duration) -> Self {
        let capacity = capacity.max(1) as usize;
        Self {
            capacity,
            per,
            sent: VecDeque::with_capacity(capacity),
        }
    }

    /// The earliest moment a new request may start.
    pub fn next_slot(&self, now: Instant) -> Instant {
        if self.sent.len() < self.capacity {
            return now;
        }
        match self.sent.front() {
            Some(oldest) => (*oldest + self.per).max(now),
            None => now,
        }
    }

    /// Records a request started at `at`.
    pub fn record(&mut self, at: Instant) {
        if self.sent.len() == self.capacity {
            self.sent.pop_front();
        }
        self.sent.push_back(at);
    }
}

#[derive(Debug)]
struct LimiterState {
    window: SlidingWindow,
    paused_until: Option<Instant>,
    pace: Option<Duration>,
    last_start: Option<Instant>,
}

/// The shared budget of one credential: every request waits here for its turn.
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<LimiterState>,
}

/// The wait was interrupted by shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("shutting down")]
pub struct Interrupted;

impl RateLimiter {
    /// A budget of `requests` per `per`.
    pub fn new(requests: u32, per: Duration) -> Self {
        Self {
            state: Mutex::new(LimiterState {
                window: SlidingWindow::new(requests, per),
                paused_until: None,
                pace: None,
                last_start: None,
            }),
        }
    }

    /// Waits until a request may start and takes its slot. Returns early with
    /// `Interrupted` on shutdown.
    pub async fn acquire(&self, shutdown: &Shutdown) -> Result<(), Interrupted> {
        loop {
            let wait_until = {
                let mut st = self.state.lock().await;
                let now = Instant::now();
                let mut at = st.window.next_slot(now);
                if let Some(p) = st.paused_until {
                    at = at.max(p);
                }
                if let (Some(pace), Some(last)) = (st.pace, st.last_start) {
                    at = at.max(last + pace);
                }
                if at <= now {
                    st.window.record(now);
                    st.last_start = Some(now);
                    return Ok(());
                }
                at
            };
            tokio::select! {
                _ = tokio::time::sleep_until(wait_until) => {},
                _ = shutdown.wait() => return Err(Interrupted),
            }
        }
    }

    /// Stops every request of this credential until `d` from now (a 429's `retry-after`).
    pub async fn pause_for(&self, d: Duration) {
        let until = Instant::now() + d;
        let mut st = self.state.lock().await;
        st.paused_until = Some(st.paused_until.map_or(until, |p| p.max(until)));
    }

    /// Takes in what a `Ratelimit` header said.
    pub async fn observe(&self, info: RateLimitInfo) {
        let mut st = self.state.lock().await;
        st.pace = pacing_interval(info);
        if info.remaining == 0 && !info.reset.is_zero() {
            let until = Instant::now() + info.reset;
            st.paused_until = Some(st.paused_until.map_or(until, |p| p.max(until)));
        }
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(pacing_interval(plenty), None);
        let few = RateLimitInfo {
            remaining: 9,
            reset: Duration::from_secs(60),
        };
        assert_eq!(pacing_interval(few), Some(Duration::from_secs(6)));
        let none = RateLimitInfo {
            remaining: 0,
            reset: Duration::from_secs(60),
        };
        assert_eq!(pacing_interval(none), Some(Duration::from_secs(60)));
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
        let s = Shutdown::new();
        let t0 = Instant::now();
        l.acquire(&s).await.expect("first");
        l.acquire(&s).await.expect("second");
        l.acquire(&s).await.expect("third");
        assert!(Instant::now() - t0 >= Duration::from_secs(10));
        l.pause_for(Duration::from_secs(30)).await;
        let t1 = Instant::now();
        l.acquire(&s).await.expect("after pause");
        assert!(Instant::now() - t1 >= Duration::from_secs(30));
    }
}
