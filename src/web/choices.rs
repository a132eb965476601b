//! The values of `tls_server_config` that name Go's `crypto/tls` settings, mapped to what
//! rustls (with the ring provider) offers. A name with no rustls counterpart is refused with
//! the list of what is offered, so that nothing in the file is silently ignored.

use rustls::crypto::{ring, SupportedKxGroup};
use rustls::SupportedCipherSuite;

/// `client_auth_type`, as Go's `crypto/tls` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate asked for.
    NoClientCert,
    /// Asked for, not required, not verified.
    RequestClientCert,
    /// Required, not verified.
    RequireAnyClientCert,
    /// Not required; verified against the client CA when given.
    VerifyClientCertIfGiven,
    /// Required and verified against the client CA.
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    /// The name in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::NoClientCert => "NoClientCert",
            ClientAuth::RequestClientCert => "RequestClientCert",
            ClientAuth::RequireAnyClientCert => "RequireAnyClientCert",
            ClientAuth::VerifyClientCertIfGiven => "VerifyClientCertIfGiven",
            ClientAuth::RequireAndVerifyClientCert => "RequireAndVerifyClientCert",
        }
    }

    /// Whether a certificate, when shown, is checked against the client CA.
    #[cfg(test)]
    pub fn verifies(self) -> bool {
        matches!(
            self,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    }

    /// Whether a client without a certificate is turned away.
    pub fn requires(self) -> bool {
        matches!(
            self,
            ClientAuth::RequireAnyClientCert | ClientAuth::RequireAndVerifyClientCert
        )
    }
}

pub(super) fn client_auth(name: &str) -> Result<ClientAuth, String> {
    Ok(match name {
        "" | "NoClientCert" => ClientAuth::NoClientCert,
        "RequestClientCert" => ClientAuth::RequestClientCert,
        "RequireAnyClientCert" | "RequireClientCert" => ClientAuth::RequireAnyClientCert,
        "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
        "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
        other => {
            return Err(format!(
                "{other:?} is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"
            ))
        }
    })
}

pub(super) fn version(v: Option<&str>, default: &str) -> Result<u8, String> {
    match v.filter(|s| !s.is_empty()).unwrap_or(default) {
        "TLS12" => Ok(12),
        "TLS13" => Ok(13),
        old @ ("TLS10" | "TLS11") => Err(format!(
            "{old:?} cannot be honoured: TLS 1.0 and 1.1 are not served (rustls); use TLS12 or TLS13"
        )),
        other => Err(format!("{other:?} is not one of TLS12, TLS13")),
    }
}

/// Go's cipher suite names and rustls's suites; Go's other suites (CBC, RSA key exchange,
/// 3DES) have no rustls counterpart and are refused.
const SUITES: &[(&str, SupportedCipherSuite)] = &[
    (
        "TLS_AES_128_GCM_SHA256",
        ring::cipher_suite::TLS13_AES_128_GCM_SHA256,
    ),
    (
        "TLS_AES_256_GCM_SHA384",
        ring::cipher_suite::TLS13_AES_256_GCM_SHA384,
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// The suites in the order given. As in Go, a list naming only TLS 1.2 suites leaves the
/// TLS 1.3 suites as they are; naming TLS 1.3 suites too restricts those (which Go cannot).
pub(super) fn suites(names: Vec<String>) -> Result<Vec<SupportedCipherSuite>, String> {
    let all = ring::DEFAULT_CIPHER_SUITES.to_vec();
    if names.is_empty() {
        return Ok(all);
    }
    let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
    for n in &names {
        let Some((_, s)) = SUITES.iter().find(|(name, _)| name == n) else {
            return Err(format!(
                "{n:?} cannot be honoured: rustls serves only these suites: {}",
                SUITES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        if !chosen.contains(s) {
            chosen.push(*s);
        }
    }
    let is13 = |s: &SupportedCipherSuite| matches!(s, SupportedCipherSuite::Tls13(_));
    if !chosen.iter().any(is13) {
        let mut v: Vec<_> = all.into_iter().filter(is13).collect();
        v.extend(chosen);
        return Ok(v);
    }
    Ok(chosen)
}

/// The groups of `curve_preferences` in order, and the names Go knows that rustls (ring) does
/// not offer (`CurveP521`, `X25519MLKEM768`): dropped, so that the file's other choices still
/// serve (the caller warns), or refused when nothing else remains.
pub(super) type Groups = (Vec<&'static dyn SupportedKxGroup>, Vec<String>);

pub(super) fn groups(names: Vec<String>) -> Result<Groups, String> {
    if names.is_empty() {
        return Ok((ring::ALL_KX_GROUPS.to_vec(), Vec::new()));
    }
    let (mut out, mut dropped): (Vec<&'static dyn SupportedKxGroup>, Vec<String>) =
        Default::default();
    for n in &names {
        let g: &'static dyn SupportedKxGroup = match n.as_str() {
            "X25519" => ring::kx_group::X25519,
            "CurveP256" => ring::kx_group::SECP256R1,
            "CurveP384" => ring::kx_group::SECP384R1,
            "CurveP521" | "X25519MLKEM768" => {
                dropped.push(n.clone());
                continue;
            }
            _ => return Err(format!("{n:?} is not one of X25519, CurveP256, CurveP384")),
        };
        if !out.iter().any(|o| o.name() == g.name()) {
            out.push(g);
        }
    }
    if out.is_empty() {
        return Err(format!(
            "{dropped:?} cannot be honoured: rustls (ring) offers X25519, CurveP256 and CurveP384"
        ));
    }
    Ok((out, dropped))
}
