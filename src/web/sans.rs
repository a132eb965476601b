//! What the TLS path reads of a client certificate beyond webpki's verification: the subject
//! alternative names the toolkit's `client_allowed_sans` compares (DNS name, e-mail, IP
//! address, URI, written as Go writes them), and whether a certificate pinned in
//! `client_ca_file` may serve as a client certificate now. The X.509 parsing is
//! `x509-parser`'s: this runs on handshakes, on bytes the client chose.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Whether the certificate is valid at `now` (Unix seconds) and, if it states an extended
/// key usage, allows client authentication (as Go's verification of a client certificate
/// asks).
pub fn serves_as_client(cert: &[u8], now: i64) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(cert) else {
        return false;
    };
    let v = cert.validity();
    let valid = v.not_before.timestamp() <= now && now <= v.not_after.timestamp();
    let usage = match cert.extended_key_usage() {
        Ok(None) => true,
        Ok(Some(eku)) => eku.value.client_auth || eku.value.any,
        Err(_) => false,
    };
    valid && usage
}

/// The certificate's SANs (empty without the extension); `None` when the DER is malformed.
pub fn subject_alt_names(cert: &[u8]) -> Option<Vec<String>> {
    let (_, cert) = X509Certificate::from_der(cert).ok()?;
    let Some(san) = cert.subject_alternative_name().ok()? else {
        return Some(Vec::new());
    };
    Some(san.value.general_names.iter().filter_map(name).collect())
}

/// One GeneralName as text, for the kinds compared.
fn name(n: &GeneralName<'_>) -> Option<String> {
    match n {
        GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
            Some((*s).to_owned())
        }
        GeneralName::IPAddress(b) => match b.len() {
            4 => {
                let b: [u8; 4] = (*b).try_into().ok()?;
                Some(IpAddr::V4(Ipv4Addr::from(b)).to_string())
            }
            16 => {
                let b: [u8; 16] = (*b).try_into().ok()?;
                Some(IpAddr::V6(Ipv6Addr::from(b)).to_string())
            }
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
#[path = "../../tests/unit/web/sans.rs"]
mod tests;
