//! The routed case of `cargo xtask bench proxy` (`had+routes`): the had
//! daemon with the routing model in use, against the single-route `had` of
//! the same run.
//!
//! Five name-based virtual hosts share the front address, each with twenty
//! ordered prefix routes to sticky balancers. wrk names the last host and a
//! path only the 18th route of that host matches, and sends a sticky cookie
//! naming the first member, so every request scans four hosts (three names
//! each, one a wildcard), seventeen routes, and then reads the cookie.
//!
//! Only the balancer of that one route has the bench's members; every other
//! balancer's members are closed ports on 127.0.0.1, so a request routed to
//! the wrong host or route fails (503) and shows as a wrk error instead of
//! passing for a routed one. [`check`] sends one request before the load:
//! it must come back 200 from member 0 (the cookie's route) with no
//! `Set-Cookie` (the session already names its member).

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, bail};

/// Virtual hosts on the listener.
pub(crate) const HOSTS: usize = 5;
/// Prefix routes per host.
pub(crate) const ROUTES: usize = 20;
/// The host the load names (1-based: the last one).
pub(crate) const HIT_HOST: usize = HOSTS;
/// The route of that host the load's path matches (1-based).
pub(crate) const HIT_ROUTE: usize = 18;
/// The sticky session cookie: `ROUTEID`, route `m1` (the first member).
pub(crate) const COOKIE: &str = "ROUTEID=.m1";

/// The `Host` value the load sends (with the port, as browsers do).
pub(crate) fn host_header(front_port: u16) -> String {
    format!("shop{HIT_HOST}.example.com:{front_port}")
}

/// The request path the load sends: under route [`HIT_ROUTE`]'s prefix.
pub(crate) fn path() -> String {
    format!("/api/v{HIT_ROUTE}/items")
}

/// The balancer of host `h`, route `r` (both 1-based): two per host, routes
/// alternating between them.
fn balancer_of(h: usize, r: usize) -> String {
    if (h, r) == (HIT_HOST, HIT_ROUTE) {
        "hit".to_owned()
    } else {
        format!(
            "shop{h}_{}",
            if r.is_multiple_of(2) { "even" } else { "odd" }
        )
    }
}

/// had.toml for the routed case: `global` the `[global]` table the
/// single-route case has, `members` the bench's two member URLs.
pub(crate) fn had_toml(global: &str, front_port: u16, members: &[String]) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "{global}");
    for h in 1..=HOSTS {
        let _ = writeln!(t, "[proxy.shop{h}]");
        let _ = writeln!(t, "listen = [\"127.0.0.1:{front_port}\"]");
        let _ = writeln!(t, "server_name = \"shop{h}.example.com\"");
        let _ = writeln!(
            t,
            "server_alias = [\"www.shop{h}.example.com\", \"*.shop{h}.example.net\"]"
        );
        let _ = writeln!(t, "preserve_host = true");
        for r in 1..=ROUTES {
            let _ = writeln!(t, "\n[[proxy.shop{h}.route]]");
            let _ = writeln!(t, "path = \"/api/v{r}/\"");
            let _ = writeln!(t, "balancer = \"{}\"", balancer_of(h, r));
            // Every other route uses Apache's literal join, the others had's own.
            if r.is_multiple_of(2) {
                let _ = writeln!(t, "to = \"/shop{h}/v{r}/\"");
            }
            let _ = writeln!(t, "pass_reverse = true");
        }
        t.push('\n');
    }
    let mut dead_port = front_port + 20;
    let balancer = |t: &mut String, name: &str, urls: &[String]| {
        let _ = writeln!(t, "[balancer.{name}]");
        let _ = writeln!(t, "lbmethod = \"byrequests\"");
        let _ = writeln!(t, "stickysession = \"ROUTEID\"");
        let _ = writeln!(t, "sticky_cookie = \"ROUTEID\"");
        let list: Vec<String> = urls
            .iter()
            .enumerate()
            .map(|(i, u)| format!("{{ url = \"{u}\", route = \"m{}\" }}", i + 1))
            .collect();
        let _ = writeln!(t, "members = [{}]\n", list.join(", "));
    };
    balancer(&mut t, "hit", members);
    for h in 1..=HOSTS {
        for side in ["odd", "even"] {
            let urls: Vec<String> = (0..members.len())
                .map(|_| {
                    dead_port += 1;
                    format!("http://127.0.0.1:{dead_port}")
                })
                .collect();
            balancer(&mut t, &format!("shop{h}_{side}"), &urls);
        }
    }
    t
}

/// One request as the load sends it: 200 from member 0, no `Set-Cookie`.
pub(crate) fn check(front_port: u16) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], front_port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .context("connect to had+routes")?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {} HTTP/1.1\r\nHost: {}\r\nCookie: {COOKIE}\r\nConnection: close\r\n\r\n",
        path(),
        host_header(front_port)
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)
        .context("read had+routes' answer")?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let ok = head.starts_with("HTTP/1.1 200")
        && body.starts_with("member 0:")
        && !head
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("set-cookie:"));
    if !ok {
        bail!(
            "had+routes: GET {} (Host {}, Cookie {COOKIE}) should reach member 0 with no Set-Cookie; got:\n{raw}",
            path(),
            host_header(front_port)
        );
    }
    Ok(())
}
