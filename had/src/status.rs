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

/// One reverse proxy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProxyStatus {
    /// The `[proxy.NAME]` name.
    pub name: String,
    /// Addresses the proxy listens on.
    #[serde(default)]
    pub listen: Vec<String>,
    /// The balancer members.
    pub members: Vec<MemberStatus>,
}

/// One balancer member of a proxy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberStatus {
    /// Backend URL.
    pub url: String,
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
                        m.url.clone(),
                        m.status.clone(),
                        m.loadfactor.to_string(),
                        m.requests.to_string(),
                        m.failures.to_string(),
                        m.in_flight.to_string(),
                    ]
                })
            });
            out.push_str(&table(
                &[
                    "PROXY", "LISTEN", "MEMBER", "STATUS", "LF", "REQS", "FAILS", "INFLIGHT",
                ],
                rows,
            ));
        }
        out
    }
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

/// Left-aligned columns, two spaces apart, indented by two.
fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::from(" ");
        for (cell, w) in cells.zip(&widths) {
            l.push(' ');
            l.push_str(cell);
            for _ in cell.chars().count()..*w {
                l.push(' ');
            }
            l.push(' ');
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in &rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
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

    #[test]
    fn durations_read_well() {
        assert_eq!(format_secs(1.25), "1.2s");
        assert_eq!(format_secs(245.0), "4m05s");
        assert_eq!(format_secs(7380.0), "2h03m");
        assert_eq!(format_secs(f64::NAN), "-");
    }
}
