//! The portal listing: every `portals.interval`, per account, on its own task beside the
//! server cycles, every page of `GET …/mcp/portals` under the walk's rules
//! (`cloudflare::pagination::walk_step`; a short page is always proven by the next one,
//! one request more per listing). A listing that fails keeps the last good membership and
//! publishes only that it failed: it never touches the server cycle.

use std::time::Duration;

use tracing::warn;

use super::decide::Class;
use super::walk::ListFailure;
use super::Scheduler;
use crate::cloudflare::model::sanitize;
use crate::cloudflare::pagination::{page_cap, walk_step, Listing, PageFacts, Step};
use crate::cloudflare::portals::Portal;
use crate::cloudflare::Client;
use crate::shutdown::Shutdown;
use crate::state::{
    bounded, AccountPortals, MemberView, PortalView, MAX_HOSTNAME_CHARS, MAX_NAME_CHARS,
};

impl Scheduler {
    /// Lists the portals of `account` every `portals.interval` until `shutdown`, the first
    /// time once the account's first server listing has ended: a portal's health needs the
    /// server list, and the first cycle (the longest) then has the budget and the CPU alone.
    pub(super) async fn portal_loop(&self, account: String, shutdown: Shutdown) {
        let Some(interval) = self.inner.config.portals_interval else {
            return;
        };
        let listed = || {
            self.inner
                .state
                .account(&account)
                .is_some_and(|v| v.up.is_some())
        };
        while !listed() {
            if !shutdown.sleep(Duration::from_millis(100)).await {
                return;
            }
        }
        while !shutdown.is_triggered() {
            self.portals_once(&account, &shutdown).await;
            if !shutdown.sleep(interval).await {
                break;
            }
        }
    }

    /// One portal listing of `account`, published (portals off: nothing).
    pub(super) async fn portals_once(&self, account: &str, shutdown: &Shutdown) {
        let Some(client) = self.inner.clients.get(account) else {
            return;
        };
        if self.inner.config.portals_interval.is_none() {
            return;
        }
        let next = match self.list_portals(client, account, shutdown).await {
            Ok(portals) => AccountPortals {
                up: Some(true),
                last_error: None,
                portals: std::sync::Arc::new(portals.into_iter().map(|p| self.view(p)).collect()),
            },
            Err(f) if f.class == Class::Interrupted => return,
            Err(f) => {
                warn!(account, error = %f.message, "portal listing failed; the last membership stays");
                let old = self.inner.state.read().portals.get(account).cloned();
                AccountPortals {
                    up: Some(false),
                    last_error: Some(f.message),
                    ..old.as_deref().cloned().unwrap_or_default()
                }
            }
        };
        self.inner.state.publish_portals(account, next);
    }

    /// What the state keeps of a portal: its identity, and its members within the filters.
    fn view(&self, p: Portal) -> PortalView {
        let cfg = &self.inner.config;
        let members = p.servers.into_iter().filter_map(|m| {
            let id = m.server_id?;
            cfg.wants(&id, m.name.as_deref().unwrap_or(""))
                .then(|| MemberView {
                    server_id: id,
                    default_disabled: m.default_disabled.unwrap_or(false),
                })
        });
        PortalView {
            id: p.id,
            name: bounded(p.name, MAX_NAME_CHARS),
            hostname: bounded(p.hostname, MAX_HOSTNAME_CHARS),
            members: members.collect(),
        }
    }

    /// Every page of the portal list, each portal once.
    async fn list_portals(
        &self,
        client: &Client,
        account: &str,
        shutdown: &Shutdown,
    ) -> Result<Vec<Portal>, ListFailure> {
        let per_page = self.inner.config.per_page;
        let mut listing = Listing::<Portal>::default();
        let (mut page, mut prev_short, mut until_empty) = (1, false, false);
        let (mut first_count, mut cap) = (None, page_cap(None, per_page));
        loop {
            let p = self
                .page_with_retries(account, page, shutdown, || {
                    client.list_portals_page(account, page, per_page)
                })
                .await?;
            let count = p.result_info.as_ref().and_then(|i| i.total_count);
            if page == 1 {
                (first_count, cap) = (count, page_cap(count, per_page));
            }
            for s in &p.skipped {
                warn!(account, page, index = s.index, reason = %sanitize(&s.reason), "skipping a malformed portal object; the rest of the page is kept");
            }
            let raw = p.raw_count;
            let fresh = listing.add(p.portals, p.skipped.len());
            let (step, noticed) = walk_step(&PageFacts {
                page,
                per_page,
                raw,
                fresh,
                total_pages: p.result_info.as_ref().and_then(|i| i.total_pages),
                count_changed: matches!((first_count, count), (Some(a), Some(b)) if a != b),
                prev_short,
                until_empty,
                proof_due: true,
                cap,
            });
            if let Some(a) = noticed {
                warn!(
                    account,
                    page,
                    kind = a.as_str(),
                    "portal listing walk: {}",
                    a.describe()
                );
                until_empty = true;
            }
            match step {
                Step::Next(n) => (prev_short, page) = (raw < per_page as usize, n),
                Step::Done { .. } => return Ok(listing.servers),
                Step::Incomplete(a) => {
                    return Err(ListFailure {
                        class: Class::Permanent,
                        message: format!(
                            "portal listing incomplete at page {page}: {}",
                            a.describe()
                        ),
                    })
                }
            }
        }
    }
}
