//! The simulated portal list (`GET …/mcp/portals`): each portal's members carry a full copy
//! of their server's fields, tools and prompts included, as Cloudflare sends them; a copy
//! can be told to say another `status` than the server list (to show that the daemon reads
//! state from the server list only). Pages, `result_info`, `page_size` and `ignore_page`
//! follow the world's switches, as the server list does.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::answers::{raw_owned, server_json};
use super::handlers::{record, Req};
use super::{FakeServer, World};

/// One simulated portal.
#[derive(Debug, Clone, PartialEq)]
pub struct FakePortal {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Where users connect.
    pub hostname: String,
    /// Its servers: id, and whether users get it only when they turn it on.
    pub members: Vec<(String, bool)>,
    /// The `status` every member's copy says, in place of the server list's.
    pub copy_status: Option<String>,
}

impl FakePortal {
    /// A portal serving these servers, each enabled by default.
    pub fn new(id: &str, members: &[&str]) -> Self {
        Self {
            id: id.into(),
            name: format!("Portal {id}"),
            hostname: format!("{id}.mcp.example.com"),
            members: members.iter().map(|m| ((*m).to_owned(), false)).collect(),
            copy_status: None,
        }
    }
}

pub(super) fn portals_answer(
    w: &mut World,
    req: &Req,
    page: Option<u32>,
    per_page: Option<u32>,
) -> Response {
    let Some((page, per_page)) = super::answers::paging(page, per_page) else {
        return super::answers::bad_paging(w, req);
    };
    let per_page = w.page_size.unwrap_or(per_page).max(1) as usize;
    let page = if w.ignore_page { 1 } else { page as usize };
    let portals = w.portals.get(&req.account).cloned().unwrap_or_default();
    let start = (page - 1).saturating_mul(per_page).min(portals.len());
    let end = start.saturating_add(per_page).min(portals.len());
    let servers = w.accounts.get(&req.account).cloned().unwrap_or_default();
    let index: HashMap<&str, &FakeServer> = servers.iter().map(|s| (s.id.as_str(), s)).collect();
    let result: Vec<String> = portals[start..end]
        .iter()
        .map(|p| portal_json(w, &index, p))
        .collect();
    let mut body = format!(
        "{{\"success\":true,\"errors\":[],\"messages\":[],\"result\":[{}]",
        result.join(",")
    );
    if w.result_info {
        let info = json!({"page": page, "per_page": per_page, "count": end - start,
            "total_count": portals.len(), "total_pages": portals.len().div_ceil(per_page)});
        body.push_str(&format!(",\"result_info\":{info}"));
    }
    body.push('}');
    record(w, req, 200);
    raw_owned(StatusCode::OK, body)
}

/// A portal's JSON; each member is its server's own JSON with the member's fields first
/// (built as text: a page of a thousand copies is megabytes).
fn portal_json(w: &mut World, servers: &HashMap<&str, &FakeServer>, p: &FakePortal) -> String {
    let copies: Vec<String> = p
        .members
        .iter()
        .map(|(id, default_disabled)| {
            let own = match servers.get(id.as_str()) {
                Some(s) => {
                    let tools = s.tool_defs.clone().or_else(|| w.tools_json(s.tools));
                    server_json(s, tools.as_deref())
                }
                None => json!({"id": id, "name": id, "hostname": "https://gone.example.com/mcp",
                    "auth_type": "unauthenticated", "tools": [], "prompts": []})
                .to_string(),
            };
            let member =
                json!({"server_id": id, "default_disabled": default_disabled, "on_behalf": true});
            let Some(status) = &p.copy_status else {
                let fields = member.to_string();
                return format!(
                    "{},{}",
                    &fields[..fields.len() - 1],
                    own.strip_prefix('{').unwrap_or("}")
                );
            };
            let mut copy: Value = serde_json::from_str(&own).unwrap_or(Value::Null);
            copy["status"] = json!(status);
            for (k, v) in member.as_object().into_iter().flatten() {
                copy[k] = v.clone();
            }
            copy.to_string()
        })
        .collect();
    let head = json!({"id": p.id, "name": p.name, "hostname": p.hostname, "description": "A simulated MCP portal",
        "code_mode": "opt_in", "secure_web_gateway": false, "created_at": "2026-01-05T10:00:00.000Z",
        "modified_at": "2026-01-05T10:00:00.000Z"})
    .to_string();
    format!(
        "{},\"servers\":[{}]}}",
        &head[..head.len() - 1],
        copies.join(",")
    )
}
