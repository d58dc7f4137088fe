//! The status document: what `hactl status --json` prints and what the
//! control socket's `status` request returns.
//!
//! The shape is the one of DESIGN.md (`router_id`, `instances`, `checks`,
//! `proxies`) with more fields; fields a consumer of the documented shape does
//! not know are additions, never renames.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The whole node: every VRRP instance, check and proxy it runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// `[global] router_id`.
    pub router_id: String,
    /// The daemon's process id.
    #[serde(default)]
    pub pid: u32,
    /// Seconds since the daemon started.
    #[serde(default)]
    pub uptime_secs: f64,
    /// Path of the configuration file the daemon runs (empty for the demo).
    #[serde(default)]
    pub config: String,
    /// Number of successful reloads since start.
    #[serde(default)]
    pub reloads: u64,
    /// The VRRP instances, sorted by name.
    pub instances: Vec<InstanceStatus>,
    /// The health checks, sorted by name.
    pub checks: Vec<CheckStatus>,
    /// The reverse proxies, sorted by name.
    pub proxies: Vec<ProxyStatus>,
}

/// A VRRP state as keepalived prints it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Not started yet, or stopped.
    #[default]
    Init,
    /// Listening to the master's adverts.
    Backup,
    /// Holding the virtual addresses and advertising.
    Master,
    /// An interface or a weight-0 check is down: the instance does not take part.
    Fault,
}

impl State {
    /// The state's name as keepalived prints it (`MASTER`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }

    /// The value of the `had_vrrp_state` gauge: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT.
    pub fn gauge_value(self) -> i64 {
        match self {
            State::Init => 0,
            State::Backup => 1,
            State::Master => 2,
            State::Fault => 3,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operator's priority override (`hactl demote` / `hactl promote`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Override {
    /// The instance advertises priority 1 (the lowest that still takes part):
    /// any healthy peer takes the VIP over.
    Demoted,
    /// The instance advertises priority 254 (the highest a non-owner may use)
    /// and preempts.
    Promoted,
}

impl Override {
    /// The priority the override puts on the wire.
    pub fn priority(self) -> u8 {
        match self {
            Override::Demoted => 1,
            Override::Promoted => 254,
        }
    }
}

/// One VRRP instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// The `[vrrp_instance.NAME]` name.
    pub name: String,
    /// Current state.
    pub state: State,
    /// VRID, 1..=255.
    pub virtual_router_id: u8,
    /// VRRP version, 2 or 3.
    #[serde(default)]
    pub version: u8,
    /// The interface the instance speaks on.
    #[serde(default)]
    pub interface: String,
    /// Configured priority.
    pub priority: u8,
    /// Priority after tracked checks, interfaces and overrides.
    pub effective_priority: u8,
    /// Operator override in force, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#override: Option<Override>,
    /// Address of the current master (this node's own address when MASTER).
    pub master: Option<IpAddr>,
    /// Priority the current master advertises.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_priority: Option<u8>,
    /// The virtual addresses, as configured (`198.18.0.200/24`).
    pub virtual_ipaddress: Vec<String>,
    /// Number of state changes since start.
    pub transitions: u64,
    /// Seconds spent in the current state.
    #[serde(default)]
    pub in_state_secs: f64,
    /// Why the instance entered its current state.
    #[serde(default)]
    pub reason: String,
    /// The sync group the instance belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_group: Option<String>,
    /// Advert counters.
    #[serde(default)]
    pub adverts: AdvertCounters,
}

/// Advertisement counters of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvertCounters {
    /// Adverts this node sent.
    pub sent: u64,
    /// Adverts received and accepted for this instance.
    pub received: u64,
    /// Adverts received for this instance's VRID but dropped, by reason
    /// (`auth`, `version`, `interval`, `ttl`, `addresses`, `malformed`, ...),
    /// plus what the interface's raw socket discarded before any instance
    /// saw it (`socket_not_peer`, `socket_malformed`; shared totals).
    pub dropped: BTreeMap<String, u64>,
}

impl AdvertCounters {
    /// Total dropped adverts, all reasons.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

/// One health check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckStatus {
    /// The `[vrrp_script.NAME]` (or built-in check) name.
    pub name: String,
    /// `ok`, `failing` or `unknown` (no result yet).
    pub status: String,
    /// What the check runs (script argv or built-in target), for people.
    #[serde(default)]
    pub target: String,
    /// The signed weight (0 = FAULT on failure).
    #[serde(default)]
    pub weight: i32,
    /// Runs that succeeded.
    #[serde(default)]
    pub successes: u64,
    /// Runs that failed (including timeouts).
    #[serde(default)]
    pub failures: u64,
    /// Duration of the last run, in seconds.
    #[serde(default)]
    pub last_duration_secs: f64,
    /// Last line of output or the failure's reason.
    #[serde(default)]
    pub last_output: String,
}

/// One reverse proxy: a listener group, the `[proxy]` sections that share
/// addresses (one section unless virtual hosts share an address), named
/// after its first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProxyStatus {
    /// The name of the group's first `[proxy.NAME]`.
    pub name: String,
    /// Addresses the proxy listens on.
    #[serde(default)]
    pub listen: Vec<String>,
    /// Every member of every balancer, balancer by balancer (DESIGN.md's
    /// list; `balancers` has the same members grouped).
    pub members: Vec<MemberStatus>,
    /// The virtual hosts (`[proxy]` sections) served, in file order.
    #[serde(default)]
    pub vhosts: Vec<VhostStatus>,
    /// The balancers the routes send to, with their members.
    #[serde(default)]
    pub balancers: Vec<BalancerStatus>,
    /// The certificates in force, when the group serves TLS (absent
    /// otherwise), in configuration order: the first is the default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertificateStatus>,
}

/// One certificate a TLS listener group serves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateStatus {
    /// The certificate file (`[proxy.NAME] tls.cert`).
    pub file: String,
    /// The DNS names it answers (subjectAltName, else the subject's CN).
    #[serde(default)]
    pub names: Vec<String>,
    /// Last day of validity, `YYYY-MM-DD` (UTC).
    pub not_after: String,
    /// End of validity, seconds since the Unix epoch.
    pub not_after_unix: i64,
    /// Whole days left until `not_after` (negative once expired).
    pub days_left: i64,
}

impl CertificateStatus {
    /// A certificate in force, as seen at `now`.
    pub fn of(info: &lb_proxy::CertificateInfo, now: std::time::SystemTime) -> CertificateStatus {
        CertificateStatus {
            file: info.cert.display().to_string(),
            names: info.names.clone(),
            not_after: lb_proxy::tls::utc_date(info.not_after),
            not_after_unix: info.not_after,
            days_left: info.days_left(now),
        }
    }

    /// `until 2027-03-01 (87 days)`, or how long ago it expired.
    fn validity(&self) -> String {
        let days = |n: i64| {
            if n == 1 {
                "1 day".to_owned()
            } else {
                format!("{n} days")
            }
        };
        if self.days_left < 0 {
            format!(
                "until {} (EXPIRED {} ago)",
                self.not_after,
                days(-self.days_left)
            )
        } else {
            format!("until {} ({})", self.not_after, days(self.days_left))
        }
    }
}

/// One virtual host (`[proxy.NAME]`) of a listener group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VhostStatus {
    /// The `[proxy.NAME]` name.
    pub name: String,
    /// `server_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// `server_alias`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_alias: Vec<String>,
    /// Addresses it is served on.
    #[serde(default)]
    pub listen: Vec<String>,
    /// Addresses whose default host it is (the first on each; requests
    /// whose `Host` no host names come here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_for: Vec<String>,
    /// `preserve_host`.
    #[serde(default)]
    pub preserve_host: bool,
    /// The routes, first match wins.
    #[serde(default)]
    pub routes: Vec<RouteStatus>,
}

/// One route of a virtual host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteStatus {
    /// The path prefix, or the regular expression when `regex`.
    pub path: String,
    /// Whether `path` is a regular expression (`path_regex`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub regex: bool,
    /// What the route does.
    #[serde(flatten)]
    pub action: RouteAction,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a route does, tagged `action` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RouteAction {
    /// Send to a balancer (a `url` route's is named `PROXY.routeN`).
    Balancer {
        /// The balancer's name.
        balancer: String,
        /// The path of `balancer://NAME/TO`, joined as Apache joins it;
        /// none = had's own join (the prefix dropped).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        /// `ProxyPassReverse`.
        #[serde(default, skip_serializing_if = "is_false")]
        pass_reverse: bool,
    },
    /// `ProxyPass PATH !`: served from `directory`, or 404 without one.
    Exclude {
        /// The directory (or the one file).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        directory: Option<String>,
        /// The whole request path is looked up in it (`document_root`),
        /// not the path after the route's prefix (`directory`).
        #[serde(default, skip_serializing_if = "is_false")]
        full_path: bool,
    },
    /// `Redirect`.
    Redirect {
        /// 301, 302, 303, 307 or 308.
        status: u16,
        /// The target.
        to: String,
    },
}

impl fmt::Display for RouteAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteAction::Balancer {
                balancer,
                to,
                pass_reverse,
            } => {
                match to {
                    Some(to) => write!(f, "balancer://{balancer}{to}")?,
                    None => write!(f, "balancer://{balancer} (prefix dropped)")?,
                }
                if *pass_reverse {
                    f.write_str(" +reverse")?;
                }
                Ok(())
            }
            RouteAction::Exclude {
                directory: Some(d),
                full_path: false,
            } => write!(f, "exclude, files from {d}"),
            RouteAction::Exclude {
                directory: Some(d),
                full_path: true,
            } => write!(f, "exclude, document root {d}"),
            RouteAction::Exclude {
                directory: None, ..
            } => f.write_str("exclude (404)"),
            RouteAction::Redirect { status, to } => write!(f, "redirect {status} {to}"),
        }
    }
}

/// One balancer of a listener group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BalancerStatus {
    /// `[balancer.NAME]`; the members shorthand's is its `[proxy]`'s name.
    pub name: String,
    /// `byrequests`, `bybusyness` or `bytraffic`.
    #[serde(default)]
    pub lbmethod: String,
    /// `maxattempts`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxattempts: Option<u32>,
    /// Sticky sessions, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky: Option<StickyStatus>,
    /// The members, in configuration order.
    pub members: Vec<MemberStatus>,
}

/// A balancer's sticky sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StickyStatus {
    /// The cookie that names the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    /// The URL parameter that names the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_param: Option<String>,
    /// The cookie had sets (`sticky_cookie`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_cookie: Option<String>,
    /// `nofailover`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub nofailover: bool,
}

impl fmt::Display for StickyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        match (&self.cookie, &self.url_param) {
            (Some(c), Some(u)) if c == u => parts.push(c.clone()),
            (Some(c), Some(u)) => parts.push(format!("{c}|{u}")),
            (Some(c), None) => parts.push(c.clone()),
            (None, Some(u)) => parts.push(format!("|{u}")),
            (None, None) => {}
        }
        if let Some(s) = &self.set_cookie {
            parts.push(format!("sets {s}"));
        }
        if self.nofailover {
            parts.push("nofailover".into());
        }
        f.write_str(&parts.join(", "))
    }
}

/// One balancer member of a proxy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberStatus {
    /// Backend URL.
    pub url: String,
    /// The balancer it is a member of.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub balancer: String,
    /// Apache `route=`: what a sticky session names it by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Apache `lbset=`: lower sets are used first.
    #[serde(default)]
    pub lbset: u32,
    /// The configured status flags (`+H` hot standby, `+D` disabled, `+N`
    /// drain, `+I` ignore errors), e.g. `+H+N`; empty for none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub flags: String,
    /// `up`, `down`, `disabled` or `draining`.
    pub status: String,
    /// Requests sent to this member.
    pub requests: u64,
    /// Requests that failed at this member (connect error, timeout, 5xx from the proxy's view).
    #[serde(default)]
    pub failures: u64,
    /// Requests in flight now.
    #[serde(default)]
    pub in_flight: u64,
    /// The `loadfactor` weight.
    #[serde(default)]
    pub loadfactor: u32,
    /// Latency of completed requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Histogram>,
}

/// A latency histogram snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Sum of all observations, in seconds.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
    /// `(upper bound in seconds, observations in this bucket alone)`,
    /// ascending bounds, NOT cumulative (the exposition accumulates them);
    /// observations above the last bound appear only in `count`.
    pub buckets: Vec<(f64, u64)>,
}

impl ProxyStatus {
    /// The status of a running listener group `name`: its configuration
    /// (hosts, routes, balancers, member settings), its counters, and the
    /// addresses it is bound to (`local`, in `config.listen` order).
    pub fn of(
        name: &str,
        config: &lb_proxy::ProxyConfig,
        stats: lb_proxy::ProxyStats,
        local: &[std::net::SocketAddr],
    ) -> ProxyStatus {
        let (hosts, balancer_configs) = config.sites();
        // A configured address as bound (port 0 resolved).
        let shown = |a: &std::net::SocketAddr| {
            config
                .listen
                .iter()
                .position(|x| x == a)
                .and_then(|i| local.get(i))
                .unwrap_or(a)
                .to_string()
        };
        let balancers: Vec<BalancerStatus> = stats
            .balancers
            .into_iter()
            .map(|b| {
                let cfg = balancer_configs.iter().find(|c| c.name == b.name);
                BalancerStatus {
                    lbmethod: cfg
                        .map(|c| lb_method(c.lbmethod))
                        .unwrap_or_default()
                        .to_owned(),
                    maxattempts: cfg.and_then(|c| c.max_attempts),
                    sticky: cfg.and_then(|c| c.sticky.as_ref()).map(|s| StickyStatus {
                        cookie: s.cookie.clone(),
                        url_param: s.url_param.clone(),
                        set_cookie: s.set_cookie.clone(),
                        nofailover: s.nofailover,
                    }),
                    members: b
                        .members
                        .into_iter()
                        .map(|m| {
                            let member =
                                cfg.and_then(|c| c.members.iter().find(|x| x.url == m.url));
                            MemberStatus::of(&b.name, m, member)
                        })
                        .collect(),
                    name: b.name,
                }
            })
            .collect();
        let serves = |h: &lb_proxy::VirtualHostConfig, a: &std::net::SocketAddr| {
            h.listen.is_empty() || h.listen.contains(a)
        };
        let vhosts = hosts
            .iter()
            .map(|h| VhostStatus {
                name: h.name.clone(),
                server_name: h.server_name.clone(),
                server_alias: h.server_alias.clone(),
                listen: config
                    .listen
                    .iter()
                    .filter(|a| serves(h, a))
                    .map(shown)
                    .collect(),
                default_for: config
                    .listen
                    .iter()
                    .filter(|a| {
                        hosts
                            .iter()
                            .find(|o| serves(o, a))
                            .is_some_and(|o| o.name == h.name)
                    })
                    .map(shown)
                    .collect(),
                preserve_host: h.preserve_host,
                routes: h.routes.iter().map(RouteStatus::of).collect(),
            })
            .collect();
        ProxyStatus {
            name: name.to_owned(),
            listen: local.iter().map(ToString::to_string).collect(),
            members: balancers.iter().flat_map(|b| b.members.clone()).collect(),
            vhosts,
            balancers,
            certificates: Vec::new(),
        }
    }
}

fn lb_method(m: lb_proxy::LbMethod) -> &'static str {
    match m {
        lb_proxy::LbMethod::ByRequests => "byrequests",
        lb_proxy::LbMethod::ByBusyness => "bybusyness",
        lb_proxy::LbMethod::ByTraffic => "bytraffic",
    }
}

impl RouteStatus {
    fn of(r: &lb_proxy::RouteConfig) -> RouteStatus {
        let (path, regex) = match &r.path {
            lb_proxy::PathMatch::Prefix(p) => (p.clone(), false),
            lb_proxy::PathMatch::Regex(re) => (re.clone(), true),
        };
        let action = match &r.action {
            lb_proxy::RouteAction::Proxy {
                balancer,
                to,
                pass_reverse,
            } => RouteAction::Balancer {
                balancer: balancer.clone(),
                to: to.clone(),
                pass_reverse: *pass_reverse,
            },
            lb_proxy::RouteAction::Local {
                directory,
                full_path,
            } => RouteAction::Exclude {
                directory: directory.as_ref().map(|d| d.display().to_string()),
                full_path: *full_path,
            },
            lb_proxy::RouteAction::Redirect { status, to } => RouteAction::Redirect {
                status: *status,
                to: to.clone(),
            },
        };
        RouteStatus {
            path,
            regex,
            action,
        }
    }
}

impl MemberStatus {
    /// A member of balancer `balancer`: its counters, and its settings
    /// from `config` when known.
    fn of(
        balancer: &str,
        m: lb_proxy::MemberStats,
        config: Option<&lb_proxy::MemberConfig>,
    ) -> MemberStatus {
        // lb-proxy counts cumulatively with a final +Inf entry; the status
        // document holds per-bucket counts.
        let count = m.latency_buckets.last().copied().unwrap_or(0);
        let mut prev = 0;
        let buckets = lb_proxy::LATENCY_BUCKETS
            .iter()
            .zip(&m.latency_buckets)
            .map(|(le, cum)| {
                let n = cum.saturating_sub(prev);
                prev = *cum;
                (*le, n)
            })
            .collect();
        let flags = config.map_or_else(String::new, |c| {
            [
                (c.hot_standby, "+H"),
                (c.disabled, "+D"),
                (c.drain, "+N"),
                (c.ignore_errors, "+I"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| *f)
            .collect()
        });
        MemberStatus {
            balancer: balancer.to_owned(),
            route: config.and_then(|c| c.route.clone()),
            lbset: config.map_or(0, |c| c.lbset),
            flags,
            status: m.status.as_str().to_owned(),
            requests: m.requests,
            failures: m.failures,
            in_flight: m.in_flight,
            loadfactor: m.loadfactor,
            latency: Some(Histogram {
                sum: m.latency_sum_seconds,
                count,
                buckets,
            }),
            url: m.url,
        }
    }
}

impl Status {
    /// Look an instance up by name.
    pub fn instance(&self, name: &str) -> Option<&InstanceStatus> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// Look a proxy up by name.
    pub fn proxy(&self, name: &str) -> Option<&ProxyStatus> {
        self.proxies.iter().find(|p| p.name == name)
    }

    /// The readable table `hactl status` prints.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "router_id {}  pid {}  up {}  reloads {}\n",
            self.router_id,
            self.pid,
            format_secs(self.uptime_secs),
            self.reloads
        ));
        out.push_str("\nINSTANCES\n");
        if self.instances.is_empty() {
            out.push_str("  (none)\n");
        } else {
            let rows = self.instances.iter().map(|i| {
                let prio = match i.r#override {
                    Some(o) => format!("{}/{} ({o:?})", i.priority, i.effective_priority),
                    None => format!("{}/{}", i.priority, i.effective_priority),
                };
                vec![
                    i.name.clone(),
                    i.state.to_string(),
                    format!("{}@{}", i.virtual_router_id, i.interface),
                    prio,
                    i.master.map_or_else(|| "-".to_owned(), |a| a.to_string()),
                    i.virtual_ipaddress.join(","),
                    format_secs(i.in_state_secs),
                    i.transitions.to_string(),
                    format!(
                        "{}/{}/{}",
                        i.adverts.sent,
                        i.adverts.received,
                        i.adverts.dropped_total()
                    ),
                ]
            });
            out.push_str(&table(
                &[
                    "NAME",
                    "STATE",
                    "VRID@IF",
                    "PRIO/EFF",
                    "MASTER",
                    "VIPS",
                    "IN STATE",
                    "TRANS",
                    "ADV S/R/DROP",
                ],
                rows,
            ));
            for i in &self.instances {
                if !i.adverts.dropped.is_empty() {
                    let reasons: Vec<String> = i
                        .adverts
                        .dropped
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    out.push_str(&format!("  {} dropped: {}\n", i.name, reasons.join(" ")));
                }
            }
        }
        out.push_str("\nCHECKS\n");
        if self.checks.is_empty() {
            out.push_str("  (none)\n");
        } else {
            let rows = self.checks.iter().map(|c| {
                vec![
                    c.name.clone(),
                    c.status.clone(),
                    c.weight.to_string(),
                    format!("{}/{}", c.successes, c.failures),
                    format!("{:.3}s", c.last_duration_secs),
                    c.last_output.clone(),
                ]
            });
            out.push_str(&table(
                &["NAME", "STATUS", "WEIGHT", "OK/FAIL", "LAST", "OUTPUT"],
                rows,
            ));
        }
        out.push_str("\nPROXIES\n");
        if self.proxies.is_empty() {
            out.push_str("  (none)\n");
        } else {
            let rows = self.proxies.iter().flat_map(|p| {
                p.members.iter().map(move |m| {
                    vec![
                        p.name.clone(),
                        p.listen.join(","),
                        m.balancer.clone(),
                        m.url.clone(),
                        m.status.clone(),
                        m.loadfactor.to_string(),
                        m.route.clone().unwrap_or_else(|| "-".to_owned()),
                        m.lbset.to_string(),
                        if m.flags.is_empty() {
                            "-".to_owned()
                        } else {
                            m.flags.clone()
                        },
                        m.requests.to_string(),
                        m.failures.to_string(),
                        m.in_flight.to_string(),
                    ]
                })
            });
            out.push_str(&table(
                &[
                    "PROXY", "LISTEN", "BALANCER", "MEMBER", "STATUS", "LF", "ROUTE", "LBSET",
                    "FLAGS", "REQS", "FAILS", "INFLIGHT",
                ],
                rows,
            ));
            out.push_str(&self.sites_text());
            out.push_str(&self.certificates_text());
        }
        out
    }

    /// Each TLS listener group's certificates, one line each:
    /// `web  /etc/had/www.pem  www.example.com, example.com  until 2027-03-01 (87 days)`.
    fn certificates_text(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .proxies
            .iter()
            .flat_map(|p| {
                p.certificates.iter().map(move |c| {
                    vec![
                        p.name.clone(),
                        c.file.clone(),
                        if c.names.is_empty() {
                            "(no DNS name)".to_owned()
                        } else {
                            c.names.join(", ")
                        },
                        c.validity(),
                    ]
                })
            })
            .collect();
        if rows.is_empty() {
            return String::new();
        }
        format!("\nCERTIFICATES\n{}", columns(&rows))
    }

    /// Each listener group's virtual hosts with their routes in order, and
    /// its balancers' settings.
    fn sites_text(&self) -> String {
        let mut out = String::new();
        if self.proxies.iter().all(|p| p.vhosts.is_empty()) {
            return out;
        }
        out.push_str("\nVIRTUAL HOSTS\n");
        for p in &self.proxies {
            for h in &p.vhosts {
                let mut names: Vec<&str> = h.server_name.iter().map(String::as_str).collect();
                names.extend(h.server_alias.iter().map(String::as_str));
                out.push_str(&format!(
                    "  {} (proxy {}) on {}{}: {}\n",
                    h.name,
                    p.name,
                    h.listen.join(","),
                    if h.default_for.is_empty() {
                        String::new()
                    } else {
                        format!(", default for {}", h.default_for.join(","))
                    },
                    if names.is_empty() {
                        "any name".to_owned()
                    } else {
                        names.join(" ")
                    },
                ));
                let rows = h.routes.iter().enumerate().map(|(i, r)| {
                    vec![
                        i.to_string(),
                        if r.regex {
                            format!("~ {}", r.path)
                        } else {
                            r.path.clone()
                        },
                        r.action.to_string(),
                    ]
                });
                out.push_str(&indent(&table(&["#", "PATH", "ACTION"], rows)));
            }
        }
        out.push_str("\nBALANCERS\n");
        let rows = self.proxies.iter().flat_map(|p| {
            p.balancers.iter().map(move |b| {
                let up = b.members.iter().filter(|m| m.status == "up").count();
                vec![
                    p.name.clone(),
                    b.name.clone(),
                    b.lbmethod.clone(),
                    b.maxattempts
                        .map_or_else(|| "-".to_owned(), |n| n.to_string()),
                    b.sticky
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), ToString::to_string),
                    format!("{up}/{}", b.members.len()),
                ]
            })
        });
        out.push_str(&table(
            &[
                "PROXY",
                "BALANCER",
                "LBMETHOD",
                "MAXATTEMPTS",
                "STICKY",
                "UP",
            ],
            rows,
        ));
        out
    }
}

/// Every line of `text` indented by two more spaces.
fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// `12.3s`, `4m05s`, `2h03m`: short enough for a table column.
fn format_secs(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".to_owned();
    }
    if secs < 60.0 {
        return format!("{secs:.1}s");
    }
    // Whole seconds are plenty past a minute; the cast saturates.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let s = secs as u64;
    if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// Left-aligned columns, two spaces apart, indented by two, no header.
fn columns(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let n = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(n),
                None => widths.push(n),
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut l = String::from(" ");
        for (cell, w) in row.iter().zip(&widths) {
            l.push(' ');
            l.push_str(cell);
            for _ in cell.chars().count()..*w {
                l.push(' ');
            }
            l.push(' ');
        }
        out.push_str(l.trim_end());
        out.push('\n');
    }
    out
}

/// Left-aligned columns, two spaces apart, indented by two.
fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut all: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    all.extend(rows);
    columns(&all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            router_id: "ha1".into(),
            instances: vec![InstanceStatus {
                name: "VI_1".into(),
                state: State::Master,
                virtual_router_id: 51,
                version: 3,
                interface: "eth0".into(),
                priority: 100,
                effective_priority: 100,
                master: Some("198.18.0.11".parse().unwrap()),
                virtual_ipaddress: vec!["198.18.0.200/24".into()],
                transitions: 1,
                adverts: AdvertCounters {
                    sent: 3,
                    received: 0,
                    dropped: [("auth".to_owned(), 2)].into_iter().collect(),
                },
                ..InstanceStatus::default()
            }],
            checks: vec![CheckStatus {
                name: "chk_proxy".into(),
                status: "ok".into(),
                ..CheckStatus::default()
            }],
            proxies: vec![ProxyStatus {
                name: "web".into(),
                listen: vec!["198.18.0.200:80".into()],
                members: vec![MemberStatus {
                    url: "http://198.18.0.21:8080".into(),
                    status: "up".into(),
                    requests: 42,
                    ..MemberStatus::default()
                }],
                ..ProxyStatus::default()
            }],
            ..Status::default()
        }
    }

    #[test]
    fn json_has_the_design_shape() {
        let v = serde_json::to_value(sample()).unwrap();
        assert_eq!(v["router_id"], "ha1");
        let i = &v["instances"][0];
        assert_eq!(i["name"], "VI_1");
        assert_eq!(i["state"], "MASTER");
        assert_eq!(i["virtual_router_id"], 51);
        assert_eq!(i["priority"], 100);
        assert_eq!(i["effective_priority"], 100);
        assert_eq!(i["master"], "198.18.0.11");
        assert_eq!(i["virtual_ipaddress"][0], "198.18.0.200/24");
        assert_eq!(i["transitions"], 1);
        assert_eq!(i["adverts"]["dropped"]["auth"], 2);
        assert_eq!(v["checks"][0]["name"], "chk_proxy");
        assert_eq!(v["checks"][0]["status"], "ok");
        let m = &v["proxies"][0]["members"][0];
        assert_eq!(v["proxies"][0]["name"], "web");
        assert_eq!(m["url"], "http://198.18.0.21:8080");
        assert_eq!(m["status"], "up");
        assert_eq!(m["requests"], 42);
    }

    #[test]
    fn json_round_trips_and_accepts_the_minimal_design_document() {
        let s = sample();
        let back: Status = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let design = r#"{"router_id":"ha1",
 "instances":[{"name":"VI_1","state":"MASTER","virtual_router_id":51,
   "priority":100,"effective_priority":100,"master":"198.18.0.11",
   "virtual_ipaddress":["198.18.0.200/24"],"transitions":1}],
 "checks":[{"name":"chk_proxy","status":"ok"}],
 "proxies":[{"name":"web","members":[{"url":"http://198.18.0.21:8080",
   "status":"up","requests":42}]}]}"#;
        let d: Status = serde_json::from_str(design).unwrap();
        assert_eq!(d.instances[0].state, State::Master);
        assert_eq!(d.proxies[0].members[0].requests, 42);
    }

    #[test]
    fn table_lists_every_section() {
        let t = sample().to_table();
        assert!(t.contains("VI_1"), "{t}");
        assert!(t.contains("MASTER"), "{t}");
        assert!(t.contains("51@eth0"), "{t}");
        assert!(t.contains("chk_proxy"), "{t}");
        assert!(t.contains("http://198.18.0.21:8080"), "{t}");
        assert!(t.contains("VI_1 dropped: auth=2"), "{t}");
        let empty = Status::default().to_table();
        assert_eq!(empty.matches("(none)").count(), 3, "{empty}");
    }

    fn with_certificates() -> Status {
        let mut s = sample();
        s.proxies[0].certificates = vec![
            CertificateStatus {
                file: "/etc/had/www.pem".into(),
                names: vec!["www.example.com".into(), "example.com".into()],
                not_after: "2027-03-01".into(),
                not_after_unix: 1_803_945_599,
                days_left: 87,
            },
            CertificateStatus {
                file: "/etc/had/old.pem".into(),
                names: vec!["old.example.com".into()],
                not_after: "2026-12-01".into(),
                not_after_unix: 1_796_083_200,
                days_left: -1,
            },
        ];
        s
    }

    #[test]
    fn certificates_are_listed_with_their_expiry() {
        let v = serde_json::to_value(with_certificates()).unwrap();
        let c = &v["proxies"][0]["certificates"][0];
        assert_eq!(c["file"], "/etc/had/www.pem");
        assert_eq!(c["names"][1], "example.com");
        assert_eq!(c["not_after"], "2027-03-01");
        assert_eq!(c["not_after_unix"], 1_803_945_599_i64);
        assert_eq!(c["days_left"], 87);
        let t = with_certificates().to_table();
        let lines: Vec<&str> = t.lines().collect();
        let at = lines
            .iter()
            .position(|l| *l == "CERTIFICATES")
            .unwrap_or_else(|| panic!("no CERTIFICATES section in\n{t}"));
        assert_eq!(
            lines[at + 1],
            "  web  /etc/had/www.pem  www.example.com, example.com  until 2027-03-01 (87 days)"
        );
        assert_eq!(
            lines[at + 2],
            "  web  /etc/had/old.pem  old.example.com               until 2026-12-01 (EXPIRED 1 day ago)"
        );
    }

    /// Without TLS the document and the table are what they were.
    #[test]
    fn no_certificates_no_field_no_section() {
        let v = serde_json::to_value(sample()).unwrap();
        assert!(v["proxies"][0].get("certificates").is_none(), "{v}");
        assert!(!sample().to_table().contains("CERTIFICATES"));
    }

    #[test]
    fn certificate_status_comes_from_the_proxy_s_info() {
        let info = lb_proxy::CertificateInfo {
            cert: "/etc/had/www.pem".into(),
            names: vec!["www.example.com".into()],
            not_after: 1_803_945_599,
        };
        let now =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_803_945_599 - 86_400 * 87 - 5);
        let c = CertificateStatus::of(&info, now);
        assert_eq!(c.file, "/etc/had/www.pem");
        assert_eq!(c.not_after, "2027-03-01");
        assert_eq!(c.not_after_unix, 1_803_945_599);
        assert_eq!(c.days_left, 87);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_secs(1.25), "1.2s");
        assert_eq!(format_secs(245.0), "4m05s");
        assert_eq!(format_secs(7380.0), "2h03m");
        assert_eq!(format_secs(f64::NAN), "-");
    }
}
