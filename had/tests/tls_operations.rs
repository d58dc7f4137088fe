//! Operating TLS listeners: what `hactl status`, `hactl cert reload`, the
//! metrics and `hactl check` say about certificates.
//!
//! The daemon tests start the whole daemon from a had.toml (as `had` does,
//! through `FileSource`) with TLS proxies on 127.0.0.1, talk to its control
//! socket and metrics endpoint, and look at the certificate a TLS client is
//! served. The check tests load had.toml files as `hactl check` does.
//!
//! Certificates are made by rcgen for each test, with the validity each
//! test needs, and written to a temporary directory.

mod tls_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use had::config::{LoadOptions, load_with};
use had::control::{Client, Request, Response};
use had::runtime::source::FileSource;
use had::runtime::{Daemon, Source, StopHandle};
use had::status::Status;
use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::CertificateDer;

const DAY: i64 = 86_400;

fn now_unix() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("time")
}

// ---------------------------------------------------------------- certificates

/// A self-signed certificate written as `NAME.pem` and `NAME.key`.
struct Cert {
    der: CertificateDer<'static>,
    cert: PathBuf,
    key: PathBuf,
    not_after: i64,
}

impl Cert {
    /// Valid from a day ago until `not_after` (Unix seconds), for `names`.
    fn new(dir: &Path, file: &str, names: &[&str], not_after: i64) -> Cert {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("params");
        let epoch = rcgen::date_time_ymd(1970, 1, 1);
        let secs = |t: i64| Duration::from_secs(u64::try_from(t).expect("after 1970"));
        params.not_before = epoch + secs(now_unix().min(not_after) - DAY);
        params.not_after = epoch + secs(not_after);
        let cert = params.self_signed(&key).expect("certificate");
        let cert_path = dir.join(format!("{file}.pem"));
        let key_path = dir.join(format!("{file}.key"));
        std::fs::write(&cert_path, cert.pem()).expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        Cert {
            der: cert.der().clone(),
            cert: cert_path,
            key: key_path,
            not_after,
        }
    }

    /// `tls = { cert = "...", key = "..." }`.
    fn tls(&self) -> String {
        format!(
            "tls = {{ cert = \"{}\", key = \"{}\" }}",
            self.cert.display(),
            self.key.display()
        )
    }
}

/// Whole days left at some moment between the calls of `f`, as the daemon
/// counts them: the answer is checked against the count before and after.
fn days_left_around<T>(not_after: i64, f: impl FnOnce() -> T) -> (T, [i64; 2]) {
    let before = (not_after - now_unix()).div_euclid(DAY);
    let t = f();
    let after = (not_after - now_unix()).div_euclid(DAY);
    (t, [before, after])
}

// ---------------------------------------------------------------- client

/// The leaf certificate a new TLS handshake with `addr` for `sni` is served.
fn served(addr: SocketAddr, sni: &str) -> CertificateDer<'static> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tls = tls_support::connect(addr, sni).await.expect("handshake");
        tls_support::served(&tls)
    })
}

// ---------------------------------------------------------------- daemon

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A daemon running `had.toml` in `dir`, stopped on drop.
struct Running {
    socket: PathBuf,
    metrics: u16,
    stop: StopHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Writes `[global]` (control socket, metrics) and `proxies` as
    /// `dir/had.toml` and starts the daemon on it.
    fn start(dir: &Path, proxies: &str) -> Running {
        let socket = dir.join("had.sock");
        let metrics = free_port();
        let config = dir.join("had.toml");
        std::fs::write(
            &config,
            format!(
                "[global]\nrouter_id = \"tls-node\"\ncontrol_socket = \"{}\"\n\
                 metrics_listen = \"127.0.0.1:{metrics}\"\n\n{proxies}",
                socket.display()
            ),
        )
        .expect("write config");
        let source: Arc<dyn Source> = Arc::new(FileSource::new(config));
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async move {
                let d = Daemon::start(source).await.expect("daemon starts");
                tx.send(d.stop_handle()).expect("send");
                d.run().await.expect("daemon runs");
            });
        });
        let stop = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("daemon started");
        Running {
            socket,
            metrics,
            stop,
            thread: Some(thread),
        }
    }

    fn call(&self, r: &Request) -> Response {
        Client::connect(&self.socket)
            .expect("connect")
            .call(r)
            .expect("answer")
    }

    fn status(&self) -> Status {
        *self.call(&Request::Status).status.expect("status")
    }

    /// The status answer as the JSON line on the socket.
    fn status_json(&self) -> serde_json::Value {
        let mut s = std::os::unix::net::UnixStream::connect(&self.socket).expect("connect");
        s.write_all(b"{\"cmd\":\"status\"}\n").expect("write");
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).expect("read");
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        v["status"].clone()
    }

    fn metrics(&self) -> String {
        let mut http = std::net::TcpStream::connect(("127.0.0.1", self.metrics)).expect("metrics");
        http.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("write");
        let mut body = String::new();
        http.read_to_string(&mut body).expect("read");
        assert!(body.starts_with("HTTP/1.1 200"), "{body}");
        body
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `[proxy.NAME]` on `port`, answering `name`, with `tls` (or none).
fn proxy(name: &str, port: u16, tls: Option<&Cert>) -> String {
    format!(
        "[proxy.{name}]\nlisten = [\"127.0.0.1:{port}\"]\nserver_name = \"{name}.example.com\"\n{}\n\
         members = [{{ url = \"http://127.0.0.1:9\" }}]\n\n",
        tls.map(Cert::tls).unwrap_or_default()
    )
}

/// Three listener groups: `www` (two TLS virtual hosts, www and shop, on one
/// address), `api` (TLS) and `plain` (no TLS). Status shows each TLS
/// group's certificates; `cert reload` reads new files; a bad key file is
/// refused by name while the group goes on serving the certificate it had.
#[test]
fn status_shows_certificates_and_cert_reload_swaps_them_or_keeps_the_old() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let now = now_unix();
    let www = Cert::new(
        d,
        "www",
        &["www.example.com", "example.com"],
        now + 90 * DAY + 3600,
    );
    let shop = Cert::new(d, "shop", &["shop.example.com"], now + 40 * DAY + 3600);
    let api = Cert::new(d, "api", &["api.example.com"], now + 300 * DAY + 3600);
    let (p_www, p_api, p_plain) = (free_port(), free_port(), free_port());
    let daemon = Running::start(
        d,
        &format!(
            "{}{}{}{}",
            proxy("www", p_www, Some(&www)),
            proxy("shop", p_www, Some(&shop)),
            proxy("api", p_api, Some(&api)),
            proxy("plain", p_plain, None),
        ),
    );
    let www_addr: SocketAddr = ([127, 0, 0, 1], p_www).into();
    let api_addr: SocketAddr = ([127, 0, 0, 1], p_api).into();

    // The status document on the wire: each TLS group's certificates, in
    // file order; none for the plain group, not even an empty list.
    let (v, days) = days_left_around(www.not_after, || daemon.status_json());
    let group = |name: &str| {
        v["proxies"]
            .as_array()
            .expect("proxies")
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no proxy {name} in {v}"))
            .clone()
    };
    let certs = group("www")["certificates"].clone();
    assert_eq!(certs.as_array().map(Vec::len), Some(2), "{v}");
    let c = &certs[0];
    assert_eq!(c["file"], www.cert.display().to_string(), "{c}");
    assert_eq!(
        c["names"],
        serde_json::json!(["www.example.com", "example.com"])
    );
    assert_eq!(c["not_after_unix"], www.not_after, "{c}");
    assert_eq!(
        c["not_after"],
        lb_proxy::tls::utc_date(www.not_after),
        "{c}"
    );
    assert!(
        days.contains(&c["days_left"].as_i64().expect("days_left")),
        "{c} {days:?}"
    );
    assert!((89..=90).contains(&days[0]), "{days:?}");
    assert_eq!(certs[1]["file"], shop.cert.display().to_string(), "{v}");
    assert_eq!(
        group("api")["certificates"][0]["file"],
        api.cert.display().to_string()
    );
    assert!(group("plain").get("certificates").is_none(), "{v}");

    // `hactl status`'s table lists them under CERTIFICATES.
    let table = daemon.status().to_table();
    let (_, section) = table
        .split_once("\nCERTIFICATES\n")
        .unwrap_or_else(|| panic!("no CERTIFICATES in\n{table}"));
    let line = section
        .lines()
        .find(|l| l.contains(&www.cert.display().to_string()))
        .unwrap_or_else(|| panic!("no line for {} in\n{table}", www.cert.display()));
    let cells: Vec<&str> = line
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cells,
        [
            "www".to_owned(),
            www.cert.display().to_string(),
            "www.example.com, example.com".to_owned(),
            format!(
                "until {} ({} days)",
                lb_proxy::tls::utc_date(www.not_after),
                c["days_left"]
            ),
        ],
        "{table}"
    );

    // The metrics: both gauges, per group and file.
    let (m, days) = days_left_around(api.not_after, || daemon.metrics());
    let label =
        |group: &str, c: &Cert| format!("{{proxy=\"{group}\",cert=\"{}\"}}", c.cert.display());
    let gauge = |name: &str, labels: &str| {
        m.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}{labels} ")))
            .unwrap_or_else(|| panic!("no {name}{labels} in\n{m}"))
            .parse::<i64>()
            .expect("integer")
    };
    assert!(days.contains(&gauge("had_tls_certificate_days_left", &label("api", &api))));
    assert_eq!(
        gauge("had_tls_certificate_not_after_seconds", &label("api", &api)),
        api.not_after
    );
    assert_eq!(
        gauge(
            "had_tls_certificate_not_after_seconds",
            &label("www", &shop)
        ),
        shop.not_after
    );
    assert!(!m.contains("proxy=\"plain\",cert"), "{m}");

    // Served before any reload.
    assert_eq!(served(www_addr, "www.example.com"), www.der);
    assert_eq!(served(www_addr, "shop.example.com"), shop.der);
    assert_eq!(served(api_addr, "api.example.com"), api.der);

    // Renewed in place: new files, same paths. `cert reload` reads them;
    // new handshakes get the new certificates and status shows them.
    let www2 = Cert::new(
        d,
        "www",
        &["www.example.com", "example.com"],
        now + 200 * DAY + 3600,
    );
    let api2 = Cert::new(d, "api", &["api.example.com"], now + 100 * DAY + 3600);
    assert_ne!(www2.der, www.der);
    let r = daemon.call(&Request::CertReload);
    assert!(r.ok, "{r:?}");
    assert_eq!(
        r.message.as_deref(),
        Some("proxy api: reloaded 1 certificate\nproxy www: reloaded 2 certificates"),
        "{r:?}"
    );
    assert_eq!(served(www_addr, "www.example.com"), www2.der);
    assert_eq!(served(www_addr, "shop.example.com"), shop.der);
    assert_eq!(served(api_addr, "api.example.com"), api2.der);
    let status = daemon.status();
    let p = status.proxy("www").expect("www");
    assert_eq!(p.certificates[0].not_after_unix, www2.not_after);

    // A broken key file: refused, naming the file; that group keeps its
    // certificates (new handshakes get the previous one), the other group
    // reloads.
    std::fs::write(&www2.key, "not a key\n").expect("write");
    let r = daemon.call(&Request::CertReload);
    assert!(!r.ok, "{r:?}");
    let error = r.error.expect("error");
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines.len(), 2, "{error}");
    assert_eq!(lines[0], "proxy api: reloaded 1 certificate", "{error}");
    assert!(
        lines[1].starts_with(&format!("proxy www: tls: {}: ", www2.key.display()))
            && lines[1].ends_with("; its certificates in force keep serving"),
        "{error}"
    );
    assert_eq!(served(www_addr, "www.example.com"), www2.der);
    assert_eq!(served(www_addr, "shop.example.com"), shop.der);
    let status = daemon.status();
    let p = status.proxy("www").expect("www");
    assert_eq!(p.certificates[0].not_after_unix, www2.not_after);
    assert_eq!(p.certificates.len(), 2);
}

/// Without a TLS proxy there is nothing to reload: refused, saying so, and
/// the status document has no `certificates` at all.
#[test]
fn cert_reload_without_tls_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let daemon = Running::start(dir.path(), &proxy("plain", free_port(), None));
    let r = daemon.call(&Request::CertReload);
    assert!(!r.ok, "{r:?}");
    assert_eq!(
        r.error.as_deref(),
        Some("no proxy serves TLS: there is no certificate to reload")
    );
    let v = daemon.status_json();
    assert!(v["proxies"][0].get("certificates").is_none(), "{v}");
    assert!(!daemon.status().to_table().contains("CERTIFICATES"));
    assert!(!daemon.metrics().contains("had_tls_certificate_days_left{"));
}

// ---------------------------------------------------------------- check

fn no_env() -> LoadOptions {
    LoadOptions { env: false }
}

/// A had.toml with `[proxy.www]` whose tls table starts at line 6:
/// `cert` on line 7, `key` on line 8.
fn tls_config(dir: &Path, cert: &Path, key: &Path) -> PathBuf {
    let path = dir.join("had.toml");
    std::fs::write(
        &path,
        format!(
            "[proxy.www]\n\
             listen = [\"198.18.0.200:443\"]\n\
             server_name = \"www.example.com\"\n\
             members = [{{ url = \"http://198.18.0.21:8080\" }}]\n\
             \n\
             [proxy.www.tls]\n\
             cert = \"{}\"\n\
             key = \"{}\"\n",
            cert.display(),
            key.display()
        ),
    )
    .expect("write");
    path
}

/// The errors of a config that must not load.
fn errors(path: &Path) -> Vec<String> {
    match load_with(path, &no_env()) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn check_warns_about_a_certificate_expiring_within_two_weeks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let soon = Cert::new(d, "soon", &["www.example.com"], now_unix() + 5 * DAY + 3600);
    let path = tls_config(d, &soon.cert, &soon.key);
    let (loaded, days) = days_left_around(soon.not_after, || load_with(&path, &no_env()));
    let loaded = loaded.expect("valid, with a warning");
    assert_eq!(days, [5, 5]);
    let want = format!(
        "{}:7: warning: proxy.www.tls.cert: certificate {} expires on {} (5 days): renew it",
        path.display(),
        soon.cert.display(),
        lb_proxy::tls::utc_date(soon.not_after)
    );
    let got: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(got, std::slice::from_ref(&want));
    // `hactl check` prints it and calls the file valid.
    let report = had::check::check_files_with(std::slice::from_ref(&path), &no_env());
    assert!(report.is_valid());
    let text = report.render();
    assert!(text.lines().any(|l| l == want), "{text}");

    // Fifteen days left: nothing to say.
    let later = Cert::new(
        d,
        "later",
        &["www.example.com"],
        now_unix() + 15 * DAY + 3600,
    );
    let path = tls_config(d, &later.cert, &later.key);
    let loaded = load_with(&path, &no_env()).expect("valid");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn check_refuses_certificates_a_listener_could_not_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let good = Cert::new(d, "good", &["www.example.com"], now_unix() + 90 * DAY);
    let other = Cert::new(d, "other", &["www.example.com"], now_unix() + 90 * DAY);
    let expired = Cert::new(d, "expired", &["www.example.com"], now_unix() - 2 * DAY);

    // Expired: an error at the cert key's line, with the date.
    let path = tls_config(d, &expired.cert, &expired.key);
    assert_eq!(
        errors(&path),
        [format!(
            "{}:7: proxy.www.tls.cert: {}: expired on {}",
            path.display(),
            expired.cert.display(),
            lb_proxy::tls::utc_date(expired.not_after)
        )]
    );

    // A missing certificate file.
    let missing = d.join("missing.pem");
    let path = tls_config(d, &missing, &good.key);
    let e = errors(&path);
    let prefix = format!(
        "{}:7: proxy.www.tls.cert: {}: cannot be read: ",
        path.display(),
        missing.display()
    );
    assert!(e.len() == 1 && e[0].starts_with(&prefix), "{e:?}");

    // A missing key file: at the key's line.
    let path = tls_config(d, &good.cert, &missing);
    let e = errors(&path);
    let prefix = format!(
        "{}:8: proxy.www.tls.key: {}: cannot be read: ",
        path.display(),
        missing.display()
    );
    assert!(e.len() == 1 && e[0].starts_with(&prefix), "{e:?}");

    // A key file that holds no key, and the key of another certificate.
    let garbage = d.join("garbage.key");
    std::fs::write(&garbage, "not a key\n").expect("write");
    let path = tls_config(d, &good.cert, &garbage);
    let e = errors(&path);
    let prefix = format!(
        "{}:8: proxy.www.tls.key: {}: holds no private key",
        path.display(),
        garbage.display()
    );
    assert!(e.len() == 1 && e[0].starts_with(&prefix), "{e:?}");
    let path = tls_config(d, &good.cert, &other.key);
    assert_eq!(
        errors(&path),
        [format!(
            "{}:8: proxy.www.tls.key: {}: is not the key of {}",
            path.display(),
            other.key.display(),
            good.cert.display()
        )]
    );

    // And the good pair loads without a word.
    let path = tls_config(d, &good.cert, &good.key);
    let loaded = load_with(&path, &no_env()).expect("valid");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}
