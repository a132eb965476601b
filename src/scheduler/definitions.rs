//! One listing of every account for the `pins` commands: each server's definitions with
//! their stable fingerprints, nothing synced, nothing published.

use std::collections::BTreeMap;

use super::decide::Class;
use super::Scheduler;
use crate::definitions::stable::StableTable;
use crate::shutdown::Shutdown;

/// A listed server's definitions.
#[derive(Debug)]
pub struct Listed {
    /// Its name.
    pub name: String,
    /// Its definitions and their stable fingerprints (none when it lists no definitions).
    pub definitions: StableTable,
}

/// Why an account could not be listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NotListed {
    /// The credentials were refused.
    pub auth: bool,
    /// What went wrong, safe to print.
    pub message: String,
}

impl Scheduler {
    /// Lists every account once (within the include/exclude filters): per account, its
    /// servers by id, or why it could not be listed.
    pub async fn definitions(
        &self,
        shutdown: &Shutdown,
    ) -> BTreeMap<String, Result<BTreeMap<String, Listed>, NotListed>> {
        let mut out = BTreeMap::new();
        for account in self.inner.config.accounts.iter().map(|a| a.id.clone()) {
            let Some(client) = self.inner.clients.get(&account).cloned() else {
                continue;
            };
            self.inner.memory.export_looks(&account);
            let listing = self
                .list(&client, &account, shutdown, &mut |_: &mut [_]| {})
                .await;
            let result = match listing {
                Ok(listed) => Ok(listed
                    .into_iter()
                    .filter(|l| self.inner.config.wants(&l.info.id, &l.info.name))
                    .map(|l| {
                        let definitions = l.inspected.map(|i| i.definitions).unwrap_or_else(|| {
                            crate::definitions::table::Labels::default().table()
                        });
                        let server = Listed {
                            name: l.info.name.to_string(),
                            definitions,
                        };
                        (l.info.id.to_string(), server)
                    })
                    .collect()),
                Err(f) => Err(NotListed {
                    auth: f.class == Class::Auth,
                    message: f.message,
                }),
            };
            out.insert(account, result);
        }
        out
    }
}
