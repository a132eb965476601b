use super::*;
use rustls::PeerIncompatible;

fn io(e: TlsError) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e)
}

#[test]
fn each_refusal_is_named_by_its_cause() {
    let cases = [
        (
            TlsError::InvalidCertificate(CertificateError::UnknownIssuer),
            Refusal::UnknownCa,
        ),
        (
            TlsError::InvalidCertificate(CertificateError::Expired),
            Refusal::Expired,
        ),
        (
            TlsError::InvalidCertificate(CertificateError::NotValidYet),
            Refusal::NotYetValid,
        ),
        (TlsError::NoCertificatesPresented, Refusal::NoCertificate),
        (
            TlsError::InvalidCertificate(CertificateError::ApplicationVerificationFailure),
            Refusal::SanNotAllowed,
        ),
        (
            TlsError::InvalidCertificate(CertificateError::BadSignature),
            Refusal::BadCertificate,
        ),
        (
            TlsError::PeerIncompatible(PeerIncompatible::SupportedVersionsExtensionRequired),
            Refusal::ProtocolVersion,
        ),
        (
            TlsError::AlertReceived(AlertDescription::ProtocolVersion),
            Refusal::ProtocolVersion,
        ),
        (
            TlsError::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
            Refusal::NotTls,
        ),
        (TlsError::HandshakeNotComplete, Refusal::Other),
    ];
    for (e, want) in cases {
        let label = format!("{e:?}");
        assert_eq!(classify(&io(e)), want, "{label}");
    }
    let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    assert_eq!(classify(&reset), Refusal::Other);
    let names: std::collections::BTreeSet<_> = Refusal::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(names.len(), Refusal::ALL.len(), "distinct labels");
}

#[test]
fn a_reason_is_said_at_most_once_a_minute() {
    let t0 = Instant::now();
    assert_eq!(due(None, t0), Some(None), "the first is said");
    assert_eq!(due(Some((t0, 1)), t0 + Duration::from_secs(59)), None);
    assert_eq!(
        due(Some((t0, 7)), t0 + SAY_EVERY),
        Some(Some(7)),
        "a minute later, with the count then"
    );
    let h = Handshakes::default();
    let peer: SocketAddr = "127.0.0.1:1".parse().expect("addr");
    for _ in 0..1000 {
        h.refused(peer, Refusal::UnknownCa, "x");
    }
    h.refused(peer, Refusal::Expired, "y");
    let counts = h.counts();
    assert_eq!(counts[Refusal::UnknownCa.index()], 1000);
    assert_eq!(counts[Refusal::Expired.index()], 1);
    assert_eq!(counts.iter().sum::<u64>(), 1001);
}
