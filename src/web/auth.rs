//! Basic authentication against `basic_auth_users`, done so that it cannot be used against
//! the daemon:
//! - bcrypt (made to be slow: `$2y$18$` takes ~19 s here) runs on the blocking pool, never on
//!   the async workers, at most one more than the cores at once, and at most one per user: a
//!   login to a user with a dear hash holds up no login to another user;
//! - its verdict is cached by a SHA-256 of user, hash and password, so a scraper pays once;
//! - an unknown user costs a fixed-cost fake hash (cost 10, as exporter-toolkit's), not the
//!   dearest hash of the file, and unknown users do not queue behind a known one;
//! - the same credentials asked for at once are verified once, the others wait for that
//!   verdict (a restarted Prometheus's first scrapes);
//! - each client address may have [`IN_FLIGHT_PER_ADDRESS`] verifications under way and start
//!   [`ATTEMPTS_BURST`], then one every [`ATTEMPTS_EVERY`] (`governor`, keyed by IP): beyond
//!   that it is answered 429 at once, without bcrypt, so a flood of guesses from one address
//!   costs the others nothing;
//! - user names are compared in constant time. No password or hash is ever logged or put in
//!   an error.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use governor::{DefaultKeyedRateLimiter, Quota};
use ring::digest;
use tokio::sync::Semaphore;

/// Verdicts kept; one more evicts an arbitrary one (as the toolkit's cache does).
const CACHE_SIZE: usize = 100;
/// The cost of the fake hash an unknown user is checked against (exporter-toolkit's).
const DECOY_COST: u32 = 10;
/// Uncached verifications one client address may start at once.
pub const ATTEMPTS_BURST: u32 = 10;
/// Then one more every this long.
pub const ATTEMPTS_EVERY: Duration = Duration::from_secs(1);
/// Verifications one client address may have under way at once.
pub const IN_FLIGHT_PER_ADDRESS: u32 = 2;
/// Addresses remembered before the ones with a full allowance are forgotten.
const ADDRESSES_KEPT: usize = 10_000;

/// What a login gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The right password of a configured user.
    Allowed,
    /// No credentials, an unknown user or a wrong password: 401.
    Refused,
    /// Too many uncached verifications from this address: 429, nothing verified.
    Limited,
}

/// The users of a web configuration and the verdicts already reached.
pub struct Users {
    users: Vec<(String, String)>,
    decoy: String,
    cache: Mutex<HashMap<[u8; 32], bool>>,
    /// One bcrypt per core at once.
    cores: Arc<Semaphore>,
    /// Per user (and the last for unknown users), the turn to run bcrypt.
    turns: Vec<Arc<Semaphore>>,
    attempts: DefaultKeyedRateLimiter<IpAddr>,
    /// Per client address, the verifications it has under way.
    in_flight: Mutex<HashMap<IpAddr, u32>>,
    /// The verifications under way, by cache key.
    pending: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
}

/// A verification under way: forgotten, and its address's count given back, however it
/// ends (a client that hangs up drops the future mid-way).
struct Entry<'a> {
    users: &'a Users,
    key: [u8; 32],
    peer: Option<IpAddr>,
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        let u = self.users;
        u.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
        if let Some(ip) = self.peer {
            let mut in_flight = u.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = in_flight.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    in_flight.remove(&ip);
                }
            }
        }
    }
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.users.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("Users")
            .field("names", &names)
            .finish_non_exhaustive()
    }
}

impl Users {
    /// The users (name, bcrypt hash), already checked to be well-formed hashes.
    pub fn new(users: Vec<(String, String)>) -> Self {
        // One more than the cores, so that an address at its in-flight limit on a 2-core
        // machine leaves a turn for everyone else.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get().max(2)) + 1;
        let mut turns: Vec<_> = users.iter().map(|_| Arc::new(Semaphore::new(1))).collect();
        turns.push(Arc::new(Semaphore::new(cores)));
        let quota = Quota::with_period(ATTEMPTS_EVERY)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(ATTEMPTS_BURST).unwrap_or(NonZeroU32::MIN));
        Self {
            users,
            decoy: decoy(DECOY_COST),
            cache: Mutex::default(),
            cores: Arc::new(Semaphore::new(cores)),
            turns,
            attempts: governor::RateLimiter::keyed(quota),
            in_flight: Mutex::default(),
            pending: Mutex::default(),
        }
    }

    /// Whether authentication is asked for at all.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The names, for display.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.users.iter().map(|(u, _)| u.as_str())
    }

    /// What a request with this `Authorization` header value from `peer` gets.
    pub async fn check(&self, authorization: Option<&[u8]>, peer: Option<IpAddr>) -> Verdict {
        let Some((user, password)) = authorization.and_then(basic_credentials) else {
            return Verdict::Refused;
        };
        let (turn, hash) = self.lookup(&user);
        let known = turn < self.users.len();
        let key = cache_key(&user, &hash, &password);
        let verdict = |ok: bool| {
            if ok && known {
                Verdict::Allowed
            } else {
                Verdict::Refused
            }
        };
        if let Some(v) = self.cached(&key) {
            return verdict(v);
        }
        // The same credentials already being verified: wait for that verdict (a restarted
        // Prometheus's concurrent first scrapes cost one bcrypt and are never limited).
        let (same, first) = self.in_progress(key);
        if !first {
            let _done = same.lock().await;
            // Nothing cached: that verification was limited or abandoned; so is this one.
            return self.cached(&key).map_or(Verdict::Limited, verdict);
        }
        let _same = same.lock().await;
        let mut entry = Entry {
            users: self,
            key,
            peer: None,
        };
        if let Some(ip) = peer {
            if !self.may_start(ip) {
                return Verdict::Limited;
            }
            // Counted: given back when this verification ends.
            entry.peer = Some(ip);
        }
        let (Ok(_turn), Ok(_core)) = (
            self.turns[turn].clone().acquire_owned().await,
            self.cores.clone().acquire_owned().await,
        ) else {
            return Verdict::Refused;
        };
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_SIZE {
            if let Some(k) = cache.keys().next().copied() {
                cache.remove(&k);
            }
        }
        cache.insert(key, ok && known);
        verdict(ok)
    }

    /// The lock of a verification of `key`, and whether this caller is the first to ask.
    fn in_progress(&self, key: [u8; 32]) -> (Arc<tokio::sync::Mutex<()>>, bool) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.get(&key) {
            Some(lock) => (lock.clone(), false),
            None => {
                let lock = Arc::new(tokio::sync::Mutex::new(()));
                pending.insert(key, lock.clone());
                (lock, true)
            }
        }
    }

    /// Whether `ip` may start one more verification: fewer than [`IN_FLIGHT_PER_ADDRESS`] of
    /// its own under way, and its allowance not spent. Counts it when it may.
    fn may_start(&self, ip: IpAddr) -> bool {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let n = in_flight.entry(ip).or_insert(0);
        if *n >= IN_FLIGHT_PER_ADDRESS {
            return false;
        }
        if self.attempts.len() > ADDRESSES_KEPT {
            self.attempts.retain_recent();
        }
        if self.attempts.check_key(&ip).is_err() {
            return false;
        }
        *n += 1;
        true
    }

    fn cached(&self, key: &[u8; 32]) -> Option<bool> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
    }

    /// The index of the user's turn and its hash, or the unknown users' turn and the decoy;
    /// every name is compared, in constant time.
    fn lookup(&self, user: &str) -> (usize, String) {
        let mut found: Option<usize> = None;
        for (i, (name, _)) in self.users.iter().enumerate() {
            if constant_time_eq(name.as_bytes(), user.as_bytes()) {
                found = Some(i);
            }
        }
        match found {
            Some(i) => (i, self.users[i].1.clone()),
            None => (self.users.len(), self.decoy.clone()),
        }
    }
}

/// A well-formed bcrypt hash of the given cost that no password matches in practice (its
/// salt and digest are fixed zeros).
fn decoy(cost: u32) -> String {
    format!("$2b${cost:02}${}", ".".repeat(53))
}

fn cache_key(user: &str, hash: &str, password: &str) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in [user, hash, password] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// User and password of a `Basic` authorization (scheme in any case, RFC 7617).
fn basic_credentials(value: &[u8]) -> Option<(String, String)> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
#[path = "../../tests/unit/web/auth.rs"]
mod tests;
