//! The pagination rule, as pure functions.
//!
//! Stop at `result_info.total_pages` when Cloudflare sends it; otherwise at the first page
//! shorter than `per_page` (an empty page included). Unlike Cloudflare's SDKs, no extra
//! empty page is fetched when either already says the walk is over. Servers are keyed by
//! id: one seen twice because the list shifted while it was walked is kept once.

use std::collections::HashSet;

use super::model::{ResultInfo, Server};

/// The page to fetch after `page`, given how many items it held (decoded or not) and its
/// `result_info`; `None` when `page` was the last.
pub fn next_page(
    page: u32,
    per_page: u32,
    raw_count: usize,
    info: Option<&ResultInfo>,
) -> Option<u32> {
    if let Some(total) = info.and_then(|ri| ri.total_pages) {
        return (u64::from(page) < total).then(|| page.saturating_add(1));
    }
    if raw_count < per_page as usize {
        return None;
    }
    Some(page.saturating_add(1))
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
    /// Adds one page's items; `skipped` counts the page's undecodable ones.
    pub fn add(&mut self, items: impl IntoIterator<Item = T>, skipped: usize) {
        self.skipped += skipped;
        for s in items {
            if self.seen.insert(s.key().to_owned()) {
                self.servers.push(s);
            } else {
                self.duplicates += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(n: usize, total_pages: Option<u64>) -> (usize, Option<ResultInfo>) {
        (
            n,
            total_pages.map(|t| ResultInfo {
                total_pages: Some(t),
                ..ResultInfo::default()
            }),
        )
    }

    fn next_page(page: u32, per_page: u32, got: (usize, Option<ResultInfo>)) -> Option<u32> {
        super::next_page(page, per_page, got.0, got.1.as_ref())
    }

    #[test]
    fn total_pages_decides_when_present() {
        assert_eq!(next_page(1, 100, page(100, Some(3))), Some(2));
        assert_eq!(next_page(3, 100, page(100, Some(3))), None);
        assert_eq!(next_page(1, 100, page(100, Some(1))), None);
        assert_eq!(next_page(1, 100, page(0, Some(0))), None);
    }

    #[test]
    fn a_short_page_ends_the_walk_without_result_info() {
        assert_eq!(next_page(1, 100, page(100, None)), Some(2));
        assert_eq!(next_page(2, 100, page(99, None)), None);
        assert_eq!(next_page(2, 100, page(0, None)), None);
    }

    #[test]
    fn listing_keeps_the_first_sighting_of_an_id() {
        let s = |id: &str| Server {
            id: id.into(),
            ..Server::default()
        };
        let mut l = Listing::default();
        l.add(vec![s("a"), s("b")], 0);
        l.add(vec![s("b"), s("c")], 1);
        let ids: Vec<_> = l.servers.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!((l.duplicates, l.skipped), (1, 1));
    }
}
