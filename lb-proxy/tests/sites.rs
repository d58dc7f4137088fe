//! The routing model (issue 11) against real members on 127.0.0.1: virtual
//! hosts chosen by `Host`, ordered routes (`ProxyPass`, `ProxyPassMatch`,
//! `ProxyPass PATH !`, directories, `Redirect`/`RedirectMatch`), Apache's
//! literal join and had's own, named balancers shared by routes,
//! `ProxyPassReverse` per route, sticky sessions, `bytraffic`, `lbset`,
//! `+H`, `+N`, `+I`, and reload. Each test asserts which member got the
//! request, with which path and `Host`, and what the client got.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Conn, full, member, raw, start};
use http::{HeaderMap, Request, Response};
use lb_proxy::{
    BalancerConfig, LbMethod, MemberConfig, MemberStatus, PathMatch, ProxyConfig, ProxyHandle,
    RouteAction, RouteConfig, StickyConfig, VirtualHostConfig,
};

// ---------------------------------------------------------------------------
// Members, requests and configs
// ---------------------------------------------------------------------------

/// A member that answers `NAME TARGET HOST`: who it is, the request-target
/// it received and the `Host` it was sent. A target whose last segment is
/// `redirect` is answered `302` with `Location: http://HOST/…/moved` (the
/// same directory on the member itself), for `ProxyPassReverse`.
async fn echo(name: &'static str) -> common::Member {
    member(move |req| async move {
        let target = req.uri().to_string();
        let host = req
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        let path = req.uri().path();
        if let Some(dir) = path.strip_suffix("redirect")
            && dir.ends_with('/')
        {
            return Response::builder()
                .status(302)
                .header("location", format!("http://{host}{dir}moved"))
                .body(full(format!("{name} {target} {host}")))
                .unwrap_or_else(|_| Response::new(full("")));
        }
        Response::new(full(format!("{name} {target} {host}")))
    })
    .await
}

/// A member that answers `body` to everything.
async fn answering(body: &'static [u8]) -> common::Member {
    member(move |_req| async move { Response::new(full(body)) }).await
}

/// What the client got.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    /// The first word of the body: which echo member answered.
    fn by(&self) -> &str {
        self.body.split(' ').next().unwrap_or("")
    }

    /// The target the echo member received.
    fn target(&self) -> &str {
        self.body.split(' ').nth(1).unwrap_or("")
    }

    /// The `Host` the echo member received.
    fn host(&self) -> &str {
        self.body.split(' ').nth(2).unwrap_or("")
    }

    /// A response header as text.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `METHOD PATH` with `Host: host` and `extra` headers on a new connection
/// to `addr`; bounded by 10 s.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: &str,
    extra: &[(&str, &str)],
) -> Answer {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", host);
    for (name, value) in extra {
        b = b.header(*name, *value);
    }
    let req = b.body(full("")).expect("request");
    let exchange = async {
        let mut conn = Conn::open(addr).await;
        conn.send(req).await
    };
    let (resp, body) = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("answer within 10 s");
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// `GET PATH` with `Host: host`.
async fn get(addr: SocketAddr, path: &str, host: &str) -> Answer {
    send(addr, "GET", path, host, &[]).await
}

/// `GET PATH` with `Host: app.test` and a `Cookie`.
async fn with_cookie(addr: SocketAddr, path: &str, cookie: &str) -> Answer {
    send(addr, "GET", path, "app.test", &[("cookie", cookie)]).await
}

/// Which members answered `n` plain requests for `path`, as a string of
/// their names (`"ABAB"`).
async fn sequence(addr: SocketAddr, n: usize, path: &str) -> String {
    let mut out = String::new();
    for _ in 0..n {
        let a = get(addr, path, "app.test").await;
        assert_eq!(a.status, 200, "{a:?}");
        out.push_str(a.by());
    }
    out
}

/// Stops `m` and waits (at most 5 s) until its port refuses connections.
async fn kill(m: &common::Member) {
    m.kill();
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(m.addr).await.is_ok() {
        assert!(Instant::now() < deadline, "{} still accepts", m.addr);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A URL whose port refuses connections.
fn dead_url() -> String {
    let l = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}

/// Two distinct free loopback addresses.
fn two_free_addrs() -> (SocketAddr, SocketAddr) {
    let bind = || std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
    let (a, b) = (bind(), bind());
    (a.local_addr().expect("addr"), b.local_addr().expect("addr"))
}

/// `m` as a balancer member.
fn m(member: &common::Member) -> MemberConfig {
    MemberConfig::new(member.url())
}

/// `m` as a balancer member with Apache's `route=`.
fn routed(member: &common::Member, route: &str) -> MemberConfig {
    MemberConfig {
        route: Some(route.to_owned()),
        ..MemberConfig::new(member.url())
    }
}

/// `ProxyPass PATH balancer://NAME` with had's own join (`to: None`).
fn proxy(prefix: &str, balancer: &str) -> RouteConfig {
    RouteConfig {
        path: PathMatch::Prefix(prefix.to_owned()),
        action: RouteAction::Proxy {
            balancer: balancer.to_owned(),
            to: None,
            pass_reverse: false,
        },
    }
}

/// `ProxyPass PATH balancer://NAME{to}` with Apache's literal join.
fn pass(prefix: &str, balancer: &str, to: &str) -> RouteConfig {
    RouteConfig {
        path: PathMatch::Prefix(prefix.to_owned()),
        action: RouteAction::Proxy {
            balancer: balancer.to_owned(),
            to: Some(to.to_owned()),
            pass_reverse: false,
        },
    }
}

/// The same route with `ProxyPassReverse`.
fn reversed(mut r: RouteConfig) -> RouteConfig {
    if let RouteAction::Proxy { pass_reverse, .. } = &mut r.action {
        *pass_reverse = true;
    }
    r
}

/// `ProxyPass PATH !`, served from `directory` or 404.
fn local(prefix: &str, directory: Option<PathBuf>) -> RouteConfig {
    RouteConfig {
        path: PathMatch::Prefix(prefix.to_owned()),
        action: RouteAction::Local {
            directory,
            full_path: false,
        },
    }
}

/// A virtual host answering `server_name` and `aliases`.
fn vhost(
    name: &str,
    server_name: &str,
    aliases: &[&str],
    routes: Vec<RouteConfig>,
) -> VirtualHostConfig {
    VirtualHostConfig {
        name: name.to_owned(),
        listen: Vec::new(),
        server_name: Some(server_name.to_owned()),
        server_alias: aliases.iter().map(|a| (*a).to_owned()).collect(),
        preserve_host: false,
        routes,
    }
}

/// One listener on a free loopback port with these hosts and balancers.
fn sites(vhosts: Vec<VirtualHostConfig>, balancers: Vec<BalancerConfig>) -> ProxyConfig {
    ProxyConfig {
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        vhosts,
        balancers,
        workers: Some(2),
        ..ProxyConfig::default()
    }
}

/// A proxy with one host (`app.test`) whose only route sends `/` to one
/// balancer named `app`.
fn one_balancer(b: BalancerConfig) -> ProxyHandle {
    start(sites(
        vec![vhost("app", "app.test", &[], vec![proxy("/", &b.name)])],
        vec![b],
    ))
}

/// The proxy's first address.
fn addr(p: &ProxyHandle) -> SocketAddr {
    p.local_addrs()[0]
}

/// A member's counters in balancer `balancer`.
fn stats_of(p: &ProxyHandle, balancer: &str, url: &str) -> lb_proxy::MemberStats {
    p.stats()
        .balancers
        .into_iter()
        .find(|b| b.name == balancer)
        .and_then(|b| b.members.into_iter().find(|m| m.url == url))
        .unwrap_or_else(|| panic!("{url} in balancer {balancer}"))
}

/// The config error's field and reason.
fn config_error(c: &ProxyConfig) -> (String, String) {
    match c.validate() {
        Err(lb_proxy::Error::Config { field, reason }) => (field, reason),
        other => panic!("expected a config error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// 1. Name-based virtual hosts
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_picks_the_virtual_host_by_name_alias_and_wildcard_else_the_first() {
    let (a, b, c) = (echo("A").await, echo("B").await, echo("C").await);
    let mut third = vhost("third", "api.example.net", &[], vec![proxy("/", "c")]);
    third.preserve_host = true;
    let p = start(sites(
        vec![
            vhost(
                "first",
                "www.example.com",
                &["example.com"],
                vec![proxy("/", "a")],
            ),
            vhost(
                "second",
                "shop.example.org",
                &["store.example.org", "*.example.com"],
                vec![proxy("/", "b")],
            ),
            third,
        ],
        vec![
            BalancerConfig::new("a", vec![m(&a)]),
            BalancerConfig::new("b", vec![m(&b)]),
            BalancerConfig::new("c", vec![m(&c)]),
        ],
    ));
    let front = addr(&p);
    for (host, by) in [
        // ServerName, exact.
        ("www.example.com", "A"),
        // ServerAlias, exact.
        ("example.com", "A"),
        // Without case, and the port is not part of the name.
        ("WWW.Example.COM:8080", "A"),
        ("shop.example.org", "B"),
        ("STORE.example.org:80", "B"),
        // The wildcard alias; www.example.com above is the first host's
        // because hosts are tried in order.
        ("img.example.com", "B"),
        ("a.b.example.com", "B"),
        ("api.example.net:8443", "C"),
        // No host has the name: the first (default) host.
        ("unknown.test", "A"),
        ("example.com.evil.test", "A"),
    ] {
        let got = get(front, "/page?q=1", host).await;
        assert_eq!(got.status, 200, "{host}");
        assert_eq!(got.by(), by, "Host: {host}");
        assert_eq!(got.target(), "/page?q=1", "Host: {host}");
    }
    // Without ProxyPreserveHost the member gets its own authority; with it
    // (the third host) the client's Host, port included.
    assert_eq!(
        get(front, "/", "www.example.com").await.host(),
        a.addr.to_string()
    );
    assert_eq!(
        get(front, "/", "img.example.com").await.host(),
        b.addr.to_string()
    );
    assert_eq!(
        get(front, "/", "api.example.net:8443").await.host(),
        "api.example.net:8443"
    );
    // RFC 9112 §3.2.2: an absolute-form target's authority replaces Host,
    // and picks the host.
    let (text, _) = raw(
        front,
        b"GET http://shop.example.org/abs HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(text.ends_with(&format!("B /abs {}", b.addr)), "{text}");
    // HTTP/1.0 may omit Host: the first host serves it.
    let (text, _) = raw(
        front,
        b"GET /old-client HTTP/1.0\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(text.starts_with("HTTP/1."), "{text}");
    assert!(text.contains(" 200 "), "{text}");
    assert!(
        text.ends_with(&format!("A /old-client {}", a.addr)),
        "{text}"
    );
    assert_eq!(a.hits(), 7);
    assert_eq!(b.hits(), 6);
    assert_eq!(c.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_with_a_trailing_dot_names_the_same_host() {
    let (a, b) = (echo("A").await, echo("B").await);
    let p = start(sites(
        vec![
            vhost("first", "default.example.com", &[], vec![proxy("/", "a")]),
            vhost(
                "second",
                "www.example.com",
                &["*.example.org"],
                vec![proxy("/", "b")],
            ),
        ],
        vec![
            BalancerConfig::new("a", vec![m(&a)]),
            BalancerConfig::new("b", vec![m(&b)]),
        ],
    ));
    for host in [
        "www.example.com.",
        "WWW.example.com.:8080",
        "img.example.org.",
    ] {
        assert_eq!(get(addr(&p), "/", host).await.by(), "B", "Host: {host}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_virtual_host_restricted_to_one_address_is_not_served_on_the_other() {
    let (a, b) = (echo("A").await, echo("B").await);
    let (one, two) = two_free_addrs();
    let mut only_one = vhost("only-one", "www.example.com", &[], vec![proxy("/", "a")]);
    only_one.listen = vec![one];
    let everywhere = vhost(
        "everywhere",
        "other.example.com",
        &[],
        vec![proxy("/", "b")],
    );
    let p = start(ProxyConfig {
        listen: vec![one, two],
        ..sites(
            vec![only_one, everywhere],
            vec![
                BalancerConfig::new("a", vec![m(&a)]),
                BalancerConfig::new("b", vec![m(&b)]),
            ],
        )
    });
    assert_eq!(p.local_addrs(), &[one, two]);
    // On the first address the host is served, and is the default.
    assert_eq!(get(one, "/", "www.example.com").await.by(), "A");
    assert_eq!(get(one, "/", "nobody.test").await.by(), "A");
    assert_eq!(get(one, "/", "other.example.com").await.by(), "B");
    // On the second, its name means nothing: the second address's first
    // (and only) host answers.
    assert_eq!(get(two, "/", "www.example.com").await.by(), "B");
    assert_eq!(get(two, "/", "nobody.test").await.by(), "B");
    assert_eq!(a.hits(), 2);
    assert_eq!(b.hits(), 3);
}

#[test]
fn two_hosts_with_one_name_on_one_address_are_refused_naming_both() {
    let (one, two) = (
        "127.0.0.1:18001".parse::<SocketAddr>().expect("addr"),
        "127.0.0.1:18002".parse::<SocketAddr>().expect("addr"),
    );
    let balancers = vec![BalancerConfig::new(
        "b",
        vec![MemberConfig::new("http://127.0.0.1:1")],
    )];
    let host = |name: &str, server_name: &str, aliases: &[&str], listen: &[SocketAddr]| {
        VirtualHostConfig {
            listen: listen.to_vec(),
            ..vhost(name, server_name, aliases, vec![proxy("/", "b")])
        }
    };
    let config = |vhosts| ProxyConfig {
        listen: vec![one, two],
        ..sites(vhosts, balancers.clone())
    };
    // Both on every address.
    let (field, reason) = config_error(&config(vec![
        host("first", "www.example.com", &[], &[]),
        host("second", "www.example.com", &[], &[]),
    ]));
    assert_eq!(field, "vhosts[1].server_name");
    assert!(reason.contains("\"www.example.com\""), "{reason}");
    assert!(reason.contains("first"), "{reason}");
    // An alias of the second equal, without case, to the first's name, on
    // the one address they share.
    let (field, reason) = config_error(&config(vec![
        host("first", "www.example.com", &[], &[one]),
        host(
            "second",
            "shop.example.com",
            &["WWW.example.com"],
            &[one, two],
        ),
    ]));
    assert_eq!(field, "vhosts[1].server_name");
    assert!(reason.contains("www.example.com"), "{reason}");
    assert!(reason.contains("first"), "{reason}");
    // One restricted to an address, the other on all of them: they share it.
    let (field, _) = config_error(&config(vec![
        host("first", "www.example.com", &[], &[]),
        host("third", "x.test", &[], &[two]),
        host("second", "www.example.com", &[], &[one]),
    ]));
    assert_eq!(field, "vhosts[2].server_name");
    // The same name on two different addresses is two sites.
    config(vec![
        host("first", "www.example.com", &[], &[one]),
        host("second", "www.example.com", &[], &[two]),
    ])
    .validate()
    .expect("one name on two addresses is fine");
}

#[test]
fn routing_config_errors_name_the_field() {
    let (one, two) = (
        "127.0.0.1:18001".parse::<SocketAddr>().expect("addr"),
        "127.0.0.1:18002".parse::<SocketAddr>().expect("addr"),
    );
    let good = || ProxyConfig {
        listen: vec![one],
        ..sites(
            vec![vhost("app", "app.test", &[], vec![proxy("/", "b")])],
            vec![BalancerConfig::new(
                "b",
                vec![MemberConfig::new("http://127.0.0.1:1")],
            )],
        )
    };
    good().validate().expect("the base config is valid");
    let route = |r: RouteConfig| {
        let mut c = good();
        c.vhosts[0].routes.insert(0, r);
        c
    };
    let cases: Vec<(ProxyConfig, &str, &str)> = vec![
        (
            route(proxy("/x", "nope")),
            "vhosts[0].routes[0].balancer",
            "\"nope\"",
        ),
        (
            route(pass("/x", "b", "v1")),
            "vhosts[0].routes[0].to",
            "\"v1\"",
        ),
        (
            route(RouteConfig {
                path: PathMatch::Regex("(".into()),
                action: RouteAction::Local {
                    directory: None,
                    full_path: false,
                },
            }),
            "vhosts[0].routes[0].path_regex",
            "(",
        ),
        (route(proxy("x", "b")), "vhosts[0].routes[0].path", "x"),
        (
            route(RouteConfig {
                path: PathMatch::Prefix("/old".into()),
                action: RouteAction::Redirect {
                    status: 200,
                    to: "https://new.example.com/".into(),
                },
            }),
            "vhosts[0].routes[0].status",
            "200",
        ),
        (
            route(local(
                "/f",
                Some(PathBuf::from("/nonexistent/had-test-dir")),
            )),
            "vhosts[0].routes[0].directory",
            "/nonexistent/had-test-dir",
        ),
        (
            {
                let mut c = good();
                c.balancers.push(c.balancers[0].clone());
                c
            },
            "balancers[1].name",
            "\"b\"",
        ),
        (
            {
                let mut c = good();
                c.balancers[0]
                    .members
                    .push(MemberConfig::new("ftp://127.0.0.1:2"));
                c
            },
            "balancers[0].members[1].url",
            "ftp",
        ),
        (
            {
                let mut c = good();
                c.balancers[0].sticky = Some(sticky(Some("JSESSIONID"), None));
                c
            },
            "balancers[0].sticky",
            "route",
        ),
        (
            {
                let mut c = good();
                c.members = vec![MemberConfig::new("http://127.0.0.1:3")];
                c
            },
            "members",
            "vhosts",
        ),
        (
            {
                let mut c = good();
                c.vhosts.clear();
                c.members = vec![MemberConfig::new("http://127.0.0.1:3")];
                c
            },
            "balancers",
            "vhosts",
        ),
        (
            {
                let mut c = good();
                c.vhosts[0].listen = vec![two];
                c
            },
            "vhosts[0].listen",
            "127.0.0.1:18002",
        ),
        (
            {
                let mut c = good();
                c.listen.push(two);
                c.vhosts[0].listen = vec![one];
                c
            },
            "listen",
            "127.0.0.1:18002",
        ),
        (
            {
                let mut c = good();
                c.vhosts[0].server_alias = vec!["bad name".into()];
                c
            },
            "vhosts[0].server_name",
            "bad name",
        ),
    ];
    for (config, field, text) in cases {
        let (got, reason) = config_error(&config);
        assert_eq!(got, field, "{reason}");
        assert!(reason.contains(text), "{field}: {reason}");
    }
}

// ---------------------------------------------------------------------------
// 2. Routes in order
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_are_tried_in_order_and_the_first_match_wins() {
    let (api, admin, shop, web) = (
        echo("API").await,
        echo("ADMIN").await,
        echo("SHOP").await,
        echo("WEB").await,
    );
    let p = start(sites(
        vec![vhost(
            "app",
            "app.test",
            &[],
            vec![
                local("/static/", None),
                proxy("/api", "api"),
                // Never reached: `/api` above matches first.
                proxy("/api/admin", "admin"),
                proxy("/shop", "shop"),
                proxy("/", "web"),
            ],
        )],
        vec![
            BalancerConfig::new("api", vec![m(&api)]),
            BalancerConfig::new("admin", vec![m(&admin)]),
            BalancerConfig::new("shop", vec![m(&shop)]),
            BalancerConfig::new("web", vec![m(&web)]),
        ],
    ));
    let front = addr(&p);
    for (path, by, target) in [
        ("/api/users?id=7", "API", "/users?id=7"),
        ("/api/admin/x", "API", "/admin/x"),
        ("/shop/cart", "SHOP", "/cart"),
        ("/shopping", "WEB", "/shopping"),
        ("/other", "WEB", "/other"),
        // `/static/` needs its slash: `/static` alone is the next route's.
        ("/static", "WEB", "/static"),
    ] {
        let got = get(front, path, "app.test").await;
        assert_eq!(
            (got.status, got.by(), got.target()),
            (200, by, target),
            "{path}"
        );
    }
    // `ProxyPass /static/ !`: answered 404 by the proxy, no member asked.
    let hits = || [&api, &admin, &shop, &web].map(common::Member::hits);
    let before = hits();
    for path in ["/static/logo.png", "/static/", "/static/a/b?c=d"] {
        let got = get(front, path, "app.test").await;
        assert_eq!(
            (got.status, got.body.as_str()),
            (404, "not found\n"),
            "{path}"
        );
    }
    assert_eq!(hits(), before, "an excluded path reached a member");
    assert_eq!(admin.hits(), 0);
}

/// A directory with `public/hello.txt` and `public/sub/index.html`
/// (served) and `secret.txt` beside `public` (never served).
fn document_root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let public = dir.path().join("public");
    std::fs::create_dir(&public).expect("mkdir");
    std::fs::write(public.join("hello.txt"), "hello world\n").expect("write");
    std::fs::create_dir(public.join("sub")).expect("mkdir");
    std::fs::write(public.join("sub").join("index.html"), "sub index\n").expect("write");
    std::fs::write(dir.path().join("secret.txt"), "TOP SECRET\n").expect("write");
    (dir, public)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_route_serves_files_with_head_ranges_and_conditionals() {
    let web = echo("WEB").await;
    let (_dir, public) = document_root();
    let p = start(sites(
        vec![vhost(
            "app",
            "app.test",
            &[],
            vec![local("/files", Some(public)), proxy("/", "web")],
        )],
        vec![BalancerConfig::new("web", vec![m(&web)])],
    ));
    let front = addr(&p);
    let got = get(front, "/files/hello.txt?v=1", "app.test").await;
    assert_eq!((got.status, got.body.as_str()), (200, "hello world\n"));
    assert_eq!(got.header("content-length"), Some("12"));
    assert!(
        got.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{got:?}"
    );
    let last_modified = got
        .header("last-modified")
        .expect("Last-Modified")
        .to_owned();
    // HEAD: the same head, no body.
    let head = send(front, "HEAD", "/files/hello.txt", "app.test", &[]).await;
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    assert_eq!(head.header("content-length"), Some("12"));
    // A range: 206 with the bytes asked for.
    let part = send(
        front,
        "GET",
        "/files/hello.txt",
        "app.test",
        &[("range", "bytes=0-4")],
    )
    .await;
    assert_eq!((part.status, part.body.as_str()), (206, "hello"));
    assert_eq!(part.header("content-range"), Some("bytes 0-4/12"));
    let tail = send(
        front,
        "GET",
        "/files/hello.txt",
        "app.test",
        &[("range", "bytes=-6")],
    )
    .await;
    assert_eq!((tail.status, tail.body.as_str()), (206, "world\n"));
    // Not modified since the last fetch: 304 without a body.
    let cached = send(
        front,
        "GET",
        "/files/hello.txt",
        "app.test",
        &[("if-modified-since", &last_modified)],
    )
    .await;
    assert_eq!((cached.status, cached.body.as_str()), (304, ""));
    // Modified since a date long ago: the file.
    let stale = send(
        front,
        "GET",
        "/files/hello.txt",
        "app.test",
        &[("if-modified-since", "Fri, 09 Aug 1996 14:21:40 GMT")],
    )
    .await;
    assert_eq!((stale.status, stale.body.as_str()), (200, "hello world\n"));
    // A directory with its slash: its index.html.
    let index = get(front, "/files/sub/", "app.test").await;
    assert_eq!((index.status, index.body.as_str()), (200, "sub index\n"));
    // A missing file: 404, not the next route.
    assert_eq!(get(front, "/files/nope.txt", "app.test").await.status, 404);
    assert_eq!(web.hits(), 0, "every request was the directory's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_route_answers_if_none_match() {
    let (_dir, public) = document_root();
    let web = echo("WEB").await;
    let p = start(sites(
        vec![vhost(
            "app",
            "app.test",
            &[],
            vec![local("/files", Some(public)), proxy("/", "web")],
        )],
        vec![BalancerConfig::new("web", vec![m(&web)])],
    ));
    let front = addr(&p);
    let got = get(front, "/files/hello.txt", "app.test").await;
    assert_eq!(got.status, 200);
    let last_modified = got.header("last-modified").unwrap_or_default().to_owned();
    // RFC 9110 §13.2.2: If-None-Match is evaluated first, and when present
    // If-Modified-Since is ignored; a tag that does not match means the
    // client's copy is stale whatever its date.
    let stale_tag = send(
        front,
        "GET",
        "/files/hello.txt",
        "app.test",
        &[
            ("if-none-match", "\"not-the-current-tag\""),
            ("if-modified-since", &last_modified),
        ],
    )
    .await;
    assert_eq!(
        (stale_tag.status, stale_tag.body.as_str()),
        (200, "hello world\n"),
        "a non-matching If-None-Match must win over If-Modified-Since"
    );
    // RFC 9110 §13.1.2: `*` matches any current representation.
    let any = send(
        front,
        "GET",
        "/files/hello.txt",
        "app.test",
        &[("if-none-match", "*")],
    )
    .await;
    assert_eq!(any.status, 304, "If-None-Match: * on an existing file");
    // Apache (FileETag MTime Size) sends an ETag and honours it.
    let etag = got
        .header("etag")
        .expect("an ETag, as Apache sends")
        .to_owned();
    let same = send(
        front,
        "GET",
        "/files/hello.txt",
        "app.test",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!((same.status, same.body.as_str()), (304, ""));
    assert_eq!(same.header("etag"), Some(etag.as_str()));
    // The weak form of the same tag matches If-None-Match (weak comparison).
    let weak = format!("W/{etag}");
    let same = send(
        front,
        "GET",
        "/files/hello.txt",
        "app.test",
        &[("if-none-match", &weak)],
    )
    .await;
    assert_eq!(same.status, 304);
    // If-Match: strong comparison; another tag is 412, this one serves.
    let other = send(
        front,
        "GET",
        "/files/hello.txt",
        "app.test",
        &[("if-match", "\"other\"")],
    )
    .await;
    assert_eq!(other.status, 412);
    let this = send(
        front,
        "GET",
        "/files/hello.txt",
        "app.test",
        &[("if-match", &etag)],
    )
    .await;
    assert_eq!((this.status, this.body.as_str()), (200, "hello world\n"));
    // If-Range with this tag: the range; with a stale one: the whole file.
    let ranged = send(
        front,
        "GET",
        "/files/hello.txt",
        "app.test",
        &[("range", "bytes=0-4"), ("if-range", &etag)],
    )
    .await;
    assert_eq!((ranged.status, ranged.body.as_str()), (206, "hello"));
    let stale = send(
        front,
        "GET",
        "/files/hello.txt",
        "app.test",
        &[("range", "bytes=0-4"), ("if-range", "\"stale\"")],
    )
    .await;
    assert_eq!((stale.status, stale.body.as_str()), (200, "hello world\n"));
}

/// `DocumentRoot` (`full_path`): the whole request path is looked up, so
/// `ProxyPass /hello.txt !` serves `public/hello.txt`; as an `Alias` the
/// same route would look for `public/` + nothing after the prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_root_route_looks_up_the_whole_path() {
    let web = echo("WEB").await;
    let (_dir, public) = document_root();
    let root = |prefix: &str| RouteConfig {
        path: PathMatch::Prefix(prefix.to_owned()),
        action: RouteAction::Local {
            directory: Some(public.clone()),
            full_path: true,
        },
    };
    let p = start(sites(
        vec![vhost(
            "app",
            "app.test",
            &[],
            vec![root("/hello.txt"), root("/sub"), proxy("/", "web")],
        )],
        vec![BalancerConfig::new("web", vec![m(&web)])],
    ));
    let front = addr(&p);
    let got = get(front, "/hello.txt", "app.test").await;
    assert_eq!((got.status, got.body.as_str()), (200, "hello world\n"));
    let got = get(front, "/sub/", "app.test").await;
    assert_eq!((got.status, got.body.as_str()), (200, "sub index\n"));
    let got = get(front, "/sub/missing.txt", "app.test").await;
    assert_eq!(got.status, 404);
    // Not under either route: the member.
    let got = get(front, "/hello.txt.bak", "app.test").await;
    assert_eq!(got.status, 200);
    assert!(got.body.starts_with("WEB /hello.txt.bak "), "{got:?}");
}

/// `Alias /favicon.ico /srv/www/favicon.ico`: one file, for the route's own
/// path and nothing below it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_to_one_file_serves_it_for_its_path_alone() {
    let web = echo("WEB").await;
    let (_dir, public) = document_root();
    let p = start(sites(
        vec![vhost(
            "app",
            "app.test",
            &[],
            vec![
                local("/favicon.ico", Some(public.join("hello.txt"))),
                proxy("/", "web"),
            ],
        )],
        vec![BalancerConfig::new("web", vec![m(&web)])],
    ));
    let front = addr(&p);
    let got = get(front, "/favicon.ico", "app.test").await;
    assert_eq!((got.status, got.body.as_str()), (200, "hello world\n"));
    assert!(got.header("etag").is_some(), "{got:?}");
    for below in ["/favicon.ico/", "/favicon.ico/x"] {
        assert_eq!(get(front, below, "app.test").await.status, 404, "{below}");
    }
    assert_eq!(web.hits(), 0);
}

/// The methods of Apache's core handler on a file: POST is served as GET,
/// OPTIONS lists what is allowed, anything else is 405 with `Allow`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_route_answers_the_methods_apaches_core_handler_does() {
    let web = echo("WEB").await;
    let (_dir, public) = document_root();
    let p = start(sites(
        vec![vhost(
            "app",
            "app.test",
            &[],
            vec![local("/files", Some(public)), proxy("/", "web")],
        )],
        vec![BalancerConfig::new("web", vec![m(&web)])],
    ));
    let front = addr(&p);
    let got = send(front, "POST", "/files/hello.txt", "app.test", &[]).await;
    assert_eq!((got.status, got.body.as_str()), (200, "hello world\n"));
    assert_eq!(
        send(front, "POST", "/files/none.txt", "app.test", &[])
            .await
            .status,
        404
    );
    let got = send(front, "OPTIONS", "/files/hello.txt", "app.test", &[]).await;
    assert_eq!((got.status, got.body.as_str()), (200, ""));
    assert_eq!(got.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    for method in ["PUT", "DELETE", "PATCH"] {
        let got = send(front, method, "/files/hello.txt", "app.test", &[]).await;
        assert_eq!(got.status, 405, "{method}");
        assert_eq!(
            got.header("allow"),
            Some("GET, HEAD, POST, OPTIONS"),
            "{method}"
        );
    }
    assert_eq!(web.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_without_its_slash_is_redirected_under_the_routes_path() {
    let web = echo("WEB").await;
    let (_dir, public) = document_root();
    let p = start(sites(
        vec![vhost(
            "app",
            "app.test",
            &[],
            vec![local("/files", Some(public)), proxy("/", "web")],
        )],
        vec![BalancerConfig::new("web", vec![m(&web)])],
    ));
    let front = addr(&p);
    let got = get(front, "/files/sub?x=1", "app.test").await;
    assert!(matches!(got.status, 301 | 302 | 307 | 308), "{got:?}");
    let location = got.header("location").unwrap_or_default();
    assert!(
        location == "/files/sub/?x=1" || location == "http://app.test/files/sub/?x=1",
        "Location: {location}"
    );
    assert_eq!(web.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_route_cannot_be_left_with_dot_segments() {
    let web = echo("WEB").await;
    let (_dir, public) = document_root();
    let p = start(sites(
        vec![vhost(
            "app",
            "app.test",
            &[],
            vec![local("/files", Some(public)), proxy("/", "web")],
        )],
        vec![BalancerConfig::new("web", vec![m(&web)])],
    ));
    let front = addr(&p);
    // Plain and %2e dot segments are removed before routing: the path
    // leaves the directory's route altogether and goes to the next one.
    for path in ["/files/../secret.txt", "/files/%2e%2e/secret.txt"] {
        let got = get(front, path, "app.test").await;
        assert_eq!(
            (got.status, got.by(), got.target()),
            (200, "WEB", "/secret.txt"),
            "{path}"
        );
    }
    // Above the root: refused.
    assert_eq!(
        get(front, "/files/../../secret.txt", "app.test")
            .await
            .status,
        400
    );
    // An encoded slash keeps `..` inside one segment past routing; the
    // directory route must still not climb out.
    for path in [
        "/files/..%2fsecret.txt",
        "/files/%2e%2e%2fsecret.txt",
        "/files/..%2F..%2Fsecret.txt",
        "/files/..%5csecret.txt",
        "/files/%2e%2e%5csecret.txt",
    ] {
        let got = get(front, path, "app.test").await;
        assert!(!got.body.contains("SECRET"), "{path}: {got:?}");
        assert!(
            got.status == 400 || got.status == 404,
            "{path}: {}",
            got.status
        );
    }
    assert_eq!(web.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_and_redirect_match_answer_without_a_member() {
    let web = echo("WEB").await;
    let redirect = |path: PathMatch, status: u16, to: &str| RouteConfig {
        path,
        action: RouteAction::Redirect {
            status,
            to: to.to_owned(),
        },
    };
    let p = start(sites(
        vec![vhost(
            "app",
            "app.test",
            &[],
            vec![
                redirect(
                    PathMatch::Prefix("/old".into()),
                    301,
                    "https://new.example.com/new",
                ),
                redirect(
                    PathMatch::Regex(r"^/img/(.*)\.gif$".into()),
                    302,
                    "https://cdn.example.com/images/$1.png",
                ),
                proxy("/", "web"),
            ],
        )],
        vec![BalancerConfig::new("web", vec![m(&web)])],
    ));
    let front = addr(&p);
    for (path, status, location) in [
        // Redirect: the target, then the rest of the path and the query.
        (
            "/old/a/b?x=1&y=2",
            301,
            "https://new.example.com/new/a/b?x=1&y=2",
        ),
        ("/old", 301, "https://new.example.com/new"),
        ("/old/", 301, "https://new.example.com/new/"),
        // RedirectMatch: $1 substituted; the query follows.
        (
            "/img/icons/logo.gif",
            302,
            "https://cdn.example.com/images/icons/logo.png",
        ),
        (
            "/img/x.gif?v=2",
            302,
            "https://cdn.example.com/images/x.png?v=2",
        ),
    ] {
        let got = get(front, path, "app.test").await;
        assert_eq!(got.status, status, "{path}");
        assert_eq!(got.header("location"), Some(location), "{path}");
    }
    // Outside both: proxied.
    for (path, target) in [("/older", "/older"), ("/img/x.png", "/img/x.png")] {
        let got = get(front, path, "app.test").await;
        assert_eq!((got.status, got.by(), got.target()), (200, "WEB", target));
    }
    assert_eq!(web.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_pass_match_substitutes_groups_or_appends_the_whole_path() {
    let (php, img, web) = (echo("PHP").await, echo("IMG").await, echo("WEB").await);
    let matching = |re: &str, balancer: &str, to: &str| RouteConfig {
        path: PathMatch::Regex(re.to_owned()),
        action: RouteAction::Proxy {
            balancer: balancer.to_owned(),
            to: Some(to.to_owned()),
            pass_reverse: false,
        },
    };
    let p = start(sites(
        vec![vhost(
            "app",
            "app.test",
            &[],
            vec![
                matching(r"^/(.*\.php)$", "php", "/fpm/$1"),
                // No $N: Apache appends the whole path.
                matching(r"\.jpg$", "img", "/img"),
                proxy("/", "web"),
            ],
        )],
        vec![
            BalancerConfig::new("php", vec![m(&php)]),
            BalancerConfig::new("img", vec![m(&img)]),
            BalancerConfig::new("web", vec![m(&web)]),
        ],
    ));
    let front = addr(&p);
    for (path, by, target) in [
        ("/a/index.php", "PHP", "/fpm/a/index.php"),
        ("/x.php?q=1", "PHP", "/fpm/x.php?q=1"),
        ("/pics/a.jpg", "IMG", "/img/pics/a.jpg"),
        ("/b.jpg?s=2", "IMG", "/img/b.jpg?s=2"),
        ("/x.php/more", "WEB", "/x.php/more"),
        ("/a.jpgx", "WEB", "/a.jpgx"),
    ] {
        let got = get(front, path, "app.test").await;
        assert_eq!(
            (got.status, got.by(), got.target()),
            (200, by, target),
            "{path}"
        );
    }
}

// ---------------------------------------------------------------------------
// 3. Apache's literal join and had's own
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literal_join_has_apaches_trailing_slash_pitfalls_and_own_join_has_none() {
    let (plain, based) = (echo("PLAIN").await, echo("BASED").await);
    let p = start(sites(
        vec![vhost(
            "app",
            "app.test",
            &[],
            vec![
                // ProxyPass /one balancer://plain/one/
                pass("/one", "plain", "/one/"),
                // ProxyPass /two/ balancer://plain/two
                pass("/two/", "plain", "/two"),
                // ProxyPass /api/ balancer://plain/v1/
                pass("/api/", "plain", "/v1/"),
                // ProxyPass /based/ balancer://based/v1/, member http://m/base
                pass("/based/", "based", "/v1/"),
                // ProxyPass /bad/ balancer://plain: no URL
                pass("/bad/", "plain", ""),
                // had's own join
                proxy("/own", "based"),
                proxy("/plain", "plain"),
            ],
        )],
        vec![
            BalancerConfig::new("plain", vec![m(&plain)]),
            BalancerConfig::new(
                "based",
                vec![MemberConfig::new(format!("{}/base", based.url()))],
            ),
        ],
    ));
    let front = addr(&p);
    for (path, by, target) in [
        // Apache documents both pitfalls: the rest is appended as is.
        ("/one/x", "PLAIN", "/one//x"),
        ("/one", "PLAIN", "/one/"),
        ("/two/x", "PLAIN", "/twox"),
        ("/api/x?q=1", "PLAIN", "/v1/x?q=1"),
        ("/api/", "PLAIN", "/v1/"),
        // The member's own path comes first.
        ("/based/x", "BASED", "/base/v1/x"),
        // had's own join: the prefix alone is the member's own path, the
        // rest starts with one slash.
        ("/own", "BASED", "/base"),
        ("/own?k=v", "BASED", "/base?k=v"),
        ("/own/x", "BASED", "/base/x"),
        ("/plain", "PLAIN", "/"),
        ("/plain/x", "PLAIN", "/x"),
        ("/plain/", "PLAIN", "/"),
    ] {
        let got = get(front, path, "app.test").await;
        assert_eq!(
            (got.status, got.by(), got.target()),
            (200, by, target),
            "{path}"
        );
        assert_eq!(
            got.host(),
            if by == "PLAIN" {
                plain.addr.to_string()
            } else {
                based.addr.to_string()
            },
            "{path}"
        );
    }
    let before = plain.hits();
    // `ProxyPass /bad/ balancer://plain` sends `/bad/x` to `http://m:Px`:
    // not a URL, so 500 and no member asked.
    let got = get(front, "/bad/x", "app.test").await;
    assert_eq!(got.status, 500, "{got:?}");
    assert_eq!(plain.hits(), before, "a URL-less join reached the member");
}

// ---------------------------------------------------------------------------
// 4. Named balancers shared by routes
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routes_share_one_balancer_its_members_and_counters() {
    let (a, b) = (echo("A").await, echo("B").await);
    let p = start(sites(
        vec![
            vhost("one", "one.test", &[], vec![proxy("/x", "shared")]),
            vhost("two", "two.test", &[], vec![pass("/", "shared", "/y/")]),
        ],
        vec![BalancerConfig::new("shared", vec![m(&a), m(&b)])],
    ));
    let front = addr(&p);
    // One round-robin over both routes: alternating routes alternate
    // members (separate schedules would give each route A first).
    let mut seen = Vec::new();
    for i in 0..6 {
        let got = if i % 2 == 0 {
            get(front, "/x/p", "one.test").await
        } else {
            get(front, "/p", "two.test").await
        };
        assert_eq!(got.status, 200);
        seen.push(format!("{} {}", got.by(), got.target()));
    }
    assert_eq!(seen, ["A /p", "B /y/p", "A /p", "B /y/p", "A /p", "B /y/p"]);
    let stats = p.stats();
    assert_eq!(stats.balancers.len(), 1);
    assert_eq!(stats.balancers[0].name, "shared");
    let requests: Vec<u64> = stats.balancers[0]
        .members
        .iter()
        .map(|s| s.requests)
        .collect();
    assert_eq!(requests, [3, 3]);
    assert_eq!(stats.members.len(), 2, "each member listed once");
    // Disabling a member takes it out of both routes.
    p.set_member_enabled(&a.url(), false).expect("known member");
    assert_eq!(get(front, "/x/q", "one.test").await.by(), "B");
    assert_eq!(get(front, "/q", "two.test").await.by(), "B");
}

// ---------------------------------------------------------------------------
// 5. ProxyPassReverse per route
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_pass_reverse_rewrites_under_each_routes_path() {
    let (plain, based) = (echo("PLAIN").await, echo("BASED").await);
    let p = start(sites(
        vec![vhost(
            "app",
            "app.test",
            &[],
            vec![
                reversed(pass("/api/", "plain", "/v1/")),
                reversed(proxy("/app", "based")),
                proxy("/raw", "plain"),
            ],
        )],
        vec![
            BalancerConfig::new("plain", vec![m(&plain)]),
            BalancerConfig::new(
                "based",
                vec![MemberConfig::new(format!("{}/base", based.url()))],
            ),
        ],
    ));
    let front = addr(&p);
    // Literal join: the member redirects to http://m/v1/moved.
    let got = get(front, "/api/redirect", "www.example.com").await;
    assert_eq!(
        (got.status, got.by(), got.target()),
        (302, "PLAIN", "/v1/redirect")
    );
    assert_eq!(
        got.header("location"),
        Some("http://www.example.com/api/moved")
    );
    // had's join: the member redirects to http://m/base/moved.
    let got = get(front, "/app/redirect", "www.example.com:8080").await;
    assert_eq!(
        (got.status, got.by(), got.target()),
        (302, "BASED", "/base/redirect")
    );
    assert_eq!(
        got.header("location"),
        Some("http://www.example.com:8080/app/moved")
    );
    // No ProxyPassReverse on this route: the member's URL stays.
    let got = get(front, "/raw/redirect", "www.example.com").await;
    assert_eq!(
        (got.status, got.by(), got.target()),
        (302, "PLAIN", "/redirect")
    );
    assert_eq!(
        got.header("location"),
        Some(format!("http://{}/moved", plain.addr).as_str())
    );
}

// ---------------------------------------------------------------------------
// 6. Sticky sessions
// ---------------------------------------------------------------------------

/// `stickysession=cookie|url`.
fn sticky(cookie: Option<&str>, url: Option<&str>) -> StickyConfig {
    StickyConfig {
        cookie: cookie.map(str::to_owned),
        url_param: url.map(str::to_owned),
        nofailover: false,
        scolon_path_delim: false,
        set_cookie: None,
    }
}

/// A balancer `app` over three echo members with routes node1..node3.
fn three_nodes(
    a: &common::Member,
    b: &common::Member,
    c: &common::Member,
    s: StickyConfig,
) -> BalancerConfig {
    BalancerConfig {
        sticky: Some(s),
        ..BalancerConfig::new(
            "app",
            vec![routed(a, "node1"), routed(b, "node2"), routed(c, "node3")],
        )
    }
}

/// Which members answered, sorted, e.g. `"ABC"`.
fn sorted(s: &str) -> String {
    let mut v: Vec<char> = s.chars().collect();
    v.sort_unstable();
    v.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sticky_cookie_or_url_parameter_sends_every_request_to_its_route() {
    let (a, b, c) = (echo("A").await, echo("B").await, echo("C").await);
    let p = one_balancer(three_nodes(
        &a,
        &b,
        &c,
        sticky(Some("JSESSIONID"), Some("jsessionid")),
    ));
    let front = addr(&p);
    // Cookie: every time.
    for cookie in [
        "JSESSIONID=abc.node2",
        "theme=dark; JSESSIONID=abc.node2",
        "JSESSIONID=abc.node2; theme=dark",
    ] {
        for _ in 0..3 {
            let got = with_cookie(front, "/cart", cookie).await;
            assert_eq!((got.status, got.by(), got.target()), (200, "B", "/cart"));
        }
    }
    // URL path parameter and query parameter; the member gets the target
    // unchanged.
    for path in ["/cart;jsessionid=x.node1", "/cart?jsessionid=x.node1&y=2"] {
        for _ in 0..3 {
            let got = get(front, path, "app.test").await;
            assert_eq!((got.status, got.by(), got.target()), (200, "A", path));
        }
    }
    // The URL is read before the cookie (Apache's find_session_route).
    let got = with_cookie(front, "/p?jsessionid=z.node3", "JSESSIONID=abc.node2").await;
    assert_eq!(got.by(), "C");
    // No dot, no route: balanced as usual, every member in turn.
    let mut seen = String::new();
    for _ in 0..6 {
        seen.push_str(with_cookie(front, "/p", "JSESSIONID=abc").await.by());
    }
    assert_eq!(sorted(&seen), "AABBCC", "{seen}");
    // A route no member has: balanced too.
    let mut seen = String::new();
    for _ in 0..3 {
        seen.push_str(with_cookie(front, "/p", "JSESSIONID=abc.node9").await.by());
    }
    assert_eq!(sorted(&seen), "ABC", "{seen}");
    // A cookie whose name only ends with the sticky name is another cookie.
    let mut seen = String::new();
    for _ in 0..3 {
        seen.push_str(with_cookie(front, "/p", "XJSESSIONID=abc.node2").await.by());
    }
    assert_eq!(sorted(&seen), "ABC", "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stickysession_name_pipe_urlname_reads_each_name_in_its_place() {
    let (a, b, c) = (echo("A").await, echo("B").await, echo("C").await);
    // stickysession=SESS|sid
    let p = one_balancer(three_nodes(&a, &b, &c, sticky(Some("SESS"), Some("sid"))));
    let front = addr(&p);
    for _ in 0..3 {
        assert_eq!(with_cookie(front, "/p", "SESS=q.node2").await.by(), "B");
        assert_eq!(get(front, "/p?sid=q.node1", "app.test").await.by(), "A");
        assert_eq!(get(front, "/p;sid=q.node3", "app.test").await.by(), "C");
    }
    // The URL name as a cookie, or the cookie name in the URL: no route.
    let mut seen = String::new();
    for _ in 0..3 {
        seen.push_str(with_cookie(front, "/p", "sid=q.node1").await.by());
    }
    assert_eq!(sorted(&seen), "ABC", "{seen}");
    let mut seen = String::new();
    for _ in 0..3 {
        seen.push_str(get(front, "/p?SESS=q.node1", "app.test").await.by());
    }
    assert_eq!(sorted(&seen), "ABC", "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scolonpathdelim_ends_the_route_at_a_semicolon() {
    let (a, b, c) = (echo("A").await, echo("B").await, echo("C").await);
    let path = "/p;jsessionid=x.node1;lang=en";
    // Without it the route is `node1;lang=en`, which no member has.
    let p = one_balancer(three_nodes(
        &a,
        &b,
        &c,
        sticky(Some("JSESSIONID"), Some("jsessionid")),
    ));
    let mut seen = String::new();
    for _ in 0..3 {
        seen.push_str(get(addr(&p), path, "app.test").await.by());
    }
    assert_eq!(sorted(&seen), "ABC", "{seen}");
    drop(p);
    // With it, `node1`.
    let p = one_balancer(three_nodes(
        &a,
        &b,
        &c,
        StickyConfig {
            scolon_path_delim: true,
            ..sticky(Some("JSESSIONID"), Some("jsessionid"))
        },
    ));
    for _ in 0..3 {
        let got = get(addr(&p), path, "app.test").await;
        assert_eq!((got.by(), got.target()), ("A", path));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sticky_request_fails_over_and_sticky_cookie_re_sticks_it() {
    let (a, b) = (echo("A").await, echo("B").await);
    let p = one_balancer(BalancerConfig {
        // sticky_cookie alone: the route is read from the cookie it sets.
        sticky: Some(StickyConfig {
            set_cookie: Some("ROUTEID".into()),
            ..sticky(None, None)
        }),
        ..BalancerConfig::new("app", vec![routed(&a, "node1"), routed(&b, "node2")])
    });
    let front = addr(&p);
    // No route yet: the member that answers sticks the client to itself.
    let first = get(front, "/", "app.test").await;
    assert_eq!(first.status, 200);
    let node = if first.by() == "A" { "node1" } else { "node2" };
    assert_eq!(
        first.header("set-cookie"),
        Some(format!("ROUTEID=.{node}; Path=/").as_str())
    );
    // The right route already: served there, no Set-Cookie.
    for (cookie, by) in [("ROUTEID=.node1", "A"), ("ROUTEID=.node2", "B")] {
        for _ in 0..2 {
            let got = with_cookie(front, "/", cookie).await;
            assert_eq!(got.by(), by);
            assert_eq!(got.header("set-cookie"), None, "{cookie}");
        }
    }
    // node2's member goes away: its sessions move to node1 and are
    // re-stuck there.
    kill(&b).await;
    let hits = a.hits();
    let got = with_cookie(front, "/cart", "ROUTEID=.node2").await;
    assert_eq!((got.status, got.by(), got.target()), (200, "A", "/cart"));
    assert_eq!(got.header("set-cookie"), Some("ROUTEID=.node1; Path=/"));
    assert_eq!(a.hits(), hits + 1);
    // The client now carries node1's route: no Set-Cookie.
    let got = with_cookie(front, "/cart", "ROUTEID=.node1").await;
    assert_eq!((got.status, got.by()), (200, "A"));
    assert_eq!(got.header("set-cookie"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sticky_request_without_sticky_cookie_fails_over_without_set_cookie() {
    let (a, b) = (echo("A").await, echo("B").await);
    let p = one_balancer(BalancerConfig {
        sticky: Some(sticky(Some("JSESSIONID"), None)),
        ..BalancerConfig::new("app", vec![routed(&a, "node1"), routed(&b, "node2")])
    });
    let front = addr(&p);
    assert_eq!(
        with_cookie(front, "/", "JSESSIONID=s.node2").await.by(),
        "B"
    );
    kill(&b).await;
    for _ in 0..3 {
        let got = with_cookie(front, "/", "JSESSIONID=s.node2").await;
        assert_eq!((got.status, got.by()), (200, "A"));
        assert_eq!(got.header("set-cookie"), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nofailover_answers_503_when_the_sessions_member_is_down() {
    let (a, b) = (echo("A").await, echo("B").await);
    let p = one_balancer(BalancerConfig {
        sticky: Some(StickyConfig {
            nofailover: true,
            ..sticky(Some("JSESSIONID"), Some("jsessionid"))
        }),
        ..BalancerConfig::new("app", vec![routed(&a, "node1"), routed(&b, "node2")])
    });
    let front = addr(&p);
    assert_eq!(
        with_cookie(front, "/", "JSESSIONID=s.node2").await.by(),
        "B"
    );
    kill(&b).await;
    let hits = a.hits();
    // The first attempt finds node2 dead; later ones find it in error.
    for _ in 0..3 {
        let got = with_cookie(front, "/", "JSESSIONID=s.node2").await;
        assert_eq!(got.status, 503, "{got:?}");
        let got = get(front, "/p;jsessionid=s.node2", "app.test").await;
        assert_eq!(got.status, 503, "{got:?}");
    }
    assert_eq!(a.hits(), hits, "nofailover moved a session");
    // A route no member has is no session to keep: balanced.
    for _ in 0..2 {
        let got = with_cookie(front, "/", "JSESSIONID=s.node9").await;
        assert_eq!((got.status, got.by()), (200, "A"));
    }
    // Nor is a request without a route.
    assert_eq!(get(front, "/", "app.test").await.by(), "A");
    // node1's sessions are unaffected.
    assert_eq!(
        with_cookie(front, "/", "JSESSIONID=s.node1").await.by(),
        "A"
    );
}

// ---------------------------------------------------------------------------
// 7. bytraffic, lbset, +H, +N, +I
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytraffic_prefers_the_member_that_moved_fewer_bytes() {
    static BIG: [u8; 100 * 1024] = [b'a'; 100 * 1024];
    let (big, small) = (answering(&BIG).await, answering(b"b").await);
    let p = one_balancer(BalancerConfig {
        lbmethod: LbMethod::ByTraffic,
        ..BalancerConfig::new("app", vec![m(&big), m(&small)])
    });
    let front = addr(&p);
    let mut seen = String::new();
    for _ in 0..8 {
        let got = get(front, "/", "app.test").await;
        assert_eq!(got.status, 200);
        seen.push(match got.body.len() {
            1 => 'S',
            n if n == BIG.len() => 'B',
            n => panic!("a body of {n} bytes"),
        });
    }
    // Both start at zero (the first wins the tie); after 100 KiB moved by
    // the big member, the small one (one byte per answer) keeps winning.
    // byrequests would alternate.
    assert_eq!(seen, "BSSSSSSS");
    assert_eq!((big.hits(), small.hits()), (1, 7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytraffic_weighs_bytes_by_loadfactor() {
    // 3 KiB answers against 1 KiB answers with three times the weight:
    // equal traffic per weight, so they share the requests evenly; with
    // loadfactor ignored the 3 KiB member would get a quarter.
    static THREE: [u8; 3072] = [b'3'; 3072];
    static ONE: [u8; 1024] = [b'1'; 1024];
    let (three, one) = (answering(&THREE).await, answering(&ONE).await);
    let p = one_balancer(BalancerConfig {
        lbmethod: LbMethod::ByTraffic,
        ..BalancerConfig::new("app", vec![m(&three).with_loadfactor(3), m(&one)])
    });
    let front = addr(&p);
    for _ in 0..8 {
        assert_eq!(get(front, "/", "app.test").await.status, 200);
    }
    assert_eq!((three.hits(), one.hits()), (4, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_lbset_serves_only_when_the_lower_one_is_down() {
    let (a, b, c) = (echo("A").await, echo("B").await, echo("C").await);
    let set1 = |member: &common::Member| MemberConfig {
        lbset: 1,
        ..m(member)
    };
    let p = one_balancer(BalancerConfig::new("app", vec![set1(&b), m(&a), set1(&c)]));
    let front = addr(&p);
    assert_eq!(sequence(front, 4, "/").await, "AAAA");
    assert_eq!((b.hits(), c.hits()), (0, 0));
    kill(&a).await;
    // All of it to set 1 (the exact split depends on whether the first
    // failure was a refused connect or a pooled connection found closed).
    let seen = sequence(front, 4, "/").await;
    assert!(seen.contains('B') && seen.contains('C'), "{seen}");
    assert!(!seen.contains('A'), "{seen}");
    assert_eq!(a.hits(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_standby_stands_in_within_its_lbset_before_the_next_set() {
    let (a, h, c) = (echo("A").await, echo("H").await, echo("C").await);
    let p = one_balancer(BalancerConfig::new(
        "app",
        vec![
            MemberConfig { lbset: 1, ..m(&c) },
            MemberConfig {
                hot_standby: true,
                ..m(&h)
            },
            m(&a),
        ],
    ));
    let front = addr(&p);
    assert_eq!(sequence(front, 3, "/").await, "AAA");
    kill(&a).await;
    // Set 0 still has its standby: it serves, not set 1.
    assert_eq!(sequence(front, 3, "/").await, "HHH");
    kill(&h).await;
    assert_eq!(sequence(front, 3, "/").await, "CCC");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_member_gets_only_its_sticky_requests() {
    let (a, d) = (echo("A").await, echo("D").await);
    let p = one_balancer(BalancerConfig {
        sticky: Some(sticky(Some("JSESSIONID"), None)),
        ..BalancerConfig::new(
            "app",
            vec![
                MemberConfig {
                    drain: true,
                    ..routed(&d, "d")
                },
                routed(&a, "a"),
            ],
        )
    });
    let front = addr(&p);
    assert_eq!(sequence(front, 4, "/").await, "AAAA");
    assert_eq!(d.hits(), 0);
    for _ in 0..3 {
        let got = with_cookie(front, "/s", "JSESSIONID=x.d").await;
        assert_eq!((got.status, got.by(), got.target()), (200, "D", "/s"));
    }
    assert_eq!(with_cookie(front, "/", "JSESSIONID=x.a").await.by(), "A");
    assert_eq!(d.hits(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_errors_keeps_a_failing_member_in_rotation() {
    let b = echo("B").await;
    let dead = dead_url();
    let run = |ignore_errors: bool| {
        let (dead, b) = (dead.clone(), m(&b));
        async move {
            let p = one_balancer(BalancerConfig::new(
                "app",
                vec![
                    MemberConfig {
                        ignore_errors,
                        retry: Some(Duration::from_secs(60)),
                        ..MemberConfig::new(dead.clone())
                    },
                    b,
                ],
            ));
            // Every request is answered by B, after a failover or not.
            assert_eq!(sequence(addr(&p), 6, "/").await, "BBBBBB");
            stats_of(&p, "app", &dead)
        }
    };
    // Without +I the first failure puts it in error for its retry: one
    // attempt.
    let plain = run(false).await;
    assert_eq!((plain.requests, plain.failures), (1, 1));
    assert_eq!(plain.status, MemberStatus::Error);
    // With +I it is tried again and again, and every failure counts.
    let ignoring = run(true).await;
    assert!(ignoring.failures >= 3, "{ignoring:?}");
    assert_eq!(ignoring.requests, ignoring.failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignore_errors_member_is_not_reported_in_error() {
    let b = echo("B").await;
    let dead = dead_url();
    let p = one_balancer(BalancerConfig::new(
        "app",
        vec![
            MemberConfig {
                ignore_errors: true,
                ..MemberConfig::new(dead.clone())
            },
            m(&b),
        ],
    ));
    assert_eq!(sequence(addr(&p), 2, "/").await, "BB");
    let s = stats_of(&p, "app", &dead);
    assert!(s.failures >= 1);
    assert_eq!(s.status, MemberStatus::Up, "{s:?}");
    assert_eq!(p.members_up(), 2);
}

// ---------------------------------------------------------------------------
// 8. Reload
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_replaces_hosts_and_routes_and_keeps_counters_of_kept_members() {
    let (a, b, c) = (echo("A").await, echo("B").await, echo("C").await);
    let before = sites(
        vec![vhost(
            "app",
            "app.test",
            &[],
            vec![proxy("/api", "api"), proxy("/", "web")],
        )],
        vec![
            BalancerConfig::new("web", vec![m(&a), m(&b)]),
            BalancerConfig::new("api", vec![m(&c)]),
        ],
    );
    let p = start(before.clone());
    let front = addr(&p);
    assert_eq!(sequence(front, 4, "/w").await, "ABAB");
    assert_eq!(get(front, "/api/x", "app.test").await.by(), "C");
    assert_eq!(get(front, "/api/x", "app.test").await.by(), "C");
    // New hosts and routes; `web` keeps its name and members; C moves to a
    // balancer with another name.
    let after = ProxyConfig {
        vhosts: vec![
            vhost(
                "site",
                "site.test",
                &[],
                vec![pass("/v2/", "legacy", "/"), proxy("/", "web")],
            ),
            vhost("app", "app.test", &[], vec![local("/", None)]),
        ],
        balancers: vec![
            BalancerConfig::new("legacy", vec![m(&c)]),
            BalancerConfig::new("web", vec![m(&b), m(&a)]),
        ],
        ..before
    };
    p.reload(&after).expect("reload");
    let web = |url: &str| stats_of(&p, "web", url).requests;
    assert_eq!(
        (web(&a.url()), web(&b.url())),
        (2, 2),
        "web's counters kept"
    );
    assert_eq!(
        stats_of(&p, "legacy", &c.url()).requests,
        0,
        "a member under another balancer name is another member"
    );
    assert!(p.stats().balancers.iter().all(|b| b.name != "api"));
    // The new model is in force: the first host is now `site`.
    let got = get(front, "/v2/x", "site.test").await;
    assert_eq!(got.status, 200);
    assert_eq!((got.by(), got.target()), ("C", "/x"));
    let got = get(front, "/api/x", "site.test").await;
    assert_eq!((got.by(), got.target()), ("B", "/api/x"));
    assert_eq!(get(front, "/api/x", "nobody.test").await.by(), "A");
    // `app.test` now answers 404 for everything, with no member asked.
    let hits = [a.hits(), b.hits(), c.hits()];
    assert_eq!(get(front, "/api/x", "app.test").await.status, 404);
    assert_eq!([a.hits(), b.hits(), c.hits()], hits);
    assert_eq!((web(&a.url()), web(&b.url())), (3, 3));
    assert_eq!(stats_of(&p, "legacy", &c.url()).requests, 1);
}

/// With many routes the router looks only at the routes a path can match
/// (an index by path segment); the route it picks must be the one the full
/// scan in configuration order picks, for every kind of route: prefixes
/// with and without a trailing slash, sharing segments, `/`, a prefix with
/// `//`, a regular expression, before and after one another. Each route
/// redirects to its own URL, so the answer names the route that matched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_routes_pick_the_same_route_as_a_scan_in_order() {
    use lb_proxy::route::{PathPrefix, PathRegex};
    let specs: Vec<(&str, bool)> = vec![
        ("/api/v1/", false),
        ("/api/v10", false),
        ("/api/v1", false),
        ("^/api/v2/(.*)\\.png$", true),
        ("/api/v2/", false),
        ("/static", false),
        ("/static/", false),
        ("//odd", false),
        ("/a/b/c", false),
        ("/a/b", false),
        ("/a", false),
        ("/api", false),
        ("/", false),
        ("/never", false),
    ];
    let routes: Vec<RouteConfig> = specs
        .iter()
        .enumerate()
        .map(|(i, (p, regex))| RouteConfig {
            path: if *regex {
                PathMatch::Regex((*p).to_owned())
            } else {
                PathMatch::Prefix((*p).to_owned())
            },
            action: RouteAction::Redirect {
                status: 302,
                to: format!("http://r{i}.test"),
            },
        })
        .collect();
    let p = start(sites(vec![vhost("app", "app.test", &[], routes)], vec![]));
    let front = addr(&p);
    let expected = |path: &str| -> Option<usize> {
        specs.iter().position(|(p, regex)| {
            if *regex {
                PathRegex::parse(p).expect("regex").is_match(path)
            } else {
                PathPrefix::parse(p)
                    .expect("prefix")
                    .matched_len(path)
                    .is_some()
            }
        })
    };
    let paths = [
        "/api/v1/x",
        "/api/v1",
        "/api/v10",
        "/api/v10/x",
        "/api/v100",
        "/api/v2/a.png",
        "/api/v2/a.gif",
        "/api/v2/",
        "/api/v2",
        "/api",
        "/api/",
        "/apix",
        "/static",
        "/static/",
        "/static/x",
        "/staticx",
        "/odd",
        "/odd/x",
        "/a/b/c/d",
        "/a/b/cd",
        "/a/b",
        "/a/bc",
        "/a",
        "/ab",
        "/",
        "/never",
        "/other/path",
        "/a/b/c",
    ];
    for path in paths {
        let got = get(front, path, "app.test").await;
        let location = got.header("location").unwrap_or_default().to_owned();
        let route = location
            .strip_prefix("http://r")
            .and_then(|r| r.split('.').next())
            .and_then(|n| n.parse::<usize>().ok());
        assert_eq!(route, expected(path), "{path}: {location}");
    }
}
