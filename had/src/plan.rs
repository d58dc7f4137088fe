//! From configuration to running stacks: the one place that decides what
//! each VRRP instance, check and proxy is built from.
//!
//! A [`Plan`] is the runtime's view of a configuration: everything already
//! converted to the types of `vrrp-core`, `health` and `lb-proxy`, so the
//! runtime itself never interprets a config key.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use vrrp_core::packet::IpFamily;

use crate::config;

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
    /// The reverse proxy's listener groups: `[proxy]` sections that share an
    /// address are virtual hosts of one lb-proxy, named after its first.
    pub proxies: Vec<(String, lb_proxy::ProxyConfig)>,
    /// For each `[proxy.NAME]`, the name of its group in `proxies`.
    pub proxy_group: BTreeMap<String, String>,
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
            proxy_group: BTreeMap::new(),
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
///
/// Every schema struct is destructured with each field named (no `..`), so
/// a key added to the schema does not compile until it is given an effect
/// here, or a one-line reason for where else it takes effect.
pub fn from_config(loaded: &crate::config::Loaded) -> Result<Plan, PlanError> {
    let config::Config {
        global,
        vrrp_script,
        tcp_check,
        http_check,
        track_proxy,
        track_file,
        track_process,
        vrrp_instance,
        vrrp_sync_group,
        proxy,
        balancer,
    } = &loaded.config;
    let config::Global {
        router_id,
        control_socket,
        metrics_listen,
        realtime,
        enable_script_security,
        script_user,
        // The version of instances without their own: `effective_version`.
        vrrp_version: _,
        // The defaults of each instance's GARP schedule: `instance_plan`.
        vrrp_garp_master_delay: _,
        vrrp_garp_master_repeat: _,
        vrrp_garp_master_refresh: _,
        drain_timeout,
    } = global;
    let scripts = Scripts {
        security: if *enable_script_security {
            health::ScriptSecurity::Enforce
        } else {
            health::ScriptSecurity::WarnOnly
        },
        script_user: script_user.as_deref(),
    };

    let mut checks = Vec::new();
    let mut check_weights: BTreeMap<&str, i32> = BTreeMap::new();
    for (name, s) in vrrp_script {
        checks.push(script_check(name, s, &scripts)?);
    }
    for (name, t) in tcp_check {
        checks.push(tcp_check_config(name, t));
    }
    for (name, h) in http_check {
        checks.push(http_check_config(name, h)?);
    }
    for (name, f) in track_file {
        checks.push(track_file_check(name, f));
    }
    for (name, p) in track_process {
        checks.push(track_process_check(name, p));
    }
    for c in &checks {
        check_weights.insert(&c.name, c.weight);
    }
    let mut proxy_checks = Vec::new();
    for (name, t) in track_proxy {
        let config::TrackProxy {
            proxy,
            min_up,
            weight: w,
        } = t;
        let w = weight(*w);
        check_weights.insert(name, w);
        proxy_checks.push(ProxyCheck {
            name: name.clone(),
            proxy: proxy.clone(),
            min_up: usize::try_from(*min_up).unwrap_or(1),
            weight: w,
        });
    }

    let (proxies, proxy_group) = proxy_groups(proxy, balancer)?;
    let mut instances = Vec::new();
    for (name, vi) in vrrp_instance {
        let sync_group = vrrp_sync_group
            .iter()
            .find(|(_, grp)| grp.group.iter().any(|m| m == name))
            .map(|(g, _)| g.clone());
        instances.push(instance_plan(
            name,
            vi,
            global,
            &check_weights,
            track_file,
            &scripts,
            sync_group,
        )?);
    }

    let mut sync_groups = Vec::new();
    for (name, grp) in vrrp_sync_group {
        let config::VrrpSyncGroup {
            group,
            notify_master,
            notify_backup,
            notify_fault,
            notify,
        } = grp;
        let what = |key: &str| format!("vrrp_sync_group.{name}.{key}");
        sync_groups.push(SyncGroupPlan {
            name: name.clone(),
            members: group.clone(),
            notify: health::NotifyScripts {
                master: scripts.hook(&what("notify_master"), notify_master.as_deref())?,
                backup: scripts.hook(&what("notify_backup"), notify_backup.as_deref())?,
                fault: scripts.hook(&what("notify_fault"), notify_fault.as_deref())?,
                stop: None,
                notify: scripts.hook(&what("notify"), notify.as_deref())?,
            },
        });
    }

    Ok(Plan {
        sync_groups,
        router_id: router_id.clone().unwrap_or_else(|| {
            // keepalived's default router_id is the host name.
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "had".to_owned())
        }),
        control_socket: control_socket.clone(),
        metrics_listen: *metrics_listen,
        realtime: *realtime,
        drain_timeout: *drain_timeout,
        instances,
        checks,
        proxy_checks,
        notify_timeout: Duration::from_secs(30),
        proxies,
        proxy_group,
    })
}

/// keepalived's weight range, as validation enforces it.
fn weight(w: i64) -> i32 {
    let (low, high) = vrrp_core::limits::WEIGHT.into_inner();
    i32::try_from(w.clamp(i64::from(low), i64::from(high))).unwrap_or(0)
}

/// How scripts and notify hooks are run: `[global]`'s security and user.
struct Scripts<'a> {
    security: health::ScriptSecurity,
    script_user: Option<&'a str>,
}

impl Scripts<'_> {
    /// `user`, else `[global] script_user`, as `user[:group]`.
    fn run_as(&self, user: Option<&str>) -> Option<health::RunAs> {
        user.or(self.script_user).map(|u| {
            let mut parts = u.splitn(2, [':', ' ']);
            health::RunAs {
                user: parts.next().unwrap_or_default().to_owned(),
                group: parts.next().map(str::to_owned),
            }
        })
    }

    /// A notify hook, resolved now so a bad path fails the plan.
    fn hook(
        &self,
        what: &str,
        command: Option<&str>,
    ) -> Result<Option<health::ScriptCommand>, PlanError> {
        command
            .map(|c| {
                health::ScriptCommand::parse(what, c, self.run_as(None).as_ref(), self.security)
            })
            .transpose()
            .map_err(PlanError::from)
    }
}

/// The timing keepalived's checks share.
fn timing(
    c: &mut health::CheckConfig,
    interval: Duration,
    timeout: Duration,
    rise: u32,
    fall: u32,
) {
    c.interval = interval;
    c.timeout = Some(timeout);
    c.rise = rise.max(1);
    c.fall = fall.max(1);
}

/// `[vrrp_script.NAME]` → a script check.
fn script_check(
    name: &str,
    s: &config::VrrpScript,
    scripts: &Scripts<'_>,
) -> Result<health::CheckConfig, PlanError> {
    let config::VrrpScript {
        script,
        interval,
        // `timeout`, else `interval`: read through `effective_timeout`.
        timeout: _,
        weight: w,
        rise,
        fall,
        user,
        init_fail,
    } = s;
    let cmd = health::ScriptCommand::parse(
        &format!("vrrp_script.{name}"),
        script,
        scripts.run_as(user.as_deref()).as_ref(),
        scripts.security,
    )?;
    let mut c = health::CheckConfig::new(name, health::Probe::Script(cmd));
    timing(&mut c, *interval, s.effective_timeout(), *rise, *fall);
    c.weight = weight(*w);
    c.init_fail = *init_fail;
    Ok(c)
}

/// `[tcp_check.NAME]` → a TCP connect check.
fn tcp_check_config(name: &str, t: &config::TcpCheck) -> health::CheckConfig {
    let config::TcpCheck {
        connect_ip,
        connect_port,
        interval,
        timeout,
        weight: w,
        rise,
        fall,
    } = t;
    let mut c = health::CheckConfig::new(
        name,
        health::Probe::Tcp(SocketAddr::new(*connect_ip, *connect_port)),
    );
    timing(&mut c, *interval, *timeout, *rise, *fall);
    c.weight = weight(*w);
    c
}

/// `[http_check.NAME]` → an HTTP GET check.
fn http_check_config(name: &str, h: &config::HttpCheck) -> Result<health::CheckConfig, PlanError> {
    let config::HttpCheck {
        url,
        status_code,
        interval,
        timeout,
        weight: w,
        rise,
        fall,
    } = h;
    let probe = http_probe(name, url, *status_code)?;
    let mut c = health::CheckConfig::new(name, health::Probe::Http(probe));
    timing(&mut c, *interval, *timeout, *rise, *fall);
    c.weight = weight(*w);
    Ok(c)
}

/// `[track_file.NAME]` → a file check.
fn track_file_check(name: &str, f: &config::TrackFile) -> health::CheckConfig {
    let config::TrackFile {
        file,
        weight: w,
        reverse,
    } = f;
    let mut c = health::CheckConfig::new(
        name,
        health::Probe::TrackFile(health::TrackFileProbe {
            path: file.clone(),
            reverse: *reverse,
        }),
    );
    c.weight = weight(*w);
    c
}

/// `[track_process.NAME]` → a process check.
fn track_process_check(name: &str, p: &config::TrackProcess) -> health::CheckConfig {
    let config::TrackProcess {
        process,
        params,
        param_match,
        full_command,
        quorum,
        quorum_max,
        weight: w,
        delay,
        fork_delay,
        terminate_delay,
    } = p;
    let mut probe = health::TrackProcessProbe::named(process.clone());
    probe.quorum = (*quorum).max(1);
    probe.quorum_max = *quorum_max;
    probe.full_command = *full_command;
    probe.params.clone_from(params);
    // Validation allows only these three words (keepalived's param_match).
    probe.param_match = param_match.as_deref().map(|mode| match mode {
        "partial" => health::ParamMatch::Partial,
        "initial" => health::ParamMatch::Initial,
        _ => health::ParamMatch::Exact,
    });
    // keepalived: `delay` sets both; the specific keys win over it.
    if let Some(d) = delay {
        probe.fork_delay = *d;
        probe.terminate_delay = *d;
    }
    if let Some(d) = fork_delay {
        probe.fork_delay = *d;
    }
    if let Some(d) = terminate_delay {
        probe.terminate_delay = *d;
    }
    let mut c = health::CheckConfig::new(name, health::Probe::TrackProcess(probe));
    c.weight = weight(*w);
    c
}

/// `[vrrp_instance.NAME]` → the instance's plan.
fn instance_plan(
    name: &str,
    vi: &config::VrrpInstance,
    global: &config::Global,
    check_weights: &BTreeMap<&str, i32>,
    track_files: &BTreeMap<String, config::TrackFile>,
    scripts: &Scripts<'_>,
    sync_group: Option<String>,
) -> Result<InstancePlan, PlanError> {
    let config::VrrpInstance {
        state,
        interface,
        // 1-255 after validation: read through `vi.vrid()`.
        virtual_router_id: _,
        // 1-255 after validation: read through `vi.priority()`.
        priority: _,
        advert_int,
        // With `[global] vrrp_version`: read through `vi.effective_version`.
        version: _,
        // With `state` (keepalived ignores nopreempt on a MASTER): `vi.preempts()`.
        nopreempt: _,
        preempt_delay,
        // had never filters traffic to the VIPs, so the core is always in
        // accept mode; validation refuses a written `accept = false`.
        accept: _,
        authentication,
        virtual_ipaddress,
        track_script,
        track_file,
        track_process,
        track_interface,
        unicast_src_ip,
        unicast_peer,
        garp_master_delay,
        garp_master_repeat,
        garp_master_refresh,
        notify_master,
        notify_backup,
        notify_fault,
        notify_stop,
        notify,
    } = vi;
    let version = if vi.effective_version(global) == 2 {
        vrrp_core::Version::V2
    } else {
        vrrp_core::Version::V3
    };
    let family = if vi.is_ipv6() {
        IpFamily::V6
    } else {
        IpFamily::V4
    };
    let vips: Vec<Vip> = virtual_ipaddress
        .iter()
        .map(|v| {
            let config::VirtualAddress {
                addr,
                prefix_len,
                dev,
                label,
            } = v;
            Vip {
                addr: *addr,
                prefix_len: *prefix_len,
                label: label.clone(),
                dev: dev.clone(),
            }
        })
        .collect();
    let mut core = vrrp_core::InstanceConfig::new(
        vi.vrid(),
        match family {
            IpFamily::V4 => IpAddr::from([0, 0, 0, 0]),
            IpFamily::V6 => IpAddr::from([0u16; 8]),
        },
        vips.iter().map(|v| v.addr).collect(),
    );
    core.version = version;
    core.priority = vi.priority();
    // vrrp-core's conversion, which validation applied already; an
    // interval the version cannot carry (a config not validated) is kept
    // as it is, for the state machine's own check to refuse by value.
    core.advert_interval_cs = vrrp_core::limits::interval_cs(version, *advert_int)
        .unwrap_or_else(|_| u16::try_from(advert_int.as_millis() / 10).unwrap_or(u16::MAX));
    core.preempt = vi.preempts();
    core.preempt_delay = *preempt_delay;
    core.accept_mode = true;
    core.auth = match authentication {
        Some(a) => {
            let config::Authentication {
                auth_type,
                // Cut to 8 bytes as on the wire: read through `a.wire_pass()`.
                auth_pass: _,
            } = a;
            match auth_type {
                // RFC 5798 §9: VRRPv3 has no authentication (validation warns).
                config::AuthType::Pass if version == vrrp_core::Version::V2 => {
                    vrrp_core::Auth::simple_from_str(a.wire_pass())
                }
                // Validation refuses AH with VRRPv2 and warns with VRRPv3.
                config::AuthType::Pass | config::AuthType::Ah => vrrp_core::Auth::None,
            }
        }
        None => vrrp_core::Auth::None,
    };
    core.initial_state = match state {
        config::InitialState::Master => vrrp_core::InitialState::Master,
        config::InitialState::Backup => vrrp_core::InitialState::Backup,
    };
    core.validate().map_err(|source| PlanError::Instance {
        instance: name.to_owned(),
        source,
    })?;
    let tracked = |refs: &[config::TrackRef]| {
        refs.iter()
            .map(|r| {
                let config::TrackRef { name, weight: w } = r;
                Tracked {
                    name: name.clone(),
                    weight: w
                        .map(weight)
                        .or_else(|| check_weights.get(name.as_str()).copied())
                        .unwrap_or(0),
                    reverse: track_files.get(name).is_some_and(|f| f.reverse),
                }
            })
            .collect::<Vec<_>>()
    };
    let mut track_checks = tracked(track_script);
    track_checks.extend(tracked(track_file));
    track_checks.extend(tracked(track_process));
    let track_interfaces = track_interface
        .iter()
        .map(|r| {
            let config::TrackRef { name, weight: w } = r;
            Tracked {
                name: name.clone(),
                // keepalived: an interface tracked without a weight is FAULT while down.
                weight: w.map_or(0, weight),
                reverse: false,
            }
        })
        .collect();
    let what = |key: &str| format!("vrrp_instance.{name}.{key}");
    Ok(InstancePlan {
        name: name.to_owned(),
        interface: interface.clone(),
        family,
        core,
        vips,
        unicast_src: *unicast_src_ip,
        unicast_peers: unicast_peer.clone(),
        garp: vip_netlink::GarpConfig {
            master_delay: garp_master_delay.unwrap_or(global.vrrp_garp_master_delay),
            master_repeat: garp_master_repeat.unwrap_or(global.vrrp_garp_master_repeat),
            master_refresh: garp_master_refresh
                .or(global.vrrp_garp_master_refresh)
                .unwrap_or(Duration::ZERO),
            ..vip_netlink::GarpConfig::default()
        },
        track_checks,
        track_interfaces,
        notify: health::NotifyScripts {
            master: scripts.hook(&what("notify_master"), notify_master.as_deref())?,
            backup: scripts.hook(&what("notify_backup"), notify_backup.as_deref())?,
            fault: scripts.hook(&what("notify_fault"), notify_fault.as_deref())?,
            stop: scripts.hook(&what("notify_stop"), notify_stop.as_deref())?,
            notify: scripts.hook(&what("notify"), notify.as_deref())?,
        },
        sync_group,
    })
}

/// A listener's TLS settings beside its certificates: `strict_sni`, the
/// handshake timeout, `ticket_keys`, client certificates.
type TlsSettings = (
    bool,
    Duration,
    Option<PathBuf>,
    Option<lb_proxy::ClientAuth>,
);

/// How long a TLS client has to finish its handshake when
/// `tls.handshake_timeout` is not set: a real client needs well under a
/// second; one that stops mid-handshake holds its connection slot no
/// longer than this.
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `tls.verify_depth` when not set: Apache's and nginx's 1, a client
/// certificate issued directly by a CA of `client_ca`.
const DEFAULT_VERIFY_DEPTH: u8 = 1;

/// The connection-level settings of one `[proxy]` (timeouts, limits,
/// workers, access log, health checks): a listener group takes them from its
/// first `[proxy]`, and another that sets one differently is refused.
#[derive(Debug, Clone, PartialEq)]
struct Connection {
    retry: Duration,
    connect_timeout: Duration,
    timeout: Duration,
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    pool_idle_timeout: Duration,
    tunnel_idle_timeout: Duration,
    send_timeout: Duration,
    max_connections: usize,
    limit_request_field_size: usize,
    limit_request_fields: usize,
    limit_request_line: usize,
    access_log: Option<PathBuf>,
    health_check: Option<lb_proxy::HealthCheckConfig>,
    workers: Option<usize>,
    /// With TLS: `strict_sni`, the handshake timeout, `ticket_keys`,
    /// client certificates.
    tls: Option<TlsSettings>,
    member_tls: lb_proxy::config::MemberTls,
}

/// One `[proxy.NAME]`: its virtual host, the balancers only it uses (the
/// shorthand's and `url` routes'), and its connection-level settings.
/// Every field of the schema is named: a key left unset takes lb-proxy's
/// default, written out here.
fn virtual_host(
    name: &str,
    p: &config::Proxy,
    named: &BTreeMap<String, config::Balancer>,
) -> Result<
    (
        lb_proxy::VirtualHostConfig,
        Vec<lb_proxy::BalancerConfig>,
        Connection,
    ),
    PlanError,
> {
    let config::Proxy {
        listen,
        server_name,
        server_alias,
        routes,
        path,
        preserve_host,
        pass_reverse,
        lbmethod,
        members,
        timeout,
        connect_timeout,
        retry,
        maxattempts,
        max_connections,
        health_check,
        access_log,
        header_read_timeout,
        body_read_timeout,
        pool_idle_timeout,
        tunnel_idle_timeout,
        send_timeout,
        limit_request_field_size,
        limit_request_fields,
        limit_request_line,
        workers,
        tls,
        member_ca_file,
        member_verify,
    } = p;
    let refused = |reason: String| PlanError::Proxy {
        proxy: name.to_owned(),
        reason,
    };
    let size = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
    if let Some(t) = tls
        && t.client_ca.is_none()
        && (t.verify_client.is_some()
            || t.verify_depth.is_some()
            || t.client_subject_header.is_some())
    {
        return Err(refused(
            "tls.verify_client, tls.verify_depth and tls.client_subject_header only have \
             an effect with tls.client_ca (the CA client certificates must chain to)"
                .into(),
        ));
    }
    let defaults = lb_proxy::ProxyConfig::default();
    let connection = Connection {
        retry: *retry,
        connect_timeout: *connect_timeout,
        timeout: *timeout,
        header_read_timeout: header_read_timeout.unwrap_or(defaults.header_read_timeout),
        body_read_timeout: body_read_timeout.unwrap_or(defaults.body_read_timeout),
        pool_idle_timeout: pool_idle_timeout.unwrap_or(defaults.pool_idle_timeout),
        tunnel_idle_timeout: tunnel_idle_timeout.unwrap_or(defaults.tunnel_idle_timeout),
        send_timeout: send_timeout.unwrap_or(defaults.send_timeout),
        max_connections: max_connections.map_or(defaults.max_connections, size),
        limit_request_field_size: limit_request_field_size
            .map_or(defaults.limit_request_field_size, size),
        limit_request_fields: limit_request_fields.map_or(defaults.limit_request_fields, size),
        limit_request_line: limit_request_line.map_or(defaults.limit_request_line, size),
        access_log: access_log.clone(),
        health_check: health_check
            .as_ref()
            .map(health_check_config)
            .transpose()
            .map_err(refused)?,
        workers: workers.map(size),
        tls: tls.as_ref().map(|t| {
            (
                t.strict_sni,
                t.handshake_timeout.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT),
                t.ticket_keys.clone(),
                t.client_ca.as_ref().map(|ca| lb_proxy::ClientAuth {
                    ca: ca.clone(),
                    verify: match t.verify_client {
                        Some(config::VerifyClient::Optional) => lb_proxy::ClientVerify::Optional,
                        _ => lb_proxy::ClientVerify::Required,
                    },
                    depth: t.verify_depth.unwrap_or(DEFAULT_VERIFY_DEPTH),
                    subject_header: t.client_subject_header.clone(),
                }),
            )
        }),
        member_tls: lb_proxy::config::MemberTls {
            ca_file: member_ca_file.clone(),
            verify: *member_verify,
        },
    };
    let mut own = Vec::new();
    let routes = if routes.is_empty() {
        // The shorthand: one route at `path` to a balancer named after the proxy.
        own.push(lb_proxy::BalancerConfig {
            name: name.to_owned(),
            lbmethod: lb_method(*lbmethod),
            max_attempts: *maxattempts,
            members: members.iter().map(member_config).collect(),
            sticky: None,
        });
        vec![lb_proxy::RouteConfig {
            path: lb_proxy::PathMatch::Prefix(path.clone()),
            action: lb_proxy::RouteAction::Proxy {
                balancer: name.to_owned(),
                to: None,
                pass_reverse: *pass_reverse,
            },
        }]
    } else {
        let mut out = Vec::with_capacity(routes.len());
        for (i, r) in routes.iter().enumerate() {
            out.push(route_config(name, i, r, named, &mut own).map_err(refused)?);
        }
        out
    };
    let host = lb_proxy::VirtualHostConfig {
        name: name.to_owned(),
        listen: listen.clone(),
        server_name: server_name.clone(),
        server_alias: server_alias.clone(),
        preserve_host: *preserve_host,
        routes,
    };
    Ok((host, own, connection))
}

fn lb_method(m: config::LbMethod) -> lb_proxy::LbMethod {
    match m {
        config::LbMethod::Byrequests => lb_proxy::LbMethod::ByRequests,
        config::LbMethod::Bybusyness => lb_proxy::LbMethod::ByBusyness,
        config::LbMethod::Bytraffic => lb_proxy::LbMethod::ByTraffic,
    }
}

/// One `[[proxy.NAME.route]]`; a `url` route gets a balancer of its own
/// (`NAME.routeN`), pushed on `own`.
fn route_config(
    proxy: &str,
    index: usize,
    r: &config::Route,
    named: &BTreeMap<String, config::Balancer>,
    own: &mut Vec<lb_proxy::BalancerConfig>,
) -> Result<lb_proxy::RouteConfig, String> {
    let config::Route {
        path,
        path_regex,
        balancer,
        to,
        url,
        pass_reverse,
        exclude,
        directory,
        document_root,
        redirect,
        status,
    } = r;
    let at = format!("route[{index}]");
    let path = match (path, path_regex) {
        (Some(p), None) => lb_proxy::PathMatch::Prefix(p.clone()),
        (None, Some(re)) => lb_proxy::PathMatch::Regex(re.clone()),
        _ => return Err(format!("{at}: give exactly one of path and path_regex")),
    };
    let actions = [
        balancer.is_some(),
        url.is_some(),
        *exclude,
        redirect.is_some(),
    ];
    if actions.iter().filter(|a| **a).count() != 1 {
        return Err(format!(
            "{at}: give exactly one of balancer, url, exclude = true and redirect"
        ));
    }
    let only = |set: bool, key: &str, with: &str| {
        if set {
            Err(format!("{at}.{key}: only with {with}"))
        } else {
            Ok(())
        }
    };
    only(to.is_some() && balancer.is_none(), "to", "balancer")?;
    only(
        directory.is_some() && !*exclude,
        "directory",
        "exclude = true",
    )?;
    only(
        document_root.is_some() && !*exclude,
        "document_root",
        "exclude = true",
    )?;
    if directory.is_some() && document_root.is_some() {
        return Err(format!(
            "{at}.document_root: give one of directory (Alias) and document_root (DocumentRoot)"
        ));
    }
    only(status.is_some() && redirect.is_none(), "status", "redirect")?;
    only(
        *pass_reverse && balancer.is_none() && url.is_none(),
        "pass_reverse",
        "balancer or url",
    )?;
    if *pass_reverse && matches!(path, lb_proxy::PathMatch::Regex(_)) {
        return Err(format!(
            "{at}.pass_reverse: ProxyPassReverse needs a path prefix, not path_regex"
        ));
    }
    let action = if let Some(b) = balancer {
        if !named.contains_key(b) {
            return Err(format!("{at}.balancer: there is no [balancer.{b}]"));
        }
        lb_proxy::RouteAction::Proxy {
            balancer: b.clone(),
            to: to.clone(),
            pass_reverse: *pass_reverse,
        }
    } else if let Some(url) = url {
        // `ProxyPass /x http://b:8080/y`: the member is the URL's origin, and
        // its path is joined as Apache joins a balancer URL's.
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("{at}.url: {url:?} is not a URL: {e}"))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(format!("{at}.url: {url:?} needs a scheme and a host"));
        };
        let name = format!("{proxy}.route{index}");
        own.push(lb_proxy::BalancerConfig::new(
            name.clone(),
            vec![lb_proxy::MemberConfig::new(format!(
                "{scheme}://{authority}"
            ))],
        ));
        let to = uri.path_and_query().map_or("", |pq| pq.as_str());
        lb_proxy::RouteAction::Proxy {
            balancer: name,
            to: Some(if url.ends_with(authority.as_str()) {
                String::new()
            } else {
                to.to_owned()
            }),
            pass_reverse: *pass_reverse,
        }
    } else if *exclude {
        lb_proxy::RouteAction::Local {
            directory: directory.clone().or_else(|| document_root.clone()),
            full_path: document_root.is_some(),
        }
    } else {
        lb_proxy::RouteAction::Redirect {
            status: status.unwrap_or(302),
            to: redirect.clone().unwrap_or_default(),
        }
    };
    Ok(lb_proxy::RouteConfig { path, action })
}

/// `[balancer.NAME]` → lb-proxy's balancer.
fn balancer_config(name: &str, b: &config::Balancer) -> lb_proxy::BalancerConfig {
    let config::Balancer {
        members,
        lbmethod,
        maxattempts,
        stickysession,
        nofailover,
        scolonpathdelim,
        sticky_cookie,
    } = b;
    // `stickysession=COOKIE|urlparam`; one name is both.
    let (cookie, url_param) = match stickysession.as_deref().map(|s| s.split_once('|')) {
        Some(Some((c, u))) => (Some(c.to_owned()), Some(u.to_owned())),
        Some(None) => (stickysession.clone(), stickysession.clone()),
        None => (None, None),
    };
    let sticky =
        (stickysession.is_some() || sticky_cookie.is_some()).then(|| lb_proxy::StickyConfig {
            cookie,
            url_param,
            nofailover: *nofailover,
            scolon_path_delim: *scolonpathdelim,
            set_cookie: sticky_cookie.clone(),
        });
    lb_proxy::BalancerConfig {
        name: name.to_owned(),
        lbmethod: lb_method(*lbmethod),
        max_attempts: *maxattempts,
        members: members.iter().map(member_config).collect(),
        sticky,
    }
}

/// The listener groups, and the group of each `[proxy]`.
type ProxyGroups = (
    Vec<(String, lb_proxy::ProxyConfig)>,
    BTreeMap<String, String>,
);

/// The `[proxy]` sections grouped by the addresses they share: each group is
/// one lb-proxy, named after its first `[proxy]`, whose listeners serve the
/// group's virtual hosts (on each address the first listed is the default,
/// as in Apache). Returns the groups and, for each `[proxy]`, its group.
fn proxy_groups(
    proxies: &indexmap::IndexMap<String, config::Proxy>,
    named: &BTreeMap<String, config::Balancer>,
) -> Result<ProxyGroups, PlanError> {
    // Union of sections that share an address, in file order.
    let names: Vec<&String> = proxies.keys().collect();
    let mut group_of: Vec<usize> = (0..names.len()).collect();
    for i in 0..names.len() {
        for j in 0..i {
            let shares = proxies[i]
                .listen
                .iter()
                .any(|a| proxies[j].listen.contains(a));
            if shares {
                let (from, to) = (group_of[i], group_of[j]);
                for g in &mut group_of {
                    if *g == from {
                        *g = to;
                    }
                }
            }
        }
    }
    let mut groups = Vec::new();
    let mut membership = BTreeMap::new();
    for g in 0..names.len() {
        let members: Vec<usize> = (0..names.len()).filter(|&i| group_of[i] == g).collect();
        let Some(&first) = members.first() else {
            continue;
        };
        let group_name = names[first].clone();
        let mut listen: Vec<SocketAddr> = Vec::new();
        let mut vhosts = Vec::new();
        let mut balancers: Vec<lb_proxy::BalancerConfig> = Vec::new();
        let mut connection: Option<(String, Connection)> = None;
        let mut certificates = Vec::new();
        for &i in &members {
            let name = names[i];
            if let Some(t) = &proxies[i].tls {
                certificates.push(lb_proxy::CertificateConfig {
                    cert: t.cert.clone(),
                    key: t.key.clone(),
                    chain: t.chain.clone(),
                });
            }
            let (host, own, conn) = virtual_host(name, &proxies[i], named)?;
            match &connection {
                None => connection = Some((name.clone(), conn)),
                Some((first_name, first)) if *first != conn => {
                    return Err(PlanError::Proxy {
                        proxy: name.clone(),
                        reason: format!(
                            "shares an address with proxy.{first_name}, whose connection \
                             settings (timeouts, limits, workers, access_log, health_check, \
                             tls on or off, strict_sni, handshake_timeout, ticket_keys, \
                             member TLS) \
                             it must repeat or leave out: {}",
                            differences(first, &conn).join(", ")
                        ),
                    });
                }
                Some(_) => {}
            }
            for a in &host.listen {
                if !listen.contains(a) {
                    listen.push(*a);
                }
            }
            for r in &host.routes {
                if let lb_proxy::RouteAction::Proxy { balancer, .. } = &r.action
                    && let Some(b) = named.get(balancer)
                    && !balancers.iter().any(|x| &x.name == balancer)
                {
                    balancers.push(balancer_config(balancer, b));
                }
            }
            for b in own {
                if balancers.iter().any(|x| x.name == b.name) || named.contains_key(&b.name) {
                    return Err(PlanError::Proxy {
                        proxy: name.clone(),
                        reason: format!(
                            "its members make a balancer named {:?}, and [balancer.{}] exists; rename one",
                            b.name, b.name
                        ),
                    });
                }
                balancers.push(b);
            }
            vhosts.push(host);
            membership.insert(name.clone(), group_name.clone());
        }
        let Some((_, conn)) = connection else {
            continue;
        };
        let c = lb_proxy::ProxyConfig {
            listen,
            vhosts,
            balancers,
            retry: conn.retry,
            connect_timeout: conn.connect_timeout,
            timeout: conn.timeout,
            header_read_timeout: conn.header_read_timeout,
            body_read_timeout: conn.body_read_timeout,
            pool_idle_timeout: conn.pool_idle_timeout,
            tunnel_idle_timeout: conn.tunnel_idle_timeout,
            send_timeout: conn.send_timeout,
            max_connections: conn.max_connections,
            limit_request_field_size: conn.limit_request_field_size,
            limit_request_fields: conn.limit_request_fields,
            limit_request_line: conn.limit_request_line,
            access_log: conn.access_log,
            health_check: conn.health_check,
            workers: conn.workers,
            member_tls: conn.member_tls,
            tls: conn.tls.map(
                |(strict_sni, handshake_timeout, ticket_keys, client_auth)| lb_proxy::TlsConfig {
                    certificates,
                    strict_sni,
                    handshake_timeout,
                    ticket_keys,
                    client_auth,
                },
            ),
            ..lb_proxy::ProxyConfig::default()
        };
        c.validate().map_err(|e| PlanError::Proxy {
            proxy: group_name.clone(),
            reason: e.to_string(),
        })?;
        groups.push((group_name, c));
    }
    Ok((groups, membership))
}

/// The connection settings two `[proxy]` sections disagree on.
fn differences(a: &Connection, b: &Connection) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut diff = |same: bool, key: &'static str| {
        if !same {
            out.push(key);
        }
    };
    diff(a.retry == b.retry, "retry");
    diff(a.connect_timeout == b.connect_timeout, "connect_timeout");
    diff(a.timeout == b.timeout, "timeout");
    diff(
        a.header_read_timeout == b.header_read_timeout,
        "header_read_timeout",
    );
    diff(
        a.body_read_timeout == b.body_read_timeout,
        "body_read_timeout",
    );
    diff(
        a.pool_idle_timeout == b.pool_idle_timeout,
        "pool_idle_timeout",
    );
    diff(
        a.tunnel_idle_timeout == b.tunnel_idle_timeout,
        "tunnel_idle_timeout",
    );
    diff(a.send_timeout == b.send_timeout, "send_timeout");
    diff(a.max_connections == b.max_connections, "max_connections");
    diff(
        a.limit_request_field_size == b.limit_request_field_size,
        "limit_request_field_size",
    );
    diff(
        a.limit_request_fields == b.limit_request_fields,
        "limit_request_fields",
    );
    diff(
        a.limit_request_line == b.limit_request_line,
        "limit_request_line",
    );
    diff(a.access_log == b.access_log, "access_log");
    diff(a.health_check == b.health_check, "health_check");
    diff(a.workers == b.workers, "workers");
    diff(a.tls.is_some() == b.tls.is_some(), "tls (on or off)");
    diff(
        a.tls
            .as_ref()
            .is_none_or(|x| b.tls.as_ref().is_none_or(|y| x.0 == y.0)),
        "tls.strict_sni",
    );
    diff(
        a.tls
            .as_ref()
            .is_none_or(|x| b.tls.as_ref().is_none_or(|y| x.1 == y.1)),
        "tls.handshake_timeout",
    );
    diff(
        a.tls
            .as_ref()
            .is_none_or(|x| b.tls.as_ref().is_none_or(|y| x.2 == y.2)),
        "tls.ticket_keys",
    );
    diff(
        a.tls
            .as_ref()
            .is_none_or(|x| b.tls.as_ref().is_none_or(|y| x.3 == y.3)),
        "tls.client_ca/verify_client/verify_depth/client_subject_header",
    );
    diff(a.member_tls == b.member_tls, "member_ca_file/member_verify");
    out
}

/// One `members` entry → an lb-proxy member.
fn member_config(m: &config::Member) -> lb_proxy::MemberConfig {
    let config::Member {
        url,
        loadfactor,
        retry,
        timeout,
        // Apache's flags: read through `m.hot_standby()`, `m.disabled()`,
        // `m.drain()` and `m.ignore_errors()` (validation refuses the flags
        // had does not implement).
        status: _,
        route,
        lbset,
    } = m;
    lb_proxy::MemberConfig {
        url: url.clone(),
        loadfactor: *loadfactor,
        retry: *retry,
        hot_standby: m.hot_standby(),
        disabled: m.disabled(),
        timeout: *timeout,
        route: route.clone(),
        lbset: lbset.unwrap_or(0),
        drain: m.drain(),
        ignore_errors: m.ignore_errors(),
    }
}

/// `health_check = { ... }` → lb-proxy's active health check.
fn health_check_config(
    h: &config::ProxyHealthCheck,
) -> Result<lb_proxy::HealthCheckConfig, String> {
    let config::ProxyHealthCheck {
        method,
        uri,
        interval,
        timeout,
        passes,
        fails,
        expect_status,
    } = h;
    let kind = if method.eq_ignore_ascii_case("tcp") {
        // Validation refuses a written `uri` or `expect_status` here.
        lb_proxy::HealthCheckKind::Tcp
    } else {
        lb_proxy::HealthCheckKind::Http {
            method: method
                .to_ascii_uppercase()
                .parse()
                .map_err(|_| format!("health_check.method {method:?} is not an HTTP method"))?,
            uri: uri.clone(),
            expect_status: http::StatusCode::from_u16(*expect_status).map_err(|_| {
                format!("health_check.expect_status {expect_status} is not a status")
            })?,
        }
    };
    Ok(lb_proxy::HealthCheckConfig {
        kind,
        interval: *interval,
        timeout: *timeout,
        passes: (*passes).max(1),
        fails: (*fails).max(1),
    })
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

    /// Every `[proxy]` key, each set to something other than its default,
    /// lands in its lb-proxy field. The expected value names every field
    /// (no `..`), so a field added to lb-proxy fails to compile here too.
    #[test]
    fn every_proxy_key_reaches_lb_proxy() {
        let p = plan(
            "[proxy.web]\n\
             listen = [\"127.0.0.1:8080\"]\n\
             path = \"/api\"\n\
             preserve_host = true\n\
             pass_reverse = true\n\
             lbmethod = \"bybusyness\"\n\
             members = [\n\
               { url = \"http://198.18.0.21:8080/v1\", loadfactor = 3, retry = 7, timeout = \"1500ms\" },\n\
               { url = \"http://198.18.0.22:8080\", status = \"+H\" },\n\
               { url = \"http://198.18.0.23:8080\", status = \"+D\" },\n\
             ]\n\
             timeout = 31\n\
             connect_timeout = 2.5\n\
             retry = 9\n\
             maxattempts = 0\n\
             max_connections = 77\n\
             health_check = { method = \"HEAD\", uri = \"/health\", interval = 3, timeout = 1, passes = 2, fails = 4, expect_status = 204 }\n\
             access_log = \"/var/log/had/web.log\"\n\
             header_read_timeout = \"300ms\"\n\
             body_read_timeout = 11\n\
             pool_idle_timeout = 2\n\
             tunnel_idle_timeout = 120\n\
             send_timeout = \"45s\"\n\
             limit_request_field_size = 4096\n\
             limit_request_fields = 50\n\
             limit_request_line = 2048\n\
             workers = 3\n",
        );
        let [(name, got)] = p.proxies.as_slice() else {
            panic!("one proxy expected: {:?}", p.proxies);
        };
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        let want = lb_proxy::ProxyConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 8080))],
            vhosts: vec![lb_proxy::VirtualHostConfig {
                name: "web".into(),
                listen: vec![SocketAddr::from(([127, 0, 0, 1], 8080))],
                server_name: None,
                server_alias: Vec::new(),
                preserve_host: true,
                routes: vec![lb_proxy::RouteConfig {
                    path: lb_proxy::PathMatch::Prefix("/api".into()),
                    action: lb_proxy::RouteAction::Proxy {
                        balancer: "web".into(),
                        to: None,
                        pass_reverse: true,
                    },
                }],
            }],
            balancers: vec![lb_proxy::BalancerConfig {
                name: "web".into(),
                lbmethod: lb_proxy::LbMethod::ByBusyness,
                max_attempts: Some(0),
                sticky: None,
                members: vec![
                    lb_proxy::MemberConfig {
                        url: "http://198.18.0.21:8080/v1".into(),
                        loadfactor: 3,
                        retry: Some(s(7)),
                        hot_standby: false,
                        disabled: false,
                        timeout: Some(ms(1500)),
                        route: None,
                        lbset: 0,
                        drain: false,
                        ignore_errors: false,
                    },
                    lb_proxy::MemberConfig {
                        url: "http://198.18.0.22:8080".into(),
                        loadfactor: 1,
                        retry: None,
                        hot_standby: true,
                        disabled: false,
                        timeout: None,
                        route: None,
                        lbset: 0,
                        drain: false,
                        ignore_errors: false,
                    },
                    lb_proxy::MemberConfig {
                        url: "http://198.18.0.23:8080".into(),
                        loadfactor: 1,
                        retry: None,
                        hot_standby: false,
                        disabled: true,
                        timeout: None,
                        route: None,
                        lbset: 0,
                        drain: false,
                        ignore_errors: false,
                    },
                ],
            }],
            retry: s(9),
            connect_timeout: ms(2500),
            timeout: s(31),
            header_read_timeout: ms(300),
            body_read_timeout: s(11),
            pool_idle_timeout: s(2),
            tunnel_idle_timeout: s(120),
            send_timeout: s(45),
            max_connections: 77,
            limit_request_field_size: 4096,
            limit_request_fields: 50,
            limit_request_line: 2048,
            access_log: Some(PathBuf::from("/var/log/had/web.log")),
            health_check: Some(lb_proxy::HealthCheckConfig {
                kind: lb_proxy::HealthCheckKind::Http {
                    method: http::Method::HEAD,
                    uri: "/health".into(),
                    expect_status: http::StatusCode::NO_CONTENT,
                },
                interval: s(3),
                timeout: s(1),
                passes: 2,
                fails: 4,
            }),
            workers: Some(3),
            ..lb_proxy::ProxyConfig::default()
        };
        assert_eq!(name, "web");
        assert_eq!(*got, want);
    }

    /// Keys left out take lb-proxy's defaults, except where had's schema
    /// documents its own (`retry` 5 s, `timeout` 60 s, `connect_timeout` 5 s).
    #[test]
    fn unset_proxy_keys_take_the_documented_defaults() {
        let p = plan(
            "[proxy.web]\nlisten = [\"127.0.0.1:8080\"]\nmembers = [{ url = \"http://198.18.0.21:8080\" }]\n",
        );
        let got = &p.proxies[0].1;
        let listen = vec![SocketAddr::from(([127, 0, 0, 1], 8080))];
        let want = lb_proxy::ProxyConfig {
            listen: listen.clone(),
            vhosts: vec![lb_proxy::VirtualHostConfig {
                name: "web".into(),
                listen,
                server_name: None,
                server_alias: Vec::new(),
                preserve_host: false,
                routes: vec![lb_proxy::RouteConfig {
                    path: lb_proxy::PathMatch::Prefix("/".into()),
                    action: lb_proxy::RouteAction::Proxy {
                        balancer: "web".into(),
                        to: None,
                        pass_reverse: false,
                    },
                }],
            }],
            balancers: vec![lb_proxy::BalancerConfig::new(
                "web",
                vec![lb_proxy::MemberConfig::new("http://198.18.0.21:8080")],
            )],
            ..lb_proxy::ProxyConfig::default()
        };
        assert_eq!(*got, want);
        assert_eq!(
            (
                got.retry,
                got.timeout,
                got.connect_timeout,
                got.max_connections
            ),
            (
                Duration::from_secs(5),
                Duration::from_secs(60),
                Duration::from_secs(5),
                10_000
            )
        );
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
