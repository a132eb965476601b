//! Refused TLS handshakes: why each was refused, counted by reason for
//! `cloudflare_mcp_web_tls_handshake_failures_total`, and said in a warning at most once a
//! minute per reason (with how many were not said since), so that an operator whose
//! Prometheus target is down reads the cause on the daemon's side and a flood of bad
//! handshakes writes a bounded number of lines.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustls::{AlertDescription, CertificateError, Error as TlsError};
use tracing::warn;

/// Why a handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client's certificate is not signed by `client_ca_file`.
    UnknownCa,
    /// The client's certificate has expired.
    Expired,
    /// The client's certificate is not valid yet.
    NotYetValid,
    /// A certificate is required and the client sent none.
    NoCertificate,
    /// The certificate carries none of `client_allowed_sans`.
    SanNotAllowed,
    /// The certificate is X.509 v1 (no extensions), which webpki does not verify.
    X509V1,
    /// The certificate was refused for another reason (bad signature, key usage, encoding).
    BadCertificate,
    /// No TLS version (or cipher suite, or group) in common with the client.
    ProtocolVersion,
    /// The client did not speak TLS (plain HTTP to the TLS port, or garbage).
    NotTls,
    /// The handshake did not finish within the header time limit.
    Timeout,
    /// Anything else (the connection reset during the handshake, say).
    Other,
}

impl Refusal {
    /// Every reason, in the order of the counters (each is exported from 0).
    pub const ALL: [Refusal; 11] = [
        Refusal::UnknownCa,
        Refusal::Expired,
        Refusal::NotYetValid,
        Refusal::NoCertificate,
        Refusal::SanNotAllowed,
        Refusal::X509V1,
        Refusal::BadCertificate,
        Refusal::ProtocolVersion,
        Refusal::NotTls,
        Refusal::Timeout,
        Refusal::Other,
    ];

    /// The `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownCa => "unknown_ca",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::NoCertificate => "no_certificate",
            Refusal::SanNotAllowed => "san_not_allowed",
            Refusal::X509V1 => "x509_v1",
            Refusal::BadCertificate => "bad_certificate",
            Refusal::ProtocolVersion => "protocol_version",
            Refusal::NotTls => "not_tls",
            Refusal::Timeout => "timeout",
            Refusal::Other => "other",
        }
    }

    /// What a person does about it, for the log line.
    fn advice(self) -> &'static str {
        match self {
            Refusal::UnknownCa => "the client certificate is not signed by client_ca_file",
            Refusal::Expired => "the client certificate has expired; renew it",
            Refusal::NotYetValid => "the client certificate is not valid yet (check the clocks)",
            Refusal::NoCertificate => "the client sent no certificate, and client_auth_type requires one",
            Refusal::SanNotAllowed => "the client certificate carries none of client_allowed_sans",
            Refusal::X509V1 => "the client certificate is X.509 v1; reissue it with v3 extensions, e.g. extendedKeyUsage=clientAuth",
            Refusal::BadCertificate => "the client certificate was refused (signature, key usage or encoding)",
            Refusal::ProtocolVersion => "no TLS version, cipher suite or group in common with the client (min_version, max_version, cipher_suites, curve_preferences)",
            Refusal::NotTls => "the client does not speak TLS (an http:// scrape of an https:// endpoint?)",
            Refusal::Timeout => "the handshake did not finish in time",
            Refusal::Other => "the handshake failed",
        }
    }

    fn index(self) -> usize {
        Refusal::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// The reason of a failed handshake, from the error the TLS acceptor returned.
pub fn classify(e: &std::io::Error) -> Refusal {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<TlsError>())
    else {
        return Refusal::Other;
    };
    match tls {
        TlsError::InvalidCertificate(c) => certificate(c),
        TlsError::NoCertificatesPresented => Refusal::NoCertificate,
        TlsError::PeerIncompatible(_) => Refusal::ProtocolVersion,
        TlsError::AlertReceived(AlertDescription::ProtocolVersion) => Refusal::ProtocolVersion,
        TlsError::AlertReceived(AlertDescription::UnknownCA) => Refusal::UnknownCa,
        TlsError::InvalidMessage(_) | TlsError::InappropriateMessage { .. } => Refusal::NotTls,
        _ => Refusal::Other,
    }
}

fn certificate(c: &CertificateError) -> Refusal {
    match c {
        CertificateError::UnknownIssuer => Refusal::UnknownCa,
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => Refusal::Expired,
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            Refusal::NotYetValid
        }
        CertificateError::ApplicationVerificationFailure => Refusal::SanNotAllowed,
        CertificateError::Other(o) if format!("{o}").contains("UnsupportedCertVersion") => {
            Refusal::X509V1
        }
        _ => Refusal::BadCertificate,
    }
}

/// How often a reason may be said in the log.
const SAY_EVERY: Duration = Duration::from_secs(60);

/// The counters and the log's memory.
#[derive(Debug, Default)]
pub struct Handshakes {
    counts: [AtomicU64; Refusal::ALL.len()],
    said: Mutex<[Option<(Instant, u64)>; Refusal::ALL.len()]>,
}

impl Handshakes {
    /// Counts a refused handshake from `peer`, and says so unless this reason was said less
    /// than a minute ago.
    pub fn refused(&self, peer: SocketAddr, why: Refusal, detail: &str) {
        let total = self.counts[why.index()].fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        let mut said = self.said.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut said[why.index()];
        if let Some(since) = due(*slot, now) {
            *slot = Some((now, total));
            drop(said);
            warn!(
                %peer,
                reason = why.as_str(),
                error = %detail.escape_debug(),
                not_logged_since = since.map_or(0, |last| total - last - 1),
                "TLS handshake refused: {}",
                why.advice()
            );
        }
    }

    /// The count of every reason, in [`Refusal::ALL`]'s order.
    pub fn counts(&self) -> [u64; Refusal::ALL.len()] {
        std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed))
    }
}

/// Whether a reason last said at `last` (and the count then) may be said `now`: `Some` with
/// the count at the last saying, if any.
fn due(last: Option<(Instant, u64)>, now: Instant) -> Option<Option<u64>> {
    match last {
        None => Some(None),
        Some((at, n)) if now.saturating_duration_since(at) >= SAY_EVERY => Some(Some(n)),
        Some(_) => None,
    }
}

#[cfg(test)]
#[path = "../../tests/unit/web/handshake.rs"]
mod tests;
