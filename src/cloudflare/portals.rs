//! The portal list (`GET …/mcp/portals`): which portal (the hostname users' MCP clients
//! connect to) serves which server. Only membership is kept: each member's copy of the
//! server's fields, its `tools` and `prompts` included, is skipped while it is decoded
//! (serde_json passes over unknown fields without building them), so a portal costs its id,
//! name, hostname and member ids. A page is decoded portal by portal, as the server list
//! is: one malformed portal costs only itself.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::lenient::{lenient_bool, lenient_string};
use super::model::{Envelope, ResultInfo, SkippedServer};
use super::pagination::Keyed;

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
    /// The servers it serves (members without a `server_id` are dropped).
    #[serde(default, deserialize_with = "members")]
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

fn members<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Member>, D::Error> {
    let all = Option::<Vec<Member>>::deserialize(d)?.unwrap_or_default();
    Ok(all.into_iter().filter(|m| m.server_id.is_some()).collect())
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

/// Decodes a portal page held whole: the envelope, then each portal on its own.
pub fn decode_portal_page(body: &[u8]) -> Result<(Envelope<()>, PortalPage), String> {
    let env: Envelope<Vec<&RawValue>> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let raw = env.result.unwrap_or_default();
    let mut page = PortalPage {
        raw_count: raw.len(),
        result_info: env.result_info.clone(),
        ..PortalPage::default()
    };
    for (index, json) in raw.iter().enumerate() {
        match serde_json::from_str::<Portal>(json.get()) {
            Ok(p) if !p.id.is_empty() => page.portals.push(p),
            Ok(_) => page.skipped.push(SkippedServer {
                index,
                id: None,
                reason: "empty id".into(),
            }),
            Err(e) => page.skipped.push(SkippedServer {
                index,
                id: None,
                reason: e.to_string(),
            }),
        }
    }
    let env = Envelope {
        success: env.success,
        errors: env.errors,
        messages: env.messages,
        result: None,
        result_info: env.result_info,
    };
    Ok((env, page))
}

#[cfg(test)]
#[path = "../../tests/unit/cloudflare/portals.rs"]
mod tests;
