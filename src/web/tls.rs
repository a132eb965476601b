//! The rustls server configuration of a checked `tls_server_config`: certificate and key
//! (from files or inline), versions, suites and groups in the file's order, and the client
//! certificate policy in each of Go's five forms (the system roots when no client CA is given,
//! as Go), with the certificates pinned in `client_ca_file` and the `client_allowed_sans` check.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{ring, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};

use super::file::{ClientAuth, Pem, TlsSpec};
use super::sans;

/// A problem with one key of `tls_server_config`: the key and why.
pub type KeyError = (String, String);

fn key(k: &str) -> String {
    format!("tls_server_config.{k}")
}

/// The bytes of a PEM source, naming the key when a file cannot be read.
pub fn read_pem(pem: &Pem, names: (&str, &str)) -> Result<Vec<u8>, KeyError> {
    match pem {
        Pem::Inline(text) => Ok(text.as_bytes().to_vec()),
        Pem::File(path) => std::fs::read(path)
            .map_err(|e| (key(names.1), format!("cannot read {}: {e}", path.display()))),
    }
}

/// The certificates of a PEM source (at least one).
pub fn certificates(
    pem: &Pem,
    names: (&str, &str),
) -> Result<Vec<CertificateDer<'static>>, KeyError> {
    let bytes = read_pem(pem, names)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| (key(names.1), format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err((key(names.1), "holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// The private key of a PEM source (the error never quotes it).
pub fn private_key(pem: &Pem) -> Result<PrivateKeyDer<'static>, KeyError> {
    let bytes = read_pem(pem, ("key", "key_file"))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
        (
            key("key_file"),
            "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)".into(),
        )
    })
}

fn provider(spec: &TlsSpec) -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: spec.suites.clone(),
        kx_groups: spec.groups.clone(),
        ..ring::default_provider()
    })
}

/// The server configuration `spec` describes, reading its files now.
pub fn server_config(spec: &TlsSpec) -> Result<Arc<ServerConfig>, KeyError> {
    let certs = certificates(&spec.cert, ("cert", "cert_file"))?;
    let private = private_key(&spec.key)?;
    let provider = provider(spec);
    let verifier = client_verifier(spec, &provider)?;
    let builder = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&spec.versions)
        .map_err(|e| {
            (
                key("cipher_suites"),
                format!("no suite left for the versions served: {e}"),
            )
        })?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, private).map_err(|e| {
        (
            key("key_file"),
            format!("does not go with the certificate: {e}"),
        )
    })?;
    config.ignore_client_order = spec.prefer_server_order;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn client_verifier(
    spec: &TlsSpec,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, KeyError> {
    let algorithms = provider.signature_verification_algorithms;
    let (mut pinned, mut hints) = (Vec::new(), true);
    let inner: Arc<dyn ClientCertVerifier> = match spec.client_auth {
        ClientAuth::NoClientCert => return Ok(None),
        ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert => Arc::new(Unverified {
            mandatory: spec.client_auth.requires(),
            algorithms,
        }),
        ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
            let cas = match &spec.client_ca {
                Some(ca) => certificates(ca, ("client_ca", "client_ca_file"))?,
                None => system_roots()?,
            };
            let mut roots = RootCertStore::empty();
            for c in &cas {
                roots.add(c.clone()).map_err(|e| {
                    (
                        key("client_ca_file"),
                        format!("not a usable CA certificate: {e}"),
                    )
                })?;
            }
            let b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let b = if spec.client_auth.requires() {
                b
            } else {
                b.allow_unauthenticated()
            };
            let webpki = b
                .build()
                .map_err(|e| (key("client_ca_file"), format!("cannot verify with it: {e}")))?;
            // Only the file's certificates are pinned and named to the client (with the
            // system's, Go names none either).
            if spec.client_ca.is_some() {
                pinned = cas;
            } else {
                hints = false;
            }
            webpki
        }
    };
    Ok(Some(Arc::new(Policy {
        inner,
        pinned,
        hints,
        allowed: spec.allowed_sans.clone(),
    })))
}

/// `RequestClientCert` / `RequireAnyClientCert`: a certificate is asked for (and, for the
/// latter, required) but not checked against a CA; the handshake signature still is.
#[derive(Debug)]
struct Unverified {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for Unverified {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The system's CA certificates, which Go verifies client certificates against when no
/// `client_ca_file` is given; none (a distroless image) is refused by name.
fn system_roots() -> Result<Vec<CertificateDer<'static>>, KeyError> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        return Err((
            key("client_ca_file"),
            "missing, and this system has no CA certificates to verify client certificates against (Go would use them): set client_ca_file".into(),
        ));
    }
    Ok(found.certs)
}

/// The verifying policies' checks around the policy's own:
/// - a client certificate that is itself one of `client_ca_file`'s certificates (a
///   self-signed one, listed as its own CA) is accepted as Go accepts it, when it is valid now
///   and allows client authentication: webpki refuses a CA certificate as an end entity, but
///   the operator has pinned exactly these bytes (the handshake's signature is still checked
///   with its key);
/// - `client_allowed_sans`: the certificate must carry one of the listed SANs, compared
///   exactly (DNS name, e-mail, IP address or URI), as the toolkit compares them.
#[derive(Debug)]
struct Policy {
    inner: Arc<dyn ClientCertVerifier>,
    pinned: Vec<CertificateDer<'static>>,
    /// Whether the CAs are named to the client (not the system's).
    hints: bool,
    allowed: Vec<String>,
}

impl Policy {
    fn pinned(&self, end_entity: &CertificateDer<'_>, now: UnixTime) -> bool {
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        self.pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
            && sans::serves_as_client(end_entity, now)
    }
}

impl ClientCertVerifier for Policy {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        if self.hints {
            self.inner.root_hint_subjects()
        } else {
            &[]
        }
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = match self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            Ok(v) => v,
            Err(_) if self.pinned(end_entity, now) => ClientCertVerified::assertion(),
            Err(e) => return Err(e),
        };
        if self.allowed.is_empty() {
            return Ok(verified);
        }
        let names = sans::subject_alt_names(end_entity).ok_or(
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding),
        )?;
        if names.iter().any(|n| self.allowed.contains(n)) {
            Ok(verified)
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
