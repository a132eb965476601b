//! The pagination rule, as pure functions.
//!
//! Stop at `result_info.total_pages` when Cloudflare sends it; otherwise at the first page
//! shorter than `per_page` (an empty page included). Unlike Cloudflare's SDKs, no extra
//! empty page is fetched when either already says the walk is over. Servers are keyed by
//! id: one seen twice because the list shifted while it was walked is kept once.

use std::collections::HashSet;

use super::model::{ListPage, Server};

/// The page to fetch after `page`, or `None` when `page` was the last.
pub fn next_page(page: u32, per_page: u32, got: &ListPage) -> Option<u32> {
    if let Some(total) = got.result_info.as_ref().and_then(|ri| ri.total_pages) {
        return (u64::from(page) < total).then(|| page.saturating_add(1));
    }
    if got.raw_count < per_page as usize {
        return None;
    }
    Some(page.saturating_add(1))
}

/// The number of pages, when the first page says it.
pub fn total_pages(first: &ListPage) -> Option<u32> {
    first
        .result_info
        .as_ref()
        .and_then(|ri| ri.total_pages)
        .map(|t| u32::try_from(t).unwrap_or(u32::MAX))
}

/// Servers gathered over a walk, first sighting of each id kept.
#[derive(Debug, Default)]
pub struct Listing {
    seen: HashSet<String>,
    /// The servers in the order first seen.
    pub servers: Vec<Server>,
    /// Server objects that could not be decoded.
    pub skipped: usize,
    /// Ids that came twice.
    pub duplicates: usize,
}

impl Listing {
    /// Adds one page's servers.
    pub fn add(&mut self, page: ListPage) {
        self.skipped += page.skipped.len();
        for s in page.servers {
            if self.seen.insert(s.id.clone()) {
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
    use crate::cloudflare::model::ResultInfo;

    fn page(n: usize, total_pages: Option<u64>) -> ListPage {
        ListPage {
            raw_count: n,
            result_info: total_pages.map(|t| ResultInfo {
                total_pages: Some(t),
                ..ResultInfo::default()
            }),
            ..ListPage::default()
        }
    }

    #[test]
    fn total_pages_decides_when_present() {
        assert_eq!(next_page(1, 100, &page(100, Some(3))), Some(2));
        assert_eq!(next_page(3, 100, &page(100, Some(3))), None);
        assert_eq!(next_page(1, 100, &page(100, Some(1))), None);
        assert_eq!(next_page(1, 100, &page(0, Some(0))), None);
    }

    #[test]
    fn a_short_page_ends_the_walk_without_result_info() {
        assert_eq!(next_page(1, 100, &page(100, None)), Some(2));
        assert_eq!(next_page(2, 100, &page(99, None)), None);
        assert_eq!(next_page(2, 100, &page(0, None)), None);
    }

    #[test]
    fn listing_keeps_the_first_sighting_of_an_id() {
        let s = |id: &str| Server {
            id: id.into(),
            ..Server::default()
        };
        let mut l = Listing::default();
        l.add(ListPage {
            servers: vec![s("a"), s("b")],
            ..ListPage::default()
        });
        l.add(ListPage {
            servers: vec![s("b"), s("c")],
            ..ListPage::default()
        });
        let ids: Vec<_> = l.servers.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(l.duplicates, 1);
    }
}
