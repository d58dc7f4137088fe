//! The routing model from had.toml to the wire, and every validation rule
//! of its keys.
//!
//! The first tests take the README's worked example (`examples/routes.toml`:
//! two virtual hosts on one address, six routes, three balancers with
//! sticky sessions), check that the README prints it unchanged, move it to
//! 127.0.0.1 in front of members the test runs, load and plan it as the
//! daemon does (`config::parse_str`, `plan::from_config`), start it with
//! `lb_proxy::ProxyHandle::start`, and send requests with different `Host`
//! values and paths: each must reach the right member with the right path.
//!
//! The others load small files that break one rule each and assert the
//! exact error (line, key, message) or warning.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest wait for one answer.
const BOUND: Duration = Duration::from_secs(5);

fn manifest(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn example() -> String {
    std::fs::read_to_string(manifest("examples/routes.toml")).expect("examples/routes.toml")
}

// ---------------------------------------------------------------- members

/// A member that answers every request with `NAME PATH HOST`, the path and
/// query exactly as it arrived.
async fn member(name: &'static str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind member");
    let addr = listener.local_addr().expect("member address");
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                    let host = req
                        .headers()
                        .get(http::header::HOST)
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("-")
                        .to_owned();
                    let path = req
                        .uri()
                        .path_and_query()
                        .map_or("/", http::uri::PathAndQuery::as_str)
                        .to_owned();
                    async move {
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(format!(
                            "{name} {path} {host}"
                        )))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, task)
}

// ---------------------------------------------------------------- client

/// A response as the client saw it.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(": ")?;
            k.eq_ignore_ascii_case(name).then_some(v)
        })
    }
}

/// `GET path` with `Host: host` (and `extra` header lines) on a new
/// connection, read until the proxy closes it.
async fn get(addr: SocketAddr, host: &str, path: &str, extra: &str) -> Answer {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(BOUND, s.read_to_end(&mut raw))
        .await
        .unwrap_or_else(|_| panic!("GET {host}{path}: no answer within {BOUND:?}"))
        .expect("read");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("GET {host}{path}: not a response: {text:?}"));
    Answer {
        status: head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status"),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// The member that answered and the path it saw.
fn seen(a: &Answer) -> (String, String) {
    assert_eq!(a.status, 200, "{a:?}");
    let mut words = a.body.split(' ');
    (
        words.next().unwrap_or_default().to_owned(),
        words.next().unwrap_or_default().to_owned(),
    )
}

// ---------------------------------------------------------------- the example

#[test]
fn the_readme_prints_the_example_unchanged() {
    let readme = std::fs::read_to_string(manifest("../README.md")).expect("README.md");
    // The example without its leading comment block, as the README shows it.
    let body: String = example()
        .lines()
        .skip_while(|l| l.starts_with('#') || l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        readme.contains(&body),
        "README.md must contain had/examples/routes.toml from its first table on:\n{body}"
    );
}

#[test]
fn the_example_is_valid_once_its_directory_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = example().replace("/srv/www/static", &dir.path().display().to_string());
    let loaded = had::config::parse_str(&text, "routes.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let plan = had::plan::from_config(&loaded).unwrap_or_else(|e| panic!("plan: {e}"));
    // Two [proxy] on one address: one listener group, named after the first.
    let [(group, config)] = plan.proxies.as_slice() else {
        panic!("one listener group expected: {:?}", plan.proxies);
    };
    assert_eq!(group, "www");
    assert_eq!(plan.proxy_group["admin"], "www");
    let hosts: Vec<&str> = config.vhosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(hosts, ["www", "admin"]);
    // As written, without the directory it serves, the file is refused at
    // that route's line.
    let err = had::config::parse_str(&example(), "routes.toml").map(|_| ());
    if !Path::new("/srv/www/static").is_dir() {
        let err = err.expect_err("no /srv/www/static here");
        let line = example()
            .lines()
            .position(|l| l == "directory = \"/srv/www/static\"")
            .expect("the directory line")
            + 1;
        assert_eq!(
            err.errors(),
            [format!(
                "routes.toml:{line}: proxy.www.route.0.directory: /srv/www/static is neither a directory nor a file"
            )]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_and_paths_reach_the_right_member_with_the_right_path() {
    let names = [
        ("198.18.0.21", "app1"),
        ("198.18.0.22", "app2"),
        ("198.18.0.23", "app3"),
        ("198.18.0.31", "api1"),
        ("198.18.0.32", "api2"),
        ("198.18.0.33", "api3"),
        ("198.18.0.51", "dl1"),
        ("198.18.0.52", "dl2"),
        ("198.18.0.40", "reports"),
    ];
    let static_dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(static_dir.path().join("hello.txt"), "hello static\n").expect("write");
    let mut text = example()
        .replace("198.18.0.200:80", "127.0.0.1:0")
        .replace("/srv/www/static", &static_dir.path().display().to_string());
    let mut members = Vec::new();
    for (ip, name) in names {
        let (addr, task) = member(name).await;
        text = text.replace(&format!("{ip}:8080"), &addr.to_string());
        members.push(task);
    }
    let loaded = had::config::parse_str(&text, "routes.toml").unwrap_or_else(|e| panic!("{e}"));
    let plan = had::plan::from_config(&loaded).unwrap_or_else(|e| panic!("plan: {e}"));
    let [(_, config)] = <[_; 1]>::try_from(plan.proxies).expect("one listener group");
    let mut config = config;
    config.workers = Some(1);
    let proxy = lb_proxy::ProxyHandle::start(config).expect("proxy starts");
    let addr = proxy.local_addrs()[0];
    let www = "www.example.com";

    // A prefix route to a balancer with `to`: Apache's literal join, query kept.
    let a = get(addr, www, "/api/users?page=2", "").await;
    let (m, path) = seen(&a);
    assert!(m == "api1" || m == "api2", "api3 is a hot standby: {a:?}");
    assert_eq!(path, "/v2/users?page=2");
    assert!(a.body.ends_with(" www.example.com"), "preserve_host: {a:?}");
    // Sticky by the URL parameter (`;jsessionid=`) and by the cookie.
    for _ in 0..3 {
        let a = get(addr, www, "/api/cart;jsessionid=abc.api2", "").await;
        assert_eq!(
            seen(&a),
            ("api2".into(), "/v2/cart;jsessionid=abc.api2".into())
        );
        let a = get(addr, www, "/api/cart", "Cookie: JSESSIONID=xyz.api1\r\n").await;
        assert_eq!(seen(&a), ("api1".into(), "/v2/cart".into()));
    }
    // Apache's literal join of `/downloads/` and `/`: the prefix dropped.
    let a = get(addr, www, "/downloads/iso/big.iso", "").await;
    let (m, path) = seen(&a);
    assert!(m == "dl1" || m == "dl2", "{a:?}");
    assert_eq!(path, "/iso/big.iso");
    // A regex route to one URL: `$1` substituted.
    let a = get(addr, www, "/reports/2024/q1.pdf", "").await;
    assert_eq!(seen(&a), ("reports".into(), "/archive/2024/q1.pdf".into()));
    // Not a PDF: the regex does not match, the last route (/) takes it.
    let a = get(addr, www, "/reports/q1.txt", "").await;
    let (m, path) = seen(&a);
    assert!(m.starts_with("app"), "{a:?}");
    assert_eq!(path, "/reports/q1.txt");
    // Excluded, served from its directory.
    let a = get(addr, www, "/static/hello.txt", "").await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (200, "hello static\n"),
        "{a:?}"
    );
    // A redirect keeps the rest of the path.
    let a = get(addr, www, "/blog/2024/post", "").await;
    assert_eq!(a.status, 301, "{a:?}");
    assert_eq!(
        a.header("location"),
        Some("https://blog.example.com/2024/post")
    );
    // The catch-all: a new client is given a route by had's sticky_cookie,
    // and sticks to it.
    let a = get(addr, www, "/shop/cart", "").await;
    let (first, path) = seen(&a);
    assert_eq!(path, "/shop/cart");
    assert!(
        first == "app1" || first == "app2",
        "app3 is in lbset 1: {a:?}"
    );
    let cookie = a.header("set-cookie").expect("sticky_cookie sets ROUTEID");
    assert!(cookie.starts_with(&format!("ROUTEID=.{first}")), "{cookie}");
    for _ in 0..4 {
        let a = get(
            addr,
            www,
            "/shop/cart",
            &format!("Cookie: ROUTEID=.{first}\r\n"),
        )
        .await;
        assert_eq!(seen(&a).0, first);
    }

    // The other virtual host: the same balancer under another path.
    for host in ["admin.example.com", "ADMIN.example.com:80"] {
        let a = get(addr, host, "/users?active=1", "").await;
        let (m, path) = seen(&a);
        assert!(m.starts_with("app"), "{a:?}");
        assert_eq!(path, "/admin/users?active=1", "Host {host}");
    }
    // An alias of www, and an unknown name: www, the address's first host.
    for host in ["example.com", "unknown.test"] {
        let a = get(addr, host, "/api/x", "").await;
        let (m, path) = seen(&a);
        assert!(m.starts_with("api"), "Host {host}: {a:?}");
        assert_eq!(path, "/v2/x");
    }

    // Status of the group: both hosts' balancers, each member once per balancer.
    let stats = proxy.stats();
    let balancers: Vec<&str> = stats.balancers.iter().map(|b| b.name.as_str()).collect();
    assert!(
        ["app", "api", "downloads"]
            .iter()
            .all(|b| balancers.contains(b)),
        "{balancers:?}"
    );
    drop(proxy);
    for m in members {
        m.abort();
    }
}

// ---------------------------------------------------------------- rules

/// The errors loading `text` reports, each as `LINE: KEY: MESSAGE`.
fn errors(text: &str) -> Vec<String> {
    match had::config::parse_str(text, "had.toml") {
        Ok(_) => panic!("valid, but should not be:\n{text}"),
        Err(e) => e
            .errors()
            .into_iter()
            .map(|l| l.strip_prefix("had.toml:").unwrap_or(&l).to_owned())
            .collect(),
    }
}

/// `text` is refused with exactly `want` among its errors.
#[track_caller]
fn refused(text: &str, want: &str) {
    let got = errors(text);
    assert!(
        got.iter().any(|g| g == want),
        "expected\n  {want}\namong\n  {}",
        got.join("\n  ")
    );
}

/// The warnings of a valid `text`, each as `LINE: KEY: MESSAGE`.
fn warnings(text: &str) -> Vec<String> {
    let loaded = had::config::parse_str(text, "had.toml").unwrap_or_else(|e| panic!("{e}"));
    loaded
        .warnings
        .iter()
        .map(|w| {
            w.to_string()
                .strip_prefix("had.toml:")
                .unwrap_or_default()
                .replacen(" warning:", "", 1)
        })
        .collect()
}

/// A balancer `app` later lines can send to (5 lines with the blank).
const APP: &str = r#"
[balancer.app]
members = [{ url = "http://198.18.0.21:8080" }]
"#;

/// `[proxy.web]` on 198.18.0.200:80 (lines 1-2) with `routes` from line 3 on,
/// and [`APP`] after them.
fn web(routes: &str) -> String {
    format!("[proxy.web]\nlisten = [\"198.18.0.200:80\"]\n{routes}{APP}")
}

#[test]
fn a_route_needs_exactly_one_of_path_and_path_regex() {
    refused(
        &web("[[proxy.web.route]]\nbalancer = \"app\"\n"),
        "3: proxy.web.route.0: a route needs one of `path` (a prefix, as ProxyPass) or `path_regex` (as ProxyPassMatch)",
    );
    refused(
        &web("[[proxy.web.route]]\npath = \"/\"\npath_regex = \"^/\"\nbalancer = \"app\"\n"),
        "5: proxy.web.route.0.path_regex: `path` and `path_regex` are all set, but a route takes exactly one of `path` (a prefix, as ProxyPass) or `path_regex` (as ProxyPassMatch)",
    );
}

#[test]
fn a_route_needs_exactly_one_action() {
    refused(
        &web("[[proxy.web.route]]\npath = \"/\"\n"),
        "3: proxy.web.route.0: a route needs one of `balancer`, `url`, `exclude = true` or `redirect`",
    );
    refused(
        &web(
            "[[proxy.web.route]]\npath = \"/\"\nbalancer = \"app\"\nredirect = \"https://example.com/\"\n",
        ),
        "6: proxy.web.route.0.redirect: `balancer` and `redirect` are all set, but a route takes exactly one of `balancer`, `url`, `exclude = true` or `redirect`",
    );
}

#[test]
fn to_goes_only_with_balancer_and_is_a_path() {
    refused(
        &web(
            "[[proxy.web.route]]\npath = \"/\"\nurl = \"http://198.18.0.40:8080/\"\nto = \"/x/\"\n",
        ),
        "6: proxy.web.route.0.to: only has an effect with `balancer` (it is the path of balancer://NAME/TO); remove it",
    );
    refused(
        &web("[[proxy.web.route]]\npath = \"/\"\nbalancer = \"app\"\nto = \"x/\"\n"),
        "6: proxy.web.route.0.to: \"x/\" is not a path starting with / (the path of balancer://NAME/TO)",
    );
}

#[test]
fn directory_goes_only_with_exclude_and_must_exist() {
    refused(
        &web("[[proxy.web.route]]\npath = \"/\"\nbalancer = \"app\"\ndirectory = \"/tmp\"\n"),
        "6: proxy.web.route.0.directory: only has an effect with `exclude = true`; remove it",
    );
    refused(
        &web(
            "[[proxy.web.route]]\npath = \"/static\"\nexclude = true\ndirectory = \"/nonexistent/static\"\n",
        ),
        "6: proxy.web.route.0.directory: /nonexistent/static is neither a directory nor a file",
    );
}

#[test]
fn document_root_goes_only_with_exclude_alone_and_must_be_a_directory() {
    refused(
        &web("[[proxy.web.route]]\npath = \"/\"\nbalancer = \"app\"\ndocument_root = \"/tmp\"\n"),
        "6: proxy.web.route.0.document_root: only has an effect with `exclude = true`; remove it",
    );
    refused(
        &web(
            "[[proxy.web.route]]\npath = \"/s\"\nexclude = true\ndirectory = \"/tmp\"\ndocument_root = \"/tmp\"\n",
        ),
        "7: proxy.web.route.0.document_root: give one of directory (as Alias) and document_root (as DocumentRoot)",
    );
    let file = tempfile::NamedTempFile::new().expect("temp file");
    refused(
        &web(&format!(
            "[[proxy.web.route]]\npath = \"/s\"\nexclude = true\ndocument_root = \"{}\"\n",
            file.path().display()
        )),
        &format!(
            "6: proxy.web.route.0.document_root: {} is not a directory",
            file.path().display()
        ),
    );
}

#[test]
fn status_goes_only_with_redirect_and_is_a_redirect_status() {
    refused(
        &web("[[proxy.web.route]]\npath = \"/\"\nbalancer = \"app\"\nstatus = 301\n"),
        "6: proxy.web.route.0.status: only has an effect with `redirect`; remove it",
    );
    refused(
        &web(
            "[[proxy.web.route]]\npath = \"/old\"\nredirect = \"https://example.com/new\"\nstatus = 304\n",
        ),
        "6: proxy.web.route.0.status: 304 is out of range (allowed 301, 302, 303, 307 or 308)",
    );
    refused(
        &web("[[proxy.web.route]]\npath = \"/old\"\nredirect = \"\"\n"),
        "5: proxy.web.route.0.redirect: \"\" is not a URL",
    );
}

#[test]
fn pass_reverse_goes_with_balancer_or_url_and_a_prefix() {
    refused(
        &web(
            "[[proxy.web.route]]\npath = \"/old\"\nredirect = \"https://example.com/\"\npass_reverse = true\n",
        ),
        "6: proxy.web.route.0.pass_reverse: only has an effect with `balancer` or `url`; remove it",
    );
    refused(
        &web(
            "[[proxy.web.route]]\npath_regex = \"^/(.*)$\"\nbalancer = \"app\"\npass_reverse = true\n",
        ),
        "6: proxy.web.route.0.pass_reverse: ProxyPassReverse maps a member's URL back to a path prefix: it cannot be used with `path_regex`; use `path`",
    );
}

#[test]
fn paths_and_regexes_must_parse() {
    refused(
        &web("[[proxy.web.route]]\npath = \"api\"\nbalancer = \"app\"\n"),
        "4: proxy.web.route.0.path: \"api\" does not start with /",
    );
    let got = errors(&web(
        "[[proxy.web.route]]\npath_regex = \"^/(unclosed\"\nbalancer = \"app\"\n",
    ));
    assert!(
        got.iter().any(|e| e.starts_with(
            "4: proxy.web.route.0.path_regex: \"^/(unclosed\" is not a regular expression:"
        )),
        "{got:?}"
    );
}

#[test]
fn a_route_to_an_undefined_balancer_names_its_line_and_the_missing_table() {
    refused(
        &web("\n[[proxy.web.route]]\npath = \"/\"\nbalancer = \"ap\"\n"),
        "6: proxy.web.route.0.balancer: there is no [balancer.ap]; did you mean `app`?",
    );
}

#[test]
fn url_schemes_other_than_http_https_ws_wss_are_refused_at_their_line() {
    for (scheme, module) in [
        ("ajp", "ajp"),
        ("fcgi", "fcgi"),
        ("uwsgi", "uwsgi"),
        ("h2c", "h2c"),
    ] {
        refused(
            &web(&format!(
                "[[proxy.web.route]]\npath = \"/\"\nurl = \"{scheme}://198.18.0.40:8009/\"\n"
            )),
            &format!(
                "5: proxy.web.route.0.url: \"{scheme}://198.18.0.40:8009/\" is not supported: {module}: had's proxy speaks HTTP/1.1 to members; Apache's ajp, fcgi, uwsgi, scgi and h2c backends have no equivalent"
            ),
        );
    }
    for scheme in ["http", "https", "ws", "wss"] {
        let text = web(&format!(
            "[[proxy.web.route]]\npath = \"/a\"\nbalancer = \"app\"\n[[proxy.web.route]]\npath = \"/\"\nurl = \"{scheme}://198.18.0.40:8080/\"\n"
        ));
        had::config::parse_str(&text, "had.toml").unwrap_or_else(|e| panic!("{scheme}: {e}"));
    }
    refused(
        &web("[[proxy.web.route]]\npath = \"/\"\nurl = \"/local/path\"\n"),
        "5: proxy.web.route.0.url: \"/local/path\" needs a scheme and a host (e.g. \"http://198.18.0.21:8080/app/\")",
    );
}

#[test]
fn members_and_routes_cannot_be_combined_nor_shorthand_keys_with_routes() {
    let text = web(
        "members = [{ url = \"http://198.18.0.22:8080\" }]\npath = \"/api\"\nlbmethod = \"bybusyness\"\n\
         [[proxy.web.route]]\npath = \"/\"\nbalancer = \"app\"\n",
    );
    let got = errors(&text);
    assert_eq!(
        got,
        [
            "3: proxy.web.members: belongs to the members shorthand, which [[proxy.web.route]] replaces: move the members to a [balancer.NAME] and send a route to it with balancer = \"NAME\"",
            "4: proxy.web.path: belongs to the members shorthand, which [[proxy.web.route]] replaces: each route has its own `path`",
            "5: proxy.web.lbmethod: belongs to the members shorthand, which [[proxy.web.route]] replaces: set it on the [balancer.NAME] the routes send to",
        ]
    );
}

#[test]
fn server_names_are_host_patterns() {
    let text = r#"[proxy.web]
listen = ["198.18.0.200:80"]
server_name = "www.example.com:80"
server_alias = ["*.example.com", "bad name"]
members = [{ url = "http://198.18.0.21:8080" }]
"#;
    assert_eq!(
        errors(text),
        [
            "3: proxy.web.server_name: \"www.example.com:80\" has a port: virtual hosts are told apart by the Host without its port; write the name alone",
            "4: proxy.web.server_alias.1: \"bad name\" is not a host name (letters, digits, `-`, `.`, `_`, and the wildcards `*` and `?`)",
        ]
    );
}

#[test]
fn two_proxies_with_one_name_on_one_address_are_refused_naming_both() {
    let text = r#"[proxy.a]
listen = ["198.18.0.200:80"]
server_name = "www.example.com"
members = [{ url = "http://198.18.0.21:8080" }]

[proxy.b]
listen = ["198.18.0.200:80"]
server_name = "shop.example.com"
server_alias = ["WWW.example.com"]
members = [{ url = "http://198.18.0.22:8080" }]

[proxy.c]
listen = ["198.18.0.200:8080"]
server_name = "www.example.com"
members = [{ url = "http://198.18.0.22:8080" }]
"#;
    assert_eq!(
        errors(text),
        [
            "9: proxy.b.server_alias.0: `www.example.com` is also a name of proxy.a.server_name (line 3) on 198.18.0.200:80: only the first in the file would ever get its requests"
        ]
    );
}

#[test]
fn a_second_host_without_a_name_could_never_be_reached() {
    let text = r#"[proxy.a]
listen = ["198.18.0.200:80"]
members = [{ url = "http://198.18.0.21:8080" }]

[proxy.b]
listen = ["198.18.0.200:80"]
members = [{ url = "http://198.18.0.22:8080" }]
"#;
    assert_eq!(
        errors(text),
        [
            "5: proxy.b.server_name: no server_name or server_alias, and proxy.a (line 1) is the default host of 198.18.0.200:80: no request could reach this one; give it a server_name"
        ]
    );
}

#[test]
fn proxies_sharing_an_address_must_share_connection_settings() {
    let text = r#"[proxy.a]
listen = ["198.18.0.200:80"]
timeout = 30
members = [{ url = "http://198.18.0.21:8080" }]

[proxy.b]
listen = ["198.18.0.200:80", "198.18.0.200:81"]
server_name = "b.example.com"
max_connections = 500
members = [{ url = "http://198.18.0.22:8080" }]

[proxy.c]
listen = ["198.18.0.200:81"]
server_name = "c.example.com"
timeout = 30
access_log = "/var/log/had/c.log"
members = [{ url = "http://198.18.0.23:8080" }]
"#;
    let shared = "[proxy] sections that share an address are one listener, which takes its first section's connection settings; write the same value in both, or leave it out of both";
    assert_eq!(
        errors(text),
        [
            format!(
                "6: proxy.b.timeout: 60 s (the default) differs from 30 s at proxy.a.timeout (line 3): {shared}"
            ),
            format!(
                "9: proxy.b.max_connections: 500 differs from 10000 (the default) of proxy.a (line 1): {shared}"
            ),
            // c shares only b's second address, but b is in a's group: a is its first.
            format!(
                "16: proxy.c.access_log: \"/var/log/had/c.log\" differs from none (the default) of proxy.a (line 1): {shared}"
            ),
        ]
    );
}

#[test]
fn member_keys_route_status_and_lbset() {
    let text = r#"[proxy.web]
listen = ["198.18.0.200:80"]

[[proxy.web.route]]
path = "/"
balancer = "app"

[balancer.app]
stickysession = "ROUTEID"
members = [
  { url = "http://198.18.0.21:8080", route = "a 1" },
  { url = "http://198.18.0.22:8080", route = "a2", status = "+H-D+N+I" },
  { url = "http://198.18.0.23:8080", route = "a3", status = "+S" },
  { url = "http://198.18.0.24:8080", route = "a4", status = "+E" },
  { url = "http://198.18.0.25:8080", route = "a5", status = "+X" },
  { url = "http://198.18.0.26:8080", route = "a6", lbset = 100 },
  { url = "http://198.18.0.21:8080", route = "a7", lbset = 99 },
]
"#;
    let flags = "had implements the flags H (hot standby), D (disabled), N (drain) and I (ignore errors); Apache's S (stopped) and E (in error) are states its balancer manager sets at run time; use +D to keep a member out of rotation";
    assert_eq!(
        errors(text),
        [
            "11: balancer.app.members.0.route: \"a 1\" is not a route name (a token: letters, digits and -._~!#$%&'*+^`|)".to_owned(),
            format!("13: balancer.app.members.2.status: \"+S\" is not supported: {flags}"),
            format!("14: balancer.app.members.3.status: \"+E\" is not supported: {flags}"),
            "15: balancer.app.members.4.status: \"+X\" is not an Apache status (flags: +H hot standby, +D disabled, +N drain, +I ignore errors)".to_owned(),
            "16: balancer.app.members.5.lbset: 100 is out of range (allowed 0-99)".to_owned(),
            "17: balancer.app.members.6.url: http://198.18.0.21:8080 is listed twice, also as balancer.app.members.0 (line 11)".to_owned(),
        ]
    );
}

#[test]
fn balancer_rules() {
    let text = r#"[proxy.web]
listen = ["198.18.0.200:80"]
[[proxy.web.route]]
path = "/a"
balancer = "a"
[[proxy.web.route]]
path = "/b"
balancer = "b"
[[proxy.web.route]]
path = "/c"
balancer = "c"
[[proxy.web.route]]
path = "/"
balancer = "d"

[balancer.a]
stickysession = "JSESSIONID|"
sticky_cookie = "route id"
members = [{ url = "http://198.18.0.21:8080", route = "a1" }]

[balancer.b]
stickysession = "JSESSIONID"
members = [{ url = "http://198.18.0.21:8080" }]

[balancer.c]
members = []
nofailover = true

[balancer.d]
scolonpathdelim = true
members = [{ url = "http://198.18.0.21:8080" }]
"#;
    assert_eq!(
        errors(text),
        [
            "17: balancer.a.stickysession: \"JSESSIONID|\" is not a cookie name, or COOKIE|PARAMETER (each a token: letters, digits, `-`, `_`, `.`)",
            "18: balancer.a.sticky_cookie: \"route id\" is not a cookie name (a token: letters, digits, `-`, `_`, `.`)",
            "22: balancer.b.stickysession: no member has a `route`, so no request could stick to one: give each member route = \"NAME\" (Apache's route=), the part of the session value after its first `.`",
            "26: balancer.c.members: must not be empty: one or more { url = \"http://HOST:PORT\" }",
            "27: balancer.c.nofailover: only has an effect with stickysession or sticky_cookie; remove it",
            "30: balancer.d.scolonpathdelim: only has an effect with stickysession or sticky_cookie; remove it",
        ]
    );
}

#[test]
fn a_balancer_has_at_most_64_members() {
    let members: Vec<String> = (0..65)
        .map(|i| format!("{{ url = \"http://198.18.1.{i}:8080\" }}"))
        .collect();
    let text = web(&format!(
        "[[proxy.web.route]]\npath = \"/\"\nbalancer = \"big\"\n[balancer.big]\nmembers = [{}]\n",
        members.join(", ")
    ));
    refused(
        &text,
        "7: balancer.big.members: 65 members is out of range (allowed 1-64)",
    );
}

#[test]
fn a_balancer_cannot_take_the_name_of_a_shorthand_proxy() {
    let text = r#"[proxy.web]
listen = ["198.18.0.200:80"]
members = [{ url = "http://198.18.0.21:8080" }]

[proxy.shop]
listen = ["198.18.0.200:81"]
[[proxy.shop.route]]
path = "/"
balancer = "web"

[balancer.web]
members = [{ url = "http://198.18.0.22:8080" }]
"#;
    assert_eq!(
        errors(text),
        [
            "11: balancer.web: `web` also names the balancer of proxy.web (line 1)'s members shorthand; rename one of them"
        ]
    );
}

// ---------------------------------------------------------------- warnings

#[test]
fn a_route_after_one_that_matches_everything_it_could_is_a_warning() {
    let text = web("[[proxy.web.route]]\npath = \"/\"\nbalancer = \"app\"\n\
         [[proxy.web.route]]\npath = \"/static\"\nexclude = true\n\
         [[proxy.web.route]]\npath_regex = \"\\\\.php$\"\nbalancer = \"app\"\n");
    let earlier = "proxy.web.route.0 (line 3) with path \"/\" comes first and matches every path this one could (the first matching route wins); put the longer path first";
    assert_eq!(
        warnings(&text),
        [
            format!("7: proxy.web.route.1.path: this route is never used: {earlier}"),
            format!("10: proxy.web.route.2.path_regex: this route is never used: {earlier}"),
        ]
    );
    let text = web("[[proxy.web.route]]\npath = \"/api\"\nbalancer = \"app\"\n\
         [[proxy.web.route]]\npath = \"/api/v2/\"\nbalancer = \"app\"\n\
         [[proxy.web.route]]\npath = \"/apiv3\"\nbalancer = \"app\"\n\
         [[proxy.web.route]]\npath = \"/\"\nbalancer = \"app\"\n");
    assert_eq!(
        warnings(&text),
        [
            "7: proxy.web.route.1.path: this route is never used: proxy.web.route.0 (line 3) with path \"/api\" comes first and matches every path this one could (the first matching route wins); put the longer path first"
        ]
    );
}

#[test]
fn unused_balancers_overlapping_hosts_and_unread_routes_are_warnings() {
    let text = r#"[proxy.any]
listen = ["198.18.0.200:80"]
server_name = "example.com"
server_alias = ["*.example.com"]
[[proxy.any.route]]
path = "/"
balancer = "app"

[proxy.shop]
listen = ["198.18.0.200:80"]
server_name = "shop.example.com"
[[proxy.shop.route]]
path = "/"
balancer = "app"

[balancer.app]
members = [{ url = "http://198.18.0.21:8080", route = "a1" }]

[balancer.old]
stickysession = "ROUTEID"
members = [
  { url = "http://198.18.0.21:8080", route = "a1" },
  { url = "http://198.18.0.22:8080", route = "a1" },
]
"#;
    assert_eq!(
        warnings(text),
        [
            "11: proxy.shop.server_name: `shop.example.com` also matches `*.example.com` of proxy.any.server_alias.0 (line 4) on 198.18.0.200:80, which comes first in the file and so gets these requests; move this [proxy] above it, or narrow the pattern",
            "17: balancer.app.members.0.route: has no effect: its balancer has no stickysession or sticky_cookie, so no request names a route",
            "19: balancer.old: no route sends to this balancer: it is started but never used",
            "23: balancer.old.members.1.route: route `a1` is also the route of balancer.old.members.0 (line 22): a sticky request for it always goes to the first",
        ]
    );
}
