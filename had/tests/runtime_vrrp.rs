//! The VRRP thread over an in-memory LAN: no root, no sockets, real time at
//! advert interval 0.1 s (VRRPv3), so takeovers happen within ~0.4 s.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod runtime_support;

use had::plan::{InstancePlan, Tracked, Vip};
use had::runtime::vrrp::{Command, Received, Report, VrrpThread};
use had::status::{Override, State};
use runtime_support::{SharedLan, SimWire};
use tokio::sync::{mpsc, oneshot};
use vrrp_core::packet::IpFamily;

const IFACE: &str = "lan0";

fn vip() -> IpAddr {
    "198.18.0.200".parse().unwrap()
}

fn plan(name: &str, vrid: u8, priority: u8, group: Option<&str>) -> InstancePlan {
    let mut core =
        vrrp_core::InstanceConfig::new(vrid, "0.0.0.0".parse().unwrap(), vec![vip_for(vrid)]);
    core.priority = priority;
    core.advert_interval_cs = 10;
    InstancePlan {
        name: name.into(),
        interface: IFACE.into(),
        family: IpFamily::V4,
        core,
        vips: vec![Vip {
            addr: vip_for(vrid),
            prefix_len: 24,
            label: None,
            dev: None,
        }],
        unicast_src: None,
        unicast_peers: vec![],
        garp: vip_netlink::GarpConfig {
            master_delay: Duration::ZERO,
            master_repeat: 2,
            ..vip_netlink::GarpConfig::default()
        },
        track_checks: vec![Tracked {
            name: "chk".into(),
            weight: -20,
            reverse: false,
        }],
        track_interfaces: vec![],
        notify: health::NotifyScripts::default(),
        sync_group: group.map(Into::into),
    }
}

fn vip_for(vrid: u8) -> IpAddr {
    if vrid == 51 {
        vip()
    } else {
        IpAddr::from([198, 18, 0, vrid])
    }
}

struct Node {
    vrrp: VrrpThread,
    reports: mpsc::UnboundedReceiver<Report>,
    /// Feeds link changes as the kernel's link watch would.
    links: mpsc::UnboundedSender<(String, bool)>,
}

fn start(lan: &SharedLan, node: usize, plans: Vec<InstancePlan>) -> Node {
    let (tx, reports) = mpsc::unbounded_channel();
    let lan2 = lan.clone();
    let primary = IpAddr::from([198, 18, 0, 10 + node as u8]);
    let (links, links_rx) = mpsc::unbounded_channel();
    let vrrp = VrrpThread::spawn(
        move || {
            Ok(SimWire {
                node,
                primary,
                lan: lan2,
                links: Some(links_rx),
            })
        },
        plans,
        false,
        tx,
    )
    .unwrap();
    Node {
        vrrp,
        reports,
        links,
    }
}

fn state(n: &Node, name: &str) -> State {
    n.vrrp
        .status()
        .into_iter()
        .find(|i| i.name == name)
        .map_or(State::Init, |i| i.state)
}

async fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    t0.elapsed()
}

fn holders(lan: &SharedLan, addr: IpAddr) -> Vec<usize> {
    lan.lock()
        .unwrap()
        .vips
        .iter()
        .filter(|(_, set)| set.contains(&addr))
        .map(|(n, _)| *n)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_elect_fail_over_preempt_and_hand_over() {
    let lan: SharedLan = Arc::default();
    let a = start(&lan, 1, vec![plan("VI_1", 51, 100, None)]);
    let b = start(&lan, 2, vec![plan("VI_1", 51, 90, None)]);

    // Priority 100 wins; the VIP is only on the master.
    wait_for("A master", Duration::from_secs(3), || {
        state(&a, "VI_1") == State::Master && state(&b, "VI_1") == State::Backup
    })
    .await;
    assert_eq!(holders(&lan, vip()), vec![1]);
    assert!(
        lan.lock().unwrap().announcements[&1] >= 2,
        "GARP burst of repeat=2"
    );
    wait_for("B knows its master", Duration::from_secs(1), || {
        let st = b.vrrp.status();
        st[0].master == Some(IpAddr::from([198, 18, 0, 11]))
            && st[0].master_priority == Some(100)
            && st[0].adverts.received > 0
    })
    .await;

    // A crashes (silent): B takes over within Master_Down_Interval
    // (3 × 0.1 s + (256 − 90)/256 × 0.1 s ≈ 0.365 s) plus scheduling slack.
    lan.lock().unwrap().isolated.insert(1);
    let took = wait_for("B master after A silent", Duration::from_secs(2), || {
        state(&b, "VI_1") == State::Master
    })
    .await;
    assert!(took < Duration::from_millis(700), "takeover took {took:?}");
    assert!(holders(&lan, vip()).contains(&2));

    // A comes back with the higher priority and preempts.
    lan.lock().unwrap().isolated.remove(&1);
    wait_for("A preempts", Duration::from_secs(2), || {
        state(&a, "VI_1") == State::Master && state(&b, "VI_1") == State::Backup
    })
    .await;
    wait_for("VIP only on A", Duration::from_secs(1), || {
        holders(&lan, vip()) == vec![1]
    })
    .await;

    // A failing check with weight −20 drops A to 80 < 90: B preempts at once.
    a.vrrp.send(Command::Check {
        name: "chk".into(),
        healthy: false,
        value: None,
    });
    wait_for(
        "B preempts after A's check fails",
        Duration::from_secs(2),
        || state(&b, "VI_1") == State::Master && state(&a, "VI_1") == State::Backup,
    )
    .await;
    assert_eq!(a.vrrp.status()[0].effective_priority, 80);
    a.vrrp.send(Command::Check {
        name: "chk".into(),
        healthy: true,
        value: None,
    });
    wait_for("A back", Duration::from_secs(2), || {
        state(&a, "VI_1") == State::Master
    })
    .await;

    // Operator demote: priority 1 until cleared.
    let (tx, rx) = oneshot::channel();
    a.vrrp.send(Command::Override {
        instance: "VI_1".into(),
        value: Some(Override::Demoted),
        reply: tx,
    });
    assert_eq!(rx.await.unwrap(), Ok(1));
    wait_for(
        "B master, A backup after demote",
        Duration::from_secs(2),
        || state(&b, "VI_1") == State::Master && state(&a, "VI_1") == State::Backup,
    )
    .await;
    let (tx, rx) = oneshot::channel();
    a.vrrp.send(Command::Override {
        instance: "VI_9".into(),
        value: None,
        reply: tx,
    });
    assert!(rx.await.unwrap().is_err());
    let (tx, rx) = oneshot::channel();
    a.vrrp.send(Command::Override {
        instance: "VI_1".into(),
        value: None,
        reply: tx,
    });
    assert_eq!(rx.await.unwrap(), Ok(100));
    wait_for("A back after clear", Duration::from_secs(2), || {
        state(&a, "VI_1") == State::Master
    })
    .await;

    // Graceful stop of the master: priority 0, B takes over within Skew_Time
    // (≈ 0.065 s at priority 90) plus slack, and A's VIP is gone.
    let t0 = Instant::now();
    a.vrrp.shutdown().await;
    assert!(!holders(&lan, vip()).contains(&1));
    wait_for(
        "B master after graceful stop",
        Duration::from_secs(2),
        || state(&b, "VI_1") == State::Master,
    )
    .await;
    assert!(
        t0.elapsed() < Duration::from_millis(300),
        "{:?}",
        t0.elapsed()
    );

    // Reports carried every change for events and notify hooks.
    let mut reports = a.reports;
    let mut to_master = 0;
    while let Ok(r) = reports.try_recv() {
        if let Report::State {
            to: State::Master, ..
        } = r
        {
            to_master += 1;
        }
    }
    assert!(to_master >= 3, "A became master {to_master} times");
    b.vrrp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_group_faults_together_and_reload_keeps_state() {
    let lan: SharedLan = Arc::default();
    let mut p1 = plan("VI_1", 51, 100, Some("G"));
    let mut p2 = plan("VI_2", 52, 100, Some("G"));
    p1.track_checks = vec![Tracked {
        name: "chk".into(),
        weight: 0,
        reverse: false,
    }];
    p2.track_checks = vec![];
    let a = start(&lan, 1, vec![p1.clone(), p2.clone()]);
    wait_for("both master", Duration::from_secs(3), || {
        state(&a, "VI_1") == State::Master && state(&a, "VI_2") == State::Master
    })
    .await;

    // A weight-0 check failing puts VI_1 in FAULT, and the group follows.
    a.vrrp.send(Command::Check {
        name: "chk".into(),
        healthy: false,
        value: None,
    });
    wait_for("group FAULT", Duration::from_secs(2), || {
        state(&a, "VI_1") == State::Fault && state(&a, "VI_2") == State::Fault
    })
    .await;
    assert!(holders(&lan, vip()).is_empty());
    a.vrrp.send(Command::Check {
        name: "chk".into(),
        healthy: true,
        value: None,
    });
    wait_for("group back", Duration::from_secs(3), || {
        state(&a, "VI_1") == State::Master && state(&a, "VI_2") == State::Master
    })
    .await;

    // The instance's own interface going down is a FAULT too (link watch).
    a.links.send((IFACE.into(), false)).unwrap();
    wait_for("FAULT on link down", Duration::from_secs(2), || {
        state(&a, "VI_1") == State::Fault && state(&a, "VI_2") == State::Fault
    })
    .await;
    a.links.send((IFACE.into(), true)).unwrap();
    wait_for("back after link up", Duration::from_secs(3), || {
        state(&a, "VI_1") == State::Master && state(&a, "VI_2") == State::Master
    })
    .await;

    // Reload: VI_1 changes only its priority (kept, no flap); VI_2 changes
    // VRID (restarted); VI_3 is new.
    let transitions_before = a.vrrp.status()[0].transitions;
    let mut p1b = p1.clone();
    p1b.core.priority = 120;
    let p2b = plan("VI_2", 53, 100, Some("G"));
    let p3 = plan("VI_3", 54, 100, None);
    let (tx, rx) = oneshot::channel();
    a.vrrp.send(Command::Reload {
        instances: vec![p1b, p2b, p3],
        reply: tx,
    });
    let msg = rx.await.unwrap();
    assert_eq!(
        msg,
        "VRRP: 1 kept, 0 reconfigured as MASTER, 1 stopped, 2 started"
    );
    let st = a.vrrp.status();
    let vi1 = st.iter().find(|i| i.name == "VI_1").unwrap();
    assert_eq!(vi1.state, State::Master);
    assert_eq!(vi1.transitions, transitions_before, "no flap");
    assert_eq!(vi1.effective_priority, 120);
    assert!(holders(&lan, vip()).contains(&1));
    wait_for("VI_3 master", Duration::from_secs(3), || {
        state(&a, "VI_3") == State::Master
    })
    .await;
    a.vrrp.shutdown().await;
    assert!(
        lan.lock().unwrap().vips[&1].is_empty(),
        "every VIP removed at stop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_packets_are_counted_not_obeyed() {
    let lan: SharedLan = Arc::default();
    let a = start(&lan, 1, vec![plan("VI_1", 51, 100, None)]);
    wait_for("A master", Duration::from_secs(3), || {
        state(&a, "VI_1") == State::Master
    })
    .await;
    let sink = lan.lock().unwrap().listeners[0].1.clone();
    let src: IpAddr = "198.18.0.99".parse().unwrap();
    let dst: IpAddr = "224.0.0.18".parse().unwrap();
    // A VRRPv2 advert at priority 200 for our VRID: wrong version, ignored.
    let v2 = vrrp_core::Advertisement {
        version: vrrp_core::Version::V2,
        vrid: 51,
        priority: 200,
        interval_cs: 100,
        auth: vrrp_core::Auth::None,
        addresses: vec![vip()],
    };
    let mut buf = vec![0u8; v2.encoded_len()];
    let n = v2.encode(src, dst, &mut buf).unwrap();
    for _ in 0..3 {
        sink.send(Received {
            interface: IFACE.into(),
            src,
            dst,
            ttl: 255,
            payload: buf[..n].to_vec(),
        })
        .unwrap();
    }
    // Garbage with our VRID: malformed.
    sink.send(Received {
        interface: IFACE.into(),
        src,
        dst,
        ttl: 255,
        payload: vec![0x31, 51, 200],
    })
    .unwrap();
    wait_for("drops counted", Duration::from_secs(2), || {
        let s = &a.vrrp.status()[0];
        s.adverts.dropped.get("version") == Some(&3)
            && s.adverts.dropped.keys().any(|k| k.starts_with("malformed"))
    })
    .await;
    assert_eq!(state(&a, "VI_1"), State::Master);
    a.vrrp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_interface_is_missing_shows_fault_and_starts_later() {
    let lan: SharedLan = Arc::default();
    lan.lock().unwrap().missing_interfaces.insert(IFACE.into());
    let a = start(&lan, 1, vec![plan("VI_1", 51, 100, None)]);
    wait_for(
        "FAULT while the interface is missing",
        Duration::from_secs(2),
        || {
            a.vrrp
                .status()
                .first()
                .is_some_and(|i| i.state == State::Fault && i.reason.contains("no such interface"))
        },
    )
    .await;
    let (tx, rx) = oneshot::channel();
    a.vrrp.send(Command::Override {
        instance: "VI_1".into(),
        value: Some(Override::Demoted),
        reply: tx,
    });
    let e = rx.await.unwrap().unwrap_err();
    assert!(e.contains("not running"), "{e}");
    // The interface appears: the link watch says so and the instance starts.
    lan.lock().unwrap().missing_interfaces.clear();
    a.links.send((IFACE.into(), true)).unwrap();
    wait_for(
        "master once the interface exists",
        Duration::from_secs(3),
        || state(&a, "VI_1") == State::Master,
    )
    .await;
    a.vrrp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_reconfigured_on_reload_keeps_the_vip_and_no_peer_takes_over() {
    let lan: SharedLan = Arc::default();
    let a = start(&lan, 1, vec![plan("VI_1", 51, 100, None)]);
    let b = start(&lan, 2, vec![plan("VI_1", 51, 90, None)]);
    wait_for("A master", Duration::from_secs(3), || {
        state(&a, "VI_1") == State::Master && state(&b, "VI_1") == State::Backup
    })
    .await;
    let extra: IpAddr = "198.18.0.201".parse().unwrap();
    // Same identity, one more VIP: the state machine is rebuilt.
    let mut p = plan("VI_1", 51, 100, None);
    p.core.virtual_addresses.push(extra);
    p.vips.push(Vip {
        addr: extra,
        prefix_len: 24,
        label: None,
        dev: None,
    });
    let b_before = b.vrrp.status()[0].transitions;
    let (tx, rx) = oneshot::channel();
    a.vrrp.send(Command::Reload {
        instances: vec![p.clone()],
        reply: tx,
    });
    assert_eq!(
        rx.await.unwrap(),
        "VRRP: 0 kept, 1 reconfigured as MASTER, 0 stopped, 0 started"
    );
    // For a full second: the first VIP never leaves A, B never takes over.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(1) {
        assert_eq!(holders(&lan, vip()), vec![1], "VIP held by A throughout");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(b.vrrp.status()[0].transitions, b_before, "B never moved");
    assert_eq!(state(&a, "VI_1"), State::Master);
    assert_eq!(holders(&lan, extra), vec![1], "the new VIP is added");

    // Drop the first VIP: removed from the interface, A stays master.
    p.core.virtual_addresses.retain(|a| *a == extra);
    p.vips.retain(|v| v.addr == extra);
    let (tx, rx) = oneshot::channel();
    a.vrrp.send(Command::Reload {
        instances: vec![p],
        reply: tx,
    });
    rx.await.unwrap();
    assert!(
        holders(&lan, vip()).is_empty(),
        "a VIP no longer configured is removed"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(state(&a, "VI_1"), State::Master);
    assert_eq!(b.vrrp.status()[0].transitions, b_before);
    a.vrrp.shutdown().await;
    b.vrrp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_group_member_becoming_master_takes_the_group_along() {
    let lan: SharedLan = Arc::default();
    let p1 = plan("VI_1", 51, 100, Some("G"));
    // Alone, VI_2 would wait its own Master_Down_Interval: 3 × 3 s + skew.
    let mut p2 = plan("VI_2", 52, 100, Some("G"));
    p2.core.advert_interval_cs = 300;
    let a = start(&lan, 1, vec![p1, p2]);
    wait_for("VI_1 master", Duration::from_secs(3), || {
        state(&a, "VI_1") == State::Master
    })
    .await;
    // Well before its own timer (> 9 s) could have fired.
    wait_for("VI_2 follows", Duration::from_secs(2), || {
        state(&a, "VI_2") == State::Master
    })
    .await;
    let st = a.vrrp.status();
    let vi2 = st.iter().find(|i| i.name == "VI_2").unwrap();
    assert_eq!(vi2.reason, "sync group member VI_1 became MASTER");
    assert!(holders(&lan, vip_for(52)).contains(&1));
    a.vrrp.shutdown().await;
}
