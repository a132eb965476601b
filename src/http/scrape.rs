//! `/metrics` under load: one rendering of the servers per format serves every scrape.
//!
//! The per-server families are rendered once per published version of the state and
//! format (OpenMetrics or text), by one scrape while the others wait for it (single flight),
//! and only ever held compressed: the rendering streams into a gzip encoder as it is made,
//! never whole as text. A gzip scrape (what Prometheus asks for) is sent the
//! shared bytes by reference; a plain scrape inflates them as its socket drains, 32 KiB at a
//! time, so N concurrent scrapers of either kind cost one compressed rendering (a thirtieth
//! of the text) plus their socket buffers, and the full text is never in memory. The deflate
//! stream is fully flushed after every [`WINDOW`] of text (a point where its dictionary
//! starts empty), so a window inflates on its own: between windows a plain scrape keeps only
//! where it is, not an inflater's 32 KiB history, and the thread that inflates a window reuses
//! its own inflater. The few
//! families that move between publications (request counters, `process_*`) are rendered
//! for each scrape and sent in front (as a gzip member of their own when compressed:
//! Prometheus reads concatenated members as one stream).

use std::cell::RefCell;
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use flate2::write::GzEncoder;
use flate2::{Compress, Compression, Crc, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::time::Instant;

use crate::metrics::{self, Format};
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
}

/// The per-server families of one version in one format, gzip-compressed, shared by the
/// responses that send it.
#[derive(Debug)]
pub struct Rendering {
    /// One gzip member.
    pub gzip: Vec<u8>,
    /// The length of the text it inflates to.
    pub plain_len: usize,
    /// Where each window of the text starts in `gzip`, with the dictionary empty: its offset
    /// there and in the text.
    windows: Vec<(usize, usize)>,
}

struct Cached {
    version: u64,
    done_at: Instant,
    rendering: Arc<Rendering>,
}

/// The renderings in use, one per format, and the turn to make a new one.
#[derive(Default)]
pub struct Renderings {
    turn: tokio::sync::Mutex<()>,
    cache: Mutex<[Option<Cached>; 2]>,
    last_len: [AtomicUsize; 2],
    made: AtomicUsize,
}

fn slot(format: Format) -> usize {
    match format {
        Format::Text => 0,
        Format::OpenMetrics => 1,
    }
}

impl Renderings {
    /// The rendering of the servers of `snap` in `format`: the one in use if it is of the
    /// same version (or was made while this scrape waited for its turn), else a new one.
    pub async fn get(&self, snap: &Snapshot, format: Format) -> Arc<Rendering> {
        let arrived = Instant::now();
        if let Some(r) = self.cached(snap.version, arrived, format, false) {
            return r;
        }
        let _turn = self.turn.lock().await;
        if let Some(r) = self.cached(snap.version, arrived, format, true) {
            return r;
        }
        let version = snap.version;
        // The last rendering's size and a ninth, or ~64 bytes of gzip per server the first
        // time (51 measured at 10,000): a buffer that doubles while it fills holds the old
        // and the new one at once.
        let servers: usize = snap.accounts.values().map(|a| a.servers.len()).sum();
        let capacity = match self.last_len[slot(format)].load(Ordering::Relaxed) {
            0 => servers * 64 + 4096,
            last => last / 8 * 9,
        };
        let snap = snap.clone();
        let rendered = tokio::task::spawn_blocking(move || {
            let r = render(&snap, format, capacity);
            drop(snap);
            // Thousands of small label strings were freed: back to the system, so resident
            // memory returns to idle after a burst of scrapes.
            crate::allocator::release_free();
            r
        })
        .await
        .unwrap_or_else(|_| Compressing::new(0).finish());
        self.last_len[slot(format)].store(rendered.gzip.len(), Ordering::Relaxed);
        self.made.fetch_add(1, Ordering::Relaxed);
        let rendering = Arc::new(rendered);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache[slot(format)] = Some(Cached {
            version,
            done_at: Instant::now(),
            rendering: rendering.clone(),
        });
        rendering
    }

    /// How many renderings of the servers were made (each format counts).
    #[cfg(any(test, feature = "fake"))]
    pub fn made(&self) -> usize {
        self.made.load(Ordering::Relaxed)
    }

    fn cached(
        &self,
        version: u64,
        arrived: Instant,
        format: Format,
        waited: bool,
    ) -> Option<Arc<Rendering>> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let c = cache[slot(format)].as_ref()?;
        let fresh = c.version == version || (waited && c.done_at >= arrived);
        fresh.then(|| c.rendering.clone())
    }
}

/// Text as it is made, compressed on the way (`prometheus-client` hands it on 4 KiB at a
/// time) into one gzip member whose deflate stream is fully flushed after every [`WINDOW`].
struct Compressing {
    deflate: Compress,
    crc: Crc,
    gzip: Vec<u8>,
    plain_len: usize,
    windows: Vec<(usize, usize)>,
}

/// A gzip header without a name or a time, as flate2 writes it.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff];

impl Compressing {
    fn new(capacity: usize) -> Self {
        let mut gzip = Vec::with_capacity(capacity.max(GZIP_HEADER.len() + 8));
        gzip.extend_from_slice(&GZIP_HEADER);
        Self {
            deflate: Compress::new(Compression::fast(), false),
            crc: Crc::new(),
            windows: vec![(gzip.len(), 0)],
            gzip,
            plain_len: 0,
        }
    }

    /// Compresses `input` whole, then flushes as `flush` says.
    fn deflate(&mut self, mut input: &[u8], flush: FlushCompress) {
        loop {
            if self.gzip.capacity() - self.gzip.len() < 64 {
                self.gzip.reserve_exact(self.gzip.capacity() / 8 + 4096);
            }
            let before = (self.deflate.total_in(), self.deflate.total_out());
            let status = self.deflate.compress_vec(input, &mut self.gzip, flush);
            let read = (self.deflate.total_in() - before.0) as usize;
            let wrote = (self.deflate.total_out() - before.1) as usize;
            input = &input[read.min(input.len())..];
            let room_left = self.gzip.capacity() > self.gzip.len();
            match status {
                Ok(Status::StreamEnd) | Err(_) => return,
                // Done when the input is taken and the output did not fill up.
                _ if input.is_empty() && room_left => return,
                Ok(_) if read == 0 && wrote == 0 && room_left => return,
                Ok(_) => {}
            }
        }
    }

    fn finish(mut self) -> Rendering {
        self.deflate(&[], FlushCompress::Finish);
        self.gzip.extend_from_slice(&self.crc.sum().to_le_bytes());
        self.gzip
            .extend_from_slice(&(self.plain_len as u32).to_le_bytes());
        self.gzip.shrink_to_fit();
        if self.windows.last().is_some_and(|w| w.1 == self.plain_len) {
            self.windows.pop();
        }
        Rendering {
            gzip: self.gzip,
            plain_len: self.plain_len,
            windows: self.windows,
        }
    }
}

impl std::fmt::Write for Compressing {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let mut bytes = s.as_bytes();
        while !bytes.is_empty() {
            let in_window = self.plain_len % WINDOW;
            let (now, later) = bytes.split_at(bytes.len().min(WINDOW - in_window));
            self.crc.update(now);
            self.plain_len += now.len();
            if self.plain_len.is_multiple_of(WINDOW) {
                self.deflate(now, FlushCompress::Full);
                self.windows.push((self.gzip.len(), self.plain_len));
            } else {
                self.deflate(now, FlushCompress::None);
            }
            bytes = later;
        }
        Ok(())
    }
}

/// Renders the per-server families of `snap` in `format`, streamed into gzip.
fn render(snap: &Snapshot, format: Format, capacity: usize) -> Rendering {
    let mut out = Compressing::new(capacity);
    // Writing into a Vec cannot fail; a failure would send a truncated body, which
    // Prometheus reports as a failed scrape.
    let _ = metrics::write_servers(snap, format, &mut out);
    out.finish()
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

/// The window a plain scrape inflates at a time.
pub const WINDOW: usize = 32 * 1024;

/// The text of a shared rendering, inflated [`WINDOW`] bytes at a time.
pub struct Inflater {
    rendering: Arc<Rendering>,
    /// The next window.
    next: usize,
}

/// Plain scrapes being sent: when the last one ends, the windows they freed are given back
/// to the system, so resident memory returns to idle after a burst.
static INFLATING: AtomicUsize = AtomicUsize::new(0);

impl Drop for Inflater {
    fn drop(&mut self) {
        if INFLATING.fetch_sub(1, Ordering::AcqRel) == 1 {
            crate::allocator::release_free();
        }
    }
}

thread_local! {
    /// This thread's inflater, reset for each window (its 32 KiB of history are allocated
    /// once per thread, not per scrape).
    static INFLATE: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

impl Inflater {
    /// Starts at the beginning of `rendering`'s text.
    pub fn new(rendering: Arc<Rendering>) -> Self {
        INFLATING.fetch_add(1, Ordering::AcqRel);
        Self { rendering, next: 0 }
    }

    /// The next window of text; `None` at the end (or if the bytes do not inflate, which the
    /// scraper sees as a short body: Content-Length promised more).
    pub fn next_window(&mut self) -> Option<Bytes> {
        let r = &self.rendering;
        let &(from, text_from) = r.windows.get(self.next)?;
        let (to, text_to) = match r.windows.get(self.next + 1) {
            Some(&end) => end,
            None => (r.gzip.len().saturating_sub(8), r.plain_len),
        };
        self.next += 1;
        let input = r.gzip.get(from..to)?;
        let mut out = vec![0u8; text_to.checked_sub(text_from)?];
        let inflated = INFLATE.with(|d| {
            let mut d = d.borrow_mut();
            d.reset(false);
            let ok = d.decompress(input, &mut out, FlushDecompress::Sync).is_ok();
            (ok, d.total_out() as usize)
        });
        match inflated {
            (true, n) if n == out.len() && n > 0 => Some(Bytes::from(out)),
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "../../tests/unit/http/scrape.rs"]
mod tests;
