//! The portal list (`GET …/mcp/portals`): which portal (the hostname users' MCP clients
//! connect to) serves which server. Only membership is kept: each member's copy of the
//! server's fields, its `tools` and `prompts` included, is skipped while it is decoded
//! (serde_json passes over unknown fields without building them), so a portal costs its id,
//! name, hostname and member ids. A page is decoded as it arrives, portal by portal, by the
//! server list's decoder (`stream`): only one portal's bytes are held at a time, and one
//! malformed portal costs only itself.

use serde::Deserialize;

use super::lenient::{lenient_bool, lenient_string, null_as_default};
use super::model::{ResultInfo, SkippedServer};
use super::pagination::Keyed;
use super::stream::{Page, Wanted};

/// One portal, as far as the daemon reads it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Portal {
    /// The portal id.
    pub id: String,
    /// Display name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
    /// Where users' MCP clients connect.
    #[serde(default, deserialize_with = "lenient_string")]
    pub hostname: Option<String>,
    /// The servers it serves.
    #[serde(default, deserialize_with = "null_as_default")]
    pub servers: Vec<Member>,
}

/// One server of a portal.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Member {
    /// The server's id in the server list.
    #[serde(default, deserialize_with = "lenient_string")]
    pub server_id: Option<String>,
    /// The server's name, as the portal's copy says (for the include/exclude filters).
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
    /// Whether users get it only when they turn it on (absent: `false`, as documented).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub default_disabled: Option<bool>,
}

impl Keyed for Portal {
    fn key(&self) -> &str {
        &self.id
    }
}

/// One decoded page of the portal list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PortalPage {
    /// The portals that decoded.
    pub portals: Vec<Portal>,
    /// The ones that did not.
    pub skipped: Vec<SkippedServer>,
    /// Items on the page as sent.
    pub raw_count: usize,
    /// `result_info`, if sent.
    pub result_info: Option<ResultInfo>,
}

impl Page for PortalPage {
    fn element(&mut self, index: usize, json: &[u8], _: Option<&Wanted>) {
        match serde_json::from_slice::<Portal>(json) {
            Ok(p) if !p.id.is_empty() => self.portals.push(p),
            Ok(_) => self.skipped.push(SkippedServer {
                index,
                id: None,
                reason: "empty id".into(),
            }),
            Err(e) => self.skipped.push(SkippedServer {
                index,
                id: None,
                reason: e.to_string(),
            }),
        }
    }

    fn close(&mut self, raw_count: usize, info: Option<ResultInfo>) {
        self.raw_count = raw_count;
        self.result_info = info;
    }
}

#[cfg(test)]
#[path = "../../tests/unit/cloudflare/portals.rs"]
mod tests;
