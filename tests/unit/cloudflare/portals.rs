use super::*;
use crate::cloudflare::model::Envelope;
use crate::cloudflare::stream::PageDecoder;

fn decode_portal_page(body: &[u8]) -> Result<(Envelope<()>, PortalPage), String> {
    let mut d = PageDecoder::<PortalPage>::default();
    d.feed(body);
    d.finish().map_err(|e| e.0)
}

#[test]
fn a_page_keeps_membership_and_skips_copies_and_malformed_portals() {
    let body = br#"{"success":true,"errors":[],"result":[
        {"id":"a","name":"A","hostname":"a.example.com","code_mode":"opt_in","servers":[
            {"server_id":"s1","default_disabled":true,"on_behalf":true,"id":"s1","name":"One",
             "status":"ready","tools":[{"name":"t","input_schema":{"type":"object","properties":{"x":{"type":"string"}}}}],"prompts":[]},
            {"server_id":"s2","tools":[]},
            {"name":"no server_id"}]},
        {"id":"b","name":null,"servers":null},
        {"name":"no id"},
        {"id":"","servers":[]},
        17],
        "result_info":{"page":1,"per_page":20,"count":5,"total_count":5,"total_pages":1}}"#;
    let (env, page) = decode_portal_page(body).expect("decodes");
    assert!(env.success);
    assert_eq!(page.raw_count, 5);
    assert_eq!(page.skipped.len(), 3, "{:?}", page.skipped);
    let ids: Vec<&str> = page.portals.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    let a = &page.portals[0];
    assert_eq!(
        (a.name.as_deref(), a.hostname.as_deref()),
        (Some("A"), Some("a.example.com"))
    );
    let members: Vec<(Option<&str>, Option<bool>)> = a
        .servers
        .iter()
        .map(|m| (m.server_id.as_deref(), m.default_disabled))
        .collect();
    assert_eq!(
        members,
        [(Some("s1"), Some(true)), (Some("s2"), None), (None, None)],
        "a member without server_id is kept as such (the scheduler drops it)"
    );
    assert_eq!(a.servers[0].name.as_deref(), Some("One"));
    assert!(page.portals[1].servers.is_empty() && page.portals[1].name.is_none());
    assert_eq!(page.result_info.and_then(|i| i.total_pages), Some(1));
}

#[test]
fn an_envelope_that_is_not_json_or_not_a_list_is_an_error() {
    assert!(decode_portal_page(b"{\"success\": tru").is_err());
    assert!(decode_portal_page(br#"{"success":true,"result":{"id":"a"}}"#).is_err());
    let (env, page) = decode_portal_page(
        br#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}"#,
    )
    .expect("decodes");
    assert!(!env.success && page.portals.is_empty());
}
