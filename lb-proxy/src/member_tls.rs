//! TLS towards `https://` and `wss://` members: rustls over the member's TCP
//! connection, the server name (SNI, and the name the certificate must
//! carry) taken from the member's URL, the certificate verified against the
//! system's trust store or a configured CA file ([`MemberTls`]).
//!
//! Provider: rustls with `ring`. The client-facing TLS issue measures `ring`
//! against `aws-lc-rs`; this choice is to be revisited there, and is made
//! explicitly (`builder_with_provider`) so that a second provider enabled
//! elsewhere in the build cannot make rustls's process-wide default
//! ambiguous.

use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::config::MemberTls;

/// Opens TLS sessions to one member.
#[derive(Clone)]
pub(crate) struct Connector {
    tls: tokio_rustls::TlsConnector,
    /// From the member URL's host: a DNS name is sent as SNI; an IP address
    /// is not (RFC 6066 §3) but must be in the certificate all the same.
    server_name: ServerName<'static>,
    /// The settings it was built from (a reload compares them).
    pub(crate) settings: MemberTls,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("server_name", &self.server_name)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The one crypto provider of every TLS connection, to members and from
/// clients: ring, or aws-lc-rs when built with the `aws-lc-rs` feature.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            #[cfg(feature = "aws-lc-rs")]
            let provider = rustls::crypto::aws_lc_rs::default_provider();
            #[cfg(not(feature = "aws-lc-rs"))]
            let provider = rustls::crypto::ring::default_provider();
            Arc::new(provider)
        })
        .clone()
}

/// The system's trust store, read once per process and shared by every
/// member that uses it.
///
/// rustls-native-certs rather than webpki-roots: members are usually
/// internal servers, and the operator's own CA is installed where every
/// other program on the host finds it (`update-ca-certificates`, the
/// distribution's `ca-certificates` package, `SSL_CERT_FILE`); the same
/// store also receives the distribution's removals of distrusted CAs without
/// rebuilding had. webpki-roots would compile in Mozilla's list as of the
/// build and know none of the operator's CAs. A restart picks up a changed
/// store; `ca_file` is re-read on every reload.
fn system_roots() -> Result<Arc<RootCertStore>, String> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!(error = %e, "reading the system's trust store");
            }
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err("the system's trust store holds no usable certificate \
                     (install ca-certificates or set member_tls.ca_file)"
                    .to_owned());
            }
            Ok(Arc::new(roots))
        })
        .clone()
}

/// The CA certificates of a PEM file; the error says why there are none.
pub(crate) fn load_ca_file(path: &Path) -> Result<RootCertStore, String> {
    let pem = crate::tls::read_pem_file(path).map_err(|e| e.to_string())?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert =
            cert.map_err(|e| format!("{} is not a PEM certificate file: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("a certificate in {} is unusable: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Ok(roots)
}

impl Connector {
    /// A connector for the member at `host` (as written in its URL, without
    /// brackets) under `settings`; `url` names the member in the warning
    /// logged when verification is off.
    pub(crate) fn new(settings: &MemberTls, host: &str, url: &str) -> Result<Self, String> {
        let server_name = ServerName::try_from(host.to_owned())
            .map_err(|e| format!("{host:?} is not a TLS server name: {e}"))?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let mut config = if settings.verify {
            let roots = match &settings.ca_file {
                Some(path) => Arc::new(load_ca_file(path)?),
                None => system_roots()?,
            };
            let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| e.to_string())?;
            builder.with_webpki_verifier(verifier).with_no_client_auth()
        } else {
            tracing::warn!(
                member = %url,
                "TLS certificate verification is off for this member (member_tls.verify = false): \
                 any certificate is accepted, so anyone on the path can impersonate it"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
                .with_no_client_auth()
        };
        // Only HTTP/1.1 is spoken to members (a WebSocket upgrade included).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name,
            settings: settings.clone(),
        })
    }

    /// The TLS handshake over a connected socket.
    pub(crate) async fn handshake(&self, tcp: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        self.tls
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("TLS handshake with {}: {e}", self.server_name.to_str()),
                )
            })
    }
}

/// `verify = false`: any certificate chain and name is accepted, but the
/// handshake's signatures are still checked against the certificate the
/// member presented (what is skipped is trust, not the protocol).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("none.pem");
        let err = load_ca_file(&missing).expect_err("missing");
        assert!(
            err.contains("none.pem") && err.contains("cannot be read"),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").expect("write");
        let err = load_ca_file(&empty).expect_err("empty");
        assert!(err.ends_with("holds no certificate"), "{err}");
    }

    #[test]
    fn server_names_come_from_the_host() {
        let on = MemberTls::default();
        let c = Connector::new(&on, "member.test", "https://member.test").expect("dns name");
        assert!(matches!(c.server_name, ServerName::DnsName(ref n) if n.as_ref() == "member.test"));
        let c = Connector::new(&on, "::1", "https://[::1]").expect("ip");
        assert!(matches!(c.server_name, ServerName::IpAddress(_)));
        let err = Connector::new(&on, "bad name!", "https://x").expect_err("not a name");
        assert!(err.contains("not a TLS server name"), "{err}");
    }
}
