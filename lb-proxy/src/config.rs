//! Plain configuration types for one proxy, with Apache's names and defaults
//! (except where the issue deliberately differs: `retry` is short, a response
//! timeout answers 504). The daemon parses `[proxy.NAME]` into these; this
//! crate has no serde so its types stay free of any file format.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::{Method, StatusCode};

use crate::Error;

/// How the balancer picks a member for each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LbMethod {
    /// Apache `byrequests`: smooth weighted round-robin on `loadfactor`.
    #[default]
    ByRequests,
    /// Apache `bybusyness`: the usable member with the fewest requests in flight.
    ByBusyness,
}

impl std::str::FromStr for LbMethod {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "byrequests" => Ok(Self::ByRequests),
            "bybusyness" => Ok(Self::ByBusyness),
            other => Err(Error::Config {
                field: "lbmethod".into(),
                reason: format!("{other:?} is not one of \"byrequests\", \"bybusyness\""),
            }),
        }
    }
}

/// One backend member (Apache `BalancerMember`).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberConfig {
    /// `http://host:port[/prefix]`; the prefix is prepended to every request path.
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
    /// The members, at least one, at most [`MAX_MEMBERS`].
    pub members: Vec<MemberConfig>,
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
            retry: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(20),
            body_read_timeout: Duration::from_secs(20),
            pool_idle_timeout: Duration::from_secs(4),
            tunnel_idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            limit_request_field_size: 8190,
            limit_request_fields: 100,
            limit_request_line: 8190,
            access_log: None,
            health_check: None,
            workers: None,
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

impl ProxyConfig {
    /// Checks every field; the error names the first bad one.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field (`members[1].url`, `timeout`, …).
    pub fn validate(&self) -> Result<(), Error> {
        if self.listen.is_empty() {
            return Err(invalid("listen", "at least one address is needed"));
        }
        crate::route::PathPrefix::parse(&self.path).map_err(|reason| invalid("path", reason))?;
        if self.members.is_empty() {
            return Err(invalid("members", "at least one member is needed"));
        }
        if self.members.len() > MAX_MEMBERS {
            return Err(invalid(
                "members",
                format!("{} members, at most {MAX_MEMBERS}", self.members.len()),
            ));
        }
        for (i, m) in self.members.iter().enumerate() {
            crate::member::MemberTarget::parse(&m.url)
                .map_err(|reason| invalid(format!("members[{i}].url"), reason))?;
            if !LOADFACTOR.contains(&m.loadfactor) {
                return Err(invalid(
                    format!("members[{i}].loadfactor"),
                    format!("{} is outside {LOADFACTOR:?}", m.loadfactor),
                ));
            }
            if let Some(t) = m.timeout {
                positive(&format!("members[{i}].timeout"), t)?;
            }
            if self.members[..i].iter().any(|o| o.url == m.url) {
                return Err(invalid(
                    format!("members[{i}].url"),
                    format!("{} is listed twice", m.url),
                ));
            }
        }
        positive("connect_timeout", self.connect_timeout)?;
        positive("timeout", self.timeout)?;
        positive("header_read_timeout", self.header_read_timeout)?;
        positive("body_read_timeout", self.body_read_timeout)?;
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
        if self.workers == Some(0) {
            return Err(invalid("workers", "must be at least 1"));
        }
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
