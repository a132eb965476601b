use super::*;
use crate::cloudflare::model::ApiMessage;

#[test]
fn path_segments_are_encoded() {
    assert_eq!(encode_segment("my-mcp_server.1"), "my-mcp_server.1");
    assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
}

#[test]
fn credentials_debug_is_masked() {
    let c = Credentials::Legacy {
        email: Secret::new("me@example.com"),
        key: Secret::new("k-abcdef"),
    };
    let s = format!("{c:?}");
    assert!(!s.contains("example.com") && !s.contains("abcdef"), "{s}");
}

#[test]
fn error_messages_escape_api_text() {
    let e = ApiError::Status {
        endpoint: Endpoint::Sync,
        status: 400,
        errors: vec![ApiMessage {
            code: Some(1),
            message: Some("bad\x1b[2J".into()),
        }],
    };
    assert!(!e.to_string().contains('\x1b'));
}
