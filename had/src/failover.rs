//! The failover arithmetic: given one configuration per node, does the
//! failure of each tracked check or interface on the MASTER actually move
//! the VIP, and how long does a takeover take after a crash or a graceful stop?
//!
//! Priorities come from [`vrrp_core::priority::effective_priority`] (keepalived's
//! rules) and times from [`vrrp_core::timers`], so the report says what the
//! daemon will do, not what a second model of it thinks.
//!
//! ```
//! let ha1 = had::config::parse_str(
//!     "[global]\nrouter_id = \"ha1\"\n[vrrp_script.chk]\nscript = \"true\"\nweight = 2\n\
//!      [vrrp_instance.VI_1]\nstate = \"MASTER\"\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
//!      priority = 100\nvirtual_ipaddress = [\"198.18.0.200\"]\ntrack_script = [\"chk\"]\n",
//!     "ha1.toml",
//! ).expect("valid");
//! let ha2_text = "[global]\nrouter_id = \"ha2\"\n[vrrp_script.chk]\nscript = \"true\"\nweight = 2\n\
//!      [vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
//!      priority = 90\nvirtual_ipaddress = [\"198.18.0.200\"]\ntrack_script = [\"chk\"]\n";
//! let ha2 = had::config::parse_str(ha2_text, "ha2.toml").expect("valid");
//! let report = had::failover::analyze(&[
//!     had::failover::Node::new("ha1", &ha1.config),
//!     had::failover::Node::new("ha2", &ha2.config),
//! ]);
//! let case = &report.instances[0].failures[0];
//! assert!(!case.verdict.moves());
//! assert_eq!(
//!     case.to_string(),
//!     "VI_1: chk failing on ha1 leaves it at 100 against ha2's 92: the VIP does NOT move"
//! );
//! ```

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use vrrp_core::Version;
use vrrp_core::priority::{PriorityOutcome, Tracked, effective_priority};
use vrrp_core::timers::{MasterDownInterval, master_down_interval, skew_time};

use crate::config::{Config, VrrpInstance};

/// One node's configuration, by name.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    /// The node's name in the report (its `router_id` or file name).
    pub name: &'a str,
    /// Its validated configuration.
    pub config: &'a Config,
}

impl<'a> Node<'a> {
    /// A node named `name`.
    pub fn new(name: &'a str, config: &'a Config) -> Self {
        Node { name, config }
    }
}

/// What kind of object an instance tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    /// `track_script` (a `vrrp_script`, `tcp_check`, `http_check` or `track_proxy`).
    Script,
    /// `track_process`.
    Process,
    /// `track_interface`.
    Interface,
    /// `track_file`: the effect depends on the file's content.
    File,
}

/// Why a failure does not move the VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The VIP moves to `to`.
    Moves {
        /// The node that takes over.
        to: String,
        /// The master enters FAULT (weight 0 failure).
        fault: bool,
    },
    /// The master still has the higher (or an equal) priority.
    StillHighest,
    /// A backup would win on priority but has `nopreempt`.
    BackupDoesNotPreempt {
        /// That backup.
        backup: String,
    },
    /// No other node runs this instance (or all are in FAULT).
    NoBackup,
    /// Not computable from the configuration alone.
    NotAnalyzed {
        /// Why.
        why: String,
    },
}

impl Verdict {
    /// Whether the VIP moves.
    pub fn moves(&self) -> bool {
        matches!(self, Verdict::Moves { .. })
    }
}

/// One tracked object failing on the expected MASTER.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureCase {
    /// The instance's name (on the master node).
    pub instance: String,
    /// The tracked object's name.
    pub tracked: String,
    /// Its kind.
    pub kind: TrackKind,
    /// The weight in force (the instance's override or the check's own).
    pub weight: i64,
    /// The node it fails on (the expected MASTER).
    pub node: String,
    /// The master's effective priority with that failure.
    pub master_after: PriorityOutcome,
    /// The strongest backup and its effective priority (all its checks OK).
    pub rival: Option<(String, u8)>,
    /// The outcome.
    pub verdict: Verdict,
    /// When the VIP does not move: the highest weight that would move it if
    /// every node tracked this object with it.
    pub suggested_weight: Option<i64>,
}

impl fmt::Display for FailureCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TrackKind::Interface => format!("interface {} going down", self.tracked),
            TrackKind::Process => format!("process check {} failing", self.tracked),
            TrackKind::Script | TrackKind::File => format!("{} failing", self.tracked),
        };
        let rival = match &self.rival {
            Some((n, p)) => format!("{n}'s {p}"),
            None => "no backup".to_string(),
        };
        match &self.verdict {
            Verdict::NotAnalyzed { why } => write!(f, "{}: {}: {why}", self.instance, self.tracked),
            Verdict::Moves { to, fault: true } => write!(
                f,
                "{}: {what} on {} puts it in FAULT (weight 0): the VIP moves to {to}",
                self.instance, self.node
            ),
            Verdict::Moves { to, fault: false } => write!(
                f,
                "{}: {what} on {} leaves it at {} against {rival}: the VIP moves to {to}",
                self.instance, self.node, self.master_after
            ),
            Verdict::StillHighest => write!(
                f,
                "{}: {what} on {} leaves it at {} against {rival}: the VIP does NOT move",
                self.instance, self.node, self.master_after
            ),
            Verdict::BackupDoesNotPreempt { backup } => write!(
                f,
                "{}: {what} on {} leaves it at {} against {rival}, but {backup} has nopreempt: the VIP does NOT move",
                self.instance, self.node, self.master_after
            ),
            Verdict::NoBackup => write!(
                f,
                "{}: {what} on {}: no other node runs this instance: the VIP has nowhere to go",
                self.instance, self.node
            ),
        }
    }
}

/// How long the best backup takes to take over.
#[derive(Debug, Clone, PartialEq)]
pub struct Takeover {
    /// The node that takes over.
    pub node: String,
    /// After a crash of the master: Master_Down_Interval (RFC 5798 §6.1).
    pub crash: MasterDownInterval,
    /// After a graceful stop (priority-0 advert, RFC 5798 §6.4.2): Skew_Time.
    pub graceful: Duration,
}

/// The arithmetic for one virtual router (same interface and VRID on every node).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceReport {
    /// Instance name (on the expected master).
    pub name: String,
    /// Interface.
    pub interface: String,
    /// VRID.
    pub vrid: u8,
    /// Every node's effective priority with all checks OK, highest first.
    pub priorities: Vec<(String, PriorityOutcome)>,
    /// The expected MASTER when everything is healthy.
    pub master: String,
    /// Notes on the election (ties, nopreempt).
    pub notes: Vec<String>,
    /// One entry per tracked object of the master.
    pub failures: Vec<FailureCase>,
    /// Takeover times, if there is a backup.
    pub takeover: Option<Takeover>,
}

/// The arithmetic for every instance of a set of nodes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FailoverReport {
    /// One entry per virtual router found on two or more nodes, or on one node.
    pub instances: Vec<InstanceReport>,
}

impl FailoverReport {
    /// Every failure that does not move the VIP.
    pub fn non_moving(&self) -> impl Iterator<Item = &FailureCase> {
        self.instances
            .iter()
            .flat_map(|i| i.failures.iter())
            .filter(|c| !c.verdict.moves())
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

impl fmt::Display for FailoverReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Failover arithmetic:")?;
        for i in &self.instances {
            let prios = i
                .priorities
                .iter()
                .map(|(n, p)| format!("{n} {p}"))
                .collect::<Vec<_>>()
                .join(", ");
            writeln!(
                f,
                "{} ({} VRID {}): {} is MASTER (effective priorities with all checks OK: {prios})",
                i.name, i.interface, i.vrid, i.master
            )?;
            for n in &i.notes {
                writeln!(f, "  note: {n}")?;
            }
            for c in &i.failures {
                writeln!(f, "  {c}")?;
                if let Some(w) = c.suggested_weight {
                    writeln!(
                        f,
                        "    to make it move, give {} weight = {w} or lower on every node",
                        c.tracked
                    )?;
                }
            }
            match &i.takeover {
                Some(t) => {
                    writeln!(
                        f,
                        "  {} crashes: {} takes over after {} (Master_Down_Interval = 3 x {} + skew {})",
                        i.master,
                        t.node,
                        secs(t.crash.total()),
                        secs(t.crash.advert_interval),
                        secs(t.crash.skew)
                    )?;
                    writeln!(
                        f,
                        "  {} stops gracefully: {} takes over after {} (Skew_Time, after its priority-0 advert)",
                        i.master,
                        t.node,
                        secs(t.graceful)
                    )?;
                }
                None => writeln!(f, "  no backup: nothing takes over if {} fails", i.master)?,
            }
        }
        Ok(())
    }
}

/// One node's copy of a virtual router.
struct Member<'a> {
    node: &'a str,
    name: &'a str,
    inst: &'a VrrpInstance,
    config: &'a Config,
}

impl Member<'_> {
    /// (name, kind, weight) of every tracked object.
    fn tracked(&self) -> Vec<(String, TrackKind, i64)> {
        let c = self.config;
        let mut out = Vec::new();
        for t in &self.inst.track_script {
            let own = c
                .vrrp_script
                .get(&t.name)
                .map(|s| s.weight)
                .or_else(|| c.tcp_check.get(&t.name).map(|s| s.weight))
                .or_else(|| c.http_check.get(&t.name).map(|s| s.weight))
                .or_else(|| c.track_proxy.get(&t.name).map(|s| s.weight))
                .unwrap_or(0);
            out.push((t.name.clone(), TrackKind::Script, t.weight.unwrap_or(own)));
        }
        for t in &self.inst.track_process {
            let own = c.track_process.get(&t.name).map_or(0, |p| p.weight);
            out.push((t.name.clone(), TrackKind::Process, t.weight.unwrap_or(own)));
        }
        for t in &self.inst.track_interface {
            out.push((t.name.clone(), TrackKind::Interface, t.weight.unwrap_or(0)));
        }
        for t in &self.inst.track_file {
            let own = c.track_file.get(&t.name).map_or(1, |p| p.weight);
            out.push((t.name.clone(), TrackKind::File, t.weight.unwrap_or(own)));
        }
        out
    }

    /// Effective priority with `failing` (an index into `tracked()`) failed
    /// and everything else OK. A track_file counts as contributing 0.
    fn priority(&self, failing: Option<usize>) -> PriorityOutcome {
        let tracked = self.tracked();
        let objects = tracked
            .iter()
            .enumerate()
            .filter(|(_, t)| t.1 != TrackKind::File)
            .map(|(i, t)| Tracked::check(i32::try_from(t.2).unwrap_or(0), Some(i) != failing));
        effective_priority(self.inst.priority(), objects)
    }

    /// Effective priority with every object OK and the one named `name` (of
    /// `kind`) contributing nothing: the base a new weight for it adds to.
    fn priority_without(&self, name: &str, kind: TrackKind) -> Option<u8> {
        let objects = self
            .tracked()
            .into_iter()
            .filter(|t| t.1 != TrackKind::File && !(t.0 == name && t.1 == kind))
            .map(|t| Tracked::check(i32::try_from(t.2).unwrap_or(0), true));
        prio_value(effective_priority(self.inst.priority(), objects))
    }

    fn version(&self) -> Version {
        if self.inst.effective_version(&self.config.global) == 3 {
            Version::V3
        } else {
            Version::V2
        }
    }

    fn advert_cs(&self) -> u16 {
        u16::try_from(self.inst.advert_int.as_millis() / 10).unwrap_or(u16::MAX)
    }
}

/// Settings that must agree between the nodes of one virtual router: the
/// RFCs make a node drop adverts that differ in them.
fn mismatches(master: &Member<'_>, other: &Member<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if std::ptr::eq(master, other) {
        return out;
    }
    let (a, b) = (master.inst, other.inst);
    let (va, vb) = (
        a.effective_version(&master.config.global),
        b.effective_version(&other.config.global),
    );
    let pair = format!("{} and {}", master.node, other.node);
    if va != vb {
        out.push(format!("MISMATCH: {pair} speak VRRPv{va} and VRRPv{vb}: they will not hear each other and both become MASTER"));
    }
    // RFC 3768 §7.1: a v2 advert with another Adver Int is discarded.
    if va == 2 && vb == 2 && a.advert_int != b.advert_int {
        out.push(format!(
            "MISMATCH: {pair} have advert_int {} s and {} s: VRRPv2 discards adverts with another interval (RFC 3768 §7.1), so both become MASTER",
            a.advert_int.as_secs_f64(),
            b.advert_int.as_secs_f64()
        ));
    }
    if va == 2 && vb == 2 {
        let pass = |i: &VrrpInstance| {
            i.authentication
                .as_ref()
                .map(|x| (x.auth_type, x.wire_pass().to_string()))
        };
        if pass(a) != pass(b) {
            out.push(format!("MISMATCH: {pair} have different authentication: each discards the other's adverts (RFC 3768 §7.1), so both become MASTER"));
        }
    }
    let vips = |i: &VrrpInstance| {
        let mut v: Vec<String> = i
            .virtual_ipaddress
            .iter()
            .map(|x| format!("{}/{}", x.addr, x.prefix_len))
            .collect();
        v.sort();
        v
    };
    if vips(a) != vips(b) {
        out.push(format!(
            "MISMATCH: {pair} have different virtual_ipaddress ({} and {}): a takeover moves different addresses",
            vips(a).join(", "),
            vips(b).join(", ")
        ));
    }
    if !b.preempt_delay.is_zero() && b.preempts() {
        out.push(format!(
            "{} waits preempt_delay {} s after it starts before it preempts",
            other.node,
            b.preempt_delay.as_secs_f64()
        ));
    }
    out
}

fn prio_value(p: PriorityOutcome) -> Option<u8> {
    match p {
        PriorityOutcome::Priority(v) => Some(v),
        PriorityOutcome::Fault => None,
    }
}

/// Works out the arithmetic for every virtual router across `nodes`.
pub fn analyze(nodes: &[Node<'_>]) -> FailoverReport {
    // Group instances by (interface, VRID), keeping first-seen order.
    let mut groups: Vec<((String, u8), Vec<Member<'_>>)> = Vec::new();
    for node in nodes {
        for (name, inst) in &node.config.vrrp_instance {
            let key = (inst.interface.clone(), inst.vrid());
            let member = Member {
                node: node.name,
                name,
                inst,
                config: node.config,
            };
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(member),
                None => groups.push((key, vec![member])),
            }
        }
    }
    let instances = groups
        .into_iter()
        .map(|((interface, vrid), members)| one(interface, vrid, members))
        .collect();
    FailoverReport { instances }
}

fn src_ip(m: &Member<'_>) -> Option<IpAddr> {
    m.inst.unicast_src_ip
}

fn one(interface: String, vrid: u8, mut members: Vec<Member<'_>>) -> InstanceReport {
    let mut notes = Vec::new();
    // Highest healthy priority first; ties by the known source address
    // (RFC 5798 §6.4.3: the higher primary address wins).
    members.sort_by(|a, b| {
        prio_value(b.priority(None))
            .cmp(&prio_value(a.priority(None)))
            .then_with(|| src_ip(b).cmp(&src_ip(a)))
    });
    let priorities: Vec<(String, PriorityOutcome)> = members
        .iter()
        .map(|m| (m.node.to_string(), m.priority(None)))
        .collect();
    let Some(master) = members.first() else {
        return InstanceReport {
            name: String::new(),
            interface,
            vrid,
            priorities,
            master: String::new(),
            notes,
            failures: Vec::new(),
            takeover: None,
        };
    };
    let backups = members.get(1..).unwrap_or_default();
    if let Some(second) = backups.first()
        && prio_value(second.priority(None)) == prio_value(master.priority(None))
    {
        match (src_ip(master), src_ip(second)) {
            (Some(_), Some(_)) => notes.push(format!(
                "{} and {} have the same priority; {} wins on the higher address",
                master.node, second.node, master.node
            )),
            _ => notes.push(format!(
                "{} and {} have the same priority: the one with the higher primary address on {interface} is MASTER; give them different priorities to choose",
                master.node, second.node
            )),
        }
    }
    if members.iter().all(|m| !m.inst.preempts()) && members.len() > 1 {
        notes.push("every node has nopreempt: whichever starts first stays MASTER; the arithmetic below assumes the highest priority holds it".into());
    }
    for m in &members {
        if m.name != master.name {
            notes.push(format!(
                "{} calls this instance {} (on {}: {})",
                m.node, m.name, master.node, master.name
            ));
        }
        notes.extend(mismatches(master, m));
    }
    for m in &members {
        for (group, g) in &m.config.vrrp_sync_group {
            if g.group.iter().any(|n| n == m.name) && g.group.len() > 1 {
                notes.push(format!(
                    "on {}, {} is in sync group {group}: a FAULT of any other member of the group moves it too",
                    m.node, m.name
                ));
            }
        }
    }

    let failures = master
        .tracked()
        .into_iter()
        .enumerate()
        .map(|(index, (tracked, kind, weight))| {
            let master_after = master.priority(Some(index));
            let rival = backups
                .iter()
                .filter_map(|b| prio_value(b.priority(None)).map(|p| (b, p)))
                .max_by_key(|(_, p)| *p);
            let verdict = if kind == TrackKind::File {
                Verdict::NotAnalyzed { why: format!("the priority change is the number written in the file times its weight ({weight}); not computable from the configuration") }
            } else {
                match (master_after, rival) {
                    (_, None) => Verdict::NoBackup,
                    (PriorityOutcome::Fault, Some((b, _))) => Verdict::Moves { to: b.node.to_string(), fault: true },
                    (PriorityOutcome::Priority(m), Some(_)) => {
                        // RFC 5798 §6.4.2: a backup takes over from a lower-priority
                        // master only when it preempts; an equal priority never does.
                        let winner = backups
                            .iter()
                            .filter_map(|b| prio_value(b.priority(None)).map(|p| (b, p)))
                            .filter(|(_, p)| *p > m)
                            .max_by_key(|(_, p)| *p);
                        match winner {
                            None => Verdict::StillHighest,
                            Some((b, _)) if b.inst.preempts() => Verdict::Moves { to: b.node.to_string(), fault: false },
                            Some((b, _)) => Verdict::BackupDoesNotPreempt { backup: b.node.to_string() },
                        }
                    }
                }
            };
            // The weight that would move the VIP if every node used it for
            // this object: the master without it, minus that weight, must fall
            // below the best backup without it (negative weights add nothing
            // while OK).
            let suggested_weight = match (&verdict, kind) {
                (Verdict::StillHighest, TrackKind::Script | TrackKind::Process | TrackKind::Interface) => {
                    let master_base = master.priority_without(&tracked, kind);
                    let rival_base = backups.iter().filter_map(|b| b.priority_without(&tracked, kind)).max();
                    match (master_base, rival_base) {
                        (Some(m), Some(r)) if m < 255 => {
                            let w = i64::from(r) - i64::from(m) - 1;
                            (-254..0).contains(&w).then_some(w)
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            FailureCase {
                instance: master.name.to_string(),
                tracked,
                kind,
                weight,
                node: master.node.to_string(),
                master_after,
                rival: rival.map(|(b, p)| (b.node.to_string(), p)),
                verdict,
                suggested_weight,
            }
        })
        .collect();

    let takeover = backups
        .iter()
        .find(|b| prio_value(b.priority(None)).is_some())
        .map(|b| {
            let prio = prio_value(b.priority(None)).unwrap_or(1);
            // v3 backups learn the master's interval (RFC 5798 §6.4.2); v2 uses its own.
            let cs = if b.version() == Version::V3 {
                master.advert_cs()
            } else {
                b.advert_cs()
            };
            Takeover {
                node: b.node.to_string(),
                crash: master_down_interval(b.version(), prio, cs),
                graceful: skew_time(b.version(), prio, cs),
            }
        });

    InstanceReport {
        name: master.name.to_string(),
        interface,
        vrid,
        master: master.node.to_string(),
        priorities,
        notes,
        failures,
        takeover,
    }
}
