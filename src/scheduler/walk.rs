//! The walk: every page of an account's listing, each with its retries. Once the first page
//! says how many there are (`result_info.total_pages`), the rest are fetched
//! `list_concurrency` at a time; without it the walk is sequential and follows the
//! pagination rule. Each page is reduced at once to what the state keeps of a server.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use super::decide::{classify_list_error, Class};
use super::retry::{retrying, Ended};
use super::Scheduler;
use crate::cloudflare::model::sanitize;
use crate::cloudflare::pagination::{next_page, total_pages, Listing};
use crate::cloudflare::{Client, ListPage, ResultInfo};
use crate::shutdown::Shutdown;
use crate::state::Listed;

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
    /// Lists every page of `account`; each server once, in page order.
    pub(super) async fn list(
        &self,
        client: &Client,
        account: &str,
        shutdown: &Shutdown,
    ) -> Result<Vec<Listed>, ListFailure> {
        let first = self.list_page(client, account, 1, shutdown).await?;
        let mut listing = match total_pages(first.result_info.as_ref()).filter(|t| *t > 1) {
            Some(total) => {
                self.list_rest_at_once(client, account, first, total, shutdown)
                    .await?
            }
            None => self.list_in_turn(client, account, first, shutdown).await?,
        };
        Ok(std::mem::take(&mut listing.servers))
    }

    /// Pages 2..=`total`, `list_concurrency` at a time; the first failure fails the walk.
    async fn list_rest_at_once(
        &self,
        client: &Client,
        account: &str,
        first: Page,
        total: u32,
        shutdown: &Shutdown,
    ) -> Result<Listing<Listed>, ListFailure> {
        let sem = Arc::new(Semaphore::new(self.inner.config.list_concurrency));
        let mut tasks = JoinSet::new();
        for page in 2..=total {
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
                Ok((n, Ok(p))) => pages.push((n, p)),
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
        let mut listing = Listing::default();
        for (_, p) in pages {
            listing.add(p.items, p.skipped);
        }
        Ok(listing)
    }

    /// The sequential walk: the next page as the pagination rule says, until it says stop.
    async fn list_in_turn(
        &self,
        client: &Client,
        account: &str,
        first: Page,
        shutdown: &Shutdown,
    ) -> Result<Listing<Listed>, ListFailure> {
        let per_page = self.inner.config.per_page;
        let mut listing = Listing::default();
        let (mut page, mut current) = (1, first);
        loop {
            let next = next_page(
                page,
                per_page,
                current.raw_count,
                current.result_info.as_ref(),
            );
            listing.add(current.items, current.skipped);
            match next {
                Some(n) => {
                    page = n;
                    current = self.list_page(client, account, page, shutdown).await?;
                }
                None => return Ok(listing),
            }
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
        let end = retrying(
            &self.inner.config.retry,
            shutdown,
            || client.list_page(account, page, per_page),
            |r| match r {
                Ok(_) => Class::Success,
                Err(e) => classify_list_error(e),
            },
            |r, _, wait| {
                if let Err(e) = r {
                    debug!(account, page, error = %e, wait_ms = wait.as_millis() as u64, "list page failed; retrying");
                }
                true
            },
        )
        .await;
        match end {
            Ended::Answered { result: Ok(p), .. } => Ok(reduce(account, page, p)),
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

/// Keeps what the state needs of each server of a page; logs the malformed ones skipped.
fn reduce(account: &str, page: u32, p: ListPage) -> Page {
    for s in &p.skipped {
        warn!(account, page, index = s.index, server_id = ?s.id, reason = %sanitize(&s.reason), "skipping a malformed server object; the rest of the page is kept");
    }
    Page {
        items: p
            .servers
            .into_iter()
            .map(|s| Listed::new(s, false))
            .collect(),
        raw_count: p.raw_count,
        result_info: p.result_info,
        skipped: p.skipped.len(),
    }
}
