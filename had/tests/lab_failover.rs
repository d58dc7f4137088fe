//! Two had nodes in the network lab (root; skipped with a message otherwise,
//! a failure under CI=true): election, crash takeover within the RFC bound,
//! preemption, graceful hand-over within Skew_Time, and packets with a wrong
//! password or version ignored and counted.

mod e2e_support;
mod lab_support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use e2e_support::Forgery;
use had::control::Request;
use had::status::State;
use lab_support::{HadNode, had_toml, holders, note, wait_until};
use vip_netlink::lab::Lab;
use vrrp_core::{Version, master_down_interval, skew_time};

const VIP: &str = "198.18.0.200";

fn vip() -> IpAddr {
    VIP.parse().unwrap()
}

fn instance_v3(priority: u8) -> String {
    format!(
        "[vrrp_instance.VI_1]\nstate = \"BACKUP\"\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
         priority = {priority}\nadvert_int = 0.1\nversion = 3\nvirtual_ipaddress = [\"{VIP}/24\"]\n"
    )
}

fn instance_v2(priority: u8, pass: &str, version: u8) -> String {
    let auth = if version == 2 {
        format!("authentication = {{ auth_type = \"PASS\", auth_pass = \"{pass}\" }}\n")
    } else {
        String::new()
    };
    format!(
        "[vrrp_instance.VI_1]\nstate = \"BACKUP\"\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
         priority = {priority}\nadvert_int = 1\nversion = {version}\n{auth}virtual_ipaddress = [\"{VIP}/24\"]\n"
    )
}

/// Scheduling and polling slack allowed on top of the RFC bounds in CI.
const SLACK: Duration = Duration::from_millis(150);

#[test]
fn v3_fast_adverts_crash_preempt_and_graceful_handover() {
    let Some(lab) = Lab::for_test("hadv3", 2) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut n0 = HadNode::start(&lab, d, 0, &had_toml(d, 0, &instance_v3(100)));
    let n1 = HadNode::start(&lab, d, 1, &had_toml(d, 1, &instance_v3(90)));

    let elected = wait_until(Duration::from_secs(5), || {
        n0.state("VI_1") == Some(State::Master) && n1.state("VI_1") == Some(State::Backup)
    });
    assert!(
        elected.is_some(),
        "no election:\n{}\n{}",
        n0.log_text(),
        n1.log_text()
    );
    assert!(
        wait_until(Duration::from_secs(2), || holders(&lab, &[0, 1], vip())
            == vec![0])
        .is_some(),
        "VIP must be on the master only"
    );
    let st = n1.status().unwrap();
    let i = st.instance("VI_1").unwrap();
    assert_eq!(i.master, Some(IpAddr::V4(lab.node(0).ipv4)));
    assert!(i.adverts.received > 0);

    // Crash: the backup takes over within Master_Down_Interval (RFC 5798 §6.4.2).
    let bound = master_down_interval(Version::V3, 90, 10).total();
    n0.kill();
    let t0 = Instant::now();
    let took = wait_until(Duration::from_secs(3), || {
        n1.state("VI_1") == Some(State::Master)
    });
    let took = took.expect("backup never took over");
    note(
        d,
        &format!("v3 0.1 s crash takeover: {took:?} (bound {bound:?})"),
    );
    assert!(
        took <= bound + SLACK,
        "takeover {took:?} > bound {bound:?} + slack"
    );
    assert!(
        wait_until(Duration::from_secs(1), || lab_support::has_vip(
            &lab,
            1,
            vip()
        ))
        .is_some(),
        "VIP added on the new master"
    );
    let _ = t0;

    // The SIGKILL left n0's VIP on its interface: a duplicate on the LAN.
    // A had starting there (as a low-priority backup) removes it at once.
    assert!(
        lab_support::has_vip(&lab, 0, vip()),
        "SIGKILL leaves the VIP behind"
    );
    let mut low = HadNode::start(&lab, d, 0, &had_toml(d, 0, &instance_v3(50)));
    assert!(
        wait_until(Duration::from_secs(2), || !lab_support::has_vip(
            &lab,
            0,
            vip()
        ))
        .is_some(),
        "leftover VIP removed at start"
    );
    assert_eq!(low.state("VI_1"), Some(State::Backup));
    low.kill();

    // n0 returns with the higher priority and preempts.
    let n0b = HadNode::start(&lab, d, 0, &had_toml(d, 0, &instance_v3(100)));
    let t0 = Instant::now();
    let back = wait_until(Duration::from_secs(3), || {
        n0b.state("VI_1") == Some(State::Master) && n1.state("VI_1") == Some(State::Backup)
    });
    assert!(back.is_some(), "no preemption:\n{}", n0b.log_text());
    note(
        d,
        &format!("v3 0.1 s preemption after restart: {:?}", t0.elapsed()),
    );
    assert!(
        wait_until(Duration::from_secs(2), || holders(&lab, &[0, 1], vip())
            == vec![0])
        .is_some(),
        "VIP only on the preempting master"
    );
    drop(n0);

    // Operator demote moves the VIP; clear brings it back.
    assert!(
        n0b.call(&Request::Demote {
            instance: "VI_1".into()
        })
        .ok
    );
    assert!(
        wait_until(Duration::from_secs(2), || n1.state("VI_1")
            == Some(State::Master))
        .is_some()
    );
    assert!(
        n0b.call(&Request::Clear {
            instance: "VI_1".into()
        })
        .ok
    );
    assert!(
        wait_until(Duration::from_secs(2), || n0b.state("VI_1")
            == Some(State::Master))
        .is_some()
    );
    assert!(
        wait_until(Duration::from_secs(2), || n1.state("VI_1")
            == Some(State::Backup))
        .is_some()
    );
    std::thread::sleep(Duration::from_millis(300));

    // Graceful stop: priority 0, the backup takes over within Skew_Time.
    let mut n0b = n0b;
    let skew = skew_time(Version::V3, 90, 10);
    let t0 = Instant::now();
    let pid = n0b.pid().unwrap();
    lab_support::signal(pid, nix::sys::signal::Signal::SIGTERM);
    let took = wait_until(Duration::from_secs(2), || {
        n1.state("VI_1") == Some(State::Master)
    })
    .expect("no hand-over");
    note(
        d,
        &format!("v3 0.1 s graceful hand-over: {took:?} (Skew_Time {skew:?})"),
    );
    assert!(
        took <= skew + SLACK,
        "hand-over {took:?} > Skew_Time {skew:?} + slack"
    );
    let status = n0b.terminate();
    assert!(status.success(), "had exit status {status:?}");
    assert!(!lab_support::has_vip(&lab, 0, vip()), "VIP removed at stop");
    let _ = t0;
}

#[test]
fn v2_pass_auth_ignores_and_counts_wrong_password_and_version() {
    let Some(lab) = Lab::for_test("hadv2", 3) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut n0 = HadNode::start(&lab, d, 0, &had_toml(d, 0, &instance_v2(100, "secret", 2)));
    let n1 = HadNode::start(&lab, d, 1, &had_toml(d, 1, &instance_v2(90, "secret", 2)));
    assert!(
        wait_until(Duration::from_secs(8), || {
            n0.state("VI_1") == Some(State::Master) && n1.state("VI_1") == Some(State::Backup)
        })
        .is_some(),
        "no election:\n{}",
        n0.log_text()
    );
    assert_eq!(holders(&lab, &[0, 1], vip()), vec![0]);

    // A node with priority 200 but the wrong password: obeyed, it would take
    // the VIP; it must be ignored (RFC 3768 §7.1) and counted.
    let mut intruder = HadNode::start(&lab, d, 2, &had_toml(d, 2, &instance_v2(200, "wrong", 2)));
    let counted = wait_until(Duration::from_secs(8), || {
        let auth = |n: &HadNode| {
            n.status()
                .and_then(|s| {
                    s.instance("VI_1")
                        .map(|i| i.adverts.dropped.get("auth").copied())
                })
                .flatten()
                .unwrap_or(0)
        };
        auth(&n0) >= 2 && auth(&n1) >= 2
    });
    assert!(
        counted.is_some(),
        "wrong-password adverts not counted: {:?}",
        n1.status()
    );
    assert_eq!(n0.state("VI_1"), Some(State::Master));
    assert_eq!(n1.state("VI_1"), Some(State::Backup));
    intruder.kill();

    // The same with VRRPv3 adverts at priority 200: another version, ignored.
    let mut intruder = HadNode::start(&lab, d, 2, &had_toml(d, 2, &instance_v2(200, "", 3)));
    let counted = wait_until(Duration::from_secs(8), || {
        n1.status()
            .and_then(|s| {
                s.instance("VI_1")
                    .map(|i| i.adverts.dropped.get("version").copied())
            })
            .flatten()
            .unwrap_or(0)
            >= 2
    });
    assert!(
        counted.is_some(),
        "wrong-version adverts not counted: {:?}",
        n1.status()
    );
    assert_eq!(n0.state("VI_1"), Some(State::Master));
    assert_eq!(n1.state("VI_1"), Some(State::Backup));
    intruder.kill();
    // The intruder (killed) left the VIP on node 2: clean it so the check
    // below only looks at the pair.
    let _ = lab.exec(
        2,
        &["ip", "addr", "del", &format!("{VIP}/24"), "dev", "eth0"],
    );

    // Graceful stop hands over within Skew_Time (v2, 1 s: 0.648 s at 90).
    let skew = skew_time(Version::V2, 90, 100);
    let pid = n0.pid().unwrap();
    lab_support::signal(pid, nix::sys::signal::Signal::SIGTERM);
    let took = wait_until(Duration::from_secs(4), || {
        n1.state("VI_1") == Some(State::Master)
    })
    .expect("no hand-over");
    note(
        d,
        &format!("v2 1 s graceful hand-over: {took:?} (Skew_Time {skew:?})"),
    );
    assert!(
        took <= skew + SLACK,
        "hand-over {took:?} > Skew_Time {skew:?} + slack"
    );
    assert!(n0.terminate().success());
    assert_eq!(holders(&lab, &[0, 1], vip()), vec![1]);
}

#[test]
fn v3_unicast_peers_elect_and_fail_over() {
    // Node 2 is not a peer: it only forges adverts.
    let Some(lab) = Lab::for_test("hadunicast", 3) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let conf = |me: usize, peer: usize, priority: u8| {
        format!(
            "{}unicast_src_ip = \"{}\"\nunicast_peer = [\"{}\"]\n",
            instance_v3(priority),
            lab.node(me).ipv4,
            lab.node(peer).ipv4
        )
    };
    let mut n0 = HadNode::start(&lab, d, 0, &had_toml(d, 0, &conf(0, 1, 100)));
    let n1 = HadNode::start(&lab, d, 1, &had_toml(d, 1, &conf(1, 0, 90)));
    assert!(
        wait_until(Duration::from_secs(5), || {
            n0.state("VI_1") == Some(State::Master) && n1.state("VI_1") == Some(State::Backup)
        })
        .is_some(),
        "no unicast election:\n{}\n{}",
        n0.log_text(),
        n1.log_text()
    );
    let heard = wait_until(Duration::from_secs(2), || {
        n1.status()
            .and_then(|s| s.instance("VI_1").map(|i| i.adverts.received > 3))
            .unwrap_or(false)
    });
    assert!(heard.is_some(), "unicast adverts received");
    // Priority-254 adverts sent straight to node 1 from a node that is not
    // its peer: obeyed, they would silence node 0. Node 1's socket drops
    // them, and `hactl status` counts them (socket_not_peer).
    let forged = e2e_support::forge_to(
        &lab,
        2,
        Some(IpAddr::V4(lab.node(1).ipv4)),
        Forgery::Advert(vrrp_core::Advertisement {
            version: Version::V3,
            vrid: 51,
            priority: 254,
            interval_cs: 10,
            auth: vrrp_core::Auth::None,
            addresses: vec![vip()],
        }),
        100,
        Duration::from_millis(2),
    );
    assert!(forged >= 90, "the forger could not send: {forged}");
    let not_peer = || {
        n1.status()
            .and_then(|s| {
                s.instance("VI_1")
                    .and_then(|i| i.adverts.dropped.get("socket_not_peer").copied())
            })
            .unwrap_or(0)
    };
    assert!(
        wait_until(Duration::from_secs(2), || not_peer()
            >= forged as u64 * 9 / 10)
        .is_some(),
        "socket drops not shown: {} of {forged}: {:?}",
        not_peer(),
        n1.status()
    );
    let before = n1.status().unwrap().instance("VI_1").unwrap().clone();
    assert_eq!(before.state, State::Backup, "{before:?}\n{}", n1.log_text());
    assert_eq!(
        before.transitions,
        1,
        "no flapping: {before:?}\n{}",
        n1.log_text()
    );
    let bound = master_down_interval(Version::V3, 90, 10).total();
    let k0 = Instant::now();
    n0.kill();
    wait_until(Duration::from_secs(3), || {
        n1.state("VI_1") == Some(State::Master)
    })
    .expect("unicast takeover");
    let took = k0.elapsed();
    note(
        d,
        &format!("v3 0.1 s unicast crash takeover: {took:?} (bound {bound:?})"),
    );
    assert!(
        took <= bound + SLACK,
        "takeover {took:?} > {bound:?} + slack"
    );
    // The last advert left at most one interval (0.1 s) before the kill: a
    // takeover earlier than that would mean the backup was not listening.
    assert!(
        took + Duration::from_millis(130) >= bound,
        "premature takeover {took:?}"
    );
}

#[test]
fn three_nodes_partition_heal_and_link_down() {
    let Some(lab) = Lab::for_test("had3", 3) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let nodes: Vec<HadNode> = [100u8, 90, 80]
        .iter()
        .enumerate()
        .map(|(i, p)| HadNode::start(&lab, d, i, &had_toml(d, i, &instance_v3(*p))))
        .collect();
    let states = || -> Vec<Option<State>> { nodes.iter().map(|n| n.state("VI_1")).collect() };
    let one_master_n0 = || {
        states()
            == vec![
                Some(State::Master),
                Some(State::Backup),
                Some(State::Backup),
            ]
            && holders(&lab, &[0, 1, 2], vip()) == vec![0]
    };
    assert!(
        wait_until(Duration::from_secs(5), one_master_n0).is_some(),
        "no election: {:?}",
        states()
    );

    // Partition: each segment elects its own master.
    lab.partition(&[0], &[1, 2]).unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || {
            states()
                == vec![
                    Some(State::Master),
                    Some(State::Master),
                    Some(State::Backup),
                ]
        })
        .is_some(),
        "each side of the partition has a master: {:?}",
        states()
    );
    // Heal: the lower-priority master hears 100 and steps down.
    lab.heal().unwrap();
    let healed = wait_until(Duration::from_secs(3), one_master_n0);
    assert!(
        healed.is_some(),
        "no convergence after heal: {:?}",
        states()
    );
    note(
        d,
        &format!(
            "3 nodes: one master {:?} after heal",
            healed.unwrap_or_default()
        ),
    );

    // The master's own link goes down: FAULT (link watch), VIP moves.
    lab.link_down(0).unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || {
            nodes[0].state("VI_1") == Some(State::Fault)
                && nodes[1].state("VI_1") == Some(State::Master)
        })
        .is_some(),
        "FAULT on link down: {:?}\n{}",
        states(),
        nodes[0].log_text()
    );
    assert!(
        !lab_support::has_vip(&lab, 0, vip()),
        "a FAULT node holds no VIP"
    );
    lab.link_up(0).unwrap();
    assert!(
        wait_until(Duration::from_secs(3), one_master_n0).is_some(),
        "back to one master after link up: {:?}",
        states()
    );

    // SIGHUP with a new priority and one more VIP on the master: no peer
    // ever takes over, the first VIP never leaves it, the new one arrives.
    std::thread::sleep(Duration::from_millis(500));
    let extra: IpAddr = "198.18.0.201".parse().unwrap();
    let conf = instance_v3(110).replace(
        &format!("[\"{VIP}/24\"]"),
        &format!("[\"{VIP}/24\", \"{extra}/24\"]"),
    );
    std::fs::write(&nodes[0].config, had_toml(d, 0, &conf)).unwrap();
    let peers_before: Vec<u64> = nodes[1..]
        .iter()
        .map(|n| n.status().unwrap().instance("VI_1").unwrap().transitions)
        .collect();
    nodes[0].hup();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(1) {
        assert_eq!(
            holders(&lab, &[0, 1, 2], vip()),
            vec![0],
            "VIP stays on the master"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let peers_after: Vec<u64> = nodes[1..]
        .iter()
        .map(|n| n.status().unwrap().instance("VI_1").unwrap().transitions)
        .collect();
    assert_eq!(peers_before, peers_after, "no peer moved during the reload");
    let st = nodes[0].status().unwrap();
    assert_eq!(st.reloads, 1);
    let i = st.instance("VI_1").unwrap();
    assert_eq!((i.state, i.priority), (State::Master, 110));
    assert!(lab_support::has_vip(&lab, 0, extra), "new VIP added");
}
