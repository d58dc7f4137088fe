//! The reverse proxy's tables: `[proxy.NAME]` virtual hosts with their
//! `[[proxy.NAME.route]]`s, `[balancer.NAME]`s, their members, and what
//! `[proxy]` sections that share an address must agree on (they are one
//! listener, see `plan::proxy_groups`).
//!
//! Errors are what lb-proxy would refuse (said here with the line), or what
//! would be accepted without an effect; warnings are what `hactl check`
//! points out: a route an earlier one always takes, a balancer no route
//! uses, a host name an earlier wildcard takes, a certificate about to
//! expire. `tls` certificates are read as the listener reads them, so a
//! missing, unreadable, expired or mismatched file is an error here too.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use lb_proxy::route::{HostPattern, PathPrefix, PathRegex};

use super::Checker;
use crate::config::{
    Balancer, Config, Member, Problem, Proxy, ProxyHealthCheck, ProxyTls, Risk, Route, nearest,
};

/// Apache's `lbset` range (mod_proxy: "lbset must be between 0 and 99").
const LBSET_MAX: i64 = 99;

/// The statuses a `redirect` route may answer with, as Apache's `Redirect`
/// and lb-proxy's validation take them.
const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

/// Whether `name` is an HTTP token (RFC 9110 §5.6.2): what a cookie, a URL
/// parameter, a member route and a balancer may be called. lb-proxy's
/// config checks the same rule again (its `token`, not exported).
fn token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `name` may be a `ServerName` or `ServerAlias`: letters, digits,
/// `-`, `.`, `_`, and the wildcards `*` and `?` (lb-proxy's
/// `valid_host_pattern`, not exported).
fn host_pattern(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*' | b'?'))
}

fn wildcard(name: &str) -> bool {
    name.contains(['*', '?'])
}

fn strings(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

/// Every check of `[proxy]` and `[balancer]` tables.
pub(super) fn validate(c: &mut Checker<'_, '_>, config: &Config) {
    listen_clashes(c, config);
    for (name, p) in &config.proxy {
        proxy(c, config, name, p);
    }
    let used: BTreeSet<&str> = config
        .proxy
        .values()
        .flat_map(|p| &p.routes)
        .filter_map(|r| r.balancer.as_deref())
        .collect();
    for (name, b) in &config.balancer {
        balancer(c, config, name, b, used.contains(name.as_str()));
    }
    shared_addresses(c, config);
}

/// Addresses that cannot all be bound: a wildcard and a specific address on
/// one port (in any sections), or one address twice in a section. The same
/// address in two sections is fine: they are virtual hosts of one listener.
fn listen_clashes(c: &mut Checker<'_, '_>, config: &Config) {
    let mut listens: BTreeMap<u16, Vec<(SocketAddr, &str)>> = BTreeMap::new();
    for (name, p) in &config.proxy {
        for (i, addr) in p.listen.iter().enumerate() {
            let same_port = listens.entry(addr.port()).or_default();
            let clash = same_port.iter().find(|(other, other_name)| {
                other.is_ipv4() == addr.is_ipv4()
                    && if other.ip() == addr.ip() {
                        *other_name == name.as_str()
                    } else {
                        other.ip().is_unspecified() || addr.ip().is_unspecified()
                    }
            });
            if let Some((other, other_name)) = clash {
                let other_index = config
                    .proxy
                    .get(*other_name)
                    .and_then(|op| op.listen.iter().position(|a| a == other))
                    .unwrap_or(0)
                    .to_string();
                let other = format!(
                    "{other} of {}",
                    c.where_is(&["proxy", other_name, "listen", &other_index])
                );
                c.error(
                    &["proxy", name, "listen", &i.to_string()],
                    Problem::ListenClash {
                        addr: addr.to_string(),
                        other,
                    },
                );
            } else {
                same_port.push((*addr, name));
            }
        }
    }
}

fn host_name(c: &mut Checker<'_, '_>, path: &[&str], name: &str) {
    if host_pattern(name) {
        return;
    }
    let message = if name.contains(':') {
        format!(
            "{name:?} has a port: virtual hosts are told apart by the Host without its port; write the name alone"
        )
    } else {
        format!(
            "{name:?} is not a host name (letters, digits, `-`, `.`, `_`, and the wildcards `*` and `?`)"
        )
    };
    c.error(path, Problem::InvalidValue { message });
}

fn proxy(c: &mut Checker<'_, '_>, config: &Config, name: &str, p: &Proxy) {
    let at = |k: &'static str| ["proxy", name, k];
    if p.listen.is_empty() {
        c.error(
            &at("listen"),
            Problem::Empty {
                hint: "one or more \"ADDR:PORT\", e.g. \"198.18.0.200:80\"",
            },
        );
    }
    if let Some(n) = &p.server_name {
        host_name(c, &at("server_name"), n);
    }
    for (i, n) in p.server_alias.iter().enumerate() {
        host_name(c, &["proxy", name, "server_alias", &i.to_string()], n);
    }
    if p.routes.is_empty() {
        if p.members.is_empty() {
            c.error(
                &at("members"),
                Problem::Empty {
                    hint: "one or more { url = \"http://HOST:PORT\" }, or [[proxy.NAME.route]] tables",
                },
            );
        }
        members(
            c,
            &["proxy", name],
            &p.members,
            Some(
                "the members shorthand has no sticky sessions; put the members in a \
                 [balancer.NAME] with stickysession",
            ),
        );
        if let Err(message) = PathPrefix::parse(&p.path) {
            c.error(&at("path"), Problem::InvalidValue { message });
        }
    } else {
        let section = format!("proxy.{name}");
        if !p.members.is_empty() {
            c.error(
                &at("members"),
                Problem::ShorthandKey {
                    proxy: section.clone(),
                    instead: "move the members to a [balancer.NAME] and send a route to it \
                              with balancer = \"NAME\"",
                },
            );
        }
        for (k, instead) in [
            ("path", "each route has its own `path`"),
            ("pass_reverse", "each route has its own `pass_reverse`"),
            (
                "lbmethod",
                "set it on the [balancer.NAME] the routes send to",
            ),
            (
                "maxattempts",
                "set it on the [balancer.NAME] the routes send to",
            ),
        ] {
            if c.written(&at(k)) {
                c.error(
                    &at(k),
                    Problem::ShorthandKey {
                        proxy: section.clone(),
                        instead,
                    },
                );
            }
        }
        for (i, r) in p.routes.iter().enumerate() {
            route(c, config, name, i, r);
        }
        shadowed_routes(c, name, &p.routes);
    }
    c.positive_duration(&at("timeout"), p.timeout);
    c.positive_duration(&at("connect_timeout"), p.connect_timeout);
    for (k, d) in [
        ("header_read_timeout", p.header_read_timeout),
        ("body_read_timeout", p.body_read_timeout),
        ("pool_idle_timeout", p.pool_idle_timeout),
        ("tunnel_idle_timeout", p.tunnel_idle_timeout),
        ("send_timeout", p.send_timeout),
    ] {
        if let Some(d) = d {
            c.positive_duration(&at(k), d);
        }
    }
    for (k, n, min, unit) in [
        ("max_connections", p.max_connections, 1, ""),
        ("workers", p.workers, 1, ""),
        ("limit_request_fields", p.limit_request_fields, 1, ""),
        (
            "limit_request_field_size",
            p.limit_request_field_size,
            lb_proxy::MIN_LINE_LIMIT,
            " bytes",
        ),
        (
            "limit_request_line",
            p.limit_request_line,
            lb_proxy::MIN_LINE_LIMIT,
            " bytes",
        ),
    ] {
        if let Some(n) = n {
            c.at_least(&at(k), n, min, unit);
        }
    }
    if let Some(hc) = &p.health_check {
        health_check(c, name, hc);
    }
    if let Some(t) = &p.tls {
        certificate(c, name, t);
        if let Some(depth) = t.verify_depth {
            c.at_least_one(&["proxy", name, "tls", "verify_depth"], u32::from(depth));
        }
    }
}

/// Certificates closer to their end than this are warned about.
const CERTIFICATE_WARN_DAYS: i64 = 14;

/// `tls`: the certificate read as the listener would read it (the error
/// names the file and what is wrong: missing, not PEM, expired, not the
/// key of the certificate), and a warning when it expires within
/// [`CERTIFICATE_WARN_DAYS`].
fn certificate(c: &mut Checker<'_, '_>, name: &str, t: &ProxyTls) {
    let config = lb_proxy::CertificateConfig {
        cert: t.cert.clone(),
        key: t.key.clone(),
        chain: t.chain.clone(),
    };
    match lb_proxy::tls::inspect(&config) {
        Ok(info) => {
            let days = info.days_left(std::time::SystemTime::now());
            if days < CERTIFICATE_WARN_DAYS {
                c.warn(
                    &["proxy", name, "tls", "cert"],
                    Risk::CertificateExpiring {
                        file: t.cert.display().to_string(),
                        date: lb_proxy::tls::utc_date(info.not_after),
                        days,
                    },
                );
            }
        }
        Err(e) => {
            let file = match &e {
                lb_proxy::CertificateError::Read { path, .. }
                | lb_proxy::CertificateError::Content { path, .. } => path,
            };
            // The key the message's file was given by (a file given twice
            // is named by the first key that has it).
            let k = if *file == t.cert {
                "cert"
            } else if *file == t.key {
                "key"
            } else if t.chain.as_ref() == Some(file) {
                "chain"
            } else {
                "cert"
            };
            c.error(
                &["proxy", name, "tls", k],
                Problem::InvalidValue {
                    message: e.to_string(),
                },
            );
        }
    }
}

fn health_check(c: &mut Checker<'_, '_>, name: &str, hc: &ProxyHealthCheck) {
    let check = |k: &'static str| ["proxy", name, "health_check", k];
    let method = hc.method.to_ascii_uppercase();
    if !matches!(method.as_str(), "TCP" | "GET" | "HEAD" | "OPTIONS") {
        c.error(
            &check("method"),
            Problem::InvalidValue {
                message: format!(
                    "{:?} is not allowed (allowed: TCP, GET, HEAD, OPTIONS)",
                    hc.method
                ),
            },
        );
    }
    if !hc.uri.starts_with('/') || hc.uri.parse::<http::uri::PathAndQuery>().is_err() {
        c.error(
            &check("uri"),
            Problem::InvalidValue {
                message: format!("{:?} is not a path starting with /", hc.uri),
            },
        );
    }
    c.range(
        &check("expect_status"),
        i64::from(hc.expect_status),
        100,
        599,
    );
    // A TCP check sends no request: a path or a status would do nothing.
    if method == "TCP" {
        for (k, value) in [
            ("uri", format!("{:?}", hc.uri)),
            ("expect_status", hc.expect_status.to_string()),
        ] {
            if c.written(&check(k)) {
                c.error(
                    &check(k),
                    Problem::Unsupported {
                        value,
                        why: "a TCP check only connects and sends no request; remove the key or use method = \"GET\"".into(),
                    },
                );
            }
        }
    }
    c.at_least_one(&check("passes"), hc.passes);
    c.at_least_one(&check("fails"), hc.fails);
    c.positive_duration(&check("interval"), hc.interval);
    c.positive_duration(&check("timeout"), hc.timeout);
}

/// The members of a `[proxy]` shorthand or a `[balancer]` at `base`; their
/// `route`s are not read when `route_unused` says why.
fn members(
    c: &mut Checker<'_, '_>,
    base: &[&str],
    list: &[Member],
    route_unused: Option<&'static str>,
) {
    let list_key = [base, &["members"]].concat();
    if list.len() > lb_proxy::MAX_MEMBERS {
        c.error(
            &list_key,
            Problem::OutOfRange {
                value: format!("{} members", list.len()),
                allowed: format!("1-{}", lb_proxy::MAX_MEMBERS),
            },
        );
    }
    for (i, m) in list.iter().enumerate() {
        let idx = i.to_string();
        let member = |k: &'static str| [base, &["members", idx.as_str(), k]].concat();
        c.member_url(&member("url"), &m.url);
        if let Some(first) = list[..i].iter().position(|o| o.url == m.url) {
            let other = c.where_is(&[base, &["members", &first.to_string()]].concat());
            c.error(
                &member("url"),
                Problem::InvalidValue {
                    message: format!("{} is listed twice, also as {other}", m.url),
                },
            );
        }
        c.range(
            &member("loadfactor"),
            i64::from(m.loadfactor),
            i64::from(*lb_proxy::LOADFACTOR.start()),
            i64::from(*lb_proxy::LOADFACTOR.end()),
        );
        if let Some(t) = m.timeout {
            c.positive_duration(&member("timeout"), t);
        }
        if let Some(status) = &m.status {
            member_status(c, &member("status"), status);
        }
        if let Some(lbset) = m.lbset {
            c.range(&member("lbset"), i64::from(lbset), 0, LBSET_MAX);
        }
        if let Some(route) = &m.route {
            if !token(route) {
                c.error(
                    &member("route"),
                    Problem::InvalidValue {
                        message: format!(
                            "{route:?} is not a route name (a token: letters, digits and -._~!#$%&'*+^`|)"
                        ),
                    },
                );
            } else if let Some(why) = route_unused {
                c.warn(&member("route"), Risk::MemberRouteUnused { why });
            } else if let Some(first) = list[..i]
                .iter()
                .position(|o| o.route.as_deref() == Some(route))
            {
                let other = c.where_is(&[base, &["members", &first.to_string()]].concat());
                c.warn(
                    &member("route"),
                    Risk::DuplicateMemberRoute {
                        route: route.clone(),
                        other,
                    },
                );
            }
        }
    }
    if !list.is_empty() && list.iter().all(Member::hot_standby) {
        c.warn(&list_key, Risk::AllHotStandby);
    }
}

/// Apache's `status=`: `+H` hot standby, `+D` disabled, `+N` drain, `+I`
/// ignore errors are had's; `S` and `E` are run-time states Apache's
/// balancer manager sets, refused.
fn member_status(c: &mut Checker<'_, '_>, path: &[&str], status: &str) {
    let known = !status.is_empty()
        && status
            .chars()
            .all(|ch| matches!(ch, '+' | '-') || "HDNISEhdnise".contains(ch));
    if !known {
        c.error(
            path,
            Problem::InvalidValue {
                message: format!(
                    "{status:?} is not an Apache status (flags: +H hot standby, +D disabled, +N drain, +I ignore errors)"
                ),
            },
        );
    } else if status.chars().any(|ch| "SEse".contains(ch)) {
        c.error(
            path,
            Problem::Unsupported {
                value: format!("{status:?}"),
                why: "had implements the flags H (hot standby), D (disabled), N (drain) and \
                      I (ignore errors); Apache's S (stopped) and E (in error) are states its \
                      balancer manager sets at run time; use +D to keep a member out of rotation"
                    .into(),
            },
        );
    }
}

fn balancer(c: &mut Checker<'_, '_>, config: &Config, name: &str, b: &Balancer, used: bool) {
    let at = |k: &'static str| ["balancer", name, k];
    if !token(name) {
        c.error(
            &["balancer", name],
            Problem::InvalidValue {
                message: format!(
                    "{name:?} is not a usable balancer name (letters, digits, `-` and `_`): it is the NAME of balancer://NAME"
                ),
            },
        );
    }
    if config.proxy.get(name).is_some_and(|p| p.routes.is_empty()) {
        let other = c.where_is(&["proxy", name]);
        c.error(
            &["balancer", name],
            Problem::BalancerNameClash {
                name: name.to_owned(),
                other,
            },
        );
    }
    if b.members.is_empty() {
        c.error(
            &at("members"),
            Problem::Empty {
                hint: "one or more { url = \"http://HOST:PORT\" }",
            },
        );
    }
    let sticky = b.stickysession.is_some() || b.sticky_cookie.is_some();
    members(
        c,
        &["balancer", name],
        &b.members,
        (!sticky).then_some(
            "its balancer has no stickysession or sticky_cookie, so no request names a route",
        ),
    );
    if let Some(s) = &b.stickysession {
        let (cookie, param) = s.split_once('|').unwrap_or((s, s));
        if !token(cookie) || !token(param) {
            c.error(
                &at("stickysession"),
                Problem::InvalidValue {
                    message: format!(
                        "{s:?} is not a cookie name, or COOKIE|PARAMETER (each a token: letters, digits, `-`, `_`, `.`)"
                    ),
                },
            );
        }
    }
    if let Some(s) = &b.sticky_cookie
        && !token(s)
    {
        c.error(
            &at("sticky_cookie"),
            Problem::InvalidValue {
                message: format!(
                    "{s:?} is not a cookie name (a token: letters, digits, `-`, `_`, `.`)"
                ),
            },
        );
    }
    if sticky && !b.members.is_empty() && b.members.iter().all(|m| m.route.is_none()) {
        let key = if b.stickysession.is_some() {
            "stickysession"
        } else {
            "sticky_cookie"
        };
        c.error(&at(key), Problem::NothingSticks);
    }
    for (k, set) in [
        ("nofailover", b.nofailover),
        ("scolonpathdelim", b.scolonpathdelim),
    ] {
        if set && !sticky {
            c.error(
                &at(k),
                Problem::OnlyWith {
                    with: "stickysession or sticky_cookie",
                },
            );
        }
    }
    if !used {
        c.warn(&["balancer", name], Risk::UnusedBalancer);
    }
}

fn route(c: &mut Checker<'_, '_>, config: &Config, proxy: &str, index: usize, r: &Route) {
    let idx = index.to_string();
    let here = ["proxy", proxy, "route", idx.as_str()];
    let at = |k: &'static str| ["proxy", proxy, "route", idx.as_str(), k];
    const PATHS: &str = "`path` (a prefix, as ProxyPass) or `path_regex` (as ProxyPassMatch)";
    match (&r.path, &r.path_regex) {
        (None, None) => c.error(
            &here,
            Problem::ExactlyOne {
                what: "a route",
                keys: PATHS,
                found: Vec::new(),
            },
        ),
        (Some(_), Some(_)) => c.error(
            &at("path_regex"),
            Problem::ExactlyOne {
                what: "a route",
                keys: PATHS,
                found: vec!["path", "path_regex"],
            },
        ),
        (Some(p), None) => {
            if let Err(message) = PathPrefix::parse(p) {
                c.error(&at("path"), Problem::InvalidValue { message });
            }
        }
        (None, Some(re)) => {
            if let Err(message) = PathRegex::parse(re) {
                c.error(&at("path_regex"), Problem::InvalidValue { message });
            }
        }
    }
    let actions: Vec<&'static str> = [
        ("balancer", r.balancer.is_some()),
        ("url", r.url.is_some()),
        ("exclude", r.exclude),
        ("redirect", r.redirect.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    const ACTIONS: &str = "`balancer`, `url`, `exclude = true` or `redirect`";
    match actions.as_slice() {
        [] => c.error(
            &here,
            Problem::ExactlyOne {
                what: "a route",
                keys: ACTIONS,
                found: Vec::new(),
            },
        ),
        [_] => {}
        [_, second, ..] => c.error(
            &at(second),
            Problem::ExactlyOne {
                what: "a route",
                keys: ACTIONS,
                found: actions.clone(),
            },
        ),
    }
    match (&r.to, &r.balancer) {
        (Some(_), None) => c.error(
            &at("to"),
            Problem::OnlyWith {
                with: "`balancer` (it is the path of balancer://NAME/TO)",
            },
        ),
        (Some(to), Some(_)) if !to.is_empty() && !to.starts_with('/') => c.error(
            &at("to"),
            Problem::InvalidValue {
                message: format!(
                    "{to:?} is not a path starting with / (the path of balancer://NAME/TO)"
                ),
            },
        ),
        _ => {}
    }
    match (&r.directory, r.exclude) {
        (Some(_), false) => c.error(
            &at("directory"),
            Problem::OnlyWith {
                with: "`exclude = true`",
            },
        ),
        (Some(d), true) if !d.is_dir() && !d.is_file() => c.error(
            &at("directory"),
            Problem::InvalidValue {
                message: format!("{} is neither a directory nor a file", d.display()),
            },
        ),
        _ => {}
    }
    match (&r.document_root, r.exclude, &r.directory) {
        (Some(_), false, _) => c.error(
            &at("document_root"),
            Problem::OnlyWith {
                with: "`exclude = true`",
            },
        ),
        (Some(_), true, Some(_)) => c.error(
            &at("document_root"),
            Problem::InvalidValue {
                message: "give one of directory (as Alias) and document_root (as DocumentRoot)"
                    .into(),
            },
        ),
        (Some(d), true, None) if !d.is_dir() => c.error(
            &at("document_root"),
            Problem::InvalidValue {
                message: format!("{} is not a directory", d.display()),
            },
        ),
        _ => {}
    }
    match (r.status, &r.redirect) {
        (Some(_), None) => c.error(&at("status"), Problem::OnlyWith { with: "`redirect`" }),
        (Some(s), Some(_)) if !REDIRECT_STATUSES.contains(&s) => c.error(
            &at("status"),
            Problem::OutOfRange {
                value: s.to_string(),
                allowed: "301, 302, 303, 307 or 308".into(),
            },
        ),
        _ => {}
    }
    if let Some(to) = &r.redirect
        && (to.is_empty() || to.parse::<http::Uri>().is_err())
    {
        c.error(
            &at("redirect"),
            Problem::InvalidValue {
                message: format!("{to:?} is not a URL"),
            },
        );
    }
    if r.pass_reverse {
        if r.balancer.is_none() && r.url.is_none() {
            c.error(
                &at("pass_reverse"),
                Problem::OnlyWith {
                    with: "`balancer` or `url`",
                },
            );
        } else if r.path_regex.is_some() {
            c.error(
                &at("pass_reverse"),
                Problem::InvalidValue {
                    message: "ProxyPassReverse maps a member's URL back to a path prefix: \
                              it cannot be used with `path_regex`; use `path`"
                        .into(),
                },
            );
        }
    }
    if let Some(b) = &r.balancer
        && !config.balancer.contains_key(b)
    {
        c.error(
            &at("balancer"),
            Problem::UndefinedTable {
                table: "balancer",
                name: b.clone(),
                suggestion: nearest(b, config.balancer.keys().map(String::as_str)),
            },
        );
    }
    if let Some(url) = &r.url {
        route_url(c, &at("url"), url);
    }
}

/// `url = "http://b:8080/y"` (`ProxyPass /x http://b:8080/y`).
fn route_url(c: &mut Checker<'_, '_>, path: &[&str], url: &str) {
    let uri = match url.parse::<http::Uri>() {
        Ok(uri) => uri,
        Err(e) => {
            c.error(
                path,
                Problem::InvalidValue {
                    message: format!("{url:?} is not a URL: {e}"),
                },
            );
            return;
        }
    };
    let unsupported = |why: String| Problem::Unsupported {
        value: format!("{url:?}"),
        why,
    };
    match uri.scheme_str() {
        // lb-proxy's member schemes (a `ws`/`wss` member is an `http`/`https`
        // one whose requests are WebSocket upgrades).
        Some("http" | "https" | "ws" | "wss") => {}
        Some(s) => {
            c.error(
                path,
                unsupported(format!(
                    "{s}: had's proxy speaks HTTP/1.1 to members; Apache's ajp, fcgi, uwsgi, \
                     scgi and h2c backends have no equivalent"
                )),
            );
            return;
        }
        None => {}
    }
    match uri.authority() {
        None => c.error(
            path,
            Problem::InvalidValue {
                message: format!(
                    "{url:?} needs a scheme and a host (e.g. \"http://198.18.0.21:8080/app/\")"
                ),
            },
        ),
        Some(a) if a.as_str().contains('@') => c.error(
            path,
            Problem::InvalidValue {
                message: format!("{url:?} must not carry user information"),
            },
        ),
        Some(_) => {}
    }
}

/// A route is never used when an earlier route of the same `[proxy]`
/// matches every path it could: a prefix route whose prefix an earlier
/// prefix matches (`/` first, then `/static`), or any route after `/`.
fn shadowed_routes(c: &mut Checker<'_, '_>, proxy: &str, routes: &[Route]) {
    let prefix = |r: &Route| {
        r.path
            .as_deref()
            .filter(|_| r.path_regex.is_none())
            .and_then(|p| PathPrefix::parse(p).ok())
    };
    for (j, r) in routes.iter().enumerate() {
        let key = match (&r.path, &r.path_regex) {
            (Some(_), None) => "path",
            (None, Some(_)) => "path_regex",
            _ => continue,
        };
        let later = prefix(r);
        let earlier = routes[..j].iter().enumerate().find_map(|(i, e)| {
            let e = prefix(e)?;
            let covers = e.is_root()
                || later
                    .as_ref()
                    .is_some_and(|l| e.matched_len(l.as_str()).is_some());
            covers.then_some((i, e))
        });
        if let Some((i, e)) = earlier {
            let at = c.where_is(&["proxy", proxy, "route", &i.to_string()]);
            c.warn(
                &["proxy", proxy, "route", &j.to_string(), key],
                Risk::RouteShadowed {
                    earlier: format!("{at} with path {:?}", e.as_str()),
                },
            );
        }
    }
}

/// The names a `[proxy]` answers to, each with its key.
fn host_names<'a>(name: &str, p: &'a Proxy) -> Vec<(Vec<String>, &'a str)> {
    let mut out = Vec::new();
    if let Some(n) = &p.server_name {
        out.push((strings(&["proxy", name, "server_name"]), n.as_str()));
    }
    for (i, n) in p.server_alias.iter().enumerate() {
        out.push((
            strings(&["proxy", name, "server_alias", &i.to_string()]),
            n.as_str(),
        ));
    }
    out
}

/// What `[proxy]` sections that share an address must agree on: one
/// listener takes its first section's connection settings; on each
/// address the first section is the default host, so a later one needs a
/// name, two may not share one, and an earlier wildcard takes a later name.
fn shared_addresses(c: &mut Checker<'_, '_>, config: &Config) {
    let proxies: Vec<(&str, &Proxy)> = config.proxy.iter().map(|(n, p)| (n.as_str(), p)).collect();
    // Listener groups as `plan::proxy_groups` makes them: sections joined by
    // a shared address, transitively; the group's first in file order sets
    // the connection settings.
    let mut group: Vec<usize> = (0..proxies.len()).collect();
    for i in 0..proxies.len() {
        for j in 0..i {
            if proxies[i]
                .1
                .listen
                .iter()
                .any(|a| proxies[j].1.listen.contains(a))
            {
                let (from, to) = (group[i], group[j]);
                for g in &mut group {
                    if *g == from {
                        *g = to;
                    }
                }
            }
        }
    }
    for i in 0..proxies.len() {
        let first = (0..i).find(|&k| group[k] == group[i]);
        if let Some(first) = first {
            connection_settings(c, proxies[first], proxies[i]);
        }
    }

    let mut on: BTreeMap<SocketAddr, Vec<usize>> = BTreeMap::new();
    for (i, (_, p)) in proxies.iter().enumerate() {
        for a in &p.listen {
            let hosts = on.entry(*a).or_default();
            if !hosts.contains(&i) {
                hosts.push(i);
            }
        }
    }
    for (i, (name, p)) in proxies.iter().enumerate() {
        if p.server_name.is_some() || !p.server_alias.is_empty() {
            continue;
        }
        let default_of = |a: &SocketAddr| on.get(a).and_then(|h| h.first()).copied();
        if p.listen.iter().any(|a| default_of(a) == Some(i)) {
            continue;
        }
        if let Some(a) = p.listen.first()
            && let Some(d) = default_of(a)
        {
            let default = c.where_is(&["proxy", proxies[d].0]);
            c.error(
                &["proxy", name, "server_name"],
                Problem::UnreachableHost {
                    addr: a.to_string(),
                    default,
                },
            );
        }
    }
    let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
    for (addr, hosts) in &on {
        for (k, &h) in hosts.iter().enumerate() {
            for &e in &hosts[..k] {
                let earlier = host_names(proxies[e].0, proxies[e].1);
                for (key, name) in host_names(proxies[h].0, proxies[h].1) {
                    if reported.contains(&key) {
                        continue;
                    }
                    for (other_key, other) in &earlier {
                        if name.eq_ignore_ascii_case(other) {
                            let other = c.where_is(other_key);
                            c.error(
                                &key,
                                Problem::DuplicateHostName {
                                    name: name.to_ascii_lowercase(),
                                    other,
                                    addr: addr.to_string(),
                                },
                            );
                        } else if wildcard(other) && HostPattern::new(other).matches(name) {
                            let first = c.where_is(other_key);
                            c.warn(
                                &key,
                                Risk::HostShadowed {
                                    name: name.to_owned(),
                                    pattern: (*other).to_owned(),
                                    first,
                                    addr: addr.to_string(),
                                },
                            );
                        } else {
                            continue;
                        }
                        reported.insert(key.clone());
                        break;
                    }
                }
            }
        }
    }
}

/// A listener group's connection settings, as `plan.rs` compares them:
/// each key with its value after defaults, for the message.
fn connection(p: &Proxy) -> Vec<(&'static str, String)> {
    let d = lb_proxy::ProxyConfig::default();
    let secs = |t: Duration| format!("{} s", t.as_secs_f64());
    let or =
        |v: Option<u32>, default: usize| v.map_or_else(|| default.to_string(), |v| v.to_string());
    vec![
        ("timeout", secs(p.timeout)),
        ("connect_timeout", secs(p.connect_timeout)),
        ("retry", secs(p.retry)),
        (
            "header_read_timeout",
            secs(p.header_read_timeout.unwrap_or(d.header_read_timeout)),
        ),
        (
            "body_read_timeout",
            secs(p.body_read_timeout.unwrap_or(d.body_read_timeout)),
        ),
        (
            "pool_idle_timeout",
            secs(p.pool_idle_timeout.unwrap_or(d.pool_idle_timeout)),
        ),
        (
            "tunnel_idle_timeout",
            secs(p.tunnel_idle_timeout.unwrap_or(d.tunnel_idle_timeout)),
        ),
        (
            "send_timeout",
            secs(p.send_timeout.unwrap_or(d.send_timeout)),
        ),
        ("max_connections", or(p.max_connections, d.max_connections)),
        (
            "limit_request_field_size",
            or(p.limit_request_field_size, d.limit_request_field_size),
        ),
        (
            "limit_request_fields",
            or(p.limit_request_fields, d.limit_request_fields),
        ),
        (
            "limit_request_line",
            or(p.limit_request_line, d.limit_request_line),
        ),
        (
            "access_log",
            p.access_log
                .as_ref()
                .map_or_else(|| "none".to_owned(), |f| format!("{:?}", f.display().to_string())),
        ),
        (
            "health_check",
            p.health_check.as_ref().map_or_else(
                || "none".to_owned(),
                |h| {
                    format!(
                        "{{ method = {:?}, uri = {:?}, interval = {}, timeout = {}, passes = {}, fails = {}, expect_status = {} }}",
                        h.method.to_ascii_uppercase(),
                        h.uri,
                        secs(h.interval),
                        secs(h.timeout),
                        h.passes,
                        h.fails,
                        h.expect_status
                    )
                },
            ),
        ),
        (
            "workers",
            p.workers
                .map_or_else(|| "one per CPU".to_owned(), |w| w.to_string()),
        ),
    ]
}

/// `later` shares a listener with `first`: every connection setting must
/// be the first's.
fn connection_settings(c: &mut Checker<'_, '_>, first: (&str, &Proxy), later: (&str, &Proxy)) {
    for ((key, want), (_, got)) in connection(first.1).iter().zip(connection(later.1)) {
        if *want == got {
            continue;
        }
        let first_at = if c.written(&["proxy", first.0, key]) {
            format!("{want} at {}", c.where_is(&["proxy", first.0, key]))
        } else {
            format!(
                "{want} (the default) of {}",
                c.where_is(&["proxy", first.0])
            )
        };
        let value = if c.written(&["proxy", later.0, key]) {
            got
        } else {
            format!("{got} (the default)")
        };
        c.error(
            &["proxy", later.0, key],
            Problem::SharedListener {
                value,
                first: first_at,
            },
        );
    }
}
