//! Property tests that feed arbitrary and mutated input to the decoders of the list page
//! and the sync result: never a panic, always a value or a typed error.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::model::{
    decode_envelope, decode_list_page, decode_server, parse_rfc3339, Envelope, ListPage, SyncResult,
};
use super::ratelimit::{parse_ratelimit, parse_retry_after};
use super::stream::PageDecoder;
use serde_json::value::RawValue;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,24}".prop_map(Value::String),
        prop_oneof![
            Just("2019-12-27T18:11:19.117Z"),
            Just("ready"),
            Just("stale"),
            Just("oauth"),
            Just("")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let keys = prop_oneof![
            Just("id"),
            Just("name"),
            Just("tools"),
            Just("prompts"),
            Just("status"),
            Just("error"),
            Just("error_details"),
            Just("retryable"),
            Just("last_successful_sync"),
            Just("result"),
            Just("success"),
            Just("errors"),
            Just("result_info"),
            Just("total_pages"),
            Just("x"),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..8).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

fn valid_page() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "success": true, "errors": [], "messages": [],
        "result": [
            {"id": "a", "name": "A", "hostname": "https://a", "auth_type": "oauth", "tools": [{"name": "t"}],
             "prompts": [], "status": "ready", "last_successful_sync": "2019-12-27T18:11:19.117Z",
             "error_details": {"cause": "c", "retryable": true}},
            {"id": "b", "tools": null}
        ],
        "result_info": {"page": 1, "per_page": 100, "count": 2, "total_count": 2, "total_pages": 1}
    }))
    .unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_list_page(&bytes);
        let _ = decode_envelope::<SyncResult>(&bytes);
    }

    #[test]
    fn arbitrary_json_decodes_or_errs(v in arb_json()) {
        let bytes = serde_json::to_vec(&v).unwrap_or_default();
        match decode_list_page(&bytes) {
            Ok((_, page)) => prop_assert_eq!(page.servers.len() + page.skipped.len(), page.raw_count),
            Err(e) => prop_assert!(!e.0.is_empty()),
        }
        let _ = decode_envelope::<SyncResult>(&bytes);
        // Any value as a server or as the result of a page.
        let page = serde_json::to_vec(&json!({"success": true, "result": [v.clone(), v]})).unwrap_or_default();
        if let Ok((_, p)) = decode_list_page(&page) {
            prop_assert_eq!(p.raw_count, 2);
        }
    }

    #[test]
    fn mutated_valid_pages_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)) {
        let mut bytes = valid_page();
        for (at, byte, op) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => { bytes.remove(i); }
                _ => bytes.truncate(i),
            }
        }
        let _ = decode_list_page(&bytes);
        let _ = decode_envelope::<SyncResult>(&bytes);
    }

    #[test]
    fn a_page_fed_in_any_chunks_decodes_as_the_whole_body_did_before(
        v in arb_json(),
        w in arb_json(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        mutate in any::<bool>(),
    ) {
        let page = json!({"success": true, "errors": [], "result": [v, valid_server(), w], "result_info": {"page": 1}});
        let mut bytes = serde_json::to_vec(&page).unwrap_or_default();
        let whole = serde_json::to_vec(&v).unwrap_or_default();
        for body in [bytes.clone(), whole] {
            prop_assert_eq!(chunked(&body, &cuts), reference(&body));
        }
        if mutate && !bytes.is_empty() {
            // Not JSON any more: whatever the outcome, chunks do not change it.
            let i = cuts.first().map(|c| c.index(bytes.len())).unwrap_or(0);
            bytes[i] = b'"';
            prop_assert_eq!(chunked(&bytes, &cuts), chunked(&bytes, &[]));
        }
    }

    #[test]
    fn header_and_time_parsers_never_panic(s in ".{0,64}") {
        let _ = parse_ratelimit(&s);
        let _ = parse_retry_after(&s);
        let _ = parse_rfc3339(&s);
    }
}

fn valid_server() -> serde_json::Value {
    json!({"id": "s", "name": "n", "tools": [{"name": "t", "inputSchema": {"a": ["[", "]", "{\\\"}"]}}]})
}

/// The page fed to the streaming decoder in pieces cut at `cuts`.
fn chunked(body: &[u8], cuts: &[prop::sample::Index]) -> Option<(bool, ListPage)> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
    at.sort_unstable();
    let mut d = PageDecoder::new();
    let mut from = 0;
    for to in at.into_iter().chain([body.len()]) {
        d.feed(&body[from..to.max(from)]);
        from = to.max(from);
    }
    d.finish().ok().map(|(e, p)| (e.success, p))
}

/// How a page held whole was decoded before the streaming decoder: the envelope with each
/// server as raw JSON, then each server on its own.
fn reference(body: &[u8]) -> Option<(bool, ListPage)> {
    let env: Envelope<Vec<&RawValue>> = serde_json::from_slice(body).ok()?;
    let raw = env.result.unwrap_or_default();
    let mut page = ListPage {
        raw_count: raw.len(),
        result_info: env.result_info,
        ..ListPage::default()
    };
    for (i, item) in raw.iter().enumerate() {
        match decode_server(i, item.get().as_bytes(), None) {
            Ok(s) => page.servers.push(s),
            Err(s) => page.skipped.push(s),
        }
    }
    Some((env.success, page))
}

#[test]
fn the_valid_page_decodes() {
    let (env, page) = decode_list_page(&valid_page()).expect("valid");
    assert!(env.success);
    assert_eq!(page.servers.len(), 2);
    assert_eq!(page.servers[0].tools.as_ref().map(|d| d.count()), Some(1));
}
