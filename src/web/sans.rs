//! The subject alternative names of an X.509 certificate, read from its DER: just enough
//! of the structure to find extension 2.5.29.17, and the four kinds of name the toolkit's
//! `client_allowed_sans` compares (DNS name, e-mail, IP address, URI), written as Go
//! writes them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One DER element: its tag, its content and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The elements of a constructed value.
fn elements(mut input: &[u8]) -> impl Iterator<Item = Option<(u8, &[u8])>> {
    std::iter::from_fn(move || {
        if input.is_empty() {
            return None;
        }
        match element(input) {
            Some((tag, content, rest)) => {
                input = rest;
                Some(Some((tag, content)))
            }
            None => {
                input = &[];
                Some(None)
            }
        }
    })
}

const SEQUENCE: u8 = 0x30;
const EXTENSIONS: u8 = 0xa3;
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];

/// The certificate's SANs (empty without the extension); `None` when the DER is malformed.
pub fn subject_alt_names(cert: &[u8]) -> Option<Vec<String>> {
    let (SEQUENCE, cert, _) = element(cert)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = element(cert)? else {
        return None;
    };
    for e in elements(tbs) {
        let (tag, content) = e?;
        if tag != EXTENSIONS {
            continue;
        }
        let (SEQUENCE, exts, _) = element(content)? else {
            return None;
        };
        for ext in elements(exts) {
            let (_, ext) = ext?;
            let (0x06, oid, mut rest) = element(ext)? else {
                return None;
            };
            if oid != SAN_OID {
                continue;
            }
            if let Some((0x01, _, after)) = element(rest) {
                rest = after;
            }
            let (0x04, value, _) = element(rest)? else {
                return None;
            };
            let (SEQUENCE, names, _) = element(value)? else {
                return None;
            };
            return elements(names)
                .map(|n| n.map(|(t, c)| name(t, c)))
                .collect::<Option<Vec<_>>>()
                .map(|v| v.into_iter().flatten().collect());
        }
    }
    Some(Vec::new())
}

/// One GeneralName as text, for the kinds compared.
fn name(tag: u8, content: &[u8]) -> Option<String> {
    match tag {
        0x81 | 0x82 | 0x86 => std::str::from_utf8(content).ok().map(str::to_owned),
        0x87 => match content.len() {
            4 => {
                let b: [u8; 4] = content.try_into().ok()?;
                Some(IpAddr::V4(Ipv4Addr::from(b)).to_string())
            }
            16 => {
                let b: [u8; 16] = content.try_into().ok()?;
                Some(IpAddr::V6(Ipv6Addr::from(b)).to_string())
            }
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
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
}
