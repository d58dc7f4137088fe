//! From configuration to running stacks: the one place that decides what
//! each VRRP instance, check and proxy is built from.
//!
//! A [`Plan`] is the runtime's view of a configuration: everything already
//! converted to the types of `vrrp-core`, `health` and `lb-proxy`, so the
//! runtime itself never interprets a config key.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use vrrp_core::packet::IpFamily;

/// Everything the runtime needs to run one configuration.
#[derive(Clone)]
pub struct Plan {
    /// `[global] router_id` (defaults to the host name).
    pub router_id: String,
    /// Where the control socket listens.
    pub control_socket: PathBuf,
    /// Where Prometheus metrics are served, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// Run the VRRP thread with SCHED_RR.
    pub realtime: bool,
    /// How long a graceful stop waits for in-flight proxied requests.
    pub drain_timeout: Duration,
    /// The VRRP instances, in name order.
    pub instances: Vec<InstancePlan>,
    /// The health checks (scripts and built-in probes), in name order.
    pub checks: Vec<health::CheckConfig>,
    /// `[track_proxy.NAME]` checks: built by the runtime once the proxy runs.
    pub proxy_checks: Vec<ProxyCheck>,
    /// Notify hooks run at most this long.
    pub notify_timeout: Duration,
    /// The reverse proxies, in name order.
    pub proxies: Vec<(String, lb_proxy::ProxyConfig)>,
    /// `vrrp_sync_group`s and their notify hooks.
    pub sync_groups: Vec<SyncGroupPlan>,
}

/// A `vrrp_sync_group`: instances that change state together.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncGroupPlan {
    /// Group name.
    pub name: String,
    /// Member instance names.
    pub members: Vec<String>,
    /// Hooks run when the whole group has entered a state (keepalived's
    /// `GROUP name state` notifications).
    pub notify: health::NotifyScripts,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("router_id", &self.router_id)
            .field("control_socket", &self.control_socket)
            .field("metrics_listen", &self.metrics_listen)
            .field(
                "instances",
                &self.instances.iter().map(|i| &i.name).collect::<Vec<_>>(),
            )
            .field(
                "checks",
                &self.checks.iter().map(|c| &c.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A check that is healthy while a local proxy has at least `min_up` members up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyCheck {
    /// Check name.
    pub name: String,
    /// The `[proxy.NAME]` it watches.
    pub proxy: String,
    /// Minimum up members.
    pub min_up: usize,
    /// keepalived weight.
    pub weight: i32,
}

/// One VRRP instance, ready for the VRRP thread.
#[derive(Debug, Clone, PartialEq)]
pub struct InstancePlan {
    /// The `[vrrp_instance.NAME]` name.
    pub name: String,
    /// The interface adverts go out on and VIPs are added to.
    pub interface: String,
    /// IPv4 or IPv6 (from the VIPs).
    pub family: IpFamily,
    /// The state machine's configuration. `primary_address` is filled in
    /// from the interface (or `unicast_src_ip`) when the instance starts.
    pub core: vrrp_core::InstanceConfig,
    /// The virtual addresses with their prefix lengths and labels.
    pub vips: Vec<Vip>,
    /// `unicast_src_ip`: the source of unicast adverts.
    pub unicast_src: Option<IpAddr>,
    /// `unicast_peer`: empty = multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// Gratuitous ARP / unsolicited NA schedule after becoming MASTER.
    pub garp: vip_netlink::GarpConfig,
    /// Tracked checks and their weights.
    pub track_checks: Vec<Tracked>,
    /// Tracked interfaces and their weights (0 = FAULT while down).
    pub track_interfaces: Vec<Tracked>,
    /// Notify hooks, parsed and resolved.
    pub notify: health::NotifyScripts,
    /// The `vrrp_sync_group` the instance belongs to.
    pub sync_group: Option<String>,
}

impl InstancePlan {
    /// What must not change for a reload to keep the instance's state and
    /// VIPs: interface, VRID, address family and VRRP version.
    pub fn identity(&self) -> (String, u8, IpFamily, vrrp_core::Version) {
        (
            self.interface.clone(),
            self.core.vrid,
            self.family,
            self.core.version,
        )
    }

    /// Whether a reload to `new` can keep the running state machine as is:
    /// same identity and the same protocol settings (priority and tracking
    /// are applied to a running instance without a restart).
    pub fn runs_as(&self, new: &InstancePlan) -> bool {
        let mut a = self.core.clone();
        let mut b = new.core.clone();
        a.priority = 0;
        b.priority = 0;
        a.primary_address = IpAddr::from([0, 0, 0, 0]);
        b.primary_address = IpAddr::from([0, 0, 0, 0]);
        self.identity() == new.identity()
            && a == b
            && self.vips == new.vips
            && self.unicast_src == new.unicast_src
            && self.unicast_peers == new.unicast_peers
            && (self.core.priority == 255) == (new.core.priority == 255)
    }
}

/// One virtual address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vip {
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length on the interface.
    pub prefix_len: u8,
    /// IPv4 label (`eth0:vip`), if any.
    pub label: Option<String>,
    /// keepalived's `dev`: another interface than the instance's.
    pub dev: Option<String>,
}

impl std::fmt::Display for Vip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// A tracked object and its keepalived weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    /// Check or interface name.
    pub name: String,
    /// Signed weight; 0 = FAULT while failing.
    pub weight: i32,
    /// keepalived's `reverse` for a `track_file`: the file's value counts negated.
    pub reverse: bool,
}

impl Plan {
    /// A plan with nothing to run but the control socket at `control_socket`.
    pub fn empty(router_id: impl Into<String>, control_socket: impl Into<PathBuf>) -> Plan {
        Plan {
            router_id: router_id.into(),
            control_socket: control_socket.into(),
            metrics_listen: None,
            realtime: false,
            drain_timeout: Duration::from_secs(5),
            instances: Vec::new(),
            checks: Vec::new(),
            proxy_checks: Vec::new(),
            notify_timeout: Duration::from_secs(30),
            proxies: Vec::new(),
            sync_groups: Vec::new(),
        }
    }
}

/// Why a valid configuration still cannot be run (a script that cannot be
/// resolved, an instance the state machine refuses).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A script or notify hook could not be resolved.
    #[error("{0}")]
    Script(#[from] health::Error),
    /// A VRRP instance's settings were refused by the state machine.
    #[error("vrrp_instance.{instance}: {source}")]
    Instance {
        /// Instance name.
        instance: String,
        /// The cause.
        source: vrrp_core::ConfigError,
    },
    /// A proxy section lb-proxy refuses.
    #[error("proxy.{proxy}: {reason}")]
    Proxy {
        /// Proxy name.
        proxy: String,
        /// What is wrong.
        reason: String,
    },
    /// An HTTP check URL that cannot be probed.
    #[error("http_check.{check}.url: {reason}")]
    HttpUrl {
        /// Check name.
        check: String,
        /// What is wrong.
        reason: String,
    },
}

/// Build the plan for a validated configuration.
pub fn from_config(loaded: &crate::config::Loaded) -> Result<Plan, PlanError> {
    use crate::config;
    let cfg = &loaded.config;
    let g = &cfg.global;
    let security = if g.enable_script_security {
        health::ScriptSecurity::Enforce
    } else {
        health::ScriptSecurity::WarnOnly
    };
    let run_as = |user: Option<&String>| {
        user.or(g.script_user.as_ref()).map(|u| {
            let mut parts = u.splitn(2, [':', ' ']);
            health::RunAs {
                user: parts.next().unwrap_or_default().to_owned(),
                group: parts.next().map(str::to_owned),
            }
        })
    };
    let weight = |w: i64| i32::try_from(w.clamp(-254, 254)).unwrap_or(0);

    let mut checks = Vec::new();
    let mut check_weights: std::collections::BTreeMap<&str, i32> = Default::default();
    let timing = |c: &mut health::CheckConfig,
                  interval: Duration,
                  timeout: Duration,
                  rise: u32,
                  fall: u32| {
        c.interval = interval;
        c.timeout = Some(timeout);
        c.rise = rise.max(1);
        c.fall = fall.max(1);
    };
    for (name, s) in &cfg.vrrp_script {
        let what = format!("vrrp_script.{name}");
        let cmd = health::ScriptCommand::parse(
            &what,
            &s.script,
            run_as(s.user.as_ref()).as_ref(),
            security,
        )?;
        let mut c = health::CheckConfig::new(name.clone(), health::Probe::Script(cmd));
        timing(&mut c, s.interval, s.effective_timeout(), s.rise, s.fall);
        c.weight = weight(s.weight);
        c.init_fail = s.init_fail;
        check_weights.insert(name, c.weight);
        checks.push(c);
    }
    for (name, t) in &cfg.tcp_check {
        let mut c = health::CheckConfig::new(
            name.clone(),
            health::Probe::Tcp(SocketAddr::new(t.connect_ip, t.connect_port)),
        );
        timing(&mut c, t.interval, t.timeout, t.rise, t.fall);
        c.weight = weight(t.weight);
        check_weights.insert(name, c.weight);
        checks.push(c);
    }
    for (name, h) in &cfg.http_check {
        let probe = http_probe(name, &h.url, h.status_code)?;
        let mut c = health::CheckConfig::new(name.clone(), health::Probe::Http(probe));
        timing(&mut c, h.interval, h.timeout, h.rise, h.fall);
        c.weight = weight(h.weight);
        check_weights.insert(name, c.weight);
        checks.push(c);
    }
    for (name, f) in &cfg.track_file {
        let mut c = health::CheckConfig::new(
            name.clone(),
            health::Probe::TrackFile(health::TrackFileProbe {
                path: f.file.clone(),
                reverse: f.reverse,
            }),
        );
        c.weight = weight(f.weight);
        check_weights.insert(name, c.weight);
        checks.push(c);
    }
    for (name, p) in &cfg.track_process {
        let mut probe = health::TrackProcessProbe::named(p.process.clone());
        probe.quorum = p.quorum.max(1);
        probe.quorum_max = p.quorum_max;
        probe.full_command = p.full_command;
        probe.params.clone_from(&p.params);
        // Validation allows only these three words (keepalived's param_match).
        probe.param_match = p.param_match.as_deref().map(|mode| match mode {
            "partial" => health::ParamMatch::Partial,
            "initial" => health::ParamMatch::Initial,
            _ => health::ParamMatch::Exact,
        });
        // keepalived: `delay` sets both; the specific keys win over it.
        if let Some(d) = p.delay {
            probe.fork_delay = d;
            probe.terminate_delay = d;
        }
        if let Some(d) = p.fork_delay {
            probe.fork_delay = d;
        }
        if let Some(d) = p.terminate_delay {
            probe.terminate_delay = d;
        }
        let mut c = health::CheckConfig::new(name.clone(), health::Probe::TrackProcess(probe));
        c.weight = weight(p.weight);
        check_weights.insert(name, c.weight);
        checks.push(c);
    }
    let mut proxy_checks = Vec::new();
    for (name, t) in &cfg.track_proxy {
        let w = weight(t.weight);
        check_weights.insert(name, w);
        proxy_checks.push(ProxyCheck {
            name: name.clone(),
            proxy: t.proxy.clone(),
            min_up: usize::try_from(t.min_up).unwrap_or(1),
            weight: w,
        });
    }

    let mut instances = Vec::new();
    for (name, vi) in &cfg.vrrp_instance {
        let version = if vi.effective_version(g) == 2 {
            vrrp_core::Version::V2
        } else {
            vrrp_core::Version::V3
        };
        let family = if vi.is_ipv6() {
            IpFamily::V6
        } else {
            IpFamily::V4
        };
        let mut core = vrrp_core::InstanceConfig::new(
            vi.vrid(),
            match family {
                IpFamily::V4 => IpAddr::from([0, 0, 0, 0]),
                IpFamily::V6 => IpAddr::from([0u16; 8]),
            },
            vi.virtual_ipaddress.iter().map(|v| v.addr).collect(),
        );
        core.version = version;
        core.priority = vi.priority();
        // Validation already bounded the interval to the version's range.
        core.advert_interval_cs =
            u16::try_from(vi.advert_int.as_millis().div_ceil(10)).unwrap_or(u16::MAX);
        core.preempt = vi.preempts();
        core.preempt_delay = vi.preempt_delay;
        core.accept_mode = vi.accept;
        core.auth = match &vi.authentication {
            Some(a)
                if a.auth_type == config::AuthType::Pass && version == vrrp_core::Version::V2 =>
            {
                vrrp_core::Auth::simple_from_str(a.wire_pass())
            }
            _ => vrrp_core::Auth::None,
        };
        core.initial_state = match vi.state {
            config::InitialState::Master => vrrp_core::InitialState::Master,
            config::InitialState::Backup => vrrp_core::InitialState::Backup,
        };
        core.validate().map_err(|source| PlanError::Instance {
            instance: name.clone(),
            source,
        })?;
        let tracked = |refs: &[config::TrackRef]| {
            refs.iter()
                .map(|r| Tracked {
                    name: r.name.clone(),
                    weight: r
                        .weight
                        .map(weight)
                        .or_else(|| check_weights.get(r.name.as_str()).copied())
                        .unwrap_or(0),
                    reverse: cfg.track_file.get(&r.name).is_some_and(|f| f.reverse),
                })
                .collect::<Vec<_>>()
        };
        let mut track_checks = tracked(&vi.track_script);
        track_checks.extend(tracked(&vi.track_file));
        track_checks.extend(tracked(&vi.track_process));
        let hook =
            |key: &str, s: &Option<String>| -> Result<Option<health::ScriptCommand>, PlanError> {
                s.as_ref()
                    .map(|s| {
                        health::ScriptCommand::parse(
                            &format!("vrrp_instance.{name}.{key}"),
                            s,
                            run_as(None).as_ref(),
                            security,
                        )
                    })
                    .transpose()
                    .map_err(PlanError::from)
            };
        let sync_group = cfg
            .vrrp_sync_group
            .iter()
            .find(|(_, grp)| grp.group.iter().any(|m| m == name))
            .map(|(g, _)| g.clone());
        instances.push(InstancePlan {
            name: name.clone(),
            interface: vi.interface.clone(),
            family,
            core,
            vips: vi
                .virtual_ipaddress
                .iter()
                .map(|v| Vip {
                    addr: v.addr,
                    prefix_len: v.prefix_len,
                    label: v.label.clone(),
                    dev: v.dev.clone(),
                })
                .collect(),
            unicast_src: vi.unicast_src_ip,
            unicast_peers: vi.unicast_peer.clone(),
            garp: vip_netlink::GarpConfig {
                master_delay: vi.garp_master_delay.unwrap_or(g.vrrp_garp_master_delay),
                master_repeat: vi.garp_master_repeat.unwrap_or(g.vrrp_garp_master_repeat),
                master_refresh: vi
                    .garp_master_refresh
                    .or(g.vrrp_garp_master_refresh)
                    .unwrap_or(Duration::ZERO),
                ..vip_netlink::GarpConfig::default()
            },
            track_checks,
            track_interfaces: vi
                .track_interface
                .iter()
                .map(|r| Tracked {
                    name: r.name.clone(),
                    weight: r.weight.map_or(0, weight),
                    reverse: false,
                })
                .collect(),
            notify: health::NotifyScripts {
                master: hook("notify_master", &vi.notify_master)?,
                backup: hook("notify_backup", &vi.notify_backup)?,
                fault: hook("notify_fault", &vi.notify_fault)?,
                stop: hook("notify_stop", &vi.notify_stop)?,
                notify: hook("notify", &vi.notify)?,
            },
            sync_group,
        });
    }

    let mut sync_groups = Vec::new();
    for (name, grp) in &cfg.vrrp_sync_group {
        let hook =
            |key: &str, s: &Option<String>| -> Result<Option<health::ScriptCommand>, PlanError> {
                s.as_ref()
                    .map(|s| {
                        health::ScriptCommand::parse(
                            &format!("vrrp_sync_group.{name}.{key}"),
                            s,
                            run_as(None).as_ref(),
                            security,
                        )
                    })
                    .transpose()
                    .map_err(PlanError::from)
            };
        sync_groups.push(SyncGroupPlan {
            name: name.clone(),
            members: grp.group.clone(),
            notify: health::NotifyScripts {
                master: hook("notify_master", &grp.notify_master)?,
                backup: hook("notify_backup", &grp.notify_backup)?,
                fault: hook("notify_fault", &grp.notify_fault)?,
                stop: None,
                notify: hook("notify", &grp.notify)?,
            },
        });
    }

    Ok(Plan {
        sync_groups,
        router_id: g.router_id.clone().unwrap_or_else(|| {
            // keepalived's default router_id is the host name.
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "had".to_owned())
        }),
        control_socket: g.control_socket.clone(),
        metrics_listen: g.metrics_listen,
        realtime: g.realtime,
        drain_timeout: g.drain_timeout,
        instances,
        checks,
        proxy_checks,
        notify_timeout: Duration::from_secs(30),
        proxies: cfg
            .proxy
            .iter()
            .map(|(name, p)| Ok((name.clone(), proxy_config(name, p)?)))
            .collect::<Result<_, PlanError>>()?,
    })
}

/// `[proxy.NAME]` → lb-proxy's configuration.
fn proxy_config(name: &str, p: &crate::config::Proxy) -> Result<lb_proxy::ProxyConfig, PlanError> {
    let mut c = lb_proxy::ProxyConfig {
        listen: p.listen.clone(),
        preserve_host: p.preserve_host,
        pass_reverse: p.pass_reverse,
        lbmethod: match p.lbmethod {
            crate::config::LbMethod::Byrequests => lb_proxy::LbMethod::ByRequests,
            crate::config::LbMethod::Bybusyness => lb_proxy::LbMethod::ByBusyness,
        },
        members: p
            .members
            .iter()
            .map(|m| lb_proxy::MemberConfig {
                url: m.url.clone(),
                loadfactor: m.loadfactor,
                retry: m.retry,
                hot_standby: m.hot_standby(),
                disabled: m.disabled(),
                timeout: m.timeout,
            })
            .collect(),
        retry: p.retry,
        connect_timeout: p.connect_timeout,
        timeout: p.timeout,
        access_log: p.access_log.clone(),
        ..lb_proxy::ProxyConfig::default()
    };
    if let Some(n) = p.max_connections {
        c.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(h) = &p.health_check {
        let kind = if h.method.eq_ignore_ascii_case("tcp") {
            lb_proxy::HealthCheckKind::Tcp
        } else {
            lb_proxy::HealthCheckKind::Http {
                method: h.method.parse().map_err(|_| PlanError::Proxy {
                    proxy: name.to_owned(),
                    reason: format!("health_check.method {:?} is not an HTTP method", h.method),
                })?,
                uri: h.uri.clone(),
                expect_status: http::StatusCode::OK,
            }
        };
        c.health_check = Some(lb_proxy::HealthCheckConfig {
            kind,
            interval: h.interval,
            timeout: h.timeout,
            passes: h.passes.max(1),
            fails: h.fails.max(1),
        });
    }
    c.validate().map_err(|e| PlanError::Proxy {
        proxy: name.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(c)
}

/// `http://host[:port]/path` → a probe (plain HTTP only: the check crate
/// speaks no TLS, so an `https` URL is refused here, not at run time).
fn http_probe(check: &str, url: &str, status: u16) -> Result<health::HttpProbe, PlanError> {
    let err = |reason: String| PlanError::HttpUrl {
        check: check.to_owned(),
        reason,
    };
    let uri: http::Uri = url.parse().map_err(|e| err(format!("{url:?}: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(err(format!("{url:?}: only http:// URLs can be checked")));
    }
    let host = uri
        .host()
        .ok_or_else(|| err(format!("{url:?} has no host")))?;
    let port = uri.port_u16().unwrap_or(80);
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| err(format!("{url:?}: the host must be an IP address")))?;
    let mut probe = health::HttpProbe::get(SocketAddr::new(ip, port));
    probe.path = uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    probe.expected_status = status;
    Ok(probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Plan {
        let loaded = crate::config::parse_str(text, "had.toml").expect("valid config");
        from_config(&loaded).expect("plan")
    }

    #[test]
    fn track_process_options_reach_the_probe() {
        let p = plan(
            "[track_process.haproxy]\nprocess = \"haproxy\"\nparams = [\"-f\", \"/etc/haproxy\"]\n\
             param_match = \"initial\"\nfull_command = true\nquorum = 2\nquorum_max = 3\n\
             delay = 1\nterminate_delay = 2\nweight = -10\n",
        );
        let [check] = p.checks.as_slice() else {
            panic!("one check expected: {:?}", p.checks);
        };
        let health::Probe::TrackProcess(probe) = &check.probe else {
            panic!("not a track_process probe: {:?}", check.probe);
        };
        assert_eq!(probe.params, ["-f", "/etc/haproxy"]);
        assert_eq!(probe.param_match, Some(health::ParamMatch::Initial));
        assert!(probe.full_command);
        assert_eq!((probe.quorum, probe.quorum_max), (2, Some(3)));
        assert_eq!(probe.fork_delay, Duration::from_secs(1));
        assert_eq!(probe.terminate_delay, Duration::from_secs(2));
        assert_eq!(check.weight, -10);
    }

    #[test]
    fn track_file_reverse_reaches_the_probe_and_the_instance() {
        let p = plan(
            "[track_file.maint]\nfile = \"/run/maint\"\nweight = 5\nreverse = true\n\
             [vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
             virtual_ipaddress = [\"198.18.0.200/24\"]\ntrack_file = [\"maint\"]\n",
        );
        let [check] = p.checks.as_slice() else {
            panic!("one check expected: {:?}", p.checks);
        };
        let health::Probe::TrackFile(probe) = &check.probe else {
            panic!("not a track_file probe: {:?}", check.probe);
        };
        assert!(probe.reverse);
        let tracked = &p.instances[0].track_checks;
        assert_eq!(tracked.len(), 1);
        assert_eq!((tracked[0].weight, tracked[0].reverse), (5, true));
    }
}
