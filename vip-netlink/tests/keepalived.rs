//! Against a real keepalived 2.2.7 in the lab: our VRRP sockets hear its
//! IPv4 and IPv6 adverts (TTL / hop limit 255, decodable by vrrp-core), and
//! after it is killed with SIGKILL, `remove_leftovers` removes the VIPs it
//! left on the interface.

mod common;

use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::block_on;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use vip_netlink::lab::{self, Lab};
use vip_netlink::vrrp_socket::ReceivedPacket;
use vip_netlink::{Netlink, Peers, VrrpSocket};
use vrrp_core::Advertisement;

const CONFIG: &str = "\
global_defs {
  router_id lab
  vrrp_version 3
}
vrrp_instance V4 {
  state MASTER
  interface eth0
  virtual_router_id 52
  priority 150
  advert_int 0.1
  virtual_ipaddress {
    198.18.0.210/24
  }
}
vrrp_instance V6 {
  state MASTER
  interface eth0
  virtual_router_id 53
  priority 200
  advert_int 0.1
  virtual_ipaddress {
    fe80::53/64
    2001:db8::200/64
    2001:db8::201/64
  }
}
";

/// keepalived must be installed (CI installs it); the lab CI rule applies.
fn keepalived_available() -> bool {
    let ok = Command::new("keepalived")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "keepalived is required under CI=true but cannot be run"
        );
        eprintln!("skipping keepalived test: keepalived is not installed");
    }
    ok
}

/// A running keepalived, killed the hard way when dropped (also when the
/// test panics): stop the parent (so it cannot respawn its VRRP child),
/// SIGKILL the VRRP child, then the parent. Both PIDs are ours: the parent
/// we spawned, the child from the pid file we chose.
struct Keepalived {
    parent: Child,
    vrrp_pid_file: std::path::PathBuf,
}

impl Keepalived {
    fn kill_hard(&mut self) {
        let Ok(raw) = i32::try_from(self.parent.id()) else {
            return;
        };
        if !matches!(self.parent.try_wait(), Ok(None)) {
            return;
        }
        let parent = Pid::from_raw(raw);
        let _ = kill(parent, Signal::SIGSTOP);
        if let Ok(text) = std::fs::read_to_string(&self.vrrp_pid_file)
            && let Ok(pid) = text.trim().parse::<i32>()
        {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = kill(parent, Signal::SIGKILL);
        let _ = self.parent.wait();
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// Receives until one packet from `from` arrives (5 s at most).
async fn first_from(socket: &VrrpSocket, from: IpAddr) -> ReceivedPacket {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let packet = tokio::time::timeout(left, socket.recv())
            .await
            .unwrap_or_else(|_| panic!("no advert from {from} within 5 s"))
            .unwrap();
        if packet.src == from {
            return packet;
        }
    }
}

#[test]
fn keepalived_adverts_are_heard_and_its_leftovers_removed() {
    if !lab::require() || !keepalived_available() {
        return;
    }
    let lab = Lab::new("keepalived", 2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("keepalived.conf");
    std::fs::write(&conf, CONFIG).unwrap();
    let pid = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let (main_pid, vrrp_pid, checkers_pid) = (pid("k.pid"), pid("v.pid"), pid("c.pid"));
    let parent = lab
        .command(0, "keepalived")
        .unwrap()
        .args(["--dont-fork", "--log-console", "--vrrp", "-f"])
        .arg(&conf)
        .args(["-p", &main_pid, "-r", &vrrp_pid, "-c", &checkers_pid])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut keepalived = Keepalived {
        parent,
        vrrp_pid_file: dir.path().join("v.pid"),
    };
    let node0_v4 = IpAddr::V4(lab.node(0).ipv4);
    let node0_ll = IpAddr::V6(lab.node(0).ipv6_link_local);

    let heard = lab.run_in(1, move || {
        block_on(async move {
            let nl = Netlink::connect().unwrap();
            let eth0 = nl.interface("eth0").await.unwrap();
            let v4_src = nl.primary_ipv4("eth0").await.unwrap().unwrap();
            let v6_src = IpAddr::V6(nl.link_local_ipv6("eth0").await.unwrap());
            let v4 = VrrpSocket::open(&eth0, v4_src, Peers::Multicast).unwrap();
            let v6 = VrrpSocket::open(&eth0, v6_src, Peers::Multicast).unwrap();
            (
                first_from(&v4, node0_v4).await,
                first_from(&v6, node0_ll).await,
            )
        })
    });
    let vips_before = lab.exec(0, &["ip", "-o", "addr", "show", "dev", "eth0"]);
    keepalived.kill_hard();
    let (v4, v6) = heard.unwrap();

    assert_eq!(v4.ttl, 255);
    assert_eq!(v4.dst, "224.0.0.18".parse::<IpAddr>().unwrap());
    let advert = Advertisement::decode(&v4.payload, v4.src, v4.dst).unwrap();
    assert_eq!((advert.vrid, advert.priority), (52, 150));
    assert_eq!(
        advert.addresses,
        vec!["198.18.0.210".parse::<IpAddr>().unwrap()]
    );

    assert_eq!(v6.ttl, 255, "hop limit from IPV6_HOPLIMIT");
    assert_eq!(v6.dst, "ff02::12".parse::<IpAddr>().unwrap());
    let advert = Advertisement::decode(&v6.payload, v6.src, v6.dst).unwrap();
    assert_eq!((advert.vrid, advert.priority), (53, 200));
    assert_eq!(advert.addresses.len(), 3);

    // The VIPs keepalived added are still there after SIGKILL...
    let vips: Vec<IpAddr> = ["198.18.0.210", "fe80::53", "2001:db8::200", "2001:db8::201"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    let shown = lab
        .exec(0, &["ip", "-o", "addr", "show", "dev", "eth0"])
        .unwrap();
    for vip in &vips {
        assert!(
            shown.contains(&format!("{vip}/")),
            "{vip} not left behind: {shown}"
        );
    }
    assert!(vips_before.unwrap().contains("198.18.0.210/24"));
    // ...until remove_leftovers takes them away.
    let removed = lab
        .run_in(0, {
            let vips = vips.clone();
            move || {
                block_on(async move {
                    Netlink::connect()
                        .unwrap()
                        .remove_leftovers("eth0", &vips)
                        .await
                        .unwrap()
                })
            }
        })
        .unwrap();
    assert_eq!(removed, vips);
    let shown = lab
        .exec(0, &["ip", "-o", "addr", "show", "dev", "eth0"])
        .unwrap();
    for vip in &vips {
        assert!(
            !shown.contains(&format!("{vip}/")),
            "{vip} still there: {shown}"
        );
    }
}
