//! The walk's rules, as pure functions.
//!
//! `result_info.total_pages`, when Cloudflare sends it, is trusted. Without it (the
//! documented answer carries none) a page shorter than `per_page` says the walk is over, but
//! that trusts the API to honour `per_page`: so on an account's first walk, and then once an
//! hour, the page after a short one is fetched to prove it (at most one extra request per
//! account per hour against an honest API). If that page brings new servers, the API does
//! not honour `per_page`, and the account is walked until an empty page from then on.
//!
//! A walk always ends: a full page that brings no server not already seen in this walk is
//! a repeated page (the API ignores the page number) and ends it incomplete; so does the page
//! cap, and a list whose `total_count` changes between pages. An incomplete walk is not a
//! complete listing. After a short page, a page of servers already seen (an API that clamps
//! the page number, as Prism does) ends the walk normally. Servers are keyed by id: one seen
//! twice because the list shifted while it was walked is kept once.

use std::collections::HashSet;

use super::model::{ResultInfo, Server};

/// Pages a walk may take when nothing says how many there are: 100,000 servers at the
/// default page size, far beyond a real account.
pub const DEFAULT_PAGE_CAP: u32 = 1_000;

pub use crate::vocabulary::Anomaly;

/// What the walk knows after one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageFacts {
    /// The page just read (1-based).
    pub page: u32,
    /// The page size asked for.
    pub per_page: u32,
    /// Server objects on it, decoded or not.
    pub raw: usize,
    /// Of those, servers not seen before in this walk.
    pub fresh: usize,
    /// `result_info.total_pages`, when sent.
    pub total_pages: Option<u64>,
    /// Whether `result_info.total_count` differs from the first page's.
    pub count_changed: bool,
    /// Whether the page before was shorter than `per_page`.
    pub prev_short: bool,
    /// Whether this account is walked until an empty page.
    pub until_empty: bool,
    /// Whether a short page is to be proven by fetching the next one.
    pub proof_due: bool,
    /// The most pages this walk may take.
    pub cap: u32,
}

/// Where the walk goes after a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Fetch this page next.
    Next(u32),
    /// The listing is complete; `proven` when an empty page (or a repeat after a short page)
    /// showed that nothing follows, or `total_pages` said so.
    Done {
        /// Whether the end was proven rather than taken from a short page.
        proven: bool,
    },
    /// The walk ends without a complete listing.
    Incomplete(Anomaly),
}

/// The next step of a walk after one page, and an anomaly noticed on the way that does not
/// end it (the API not honouring `per_page`: the walk goes on until an empty page).
pub fn walk_step(f: &PageFacts) -> (Step, Option<Anomaly>) {
    if f.count_changed {
        return (Step::Incomplete(Anomaly::ListChanged), None);
    }
    if f.page > 1 && f.raw > 0 && f.fresh == 0 {
        let step = if f.prev_short {
            Step::Done { proven: true }
        } else {
            Step::Incomplete(Anomaly::RepeatedPage)
        };
        return (step, None);
    }
    let noticed = (f.prev_short && f.raw > 0 && !f.until_empty && f.total_pages.is_none())
        .then_some(Anomaly::PageSizeNotHonoured);
    let until_empty = f.until_empty || noticed.is_some();
    let next = match f.total_pages {
        Some(total) if u64::from(f.page) >= total => return (Step::Done { proven: true }, noticed),
        Some(_) => true,
        None if f.raw == 0 => return (Step::Done { proven: true }, noticed),
        None if f.raw < f.per_page as usize => until_empty || f.proof_due,
        None => true,
    };
    match next {
        false => (Step::Done { proven: false }, noticed),
        true if f.page >= f.cap => (Step::Incomplete(Anomaly::PageCapReached), noticed),
        true => (Step::Next(f.page.saturating_add(1)), noticed),
    }
}

/// The page cap of a walk: the pages `result_info.total_count` implies plus two (the proof
/// page and a little growth), and never more than [`DEFAULT_PAGE_CAP`].
pub fn page_cap(total_count: Option<u64>, per_page: u32) -> u32 {
    total_count
        .map(|n| n.div_ceil(u64::from(per_page.max(1))).saturating_add(2))
        .map_or(DEFAULT_PAGE_CAP, |pages| {
            u32::try_from(pages).map_or(DEFAULT_PAGE_CAP, |p| p.min(DEFAULT_PAGE_CAP))
        })
}

/// The number of pages, when the first page's `result_info` says it.
pub fn total_pages(info: Option<&ResultInfo>) -> Option<u32> {
    info.and_then(|ri| ri.total_pages)
        .map(|t| u32::try_from(t).unwrap_or(u32::MAX))
}

/// Something listed under an id.
pub trait Keyed {
    /// What makes two sightings the same server: its id.
    fn key(&self) -> &str;
}

impl Keyed for Server {
    fn key(&self) -> &str {
        &self.id
    }
}

/// Items gathered over a walk, first sighting of each id kept.
#[derive(Debug)]
pub struct Listing<T = Server> {
    seen: HashSet<String>,
    /// The items in the order first seen.
    pub servers: Vec<T>,
    /// Server objects that could not be decoded.
    pub skipped: usize,
    /// Ids that came twice.
    pub duplicates: usize,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Self {
            seen: HashSet::new(),
            servers: Vec::new(),
            skipped: 0,
            duplicates: 0,
        }
    }
}

impl<T: Keyed> Listing<T> {
    /// A listing with room for `n` items (the count the first page announced), so that a
    /// large account's listing is not copied while it grows.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            seen: HashSet::with_capacity(n),
            servers: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    /// The ids seen in this walk, and the items in the order first seen.
    pub fn into_parts(self) -> (HashSet<String>, Vec<T>) {
        (self.seen, self.servers)
    }

    /// Adds one page's items; `skipped` counts the page's undecodable ones. Returns how many
    /// were new to this walk.
    pub fn add(&mut self, items: impl IntoIterator<Item = T>, skipped: usize) -> usize {
        self.skipped += skipped;
        let mut fresh = 0;
        for s in items {
            if self.seen.insert(s.key().to_owned()) {
                self.servers.push(s);
                fresh += 1;
            } else {
                self.duplicates += 1;
            }
        }
        fresh
    }
}

#[cfg(test)]
#[path = "../../tests/unit/cloudflare/pagination.rs"]
mod tests;
