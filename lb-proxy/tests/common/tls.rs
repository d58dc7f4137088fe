//! TLS for the tests: a certificate authority and leaves made by rcgen at
//! test time, the proxy's `TlsConfig` for them, and a rustls client that
//! accepts any certificate (the tests look at which one was served).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lb_proxy::{CertificateConfig, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// How long a handshake may take.
const BOUND: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- certificates

/// A certificate authority made for one test.
pub struct Ca {
    /// The CA certificate, PEM.
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new() -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "had test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("CA certificate");
        Self {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A CA whose certificate this one signs (an intermediate); its
    /// leaves' files carry the leaf, then it.
    pub fn intermediate(&self) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "had test intermediate CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.signed_by(&key, &self.issuer).expect("intermediate");
        Self {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names` written to `dir/NAME.pem` (leaf then CA) and
    /// `dir/NAME.key`; `expired` makes it valid only in the past.
    pub fn leaf(&self, dir: &Path, file: &str, names: &[&str], expired: bool) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("leaf params");
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        let cert_path = dir.join(format!("{file}.pem"));
        let key_path = dir.join(format!("{file}.key"));
        std::fs::write(&cert_path, format!("{}{}", cert.pem(), self.pem)).expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        Leaf {
            der: cert.der().clone(),
            config: CertificateConfig {
                cert: cert_path,
                key: key_path,
                chain: None,
            },
        }
    }

    pub fn file(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.pem).expect("write CA");
        path
    }
}

pub struct Leaf {
    pub der: CertificateDer<'static>,
    pub config: CertificateConfig,
}

pub fn tls(leaves: &[&Leaf], strict_sni: bool) -> TlsConfig {
    TlsConfig {
        certificates: leaves.iter().map(|l| l.config.clone()).collect(),
        strict_sni,
        handshake_timeout: Duration::from_secs(5),
        ticket_keys: None,
        client_auth: None,
    }
}

// ---------------------------------------------------------------- client

/// Accepts any certificate: these tests look at which one was served.
#[derive(Debug)]
pub struct AnyCert;

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS connection naming `sni` (`None`: no SNI), offering `alpn`, with
/// only `versions`.
pub async fn connect_with(
    addr: SocketAddr,
    sni: Option<&str>,
    alpn: &[&[u8]],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> std::io::Result<TlsStream<TcpStream>> {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .expect("versions")
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AnyCert))
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    if sni.is_none() {
        config.enable_sni = false;
    }
    let name = ServerName::try_from(sni.unwrap_or("no-sni.invalid").to_owned()).expect("name");
    let tcp = TcpStream::connect(addr).await?;
    tokio::time::timeout(
        BOUND,
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| std::io::Error::other("handshake did not finish"))?
}

pub async fn connect(
    addr: SocketAddr,
    sni: Option<&str>,
    alpn: &[&[u8]],
) -> std::io::Result<TlsStream<TcpStream>> {
    connect_with(addr, sni, alpn, rustls::ALL_VERSIONS).await
}
