use super::*;
use std::time::UNIX_EPOCH;

/// A page's server decodes as serde_json decodes it alone, key order, escaped keys,
/// duplicates, `null` and non-lists included, and a server that does not decode is skipped.
#[test]
fn a_server_of_a_page_decodes_as_serde_json_decodes_it() {
    let tools = r#"[{"name":"t","input_schema":{"type":"object","properties":{"a":{"type":"string"}}}},{"name":"u"}]"#;
    let cases = [
        format!(
            r#"{{"id":"s","name":"n","tools":{tools},"prompts":[{{"name":"p"}}],"status":"ready"}}"#
        ),
        format!(
            r#" {{ "prompts" : null , "tools" : {tools} , "id" : "s" , "error_details" : {{"retryable":true}} }} "#
        ),
        format!(r#"{{"id":"s","too\u006cs":{tools}}}"#),
        format!(r#"{{"id":"s","tools":{tools},"tools":[]}}"#),
        r#"{"id":"s","tools":{"not":"a list"},"prompts":"x"}"#.to_owned(),
        r#"{"id":"s","tools":[1,2,"x"]}"#.to_owned(),
        r#"{"id":"s"}"#.to_owned(),
        r#"{"id":"s","tools":[{"name":"t"]}"#.to_owned(),
        r#"["not an object"]"#.to_owned(),
    ];
    let not_utf8 = b"{\"id\":\"s\",\"name\":\"\xff\"}".to_vec();
    for case in cases
        .iter()
        .map(|c| c.as_bytes().to_vec())
        .chain([not_utf8])
    {
        let whole = serde_json::from_slice::<Server>(&case).map_err(|_| ());
        let split = decode_server(0, &case, None).map_err(|_| ());
        assert_eq!(split, whole, "{}", String::from_utf8_lossy(&case));
    }
    let s = decode_server(0, cases[0].as_bytes(), None).expect("decodes");
    assert_eq!(s.tools.map(|d| d.count()), Some(2));
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(-1.0)
}

#[test]
fn rfc3339_accepts_zulu_fraction_and_offsets() {
    let z = parse_rfc3339("2019-12-27T18:11:19.117Z").map(secs);
    assert_eq!(z, Some(1_577_470_279.117));
    let off = parse_rfc3339("2019-12-27T20:11:19.117+02:00").map(secs);
    assert_eq!(off, z);
    let spelled = parse_rfc3339(" 2019-12-27 18:11:19.117z ").map(secs);
    assert_eq!(
        spelled, z,
        "a space separator, lower-case z, surrounding blanks"
    );
    assert_eq!(parse_rfc3339("2019-12-27t18:11:19.117Z").map(secs), z);
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").map(secs), Some(0.0));
    assert_eq!(
        parse_rfc3339("2000-02-29T00:00:00Z").map(secs),
        Some(951_782_400.0)
    );
}

#[test]
fn rfc3339_rejects_garbage_without_panicking() {
    for s in [
        "",
        "2019",
        "2019-13-01T00:00:00Z",
        "2019-12-27T18:11:19",
        "x".repeat(40).as_str(),
        "2019-12-27T18:11:19.Z",
        "2019-12-27T18:11:19+0200",
        "２０19-12-27T18:11:19Z",
    ] {
        assert_eq!(parse_rfc3339(s), None, "{s}");
    }
}

#[test]
fn server_model_counts_tools_and_keeps_unknown_values() {
    let s: Server = serde_json::from_str(
        r#"{"id":"a","name":"A","hostname":"https://x","auth_type":"quantum",
            "status":"brand-new","tools":[{"name":"t","input_schema":{"a":[1,2]}},{}],
            "prompts":null,"unknown":{"x":1},"error_details":null,
            "last_successful_sync":"not a date"}"#,
    )
    .expect("decodes");
    assert_eq!(s.tools.as_ref().map(Defs::count), Some(2));
    assert_eq!(s.prompts, None);
    assert_eq!(s.auth_type.as_deref(), Some("quantum"));
    assert_eq!(s.status.as_deref(), Some("brand-new"));
    assert_eq!(s.last_successful_sync, None);
}

#[test]
fn error_details_accepts_both_dialects() {
    let a: ErrorDetails = serde_json::from_str(
        r#"{"cause":"boom","is_upstream":true,"mcp_code":-32000,"retryable":true,"status_code":502}"#,
    )
    .expect("openapi dialect");
    let b: ErrorDetails = serde_json::from_str(
        r#"{"message":"boom","type":"upstream","mcp_error_code":-32000,"http_status_code":502}"#,
    )
    .expect("docs dialect");
    assert_eq!(a.cause, b.cause);
    assert_eq!(a.mcp_code, b.mcp_code);
    assert_eq!(a.status_code, b.status_code);
    assert_eq!(a.retryable, Some(true));
    assert_eq!(b.retryable, None);
    assert_eq!(b.kind.as_deref(), Some("upstream"));
}

#[test]
fn one_malformed_server_keeps_the_rest_of_the_page() {
    let body = br#"{"success":true,"errors":null,"result":[
        {"id":"a","tools":[]},{"id":7},{"name":"no id"},{"id":"c","tools":{"not":"array"}}],
        "result_info":null}"#;
    let (env, page) = decode_list_page(body).expect("page decodes");
    assert!(env.success);
    assert_eq!(page.raw_count, 4);
    let ids: Vec<_> = page.servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a", "c"]);
    assert_eq!(page.skipped.len(), 2);
    assert_eq!(page.skipped[0].index, 1);
}

#[test]
fn sanitize_escapes_control_characters() {
    assert_eq!(sanitize("a\x1b[31mb\n"), "a\\u{1b}[31mb\\n");
    assert_eq!(sanitize(&"x".repeat(600)).chars().count(), 513);
}
