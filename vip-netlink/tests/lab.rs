//! The lab itself: addresses, reachability, fault knobs and teardown.

use std::net::{IpAddr, SocketAddr, SocketAddrV6, TcpStream};
use std::time::{Duration, Instant};
use vip_netlink::lab::{self, Lab};

/// Namespaces named `prefix…`, as `ip netns list` (not the lab's own
/// listing) reports them.
fn namespaces_with(prefix: &str) -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// Whether node `from` can reach `to`: a TCP connection attempt to a closed
/// port (9, discard) is answered by a reset when the path works, and times
/// out or fails with "unreachable" when it does not. No tool needed (a
/// fresh CI machine may lack ping).
fn answers(lab: &Lab, from: usize, to: IpAddr, timeout: Duration) -> bool {
    lab.run_in(from, move || {
        let addr = match to {
            IpAddr::V6(v6) if v6.is_unicast_link_local() => {
                let ifindex = nix::net::if_::if_nametoindex("eth0").unwrap();
                SocketAddr::V6(SocketAddrV6::new(v6, 9, 0, ifindex))
            }
            other => SocketAddr::new(other, 9),
        };
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        }
    })
    .unwrap()
}

/// Reachable within 3 s, trying again after failures: a neighbour entry
/// left FAILED by a partition makes the first tries fail at once.
fn ping(lab: &Lab, from: usize, to: impl Into<IpAddr>) -> bool {
    let to = to.into();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if answers(lab, from, to, Duration::from_secs(1)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Not reachable: no answer within 1 s.
fn silent(lab: &Lab, from: usize, to: impl Into<IpAddr>) -> bool {
    !answers(lab, from, to.into(), Duration::from_secs(1))
}

#[test]
fn nodes_reach_each_other_over_ipv4_ipv6_and_link_local() {
    let Some(lab) = Lab::for_test("reach", 3) else {
        return;
    };
    for node in lab.nodes() {
        let addrs = lab.exec(node.index, &["ip", "-o", "addr", "show"]).unwrap();
        assert!(addrs.contains(&format!("{}/24", node.ipv4)), "{addrs}");
        assert!(addrs.contains(&format!("{}/64", node.ipv6)), "{addrs}");
        assert!(
            addrs.contains(&format!("{}/64", node.ipv6_link_local)),
            "{addrs}"
        );
        assert!(addrs.contains("lo    inet 127.0.0.1/8"), "{addrs}");
        assert!(node.ifname.len() <= 15);
    }
    assert_eq!(lab.node(0).ipv4.to_string(), "198.18.0.11");
    assert_eq!(lab.node(2).ipv6.to_string(), "2001:db8::13");
    assert!(ping(&lab, 0, lab.node(1).ipv4));
    assert!(ping(&lab, 2, lab.node(0).ipv6));
    assert!(ping(&lab, 0, lab.node(1).ipv6_link_local));
    // An address nobody holds does not answer (the check can fail).
    assert!(silent(&lab, 0, std::net::Ipv4Addr::new(198, 18, 0, 99)));
    // The host never sees the lab's interfaces.
    let host = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap();
    let host = String::from_utf8_lossy(&host.stdout);
    assert!(!host.contains(lab.prefix()), "{host}");
}

#[test]
fn link_down_up_and_carrier() {
    let Some(lab) = Lab::for_test("link", 2) else {
        return;
    };
    let peer = lab.node(1).ipv4;
    lab.link_down(0).unwrap();
    assert!(silent(&lab, 0, peer));
    lab.link_up(0).unwrap();
    // IPv6 addresses survive a down/up (keep_addr_on_down).
    let addrs = lab
        .exec(0, &["ip", "-o", "addr", "show", "dev", "eth0"])
        .unwrap();
    assert!(addrs.contains("2001:db8::11/64"), "{addrs}");
    assert!(ping(&lab, 0, peer));
    lab.carrier_down(0).unwrap();
    let link = lab
        .exec(0, &["ip", "-o", "link", "show", "dev", "eth0"])
        .unwrap();
    assert!(link.contains("NO-CARRIER"), "{link}");
    lab.carrier_up(0).unwrap();
    assert!(ping(&lab, 0, peer));
}

#[test]
fn partition_and_heal() {
    let Some(lab) = Lab::for_test("part", 3) else {
        return;
    };
    let ip = |i: usize| lab.node(i).ipv4;
    lab.partition(&[0], &[1, 2]).unwrap();
    assert!(silent(&lab, 0, ip(1)));
    assert!(silent(&lab, 0, ip(2)));
    assert!(ping(&lab, 1, ip(2)));
    lab.heal().unwrap();
    assert!(ping(&lab, 0, ip(1)));
    assert!(ping(&lab, 0, ip(2)));
    assert!(
        lab.partition(&[0, 1], &[1]).is_err(),
        "overlap must be refused"
    );
    assert!(
        lab.partition(&[0], &[7]).is_err(),
        "unknown node must be refused"
    );
}

#[test]
fn netem_adds_delay_where_the_kernel_has_it() {
    let Some(lab) = Lab::for_test("netem", 2) else {
        return;
    };
    if !lab.netem_supported() {
        match lab.netem(0, 0.0, Duration::from_millis(50)) {
            Err(lab::LabError::Unsupported { .. }) => {}
            other => panic!("netem probe said no, but netem() gave {other:?}"),
        }
        eprintln!("skipping netem timing: this kernel has no sch_netem");
        return;
    }
    let peer = lab.node(1).ipv4;
    assert!(ping(&lab, 0, peer)); // neighbour resolved before timing
    lab.netem(0, 0.0, Duration::from_millis(50)).unwrap();
    let start = Instant::now();
    assert!(answers(&lab, 0, peer.into(), Duration::from_secs(2)));
    let rtt = start.elapsed();
    assert!(
        rtt >= Duration::from_millis(45),
        "rtt {rtt:?} with 50 ms netem delay"
    );
    lab.netem(0, 100.0, Duration::ZERO).unwrap();
    assert!(silent(&lab, 0, peer));
    lab.clear_netem(0).unwrap();
    assert!(ping(&lab, 0, peer));
}

#[test]
fn exec_spawn_and_run_in() {
    let Some(lab) = Lab::for_test("exec", 2) else {
        return;
    };
    let err = lab.exec(0, &["false"]).unwrap_err();
    assert!(err.to_string().contains("false"), "{err}");
    let mut cmd = lab.command(1, "sleep").unwrap();
    cmd.arg("30").stdout(std::process::Stdio::piped());
    let mut child = lab.spawn_command(1, &mut cmd).unwrap();
    let pid = child.id();
    let ns_of_child = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let ns_of_node = lab
        .run_in(1, || {
            std::fs::read_link("/proc/thread-self/ns/net").unwrap()
        })
        .unwrap();
    assert_eq!(ns_of_child, ns_of_node);
    child.kill().unwrap();
    child.wait().unwrap();
    // run_in sees the node's interfaces, not the host's.
    let ifaces = lab
        .run_in(0, || std::fs::read_to_string("/proc/net/dev").unwrap())
        .unwrap();
    assert!(ifaces.contains("eth0:"), "{ifaces}");
    assert!(lab.try_node(5).is_err());
}

#[test]
fn drop_deletes_every_namespace_even_after_a_panic() {
    if !lab::require() {
        return;
    }
    let lab = Lab::new("drop", 2).unwrap();
    let prefix = lab.prefix().to_owned();
    assert_eq!(namespaces_with(&prefix).len(), 3);
    let child_pid = lab.spawn(0, &["sleep", "30"]).unwrap().id();
    drop(lab);
    assert!(namespaces_with(&prefix).is_empty());
    // The lab killed the child it spawned; reap it (it is our child).
    let status = nix::sys::wait::waitpid(
        nix::unistd::Pid::from_raw(i32::try_from(child_pid).unwrap()),
        None,
    )
    .unwrap();
    assert!(
        matches!(
            status,
            nix::sys::wait::WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGKILL, _)
        ),
        "{status:?}"
    );

    // A panicking test still runs Drop, including a panic inside run_in.
    let prefix = std::sync::Mutex::new(String::new());
    let result = std::panic::catch_unwind(|| {
        let lab = Lab::new("panic", 1).unwrap();
        *prefix.lock().unwrap() = lab.prefix().to_owned();
        lab.run_in(0, || panic!("boom inside the node")).unwrap();
    });
    assert!(result.is_err());
    let prefix = prefix.into_inner().unwrap();
    assert!(!prefix.is_empty());
    assert!(namespaces_with(&prefix).is_empty(), "{prefix} left behind");
}

#[test]
fn stale_namespaces_of_dead_processes_are_deleted() {
    if !lab::require() {
        return;
    }
    // Above the kernel's largest pid_max (2^22): no live process has it.
    let name = format!("{}4194305-0-stale-n0", lab::NAMESPACE_PREFIX);
    let status = std::process::Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .unwrap();
    assert!(status.success());
    let deleted = lab::delete_stale_namespaces().unwrap();
    assert!(deleted.contains(&name), "{deleted:?}");
    assert!(namespaces_with(&name).is_empty());
}

/// Datagrams node `from` sends to node `to` (UDP, port 7000) that arrive,
/// out of `count`.
fn datagrams_through(lab: &Lab, from: usize, to: usize, count: usize) -> usize {
    let dst = SocketAddr::new(IpAddr::V4(lab.node(to).ipv4), 7000);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let listener = lab
        .spawn_thread_in(to, move || {
            let socket = std::net::UdpSocket::bind(dst).unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            ready_tx.send(()).unwrap();
            let mut got = 0;
            let mut buf = [0u8; 16];
            while socket.recv(&mut buf).is_ok() {
                got += 1;
            }
            got
        })
        .unwrap();
    ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    lab.run_in(from, move || {
        let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        for n in 0..count {
            socket.send_to(&n.to_be_bytes(), dst).unwrap();
            std::thread::sleep(Duration::from_micros(500));
        }
    })
    .unwrap();
    listener.join().unwrap().unwrap()
}

#[test]
fn random_loss_with_nftables() {
    let Some(lab) = Lab::for_test("loss", 2) else {
        return;
    };
    assert!(lab.loss(0, 101.0).is_err(), "out of range refused");
    // Neighbours resolved before any loss, so only data frames are dropped.
    assert!(ping(&lab, 1, lab.node(0).ipv4));
    match lab.loss(0, 100.0) {
        Err(lab::LabError::Unsupported { what, .. }) => {
            eprintln!("skipping loss test: {what} missing");
            return;
        }
        other => other.unwrap(),
    }
    assert_eq!(datagrams_through(&lab, 1, 0, 50), 0, "100% loss");
    lab.loss(0, 50.0).unwrap();
    let got = datagrams_through(&lab, 1, 0, 400);
    // Binomial(400, 0.5): outside 120..=280 has probability < 1e-15.
    assert!(
        (120..=280).contains(&got),
        "{got} of 400 through at 50% loss"
    );
    // Only node 0's incoming traffic is affected.
    assert_eq!(datagrams_through(&lab, 0, 1, 50), 50);
    lab.loss(0, 0.0).unwrap();
    assert_eq!(datagrams_through(&lab, 1, 0, 50), 50, "0% loss");
    lab.clear_loss(0).unwrap();
    lab.clear_loss(0).unwrap(); // idempotent
    assert_eq!(datagrams_through(&lab, 1, 0, 50), 50);
}
