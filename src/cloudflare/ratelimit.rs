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

/// The time to the reset, safe side up: `t` is in whole seconds and may have been rounded
/// down, so one second is added.
pub fn reset_bound(info: RateLimitInfo) -> Duration {
    info.reset + Duration::from_secs(1)
}

/// How long to space requests, given what `Ratelimit` said and what our own window still
/// allows (`own_remaining`): `None` while plenty remain, or while Cloudflare's count is no
/// lower than ours (then nobody else is spending the budget and our own limiter already
/// keeps us under it); else the time to the reset divided among the requests that remain.
pub fn pacing_interval(info: RateLimitInfo, own_remaining: u64) -> Option<Duration> {
    if info.remaining >= LOW_REMAINING || info.remaining >= own_remaining {
        return None;
    }
    Some(reset_bound(info) / u32::try_from(info.remaining + 1).unwrap_or(u32::MAX))
}

/// The margin added to the window: 1 % of it, between 20 ms and 2 s. Cloudflare counts
/// requests when they arrive, a little after we send them, and network jitter can bring two
/// requests sent exactly `per` apart closer together; the margin keeps every window of
/// Cloudflare's under the budget too.
pub fn safety_margin(per: Duration) -> Duration {
    (per / 100).clamp(Duration::from_millis(20), Duration::from_secs(2))
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
        // Not reserved for the whole budget: a large one (a million a second) would be
        // touched page by page as the window moves through it, and stay resident.
        Self {
            capacity: capacity.max(1) as usize,
            per,
            sent: VecDeque::new(),
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

    /// Requests still allowed in the window ending at `now`.
    pub fn remaining(&self, now: Instant) -> u64 {
        let used = self
            .sent
            .iter()
            .filter(|t| now.duration_since(**t) < self.per)
            .count();
        (self.capacity - used) as u64
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

impl RateLimiter {
    /// A budget of `requests` per `per`.
    pub fn new(requests: u32, per: Duration) -> Self {
        Self {
            state: Mutex::new(LimiterState {
                window: SlidingWindow::new(requests, per + safety_margin(per)),
                paused_until: None,
                pace: None,
                last_start: None,
            }),
        }
    }

    /// Waits until a request may start and takes its slot. To give up waiting (shutdown),
    /// the caller drops the future.
    pub async fn acquire(&self) {
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
                    return;
                }
                at
            };
            tokio::time::sleep_until(wait_until).await;
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
        let own = st.window.remaining(Instant::now());
        st.pace = pacing_interval(info, own);
        if info.remaining == 0 && own > 0 {
            let until = Instant::now() + reset_bound(info);
            st.paused_until = Some(st.paused_until.map_or(until, |p| p.max(until)));
        }
    }
}

#[cfg(test)]
#[path = "../../tests/unit/cloudflare/ratelimit.rs"]
mod tests;
