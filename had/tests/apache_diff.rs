//! had against Apache itself: one site, two proxies, the same members.
//!
//! The test writes an Apache site in the shapes people run (a main file
//! with `Define` and `IncludeOptional sites/*.conf`, balancers defined at
//! server level in their own file, two name-based virtual hosts on one
//! address in two files, quoting, `<Location>` with the one-argument
//! `ProxyPass`, `ProxyPassMatch`, exclusions served by `Alias`, redirects,
//! sticky sessions by cookie and by URL parameter, a `ROUTEID` cookie set
//! with `Header add Set-Cookie`, a balancer with a dead member), starts
//! Debian's apache2 on loopback with it, imports the same files with
//! `hactl import apache`'s importer, and starts had from the result as the
//! daemon would (`config::parse_str`, `plan::from_config`).
//!
//! Then every request of a matrix (Host values, paths, cookies, URL
//! parameters, methods) goes to both. Each must reach the same member
//! (the same balancer when the choice is the lbmethod's, the same member
//! when a sticky route names it) with the same method, path and Host, and
//! get the same status class, the same `Location` on a redirect and the
//! same sticky `Set-Cookie`. Differences are collected and printed
//! together; the only accepted ones are listed in [`KNOWN`] with their
//! reason (and in the README).
//!
//! apache2 must be installed (Debian package `apache2`); without it the
//! test is skipped, except under `CI=true` where it fails.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const APACHE: &str = "/usr/sbin/apache2";
const MODULES: &str = "/usr/lib/apache2/modules";
/// Longest wait for one answer, and for Apache to start.
const BOUND: Duration = Duration::from_secs(10);

/// Differences accepted, each with its reason: (method, Host, path,
/// cookie) of the request. Empty: every difference found was fixed.
const KNOWN: &[(&str, &str, &str, &str, &str)] = &[];

// ---------------------------------------------------------------- members

/// What one member saw of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    member: String,
    method: String,
    path: String,
    host: String,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// A member named `name` that records every request in `log` and answers
/// 200 with its name.
async fn member(name: &'static str, log: Log) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind member");
    let addr = listener.local_addr().expect("member address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                    let log = log.clone();
                    async move {
                        let seen = Seen {
                            member: name.to_owned(),
                            method: req.method().to_string(),
                            path: req
                                .uri()
                                .path_and_query()
                                .map_or("/", http::uri::PathAndQuery::as_str)
                                .to_owned(),
                            host: req
                                .headers()
                                .get(http::header::HOST)
                                .and_then(|h| h.to_str().ok())
                                .unwrap_or("-")
                                .to_owned(),
                        };
                        // Read the body so that a POST is complete.
                        let _ = req.into_body().collect().await;
                        log.lock().expect("log").push(seen);
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(name))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// A loopback port nothing listens on.
fn dead_port() -> u16 {
    let l = StdListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("address").port()
}

// ---------------------------------------------------------------- the site

/// The member names: balancer, then route (`shop` `s1`...), or the name of
/// a single-URL member.
struct Site {
    shop: [SocketAddr; 2],
    web: [SocketAddr; 3],
    legacy: SocketAddr,
    dead: u16,
    img: SocketAddr,
    admin: SocketAddr,
}

/// Writes the Apache site under `dir` and returns the main file.
fn write_site(dir: &Path, front: u16, site: &Site) -> PathBuf {
    let d = dir.display();
    for sub in ["run", "sites", "htdocs", "assets", "logs"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    std::fs::write(dir.join("assets/app.css"), "body { color: black }\n").expect("asset");
    std::fs::write(dir.join("assets/favicon.ico"), "icon\n").expect("asset");
    std::fs::write(dir.join("htdocs/robots.txt"), "User-agent: *\n").expect("robots");
    let modules: String = [
        "mpm_event",
        "authz_core",
        "alias",
        "headers",
        "dir",
        "proxy",
        "proxy_http",
        "proxy_balancer",
        "slotmem_shm",
        "lbmethod_byrequests",
    ]
    .iter()
    .map(|m| format!("LoadModule {m}_module {MODULES}/mod_{m}.so\n"))
    .collect();
    let main = format!(
        "# The server: what Debian's apache2.conf and ports.conf say, short.\n\
         ServerRoot \"{d}\"\n\
         DefaultRuntimeDir {d}/run\n\
         PidFile {d}/run/apache2.pid\n\
         Mutex file:{d}/run default\n\
         ErrorLog {d}/logs/error.log\n\
         LogLevel warn\n\
         User www-data\n\
         Group www-data\n\
         ServerName localhost\n\
         {modules}\
         StartServers 1\n\
         ServerLimit 1\n\
         ThreadsPerChild 25\n\
         MaxRequestWorkers 25\n\
         Define FRONT 127.0.0.1:{front}\n\
         Listen ${{FRONT}}\n\
         DocumentRoot \"{d}/htdocs\"\n\
         <IfModule mod_proxy.c>\n\
         \x20   ProxyTimeout 5\n\
         </IfModule>\n\
         IncludeOptional \"{d}/sites/*.conf\"\n"
    );
    let [s1, s2] = site.shop;
    let [w1, w2, w3] = site.web;
    let balancers = format!(
        "# Balancers shared by the virtual hosts.\n\
         Define SHOP_A {s1}\n\
         <Proxy \"balancer://shop\">\n\
         \x20   BalancerMember http://${{SHOP_A}} route=s1\n\
         \x20   BalancerMember 'http://{s2}' route=s2 loadfactor=2\n\
         \x20   ProxySet stickysession=JSESSIONID|jsessionid\n\
         </Proxy>\n\
         <Proxy balancer://web>\n\
         \x20   BalancerMember http://{w1} route=w1\n\
         \x20   BalancerMember http://{w2} route=w2\n\
         \x20   BalancerMember http://{w3} route=w3 status=+H\n\
         \x20   ProxySet lbmethod=byrequests stickysession=ROUTEID\n\
         \x20   Header add Set-Cookie \"ROUTEID=.%{{BALANCER_WORKER_ROUTE}}e; path=/\" env=BALANCER_ROUTE_CHANGED\n\
         </Proxy>\n\
         # One of legacy's two members is down.\n\
         <Proxy balancer://legacy>\n\
         \x20   BalancerMember http://{legacy}\n\
         \x20   BalancerMember http://127.0.0.1:{dead}\n\
         </Proxy>\n",
        legacy = site.legacy,
        dead = site.dead,
    );
    let shop = format!(
        "<VirtualHost ${{FRONT}}>\n\
         \x20   ServerName shop.example.com\n\
         \x20   ServerAlias www.shop.example.com *.shop.example.net\n\
         \x20   ProxyPreserveHost On\n\
         \n\
         \x20   Alias \"/assets/\" \"{d}/assets/\"\n\
         \x20   ProxyPass /assets/ !\n\
         \x20   Alias /favicon.ico {d}/assets/favicon.ico\n\
         \x20   ProxyPass /favicon.ico !\n\
         \x20   ProxyPass /robots.txt !\n\
         \x20   ProxyPass /old-shop !\n\
         \x20   Redirect /old-shop http://shop.example.com/new-shop\n\
         \x20   ProxyPass /promo !\n\
         \x20   RedirectMatch 301 ^/promo/(.*)$ https://promo.example.com/$1\n\
         \x20   ProxyPass \"/api/\" \"balancer://shop/api/v1/\"\n\
         \x20   ProxyPassReverse /api/ balancer://shop/api/v1/\n\
         \x20   <Location /cart>\n\
         \x20       ProxyPass balancer://shop/cart\n\
         \x20   </Location>\n\
         \x20   ProxyPassMatch \"^/img/(.*)\\.(png|jpg)$\" \"http://{img}/images/$1.$2\"\n\
         \x20   ProxyPass /legacy/ balancer://legacy/\n\
         \x20   ProxyPass / balancer://web/\n\
         \x20   ProxyPassReverse / balancer://web/\n\
         </VirtualHost>\n",
        img = site.img,
    );
    let admin = format!(
        "# No ProxyPreserveHost: the member sees its own address as Host.\n\
         <VirtualHost ${{FRONT}}>\n\
         \x20   ServerName admin.example.com\n\
         \x20   ProxyPass / http://{admin}/console/\n\
         \x20   ProxyPassReverse / http://{admin}/console/\n\
         </VirtualHost>\n",
        admin = site.admin,
    );
    std::fs::write(dir.join("sites/00-balancers.conf"), balancers).expect("write");
    std::fs::write(dir.join("sites/10-shop.conf"), shop).expect("write");
    std::fs::write(dir.join("sites/20-admin.conf"), admin).expect("write");
    let main_path = dir.join("apache2.conf");
    std::fs::write(&main_path, main).expect("write");
    main_path
}

/// Apache, stopped (by its PID) when dropped.
struct Apache {
    child: Child,
    dir: PathBuf,
}

impl Apache {
    fn start(main: &Path, dir: &Path, front: u16) -> Self {
        let child = Command::new(APACHE)
            .arg("-f")
            .arg(main)
            .arg("-DFOREGROUND")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start apache2");
        let mut apache = Self {
            child,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + BOUND;
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", front)).is_ok() {
                return apache;
            }
            if let Ok(Some(status)) = apache.child.try_wait() {
                panic!("apache2 exited ({status}): {}", apache.error_log());
            }
            assert!(
                Instant::now() < deadline,
                "apache2 not listening after {BOUND:?}: {}",
                apache.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default()
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        // SIGTERM to the parent stops its children; then reap it.
        let pid = i32::try_from(self.child.id()).expect("pid");
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let deadline = Instant::now() + BOUND;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn apache_available() -> bool {
    if Path::new(APACHE).exists() {
        return true;
    }
    let msg = format!("{APACHE} is not installed (Debian package apache2)");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
    eprintln!("skipping: {msg}");
    false
}

// ---------------------------------------------------------------- requests

/// One request of the matrix.
#[derive(Debug, Clone)]
struct Request {
    method: &'static str,
    host: &'static str,
    path: &'static str,
    cookie: &'static str,
}

/// What a client and the members saw of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    status: u16,
    location: Option<String>,
    /// The route in a `ROUTEID` cookie set by the answer.
    set_route: Option<String>,
    /// What the members saw (none when the proxy answered itself).
    seen: Vec<Seen>,
}

async fn send(addr: SocketAddr, r: &Request, log: &Log) -> Outcome {
    log.lock().expect("log").clear();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let body = if r.method == "POST" { "a=1&b=2" } else { "" };
    let mut req = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", r.method, r.path, r.host);
    if !r.cookie.is_empty() {
        let _ = write!(req, "Cookie: {}\r\n", r.cookie);
    }
    if !body.is_empty() {
        let _ = write!(
            req,
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    req.push_str("Connection: close\r\n\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(BOUND, s.read_to_end(&mut raw))
        .await
        .unwrap_or_else(|_| panic!("{r:?}: no answer within {BOUND:?}"))
        .expect("read");
    let text = String::from_utf8_lossy(&raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{r:?}: not a response: {text:?}"));
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let set_route = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        if !k.trim().eq_ignore_ascii_case("set-cookie") {
            return None;
        }
        let value = v.trim().strip_prefix("ROUTEID=")?;
        let value = value.split(';').next()?;
        Some(value.rsplit('.').next().unwrap_or_default().to_owned())
    });
    let seen = log.lock().expect("log").clone();
    Outcome {
        status,
        location: header("location"),
        set_route,
        seen,
    }
}

/// The route a request asks `balancer` for: the part after the last `.`
/// of its sticky cookie or URL parameter (`shop`: `JSESSIONID` and
/// `;jsessionid=`, `web`: `ROUTEID`), as the site's `stickysession` says.
fn asked_route<'r>(r: &'r Request, balancer: &str) -> Option<&'r str> {
    let (cookie, param) = match balancer {
        "shop" => ("JSESSIONID", Some("jsessionid")),
        "web" => ("ROUTEID", None),
        _ => return None,
    };
    let from_path = param.and_then(|param| {
        r.path.split([';', '?', '&']).find_map(|p| {
            p.strip_prefix(param)?
                .strip_prefix('=')
                .map(|v| v.split('/').next().unwrap_or_default())
        })
    });
    let from_cookie = r.cookie.split(';').find_map(|c| {
        let (name, value) = c.trim().split_once('=')?;
        (name == cookie).then_some(value)
    });
    from_path
        .or(from_cookie)
        .and_then(|v| v.rsplit_once('.').map(|(_, route)| route))
}

/// The balancer of a member (`shop:s1` → `shop`), or the member itself.
fn group(member: &str) -> &str {
    member.split(':').next().unwrap_or(member)
}

/// Compares two outcomes of `r`; `None` when they agree.
fn differ(r: &Request, apache: &Outcome, had: &Outcome) -> Option<String> {
    let class = |s: u16| s / 100;
    let mut why = Vec::new();
    if class(apache.status) != class(had.status) {
        why.push(format!("status {} vs {}", apache.status, had.status));
    }
    if apache.location != had.location {
        why.push(format!(
            "Location {:?} vs {:?}",
            apache.location, had.location
        ));
    }
    if apache.set_route.is_some() != had.set_route.is_some() {
        why.push(format!(
            "ROUTEID cookie {:?} vs {:?}",
            apache.set_route, had.set_route
        ));
    }
    if apache.seen.len() != had.seen.len() {
        why.push(format!("members saw {:?} vs {:?}", apache.seen, had.seen));
    } else {
        for (a, h) in apache.seen.iter().zip(&had.seen) {
            // The same member when the request names a live route of the
            // balancer Apache chose; otherwise the lbmethod chooses, and
            // only the balancer must agree.
            let sticky = asked_route(r, group(&a.member))
                .is_some_and(|route| a.member.ends_with(&format!(":{route}")));
            let same_member = if sticky {
                a.member == h.member
            } else {
                group(&a.member) == group(&h.member)
            };
            if !same_member || a.method != h.method || a.path != h.path || a.host != h.host {
                why.push(format!("member saw {a:?} vs {h:?}"));
            }
        }
    }
    // Each proxy's sticky cookie names the member that answered.
    for (who, o) in [("apache", apache), ("had", had)] {
        if let (Some(route), Some(seen)) = (&o.set_route, o.seen.first())
            && !seen.member.ends_with(&format!(":{route}"))
        {
            why.push(format!(
                "{who} set ROUTEID .{route} but {} answered",
                seen.member
            ));
        }
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// The matrix: every Host with every path (GET), then cookies and URL
/// parameters on the sticky paths, then methods.
fn matrix() -> Vec<Request> {
    let hosts = [
        "shop.example.com",
        "www.shop.example.com",
        "eu.shop.example.net",
        "SHOP.Example.COM:8080",
        "admin.example.com",
        "admin.example.com.",
        "unknown.example.org",
        "198.18.0.1",
    ];
    let paths = [
        "/",
        "/index.html?lang=fr&x=1",
        "/api/users?id=7",
        "/api/",
        "/api",
        "/apiary",
        "/cart",
        "/cart/items/3",
        "/cartoon",
        "/img/logo.png",
        "/img/photos/cat.jpg",
        "/img/logo.gif",
        "/assets/app.css",
        "/assets/missing.js",
        "/assets",
        "/robots.txt",
        "/robots.txt.bak",
        "/favicon.ico",
        "/favicon.ico/x",
        "/favicon.icon",
        "/old-shop",
        "/old-shop/item/9?ref=mail",
        "/old-shopping",
        "/promo/winter",
        "/promo",
        "/legacy/a",
        "/legacy/b",
        "/legacy/c",
        "/a/b/../../api/x",
        "/api//double",
        "/api/a%20b",
        "/%7Euser/page",
        "/api/%41bc%7e",
        "/api/a%3bb%3Dc",
        "/api/a%2520b",
        "/api/caf%C3%A9",
        "/api/caf%c3%a9",
        "/api/a%2Bb+c",
        "/api/a%22b%3C",
        "/api/a%2Fb",
        "/api/a%00b",
        "/api/%2e%2e/cart/2",
        "/api/x?q=%7E%2F+a%20b",
        "/api/@!$&'()*,;=:",
    ];
    let mut m = Vec::new();
    for host in hosts {
        for path in paths {
            m.push(Request {
                method: "GET",
                host,
                path,
                cookie: "",
            });
        }
    }
    let cookies = [
        "JSESSIONID=abc.s1",
        "JSESSIONID=abc.s2",
        "JSESSIONID=abc.nope",
        "ROUTEID=.w1",
        "ROUTEID=.w2",
        "ROUTEID=.w3",
        "ROUTEID=.s1",
        "theme=dark; JSESSIONID=def.s2",
    ];
    for cookie in cookies {
        for path in ["/", "/api/orders", "/cart/1", "/legacy/a"] {
            for host in ["shop.example.com", "admin.example.com"] {
                m.push(Request {
                    method: "GET",
                    host,
                    path,
                    cookie,
                });
            }
        }
    }
    for path in [
        "/api/orders;jsessionid=abc.s1",
        "/api/orders;jsessionid=abc.s2?page=2",
        "/cart;jsessionid=x.s2",
        "/api/orders?jsessionid=abc.s1",
        "/api/orders?jsessionid=abc.s2",
        "/;jsessionid=abc.w2",
    ] {
        m.push(Request {
            method: "GET",
            host: "shop.example.com",
            path,
            cookie: "",
        });
    }
    for method in ["HEAD", "POST", "DELETE", "PUT", "OPTIONS"] {
        for path in [
            "/",
            "/api/users",
            "/assets/app.css",
            "/assets/none.css",
            "/favicon.ico",
            "/old-shop",
            "/img/a.png",
        ] {
            for host in ["shop.example.com", "admin.example.com"] {
                m.push(Request {
                    method,
                    host,
                    path,
                    cookie: "",
                });
            }
        }
    }
    m
}

// ---------------------------------------------------------------- the test

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn had_routes_the_site_as_apache_does() {
    if !apache_available() {
        return;
    }
    let log: Log = Arc::default();
    let site = Site {
        shop: [
            member("shop:s1", log.clone()).await,
            member("shop:s2", log.clone()).await,
        ],
        web: [
            member("web:w1", log.clone()).await,
            member("web:w2", log.clone()).await,
            member("web:w3", log.clone()).await,
        ],
        legacy: member("legacy", log.clone()).await,
        dead: dead_port(),
        img: member("img", log.clone()).await,
        admin: member("admin", log.clone()).await,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // Apache's children run as www-data and read the site's files.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let front = dead_port();
    let main = write_site(dir.path(), front, &site);

    // had: the importer's output, moved to a free port, planned and run.
    let imported = had::import::apache::import_file(&main).unwrap_or_else(|e| panic!("{e}"));
    let notes: Vec<String> = imported.notes.iter().map(ToString::to_string).collect();
    let toml = imported
        .toml()
        .replace(&format!("127.0.0.1:{front}"), "127.0.0.1:0");
    let loaded =
        had::config::parse_str(&toml, "imported.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let plan = had::plan::from_config(&loaded).unwrap_or_else(|e| panic!("plan: {e}"));
    let [(_, mut config)] = <[_; 1]>::try_from(plan.proxies).expect("one listener");
    config.workers = Some(1);
    let proxy = lb_proxy::ProxyHandle::start(config).expect("had's proxy starts");
    let had_addr = proxy.local_addrs()[0];

    let apache = Apache::start(&main, dir.path(), front);
    let apache_addr: SocketAddr = ([127, 0, 0, 1], front).into();

    let mut differences = Vec::new();
    let mut compared = 0;
    for r in matrix() {
        let a = send(apache_addr, &r, &log).await;
        let h = send(had_addr, &r, &log).await;
        compared += 1;
        let known = KNOWN.iter().any(|(m, host, path, cookie, _)| {
            *m == r.method && *host == r.host && *path == r.path && *cookie == r.cookie
        });
        if let Some(why) = differ(&r, &a, &h) {
            if !known {
                differences.push(format!(
                    "{} {} Host: {} Cookie: {:?}: {why}",
                    r.method, r.path, r.host, r.cookie
                ));
            }
        } else {
            assert!(!known, "{r:?} is listed as a difference but agrees now");
        }
    }
    drop(apache);
    assert!(
        differences.is_empty(),
        "{} of {compared} requests differ between Apache and had:\n{}\n\nthe importer's notes:\n{}\n\nthe imported config:\n{toml}",
        differences.len(),
        differences.join("\n"),
        notes.join("\n")
    );
}
