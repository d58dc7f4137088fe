//! Plain configuration types for one proxy, with Apache's names and defaults
//! (except where the issue deliberately differs: `retry` is short, a response
//! timeout answers 504). The daemon parses `[proxy.NAME]` into these; this
//! crate has no serde so its types stay free of any file format.

mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::{Method, StatusCode};

use crate::Error;

pub use routes::{
    BalancerConfig, PathMatch, RouteAction, RouteConfig, StickyConfig, VirtualHostConfig,
};

/// How the balancer picks a member for each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LbMethod {
    /// Apache `byrequests`: smooth weighted round-robin on `loadfactor`.
    #[default]
    ByRequests,
    /// Apache `bybusyness`: the usable member with the fewest requests in flight.
    ByBusyness,
    /// Apache `bytraffic`: the usable member that moved the fewest bytes
    /// (sent and read) per unit of loadfactor.
    ByTraffic,
}

impl std::str::FromStr for LbMethod {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "byrequests" => Ok(Self::ByRequests),
            "bybusyness" => Ok(Self::ByBusyness),
            "bytraffic" => Ok(Self::ByTraffic),
            other => Err(Error::Config {
                field: "lbmethod".into(),
                reason: format!(
                    "{other:?} is not one of \"byrequests\", \"bybusyness\", \"bytraffic\""
                ),
            }),
        }
    }
}

/// One backend member (Apache `BalancerMember`).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberConfig {
    /// `http://host:port[/prefix]`; the prefix is prepended to every request
    /// path. Also `https://` and `wss://` (TLS, see [`MemberTls`]) and `ws://`.
    pub url: String,
    /// Relative weight, 1..=100 as in Apache (default 1).
    pub loadfactor: u32,
    /// How long a member stays in error after a connect failure (Apache `retry`).
    /// `None` uses [`ProxyConfig::retry`].
    pub retry: Option<Duration>,
    /// Apache `status=+H`: hot standby, used only while no other member is usable.
    pub hot_standby: bool,
    /// Apache `status=+D`: configured but disabled (no traffic until enabled).
    pub disabled: bool,
    /// Time for this member's response headers (Apache `BalancerMember
    /// timeout=`); `None` uses [`ProxyConfig::timeout`].
    pub timeout: Option<Duration>,
    /// Apache `route=`: the session route sticky requests name it by.
    pub route: Option<String>,
    /// Apache `lbset=`: members of a lower set are tried before any of a
    /// higher one (default 0).
    pub lbset: u32,
    /// Apache `status=+N` (drain): only sticky requests for its route.
    pub drain: bool,
    /// Apache `status=+I` (ignore errors): always considered usable.
    pub ignore_errors: bool,
}

impl MemberConfig {
    /// A member with loadfactor 1 and no overrides.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            loadfactor: 1,
            retry: None,
            hot_standby: false,
            disabled: false,
            timeout: None,
            route: None,
            lbset: 0,
            drain: false,
            ignore_errors: false,
        }
    }

    /// The same member with another loadfactor.
    #[must_use]
    pub fn with_loadfactor(mut self, loadfactor: u32) -> Self {
        self.loadfactor = loadfactor;
        self
    }
}

/// What an active health check does (Apache mod_proxy_hcheck `hcmethod`).
#[derive(Debug, Clone, PartialEq)]
pub enum HealthCheckKind {
    /// A TCP connect within the connect timeout counts as a pass.
    Tcp,
    /// An HTTP request; a pass is a response with `expect_status`.
    Http {
        /// Request method (`hcmethod`, default GET).
        method: Method,
        /// Path and query to ask for (`hcuri`, default `/`).
        uri: String,
        /// Status that counts as healthy (default 200).
        expect_status: StatusCode,
    },
}

/// Active health checking of every member (Apache mod_proxy_hcheck).
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheckConfig {
    /// TCP or HTTP.
    pub kind: HealthCheckKind,
    /// Time between checks of one member (`hcinterval`, default 30 s).
    pub interval: Duration,
    /// Time one check may take before it counts as failed (default 5 s).
    pub timeout: Duration,
    /// Consecutive passes that bring a failed member back (`hcpasses`, default 1).
    pub passes: u32,
    /// Consecutive failures that take a member out (`hcfails`, default 1).
    pub fails: u32,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        Self {
            kind: HealthCheckKind::Tcp,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            passes: 1,
            fails: 1,
        }
    }
}

/// TLS towards `https://` and `wss://` members, for every member of the
/// proxy (Apache's `SSLProxyCACertificateFile` and `SSLProxyVerify`, which
/// are per server too). The member's URL host is the TLS server name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberTls {
    /// PEM file of the CA certificates a member's certificate must chain to,
    /// in place of the system's trust store; `None` (the default) = the
    /// system's store. Re-read on every reload.
    pub ca_file: Option<PathBuf>,
    /// Verify the member's certificate chain and that it names the URL's
    /// host (default `true`). `false` accepts any certificate, and is logged
    /// as a warning for each member it applies to.
    pub verify: bool,
}

impl Default for MemberTls {
    fn default() -> Self {
        Self {
            ca_file: None,
            verify: true,
        }
    }
}

impl MemberTls {
    /// `ca_file` must exist and hold a certificate, and needs `verify`.
    fn validate(&self) -> Result<(), Error> {
        if let Some(path) = &self.ca_file {
            if !self.verify {
                return Err(invalid(
                    "member_tls.ca_file",
                    "has no effect with member_tls.verify = false",
                ));
            }
            crate::member_tls::load_ca_file(path)
                .map_err(|reason| invalid("member_tls.ca_file", reason))?;
        }
        Ok(())
    }
}

/// One reverse proxy: listeners, members and the knobs of Apache's
/// `ProxyPass` / `BalancerMember` / `ProxySet`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyConfig {
    /// Addresses to listen on; may be a VIP this node does not hold yet (IP_FREEBIND).
    pub listen: Vec<SocketAddr>,
    /// The local path proxied (the first argument of `ProxyPass`), default
    /// `/`. A request outside it is answered 404; inside it, the matched
    /// prefix is replaced by the member's URL path (`path = "/api"`: `/api/x`
    /// reaches `http://m:8080/v1` as `/v1/x`). See [`crate::route`].
    pub path: String,
    /// `ProxyPreserveHost On`: forward the client's `Host` instead of the member's.
    pub preserve_host: bool,
    /// `ProxyPassReverse`: rewrite `Location`, `Content-Location` and `URI`
    /// pointing at a member into the client's front URL.
    pub pass_reverse: bool,
    /// Balancing method.
    pub lbmethod: LbMethod,
    /// Apache `maxattempts`: other members tried after a failed attempt;
    /// `None` = every other usable member (Apache's default, members - 1).
    pub max_attempts: Option<u32>,
    /// The members of the one-balancer shorthand, at most [`MAX_MEMBERS`]:
    /// with `path`, `preserve_host`, `pass_reverse`, `lbmethod` and
    /// `max_attempts` they make one virtual host with one route to one
    /// balancer. Empty when `vhosts` are given.
    pub members: Vec<MemberConfig>,
    /// Virtual hosts with their routes (the routing model); empty = the
    /// shorthand above. See [`ProxyConfig::sites`].
    pub vhosts: Vec<VirtualHostConfig>,
    /// Named balancers the routes of `vhosts` send to.
    pub balancers: Vec<BalancerConfig>,
    /// Default time a member stays in error after a connect failure (default 5 s;
    /// Apache's 60 s would keep a restarted backend idle for a minute).
    pub retry: Duration,
    /// Time to establish a TCP connection to a member (`connectiontimeout`, default 5 s).
    pub connect_timeout: Duration,
    /// Time for a member's response headers (`timeout`, default 60 s); expiry
    /// answers 504. A member's own [`MemberConfig::timeout`] overrides it.
    pub timeout: Duration,
    /// Time a client may take to send a request head, and the keep-alive idle
    /// limit between requests (Apache `RequestReadTimeout header=`, default 20 s).
    pub header_read_timeout: Duration,
    /// Longest wait for the next piece of a request body, before a member is
    /// chosen and while the body streams to it (Apache `RequestReadTimeout
    /// body=`, default 20 s); expiry answers 408 and closes the member
    /// connection.
    pub body_read_timeout: Duration,
    /// Longest wait for the client to take the next piece of a response
    /// (nginx `send_timeout`, the write half of Apache's `Timeout`; default
    /// 60 s): past it the response is abandoned, the HTTP/1.1 connection
    /// closed or the HTTP/2 stream reset, and the member's connection closed.
    pub send_timeout: Duration,
    /// How long an idle pooled member connection is kept (default 4 s, below the
    /// 5 s keep-alive of Apache and nginx so the member never closes it under us).
    pub pool_idle_timeout: Duration,
    /// Idle limit of an upgraded (WebSocket) tunnel (default 60 s).
    pub tunnel_idle_timeout: Duration,
    /// Maximum client connections served at once (default 10000); further
    /// clients wait in the listen backlog.
    pub max_connections: usize,
    /// Longest request header field, name and value (`LimitRequestFieldSize`, default 8190).
    pub limit_request_field_size: usize,
    /// Most request header fields (`LimitRequestFields`, default 100).
    pub limit_request_fields: usize,
    /// Longest request line, method, target and version (`LimitRequestLine`,
    /// default 8190); beyond it, 414.
    pub limit_request_line: usize,
    /// Combined-format access log file (`CustomLog … combined`); `None` = no log.
    pub access_log: Option<PathBuf>,
    /// Active health checks; `None` = passive health only.
    pub health_check: Option<HealthCheckConfig>,
    /// Worker threads, each with its own single-threaded runtime; `None` = one
    /// per CPU this process may run on.
    pub workers: Option<usize>,
    /// TLS towards `https://` and `wss://` members (default: verified
    /// against the system's trust store).
    pub member_tls: MemberTls,
    /// TLS towards clients on every listener (`None`: plain HTTP).
    pub tls: Option<crate::tls::TlsConfig>,
}

/// Most members one proxy may have (the balancer tracks them in a 64-bit set).
pub const MAX_MEMBERS: usize = 64;

/// Smallest `limit_request_field_size` and `limit_request_line`: Apache's
/// own floor is lower, but a head with a `Host` line needs this much.
pub const MIN_LINE_LIMIT: u32 = 64;

/// The `loadfactor` range, as in Apache.
pub const LOADFACTOR: std::ops::RangeInclusive<u32> = 1..=100;

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            path: "/".to_owned(),
            preserve_host: false,
            pass_reverse: false,
            lbmethod: LbMethod::ByRequests,
            max_attempts: None,
            members: Vec::new(),
            vhosts: Vec::new(),
            balancers: Vec::new(),
            retry: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(20),
            body_read_timeout: Duration::from_secs(20),
            send_timeout: Duration::from_secs(60),
            pool_idle_timeout: Duration::from_secs(4),
            tunnel_idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            limit_request_field_size: 8190,
            limit_request_fields: 100,
            limit_request_line: 8190,
            access_log: None,
            health_check: None,
            workers: None,
            member_tls: MemberTls::default(),
            tls: None,
        }
    }
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Config {
        field: field.into(),
        reason: reason.into(),
    }
}

fn positive(field: &str, d: Duration) -> Result<(), Error> {
    if d.is_zero() {
        Err(invalid(field, "must be greater than zero"))
    } else {
        Ok(())
    }
}

/// Whether `name` may name a host (`ServerName`, `ServerAlias`): letters,
/// digits, `-`, `.`, `_`, and the wildcards `*` and `?` (Apache's fnmatch).
fn valid_host_pattern(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*' | b'?'))
}

/// Whether `name` is an HTTP token (a cookie or parameter name).
fn token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The redirect statuses `Redirect` accepts.
const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

fn validate_member(field: &str, m: &MemberConfig) -> Result<(), Error> {
    crate::member::MemberTarget::parse(&m.url)
        .map_err(|reason| invalid(format!("{field}.url"), reason))?;
    if !LOADFACTOR.contains(&m.loadfactor) {
        return Err(invalid(
            format!("{field}.loadfactor"),
            format!("{} is outside {LOADFACTOR:?}", m.loadfactor),
        ));
    }
    if let Some(t) = m.timeout {
        positive(&format!("{field}.timeout"), t)?;
    }
    if let Some(route) = &m.route
        && !token(route)
    {
        return Err(invalid(
            format!("{field}.route"),
            format!("{route:?} is not a token (letters, digits, -, _, .)"),
        ));
    }
    Ok(())
}

fn validate_members(field: &str, members: &[MemberConfig]) -> Result<(), Error> {
    if members.is_empty() {
        return Err(invalid(field, "at least one member is needed"));
    }
    if members.len() > MAX_MEMBERS {
        return Err(invalid(
            field,
            format!("{} members, at most {MAX_MEMBERS}", members.len()),
        ));
    }
    for (i, m) in members.iter().enumerate() {
        validate_member(&format!("{field}[{i}]"), m)?;
        if members[..i].iter().any(|o| o.url == m.url) {
            return Err(invalid(
                format!("{field}[{i}].url"),
                format!("{} is listed twice", m.url),
            ));
        }
    }
    Ok(())
}

fn validate_balancer(field: &str, b: &BalancerConfig) -> Result<(), Error> {
    if !token(&b.name) {
        return Err(invalid(
            format!("{field}.name"),
            format!("{:?} is not a name (letters, digits, -, _, .)", b.name),
        ));
    }
    validate_members(&format!("{field}.members"), &b.members)?;
    if let Some(sticky) = &b.sticky {
        for (key, name) in [
            ("cookie", &sticky.cookie),
            ("url_param", &sticky.url_param),
            ("set_cookie", &sticky.set_cookie),
        ] {
            if let Some(name) = name
                && !token(name)
            {
                return Err(invalid(
                    format!("{field}.sticky.{key}"),
                    format!("{name:?} is not a cookie or parameter name"),
                ));
            }
        }
        if sticky.cookie.is_none() && sticky.url_param.is_none() && sticky.set_cookie.is_none() {
            return Err(invalid(
                format!("{field}.sticky"),
                "names neither a cookie nor a URL parameter",
            ));
        }
        if b.members.iter().all(|m| m.route.is_none()) {
            return Err(invalid(
                format!("{field}.sticky"),
                "no member has a route, so no request can stick to one",
            ));
        }
    }
    Ok(())
}

fn validate_route(field: &str, r: &RouteConfig, balancers: &[BalancerConfig]) -> Result<(), Error> {
    match &r.path {
        PathMatch::Prefix(p) => {
            crate::route::PathPrefix::parse(p)
                .map_err(|reason| invalid(format!("{field}.path"), reason))?;
        }
        PathMatch::Regex(re) => {
            crate::route::PathRegex::parse(re)
                .map_err(|reason| invalid(format!("{field}.path_regex"), reason))?;
        }
    }
    match &r.action {
        RouteAction::Proxy { balancer, to, .. } => {
            if !balancers.iter().any(|b| &b.name == balancer) {
                return Err(invalid(
                    format!("{field}.balancer"),
                    format!("no balancer is named {balancer:?}"),
                ));
            }
            if let Some(to) = to
                && !to.is_empty()
                && !to.starts_with('/')
            {
                return Err(invalid(
                    format!("{field}.to"),
                    format!("{to:?} is not a path starting with /"),
                ));
            }
        }
        RouteAction::Local {
            directory,
            full_path,
        } => {
            if let Some(dir) = directory {
                // A file only as an Alias to that one file.
                let (key, ok, what) = if *full_path {
                    ("document_root", dir.is_dir(), "a directory")
                } else {
                    (
                        "directory",
                        dir.is_dir() || dir.is_file(),
                        "a directory or a file",
                    )
                };
                if !ok {
                    return Err(invalid(
                        format!("{field}.{key}"),
                        format!("{} is not {what}", dir.display()),
                    ));
                }
            }
        }
        RouteAction::Redirect { status, to } => {
            if !REDIRECT_STATUSES.contains(status) {
                return Err(invalid(
                    format!("{field}.status"),
                    format!("{status} is not one of {REDIRECT_STATUSES:?}"),
                ));
            }
            if to.is_empty() || to.parse::<http::Uri>().is_err() {
                return Err(invalid(
                    format!("{field}.to"),
                    format!("{to:?} is not a URL"),
                ));
            }
        }
    }
    Ok(())
}

/// The name of the shorthand's host and balancer.
pub const SHORTHAND: &str = "default";

impl ProxyConfig {
    /// The virtual hosts and balancers this config describes: `vhosts` and
    /// `balancers` as given, or the shorthand's one host with one route at
    /// `path` to one balancer of `members` (both named [`SHORTHAND`]).
    pub fn sites(&self) -> (Vec<VirtualHostConfig>, Vec<BalancerConfig>) {
        if !self.vhosts.is_empty() {
            return (self.vhosts.clone(), self.balancers.clone());
        }
        let host = VirtualHostConfig {
            name: SHORTHAND.to_owned(),
            listen: Vec::new(),
            server_name: None,
            server_alias: Vec::new(),
            preserve_host: self.preserve_host,
            routes: vec![RouteConfig {
                path: PathMatch::Prefix(self.path.clone()),
                action: RouteAction::Proxy {
                    balancer: SHORTHAND.to_owned(),
                    to: None,
                    pass_reverse: self.pass_reverse,
                },
            }],
        };
        let balancer = BalancerConfig {
            name: SHORTHAND.to_owned(),
            lbmethod: self.lbmethod,
            max_attempts: self.max_attempts,
            members: self.members.clone(),
            sticky: None,
        };
        (vec![host], vec![balancer])
    }

    /// Checks the hosts, routes and balancers.
    fn validate_sites(&self) -> Result<(), Error> {
        if self.vhosts.is_empty() {
            crate::route::PathPrefix::parse(&self.path)
                .map_err(|reason| invalid("path", reason))?;
            if !self.balancers.is_empty() {
                return Err(invalid(
                    "balancers",
                    "balancers are used by vhosts; none are given",
                ));
            }
            return validate_members("members", &self.members);
        }
        let shorthand = !self.members.is_empty()
            || self.path != "/"
            || self.preserve_host
            || self.pass_reverse
            || self.lbmethod != LbMethod::ByRequests
            || self.max_attempts.is_some();
        if shorthand {
            return Err(invalid(
                "members",
                "the one-balancer shorthand (members, path, preserve_host, pass_reverse, \
                 lbmethod, max_attempts) cannot be combined with vhosts",
            ));
        }
        for (i, b) in self.balancers.iter().enumerate() {
            validate_balancer(&format!("balancers[{i}]"), b)?;
            if self.balancers[..i].iter().any(|o| o.name == b.name) {
                return Err(invalid(
                    format!("balancers[{i}].name"),
                    format!("{:?} is used twice", b.name),
                ));
            }
        }
        for (i, h) in self.vhosts.iter().enumerate() {
            let field = format!("vhosts[{i}]");
            if let Some(a) = h.listen.iter().find(|a| !self.listen.contains(a)) {
                return Err(invalid(
                    format!("{field}.listen"),
                    format!("{a} is not one of the proxy's addresses"),
                ));
            }
            for name in h.server_name.iter().chain(&h.server_alias) {
                if !valid_host_pattern(name) {
                    return Err(invalid(
                        format!("{field}.server_name"),
                        format!("{name:?} is not a host name"),
                    ));
                }
            }
            for (j, r) in h.routes.iter().enumerate() {
                validate_route(&format!("{field}.routes[{j}]"), r, &self.balancers)?;
            }
            // Apache serves the first of two hosts with one name on an
            // address and never the second: refused, naming both.
            let shares = |o: &VirtualHostConfig| {
                o.listen.is_empty()
                    || h.listen.is_empty()
                    || o.listen.iter().any(|a| h.listen.contains(a))
            };
            for o in self.vhosts[..i].iter().filter(|o| shares(o)) {
                let names = |v: &VirtualHostConfig| {
                    v.server_name
                        .iter()
                        .chain(&v.server_alias)
                        .map(|n| n.to_ascii_lowercase())
                        .collect::<Vec<_>>()
                };
                let theirs = names(o);
                if let Some(n) = names(h).into_iter().find(|n| theirs.contains(n)) {
                    return Err(invalid(
                        format!("{field}.server_name"),
                        format!("{n:?} is also a name of {} on the same address", o.name),
                    ));
                }
            }
        }
        if let Some(a) = self.listen.iter().find(|a| {
            !self
                .vhosts
                .iter()
                .any(|h| h.listen.is_empty() || h.listen.contains(a))
        }) {
            return Err(invalid(
                "listen",
                format!("no virtual host is served on {a}"),
            ));
        }
        Ok(())
    }

    /// Checks every field and reads every TLS file (certificates, keys,
    /// ticket keys, client CA) as a listener would; the error names the
    /// first bad one.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field (`members[1].url`, `timeout`, …),
    /// or [`Error::Certificate`] naming the file.
    pub fn validate(&self) -> Result<(), Error> {
        self.validate_settings()?;
        if let Some(tls) = &self.tls {
            crate::tls::check(tls)?;
        }
        Ok(())
    }

    /// [`validate`](Self::validate) without reading the TLS files: start
    /// and reload read them once, to use them.
    pub(crate) fn validate_settings(&self) -> Result<(), Error> {
        if self.listen.is_empty() {
            return Err(invalid("listen", "at least one address is needed"));
        }
        self.validate_sites()?;
        positive("connect_timeout", self.connect_timeout)?;
        positive("timeout", self.timeout)?;
        positive("header_read_timeout", self.header_read_timeout)?;
        positive("body_read_timeout", self.body_read_timeout)?;
        positive("send_timeout", self.send_timeout)?;
        positive("pool_idle_timeout", self.pool_idle_timeout)?;
        positive("tunnel_idle_timeout", self.tunnel_idle_timeout)?;
        if self.max_connections == 0 {
            return Err(invalid("max_connections", "must be at least 1"));
        }
        if self.limit_request_field_size < MIN_LINE_LIMIT as usize {
            return Err(invalid(
                "limit_request_field_size",
                format!("must be at least {MIN_LINE_LIMIT} bytes"),
            ));
        }
        if self.limit_request_fields == 0 {
            return Err(invalid("limit_request_fields", "must be at least 1"));
        }
        if self.limit_request_line < MIN_LINE_LIMIT as usize {
            return Err(invalid(
                "limit_request_line",
                format!("must be at least {MIN_LINE_LIMIT} bytes"),
            ));
        }
        if let Some(tls) = &self.tls {
            if tls.certificates.is_empty() {
                return Err(invalid("tls", "needs at least one certificate"));
            }
            positive("tls.handshake_timeout", tls.handshake_timeout)?;
            if tls.client_auth.as_ref().is_some_and(|a| a.depth == 0) {
                return Err(invalid(
                    "tls.verify_depth",
                    "must be at least 1 (1: client certificates issued directly by a CA of client_ca)",
                ));
            }
            if let Some(h) = tls
                .client_auth
                .as_ref()
                .and_then(|a| a.subject_header.as_deref())
                && http::HeaderName::from_bytes(h.as_bytes()).is_err()
            {
                return Err(invalid(
                    "tls.client_subject_header",
                    format!("{h:?} is not a header name"),
                ));
            }
        }
        if self.workers == Some(0) {
            return Err(invalid("workers", "must be at least 1"));
        }
        self.member_tls.validate()?;
        if let Some(hc) = &self.health_check {
            positive("health_check.interval", hc.interval)?;
            positive("health_check.timeout", hc.timeout)?;
            if hc.passes == 0 {
                return Err(invalid("health_check.passes", "must be at least 1"));
            }
            if hc.fails == 0 {
                return Err(invalid("health_check.fails", "must be at least 1"));
            }
            if let HealthCheckKind::Http { uri, .. } = &hc.kind
                && (!uri.starts_with('/') || uri.parse::<http::uri::PathAndQuery>().is_err())
            {
                return Err(invalid(
                    "health_check.uri",
                    format!("{uri:?} is not a path starting with /"),
                ));
            }
        }
        Ok(())
    }
}
