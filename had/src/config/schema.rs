//! The had.toml schema: plain serde types whose keys are named after
//! keepalived's and Apache's directives, so an operator recognises them.
//!
//! Numbers that have a range (VRID, priority, weight…) are deserialized
//! into wide integers and checked by validation, so that every range error is
//! reported with its line instead of stopping at the first. Values returned by
//! [`crate::config::load`] have passed validation; the narrowing accessors
//! (`VrrpInstance::vrid`, …) rely on that.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::duration;

/// The whole configuration of one node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[global]`: process-wide settings (keepalived's `global_defs`).
    #[serde(skip_serializing_if = "Global::is_default")]
    pub global: Global,
    /// `[vrrp_script.NAME]`: commands run periodically (keepalived `vrrp_script`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vrrp_script: BTreeMap<String, VrrpScript>,
    /// `[tcp_check.NAME]`: built-in TCP connect check, tracked through `track_script`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tcp_check: BTreeMap<String, TcpCheck>,
    /// `[http_check.NAME]`: built-in HTTP GET check, tracked through `track_script`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub http_check: BTreeMap<String, HttpCheck>,
    /// `[track_proxy.NAME]`: healthy-member count of a `[proxy.X]`, tracked through `track_script`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub track_proxy: BTreeMap<String, TrackProxy>,
    /// `[track_file.NAME]`: keepalived `vrrp_track_file`, tracked through `track_file`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub track_file: BTreeMap<String, TrackFile>,
    /// `[track_process.NAME]`: keepalived `vrrp_track_process`, tracked through `track_process`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub track_process: BTreeMap<String, TrackProcess>,
    /// `[vrrp_instance.NAME]`: one virtual router (keepalived `vrrp_instance`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vrrp_instance: BTreeMap<String, VrrpInstance>,
    /// `[vrrp_sync_group.NAME]`: instances that change state together.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vrrp_sync_group: BTreeMap<String, VrrpSyncGroup>,
    /// `[proxy.NAME]`: a virtual host of the reverse proxy (Apache
    /// `<VirtualHost>` with `mod_proxy_balancer`), in file order: on each
    /// address the first is its default host, as in Apache.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub proxy: IndexMap<String, Proxy>,
    /// `[balancer.NAME]`: a named balancer (Apache `<Proxy
    /// balancer://NAME>`) that routes of any `[proxy]` send to.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub balancer: BTreeMap<String, Balancer>,
}

/// The top-level tables whose entries are named (`[vrrp_instance.VI_1]`).
pub const NAMED_SECTIONS: &[&str] = &[
    "vrrp_script",
    "tcp_check",
    "http_check",
    "track_proxy",
    "track_file",
    "track_process",
    "vrrp_instance",
    "vrrp_sync_group",
    "proxy",
    "balancer",
];

/// Every top-level key.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "global",
    "vrrp_script",
    "tcp_check",
    "http_check",
    "track_proxy",
    "track_file",
    "track_process",
    "vrrp_instance",
    "vrrp_sync_group",
    "proxy",
    "balancer",
];

fn default_control_socket() -> PathBuf {
    PathBuf::from("/run/had/had.sock")
}
fn default_version() -> u32 {
    2
}
fn default_garp_delay() -> Duration {
    Duration::from_secs(5)
}
fn default_garp_repeat() -> u32 {
    5
}
fn default_drain_timeout() -> Duration {
    Duration::from_secs(10)
}
fn is_false(b: &bool) -> bool {
    !*b
}
fn is_true(b: &bool) -> bool {
    *b
}
fn yes() -> bool {
    true
}
fn is_one(n: &u32) -> bool {
    *n == 1
}
fn is_default_socket(p: &PathBuf) -> bool {
    *p == default_control_socket()
}
fn is_default_version(v: &u32) -> bool {
    *v == default_version()
}
fn is_default_garp_delay(d: &Duration) -> bool {
    *d == default_garp_delay()
}
fn is_default_garp_repeat(n: &u32) -> bool {
    *n == default_garp_repeat()
}
fn is_default_drain(d: &Duration) -> bool {
    *d == default_drain_timeout()
}

/// `[global]`: keepalived's `global_defs` plus had's own process settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Global {
    /// Name of this node in logs and status (keepalived `router_id`); default: the host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router_id: Option<String>,
    /// Path of the Unix control socket `hactl` talks to.
    #[serde(skip_serializing_if = "is_default_socket")]
    pub control_socket: PathBuf,
    /// Where to serve Prometheus metrics on `/metrics`; none = no metrics listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// Run the VRRP task with real-time scheduling (keepalived `vrrp_rt_priority`).
    #[serde(skip_serializing_if = "is_false")]
    pub realtime: bool,
    /// Refuse scripts writable by non-root users (keepalived `enable_script_security`).
    #[serde(skip_serializing_if = "is_false")]
    pub enable_script_security: bool,
    /// User (and `user:group`) scripts run as by default (keepalived `script_user`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_user: Option<String>,
    /// VRRP version of instances that don't set `version` (keepalived `vrrp_version`, default 2).
    #[serde(skip_serializing_if = "is_default_version")]
    pub vrrp_version: u32,
    /// Delay before the second burst of gratuitous ARPs after becoming MASTER.
    #[serde(with = "duration", skip_serializing_if = "is_default_garp_delay")]
    pub vrrp_garp_master_delay: Duration,
    /// Gratuitous ARPs (or unsolicited NAs) sent per burst on becoming MASTER.
    #[serde(skip_serializing_if = "is_default_garp_repeat")]
    pub vrrp_garp_master_repeat: u32,
    /// Period of gratuitous ARP refreshes while MASTER; none = no refresh.
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub vrrp_garp_master_refresh: Option<Duration>,
    /// How long a graceful stop waits for in-flight proxy requests.
    #[serde(with = "duration", skip_serializing_if = "is_default_drain")]
    pub drain_timeout: Duration,
}

impl Global {
    fn is_default(&self) -> bool {
        *self == Global::default()
    }
}

impl Default for Global {
    fn default() -> Self {
        Global {
            router_id: None,
            control_socket: default_control_socket(),
            metrics_listen: None,
            realtime: false,
            enable_script_security: false,
            script_user: None,
            vrrp_version: default_version(),
            vrrp_garp_master_delay: default_garp_delay(),
            vrrp_garp_master_repeat: default_garp_repeat(),
            vrrp_garp_master_refresh: None,
            drain_timeout: default_drain_timeout(),
        }
    }
}

fn default_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_one() -> u32 {
    1
}

/// `[vrrp_script.NAME]`: a command run every `interval`; exit 0 = OK.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrrpScript {
    /// Command line, split like a shell (quotes honoured) and run without a shell.
    pub script: String,
    /// Time between runs (keepalived default 1 s).
    #[serde(with = "duration", default = "default_interval")]
    pub interval: Duration,
    /// A run taking longer counts as a failure; default: `interval`.
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub timeout: Option<Duration>,
    /// keepalived semantics: >0 added while OK, <0 added while failing, 0 = FAULT on failure.
    #[serde(default)]
    pub weight: i64,
    /// Consecutive successes needed to count as OK.
    #[serde(default = "default_one", skip_serializing_if = "is_one")]
    pub rise: u32,
    /// Consecutive failures needed to count as failing.
    #[serde(default = "default_one", skip_serializing_if = "is_one")]
    pub fall: u32,
    /// User (or `user:group`) to run as; default `global.script_user`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user: Option<String>,
    /// Start in the failed state until the first success (keepalived `init_fail`).
    #[serde(skip_serializing_if = "is_false", default)]
    pub init_fail: bool,
}

impl VrrpScript {
    /// The argv the script runs with (shell-like splitting, no shell).
    pub fn argv(&self) -> Option<Vec<String>> {
        shlex::split(&self.script).filter(|v| !v.is_empty())
    }

    /// The effective timeout: `timeout`, else `interval`.
    pub fn effective_timeout(&self) -> Duration {
        self.timeout.unwrap_or(self.interval)
    }
}

fn default_check_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_status_code() -> u16 {
    200
}

/// `[tcp_check.NAME]`: OK while a TCP connection to `connect_ip:connect_port` succeeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    /// Address to connect to (keepalived `connect_ip`).
    pub connect_ip: IpAddr,
    /// Port to connect to (keepalived `connect_port`).
    pub connect_port: u16,
    /// Time between attempts.
    #[serde(with = "duration", default = "default_interval")]
    pub interval: Duration,
    /// Connect timeout (keepalived `connect_timeout`).
    #[serde(with = "duration", default = "default_check_timeout")]
    pub timeout: Duration,
    /// As for `vrrp_script`.
    #[serde(default)]
    pub weight: i64,
    /// Consecutive successes needed to count as OK.
    #[serde(default = "default_one", skip_serializing_if = "is_one")]
    pub rise: u32,
    /// Consecutive failures needed to count as failing.
    #[serde(default = "default_one", skip_serializing_if = "is_one")]
    pub fall: u32,
}

/// `[http_check.NAME]`: OK while `GET url` answers `status_code`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// `http://host:port/path` to fetch.
    pub url: String,
    /// Expected HTTP status (keepalived `status_code`).
    #[serde(default = "default_status_code")]
    pub status_code: u16,
    /// Time between attempts.
    #[serde(with = "duration", default = "default_interval")]
    pub interval: Duration,
    /// Whole-request timeout.
    #[serde(with = "duration", default = "default_check_timeout")]
    pub timeout: Duration,
    /// As for `vrrp_script`.
    #[serde(default)]
    pub weight: i64,
    /// Consecutive successes needed to count as OK.
    #[serde(default = "default_one", skip_serializing_if = "is_one")]
    pub rise: u32,
    /// Consecutive failures needed to count as failing.
    #[serde(default = "default_one", skip_serializing_if = "is_one")]
    pub fall: u32,
}

/// `[track_proxy.NAME]`: OK while `[proxy.<proxy>]` has at least `min_up` healthy members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackProxy {
    /// Name of the `[proxy.NAME]` table watched.
    pub proxy: String,
    /// Fewest healthy members that still count as OK.
    #[serde(default = "default_one")]
    pub min_up: u32,
    /// As for `vrrp_script`.
    #[serde(default)]
    pub weight: i64,
}

/// `[track_file.NAME]`: keepalived `vrrp_track_file`: the integer in `file`
/// times `weight` is added to the priority; with weight 0, non-zero = FAULT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackFile {
    /// File holding one integer.
    pub file: PathBuf,
    /// Multiplier (keepalived default 1).
    #[serde(default = "default_weight_one")]
    pub weight: i64,
    /// keepalived `weight N reverse`: invert the effect.
    #[serde(skip_serializing_if = "is_false", default)]
    pub reverse: bool,
}

fn default_weight_one() -> i64 {
    1
}

/// `[track_process.NAME]`: keepalived `vrrp_track_process`: OK while the
/// number of running processes named `process` is within `quorum..=quorum_max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackProcess {
    /// Process name (as in /proc/PID/comm), or the whole command line with `full_command`.
    pub process: String,
    /// Parameters the command line must have (keepalived: the words after the name).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub params: Vec<String>,
    /// How `params` match (keepalived `param_match`): `"exact"` (default),
    /// `"partial"` (the first ones equal), `"initial"` (and the last may be a prefix).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub param_match: Option<String>,
    /// Match `process` against the whole command line.
    #[serde(skip_serializing_if = "is_false", default)]
    pub full_command: bool,
    /// Fewest running processes that count as OK.
    #[serde(default = "default_one", skip_serializing_if = "is_one")]
    pub quorum: u32,
    /// Most running processes that count as OK; none = unlimited.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub quorum_max: Option<u32>,
    /// As for `vrrp_script`.
    #[serde(default)]
    pub weight: i64,
    /// Sets both `fork_delay` and `terminate_delay` (keepalived `delay`).
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub delay: Option<Duration>,
    /// How long a regained quorum must last before it counts as OK.
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub fork_delay: Option<Duration>,
    /// How long a lost quorum must last before it counts as failing.
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub terminate_delay: Option<Duration>,
}

/// A reference from an instance to a check, optionally overriding its weight
/// (keepalived's `chk_x weight -20` inside `track_script { }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRef {
    /// Name of the tracked check or interface.
    pub name: String,
    /// Weight used by this instance instead of the check's own.
    pub weight: Option<i64>,
}

impl TrackRef {
    /// A plain reference without a weight override.
    pub fn named(name: impl Into<String>) -> Self {
        TrackRef {
            name: name.into(),
            weight: None,
        }
    }
}

impl Serialize for TrackRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.weight {
            None => s.serialize_str(&self.name),
            Some(weight) => {
                #[derive(Serialize)]
                struct Full<'a> {
                    name: &'a str,
                    weight: i64,
                }
                Full {
                    name: &self.name,
                    weight,
                }
                .serialize(s)
            }
        }
    }
}

impl<'de> Deserialize<'de> for TrackRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            name: String,
            weight: Option<i64>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TrackRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name, or { name = \"...\", weight = N }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TrackRef, E> {
                Ok(TrackRef::named(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TrackRef, A::Error> {
                let full = Full::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(TrackRef {
                    name: full.name,
                    weight: full.weight,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// The initial state hint of an instance, as keepalived's `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum InitialState {
    /// Start as MASTER (claims the VIP at once).
    #[serde(rename = "MASTER")]
    Master,
    /// Start as BACKUP and wait for Master_Down_Interval.
    #[default]
    #[serde(rename = "BACKUP")]
    Backup,
}

/// VRRP authentication types (RFC 3768 §5.3.6; v2 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthType {
    /// Simple text password (type 1): no security, only a guard against misconfiguration.
    #[serde(rename = "PASS")]
    Pass,
    /// IPsec AH (type 2), as keepalived's `auth_type AH`: refused with
    /// VRRPv2, since had implements no AH (ignored with a warning for v3).
    #[serde(rename = "AH")]
    Ah,
}

/// `authentication = { auth_type = "PASS", auth_pass = "secret" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authentication {
    /// `PASS` or `AH`.
    pub auth_type: AuthType,
    /// The password; only its first 8 characters are used (as keepalived).
    pub auth_pass: String,
}

impl Authentication {
    /// The password as sent on the wire: at most 8 bytes (RFC 3768 §5.3.10).
    pub fn wire_pass(&self) -> &str {
        let mut end = self.auth_pass.len().min(8);
        while !self.auth_pass.is_char_boundary(end) {
            end -= 1;
        }
        self.auth_pass.get(..end).unwrap_or_default()
    }
}

/// A virtual address: `"198.18.0.200/24"`, keepalived's
/// `"198.18.0.200/24 dev eth1 label eth1:vip"`, or a table
/// `{ address = "198.18.0.200/24", dev = "eth1", label = "eth1:vip" }`.
/// Without a prefix the address is a host route (/32 or /128), as in keepalived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualAddress {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length (0-32 for IPv4, 0-128 for IPv6).
    pub prefix_len: u8,
    /// Interface to put it on; default the instance's `interface`.
    pub dev: Option<String>,
    /// Interface label (`ip addr ... label`), IPv4 only.
    pub label: Option<String>,
}

impl FromStr for VirtualAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut words = text.split_whitespace();
        let Some(first) = words.next() else {
            return Err("empty address; write \"198.18.0.200/24\"".into());
        };
        let (addr_text, prefix_text) = match first.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (first, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| format!("{addr_text:?} is not an IPv4 or IPv6 address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix_text {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("prefix /{p} is out of range (allowed 0-{max})")),
            },
        };
        let mut va = VirtualAddress {
            addr,
            prefix_len,
            dev: None,
            label: None,
        };
        while let Some(word) = words.next() {
            let slot = match word {
                "dev" => &mut va.dev,
                "label" => &mut va.label,
                other => {
                    return Err(format!(
                        "unexpected {other:?} after the address (allowed: dev IFACE, label NAME)"
                    ));
                }
            };
            match words.next() {
                Some(v) => *slot = Some(v.to_string()),
                None => return Err(format!("{word} needs a value")),
            }
        }
        Ok(va)
    }
}

impl fmt::Display for VirtualAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)?;
        if let Some(dev) = &self.dev {
            write!(f, " dev {dev}")?;
        }
        if let Some(label) = &self.label {
            write!(f, " label {label}")?;
        }
        Ok(())
    }
}

impl Serialize for VirtualAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VirtualAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            address: String,
            dev: Option<String>,
            label: Option<String>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VirtualAddress;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"ADDR[/PREFIX] [dev IFACE] [label NAME]\" or { address, dev, label }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<VirtualAddress, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<VirtualAddress, A::Error> {
                let full = Full::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let mut va: VirtualAddress = full.address.parse().map_err(de::Error::custom)?;
                if full.dev.is_some() {
                    va.dev = full.dev;
                }
                if full.label.is_some() {
                    va.label = full.label;
                }
                Ok(va)
            }
        }
        d.deserialize_any(V)
    }
}

fn default_priority() -> u32 {
    100
}

/// `[vrrp_instance.NAME]`: one virtual router.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrrpInstance {
    /// Initial state hint: `"MASTER"` or `"BACKUP"` (default).
    #[serde(default)]
    pub state: InitialState,
    /// Interface adverts are sent on and VIPs added to.
    pub interface: String,
    /// VRID, 1-255; must be the same on every node of this virtual router.
    pub virtual_router_id: u32,
    /// Priority 1-255 (255 = address owner); keepalived default 100.
    #[serde(default = "default_priority")]
    pub priority: u32,
    /// Advertisement interval (v2: whole seconds 1-255; v3: 0.01-40.95 s).
    #[serde(with = "duration", default = "default_interval")]
    pub advert_int: Duration,
    /// VRRP version 2 or 3; default `global.vrrp_version`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<u32>,
    /// Do not take over from a lower-priority MASTER (needs `state = "BACKUP"`).
    #[serde(skip_serializing_if = "is_false", default)]
    pub nopreempt: bool,
    /// Wait this long after start before preempting (0-1000 s).
    #[serde(with = "duration", default, skip_serializing_if = "Duration::is_zero")]
    pub preempt_delay: Duration,
    /// RFC 5798 Accept_Mode. had always accepts traffic to the VIPs while
    /// MASTER (keepalived's default outside `vrrp_strict`): `true` says so,
    /// and a written `false` is refused, because had installs no firewall
    /// rule that would drop that traffic.
    #[serde(skip_serializing_if = "is_false", default)]
    pub accept: bool,
    /// VRRPv2 authentication; ignored (with a warning) for v3.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub authentication: Option<Authentication>,
    /// The VIPs.
    #[serde(default)]
    pub virtual_ipaddress: Vec<VirtualAddress>,
    /// Checks (`vrrp_script`, `tcp_check`, `http_check`, `track_proxy`) whose weight moves the priority.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub track_script: Vec<TrackRef>,
    /// `track_file` entries whose value moves the priority.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub track_file: Vec<TrackRef>,
    /// `track_process` entries whose weight moves the priority.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub track_process: Vec<TrackRef>,
    /// Interfaces whose link going down puts the instance in FAULT (weight 0) or moves its priority.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub track_interface: Vec<TrackRef>,
    /// Source address of unicast adverts; default the interface's primary address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub unicast_src_ip: Option<IpAddr>,
    /// Peers to send adverts to by unicast; empty = multicast.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub unicast_peer: Vec<IpAddr>,
    /// Delay of the second GARP burst; default `global.vrrp_garp_master_delay`.
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub garp_master_delay: Option<Duration>,
    /// GARPs per burst; default `global.vrrp_garp_master_repeat`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub garp_master_repeat: Option<u32>,
    /// GARP refresh period while MASTER; default `global.vrrp_garp_master_refresh`.
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub garp_master_refresh: Option<Duration>,
    /// Run on becoming MASTER.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notify_master: Option<String>,
    /// Run on becoming BACKUP.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notify_backup: Option<String>,
    /// Run on entering FAULT.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notify_fault: Option<String>,
    /// Run when the instance stops.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notify_stop: Option<String>,
    /// Run on every change with arguments `INSTANCE NAME STATE PRIORITY`, as keepalived.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notify: Option<String>,
}

impl VrrpInstance {
    /// The VRID (validated 1-255).
    pub fn vrid(&self) -> u8 {
        u8::try_from(self.virtual_router_id).unwrap_or(u8::MAX)
    }

    /// The configured priority (validated 1-255).
    pub fn priority(&self) -> u8 {
        u8::try_from(self.priority).unwrap_or(u8::MAX)
    }

    /// The VRRP version in force: `version`, else `global.vrrp_version`.
    pub fn effective_version(&self, global: &Global) -> u32 {
        self.version.unwrap_or(global.vrrp_version)
    }

    /// Whether this instance preempts a lower-priority MASTER. Like keepalived,
    /// `nopreempt` has no effect with `state = "MASTER"`.
    pub fn preempts(&self) -> bool {
        !self.nopreempt || self.state == InitialState::Master
    }

    /// Whether the instance speaks IPv6 (decided by its first VIP).
    pub fn is_ipv6(&self) -> bool {
        self.virtual_ipaddress
            .first()
            .is_some_and(|v| v.addr.is_ipv6())
    }
}

/// `[vrrp_sync_group.NAME]`: instances that enter MASTER/BACKUP/FAULT together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrrpSyncGroup {
    /// Instance names.
    pub group: Vec<String>,
    /// Run when the group becomes MASTER.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notify_master: Option<String>,
    /// Run when the group becomes BACKUP.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notify_backup: Option<String>,
    /// Run when the group enters FAULT.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notify_fault: Option<String>,
    /// Run on every change of the group.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notify: Option<String>,
}

/// Apache `lbmethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LbMethod {
    /// Weighted request counting (Apache `byrequests`).
    #[default]
    Byrequests,
    /// Fewest requests in flight, weighted (Apache `bybusyness`).
    Bybusyness,
    /// Fewest bytes moved, weighted (Apache `bytraffic`).
    Bytraffic,
}

fn default_loadfactor() -> u32 {
    1
}

/// One `BalancerMember`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// `http://host:port[/path]`.
    pub url: String,
    /// Relative weight 1-100 (Apache `loadfactor`).
    #[serde(default = "default_loadfactor")]
    pub loadfactor: u32,
    /// How long a failed member stays out before it is retried (Apache `retry`); default the proxy's.
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub retry: Option<Duration>,
    /// Response timeout for this member (Apache `timeout`); default the proxy's.
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub timeout: Option<Duration>,
    /// Apache status flags: `"+H"` hot standby (used only when no other
    /// member is up), `"+D"` disabled, `"+N"` drain (only sticky requests
    /// for its route), `"+I"` ignore errors (always considered usable).
    /// Apache's S and E are refused: had does not implement them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<String>,
    /// Apache `route=`: the session route sticky requests name it by.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub route: Option<String>,
    /// Apache `lbset=`: members of a lower set are tried before any of a
    /// higher one (default 0).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lbset: Option<u32>,
}

impl Member {
    /// Apache `status=+H`: used only when every other member is down.
    pub fn hot_standby(&self) -> bool {
        self.has_flag('H')
    }

    /// Apache `status=+D`: configured but not used.
    pub fn disabled(&self) -> bool {
        self.has_flag('D')
    }

    /// Apache `status=+N`: draining, only sticky requests for its route.
    pub fn drain(&self) -> bool {
        self.has_flag('N')
    }

    /// Apache `status=+I`: errors never take it out.
    pub fn ignore_errors(&self) -> bool {
        self.has_flag('I')
    }

    fn has_flag(&self, flag: char) -> bool {
        let Some(status) = &self.status else {
            return false;
        };
        let mut on = true;
        for c in status.chars() {
            match c {
                '+' => on = true,
                '-' => on = false,
                c if c.eq_ignore_ascii_case(&flag) => return on,
                _ => {}
            }
        }
        false
    }
}

fn default_proxy_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
/// 5 s, not Apache's 60 s: a restarted backend is back in rotation within
/// seconds (the README's "differences worth knowing").
fn default_retry() -> Duration {
    Duration::from_secs(5)
}
fn default_path() -> String {
    "/".into()
}
// Written out only when not the default, so that a file written from a
// routes config (`hactl import apache`) holds no shorthand key.
fn is_default_path(p: &str) -> bool {
    p == "/"
}
fn is_default_lbmethod(m: &LbMethod) -> bool {
    *m == LbMethod::default()
}
fn default_hc_interval() -> Duration {
    Duration::from_secs(5)
}
fn default_hc_uri() -> String {
    "/".into()
}
fn default_hc_method() -> String {
    "GET".into()
}

/// Active health checks of a proxy's members (Apache `mod_proxy_hcheck`'s hc* parameters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyHealthCheck {
    /// `hcmethod`: `TCP` (a connect is enough), `GET`, `HEAD` or `OPTIONS`; default `GET`.
    #[serde(default = "default_hc_method")]
    pub method: String,
    /// Path requested on each member (`hcuri`), after the member URL's path;
    /// default `/`. Refused with `method = "TCP"`, which sends no request.
    #[serde(default = "default_hc_uri")]
    pub uri: String,
    /// Time between checks of one member (`hcinterval`), default 5 s.
    #[serde(with = "duration", default = "default_hc_interval")]
    pub interval: Duration,
    /// Time one check may take before it counts as failed, default 2 s.
    #[serde(with = "duration", default = "default_check_timeout")]
    pub timeout: Duration,
    /// Successes to mark a member up again (`hcpasses`).
    #[serde(default = "default_one")]
    pub passes: u32,
    /// Failures to mark a member down (`hcfails`).
    #[serde(default = "default_one")]
    pub fails: u32,
    /// HTTP status that counts as healthy, default 200. Refused with
    /// `method = "TCP"`, which sends no request.
    #[serde(default = "default_status_code")]
    pub expect_status: u16,
}

/// `[balancer.NAME]`: Apache `<Proxy balancer://NAME>` with its
/// `BalancerMember`s and `ProxySet` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Balancer {
    /// The members.
    pub members: Vec<Member>,
    /// `byrequests`, `bybusyness` or `bytraffic`.
    #[serde(default)]
    pub lbmethod: LbMethod,
    /// Other members tried after a failed attempt (`maxattempts`); default all.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub maxattempts: Option<u32>,
    /// Apache `stickysession=NAME` or `NAME|urlname`: the cookie (and URL
    /// parameter) whose value's part after its first `.` names a member's
    /// `route`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stickysession: Option<String>,
    /// Apache `nofailover=On`: a sticky request whose member is unusable
    /// gets 503 instead of another member.
    #[serde(skip_serializing_if = "is_false", default)]
    pub nofailover: bool,
    /// Apache `scolonpathdelim=On`: `;` also ends the URL parameter's value.
    #[serde(skip_serializing_if = "is_false", default)]
    pub scolonpathdelim: bool,
    /// had sets this cookie to `.ROUTE` itself when a request did not name
    /// its member's route (what Apache sites do with `Header add Set-Cookie
    /// "ROUTEID=.%{BALANCER_WORKER_ROUTE}e"`); it is read back as the sticky
    /// cookie unless `stickysession` names another.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sticky_cookie: Option<String>,
}

/// One `[[proxy.NAME.route]]`: a path (`path`, as `ProxyPass`, or
/// `path_regex`, as `ProxyPassMatch`) and exactly one action: `balancer`
/// (with `to`), `url`, `exclude` (with `directory` or `document_root`) or
/// `redirect` (with `status`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// A path prefix, matched as `ProxyPass` matches.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
    /// A regular expression over the path, as `ProxyPassMatch`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path_regex: Option<String>,
    /// Send to `[balancer.NAME]`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub balancer: Option<String>,
    /// With `balancer`: the path of `balancer://NAME/TO`, joined with the
    /// rest of the request path exactly as Apache joins it (`$1`… for a
    /// regex). Without it, the prefix is dropped and the rest starts with `/`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub to: Option<String>,
    /// Send to this one URL (`ProxyPass /x http://b:8080/y`), joined as Apache joins it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
    /// `ProxyPassReverse` for this route.
    #[serde(skip_serializing_if = "is_false", default)]
    pub pass_reverse: bool,
    /// `ProxyPass PATH !`: not proxied; served from `directory` or
    /// `document_root` if set, else 404.
    #[serde(skip_serializing_if = "is_false", default)]
    pub exclude: bool,
    /// With `exclude`, as `Alias PATH DIR`: a file is DIR + the path after
    /// the route's prefix. DIR may be one file (`Alias /favicon.ico
    /// /srv/www/favicon.ico`), served for the route's path alone.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub directory: Option<PathBuf>,
    /// With `exclude`, as `DocumentRoot DIR` (nginx `root`): a file is DIR +
    /// the whole request path.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub document_root: Option<PathBuf>,
    /// `Redirect` / `RedirectMatch`: the target URL.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub redirect: Option<String>,
    /// With `redirect`: 301, 302 (the default, as Apache's), 303, 307 or 308.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<u16>,
}

/// `[proxy.NAME]`: a virtual host of the reverse proxy: the names it
/// answers to, and its routes (or the one-balancer shorthand `members`). Every key
/// reaches `lb_proxy::ProxyConfig` through `plan.rs`, and the README's key
/// table names the test that shows its effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    /// Addresses to listen on; may be VIPs this node doesn't hold yet.
    pub listen: Vec<SocketAddr>,
    /// `ServerName`: the `Host` this virtual host answers to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server_name: Option<String>,
    /// `ServerAlias`: more names, exact or with `*` and `?` wildcards.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub server_alias: Vec<String>,
    /// The routes, first match wins (`[[proxy.NAME.route]]`); instead of
    /// the shorthand `members`.
    #[serde(rename = "route", skip_serializing_if = "Vec::is_empty", default)]
    pub routes: Vec<Route>,
    /// Local path prefix forwarded (the first argument of `ProxyPass`),
    /// default `/`: a request outside it is answered 404; inside it, the
    /// prefix is replaced by the member URL's path.
    #[serde(default = "default_path", skip_serializing_if = "is_default_path")]
    pub path: String,
    /// Forward the client's `Host` header (`ProxyPreserveHost On`).
    #[serde(default)]
    pub preserve_host: bool,
    /// Rewrite members' `Location` headers back to the proxy (`ProxyPassReverse`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub pass_reverse: bool,
    /// `byrequests`, `bybusyness` or `bytraffic`.
    #[serde(default, skip_serializing_if = "is_default_lbmethod")]
    pub lbmethod: LbMethod,
    /// The backends of the one-balancer shorthand (`ProxyPass PATH
    /// balancer://NAME/` with `<Proxy>` in one): empty when `route` is used.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub members: Vec<Member>,
    /// Response timeout (`ProxyTimeout`), default 60 s; expiry answers 504.
    #[serde(with = "duration", default = "default_proxy_timeout")]
    pub timeout: Duration,
    /// TCP connect timeout (`connectiontimeout`), default 5 s.
    #[serde(with = "duration", default = "default_connect_timeout")]
    pub connect_timeout: Duration,
    /// Default time a failed member stays out (`retry`), default 5 s.
    #[serde(with = "duration", default = "default_retry")]
    pub retry: Duration,
    /// Other members tried after a failed attempt (`maxattempts`); none =
    /// every other usable member (Apache: members - 1); 0 = no failover.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub maxattempts: Option<u32>,
    /// Most client connections served at once; none = 10000. Further
    /// clients wait in the listen backlog.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_connections: Option<u32>,
    /// Active member health checks; none = passive only.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub health_check: Option<ProxyHealthCheck>,
    /// Access log in Apache combined format; none = no access log.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub access_log: Option<PathBuf>,
    /// Time a client may take to send a request head, and the keep-alive idle
    /// limit (Apache `RequestReadTimeout header=`); none = 20 s.
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub header_read_timeout: Option<Duration>,
    /// Longest wait for the next piece of a request body (Apache
    /// `RequestReadTimeout body=`); expiry answers 408; none = 20 s.
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub body_read_timeout: Option<Duration>,
    /// How long an idle pooled member connection is kept; none = 4 s (below
    /// the 5 s keep-alive of Apache and nginx members).
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub pool_idle_timeout: Option<Duration>,
    /// Idle limit of an upgraded (WebSocket) tunnel; none = 60 s.
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub tunnel_idle_timeout: Option<Duration>,
    /// Longest wait for a client to take the next piece of its response
    /// (nginx `send_timeout`, the write half of Apache's `Timeout`); past it
    /// the HTTP/1.1 connection is closed or the HTTP/2 stream reset, and
    /// the member's connection closed; none = 60 s.
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub send_timeout: Option<Duration>,
    /// Longest request header field, name and value (Apache
    /// `LimitRequestFieldSize`), at least 64; none = 8190; beyond it, 431.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub limit_request_field_size: Option<u32>,
    /// Most request header fields (Apache `LimitRequestFields`); none = 100;
    /// beyond it, 431.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub limit_request_fields: Option<u32>,
    /// Longest request line (Apache `LimitRequestLine`), at least 64; none =
    /// 8190; beyond it, 414.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub limit_request_line: Option<u32>,
    /// Worker threads serving this proxy; none = one per CPU had may run on.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub workers: Option<u32>,
    /// HTTPS on every `listen` address (Apache `SSLEngine on`): this
    /// virtual host's certificate, chosen by SNI among those of the
    /// `[proxy]` sections sharing the address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tls: Option<ProxyTls>,
    /// PEM CA certificates `https://` and `wss://` members must chain to,
    /// instead of the system's store (Apache `SSLProxyCACertificateFile`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub member_ca_file: Option<PathBuf>,
    /// `false` accepts any member certificate, with a warning (Apache
    /// `SSLProxyVerify none`); default true.
    #[serde(skip_serializing_if = "is_true", default = "yes")]
    pub member_verify: bool,
}

/// `[proxy.NAME] tls`: the certificate of a virtual host, and the TLS
/// settings of its listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyTls {
    /// PEM: the certificate, then its intermediates (`SSLCertificateFile`).
    pub cert: PathBuf,
    /// PEM: its private key, RSA or ECDSA (`SSLCertificateKeyFile`).
    pub key: PathBuf,
    /// PEM: intermediates in a file of their own (`SSLCertificateChainFile`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chain: Option<PathBuf>,
    /// Refuse a client whose SNI names no certificate of the address, or
    /// that sends none (default: it gets the first certificate).
    #[serde(skip_serializing_if = "is_false", default)]
    pub strict_sni: bool,
    /// How long a client has to finish its handshake; none = 10 s.
    #[serde(
        with = "duration::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub handshake_timeout: Option<Duration>,
    /// A file of session-ticket keys the nodes of a pair share, so a client
    /// resumes its TLS session on whichever node holds the address: base64
    /// lines of 80 random bytes (`openssl rand 80 | base64 -w0`), the first
    /// seals, all open. None: sessions resume on the node that made them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ticket_keys: Option<PathBuf>,
    /// PEM CA certificates a client's certificate must chain to: clients
    /// are asked for one (Apache `SSLCACertificateFile` with
    /// `SSLVerifyClient`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: `"required"` (the default; no certificate, no
    /// connection) or `"optional"` (a certificate, if sent, must verify).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub verify_client: Option<VerifyClient>,
    /// With `client_ca`: how many certificates may stand above a client's
    /// own in its chain, the CA included (Apache `SSLVerifyDepth`, nginx
    /// `ssl_verify_depth`); none = 1, issued directly by a CA of the file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub verify_depth: Option<u8>,
    /// With `client_ca`: the request header that carries the verified
    /// subject (`CN=…, O=…`) to members; a client's own header of that name
    /// is removed. None: nothing is forwarded.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_subject_header: Option<String>,
}

/// `tls.verify_client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifyClient {
    /// `SSLVerifyClient require`.
    Required,
    /// `SSLVerifyClient optional`.
    Optional,
}

/// A key had knows but refuses, because accepting it would promise an
/// effect the runtime does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusedKey {
    /// The top-level table whose entries may not carry it (`proxy`).
    pub table: &'static str,
    /// The key inside `[table.NAME]`.
    pub key: &'static str,
    /// Why, for the error and for the importers' notes.
    pub why: &'static str,
}

/// `[proxy.NAME] error_log` (Apache `ErrorLog`).
pub const PROXY_ERROR_LOG: RefusedKey = RefusedKey {
    table: "proxy",
    key: "error_log",
    why: "had keeps no per-proxy error log, proxy errors go to the daemon's log (stderr, journald)",
};

/// Every refused key: validation answers them with their reason instead of
/// "unknown key", and the importers drop the directives they came from
/// with the same reason.
pub const REFUSED_KEYS: &[RefusedKey] = &[PROXY_ERROR_LOG];

/// The refused key `key` of `[table.NAME]`, if it is one.
pub fn refused_key(table: &str, key: &str) -> Option<&'static RefusedKey> {
    REFUSED_KEYS
        .iter()
        .find(|r| r.table == table && r.key == key)
}
