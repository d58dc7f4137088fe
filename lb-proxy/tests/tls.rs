//! TLS towards clients: certificates chosen by SNI, `strict_sni`, HTTP/2 and
//! HTTP/1.1 over TLS forwarded to members over HTTP/1.1 with
//! `X-Forwarded-Proto: https`, certificates replaced without a restart (and
//! refused, naming the file, when they cannot be used), the handshake
//! timeout, and real clients (curl, openssl). Certificates are made by
//! rcgen at test time and written to a temporary directory.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::tls::{AnyCert, Ca, connect, connect_with, tls};
use common::{TestBody, full, member};
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lb_proxy::{CertificateConfig, Error, ProxyConfig, ProxyHandle, TlsConfig};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

const BOUND: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- members and proxy

/// A member answering with what it saw: the version, the path, and the
/// X-Forwarded-Proto/Port it was given, and the body's length.
async fn echo() -> common::Member {
    member(|req: Request<Incoming>| async move {
        let version = format!("{:?}", req.version());
        let h = |n: &str| {
            req.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned()
        };
        let line = format!(
            "{version} {} proto={} port={}",
            req.uri().path(),
            h("x-forwarded-proto"),
            h("x-forwarded-port")
        );
        let len = req
            .into_body()
            .collect()
            .await
            .map_or(0, |b| b.to_bytes().len());
        Response::new(full(format!("{line} body={len}")))
    })
    .await
}

fn start(m: &common::Member, tls: TlsConfig) -> ProxyHandle {
    let mut cfg: ProxyConfig = common::config(&[m]);
    cfg.tls = Some(tls);
    ProxyHandle::start(cfg).expect("proxy starts")
}

fn addr(p: &ProxyHandle) -> SocketAddr {
    p.local_addrs()[0]
}

/// The leaf certificate the proxy presented.
fn served(s: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    s.get_ref().1.peer_certificates().expect("a certificate")[0].clone()
}

/// One request over an HTTP/1.1 connection already open: status and body.
async fn h1(
    sender: &mut hyper::client::conn::http1::SendRequest<TestBody>,
    method: &str,
    path: &str,
    body: Bytes,
) -> (u16, String) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "www.example.com")
        .body(full(body))
        .expect("request");
    tokio::time::timeout(BOUND, sender.ready())
        .await
        .expect("ready in time")
        .expect("connection ready");
    let resp = tokio::time::timeout(BOUND, sender.send_request(req))
        .await
        .expect("answer in time")
        .expect("answer");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn h1_conn(s: TlsStream<TcpStream>) -> hyper::client::conn::http1::SendRequest<TestBody> {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(conn);
    sender
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sni_chooses_the_certificate_exact_then_wildcard_else_the_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    let org = ca.leaf(dir.path(), "org", &["*.example.org", "example.org"], false);
    let shop = ca.leaf(dir.path(), "shop", &["shop.example.org"], false);
    let m = echo().await;
    let p = start(&m, tls(&[&www, &org, &shop], false));
    let a = addr(&p);
    let cases = [
        (Some("www.example.com"), &www.der, "exact"),
        (Some("WWW.Example.COM"), &www.der, "without case"),
        (Some("a.example.org"), &org.der, "wildcard"),
        (Some("example.org"), &org.der, "second name"),
        // An exact name wins over a wildcard listed before it.
        (Some("shop.example.org"), &shop.der, "exact before wildcard"),
        (
            Some("a.b.example.org"),
            &www.der,
            "a wildcard covers one label: default",
        ),
        (Some("other.test"), &www.der, "unknown: the first"),
        (None, &www.der, "no SNI: the first"),
    ];
    for (sni, want, why) in cases {
        let s = connect(a, sni, &[b"http/1.1"]).await.expect(why);
        assert_eq!(&served(&s), want, "{why} ({sni:?})");
    }
    let names: Vec<Vec<String>> = p.certificates().into_iter().map(|c| c.names).collect();
    assert_eq!(
        names,
        [
            vec!["www.example.com".to_owned()],
            vec!["*.example.org".to_owned(), "example.org".to_owned()],
            vec!["shop.example.org".to_owned()],
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_sni_refuses_a_client_no_certificate_covers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    let m = echo().await;
    let p = start(&m, tls(&[&www], true));
    let a = addr(&p);
    let s = connect(a, Some("www.example.com"), &[])
        .await
        .expect("covered");
    assert_eq!(served(&s), www.der);
    assert!(connect(a, Some("other.test"), &[]).await.is_err());
    assert!(connect(a, None, &[]).await.is_err());
    // The refusals cost nothing to the next client.
    let mut c = h1_conn(
        connect(a, Some("www.example.com"), &[])
            .await
            .expect("again"),
    )
    .await;
    assert_eq!(h1(&mut c, "GET", "/x", Bytes::new()).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_and_http11_over_tls_reach_members_over_http11() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    let m = echo().await;
    let log = dir.path().join("access.log");
    let mut cfg: ProxyConfig = common::config(&[&m]);
    cfg.tls = Some(tls(&[&www], false));
    cfg.access_log = Some(log.clone());
    let p = ProxyHandle::start(cfg).expect("proxy starts");
    let a = addr(&p);
    let port = a.port();
    let big = Bytes::from(vec![b'x'; 1 << 20]);

    // ALPN h2: HTTP/2 to the proxy, HTTP/1.1 to the member.
    let s = connect(a, Some("www.example.com"), &[b"h2", b"http/1.1"])
        .await
        .expect("h2 handshake");
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(s))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    // Several streams at once on the one connection.
    let mut answers = Vec::new();
    for i in 0..5 {
        let req = Request::builder()
            .method("POST")
            .uri(format!("https://www.example.com/h2/{i}"))
            .body(full(big.clone()))
            .expect("request");
        h2.ready().await.expect("HTTP/2 connection ready");
        answers.push(h2.send_request(req));
    }
    for (i, a) in answers.into_iter().enumerate() {
        let resp = tokio::time::timeout(BOUND, a)
            .await
            .expect("in time")
            .expect("answer");
        assert_eq!(resp.version(), http::Version::HTTP_2);
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(
            String::from_utf8_lossy(&body),
            format!(
                "HTTP/1.1 /h2/{i} proto=https port={port} body={}",
                big.len()
            )
        );
    }

    // ALPN http/1.1, and no ALPN at all: HTTP/1.1, keep-alive.
    for alpn in [&[&b"http/1.1"[..]][..], &[]] {
        let s = connect(a, Some("www.example.com"), alpn)
            .await
            .expect("h1 handshake");
        let mut c = h1_conn(s).await;
        for _ in 0..2 {
            let (status, body) = h1(&mut c, "POST", "/h1", big.clone()).await;
            assert_eq!(status, 200);
            assert_eq!(
                body,
                format!("HTTP/1.1 /h1 proto=https port={port} body={}", big.len())
            );
        }
    }
    assert_eq!(m.hits(), 9);
    // The access log has the same lines for both, with the client's protocol.
    drop(p);
    let lines = std::fs::read_to_string(&log).expect("access log");
    for i in 0..5 {
        assert!(
            lines.contains(&format!("\"POST /h2/{i} HTTP/2.0\" 200 ")),
            "{lines}"
        );
    }
    assert_eq!(
        lines.matches("\"POST /h1 HTTP/1.1\" 200 ").count(),
        4,
        "{lines}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_tls_12_and_13_are_spoken() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    let m = echo().await;
    let p = start(&m, tls(&[&www], false));
    let a = addr(&p);
    for v in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let s = connect_with(a, Some("www.example.com"), &[], &[v])
            .await
            .expect("handshake");
        assert_eq!(s.get_ref().1.protocol_version(), Some(v.version));
    }
    // TLS 1.1 and 1.0 from a client that speaks them (rustls cannot).
    if !tool("openssl") {
        return;
    }
    for flag in ["-tls1_1", "-tls1"] {
        // Security level 0 lets OpenSSL 3 offer the old version at all, so
        // the refusal is the server's: an alert it sends (rustls answers
        // handshake_failure, number 40).
        let out = Command::new("openssl")
            .args(["s_client", "-connect", &a.to_string(), flag])
            .args([
                "-cipher",
                "DEFAULT@SECLEVEL=0",
                "-servername",
                "www.example.com",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("openssl runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{flag} must fail: {text}");
        assert!(text.contains("SSL alert number"), "{flag}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloaded_certificates_serve_new_handshakes_and_bad_ones_keep_the_old() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let first = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    let other = ca.leaf(dir.path(), "other", &["other.test"], false);
    let m = echo().await;
    let mut cfg: ProxyConfig = common::config(&[&m]);
    cfg.tls = Some(tls(&[&first], false));
    let p = ProxyHandle::start(cfg.clone()).expect("proxy starts");
    let a = addr(&p);
    let mut open = h1_conn(
        connect(a, Some("www.example.com"), &[])
            .await
            .expect("first"),
    )
    .await;
    assert_eq!(h1(&mut open, "GET", "/1", Bytes::new()).await.0, 200);

    // The same file names, a new certificate and key.
    let second = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    assert_ne!(first.der, second.der);
    assert!(p.reload_certificates().expect("reload"));
    let s = connect(a, Some("www.example.com"), &[])
        .await
        .expect("after reload");
    assert_eq!(served(&s), second.der);
    // The connection opened before keeps its session.
    assert_eq!(h1(&mut open, "GET", "/2", Bytes::new()).await.0, 200);

    // A bad file: refused, naming it and why, and the second stays.
    let key = &second.config.key;
    let cert = &second.config.cert;
    let saved_key = std::fs::read(key).expect("read key");
    let saved_cert = std::fs::read(cert).expect("read cert");
    let refused = |what: &str| p.reload_certificates().expect_err(what).to_string();
    std::fs::write(key, "not a key\n").expect("write");
    let e = refused("garbage key");
    assert!(
        e.contains(&key.display().to_string()) && e.contains("no private key"),
        "{e}"
    );
    // Another certificate's key.
    std::fs::copy(&other.config.key, key).expect("copy key");
    let e = refused("mismatched key");
    assert!(
        e.contains(&key.display().to_string()) && e.contains("is not the key of"),
        "{e}"
    );
    std::fs::write(key, &saved_key).expect("restore key");
    // Expired.
    let old = ca.leaf(dir.path(), "old", &["www.example.com"], true);
    std::fs::copy(&old.config.cert, cert).expect("copy cert");
    std::fs::copy(&old.config.key, key).expect("copy key");
    let e = refused("expired");
    assert!(
        e.contains(&cert.display().to_string()) && e.contains("expired on 2021-01-01"),
        "{e}"
    );
    // Missing.
    std::fs::remove_file(cert).expect("remove");
    let e = refused("missing");
    assert!(
        e.contains(&cert.display().to_string()) && e.contains("cannot be read"),
        "{e}"
    );
    std::fs::write(cert, &saved_cert).expect("restore cert");
    std::fs::write(key, &saved_key).expect("restore key");
    // Through all of that, the second certificate served.
    let s = connect(a, Some("www.example.com"), &[])
        .await
        .expect("still serving");
    assert_eq!(served(&s), second.der);
    // A configuration reload (SIGHUP) with another set of certificates
    // swaps the set; one that turns TLS off needs a restart.
    let third = ca.leaf(
        dir.path(),
        "third",
        &["www.example.com", "other.test"],
        false,
    );
    cfg.tls = Some(tls(&[&third], true));
    p.reload(&cfg).expect("reload");
    let s = connect(a, Some("other.test"), &[]).await.expect("third");
    assert_eq!(served(&s), third.der);
    assert!(
        connect(a, Some("unknown.test"), &[]).await.is_err(),
        "strict_sni now"
    );
    cfg.tls = None;
    assert!(matches!(
        p.reload(&cfg),
        Err(Error::NeedsRestart { field: "tls" })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_that_cannot_be_used_refuse_the_start_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let m = echo().await;
    let www = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    let other = ca.leaf(dir.path(), "other", &["other.test"], false);
    let old = ca.leaf(dir.path(), "old", &["www.example.com"], true);
    let start_err = |t: TlsConfig| {
        let mut cfg: ProxyConfig = common::config(&[&m]);
        cfg.tls = Some(t);
        ProxyHandle::start(cfg).expect_err("refused").to_string()
    };
    let mut mismatched = www.config.clone();
    mismatched.key = other.config.key.clone();
    let e = start_err(TlsConfig {
        certificates: vec![mismatched],
        strict_sni: false,
        handshake_timeout: Duration::from_secs(5),
        ticket_keys: None,
        client_auth: None,
    });
    assert!(
        e.contains("other.key") && e.contains("is not the key of"),
        "{e}"
    );
    let e = start_err(tls(&[&old], false));
    assert!(
        e.contains("old.pem") && e.contains("expired on 2021-01-01"),
        "{e}"
    );
    let mut missing = www.config.clone();
    missing.cert = dir.path().join("nope.pem");
    let e = start_err(TlsConfig {
        certificates: vec![missing],
        strict_sni: false,
        handshake_timeout: Duration::from_secs(5),
        ticket_keys: None,
        client_auth: None,
    });
    assert!(
        e.contains("nope.pem") && e.contains("cannot be read"),
        "{e}"
    );
    let e = start_err(TlsConfig {
        certificates: vec![],
        strict_sni: false,
        handshake_timeout: Duration::from_secs(5),
        ticket_keys: None,
        client_auth: None,
    });
    assert!(
        e.contains("tls") && e.contains("at least one certificate"),
        "{e}"
    );
    // A chain in its own file (SSLCertificateChainFile).
    let leaf_only = dir.path().join("leaf-only.pem");
    let full_chain = std::fs::read_to_string(&www.config.cert).expect("read");
    let leaf_pem: String = full_chain
        .split_inclusive("-----END CERTIFICATE-----\n")
        .next()
        .expect("leaf")
        .to_owned();
    std::fs::write(&leaf_only, leaf_pem).expect("write");
    let p = start(
        &m,
        TlsConfig {
            certificates: vec![CertificateConfig {
                cert: leaf_only,
                key: www.config.key.clone(),
                chain: Some(ca.file(dir.path())),
            }],
            strict_sni: false,
            handshake_timeout: Duration::from_secs(5),
            ticket_keys: None,
            client_auth: None,
        },
    );
    let s = connect(addr(&p), Some("www.example.com"), &[])
        .await
        .expect("chain");
    assert_eq!(s.get_ref().1.peer_certificates().map(<[_]>::len), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stalls_or_garbles_its_handshake_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    let m = echo().await;
    let mut t = tls(&[&www], false);
    t.handshake_timeout = Duration::from_millis(300);
    let p = start(&m, t);
    let a = addr(&p);
    // Silent, and half a ClientHello: closed after the handshake timeout.
    for sent in [
        &b""[..],
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
    ] {
        let mut s = TcpStream::connect(a).await.expect("connect");
        s.write_all(sent).await.expect("write");
        let t0 = Instant::now();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(BOUND, s.read(&mut buf))
            .await
            .expect("closed within the bound");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
        assert!(
            t0.elapsed() >= Duration::from_millis(200),
            "{:?}",
            t0.elapsed()
        );
    }
    // Not TLS at all: an alert or a close, at once.
    let mut s = TcpStream::connect(a).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(BOUND, s.read_to_end(&mut buf))
        .await
        .expect("closed");
    assert!(!buf.starts_with(b"HTTP/"), "{buf:?}");
    // 1,000 idle half-open connections (each a descriptor here and one in
    // the proxy) do not stop a real client.
    let (soft, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit");
    if soft < 4096 {
        nix::sys::resource::setrlimit(
            nix::sys::resource::Resource::RLIMIT_NOFILE,
            hard.min(4096),
            hard,
        )
        .expect("raise the descriptor limit");
    }
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(TcpStream::connect(a).await.expect("connect"));
    }
    let mut c = h1_conn(
        connect(a, Some("www.example.com"), &[])
            .await
            .expect("served"),
    )
    .await;
    assert_eq!(h1(&mut c, "GET", "/ok", Bytes::new()).await.0, 200);
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_speaks_http2_and_http11_to_it_with_sni() {
    if !tool("curl") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    let api = ca.leaf(dir.path(), "api", &["api.example.com"], false);
    let m = echo().await;
    let p = start(&m, tls(&[&www, &api], false));
    let port = addr(&p).port();
    let ca_file = ca.file(dir.path());
    for (host, version, want) in [
        ("www.example.com", "--http2", "2"),
        ("api.example.com", "--http2", "2"),
        ("www.example.com", "--http1.1", "1.1"),
    ] {
        let out = tokio::task::spawn_blocking({
            let ca_file = ca_file.clone();
            let host = host.to_owned();
            move || {
                Command::new("curl")
                    .args(["-sS", "--max-time", "10", version, "--cacert"])
                    .arg(&ca_file)
                    .arg("--resolve")
                    .arg(format!("{host}:{port}:127.0.0.1"))
                    .args(["-w", "\n%{http_version}", "-d", "a=1"])
                    .arg(format!("https://{host}:{port}/curl"))
                    .output()
                    .expect("curl runs")
            }
        })
        .await
        .expect("join");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{host} {version}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            text,
            format!("HTTP/1.1 /curl proto=https port={port} body=3\n{want}"),
            "{host} {version}"
        );
    }
}

/// Whether `program` runs; under `CI=true` a missing one fails the test.
fn tool(program: &str) -> bool {
    let ok = Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{program} is not installed"
        );
        eprintln!("skipping: {program} is not installed");
    }
    ok
}

/// testssl.sh (Debian's `testssl`) against the listener: protocols, cipher
/// categories and every vulnerability it checks. Nothing below TLS 1.2, no
/// NULL, export, RC4, 3DES or anonymous cipher, no known vulnerability.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testssl_finds_no_old_protocol_weak_cipher_or_vulnerability() {
    if !tool("testssl") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    let m = echo().await;
    let p = start(&m, tls(&[&www], false));
    let target = addr(&p).to_string();
    let json = dir.path().join("testssl.json");
    let out = tokio::task::spawn_blocking({
        let json = json.clone();
        move || {
            Command::new("timeout")
                .arg("600")
                .arg("testssl")
                .args(["--quiet", "--color", "0", "--warnings", "off", "--fast"])
                .args(["--protocols", "--std", "--vulnerable"])
                .arg("--jsonfile")
                .arg(&json)
                .arg(&target)
                .output()
                .expect("testssl runs")
        }
    })
    .await
    .expect("join");
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| {
        panic!(
            "no testssl report ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let findings: Vec<serde_json::Value> = serde_json::from_str(&text).expect("testssl JSON");
    let severity = |f: &serde_json::Value| f["severity"].as_str().unwrap_or("").to_owned();
    let id = |f: &serde_json::Value| f["id"].as_str().unwrap_or("").to_owned();
    let bad: Vec<String> = findings
        .iter()
        .filter(|f| matches!(severity(f).as_str(), "LOW" | "MEDIUM" | "HIGH" | "CRITICAL"))
        .map(|f| format!("{} {}: {}", severity(f), id(f), f["finding"]))
        .collect();
    assert!(bad.is_empty(), "testssl findings:\n{}", bad.join("\n"));
    let finding = |name: &str| {
        findings
            .iter()
            .find(|f| id(f) == name)
            .map(|f| f["finding"].as_str().unwrap_or("").to_owned())
            .unwrap_or_else(|| panic!("testssl reported no {name}"))
    };
    for old in ["SSLv2", "SSLv3", "TLS1", "TLS1_1"] {
        assert_eq!(finding(old), "not offered", "{old}");
    }
    for new in ["TLS1_2", "TLS1_3"] {
        assert!(
            finding(new).starts_with("offered"),
            "{new}: {}",
            finding(new)
        );
    }
    // Several vulnerabilities were really tested, not skipped.
    for v in [
        "heartbleed",
        "CCS",
        "ROBOT",
        "secure_renego",
        "CRIME_TLS",
        "POODLE_SSL",
        "SWEET32",
        "BEAST",
        "LUCKY13",
        "RC4",
    ] {
        assert!(findings.iter().any(|f| id(f) == v), "{v} not in the report");
    }
}

/// A client with a session cache of its own, offering TLS `versions`.
fn resuming_client(
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .expect("versions")
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AnyCert))
    .with_no_client_auth();
    config.resumption = rustls::client::Resumption::in_memory_sessions(16);
    Arc::new(config)
}

/// A handshake with `config` and one request (TLS 1.3 tickets come after
/// the handshake): how the handshake went.
async fn visit(addr: SocketAddr, config: &Arc<rustls::ClientConfig>) -> rustls::HandshakeKind {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("www.example.com").expect("name");
    let s = tokio::time::timeout(
        BOUND,
        tokio_rustls::TlsConnector::from(config.clone()).connect(name, tcp),
    )
    .await
    .expect("in time")
    .expect("handshake");
    let kind = s.get_ref().1.handshake_kind().expect("handshake done");
    let mut c = h1_conn(s).await;
    assert_eq!(h1(&mut c, "GET", "/", Bytes::new()).await.0, 200);
    kind
}

fn ticket_file(dir: &Path, name: &str, lines: &[[u8; 80]]) -> PathBuf {
    use base64::Engine as _;
    let path = dir.join(name);
    let text: String = lines
        .iter()
        .map(|k| format!("{}\n", base64::engine::general_purpose::STANDARD.encode(k)))
        .collect();
    std::fs::write(&path, format!("# ticket keys\n{text}")).expect("write keys");
    path
}

fn key(byte: u8) -> [u8; 80] {
    let mut k = [byte; 80];
    // A distinct name (the first 16 bytes) per key.
    k[0] = byte.wrapping_add(1);
    k
}

/// Two nodes sharing a ticket keys file: a session made on one resumes on
/// the other (TLS 1.3 and 1.2), as a client sees it after a failover. With
/// different keys, or none, it is a full handshake there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_resumes_on_another_node_with_the_same_ticket_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    let m = echo().await;
    let shared = ticket_file(dir.path(), "shared.keys", &[key(1), key(2)]);
    let other = ticket_file(dir.path(), "other.keys", &[key(3)]);
    let node = |keys: Option<PathBuf>| {
        let mut t = tls(&[&www], false);
        t.ticket_keys = keys;
        start(&m, t)
    };
    let a = node(Some(shared.clone()));
    let b = node(Some(shared.clone()));
    let c = node(Some(other));
    let d = node(None);
    for versions in [&[&rustls::version::TLS13][..], &[&rustls::version::TLS12]] {
        // A session made on A, then offered to a node with A's keys, with
        // other keys, and with none.
        for (node, want, why) in [
            (&b, rustls::HandshakeKind::Resumed, "B opens A's ticket"),
            (&c, rustls::HandshakeKind::Full, "other keys"),
            (&d, rustls::HandshakeKind::Full, "no keys"),
        ] {
            let client = resuming_client(versions);
            assert_eq!(visit(addr(&a), &client).await, rustls::HandshakeKind::Full);
            assert_eq!(
                visit(addr(node), &client).await,
                want,
                "{versions:?}: {why}"
            );
        }
    }
    // Rotation: B gets a new first key and keeps A's as the second; a
    // ticket A sealed still opens on B.
    let rotated = ticket_file(dir.path(), "shared.keys", &[key(9), key(1), key(2)]);
    assert_eq!(rotated, shared);
    assert!(b.reload_certificates().expect("reload"));
    let client = resuming_client(&[&rustls::version::TLS13]);
    let a2 = node(Some(ticket_file(dir.path(), "a.keys", &[key(1)])));
    assert_eq!(visit(addr(&a2), &client).await, rustls::HandshakeKind::Full);
    assert_eq!(
        visit(addr(&b), &client).await,
        rustls::HandshakeKind::Resumed
    );
    // A keys file that cannot be used is refused, naming it and the line.
    std::fs::write(&shared, "# keys\nc2hvcnQ=\n").expect("write");
    let e = b.reload_certificates().expect_err("short key").to_string();
    assert!(
        e.contains("shared.keys") && e.contains("line 2: a key is 80 bytes"),
        "{e}"
    );
    std::fs::write(&shared, "# nothing\n").expect("write");
    let e = b.reload_certificates().expect_err("empty").to_string();
    assert!(
        e.contains("shared.keys") && e.contains("holds no key"),
        "{e}"
    );
}

/// A client presenting `leaf` (a certificate and key from `ca`), or none.
fn client_with_cert(leaf: Option<(&Path, &Path)>) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject as _;
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AnyCert));
    Arc::new(match leaf {
        Some((cert, key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .expect("cert file")
                .collect::<Result<_, _>>()
                .expect("certs");
            builder
                .with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key).expect("key"))
                .expect("client certificate")
        }
        None => builder.with_no_client_auth(),
    })
}

/// One request over a new connection with `config`, sending `extra`
/// headers: the answer's body, or the error.
async fn request_with(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    extra: &[(&str, &str)],
) -> Result<String, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("www.example.com").expect("name");
    let s = tokio::time::timeout(
        BOUND,
        tokio_rustls::TlsConnector::from(config.clone()).connect(name, tcp),
    )
    .await
    .map_err(|_| "handshake timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut b = Request::builder()
        .uri("/who")
        .header("host", "www.example.com");
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    let resp = tokio::time::timeout(BOUND, sender.send_request(b.body(full("")).expect("req")))
        .await
        .map_err(|_| "no answer".to_owned())?
        .map_err(|e| e.to_string())?;
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&body.to_bytes()).into_owned())
}

/// `client_auth`: `Required` refuses a client without a certificate from
/// the CA, `Optional` lets it in; the verified subject reaches members in
/// the configured header, and a client cannot forge that header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_verified_and_their_subject_forwarded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    let clients = Ca::new();
    let alice = clients.leaf(dir.path(), "alice", &["alice.example.com"], false);
    let stranger = Ca::new().leaf(dir.path(), "mallory", &["mallory.example.com"], false);
    let clients_ca = dir.path().join("clients-ca.pem");
    std::fs::write(&clients_ca, &clients.pem).expect("write");
    let m = member(|req: Request<Incoming>| async move {
        let who = req
            .headers()
            .get("x-ssl-client-s-dn")
            .map_or("-".to_owned(), |v| {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            });
        Response::new(full(who))
    })
    .await;
    let node = |verify: lb_proxy::ClientVerify, header: Option<&str>| {
        let mut t = tls(&[&www], false);
        t.client_auth = Some(lb_proxy::ClientAuth {
            ca: clients_ca.clone(),
            verify,
            depth: 1,
            subject_header: header.map(str::to_owned),
        });
        start(&m, t)
    };
    let with_alice = client_with_cert(Some((&alice.config.cert, &alice.config.key)));
    let with_mallory = client_with_cert(Some((&stranger.config.cert, &stranger.config.key)));
    let anonymous = client_with_cert(None);
    let forged = [("X-SSL-Client-S-DN", "CN=admin")];

    let required = node(lb_proxy::ClientVerify::Required, Some("X-SSL-Client-S-DN"));
    let a = addr(&required);
    let who = request_with(a, &with_alice, &forged)
        .await
        .expect("alice is let in");
    assert!(who.contains("CN=") && who != "CN=admin", "{who}");
    assert!(
        request_with(a, &anonymous, &[]).await.is_err(),
        "no certificate"
    );
    assert!(
        request_with(a, &with_mallory, &[]).await.is_err(),
        "another CA"
    );

    let optional = node(lb_proxy::ClientVerify::Optional, Some("X-SSL-Client-S-DN"));
    let a = addr(&optional);
    assert_eq!(
        request_with(a, &anonymous, &forged).await.as_deref(),
        Ok("-"),
        "no certificate: no subject, and the forged one removed"
    );
    assert!(
        request_with(a, &with_alice, &[])
            .await
            .expect("alice")
            .contains("CN=")
    );
    assert!(
        request_with(a, &with_mallory, &[]).await.is_err(),
        "a bad one is still refused"
    );

    // No header configured: nothing is forwarded, not even the client's.
    let silent = node(lb_proxy::ClientVerify::Required, None);
    assert_eq!(
        request_with(addr(&silent), &with_alice, &[])
            .await
            .as_deref(),
        Ok("-")
    );
    // A client CA file that is not one is refused at start, naming it.
    let mut t = tls(&[&www], false);
    t.client_auth = Some(lb_proxy::ClientAuth {
        ca: www.config.key.clone(),
        verify: lb_proxy::ClientVerify::Required,
        depth: 1,
        subject_header: None,
    });
    let mut cfg: ProxyConfig = common::config(&[&m]);
    cfg.tls = Some(t);
    let e = ProxyHandle::start(cfg)
        .expect_err("a key is no CA")
        .to_string();
    assert!(
        e.contains("www.key") && e.contains("holds no CERTIFICATE"),
        "{e}"
    );
}

/// `depth` (Apache `SSLVerifyDepth`): a client certificate issued by an
/// intermediate of the trusted CA is refused at depth 1 (Apache's and
/// nginx's default: issued directly by a trusted CA) and let in from depth
/// 2; one issued directly by the CA is let in at any depth; 0 is refused
/// at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_chain_may_be_as_deep_as_verify_depth_allows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let www = Ca::new().leaf(dir.path(), "www", &["www.example.com"], false);
    let root = Ca::new();
    let direct = root.leaf(dir.path(), "direct", &["direct.example.com"], false);
    let deep = root
        .intermediate()
        .leaf(dir.path(), "deep", &["deep.example.com"], false);
    let root_file = dir.path().join("clients-root.pem");
    std::fs::write(&root_file, &root.pem).expect("write");
    let m = member(|_: Request<Incoming>| async { Response::new(full("in")) }).await;
    let node = |depth: u8| {
        let mut t = tls(&[&www], false);
        t.client_auth = Some(lb_proxy::ClientAuth {
            ca: root_file.clone(),
            verify: lb_proxy::ClientVerify::Required,
            depth,
            subject_header: None,
        });
        let mut cfg: ProxyConfig = common::config(&[&m]);
        cfg.tls = Some(t);
        ProxyHandle::start(cfg)
    };
    let with_direct = client_with_cert(Some((&direct.config.cert, &direct.config.key)));
    let with_deep = client_with_cert(Some((&deep.config.cert, &deep.config.key)));

    let one = node(1).expect("depth 1");
    assert_eq!(
        request_with(addr(&one), &with_direct, &[]).await.as_deref(),
        Ok("in")
    );
    assert!(
        request_with(addr(&one), &with_deep, &[]).await.is_err(),
        "an intermediate's client is one too deep"
    );
    let two = node(2).expect("depth 2");
    assert_eq!(
        request_with(addr(&two), &with_direct, &[]).await.as_deref(),
        Ok("in")
    );
    assert_eq!(
        request_with(addr(&two), &with_deep, &[]).await.as_deref(),
        Ok("in")
    );
    let e = node(0).expect_err("depth 0").to_string();
    assert!(e.contains("tls.verify_depth"), "{e}");
}

/// A member that answers the first request with a 101 and then echoes.
async fn upgrading_member() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s
                    .write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
                    .await;
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// WebSocket over HTTP/1.1 on the TLS listener: the 101 reaches the client
/// and the tunnel carries bytes both ways, encrypted on the client side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_work_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    let member = upgrading_member().await;
    let mut cfg = ProxyConfig {
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        members: vec![lb_proxy::MemberConfig::new(format!("ws://{member}"))],
        workers: Some(1),
        ..ProxyConfig::default()
    };
    cfg.tls = Some(tls(&[&www], false));
    let p = ProxyHandle::start(cfg).expect("proxy starts");
    let mut s = connect(addr(&p), Some("www.example.com"), &[b"http/1.1"])
        .await
        .expect("handshake");
    s.write_all(
        b"GET /chat HTTP/1.1\r\nHost: www.example.com\r\nConnection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(BOUND, async {
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).await.expect("read");
            assert_ne!(n, 0, "closed: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("101 in time");
    assert!(
        got.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    for msg in [&b"ping"[..], b"a longer frame of bytes"] {
        s.write_all(msg).await.expect("write");
        let mut echo = Vec::new();
        tokio::time::timeout(BOUND, async {
            while echo.len() < msg.len() {
                let n = s.read(&mut buf).await.expect("read");
                assert_ne!(n, 0, "tunnel closed");
                echo.extend_from_slice(&buf[..n]);
            }
        })
        .await
        .expect("echo in time");
        assert_eq!(&echo[..], msg);
    }
}

/// Certificates reloaded over and over while clients keep asking, on new
/// and kept-alive connections: not one request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloading_certificates_under_load_fails_no_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    let m = echo().await;
    let p = Arc::new(start(&m, tls(&[&www], false)));
    let a = addr(&p);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..4 {
        let stop = stop.clone();
        clients.push(tokio::spawn(async move {
            let mut done = 0usize;
            let mut failed = Vec::new();
            // Clients 0 and 1 keep one connection, 2 and 3 open one per request.
            let mut kept = None;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && done < 2000 {
                if kept.is_none() || c >= 2 {
                    match connect(a, Some("www.example.com"), &[b"http/1.1"]).await {
                        Ok(s) => kept = Some(h1_conn(s).await),
                        Err(e) => {
                            failed.push(e.to_string());
                            continue;
                        }
                    }
                }
                let sender = kept.as_mut().expect("a connection");
                let (status, _) = h1(sender, "GET", "/", Bytes::new()).await;
                if status != 200 {
                    failed.push(format!("status {status}"));
                }
                done += 1;
            }
            (done, failed)
        }));
    }
    // Twenty reloads, each with a fresh certificate in the same files.
    for _ in 0..20 {
        let _ = ca.leaf(dir.path(), "www", &["www.example.com"], false);
        assert!(p.reload_certificates().expect("reload"));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for c in clients {
        let (done, failed) = tokio::time::timeout(Duration::from_secs(30), c)
            .await
            .expect("clients finish")
            .expect("join");
        assert!(failed.is_empty(), "{failed:?}");
        total += done;
    }
    assert!(total > 40, "the clients barely ran: {total}");
}

/// HTTP/2 requests go through the same admission as HTTP/1.1: the
/// canonical path reaches the member, a path above the root is 400, an
/// oversized field is 431, and hop-by-hop fields never reach a member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_requests_meet_the_same_rules_as_http11() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new();
    let www = ca.leaf(dir.path(), "www", &["www.example.com"], false);
    let m = member(|req: Request<Incoming>| async move {
        let te = req.headers().get("te").map_or("-".to_owned(), |v| {
            String::from_utf8_lossy(v.as_bytes()).into_owned()
        });
        Response::new(full(format!(
            "{} {:?} te={te}",
            req.uri().path(),
            req.version()
        )))
    })
    .await;
    let mut cfg: ProxyConfig = common::config(&[&m]);
    cfg.tls = Some(tls(&[&www], false));
    cfg.limit_request_field_size = 200;
    let p = ProxyHandle::start(cfg).expect("proxy starts");
    let s = connect(addr(&p), Some("www.example.com"), &[b"h2"])
        .await
        .expect("h2 handshake");
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(s))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    let mut ask = async |path: &str, extra: Option<(&str, String)>| {
        let mut b = Request::builder().uri(format!("https://www.example.com{path}"));
        if let Some((k, v)) = extra {
            b = b.header(k, v);
        }
        h2.ready().await.expect("ready");
        let resp = tokio::time::timeout(BOUND, h2.send_request(b.body(full("")).expect("req")))
            .await
            .expect("in time")
            .expect("answer");
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    assert_eq!(
        ask("/%7Euser/a//b/../c", None).await,
        (200, "/~user/a/c HTTP/1.1 te=-".to_owned())
    );
    assert_eq!(ask("/a/../../etc/passwd", None).await.0, 400);
    assert_eq!(ask("/x%2Fy", None).await.0, 404);
    assert_eq!(ask("/big", Some(("x-big", "v".repeat(300)))).await.0, 431);
    // `TE: trailers` is the one hop-by-hop field HTTP/2 allows; it is
    // still not passed on to the member.
    assert_eq!(
        ask("/te", Some(("te", "trailers".to_owned()))).await,
        (200, "/te HTTP/1.1 te=-".to_owned())
    );
    assert_eq!(m.hits(), 2, "refused requests never reached the member");
}
