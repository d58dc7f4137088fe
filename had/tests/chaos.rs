//! Chaos in the network lab: three had nodes (priorities 100/90/80) and a
//! fourth node that forges packets. Every node runs two instances:
//! `VI_1` (VRRPv3, advert 0.1 s, VIP 198.18.0.200) and `VI_2` (VRRPv2, PASS
//! auth, advert 1 s, VIP 198.18.0.201); the last scenario adds `VI_3`
//! (VRRPv3, 200 VIPs) by SIGHUP.
//!
//! Faults, one after the other: partition and heal, 30 % loss on every link,
//! a frozen master (SIGSTOP, then SIGCONT), the master's link down and up, a
//! flood of garbage, of forged priority-254 adverts with the wrong password
//! (v2) and with TTL 64 (v3), and the daemon SIGKILLed in the middle of
//! adding VIPs, then restarted. After each fault heals: exactly one node
//! holds `VI_1`'s VIP within [`BOUND`] (+ [`MARGIN`] for a shared CI
//! machine) and it is the highest priority running node; `VI_2` converges
//! within its own (ten times slower) bound; no VIP is left on a stopped
//! node; the status counters explain what happened; nothing panics.
//!
//! CPU saturation (both CPUs busy) is too heavy for CI: it is the ignored
//! test `cpu_saturation`, run by `cargo xtask chaos-cpu`. Every loop here
//! is bounded in count and time. Root is needed (skipped with a message
//! otherwise, a failure under CI=true).

mod e2e_support;
mod lab_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use e2e_support::Forgery;
use had::status::{InstanceStatus, State};
use lab_support::{HadNode, has_vip, note, signal, wait_until};
use nix::sys::signal::Signal;
use vip_netlink::lab::{Lab, LabError};
use vrrp_core::{Advertisement, Auth, Version};

const VIP1: &str = "198.18.0.200";
const VIP2: &str = "198.18.0.201";
/// `VI_3`'s VIPs: 198.18.1.1 to 198.18.1.`VI3_COUNT`.
const VI3_COUNT: usize = 200;
const NODES: [usize; 3] = [0, 1, 2];
const PRIORITY: [u8; 3] = [100, 90, 80];
const FORGER: usize = 3;

/// Goal: after a fault heals, one holder of `VI_1`'s VIP within 1 s.
const BOUND: Duration = Duration::from_secs(1);
/// Allowance on top of [`BOUND`] for a loaded 2-CPU CI machine and for the
/// 2 ms polling of `ip addr` in three namespaces; measured times are printed.
const MARGIN: Duration = Duration::from_secs(1);
/// `VI_2` advertises every second: its bound is ten times `VI_1`'s, plus
/// a Master_Down_Interval when a preemption has to wait for one.
const V2_LIMIT: Duration = Duration::from_secs(6);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn vi3_vips() -> Vec<String> {
    (1..=VI3_COUNT).map(|k| format!("198.18.1.{k}")).collect()
}

fn node_toml(dir: &Path, i: usize, with_vi3: bool) -> String {
    let p = PRIORITY[i];
    let mut s = format!(
        "[vrrp_instance.VI_1]\nstate = \"BACKUP\"\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
         priority = {p}\nadvert_int = 0.1\nversion = 3\nvirtual_ipaddress = [\"{VIP1}/24\"]\n\n\
         [vrrp_instance.VI_2]\nstate = \"BACKUP\"\ninterface = \"eth0\"\nvirtual_router_id = 52\n\
         priority = {p}\nadvert_int = 1\nversion = 2\n\
         authentication = {{ auth_type = \"PASS\", auth_pass = \"secret\" }}\n\
         virtual_ipaddress = [\"{VIP2}/24\"]\n"
    );
    if with_vi3 {
        let vips: Vec<String> = vi3_vips().iter().map(|v| format!("\"{v}/24\"")).collect();
        s.push_str(&format!(
            "\n[vrrp_instance.VI_3]\nstate = \"BACKUP\"\ninterface = \"eth0\"\nvirtual_router_id = 53\n\
             priority = {p}\nadvert_int = 0.1\nversion = 3\nvirtual_ipaddress = [{}]\n",
            vips.join(", ")
        ));
    }
    lab_support::had_toml(dir, i, &s)
}

struct Cluster<'a> {
    lab: &'a Lab,
    dir: &'a Path,
    nodes: Vec<Option<HadNode>>,
    with_vi3: bool,
}

impl Cluster<'_> {
    fn start(&mut self, i: usize) {
        let toml = node_toml(self.dir, i, self.with_vi3);
        self.nodes[i] = Some(HadNode::start(self.lab, self.dir, i, &toml));
    }

    fn node(&self, i: usize) -> &HadNode {
        self.nodes[i].as_ref().expect("node running")
    }

    fn instance(&self, i: usize, name: &str) -> Option<InstanceStatus> {
        self.nodes[i].as_ref()?.status()?.instance(name).cloned()
    }

    fn state(&self, i: usize, name: &str) -> Option<State> {
        self.instance(i, name).map(|s| s.state)
    }

    fn transitions(&self, name: &str) -> Vec<u64> {
        NODES
            .iter()
            .map(|&i| self.instance(i, name).map_or(0, |s| s.transitions))
            .collect()
    }

    fn dropped(&self, i: usize, name: &str) -> BTreeMap<String, u64> {
        self.instance(i, name)
            .map(|s| s.adverts.dropped)
            .unwrap_or_default()
    }

    fn logs(&self) -> String {
        self.nodes
            .iter()
            .flatten()
            .map(|n| format!("--- node {} ---\n{}", n.index, n.log_text()))
            .collect()
    }

    fn holders(&self, vip: &str) -> Vec<usize> {
        lab_support::holders(self.lab, &NODES, ip(vip))
    }

    /// `name` is MASTER on `m` only, every other running node is BACKUP
    /// (or FAULT when `fault` lists it), and only `m` holds `vip`.
    fn settled(&self, name: &str, vip: &str, m: usize, fault: &[usize]) -> bool {
        NODES.iter().all(|&i| match &self.nodes[i] {
            None => true,
            Some(n) => {
                let want = if i == m {
                    State::Master
                } else if fault.contains(&i) {
                    State::Fault
                } else {
                    State::Backup
                };
                n.state(name) == Some(want)
            }
        }) && self.holders(vip) == vec![m]
    }

    /// Waits until `VI_1` settled on `m` (asserting the bound) and `VI_2`
    /// too (its own bound); prints and returns `VI_1`'s time.
    fn converge(&self, scenario: &str, m: usize, since: Instant) -> Duration {
        let took = wait_until(BOUND + MARGIN, || self.settled("VI_1", VIP1, m, &[]));
        let took = took.map(|_| since.elapsed());
        note(
            self.dir,
            &format!(
                "CHAOS|{scenario}|VI_1 one holder (node {m}) after {}",
                took.map_or("never".to_owned(), |t| format!(
                    "{:.1} ms",
                    t.as_secs_f64() * 1e3
                ))
            ),
        );
        let Some(took) = took else {
            panic!(
                "{scenario}: VI_1 not settled on node {m} within {:?}: holders {:?}, states {:?}\n{}",
                BOUND + MARGIN,
                self.holders(VIP1),
                NODES.map(|i| self.state(i, "VI_1")),
                self.logs()
            );
        };
        assert!(
            wait_until(V2_LIMIT, || self.settled("VI_2", VIP2, m, &[])).is_some(),
            "{scenario}: VI_2 not settled on node {m}: holders {:?}, states {:?}\n{}",
            self.holders(VIP2),
            NODES.map(|i| self.state(i, "VI_2")),
            self.logs()
        );
        took
    }

    fn assert_no_panic(&self) {
        let logs = self.logs();
        let p = e2e_support::panics(&logs);
        assert!(p.is_empty(), "panic in a daemon log: {p:?}\n{logs}");
    }
}

/// Lab fault knobs that need a tool this machine may lack: skip the
/// scenario with a message, or fail under CI=true.
fn supported(r: Result<(), LabError>, what: &str) -> bool {
    match r {
        Ok(()) => true,
        Err(LabError::Unsupported { what: w, detail }) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{what}: {w} unsupported here: {detail}"
            );
            eprintln!("skipping {what}: {w} unsupported: {detail}");
            false
        }
        Err(e) => panic!("{what}: {e}"),
    }
}

#[test]
fn chaos_three_nodes() {
    if !e2e_support::tool_available("nft", "nftables") {
        return;
    }
    let Some(lab) = Lab::for_test("chaos", 4) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut c = Cluster {
        lab: &lab,
        dir: d,
        nodes: vec![None, None, None],
        with_vi3: false,
    };
    for i in NODES {
        c.start(i);
    }
    c.converge("election", 0, Instant::now());

    // Partition: node 0 alone, 1 and 2 together. Each side elects its own
    // master (split brain is what VRRP does without a link); on heal the
    // higher priority wins at once.
    let before = c.transitions("VI_1");
    lab.partition(&[0], &[1, 2]).unwrap();
    let split = wait_until(Duration::from_secs(3), || {
        c.state(1, "VI_1") == Some(State::Master) && c.holders(VIP1) == vec![0, 1]
    });
    assert!(
        split.is_some(),
        "no master in the cut-off segment\n{}",
        c.logs()
    );
    assert_eq!(c.state(0, "VI_1"), Some(State::Master));
    let heal = Instant::now();
    lab.heal().unwrap();
    c.converge("partition heal", 0, heal);
    let after = c.transitions("VI_1");
    // Node 1 went MASTER and back: two more transitions, and the status says so.
    assert!(
        after[1] >= before[1] + 2,
        "node 1 transitions {before:?} -> {after:?}"
    );
    note(
        d,
        &format!("CHAOS|partition heal|VI_1 transitions {before:?} -> {after:?}"),
    );

    // 30 % loss on every link for three seconds. Flaps are allowed while it
    // lasts (three adverts in a row lost is 2.7 %); after it, one master.
    let before = c.transitions("VI_1");
    let mut lossy = true;
    for i in NODES {
        lossy &= supported(lab.loss(i, 30.0), "30 % loss");
        if !lossy {
            break;
        }
    }
    if lossy {
        std::thread::sleep(Duration::from_secs(3));
        let during = c.transitions("VI_1");
        let heal = Instant::now();
        for i in NODES {
            lab.clear_loss(i).unwrap();
        }
        c.converge("30% loss cleared", 0, heal);
        note(
            d,
            &format!("CHAOS|30% loss|VI_1 transitions {before:?} -> {during:?} during 3 s"),
        );
    }

    // A frozen master: SIGSTOP keeps its VIP on the interface but silences
    // it; node 1 takes over. SIGCONT: node 0 advertises 100 again and node 1
    // yields at once.
    let pid0 = c.node(0).pid().unwrap();
    let t = Instant::now();
    signal(pid0, Signal::SIGSTOP);
    let took = wait_until(Duration::from_secs(3), || {
        c.state(1, "VI_1") == Some(State::Master) && has_vip(&lab, 1, ip(VIP1))
    });
    assert!(
        took.is_some(),
        "no takeover from a frozen master\n{}",
        c.logs()
    );
    note(
        d,
        &format!("CHAOS|frozen master|takeover after {:?}", t.elapsed()),
    );
    let cont = Instant::now();
    signal(pid0, Signal::SIGCONT);
    c.converge("frozen master thawed", 0, cont);
    let i1 = c.instance(1, "VI_1").unwrap();
    assert_eq!(i1.master, Some(IpAddr::V4(lab.node(0).ipv4)));

    // The master's link down: FAULT there (VIP removed), node 1 takes over;
    // link up: node 0 preempts.
    lab.link_down(0).unwrap();
    let took = wait_until(Duration::from_secs(3), || c.settled("VI_1", VIP1, 1, &[0]));
    assert!(
        took.is_some(),
        "link down: holders {:?}, states {:?}\n{}",
        c.holders(VIP1),
        NODES.map(|i| c.state(i, "VI_1")),
        c.logs()
    );
    let i0 = c.instance(0, "VI_1").unwrap();
    note(
        d,
        &format!("CHAOS|link down|node 0 {} ({})", i0.state, i0.reason),
    );
    let up = Instant::now();
    lab.link_up(0).unwrap();
    c.converge("link up", 0, up);

    // Floods from the forger node (not a had node): garbage, wrong-password
    // v2 adverts at priority 254, v3 adverts at priority 254 with TTL 64.
    // Obeyed, each would move a VIP; each must be dropped and counted.
    let t1 = c.transitions("VI_1");
    let t2 = c.transitions("VI_2");
    let d1: Vec<_> = NODES.iter().map(|&i| c.dropped(i, "VI_1")).collect();
    let d2: Vec<_> = NODES.iter().map(|&i| c.dropped(i, "VI_2")).collect();
    let gap = Duration::from_millis(2);
    let g1 = e2e_support::forge(&lab, FORGER, Forgery::Garbage { vrid: 51 }, 300, gap);
    let g2 = e2e_support::forge(&lab, FORGER, Forgery::Garbage { vrid: 52 }, 300, gap);
    let wrong_pass = Advertisement {
        version: Version::V2,
        vrid: 52,
        priority: 254,
        interval_cs: 100,
        auth: Auth::simple_from_str("wrong"),
        addresses: vec![ip(VIP2)],
    };
    let w = e2e_support::forge(&lab, FORGER, Forgery::Advert(wrong_pass), 300, gap);
    e2e_support::rewrite_vrrp_ttl(&lab, FORGER, 64);
    let low_ttl = Advertisement {
        version: Version::V3,
        vrid: 51,
        priority: 254,
        interval_cs: 10,
        auth: Auth::None,
        addresses: vec![ip(VIP1)],
    };
    let l = e2e_support::forge(&lab, FORGER, Forgery::Advert(low_ttl), 300, gap);
    assert!(
        g1 + g2 + w + l >= 1100,
        "the forger could not send: {g1} {g2} {w} {l}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(c.transitions("VI_1"), t1, "a forged packet moved VI_1");
    assert_eq!(c.transitions("VI_2"), t2, "a forged packet moved VI_2");
    assert!(c.settled("VI_1", VIP1, 0, &[]) && c.settled("VI_2", VIP2, 0, &[]));
    let grew = |before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>, key: &str| {
        let sum = |m: &BTreeMap<String, u64>| -> u64 {
            m.iter()
                .filter(|(k, _)| k.starts_with(key))
                .map(|(_, v)| v)
                .sum()
        };
        sum(after).saturating_sub(sum(before))
    };
    for (n, &i) in NODES.iter().enumerate() {
        let a1 = c.dropped(i, "VI_1");
        let a2 = c.dropped(i, "VI_2");
        let (ttl, auth) = (grew(&d1[n], &a1, "ttl"), grew(&d2[n], &a2, "auth"));
        let (m1, m2) = (
            grew(&d1[n], &a1, "malformed"),
            grew(&d2[n], &a2, "malformed"),
        );
        note(
            d,
            &format!(
                "CHAOS|flood|node {i}: dropped ttl +{ttl} (of {l}), auth +{auth} (of {w}), malformed +{m1}/+{m2} (of {g1}/{g2}); VI_1 {a1:?}; VI_2 {a2:?}"
            ),
        );
        // The LAN is lossless; allow for a socket buffer overflowing under
        // the flood. One-byte garbage carries no VRID and is not attributed.
        assert!(
            ttl * 10 >= l as u64 * 9,
            "node {i}: TTL drops +{ttl} of {l}"
        );
        assert!(
            auth * 10 >= w as u64 * 9,
            "node {i}: auth drops +{auth} of {w}"
        );
        assert!(
            m1 * 2 >= g1 as u64,
            "node {i}: malformed VI_1 +{m1} of {g1}"
        );
        assert!(
            m2 * 2 >= g2 as u64,
            "node {i}: malformed VI_2 +{m2} of {g2}"
        );
    }

    // SIGKILL in the middle of adding VIPs. Add VI_3 (200 VIPs) by SIGHUP;
    // crash node 0, and SIGKILL node 1 while it adds VI_3's VIPs (watched
    // with `ip monitor`); node 2 takes over. Restarting node 1, then node 0,
    // must leave every VIP on exactly one node.
    c.with_vi3 = true;
    for i in NODES {
        std::fs::write(&c.node(i).config, node_toml(d, i, true)).unwrap();
        c.node(i).hup();
    }
    let vi3 = vi3_vips();
    let count_vi3 = |i: usize| -> usize {
        lab.exec(i, &["ip", "-o", "-4", "addr", "show", "dev", "eth0"])
            .map(|out| out.lines().filter(|l| l.contains(" 198.18.1.")).count())
            .unwrap_or(0)
    };
    let reloaded = wait_until(Duration::from_secs(5), || {
        c.state(0, "VI_3") == Some(State::Master)
            && count_vi3(0) == VI3_COUNT
            && count_vi3(1) == 0
            && count_vi3(2) == 0
    });
    assert!(reloaded.is_some(), "VI_3 not added by SIGHUP\n{}", c.logs());
    assert_eq!(
        c.state(0, "VI_1"),
        Some(State::Master),
        "reload disturbed VI_1"
    );

    let pid1 = c.node(1).pid().unwrap();
    let mut monitor = lab.command(1, "ip").unwrap();
    monitor
        .args(["-o", "monitor", "address", "dev", "eth0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut monitor = lab.spawn_command(1, &mut monitor).unwrap();
    let out = monitor.stdout.take().unwrap();
    let fired = Arc::new(AtomicBool::new(false));
    let f = fired.clone();
    let watcher = std::thread::spawn(move || {
        let mut seen = 0;
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if !line.starts_with("Deleted") && line.contains(" 198.18.1.") {
                seen += 1;
                if seen == 20 {
                    signal(pid1, Signal::SIGKILL);
                    f.store(true, Ordering::Relaxed);
                    break;
                }
            }
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    c.nodes[0].as_mut().unwrap().kill();
    c.nodes[0] = None;
    let killed = wait_until(Duration::from_secs(3), || fired.load(Ordering::Relaxed));
    let _ = monitor.kill();
    let _ = monitor.wait();
    let _ = watcher.join();
    assert!(
        killed.is_some(),
        "node 1 never started adding VI_3's VIPs\n{}",
        c.logs()
    );
    c.nodes[1].as_mut().unwrap().kill();
    c.nodes[1] = None;
    let partial = count_vi3(1);
    note(
        d,
        &format!("CHAOS|kill while adding VIPs|node 1 SIGKILLed holding {partial} of {VI3_COUNT}"),
    );
    assert!(
        partial < VI3_COUNT,
        "node 1 was not killed mid-way ({partial})"
    );
    // Node 2 is alone: it takes every instance over.
    assert!(
        wait_until(Duration::from_secs(3), || {
            c.state(2, "VI_1") == Some(State::Master)
                && c.state(2, "VI_3") == Some(State::Master)
                && count_vi3(2) == VI3_COUNT
        })
        .is_some(),
        "node 2 did not take over\n{}",
        c.logs()
    );
    // Node 1 returns: it removes what it left and preempts node 2.
    let t = Instant::now();
    c.start(1);
    // Node 0 (SIGKILLed) still holds its VIPs: look at nodes 1 and 2 only.
    let settled = wait_until(BOUND + MARGIN, || {
        c.state(1, "VI_1") == Some(State::Master)
            && c.state(2, "VI_1") == Some(State::Backup)
            && lab_support::holders(&lab, &[1, 2], ip(VIP1)) == vec![1]
    });
    assert!(settled.is_some(), "node 1 did not preempt\n{}", c.logs());
    assert!(
        wait_until(Duration::from_secs(2), || count_vi3(1) == VI3_COUNT
            && count_vi3(2) == 0)
        .is_some(),
        "VI_3 not moved whole to node 1: node1 {} node2 {}",
        count_vi3(1),
        count_vi3(2)
    );
    note(
        d,
        &format!(
            "CHAOS|kill while adding VIPs|node 1 restarted, master again after {:?}",
            t.elapsed()
        ),
    );
    // Node 0 returns too (its SIGKILL left all of VI_3 behind until now).
    let t = Instant::now();
    c.start(0);
    c.converge("crashed nodes restarted", 0, t);
    let vi3_settled = wait_until(Duration::from_secs(3), || {
        c.state(0, "VI_3") == Some(State::Master)
            && count_vi3(0) == VI3_COUNT
            && count_vi3(1) == 0
            && count_vi3(2) == 0
    });
    assert!(
        vi3_settled.is_some(),
        "VI_3 duplicated: node0 {} node1 {} node2 {}",
        count_vi3(0),
        count_vi3(1),
        count_vi3(2)
    );
    // Every one of VI_3's VIPs on exactly one node.
    let per_node: Vec<String> = NODES
        .iter()
        .map(|&i| {
            lab.exec(i, &["ip", "-o", "-4", "addr", "show", "dev", "eth0"])
                .unwrap()
        })
        .collect();
    for v in &vi3 {
        let needle = format!(" {v}/");
        let n: usize = per_node.iter().map(|o| o.matches(&needle).count()).sum();
        assert_eq!(n, 1, "{v} held {n} times");
    }
    c.assert_no_panic();

    // Graceful stop of every node: no VIP left anywhere.
    for i in NODES {
        let status = c.nodes[i].as_mut().unwrap().terminate();
        assert!(status.success(), "node {i} exit status {status:?}");
    }
    for i in NODES {
        assert_eq!(count_vi3(i), 0, "VI_3 VIPs left on stopped node {i}");
        assert!(!has_vip(&lab, i, ip(VIP1)), "VIP1 left on stopped node {i}");
        assert!(!has_vip(&lab, i, ip(VIP2)), "VIP2 left on stopped node {i}");
    }
    let logs = c.logs();
    assert!(e2e_support::panics(&logs).is_empty(), "panic:\n{logs}");
}

/// Both CPUs saturated by busy loops (bounded): the master keeps the VIP
/// (no spurious takeover), and a crash under load is still taken over.
/// Heavy: run by `cargo xtask chaos-cpu`, not in CI.
#[test]
#[ignore = "saturates every CPU: cargo xtask chaos-cpu"]
fn cpu_saturation() {
    let Some(lab) = Lab::for_test("chaoscpu", 3) else {
        return;
    };
    let secs: u64 = e2e_support::env_knob("CHAOS_CPU_SECS", 10, 2, 120);
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut c = Cluster {
        lab: &lab,
        dir: d,
        nodes: vec![None, None, None],
        with_vi3: false,
    };
    for i in NODES {
        c.start(i);
    }
    c.converge("election", 0, Instant::now());
    let cpus = std::thread::available_parallelism().map_or(2, usize::from);
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(secs + 30);
    let spinners: Vec<_> = (0..cpus * 2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x: u64 = 1;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    for _ in 0..10_000 {
                        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    }
                    std::hint::black_box(x);
                }
            })
        })
        .collect();
    let before = c.transitions("VI_1");
    std::thread::sleep(Duration::from_secs(secs));
    let during = c.transitions("VI_1");
    let holders = c.holders(VIP1);
    note(
        d,
        &format!(
            "CHAOS|cpu saturation|{} busy threads on {cpus} CPUs for {secs} s: VI_1 transitions {before:?} -> {during:?}, holders {holders:?}",
            cpus * 2
        ),
    );
    // Crash under load.
    let t = Instant::now();
    c.nodes[0].as_mut().unwrap().kill();
    c.nodes[0] = None;
    let took = wait_until(Duration::from_secs(5), || {
        c.state(1, "VI_1") == Some(State::Master) && has_vip(&lab, 1, ip(VIP1))
    });
    note(
        d,
        &format!(
            "CHAOS|cpu saturation|crash takeover under load after {} (Master_Down_Interval 365 ms)",
            took.map_or("never".to_owned(), |_| format!(
                "{:.1} ms",
                t.elapsed().as_secs_f64() * 1e3
            ))
        ),
    );
    stop.store(true, Ordering::Relaxed);
    for s in spinners {
        let _ = s.join();
    }
    assert!(took.is_some(), "no takeover under load\n{}", c.logs());
    assert_eq!(during, before, "spurious transitions under CPU load");
    assert_eq!(holders, vec![0]);
    c.assert_no_panic();
}
