//! Basic authentication against `basic_auth_users`, done so that it cannot be used against
//! the daemon: bcrypt runs on the blocking pool, one at a time (it is made to be slow), and
//! its verdict is cached by a SHA-256 of user, hash and password, so a scraper pays once;
//! an unknown user costs the same bcrypt as a wrong password (no user enumeration by
//! timing); user names are compared in constant time. No password or hash is ever logged
//! or put in an error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use ring::digest;
use tokio::sync::Semaphore;

/// Verdicts kept; one more evicts an arbitrary one (as the toolkit's cache does).
const CACHE_SIZE: usize = 100;

/// The users of a web configuration and the verdicts already reached.
pub struct Users {
    users: Vec<(String, String)>,
    /// A hash no password matches, at the highest cost of the users' hashes.
    decoy: String,
    cache: Mutex<HashMap<[u8; 32], bool>>,
    bcrypt: Arc<Semaphore>,
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
        let cost = users
            .iter()
            .filter_map(|(_, h)| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        Self {
            users,
            decoy: decoy(cost),
            cache: Mutex::default(),
            bcrypt: Arc::new(Semaphore::new(1)),
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

    /// Whether an `Authorization` header's value names a user with the right password.
    pub async fn allows(&self, authorization: Option<&[u8]>) -> bool {
        let Some((user, password)) = authorization.and_then(basic_credentials) else {
            return false;
        };
        let (known, hash) = self.lookup(&user);
        let key = cache_key(&user, &hash, &password);
        if let Some(v) = self.cached(&key) {
            return v && known;
        }
        let Ok(_permit) = self.bcrypt.clone().acquire_owned().await else {
            return false;
        };
        if let Some(v) = self.cached(&key) {
            return v && known;
        }
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        let verdict = ok && known;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_SIZE {
            if let Some(k) = cache.keys().next().copied() {
                cache.remove(&k);
            }
        }
        cache.insert(key, verdict);
        verdict
    }

    fn cached(&self, key: &[u8; 32]) -> Option<bool> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
    }

    /// The user's hash, or the decoy; every name is compared, in constant time.
    fn lookup(&self, user: &str) -> (bool, String) {
        let mut found: Option<&str> = None;
        for (name, hash) in &self.users {
            if constant_time_eq(name.as_bytes(), user.as_bytes()) {
                found = Some(hash);
            }
        }
        match found {
            Some(h) => (true, h.to_owned()),
            None => (false, self.decoy.clone()),
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
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> Vec<u8> {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {token}").into_bytes()
    }

    #[test]
    fn basic_credentials_are_parsed_strictly() {
        assert_eq!(
            basic_credentials(b"basic cHJvbTpzM2NyZXQ6eA=="),
            Some(("prom".into(), "s3cret:x".into()))
        );
        assert_eq!(basic_credentials(b"Bearer cHJvbTpzM2NyZXQ="), None);
        assert_eq!(basic_credentials(b"Basic !!!"), None);
        assert_eq!(basic_credentials(b"Basic bm9jb2xvbg=="), None);
    }

    #[test]
    fn the_decoy_is_a_hash_of_the_highest_cost_that_matches_nothing() {
        let d = decoy(7);
        let parts: bcrypt::HashParts = d.parse().expect("a well-formed hash");
        assert_eq!(parts.get_cost(), 7);
        assert!(!bcrypt::verify("", &d).expect("verifiable"));
        let users = Users::new(vec![
            ("a".into(), bcrypt::hash("x", 4).expect("hash")),
            ("b".into(), bcrypt::hash("y", 6).expect("hash")),
        ]);
        assert!(users.decoy.starts_with("$2b$06$"), "{}", users.decoy);
    }

    #[tokio::test]
    async fn right_password_passes_wrong_password_unknown_user_and_no_header_do_not() {
        // htpasswd -B writes $2y$ hashes.
        let hash = bcrypt::hash("s3cret", 4)
            .expect("hash")
            .replacen("$2b$", "$2y$", 1);
        let users = Users::new(vec![("prometheus".into(), hash)]);
        assert!(users.allows(Some(&header("prometheus", "s3cret"))).await);
        assert!(
            users.allows(Some(&header("prometheus", "s3cret"))).await,
            "cached"
        );
        assert!(!users.allows(Some(&header("prometheus", "wrong"))).await);
        assert!(!users.allows(Some(&header("nobody", "s3cret"))).await);
        assert!(!users.allows(None).await);
        assert_eq!(users.cache.lock().expect("lock").len(), 3);
        assert!(!format!("{users:?}").contains("$2"), "{users:?}");
    }
}
