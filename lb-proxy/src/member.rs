//! A backend member's identity, live state and counters. Everything here is
//! atomics: the request path never takes a lock to read or update a member.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http::HeaderValue;

use crate::config::{MemberConfig, MemberTls, ProxyConfig};
use crate::member_tls::Connector;
use crate::pool::Pool;

/// How a member is spoken to, from its URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberScheme {
    /// `http://`: HTTP/1.1 over TCP.
    Http,
    /// `https://`: HTTP/1.1 over TLS.
    Https,
    /// `ws://` (Apache mod_proxy_wstunnel): an `http://` member whose
    /// requests are WebSocket upgrades; the connection is the same.
    Ws,
    /// `wss://`: a `ws://` member over TLS.
    Wss,
}

impl MemberScheme {
    /// The schemes a member URL may have.
    const SUPPORTED: &'static str = "members are http://, https://, ws:// or wss://";

    /// The scheme of `name`, or why it is refused (one line).
    fn parse(name: &str) -> Result<Self, String> {
        let lower = name.to_ascii_lowercase();
        // Apache's other member schemes, named with the module they need.
        let module = match lower.as_str() {
            "http" => return Ok(Self::Http),
            "https" => return Ok(Self::Https),
            "ws" => return Ok(Self::Ws),
            "wss" => return Ok(Self::Wss),
            "ajp" => " (mod_proxy_ajp)",
            "fcgi" => " (mod_proxy_fcgi)",
            "uwsgi" => " (mod_proxy_uwsgi)",
            "scgi" => " (mod_proxy_scgi)",
            "h2c" | "h2" => " (HTTP/2 to members, mod_proxy_http2)",
            _ => "",
        };
        Err(format!(
            "scheme {lower:?}{module} is not supported: {}",
            Self::SUPPORTED
        ))
    }

    /// Whether the connection is TLS.
    pub(crate) fn tls(self) -> bool {
        matches!(self, Self::Https | Self::Wss)
    }

    /// The port when the URL has none.
    fn default_port(self) -> u16 {
        if self.tls() { 443 } else { 80 }
    }

    /// The scheme of the member's own HTTP URLs (what a `Location` from it
    /// starts with): a WebSocket member answers plain requests as HTTP.
    fn http_scheme(self) -> &'static str {
        if self.tls() { "https" } else { "http" }
    }
}

/// Where a member lives, parsed once from its URL.
#[derive(Debug, Clone)]
pub(crate) struct MemberTarget {
    /// How it is spoken to.
    pub(crate) scheme: MemberScheme,
    /// The URL's host without brackets: the TLS server name.
    pub(crate) host: String,
    /// Resolved socket address.
    pub(crate) addr: SocketAddr,
    /// `host[:port]` as written, the `Host` sent when the client's is not preserved.
    pub(crate) authority: HeaderValue,
    /// `http://host[:port]` (`https://` for a TLS member), what
    /// `pass_reverse` looks for in `Location`.
    pub(crate) origin: String,
    /// Path prefix without a trailing slash (empty for `/`).
    pub(crate) prefix: String,
}

impl MemberTarget {
    /// Parses and resolves `SCHEME://host[:port][/prefix]` (SCHEME one of
    /// `http`, `https`, `ws`, `wss`); the error says why not.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let scheme = match uri.scheme_str() {
            Some(name) => MemberScheme::parse(name)?,
            None => return Err(format!("{url:?} has no scheme (expected http://host:port)")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{url:?} has no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!("{url:?} must not carry user information"));
        }
        let port = authority.port_u16().unwrap_or(scheme.default_port());
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {host:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host:?} resolves to no address"))?;
        if uri.query().is_some() {
            return Err(format!("{url:?} must not have a query"));
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        Ok(Self {
            scheme,
            host: host.to_owned(),
            addr,
            authority: HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?,
            origin: format!("{}://{}", scheme.http_scheme(), authority.as_str()),
            prefix,
        })
    }

    /// The TLS connector of a TLS member under `settings`; `None` for plain TCP.
    fn tls(&self, settings: &MemberTls, url: &str) -> Result<Option<Connector>, String> {
        if !self.scheme.tls() {
            return Ok(None);
        }
        Connector::new(settings, &self.host, url).map(Some)
    }
}

/// A member's state as `hactl status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatus {
    /// Usable.
    Up,
    /// In error after a connect failure, until its `retry` time has passed.
    Error,
    /// Failed its active health check.
    HealthFailed,
    /// Disabled by configuration or `hactl member disable`.
    Disabled,
}

impl MemberStatus {
    /// The lower-case word used in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Error => "error",
            Self::HealthFailed => "health_failed",
            Self::Disabled => "disabled",
        }
    }
}

/// Upper bounds, in seconds, of the latency histogram buckets (Prometheus `le`).
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A snapshot of one member for status and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberStats {
    /// The member's URL as configured.
    pub url: String,
    /// Its weight.
    pub loadfactor: u32,
    /// Current state.
    pub status: MemberStatus,
    /// Requests sent to it (attempts, including ones that failed).
    pub requests: u64,
    /// Attempts that failed (connect, reset, malformed response).
    pub failures: u64,
    /// Requests whose response has not finished yet.
    pub in_flight: u64,
    /// Cumulative counts per [`LATENCY_BUCKETS`] bound (time to response headers);
    /// one more entry at the end is the `+Inf` bucket, i.e. the total count.
    pub latency_buckets: Vec<u64>,
    /// Sum of all recorded latencies, in seconds.
    pub latency_sum_seconds: f64,
}

/// Milliseconds since a process-wide origin, so deadlines fit in an `AtomicU64`.
pub(crate) fn now_ms() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    u64::try_from(origin.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

/// One live member.
#[derive(Debug)]
pub struct Member {
    pub(crate) url: String,
    pub(crate) target: MemberTarget,
    pub(crate) loadfactor: AtomicU32,
    pub(crate) hot_standby: AtomicBool,
    /// Apache `route=`.
    pub(crate) route: std::sync::RwLock<Option<Arc<str>>>,
    /// Apache `lbset=`.
    pub(crate) lbset: AtomicU32,
    /// Apache `status=+N`: only sticky requests for its route.
    pub(crate) drain: AtomicBool,
    /// Apache `status=+I`: usable whatever its error state.
    ignore_errors: AtomicBool,
    /// Bytes sent to and read from it (`bytraffic`).
    traffic: AtomicU64,
    retry_ms: AtomicU64,
    /// Its own response timeout in ms (`BalancerMember timeout=`); 0 = the proxy's.
    timeout_ms: AtomicU64,
    enabled: AtomicBool,
    health_ok: AtomicBool,
    /// `now_ms()` until which the member is in error; 0 = not in error.
    error_until: AtomicU64,
    requests: AtomicU64,
    failures: AtomicU64,
    in_flight: AtomicU64,
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
    pub(crate) pool: Pool,
}

impl Member {
    /// A member of `proxy` (its default `retry`, its `member_tls`).
    pub(crate) fn new(
        cfg: &MemberConfig,
        proxy: &ProxyConfig,
        workers: usize,
    ) -> Result<Self, String> {
        let target = MemberTarget::parse(&cfg.url)?;
        let tls = target.tls(&proxy.member_tls, &cfg.url)?;
        let default_retry = proxy.retry;
        Ok(Self {
            url: cfg.url.clone(),
            pool: Pool::new(target.addr, tls, workers),
            target,
            loadfactor: AtomicU32::new(cfg.loadfactor),
            hot_standby: AtomicBool::new(cfg.hot_standby),
            route: std::sync::RwLock::new(cfg.route.as_deref().map(Arc::from)),
            lbset: AtomicU32::new(cfg.lbset),
            drain: AtomicBool::new(cfg.drain),
            ignore_errors: AtomicBool::new(cfg.ignore_errors),
            traffic: AtomicU64::new(0),
            retry_ms: AtomicU64::new(duration_ms(cfg.retry.unwrap_or(default_retry))),
            timeout_ms: AtomicU64::new(cfg.timeout.map_or(0, |d| duration_ms(d).max(1))),
            enabled: AtomicBool::new(!cfg.disabled),
            health_ok: AtomicBool::new(true),
            error_until: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            buckets: Default::default(),
            latency_sum_us: AtomicU64::new(0),
        })
    }

    /// Applies a reloaded config to a member that keeps its URL (and counters).
    pub(crate) fn update(&self, cfg: &MemberConfig, proxy: &ProxyConfig) {
        let default_retry = proxy.retry;
        self.update_tls(&proxy.member_tls);
        self.loadfactor.store(cfg.loadfactor, Ordering::Relaxed);
        self.hot_standby.store(cfg.hot_standby, Ordering::Relaxed);
        *self
            .route
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            cfg.route.as_deref().map(Arc::from);
        self.lbset.store(cfg.lbset, Ordering::Relaxed);
        self.drain.store(cfg.drain, Ordering::Relaxed);
        self.ignore_errors
            .store(cfg.ignore_errors, Ordering::Relaxed);
        self.retry_ms.store(
            duration_ms(cfg.retry.unwrap_or(default_retry)),
            Ordering::Relaxed,
        );
        self.enabled.store(!cfg.disabled, Ordering::Relaxed);
        self.timeout_ms.store(
            cfg.timeout.map_or(0, |d| duration_ms(d).max(1)),
            Ordering::Relaxed,
        );
    }

    /// A TLS member's connector is built again on reload, so a replaced CA
    /// file takes effect; when the settings changed, its idle connections
    /// (verified under the old ones) are closed.
    fn update_tls(&self, settings: &MemberTls) {
        match self.target.tls(settings, &self.url) {
            Ok(None) => {}
            Ok(Some(connector)) => {
                if self.pool.set_tls(connector) {
                    self.pool.clear();
                }
            }
            // `ProxyConfig::validate` read the CA file moments ago; if it is
            // gone now, the member keeps the connector it had.
            Err(e) => {
                tracing::error!(member = %self.url, error = %e, "member TLS settings not applied");
            }
        }
    }

    /// Its own response timeout, when it has one.
    pub(crate) fn own_timeout(&self) -> Option<Duration> {
        match self.timeout_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// The member's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its route (`route=`), if it has one.
    pub(crate) fn route(&self) -> Option<Arc<str>> {
        self.route
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether it has route `route`.
    pub(crate) fn has_route(&self, route: &str) -> bool {
        self.route
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_deref()
            == Some(route)
    }

    /// Counts `n` bytes sent to or read from it.
    pub(crate) fn add_traffic(&self, n: u64) {
        self.traffic.fetch_add(n, Ordering::Relaxed);
    }

    /// `bytraffic`'s measure: bytes moved per unit of loadfactor.
    pub(crate) fn traffic_per_weight(&self) -> u64 {
        self.traffic.load(Ordering::Relaxed)
            / u64::from(self.loadfactor.load(Ordering::Relaxed).max(1))
    }

    /// Whether the balancer may send it a request at `now` (from `now_ms`).
    pub(crate) fn usable(&self, now: &mut Option<u64>) -> bool {
        if !self.enabled.load(Ordering::Relaxed) || !self.health_ok.load(Ordering::Relaxed) {
            return false;
        }
        // Apache `+I`: errors do not take it out.
        if self.ignore_errors.load(Ordering::Relaxed) {
            return true;
        }
        let until = self.error_until.load(Ordering::Relaxed);
        // Read the clock only when some member is in error: the common case costs no syscall.
        if until == 0 {
            return true;
        }
        if until <= *now.get_or_insert_with(now_ms) {
            // The retry period is over: back to the clock-free fast path.
            let _ =
                self.error_until
                    .compare_exchange(until, 0, Ordering::Relaxed, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Current status for reports.
    pub fn status(&self) -> MemberStatus {
        if !self.enabled.load(Ordering::Relaxed) {
            MemberStatus::Disabled
        } else if !self.health_ok.load(Ordering::Relaxed) {
            MemberStatus::HealthFailed
        } else if self.error_until.load(Ordering::Relaxed) > now_ms() {
            MemberStatus::Error
        } else {
            MemberStatus::Up
        }
    }

    pub(crate) fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
    }

    pub(crate) fn health_ok(&self) -> bool {
        self.health_ok.load(Ordering::Relaxed)
    }

    pub(crate) fn set_health(&self, ok: bool) {
        self.health_ok.store(ok, Ordering::Relaxed);
    }

    /// Puts the member in error for its `retry` time (Apache: worker in
    /// error state); never a `+I` member, which Apache never puts in error.
    pub(crate) fn mark_error(&self) {
        if self.ignore_errors.load(Ordering::Relaxed) {
            tracing::debug!(member = %self.url, "connect failure on a +I member: it stays in rotation");
            return;
        }
        let until = now_ms().saturating_add(self.retry_ms.load(Ordering::Relaxed));
        self.error_until.store(until, Ordering::Relaxed);
        tracing::warn!(member = %self.url, "member in error after a connect failure");
    }

    /// Apache `forcerecovery`: clears the passive error state.
    pub(crate) fn clear_error(&self) {
        self.error_until.store(0, Ordering::Relaxed);
    }

    pub(crate) fn is_in_error(&self, now: u64) -> bool {
        self.error_until.load(Ordering::Relaxed) > now
    }

    pub(crate) fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub(crate) fn begin(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn end(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn record_failure(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_latency(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let idx = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        if let Some(b) = self.buckets.get(idx) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.latency_sum_us.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// A consistent-enough snapshot (each counter read once, relaxed).
    pub fn stats(&self) -> MemberStats {
        let mut cumulative = 0;
        let latency_buckets = self
            .buckets
            .iter()
            .map(|b| {
                cumulative += b.load(Ordering::Relaxed);
                cumulative
            })
            .collect();
        #[allow(clippy::cast_precision_loss)]
        let latency_sum_seconds = self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        MemberStats {
            url: self.url.clone(),
            loadfactor: self.loadfactor.load(Ordering::Relaxed),
            status: self.status(),
            requests: self.requests.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            in_flight: self.in_flight(),
            latency_buckets,
            latency_sum_seconds,
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_schemes() {
        let t = MemberTarget::parse("https://127.0.0.1/app/").expect("https");
        assert_eq!(t.scheme, MemberScheme::Https);
        assert_eq!(t.addr, SocketAddr::from(([127, 0, 0, 1], 443)));
        assert_eq!(
            (t.origin.as_str(), t.prefix.as_str()),
            ("https://127.0.0.1", "/app")
        );
        let t = MemberTarget::parse("wss://localhost:8443").expect("wss");
        assert_eq!(
            (t.scheme, t.host.as_str()),
            (MemberScheme::Wss, "localhost")
        );
        assert_eq!(t.origin, "https://localhost:8443");
        let t = MemberTarget::parse("ws://127.0.0.1").expect("ws");
        assert_eq!((t.scheme, t.addr.port()), (MemberScheme::Ws, 80));
        assert_eq!(t.origin, "http://127.0.0.1");
        let t = MemberTarget::parse("HTTP://[::1]:8080").expect("http");
        assert_eq!((t.scheme, t.host.as_str()), (MemberScheme::Http, "::1"));
    }

    #[test]
    fn other_schemes_are_refused_in_one_line() {
        for (url, want) in [
            (
                "ajp://127.0.0.1:8009",
                "scheme \"ajp\" (mod_proxy_ajp) is not supported",
            ),
            (
                "fcgi://127.0.0.1:9000/",
                "scheme \"fcgi\" (mod_proxy_fcgi) is not supported",
            ),
            (
                "uwsgi://127.0.0.1:3031",
                "scheme \"uwsgi\" (mod_proxy_uwsgi) is not supported",
            ),
            (
                "h2c://127.0.0.1:8080",
                "scheme \"h2c\" (HTTP/2 to members, mod_proxy_http2) is not supported",
            ),
            (
                "h2://127.0.0.1:8443",
                "scheme \"h2\" (HTTP/2 to members, mod_proxy_http2) is not supported",
            ),
            ("ftp://127.0.0.1", "scheme \"ftp\" is not supported"),
        ] {
            let err = MemberTarget::parse(url).expect_err(url);
            assert!(err.starts_with(want), "{url}: {err}");
            assert!(
                err.ends_with("members are http://, https://, ws:// or wss://"),
                "{err}"
            );
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
