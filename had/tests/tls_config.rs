//! The TLS keys of `[proxy.NAME]` from had.toml to the wire: each test
//! writes the keys as a user would, loads and plans them as the daemon does
//! (`config::parse_str`, `plan::from_config`), starts the listener group
//! with `lb_proxy::ProxyHandle::start` on 127.0.0.1, and shows the key's
//! effect with a TLS client. Were the planner to drop a key, lb-proxy's
//! default would apply and the test would fail.
//!
//! Certificates come from a CA rcgen makes for each test, written to a
//! temporary directory.

mod tls_support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BOUND: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------- certificates

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A leaf: its DER, its PEM files (leaf + CA, key), and its key's DER.
struct Leaf {
    der: CertificateDer<'static>,
    cert: PathBuf,
    key: PathBuf,
    chain: Vec<CertificateDer<'static>>,
    key_der: Vec<u8>,
}

impl Ca {
    fn new() -> Self {
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

    fn leaf(&self, dir: &Path, file: &str, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("leaf params");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        let cert_path = dir.join(format!("{file}.pem"));
        let key_path = dir.join(format!("{file}.key"));
        std::fs::write(&cert_path, format!("{}{}", cert.pem(), self.pem)).expect("write");
        std::fs::write(&key_path, key.serialize_pem()).expect("write");
        let ca_der = CertificateDer::from_pem_slice(self.pem.as_bytes()).expect("CA DER");
        Leaf {
            der: cert.der().clone(),
            cert: cert_path,
            key: key_path,
            chain: vec![cert.der().clone(), ca_der],
            key_der: key.serialize_der(),
        }
    }

    fn file(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.pem).expect("write CA");
        path
    }
}

use rustls::pki_types::pem::PemObject as _;

// ---------------------------------------------------------------- members

/// A plain member answering `NAME PROTO` (its X-Forwarded-Proto).
async fn member(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(serve(s, name));
        }
    });
    addr
}

async fn serve<S>(s: S, name: &'static str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| async move {
        let proto = req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(format!(
            "{name} {proto}"
        )))))
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(s), svc)
        .await;
}

/// A member served over TLS with `leaf`.
async fn tls_member(name: &'static str, leaf: &Leaf) -> SocketAddr {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        leaf.chain.clone(),
        PrivatePkcs8KeyDer::from(leaf.key_der.clone()).into(),
    )
    .expect("member certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(s).await {
                    serve(tls, name).await;
                }
            });
        }
    });
    addr
}

// ---------------------------------------------------------------- the proxy

fn start(text: &str) -> lb_proxy::ProxyHandle {
    let loaded = had::config::parse_str(text, "had.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let plan = had::plan::from_config(&loaded).unwrap_or_else(|e| panic!("plan: {e}"));
    let [(_, mut config)] = <[_; 1]>::try_from(plan.proxies).expect("one listener group");
    config.workers = Some(1);
    lb_proxy::ProxyHandle::start(config).expect("proxy starts")
}

fn plan_error(text: &str) -> String {
    let loaded = had::config::parse_str(text, "had.toml").unwrap_or_else(|e| panic!("{e}"));
    had::plan::from_config(&loaded)
        .map(|_| ())
        .expect_err("refused")
        .to_string()
}

// ---------------------------------------------------------------- client

use tls_support::{connect, served};

/// `GET /` with `Host: host` over `s`: status and body.
async fn get(s: tokio_rustls::client::TlsStream<TcpStream>, host: &str) -> (u16, String) {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
        .await
        .expect("HTTP/1.1");
    tokio::spawn(conn);
    let req = http::Request::builder()
        .uri("/")
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = tokio::time::timeout(BOUND, sender.send_request(req))
        .await
        .expect("in time")
        .expect("answer");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

// ---------------------------------------------------------------- tests

/// `tls` on two `[proxy]` sections of one address: each host's certificate
/// by SNI, the first for other names, and the Host routes to its host's
/// members with `X-Forwarded-Proto: https`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_virtual_host_serves_its_certificate_by_sni() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"]);
    let api = ca.leaf(dir.path(), "api", &["api.example.com"]);
    let (w, a) = (member("www").await, member("api").await);
    let text = format!(
        "[proxy.www]\nlisten = [\"127.0.0.1:0\"]\nserver_name = \"www.example.com\"\n\
         tls = {{ cert = \"{}\", key = \"{}\" }}\nmembers = [{{ url = \"http://{w}\" }}]\n\n\
         [proxy.api]\nlisten = [\"127.0.0.1:0\"]\nserver_name = \"api.example.com\"\n\
         tls = {{ cert = \"{}\", key = \"{}\" }}\nmembers = [{{ url = \"http://{a}\" }}]\n",
        www.cert.display(),
        www.key.display(),
        api.cert.display(),
        api.key.display()
    );
    let p = start(&text);
    let front = p.local_addrs()[0];
    let s = connect(front, "api.example.com").await.expect("api");
    assert_eq!(served(&s), api.der);
    assert_eq!(get(s, "api.example.com").await, (200, "api https".into()));
    let s = connect(front, "www.example.com").await.expect("www");
    assert_eq!(served(&s), www.der);
    assert_eq!(get(s, "www.example.com").await, (200, "www https".into()));
    let s = connect(front, "other.test").await.expect("default");
    assert_eq!(served(&s), www.der, "the first [proxy]'s certificate");
    let files: Vec<PathBuf> = p.certificates().into_iter().map(|c| c.cert).collect();
    assert_eq!(files, [www.cert.clone(), api.cert.clone()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_sni_and_handshake_timeout_reach_the_listener() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"]);
    let w = member("www").await;
    let p = start(&format!(
        "[proxy.www]\nlisten = [\"127.0.0.1:0\"]\n\
         tls = {{ cert = \"{}\", key = \"{}\", strict_sni = true, handshake_timeout = \"300ms\" }}\n\
         members = [{{ url = \"http://{w}\" }}]\n",
        www.cert.display(),
        www.key.display()
    ));
    let front = p.local_addrs()[0];
    assert!(connect(front, "www.example.com").await.is_ok());
    assert!(
        connect(front, "other.test").await.is_err(),
        "strict_sni refuses a name no certificate covers"
    );
    // A client that never speaks is closed after 300 ms, not the default 10 s.
    let mut s = TcpStream::connect(front).await.expect("connect");
    let t0 = Instant::now();
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
        .await
        .expect("closed well before the default timeout");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
    let _ = s.shutdown().await;
}

#[test]
fn tls_on_one_virtual_host_of_an_address_only_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"]);
    let e = plan_error(&format!(
        "[proxy.www]\nlisten = [\"198.18.0.200:443\"]\nserver_name = \"www.example.com\"\n\
         tls = {{ cert = \"{}\", key = \"{}\" }}\nmembers = [{{ url = \"http://198.18.0.21:8080\" }}]\n\n\
         [proxy.api]\nlisten = [\"198.18.0.200:443\"]\nserver_name = \"api.example.com\"\n\
         members = [{{ url = \"http://198.18.0.22:8080\" }}]\n",
        www.cert.display(),
        www.key.display()
    ));
    assert!(
        e.contains("proxy.api") && e.contains("proxy.www") && e.contains("tls (on or off)"),
        "{e}"
    );
}

/// `member_ca_file` is the CA an `https://` member is verified against;
/// `member_verify = false` accepts any certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_ca_file_and_member_verify_reach_https_members() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let leaf = ca.leaf(dir.path(), "member", &["localhost"]);
    let m = tls_member("secure", &leaf).await;
    let ca_file = ca.file(dir.path());
    let get_plain = |p: &lb_proxy::ProxyHandle| {
        let front = p.local_addrs()[0];
        async move {
            let mut s = TcpStream::connect(front).await.expect("connect");
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .expect("write");
            let mut out = Vec::new();
            tokio::time::timeout(BOUND, s.read_to_end(&mut out))
                .await
                .expect("answer")
                .expect("read");
            String::from_utf8_lossy(&out).into_owned()
        }
    };
    let url = format!("https://localhost:{}", m.port());
    // The system's store does not know the test CA: 502.
    let p = start(&format!(
        "[proxy.web]\nlisten = [\"127.0.0.1:0\"]\nmembers = [{{ url = \"{url}\" }}]\n"
    ));
    let out = get_plain(&p).await;
    assert!(
        out.starts_with("HTTP/1.1 502") || out.starts_with("HTTP/1.1 503"),
        "{out}"
    );
    drop(p);
    let p = start(&format!(
        "[proxy.web]\nlisten = [\"127.0.0.1:0\"]\nmember_ca_file = \"{}\"\nmembers = [{{ url = \"{url}\" }}]\n",
        ca_file.display()
    ));
    let out = get_plain(&p).await;
    assert!(
        out.starts_with("HTTP/1.1 200") && out.ends_with("secure http"),
        "{out}"
    );
    drop(p);
    let p = start(&format!(
        "[proxy.web]\nlisten = [\"127.0.0.1:0\"]\nmember_verify = false\nmembers = [{{ url = \"{url}\" }}]\n"
    ));
    let out = get_plain(&p).await;
    assert!(
        out.starts_with("HTTP/1.1 200") && out.ends_with("secure http"),
        "{out}"
    );
}

#[test]
fn member_schemes_had_cannot_speak_are_refused_at_their_line() {
    let errors = |url: &str| {
        let text = format!(
            "[proxy.web]\nlisten = [\"198.18.0.200:80\"]\nmembers = [{{ url = \"{url}\" }}]\n"
        );
        match had::config::parse_str(&text, "had.toml") {
            Ok(_) => Vec::new(),
            Err(e) => e.errors().to_vec(),
        }
    };
    for ok in [
        "http://198.18.0.21:8080",
        "https://app.example.com",
        "ws://198.18.0.21",
        "wss://198.18.0.21:8443/ws",
    ] {
        assert_eq!(errors(ok), Vec::<String>::new(), "{ok}");
    }
    assert_eq!(
        errors("ajp://198.18.0.21:8009"),
        [
            "had.toml:3: proxy.web.members.0.url: ajp:// members are not supported: had speaks HTTP/1.1 and WebSocket to members (http://, https://, ws://, wss://)"
        ]
    );
    assert_eq!(
        errors("fcgi://198.18.0.21:9000/"),
        [
            "had.toml:3: proxy.web.members.0.url: fcgi:// members are not supported: had speaks HTTP/1.1 and WebSocket to members (http://, https://, ws://, wss://)"
        ]
    );
    assert_eq!(
        errors("198.18.0.21:8080"),
        [
            "had.toml:3: proxy.web.members.0.url: \"198.18.0.21:8080\" is not an http://, https://, ws:// or wss:// URL with a host (e.g. \"http://198.18.0.21:8080\")"
        ]
    );
}

/// `tls.ticket_keys` reaches the listener: the planned TLS settings carry
/// the file (lb-proxy's `tls::a_session_resumes_on_another_node_with_the_same_ticket_keys`
/// shows what the listener does with it), a file that cannot be used is
/// refused naming it, and two hosts of one address must agree on it.
#[test]
fn ticket_keys_reach_the_listener_and_must_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"]);
    let keys = dir.path().join("ticket.keys");
    // 80 bytes, base64.
    std::fs::write(
        &keys,
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk8=\n",
    )
    .expect("write keys");
    let text = |ticket: &Path| {
        format!(
            "[proxy.www]\nlisten = [\"198.18.0.200:443\"]\n\
             tls = {{ cert = \"{}\", key = \"{}\", ticket_keys = \"{}\" }}\n\
             members = [{{ url = \"http://198.18.0.21:8080\" }}]\n",
            www.cert.display(),
            www.key.display(),
            ticket.display()
        )
    };
    let loaded = had::config::parse_str(&text(&keys), "had.toml").unwrap_or_else(|e| panic!("{e}"));
    let plan = had::plan::from_config(&loaded).unwrap_or_else(|e| panic!("{e}"));
    let tls = plan.proxies[0].1.tls.as_ref().expect("tls planned");
    assert_eq!(tls.ticket_keys.as_deref(), Some(keys.as_path()));
    let bad = dir.path().join("bad.keys");
    std::fs::write(&bad, "not base64!\n").expect("write");
    let e = plan_error(&text(&bad));
    assert!(
        e.contains("bad.keys") && e.contains("line 1: not base64"),
        "{e}"
    );
    let e = plan_error(&format!(
        "{}\n[proxy.api]\nlisten = [\"198.18.0.200:443\"]\nserver_name = \"api.example.com\"\n\
         tls = {{ cert = \"{}\", key = \"{}\" }}\nmembers = [{{ url = \"http://198.18.0.22:8080\" }}]\n",
        text(&keys),
        www.cert.display(),
        www.key.display()
    ));
    assert!(e.contains("tls.ticket_keys"), "{e}");
}

/// `tls.client_ca`, `verify_client` and `client_subject_header` reach the
/// listener (lb-proxy's `tls::client_certificates_are_verified_and_their_subject_forwarded`
/// shows their effect on the wire); without `client_ca` the other two are
/// refused.
#[test]
fn client_certificate_keys_reach_the_listener() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"]);
    let ca_file = ca.file(dir.path());
    let text = |extra: &str| {
        format!(
            "[proxy.www]\nlisten = [\"198.18.0.200:443\"]\n\
             tls = {{ cert = \"{}\", key = \"{}\"{extra} }}\n\
             members = [{{ url = \"http://198.18.0.21:8080\" }}]\n",
            www.cert.display(),
            www.key.display()
        )
    };
    let planned = |extra: &str| {
        let loaded =
            had::config::parse_str(&text(extra), "had.toml").unwrap_or_else(|e| panic!("{e}"));
        let plan = had::plan::from_config(&loaded).unwrap_or_else(|e| panic!("{e}"));
        plan.proxies[0].1.tls.clone().expect("tls").client_auth
    };
    assert_eq!(planned(""), None);
    assert_eq!(
        planned(&format!(", client_ca = \"{}\"", ca_file.display())),
        Some(lb_proxy::ClientAuth {
            ca: ca_file.clone(),
            verify: lb_proxy::ClientVerify::Required,
            depth: 1,
            subject_header: None,
        })
    );
    assert_eq!(
        planned(&format!(
            ", client_ca = \"{}\", verify_client = \"optional\", verify_depth = 3, client_subject_header = \"X-SSL-Client-S-DN\"",
            ca_file.display()
        )),
        Some(lb_proxy::ClientAuth {
            ca: ca_file.clone(),
            verify: lb_proxy::ClientVerify::Optional,
            depth: 3,
            subject_header: Some("X-SSL-Client-S-DN".into()),
        })
    );
    let e = plan_error(&text(", verify_client = \"optional\""));
    assert!(e.contains("only have an effect with tls.client_ca"), "{e}");
    let e = plan_error(&text(", verify_depth = 2"));
    assert!(e.contains("only have an effect with tls.client_ca"), "{e}");
    let e = had::config::parse_str(
        &text(&format!(
            ", client_ca = \"{}\", verify_depth = 0",
            ca_file.display()
        )),
        "had.toml",
    )
    .expect_err("depth 0")
    .to_string();
    assert!(
        e.contains("had.toml:3: proxy.www.tls.verify_depth") && e.contains("1 or more"),
        "{e}"
    );
    assert!(
        had::config::parse_str(
            &text(", client_ca = \"x\", verify_client = \"sometimes\""),
            "had.toml"
        )
        .is_err(),
        "an unknown verify_client value is refused"
    );
}
