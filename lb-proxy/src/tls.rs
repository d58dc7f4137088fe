//! TLS towards clients: certificates read from PEM files, chosen by SNI,
//! replaced without a restart.
//!
//! One [`Certificates`] per listener group: a list of certificate chains
//! with their keys, each answering the DNS names of its leaf certificate
//! (subjectAltName, else the subject's CN), exact or with a leading `*.`
//! wildcard, as HAProxy's `crt` chooses them. A client that names no host,
//! or one no certificate covers, gets the first certificate, unless
//! `strict_sni` is set: then its handshake fails. TLS 1.2 and 1.3 only,
//! rustls's default cipher suites (`ring`, explicitly, as for members), ALPN
//! `h2` and `http/1.1`.
//!
//! [`Certificates::reload`] reads every file again and swaps the whole set
//! at once, or keeps the set in force and says which file is wrong and why
//! (missing, unreadable, not PEM, expired, not yet valid, key not matching
//! the certificate). Open connections keep their session either way; new
//! handshakes use the new set.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// One certificate chain and its key (Apache `SSLCertificateFile`,
/// `SSLCertificateKeyFile`; a chain file is the same PEM file with the
/// intermediates after the leaf, or given as `chain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateConfig {
    /// PEM: the leaf certificate, then any intermediates.
    pub cert: PathBuf,
    /// PEM: the private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key: PathBuf,
    /// PEM: intermediates kept in their own file (`SSLCertificateChainFile`).
    pub chain: Option<PathBuf>,
}

/// TLS on every listener of a proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificates; the first is the default.
    pub certificates: Vec<CertificateConfig>,
    /// Refuse a handshake whose SNI no certificate covers, or that has none.
    pub strict_sni: bool,
    /// How long a client has to finish its handshake.
    pub handshake_timeout: Duration,
    /// Session tickets sealed with the keys of this file, which the nodes
    /// of a pair share, so that a client resumes its session on whichever
    /// node holds the address ([`TicketKeys`]); `None`: sessions resume on
    /// the node that made them only (rustls's in-memory cache).
    pub ticket_keys: Option<PathBuf>,
    /// Client certificates, asked for and verified (Apache `SSLVerifyClient`).
    pub client_auth: Option<ClientAuth>,
}

/// Client certificates on a TLS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAuth {
    /// PEM: the CA certificates a client's certificate must chain to
    /// (Apache `SSLCACertificateFile`).
    pub ca: PathBuf,
    /// Whether a client without a certificate is refused.
    pub verify: ClientVerify,
    /// How many certificates may stand above the client's own in its chain,
    /// up to and including the trusted CA (Apache `SSLVerifyDepth`, nginx
    /// `ssl_verify_depth`; both default to 1: issued directly by a CA of
    /// `ca`). At least 1.
    pub depth: u8,
    /// The request header that carries the verified certificate's subject
    /// to members (as `CN=…, O=…`); a client's own header of that name is
    /// always removed. `None`: nothing is forwarded.
    pub subject_header: Option<String>,
}

/// Apache's `SSLVerifyClient require` and `optional`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientVerify {
    /// No certificate, no connection.
    Required,
    /// A certificate, if sent, must verify; none is fine.
    Optional,
}

/// What `hactl status` shows of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The file.
    pub cert: PathBuf,
    /// The DNS names it answers.
    pub names: Vec<String>,
    /// `notAfter`, seconds since the Unix epoch.
    pub not_after: i64,
}

impl CertificateInfo {
    /// Whole days from `now` until `not_after` (negative once expired).
    pub fn days_left(&self, now: SystemTime) -> i64 {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        (self.not_after - now).div_euclid(86_400)
    }
}

/// Why a certificate cannot be used; each names its file.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// The file cannot be read.
    #[error("{}: cannot be read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no certificate, or no key.
    #[error("{}: {what}", path.display())]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
}

fn content(path: &Path, what: impl Into<String>) -> CertificateError {
    CertificateError::Content {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// Keys for session tickets, read from a file of base64 lines, each 80
/// random bytes (`openssl rand 80 | base64 -w0`; the size of HAProxy's and
/// nginx's ticket keys): the first 16 bytes name the key, the last 32 are
/// its AES-256-GCM key. The first line seals new tickets; every line opens
/// them. Rotation: add a new first line on every node, reload, and remove
/// the last line a ticket lifetime later.
#[derive(Debug, Default)]
pub(crate) struct TicketKeys {
    keys: ArcSwap<Vec<TicketKey>>,
}

struct TicketKey {
    name: [u8; 16],
    key: ring::aead::LessSafeKey,
}

impl std::fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("TicketKey").finish_non_exhaustive()
    }
}

/// How long a ticket is offered for: keys are rotated by hand, so this
/// bounds how long a client may come back with one.
const TICKET_LIFETIME_SECS: u32 = 2 * 60 * 60;
const NONCE: usize = ring::aead::NONCE_LEN;

fn read_ticket_keys(path: &Path) -> Result<Vec<TicketKey>, CertificateError> {
    use base64::Engine as _;
    let text =
        String::from_utf8(read(path)?).map_err(|_| content(path, "is not text (base64 lines)"))?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(line)
            .map_err(|e| content(path, format!("line {}: not base64: {e}", n + 1)))?;
        let Ok(bytes) = <[u8; 80]>::try_from(bytes.as_slice()) else {
            return Err(content(
                path,
                format!(
                    "line {}: a key is 80 bytes (`openssl rand 80 | base64 -w0`), this one {}",
                    n + 1,
                    bytes.len()
                ),
            ));
        };
        let mut name = [0u8; 16];
        name.copy_from_slice(&bytes[..16]);
        let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &bytes[48..])
            .map_err(|_| content(path, format!("line {}: not an AES-256 key", n + 1)))?;
        keys.push(TicketKey {
            name,
            key: ring::aead::LessSafeKey::new(unbound),
        });
    }
    if keys.is_empty() {
        return Err(content(path, "holds no key"));
    }
    Ok(keys)
}

impl rustls::server::ProducesTickets for TicketKeys {
    fn enabled(&self) -> bool {
        !self.keys.load().is_empty()
    }

    fn lifetime(&self) -> u32 {
        TICKET_LIFETIME_SECS
    }

    /// `name | nonce | AES-256-GCM(plain)`, the name also authenticated.
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        use ring::rand::SecureRandom as _;
        let keys = self.keys.load();
        let k = keys.first()?;
        let mut nonce = [0u8; NONCE];
        ring::rand::SystemRandom::new().fill(&mut nonce).ok()?;
        let mut sealed = plain.to_vec();
        k.key
            .seal_in_place_append_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(&k.name),
                &mut sealed,
            )
            .ok()?;
        let mut out = Vec::with_capacity(16 + NONCE + sealed.len());
        out.extend_from_slice(&k.name);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Some(out)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let name = cipher.get(..16)?;
        let nonce = <[u8; NONCE]>::try_from(cipher.get(16..16 + NONCE)?).ok()?;
        let keys = self.keys.load();
        let k = keys.iter().find(|k| k.name == name)?;
        let mut sealed = cipher.get(16 + NONCE..)?.to_vec();
        let plain = k
            .key
            .open_in_place(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(&k.name),
                &mut sealed,
            )
            .ok()?;
        Some(plain.to_vec())
    }
}

/// A certificate ready to serve.
#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    info: CertificateInfo,
}

/// The provider every TLS listener uses.
fn provider() -> Arc<CryptoProvider> {
    crate::member_tls::provider()
}

/// Largest PEM file read: a long chain is a few tens of KiB; a path to
/// `/dev/zero` or a log file must not be read whole.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// Reads a regular file of at most [`MAX_PEM_BYTES`] (also the members'
/// CA file, `member_tls.ca_file`).
pub(crate) fn read_pem_file(path: &Path) -> Result<Vec<u8>, CertificateError> {
    read(path)
}

/// Reads a regular file of at most [`MAX_PEM_BYTES`].
fn read(path: &Path) -> Result<Vec<u8>, CertificateError> {
    use std::io::Read as _;
    let io = |source| CertificateError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(content(path, "is not a regular file"));
    }
    if meta.len() > MAX_PEM_BYTES {
        return Err(content(
            path,
            format!(
                "is {} bytes, more than a PEM file of certificates or keys ({MAX_PEM_BYTES})",
                meta.len()
            ),
        ));
    }
    let mut out = Vec::new();
    file.take(MAX_PEM_BYTES).read_to_end(&mut out).map_err(io)?;
    Ok(out)
}

/// Reads and checks one certificate at `now`.
fn load(c: &CertificateConfig, now: SystemTime) -> Result<Loaded, CertificateError> {
    let pem = read(&c.cert)?;
    let mut chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| content(&c.cert, format!("not a PEM certificate file: {e}")))?;
    if chain.is_empty() {
        return Err(content(&c.cert, "holds no CERTIFICATE block"));
    }
    if let Some(extra) = &c.chain {
        let pem = read(extra)?;
        let more: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| content(extra, format!("not a PEM certificate file: {e}")))?;
        if more.is_empty() {
            return Err(content(extra, "holds no CERTIFICATE block"));
        }
        chain.extend(more);
    }
    let key_pem = read(&c.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| content(&c.key, format!("holds no private key: {e}")))?;
    let info = describe(&c.cert, &chain[0])?;
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if info.not_after < now_secs {
        return Err(content(
            &c.cert,
            format!("expired on {}", utc_date(info.not_after)),
        ));
    }
    let certified = CertifiedKey::from_der(chain, key, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => {
            content(&c.key, format!("is not the key of {}", c.cert.display()))
        }
        e => content(&c.key, format!("cannot be used: {e}")),
    })?;
    Ok(Loaded {
        key: Arc::new(certified),
        info,
    })
}

/// Names and validity of a leaf certificate.
fn describe(path: &Path, leaf: &CertificateDer<'_>) -> Result<CertificateInfo, CertificateError> {
    use x509_parser::prelude::{FromDer as _, GeneralName, X509Certificate};
    let (_, cert) = X509Certificate::from_der(leaf.as_ref())
        .map_err(|e| content(path, format!("the first certificate does not parse: {e}")))?;
    let mut names: Vec<String> = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let GeneralName::DNSName(d) = n {
                names.push(d.to_ascii_lowercase());
            }
        }
    }
    if names.is_empty() {
        names.extend(
            cert.subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok())
                .map(str::to_ascii_lowercase),
        );
    }
    let validity = cert.validity();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if validity.not_before.timestamp() > now {
        return Err(content(
            path,
            format!(
                "is not valid before {}",
                utc_date(validity.not_before.timestamp())
            ),
        ));
    }
    Ok(CertificateInfo {
        cert: path.to_path_buf(),
        names,
        not_after: validity.not_after.timestamp(),
    })
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
pub fn utc_date(secs: i64) -> String {
    let (y, m, d) = crate::layer::access_log::civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Whether certificate name `pattern` covers `host` (both lower case): exact,
/// or `*.rest` for exactly one more label.
fn covers(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
        None => pattern == host,
    }
}

/// The certificates in force and the settings they were read with.
#[derive(Debug)]
struct Set {
    loaded: Vec<Loaded>,
    config: TlsConfig,
}

/// The certificates of one listener group, swapped whole on reload, and
/// its session-ticket keys.
#[derive(Debug)]
pub(crate) struct Certificates {
    set: ArcSwap<Set>,
    tickets: Arc<TicketKeys>,
}

impl Certificates {
    /// Loads every certificate of `config`.
    pub(crate) fn load(config: &TlsConfig) -> Result<Self, CertificateError> {
        let tickets = Arc::new(TicketKeys::default());
        if let Some(path) = &config.ticket_keys {
            tickets.keys.store(Arc::new(read_ticket_keys(path)?));
        }
        Ok(Self {
            set: ArcSwap::from_pointee(Set {
                loaded: load_all(config)?,
                config: config.clone(),
            }),
            tickets,
        })
    }

    /// Reads the files of `config` (`None`: the files in force) again; on
    /// any error the set in force stays.
    pub(crate) fn reload(&self, config: Option<&TlsConfig>) -> Result<(), CertificateError> {
        let config = config
            .cloned()
            .unwrap_or_else(|| self.set.load().config.clone());
        let loaded = load_all(&config)?;
        let tickets = match &config.ticket_keys {
            Some(path) => read_ticket_keys(path)?,
            None => Vec::new(),
        };
        self.set.store(Arc::new(Set { loaded, config }));
        self.tickets.keys.store(Arc::new(tickets));
        Ok(())
    }

    /// The handshake timeout in force.
    pub(crate) fn handshake_timeout(&self) -> Duration {
        self.set.load().config.handshake_timeout
    }

    /// What `hactl status` shows.
    pub(crate) fn info(&self) -> Vec<CertificateInfo> {
        self.set
            .load()
            .loaded
            .iter()
            .map(|l| l.info.clone())
            .collect()
    }

    /// The certificate for a client that asked for `sni`.
    fn pick(&self, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let set = self.set.load();
        let named = sni.and_then(|host| {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            set.loaded
                .iter()
                .find(|l| l.info.names.iter().any(|n| n == &host))
                .or_else(|| {
                    set.loaded
                        .iter()
                        .find(|l| l.info.names.iter().any(|n| covers(n, &host)))
                })
        });
        match named {
            Some(l) => Some(l.key.clone()),
            None if set.config.strict_sni => None,
            None => set.loaded.first().map(|l| l.key.clone()),
        }
    }
}

/// Reads and checks one certificate as a listener would, and says what it
/// is (for `hactl check`, which warns about certificates close to expiry).
///
/// # Errors
/// Why it cannot be used, naming the file.
pub fn inspect(c: &CertificateConfig) -> Result<CertificateInfo, CertificateError> {
    load(c, SystemTime::now()).map(|l| l.info)
}

/// Reads and checks every certificate of `config`, its ticket keys and
/// its client CA.
pub(crate) fn check(config: &TlsConfig) -> Result<(), CertificateError> {
    if let Some(path) = &config.ticket_keys {
        read_ticket_keys(path)?;
    }
    if let Some(auth) = &config.client_auth {
        client_verifier(auth)?;
    }
    load_all(config).map(drop)
}

fn load_all(config: &TlsConfig) -> Result<Vec<Loaded>, CertificateError> {
    let now = SystemTime::now();
    config.certificates.iter().map(|c| load(c, now)).collect()
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.pick(hello.server_name())
    }
}

/// The verifier of client certificates signed by `auth.ca`.
fn client_verifier(
    auth: &ClientAuth,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, CertificateError> {
    let pem = read(&auth.ca)?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert =
            cert.map_err(|e| content(&auth.ca, format!("not a PEM certificate file: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| content(&auth.ca, format!("not a CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(content(&auth.ca, "holds no CERTIFICATE block"));
    }
    let roots = Arc::new(roots);
    let builder =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.clone(), provider());
    let builder = match auth.verify {
        ClientVerify::Required => builder,
        ClientVerify::Optional => builder.allow_unauthenticated(),
    };
    let inner = builder
        .build()
        .map_err(|e| content(&auth.ca, format!("cannot verify clients with it: {e}")))?;
    Ok(Arc::new(DepthLimited {
        inner,
        roots,
        depth: auth.depth,
    }))
}

/// rustls's WebPKI client verifier, with the chain's depth limited as
/// Apache and nginx limit it: a client certificate is accepted when some
/// valid path from it to a CA of the file has at most `depth`
/// certificates above it, the CA included.
#[derive(Debug)]
struct DepthLimited {
    inner: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    roots: Arc<rustls::RootCertStore>,
    depth: u8,
}

impl rustls::server::danger::ClientCertVerifier for DepthLimited {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        use rustls::CertificateError as E;
        let cert = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(E::BadEncoding))?;
        // Above the client's certificate: its intermediates, then the CA.
        let allowed = usize::from(self.depth).saturating_sub(1);
        let within = |path: &webpki::VerifiedPath<'_>| {
            if path.intermediate_certificates().count() <= allowed {
                Ok(())
            } else {
                Err(webpki::Error::MaximumPathDepthExceeded)
            }
        };
        cert.verify_for_usage(
            provider().signature_verification_algorithms.all,
            &self.roots.roots,
            intermediates,
            now,
            webpki::KeyUsage::client_auth(),
            None,
            Some(&within),
        )
        .map(|_| rustls::server::danger::ClientCertVerified::assertion())
        .map_err(|e| {
            rustls::Error::InvalidCertificate(match e {
                webpki::Error::UnknownIssuer => E::UnknownIssuer,
                webpki::Error::CertExpired { .. } => E::Expired,
                webpki::Error::CertNotValidYet { .. } => E::NotValidYet,
                webpki::Error::InvalidSignatureForPublicKey => E::BadSignature,
                webpki::Error::RequiredEkuNotFoundContext(_) => E::InvalidPurpose,
                other => E::Other(rustls::OtherError(Arc::new(ChainRefused(other)))),
            })
        })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A client chain webpki refused, for the log (a chain longer than the
/// depth allows is `MaximumPathDepthExceeded`).
#[derive(Debug, thiserror::Error)]
#[error("client certificate chain refused: {0:?}")]
struct ChainRefused(webpki::Error);

/// The subject of the client's verified certificate, as `CN=…, O=…`.
pub(crate) fn client_subject(conn: &rustls::ServerConnection) -> Option<String> {
    use x509_parser::prelude::{FromDer as _, X509Certificate};
    let leaf = conn.peer_certificates()?.first()?;
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).ok()?;
    Some(cert.subject().to_string())
}

/// The server side of a TLS listener group: its certificates (and ticket
/// keys) from `certs`, client certificates as `config` says.
pub(crate) fn server_config(
    certs: Arc<Certificates>,
    config: &TlsConfig,
) -> Result<Arc<rustls::ServerConfig>, CertificateError> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| content(&config.certificates[0].cert, e.to_string()))?;
    let builder = match &config.client_auth {
        Some(auth) => builder.with_client_cert_verifier(client_verifier(auth)?),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(certs.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Stateless tickets while the listener has ticket keys (then any node
    // with the same keys resumes the session); rustls's in-memory session
    // cache otherwise.
    config.ticketer = certs.tickets.clone();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(covers("*.example.com", "www.example.com"));
        assert!(!covers("*.example.com", "a.b.example.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(covers("www.example.com", "www.example.com"));
        assert!(!covers("www.example.com", "example.com"));
    }

    #[test]
    fn only_regular_files_of_pem_size_are_read() {
        let e = read(Path::new("/dev/zero"))
            .map(drop)
            .expect_err("a device");
        assert!(e.to_string().contains("is not a regular file"), "{e}");
        let e = read(Path::new("/")).map(drop).expect_err("a directory");
        assert!(e.to_string().contains("is not a regular file"), "{e}");
        let dir = std::env::temp_dir().join(format!("had-tls-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let big = dir.join("big.pem");
        std::fs::write(&big, vec![b'A'; 2 << 20]).expect("write");
        let e = read(&big).map(drop).expect_err("too big");
        assert!(e.to_string().contains("more than a PEM file"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_796_342_400), "2026-12-04");
        assert_eq!(utc_date(-86_400), "1969-12-31");
    }
}
