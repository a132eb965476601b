use super::*;

#[test]
fn reads_every_kind_of_name_rcgen_writes() {
    let mut params =
        rcgen::CertificateParams::new(vec!["scraper.example".to_owned()]).expect("params");
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("10.0.0.7".parse().expect("ip")));
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("::1".parse().expect("ip")));
    params.subject_alt_names.push(rcgen::SanType::Rfc822Name(
        "ops@example.com".try_into().expect("email"),
    ));
    params.subject_alt_names.push(rcgen::SanType::URI(
        "spiffe://example/prometheus".try_into().expect("uri"),
    ));
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    let names = subject_alt_names(cert.der()).expect("well-formed");
    assert_eq!(
        names,
        [
            "scraper.example",
            "10.0.0.7",
            "::1",
            "ops@example.com",
            "spiffe://example/prometheus"
        ]
    );
}

#[test]
fn malformed_der_is_none_and_no_extension_is_empty() {
    assert_eq!(subject_alt_names(&[0x30, 0x05, 0x30]), None);
    assert_eq!(subject_alt_names(b""), None);
    let params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    assert_eq!(subject_alt_names(cert.der()), Some(Vec::new()));
}
