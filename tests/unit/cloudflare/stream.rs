use super::*;
use proptest::prelude::*;
use serde_json::json;

fn page(n: usize, description: usize) -> Vec<u8> {
    let servers: Vec<_> = (0..n)
        .map(|i| json!({"id": format!("s{i}"), "tools": [{"name": "t", "description": "x".repeat(description)}]}))
        .collect();
    let body = json!({"success": true, "errors": [], "messages": [], "result": servers,
        "result_info": {"page": 1, "per_page": 100, "count": n, "total_count": n, "total_pages": 1}});
    serde_json::to_vec(&body).unwrap_or_default()
}

#[test]
fn a_page_is_never_held_whole_only_one_server_at_a_time() {
    let body = page(100, 4000);
    assert!(body.len() > 400_000);
    let mut d = PageDecoder::new();
    let mut held = 0;
    for chunk in body.chunks(8192) {
        d.feed(chunk);
        held = held.max(d.envelope.len() + d.element.len());
    }
    assert!(
        held < 4500,
        "held {held} bytes of a {} byte page",
        body.len()
    );
    let (env, page) = d.finish().expect("decodes");
    assert!(env.success);
    assert_eq!((page.servers.len(), page.raw_count), (100, 100));
    assert_eq!(page.result_info.and_then(|r| r.total_count), Some(100));
}

#[test]
fn an_empty_page_a_cut_body_and_a_malformed_server() {
    let (_, p) =
        decode(br#"{"success":true,"result":[],"result_info":{"count":0}}"#).expect("empty page");
    assert_eq!(
        (p.raw_count, p.result_info.and_then(|r| r.count)),
        (0, Some(0))
    );
    let cut = page(3, 10);
    assert!(
        decode(&cut[..cut.len() / 2]).is_err(),
        "a body cut in the middle"
    );
    let (_, p) = decode(br#"{"success":true,"result":[{"id":"a"}, 7, {"id":"b","name":"n","name":"m"}, {"id":"c"}]}"#)
        .expect("decodes");
    let ids: Vec<&str> = p.servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a", "c"]);
    assert_eq!(
        p.skipped.iter().map(|s| s.index).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(p.skipped[1].id.as_deref(), Some("b"));
}

fn any_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1_000_000i32..1_000_000).prop_map(|n| Value::from(f64::from(n) / 1000.0)),
        "[a-z <\\[\"\\\\\u{e9}\u{200b}\u{1f600}]{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("name|type|[a-z]{1,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One element of `result`: mostly servers with definitions, spelled with or without
/// whitespace, and now and then one that is not JSON, not UTF-8 or not an object.
fn element() -> impl Strategy<Value = Vec<u8>> {
    let definitions = prop::collection::vec(any_value(), 0..4);
    (0..40u8, definitions, any_value(), any::<bool>()).prop_map(|(kind, defs, other, spaced)| {
        let tools: Vec<_> = defs
            .iter()
            .enumerate()
            .map(|(i, d)| json!({"name": format!("t{i}"), "input_schema": d}))
            .collect();
        let server = json!({"id": format!("s{kind}"), "tools": tools,
                "prompts": defs, "status": "ready", "other": other});
        let text = if spaced {
            serde_json::to_string_pretty(&server)
        } else {
            serde_json::to_string(&server)
        }
        .unwrap_or_default();
        match kind {
            0 => br#"{"id":"colon","tools":[{"name" "t"}],"x":{"a":[1,]}}"#.to_vec(),
            1 => b"{\"id\":\"bad\",\"name\":\"\xff\",\"tools\":[]}".to_vec(),
            2 => b"{\"id\":\"def\",\"tools\":[{\"name\":\"\xc3\"}]}".to_vec(),
            3 => b"7".to_vec(),
            4 => text.replace("\"tools\"", r#""too\u006cs""#).into_bytes(),
            5 => format!("{text} ").into_bytes(),
            _ => text.into_bytes(),
        }
    })
}

proptest! {
    /// However the body is cut into chunks, each server decodes as it does alone and
    /// whole: its definitions read while its bytes arrive, or byte by byte when that
    /// reading fails.
    #[test]
    fn a_page_in_any_chunks_decodes_as_its_servers_one_by_one(
        elements in prop::collection::vec(element(), 0..6),
        sizes in prop::collection::vec(1usize..300, 1..8),
    ) {
        let mut body = br#"{"success":true,"errors":[],"result":["#.to_vec();
        body.extend(elements.join(&b","[..]));
        body.extend_from_slice(br#"],"result_info":{"count":1}}"#);
        let mut d = PageDecoder::new();
        let (mut at, mut i) = (0, 0);
        while at < body.len() {
            let end = (at + sizes[i % sizes.len()]).min(body.len());
            d.feed(&body[at..end]);
            (at, i) = (end, i + 1);
        }
        let (_, page) = d.finish().expect("the envelope decodes");
        let (mut servers, mut skipped) = (Vec::new(), Vec::new());
        for (index, e) in elements.iter().enumerate() {
            match decode_server(index, e, None) {
                Ok(s) => servers.push(s),
                Err(s) => skipped.push(s),
            }
        }
        prop_assert_eq!(page.raw_count, elements.len());
        prop_assert_eq!(page.servers, servers);
        prop_assert_eq!(page.skipped, skipped);
    }
}

fn decode(body: &[u8]) -> Result<(Envelope<()>, ListPage), DecodeError> {
    let mut d = PageDecoder::new();
    for b in body.chunks(3) {
        d.feed(b);
    }
    d.finish()
}
