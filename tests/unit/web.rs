use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::file::ClientAuth;
use super::*;

fn parse(text: &str) -> Result<Spec, WebConfigError> {
    file::parse(Path::new("/etc/mcp/web.yml"), text)
}

fn refused(text: &str) -> String {
    parse(text).expect_err("refused").to_string()
}

/// A self-signed certificate and key for `localhost`, as PEM.
fn cert_pair() -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    (cert.pem(), key.serialize_pem())
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mcp-web-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

const NODE_EXPORTER_FILE: &str = r#"
tls_server_config:
  cert_file: tls/server.crt
  key_file: /abs/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  client_allowed_sans: ["prometheus.example"]
  min_version: TLS12
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]
  prefer_server_cipher_suites: false
  curve_preferences: [CurveP256, X25519]
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    X-Content-Type-Options: nosniff
    Strict-Transport-Security: max-age=31536000
    Content-Security-Policy: ""
basic_auth_users:
  prometheus: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG
rate_limit:
  interval: 100ms
  burst: 20
"#;

#[test]
fn a_node_exporter_style_file_sets_every_tls_key() {
    let spec = parse(NODE_EXPORTER_FILE).expect("valid");
    let tls = spec.tls.as_ref().expect("TLS on");
    assert_eq!(tls.cert, Pem::File("/etc/mcp/tls/server.crt".into()));
    assert_eq!(tls.key, Pem::File("/abs/server.key".into()));
    assert_eq!(tls.client_ca, Some(Pem::File("/etc/mcp/ca.crt".into())));
    assert_eq!(tls.client_auth, ClientAuth::RequireAndVerifyClientCert);
    assert_eq!(tls.allowed_sans, ["prometheus.example"]);
    assert_eq!(tls.versions.len(), 2);
    assert!(!tls.prefer_server_order);
    let suites: Vec<String> = tls
        .suites
        .iter()
        .map(|s| format!("{:?}", s.suite()))
        .collect();
    assert_eq!(
        suites,
        [
            "TLS13_AES_256_GCM_SHA384",
            "TLS13_AES_128_GCM_SHA256",
            "TLS13_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
        ],
        "TLS 1.3 suites kept, TLS 1.2 suites as listed"
    );
    let groups: Vec<String> = tls
        .groups
        .iter()
        .map(|g| format!("{:?}", g.name()))
        .collect();
    assert_eq!(groups, ["secp256r1", "X25519"]);
}

#[test]
fn a_node_exporter_style_file_sets_headers_users_and_rate() {
    let spec = parse(NODE_EXPORTER_FILE).expect("valid");
    let headers: Vec<&str> = spec.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        headers,
        [
            "strict-transport-security",
            "x-content-type-options",
            "x-frame-options"
        ],
        "a blank header is unset"
    );
    assert_eq!(spec.users.len(), 1);
    assert_eq!(
        spec.rate,
        Some(RateSpec {
            interval: Duration::from_millis(100),
            burst: 20
        })
    );
    assert_eq!(
        spec.files(),
        [
            PathBuf::from("/etc/mcp/tls/server.crt"),
            "/abs/server.key".into(),
            "/etc/mcp/ca.crt".into()
        ]
    );
    assert!(
        !format!("{spec:?}").contains("$2y$"),
        "Debug prints no hash"
    );
}

#[test]
fn an_empty_file_or_section_is_plain_http_without_auth() {
    for text in ["", "tls_server_config:\n", "basic_auth_users: {}\n"] {
        let spec = parse(text).expect("valid");
        assert!(spec.tls.is_none() && spec.users.is_empty(), "{text:?}");
    }
}

#[test]
fn what_tls_cannot_honour_is_refused_naming_file_and_key() {
    let tls = "tls_server_config:\n  cert_file: a\n  key_file: b\n";
    let cases = [
        (
            format!("{tls}  min_version: TLS10\n"),
            "tls_server_config.min_version",
            "cannot be honoured",
        ),
        (
            format!("{tls}  max_version: TLS14\n"),
            "tls_server_config.max_version",
            "TLS14",
        ),
        (
            format!("{tls}  min_version: TLS13\n  max_version: TLS12\n"),
            "tls_server_config.min_version",
            "above",
        ),
        (
            format!("{tls}  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n"),
            "tls_server_config.cipher_suites",
            "TLS_RSA_WITH_AES_128_CBC_SHA",
        ),
        (
            format!("{tls}  curve_preferences: [CurveP521]\n"),
            "tls_server_config.curve_preferences",
            "cannot be honoured",
        ),
        (
            format!("{tls}  client_auth_type: Sometimes\n"),
            "tls_server_config.client_auth_type",
            "Sometimes",
        ),
        (
            format!("{tls}  client_ca_file: ca\n"),
            "tls_server_config.client_auth_type",
            "without a client auth policy",
        ),
        (
            format!("{tls}  client_allowed_sans: [x]\n"),
            "tls_server_config.client_allowed_sans",
            "RequireAnyClientCert",
        ),
        (
            format!("{tls}  key: inline\n"),
            "tls_server_config.key_file",
            "not both",
        ),
        (
            "tls_server_config:\n  cert_file: a\n".into(),
            "tls_server_config.key_file",
            "missing",
        ),
    ];
    assert_refused(cases);
}

#[test]
fn what_cannot_be_honoured_outside_tls_is_refused_naming_file_and_key() {
    let cases = [
        (
            "http_server_config:\n  http2: true\n",
            "http_server_config.http2",
            "HTTP/1.1",
        ),
        (
            "http_server_config:\n  headers:\n    Server: x\n",
            "http_server_config.headers.Server",
            "cannot be configured",
        ),
        (
            "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
            "http_server_config.headers.X-Frame-Options",
            "allow",
        ),
        (
            "rate_limit:\n  interval: 1s\n",
            "rate_limit.burst",
            "at least 1",
        ),
        (
            "rate_limit:\n  interval: soon\n  burst: 1\n",
            "rate_limit.interval",
            "soon",
        ),
    ];
    assert_refused(cases.map(|(t, k, w)| (t.to_owned(), k, w)));
}

fn assert_refused<const N: usize>(cases: [(String, &str, &str); N]) {
    for (text, key, why) in cases {
        let msg = refused(&text);
        assert!(
            msg.starts_with("web configuration /etc/mcp/web.yml: ")
                && msg.contains(key)
                && msg.contains(why),
            "{text:?} gave {msg}"
        );
    }
}

#[test]
fn a_bad_hash_or_a_parse_error_never_quotes_the_secret() {
    let msg = refused("basic_auth_users:\n  prometheus: s3cret-not-hashed\n");
    assert!(
        msg.contains("basic_auth_users.prometheus") && msg.contains("bcrypt"),
        "{msg}"
    );
    assert!(!msg.contains("s3cret"), "{msg}");
    let hash = "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG";
    let msg = refused(&format!(
        "basic_auth_users:\n  prometheus: {hash}\nbasic_auth_user: x\n"
    ));
    assert!(
        msg.contains("basic_auth_user"),
        "an unknown key is named: {msg}"
    );
    assert!(!msg.contains("$2y$") && !msg.contains("X0h1g"), "{msg}");
    let msg = refused(
        "tls_server_config:\n  cert: x\n  key: -----BEGIN PRIVATE KEY-----\n  key: again\n",
    );
    assert!(!msg.contains("BEGIN PRIVATE KEY"), "{msg}");
}

#[test]
fn a_changed_file_is_reloaded_and_a_broken_one_keeps_the_last_good_serving() {
    let d = dir("reload");
    let (cert, key) = cert_pair();
    std::fs::write(d.join("c.pem"), &cert).expect("write");
    std::fs::write(d.join("k.pem"), &key).expect("write");
    let path = d.join("web.yml");
    let tls = "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n";
    std::fs::write(&path, tls).expect("write");
    let web = Web::load(&path).expect("loads");
    assert!(web.status().ok);
    let first = web.current();
    assert!(
        Arc::ptr_eq(&first, &web.current()),
        "unchanged files: the same version"
    );

    let hash = bcrypt::hash("pw", 4).expect("hash");
    std::fs::write(&path, format!("{tls}basic_auth_users:\n  u: {hash}\n")).expect("write");
    let second = web.current();
    assert_eq!(second.users.names().collect::<Vec<_>>(), ["u"]);
    assert_eq!(Some(web.status().ok), Some(true));

    std::fs::write(d.join("k.pem"), "not a key").expect("write");
    let third = web.current();
    assert!(
        Arc::ptr_eq(&second, &third),
        "a broken key file keeps the last good version"
    );
    let status = web.status();
    assert!(!status.ok && status.last_success.is_some_and(|t| t <= SystemTime::now()));

    std::fs::write(d.join("k.pem"), &key).expect("write");
    assert!(
        !Arc::ptr_eq(&third, &web.current()),
        "the repaired file loads"
    );
    assert_eq!(Some(web.status().ok), Some(true));

    std::fs::write(&path, "basic_auth_users: {}\n").expect("write");
    assert!(
        web.current().tls.is_some(),
        "TLS is not turned off while running"
    );
    assert_eq!(Some(web.status().ok), Some(false));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_rate_limit_is_a_token_bucket() {
    let clock = governor::clock::FakeRelativeClock::default();
    let spec = RateSpec {
        interval: Duration::from_secs(1),
        burst: 2,
    };
    let l = limiter(spec, clock.clone()).expect("a limit");
    assert!(l.check().is_ok() && l.check().is_ok());
    assert!(l.check().is_err(), "the burst is spent");
    clock.advance(Duration::from_millis(500));
    assert!(l.check().is_err());
    clock.advance(Duration::from_millis(500));
    assert!(l.check().is_ok(), "one token per interval");
    assert!(l.check().is_err());
}

#[test]
fn the_example_in_config_is_valid_and_its_hash_is_for_its_documented_password() {
    let spec = file::parse(
        Path::new("config/web-config.yml"),
        include_str!("../../config/web-config.yml"),
    )
    .expect("the example is valid");
    let tls = spec.tls.expect("TLS");
    assert_eq!(tls.client_auth, ClientAuth::RequireAndVerifyClientCert);
    assert_eq!(spec.headers.len(), 3);
    let (user, hash) = &spec.users[0];
    assert_eq!(user, "prometheus");
    assert!(bcrypt::verify("example-only", hash).expect("verifiable"));
}

#[test]
fn groups_rustls_does_not_offer_are_dropped_when_others_remain() {
    let tls = "tls_server_config:\n  cert_file: a\n  key_file: b\n";
    let spec = parse(&format!(
        "{tls}  curve_preferences: [CurveP521, X25519, X25519MLKEM768]\n"
    ))
    .expect("served with X25519");
    let t = spec.tls.expect("TLS");
    let names: Vec<String> = t.groups.iter().map(|g| format!("{:?}", g.name())).collect();
    assert_eq!(names, ["X25519"]);
    assert_eq!(t.dropped_groups, ["CurveP521", "X25519MLKEM768"]);
}

#[test]
fn a_verifying_policy_without_a_client_ca_verifies_against_the_system_roots() {
    let tls = "tls_server_config:\n  cert_file: a\n  key_file: b\n";
    for policy in ["RequireAndVerifyClientCert", "VerifyClientCertIfGiven"] {
        let spec = parse(&format!("{tls}  client_auth_type: {policy}\n")).expect(policy);
        let t = spec.tls.expect("TLS");
        assert!(
            t.client_ca.is_none() && t.client_auth.verifies(),
            "{policy}"
        );
    }
}
