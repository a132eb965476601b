//! `/metrics` under load: one rendering of the servers serves every concurrent scrape.
//!
//! The per-server families are rendered once per published version of the state and
//! encoding (plain or gzip), by one scrape while the others wait for it (single flight), and
//! shared by reference: N concurrent scrapers cost one rendering plus their socket buffers.
//! The gzip rendering (what Prometheus asks for, a thirtieth of the plain size) is kept until
//! a new version is published; a plain one only while responses send it, so memory returns
//! to idle when scrapers stop. The few families that move between publications (request
//! counters, `process_*`) are rendered for each scrape and sent in front (as a gzip member
//! of its own when compressed: Prometheus reads concatenated members as one stream).

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use flate2::write::GzEncoder;
use flate2::Compression;
use tokio::time::Instant;

use crate::metrics;
use crate::state::Snapshot;

/// How a body is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Plain text.
    Plain,
    /// gzip (`Content-Encoding: gzip`).
    Gzip,
}

impl Encoding {
    /// gzip when `Accept-Encoding` accepts it (`gzip` or `*` without `q=0`), else plain.
    pub fn from_accept(header: Option<&str>) -> Self {
        let accepts = header.is_some_and(|h| {
            h.split(',').any(|item| {
                let mut parts = item.split(';').map(str::trim);
                let name = parts.next().unwrap_or("");
                let refused = parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
            })
        });
        if accepts {
            Encoding::Gzip
        } else {
            Encoding::Plain
        }
    }

    fn index(self) -> usize {
        match self {
            Encoding::Plain => 0,
            Encoding::Gzip => 1,
        }
    }
}

/// A rendering shared by the responses that send it.
pub type Rendering = Arc<Vec<u8>>;

struct Cached {
    version: u64,
    done_at: Instant,
    bytes: Weak<Vec<u8>>,
    /// The gzip rendering (a thirtieth of the plain one) is kept until the state changes,
    /// so that scrapes a moment apart do not render it again; the plain one lives only while
    /// responses send it.
    _keep: Option<Rendering>,
}

/// The renderings in use, one per encoding, and the turn to make a new one.
#[derive(Default)]
pub struct Renderings {
    turn: tokio::sync::Mutex<()>,
    cache: Mutex<[Option<Cached>; 2]>,
    last_len: [AtomicUsize; 2],
    made: AtomicUsize,
}

impl Renderings {
    /// The rendering of the servers of `snap` in `enc`: the one in use if it is of the same
    /// version (or was made while this scrape waited for its turn), else a new one.
    pub async fn get(&self, snap: &Snapshot, enc: Encoding) -> Rendering {
        let arrived = Instant::now();
        if let Some(r) = self.cached(snap.version, arrived, enc, false) {
            return r;
        }
        let _turn = self.turn.lock().await;
        if let Some(r) = self.cached(snap.version, arrived, enc, true) {
            return r;
        }
        let version = snap.version;
        let capacity = self.last_len[enc.index()].load(Ordering::Relaxed) / 8 * 9;
        let snap = snap.clone();
        let rendered = tokio::task::spawn_blocking(move || {
            let r = render(&snap, enc, capacity);
            drop(snap);
            // Thousands of small label strings were freed: back to the system, so resident
            // memory returns to idle after a burst of scrapes.
            crate::allocator::release_free();
            r
        })
        .await
        .unwrap_or_default();
        self.last_len[enc.index()].store(rendered.len(), Ordering::Relaxed);
        self.made.fetch_add(1, Ordering::Relaxed);
        let rendered = Arc::new(rendered);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache[enc.index()] = Some(Cached {
            version,
            done_at: Instant::now(),
            bytes: Arc::downgrade(&rendered),
            _keep: (enc == Encoding::Gzip).then(|| rendered.clone()),
        });
        rendered
    }

    /// How many renderings of the servers were made (each encoding counts).
    #[cfg(any(test, feature = "fake"))]
    pub fn made(&self) -> usize {
        self.made.load(Ordering::Relaxed)
    }

    fn cached(
        &self,
        version: u64,
        arrived: Instant,
        enc: Encoding,
        waited: bool,
    ) -> Option<Rendering> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let c = cache[enc.index()].as_ref()?;
        let fresh = c.version == version || (waited && c.done_at >= arrived);
        if fresh {
            c.bytes.upgrade()
        } else {
            None
        }
    }
}

/// Renders the per-server families of `snap` in `enc`.
fn render(snap: &Snapshot, enc: Encoding, capacity: usize) -> Vec<u8> {
    const PIECE: usize = 256 * 1024;
    let scrape = metrics::server_rows(snap);
    match enc {
        Encoding::Plain => {
            let mut out = Vec::with_capacity(capacity);
            metrics::write_servers(&scrape, PIECE, |piece| {
                out.extend_from_slice(piece.as_bytes());
                true
            });
            out
        }
        Encoding::Gzip => {
            let mut gz = GzEncoder::new(Vec::with_capacity(capacity), Compression::fast());
            let mut ok = true;
            metrics::write_servers(&scrape, PIECE, |piece| {
                ok = gz.write_all(piece.as_bytes()).is_ok();
                ok
            });
            // Writing into a Vec cannot fail; a failure would send a truncated body, which
            // Prometheus reports as a failed scrape.
            gz.finish().unwrap_or_default()
        }
    }
}

/// `text` in `enc`: gzip makes one member of its own.
pub fn encode(text: &str, enc: Encoding) -> Vec<u8> {
    match enc {
        Encoding::Plain => text.as_bytes().to_vec(),
        Encoding::Gzip => {
            let mut gz =
                GzEncoder::new(Vec::with_capacity(text.len() / 4 + 64), Compression::fast());
            let _ = gz.write_all(text.as_bytes());
            gz.finish().unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_chosen_when_accepted_and_not_refused() {
        let enc = Encoding::from_accept;
        assert_eq!(enc(None), Encoding::Plain);
        assert_eq!(enc(Some("gzip")), Encoding::Gzip);
        assert_eq!(enc(Some("identity, GZIP;q=0.5")), Encoding::Gzip);
        assert_eq!(enc(Some("deflate, *")), Encoding::Gzip);
        assert_eq!(enc(Some("gzip;q=0")), Encoding::Plain);
        assert_eq!(enc(Some("br, deflate")), Encoding::Plain);
    }

    #[tokio::test]
    async fn concurrent_scrapes_of_an_unchanged_state_share_one_rendering() {
        use crate::state::{AccountView, Action, ServerInfo, State};
        use crate::vocabulary::Endpoint;
        let state = State::new(["a"]);
        let r = Renderings::default();
        let snap = state.read();
        let (a, b) = tokio::join!(r.get(&snap, Encoding::Gzip), r.get(&snap, Encoding::Gzip));
        assert!(Arc::ptr_eq(&a, &b), "one rendering for both");
        let dur = std::time::Duration::from_millis(3);
        state.record_request("a", Endpoint::Sync, Some(200), dur, None);
        let c = r.get(&state.read(), Encoding::Gzip).await;
        assert!(
            Arc::ptr_eq(&a, &c),
            "an API request does not throw the rendering away"
        );
        let info = ServerInfo {
            id: "s1".into(),
            ..ServerInfo::default()
        };
        let now = std::time::SystemTime::now();
        state.publish(
            "a",
            AccountView::default().relisted(vec![(info, Action::None)], now),
        );
        let d = r.get(&state.read(), Encoding::Gzip).await;
        assert!(!Arc::ptr_eq(&a, &d), "a published view is rendered anew");
        drop((a, b, c, d));
        let e = r.get(&state.read(), Encoding::Plain).await;
        assert!(String::from_utf8_lossy(&e).contains("server_id=\"s1\""));
    }
}
