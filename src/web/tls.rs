//! The rustls server configuration of a checked `tls_server_config`: certificate and key
//! (from files or inline), versions, suites and groups in the file's order, and the client
//! certificate policy in each of Go's five forms, with the `client_allowed_sans` check.

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
    let inner: Arc<dyn ClientCertVerifier> = match spec.client_auth {
        ClientAuth::NoClientCert => return Ok(None),
        ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert => Arc::new(Unverified {
            mandatory: spec.client_auth.requires(),
            algorithms,
        }),
        ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
            let Some(ca) = &spec.client_ca else {
                return Err((key("client_ca_file"), "missing".into()));
            };
            let mut roots = RootCertStore::empty();
            for c in certificates(ca, ("client_ca", "client_ca_file"))? {
                roots.add(c).map_err(|e| {
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
            b.build()
                .map_err(|e| (key("client_ca_file"), format!("cannot verify with it: {e}")))?
        }
    };
    if spec.allowed_sans.is_empty() {
        return Ok(Some(inner));
    }
    Ok(Some(Arc::new(AllowedSans {
        inner,
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

/// `client_allowed_sans`: after the policy's own check, the certificate must carry one of
/// the listed SANs, compared exactly (DNS name, e-mail, IP address or URI), as the toolkit
/// compares them.
#[derive(Debug)]
struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
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
