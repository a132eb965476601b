//! The walk: every page of an account's listing, each with its retries. Once the first page
//! says how many there are (`result_info.total_pages`), the rest are fetched
//! `list_concurrency` at a time; without it the walk is sequential. Either way each page is
//! judged by the walk's rules (`cloudflare::pagination::walk_step`): a short page is proven
//! when a proof is due, an API that ignores `per_page` is walked until an empty page, and a
//! repeated page, the page cap or a changing list end the walk incomplete. Each page is
//! reduced at once to what the state keeps of a server.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::decide::{self, classify_list_error, Class};
use super::listed::Listed;
use super::retry::{retrying, Ended};
use super::Scheduler;
use crate::cloudflare::model::sanitize;
use crate::cloudflare::pagination::{
    page_cap, total_pages, walk_step, Anomaly, Listing, PageFacts, Step,
};
use crate::cloudflare::stream::Wanted;
use crate::cloudflare::{Client, ListPage, ResultInfo};
use crate::shutdown::Shutdown;

/// Servers of the last complete listing that a walk checks one by one when they are missing
/// from it; more vanished at once (a mass deletion) are not all checked.
pub const MAX_VANISHED_CHECKS: usize = 20;

/// What sees each page of a walk as soon as it is decoded.
pub(super) type OnPage<'a> = &'a mut (dyn FnMut(&mut [Listed]) + Send);

/// One list page, reduced to what the state keeps.
struct Page {
    items: Vec<Listed>,
    raw_count: usize,
    result_info: Option<ResultInfo>,
    skipped: usize,
}

/// Why a listing stopped before it was complete.
#[derive(Debug)]
pub struct ListFailure {
    /// The class of the last answer (`Interrupted` at shutdown).
    pub class: Class,
    /// What went wrong, safe to print.
    pub message: String,
}

impl Scheduler {
    /// Lists every page of `account`; each server once, in page order. Each page is shown
    /// to `on_page` as soon as it is decoded (the pipelined cycle queues its stale servers).
    /// A complete walk that lacks servers of the last complete listing asks Cloudflare about
    /// them (see [`Self::check_vanished`]).
    pub(super) async fn list(
        &self,
        client: &Client,
        account: &str,
        shutdown: &Shutdown,
        on_page: OnPage<'_>,
    ) -> Result<Vec<Listed>, ListFailure> {
        let mut first = self.list_page(client, account, 1, shutdown).await?;
        on_page(&mut first.items);
        let listing = match total_pages(first.result_info.as_ref()).filter(|t| *t > 1) {
            Some(total) => {
                self.list_rest_at_once(client, account, first, total, shutdown, on_page)
                    .await?
            }
            None => {
                self.list_in_turn(client, account, first, shutdown, on_page)
                    .await?
            }
        };
        let (ids, servers) = listing.into_parts();
        let vanished = self
            .inner
            .memory
            .vanished(account, &ids, MAX_VANISHED_CHECKS);
        self.check_vanished(client, account, &vanished, shutdown)
            .await?;
        self.inner.memory.set_known(account, &ids);
        drop(ids);
        // The pages, merged, are free: give them back before the listing is published.
        crate::allocator::release_free();
        Ok(servers)
    }

    /// Servers of the last complete listing that this one lacks are deleted, or were skipped
    /// because the list shifted under the walk (a server removed from page 1 moves one from
    /// page 2 onto it after page 1 was read). One read each tells: 404 is a deletion; any
    /// other answer makes the listing incomplete, so that a server never vanishes silently.
    /// Costs one request per deleted server, at most [`MAX_VANISHED_CHECKS`] per walk.
    async fn check_vanished(
        &self,
        client: &Client,
        account: &str,
        vanished: &[String],
        shutdown: &Shutdown,
    ) -> Result<(), ListFailure> {
        for id in vanished {
            match shutdown.run(client.read(account, id)).await {
                None => {
                    return Err(ListFailure {
                        class: Class::Interrupted,
                        message: "shutting down".into(),
                    })
                }
                Some(Err(e)) if e.status() == Some(404) => {}
                Some(Err(e)) => {
                    return Err(ListFailure {
                        class: classify_list_error(&e),
                        message: format!(
                            "server {} is missing from the listing and could not be checked: {e}",
                            sanitize(id)
                        ),
                    })
                }
                Some(Ok(_)) => {
                    self.walk_anomaly(account, 0, Anomaly::ListChanged);
                    return Err(ListFailure {
                        class: Class::Permanent,
                        message: format!(
                            "listing incomplete: server {} is missing from it but still exists; {}",
                            sanitize(id),
                            Anomaly::ListChanged.describe()
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Pages 2..=`total` (at most the page cap), `list_concurrency` at a time; the first
    /// failure fails the walk. The pages are then judged in order.
    async fn list_rest_at_once(
        &self,
        client: &Client,
        account: &str,
        first: Page,
        total: u32,
        shutdown: &Shutdown,
        on_page: OnPage<'_>,
    ) -> Result<Listing<Listed>, ListFailure> {
        let per_page = self.inner.config.per_page;
        let first_count = first.result_info.as_ref().and_then(|r| r.total_count);
        let cap = page_cap(first_count, per_page);
        let sem = Arc::new(Semaphore::new(self.inner.config.list_concurrency));
        let mut tasks = JoinSet::new();
        for page in 2..=total.min(cap) {
            let (me, client, sem, sd) =
                (self.clone(), client.clone(), sem.clone(), shutdown.clone());
            let account = account.to_owned();
            tasks.spawn(async move {
                let _permit = sem.acquire_owned().await;
                (page, me.list_page(&client, &account, page, &sd).await)
            });
        }
        let mut pages: Vec<(u32, Page)> = vec![(1, first)];
        let mut failure = None;
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok((n, Ok(mut p))) => {
                    on_page(&mut p.items);
                    pages.push((n, p));
                }
                Ok((_, Err(f))) => {
                    if failure.is_none() {
                        tasks.abort_all();
                        failure = Some(f);
                    }
                }
                Err(e) if e.is_cancelled() => {}
                Err(e) => {
                    failure.get_or_insert(ListFailure {
                        class: Class::Permanent,
                        message: e.to_string(),
                    });
                }
            }
        }
        if let Some(f) = failure {
            return Err(f);
        }
        pages.sort_by_key(|(n, _)| *n);
        let mut listing = Listing::with_capacity(expected(first_count, cap, per_page));
        for (n, p) in pages {
            let facts = PageFacts {
                page: n,
                per_page,
                raw: p.raw_count,
                fresh: 0,
                total_pages: Some(u64::from(total)),
                count_changed: count_changed(first_count, p.result_info.as_ref()),
                prev_short: false,
                until_empty: false,
                proof_due: false,
                cap,
            };
            let fresh = listing.add(p.items, p.skipped);
            if let (Step::Incomplete(a), _) = walk_step(&PageFacts { fresh, ..facts }) {
                return Err(self.walk_incomplete(account, n, a));
            }
        }
        Ok(listing)
    }

    /// The sequential walk, page after page, as the walk's rules say.
    async fn list_in_turn(
        &self,
        client: &Client,
        account: &str,
        first: Page,
        shutdown: &Shutdown,
        on_page: OnPage<'_>,
    ) -> Result<Listing<Listed>, ListFailure> {
        let per_page = self.inner.config.per_page;
        let memory = &self.inner.memory;
        let mut walk = memory.walk(account);
        let proof_due = decide::proof_due(walk, Instant::now());
        let first_count = first.result_info.as_ref().and_then(|r| r.total_count);
        let cap = page_cap(first_count, per_page);
        let mut listing = Listing::with_capacity(expected(first_count, cap, per_page));
        let (mut page, mut current, mut prev_short) = (1, first, false);
        loop {
            let raw = current.raw_count;
            let info = current.result_info.take();
            let fresh = listing.add(current.items, current.skipped);
            let facts = PageFacts {
                page,
                per_page,
                raw,
                fresh,
                total_pages: info.as_ref().and_then(|i| i.total_pages),
                count_changed: count_changed(first_count, info.as_ref()),
                prev_short,
                until_empty: walk.until_empty,
                proof_due,
                cap,
            };
            let (step, noticed) = walk_step(&facts);
            if let Some(a) = noticed {
                self.walk_anomaly(account, page, a);
                walk.until_empty = true;
                memory.set_walk(account, walk);
            }
            match step {
                Step::Next(n) => {
                    prev_short = raw < per_page as usize;
                    page = n;
                    current = self.list_page(client, account, page, shutdown).await?;
                    on_page(&mut current.items);
                }
                Step::Done { proven } => {
                    if proven {
                        walk.proven_at = Some(Instant::now());
                        memory.set_walk(account, walk);
                    }
                    return Ok(listing);
                }
                Step::Incomplete(a) => return Err(self.walk_incomplete(account, page, a)),
            }
        }
    }

    /// Counts and logs an anomaly of the walk.
    fn walk_anomaly(&self, account: &str, page: u32, a: Anomaly) {
        self.inner.memory.count_anomaly(account, a);
        warn!(
            account,
            page,
            kind = a.as_str(),
            "listing walk: {}",
            a.describe()
        );
    }

    /// A walk that ends without a complete listing.
    fn walk_incomplete(&self, account: &str, page: u32, a: Anomaly) -> ListFailure {
        self.walk_anomaly(account, page, a);
        ListFailure {
            class: Class::Permanent,
            message: format!("listing incomplete at page {page}: {}", a.describe()),
        }
    }

    /// One page, with retries on 429, 5xx and transport errors.
    async fn list_page(
        &self,
        client: &Client,
        account: &str,
        page: u32,
        shutdown: &Shutdown,
    ) -> Result<Page, ListFailure> {
        let per_page = self.inner.config.per_page;
        // A close look is for pins (a pin file, or `pins export`); the rules need none.
        let looks = match self.inner.memory.reviewing_against(account) {
            Some((pins, _)) => pins.is_some(),
            None => true,
        };
        let wanted: Option<Wanted> = looks.then(|| {
            let inner = self.inner.clone();
            let account = account.to_owned();
            Arc::new(move |id: &str, digest| inner.memory.needs_look(&account, id, digest))
                as Wanted
        });
        let p = self
            .page_with_retries(account, page, shutdown, || {
                client.list_page(account, page, per_page, wanted.clone())
            })
            .await?;
        let mut page = reduce(account, page, p);
        self.review_page(account, &mut page.items);
        let items = page.items.iter_mut();
        self.inner.memory.drop_unchanged_capabilities(
            account,
            items.map(|l| (&*l.info.id, &mut l.capabilities)),
        );
        Ok(page)
    }

    /// One page of a listing (servers or portals), with retries on 429, 5xx and transport
    /// errors.
    pub(super) async fn page_with_retries<T, Fut>(
        &self,
        account: &str,
        page: u32,
        shutdown: &Shutdown,
        fetch: impl FnMut() -> Fut,
    ) -> Result<T, ListFailure>
    where
        Fut: std::future::Future<Output = Result<T, crate::cloudflare::ApiError>>,
    {
        let end = retrying(
            &self.inner.config.retry,
            shutdown,
            fetch,
            |r| r.as_ref().map_or_else(classify_list_error, |_| Class::Success),
            |r, _, wait| {
                if let Err(e) = r {
                    debug!(account, page, error = %e, wait_ms = wait.as_millis() as u64, "list page failed; retrying");
                }
                true
            },
        )
        .await;
        match end {
            Ended::Answered { result: Ok(p), .. } => Ok(p),
            Ended::Answered {
                result: Err(e),
                class,
                ..
            } => Err(ListFailure {
                class,
                message: e.to_string(),
            }),
            Ended::Stopped { .. } => Err(ListFailure {
                class: Class::Interrupted,
                message: "shutting down".into(),
            }),
        }
    }
}

/// Servers the first page announced, within the page cap (room reserved for them).
fn expected(total_count: Option<u64>, cap: u32, per_page: u32) -> usize {
    let most = u64::from(cap) * u64::from(per_page);
    usize::try_from(total_count.unwrap_or(0).min(most)).unwrap_or(0)
}

/// Whether a page's `result_info.total_count` differs from the first page's.
fn count_changed(first: Option<u64>, info: Option<&ResultInfo>) -> bool {
    match (first, info.and_then(|i| i.total_count)) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    }
}

/// Keeps what the state needs of each server of a page; logs the malformed ones skipped.
fn reduce(account: &str, page: u32, p: ListPage) -> Page {
    for s in &p.skipped {
        warn!(account, page, index = s.index, server_id = ?s.id, reason = %sanitize(&s.reason), "skipping a malformed server object; the rest of the page is kept");
    }
    // A new vector, not the page's reused in place: a decoded server is several times the
    // size of what is kept, and the pages of a walk are held until it ends.
    let mut items = Vec::with_capacity(p.servers.len());
    items.extend(p.servers.into_iter().map(Listed::new));
    Page {
        items,
        raw_count: p.raw_count,
        result_info: p.result_info,
        skipped: p.skipped.len(),
    }
}
