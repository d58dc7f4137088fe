//! Raw VRRP sockets between lab nodes: multicast round trips over IPv4 and
//! IPv6 with TTL / hop limit 255, the received TTL reported as it arrived,
//! and unicast peer filtering.

mod common;

use std::net::{IpAddr, Ipv6Addr, SocketAddrV6};
use std::sync::mpsc;
use std::time::Duration;

use common::block_on;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use vip_netlink::lab::Lab;
use vip_netlink::vrrp_socket::ReceivedPacket;
use vip_netlink::{Netlink, Peers, VrrpSocket};

/// A VRRPv3 advert as keepalived sent it (vrid 52, prio 150, 50 cs, one
/// address); the socket does not decode it, any bytes would do.
const PAYLOAD: [u8; 12] = [
    0x31, 0x34, 0x96, 0x01, 0x00, 0x32, 0xcb, 0x05, 198, 18, 0, 210,
];

/// A receiving thread (its packets and drop count) and its readiness signal.
type Receiver = (
    std::thread::JoinHandle<Result<(Vec<ReceivedPacket>, u64), vip_netlink::lab::LabError>>,
    mpsc::Receiver<()>,
);

#[derive(Clone, Copy)]
enum Source {
    PrimaryV4,
    LinkLocal,
}

async fn open(source: Source, peers: Peers) -> VrrpSocket {
    let nl = Netlink::connect().unwrap();
    let eth0 = nl.interface("eth0").await.unwrap();
    let src = match source {
        Source::PrimaryV4 => nl.primary_ipv4("eth0").await.unwrap().unwrap(),
        Source::LinkLocal => IpAddr::V6(nl.link_local_ipv6("eth0").await.unwrap()),
    };
    VrrpSocket::open(&eth0, src, peers).unwrap()
}

/// Opens a socket on node `i`, signals readiness, then receives `count`
/// packets (5 s limit each); returns them and the socket's drop counters.
fn receiver(lab: &Lab, i: usize, source: Source, peers: Peers, count: usize) -> Receiver {
    let (ready_tx, ready_rx) = mpsc::channel();
    let handle = lab
        .spawn_thread_in(i, move || {
            block_on(async move {
                let socket = open(source, peers).await;
                ready_tx.send(()).unwrap();
                let mut got = Vec::new();
                for _ in 0..count {
                    let packet = tokio::time::timeout(Duration::from_secs(5), socket.recv())
                        .await
                        .expect("a VRRP packet within 5 s")
                        .unwrap();
                    got.push(packet);
                }
                (got, socket.counters().dropped_not_peer)
            })
        })
        .unwrap();
    (handle, ready_rx)
}

fn send_from(lab: &Lab, i: usize, source: Source, peers: Peers) -> IpAddr {
    lab.run_in(i, move || {
        block_on(async move {
            let socket = open(source, peers).await;
            socket.send(&PAYLOAD).await.unwrap();
            socket.source()
        })
    })
    .unwrap()
}

#[test]
fn ipv4_multicast_round_trip_with_ttl_255() {
    let Some(lab) = Lab::for_test("vrrp4", 2) else {
        return;
    };
    let (rx, ready) = receiver(&lab, 1, Source::PrimaryV4, Peers::Multicast, 2);
    ready.recv_timeout(Duration::from_secs(5)).unwrap();
    let src = send_from(&lab, 0, Source::PrimaryV4, Peers::Multicast);
    assert_eq!(src, IpAddr::V4(lab.node(0).ipv4));
    // A packet with another TTL: reported as it arrived, for vrrp-core to refuse.
    lab.run_in(0, || {
        let raw = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
        raw.bind_device(Some(b"eth0")).unwrap();
        raw.set_multicast_ttl_v4(64).unwrap();
        let group: SockAddr = std::net::SocketAddr::from(([224, 0, 0, 18], 0)).into();
        raw.send_to(&PAYLOAD, &group).unwrap();
    })
    .unwrap();
    let (got, _) = rx.join().unwrap().unwrap();
    assert_eq!(got[0].src, src);
    assert_eq!(got[0].dst, "224.0.0.18".parse::<IpAddr>().unwrap());
    assert_eq!(got[0].ttl, 255);
    assert_eq!(got[0].payload, PAYLOAD);
    assert_eq!(got[1].ttl, 64);
}

#[test]
fn ipv6_multicast_round_trip_from_link_local_with_hop_limit_255() {
    let Some(lab) = Lab::for_test("vrrp6", 2) else {
        return;
    };
    let (rx, ready) = receiver(&lab, 1, Source::LinkLocal, Peers::Multicast, 2);
    ready.recv_timeout(Duration::from_secs(5)).unwrap();
    let src = send_from(&lab, 0, Source::LinkLocal, Peers::Multicast);
    assert_eq!(src, IpAddr::V6(lab.node(0).ipv6_link_local));
    lab.run_in(0, || {
        let raw = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(112))).unwrap();
        raw.bind_device(Some(b"eth0")).unwrap();
        raw.set_multicast_hops_v6(64).unwrap();
        let ifindex = nix::net::if_::if_nametoindex("eth0").unwrap();
        let group = SocketAddrV6::new(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12), 0, 0, ifindex);
        raw.send_to(&PAYLOAD, &group.into()).unwrap();
    })
    .unwrap();
    let (got, _) = rx.join().unwrap().unwrap();
    assert_eq!(got[0].src, src);
    assert_eq!(got[0].dst, "ff02::12".parse::<IpAddr>().unwrap());
    assert_eq!(got[0].ttl, 255);
    assert_eq!(got[0].payload, PAYLOAD);
    assert_eq!(got[1].ttl, 64);
}

#[test]
fn unicast_accepts_peers_only_and_counts_the_rest() {
    let Some(lab) = Lab::for_test("unicast", 3) else {
        return;
    };
    let ip = |i: usize| IpAddr::V4(lab.node(i).ipv4);
    let ip6 = |i: usize| IpAddr::V6(lab.node(i).ipv6);
    // Node 2 listens to node 0 only.
    let (rx, ready) = receiver(&lab, 2, Source::PrimaryV4, Peers::Unicast(vec![ip(0)]), 1);
    ready.recv_timeout(Duration::from_secs(5)).unwrap();
    // Node 1 (not a peer) first, then node 0.
    send_from(&lab, 1, Source::PrimaryV4, Peers::Unicast(vec![ip(2)]));
    send_from(&lab, 0, Source::PrimaryV4, Peers::Unicast(vec![ip(2)]));
    let (got, dropped) = rx.join().unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].src, ip(0));
    assert_eq!(got[0].dst, ip(2));
    assert_eq!(got[0].ttl, 255);
    assert_eq!(dropped, 1, "node 1's packet dropped and counted");

    // The same over IPv6 with global unicast addresses (unicast_src_ip).
    let (rx, ready) = lab_receiver_v6(&lab, ip6(2), vec![ip6(0)]);
    ready.recv_timeout(Duration::from_secs(5)).unwrap();
    for (from, to) in [(1, 2), (0, 2)] {
        let (src, dst) = (ip6(from), ip6(to));
        lab.run_in(from, move || {
            block_on(async move {
                let nl = Netlink::connect().unwrap();
                let eth0 = nl.interface("eth0").await.unwrap();
                let socket = VrrpSocket::open(&eth0, src, Peers::Unicast(vec![dst])).unwrap();
                socket.send(&PAYLOAD).await.unwrap();
            });
        })
        .unwrap();
    }
    let (got, dropped) = rx.join().unwrap().unwrap();
    assert_eq!(got[0].src, ip6(0));
    assert_eq!(got[0].dst, ip6(2));
    assert_eq!(got[0].ttl, 255);
    assert_eq!(dropped, 1);

    // A peer list of the wrong family is refused, naming the address.
    let err = lab
        .run_in(0, move || {
            block_on(async move {
                let nl = Netlink::connect().unwrap();
                let eth0 = nl.interface("eth0").await.unwrap();
                VrrpSocket::open(
                    &eth0,
                    ip_v4_any(),
                    Peers::Unicast(vec!["2001:db8::1".parse().unwrap()]),
                )
                .unwrap_err()
                .to_string()
            })
        })
        .unwrap();
    assert!(err.contains("2001:db8::1"), "{err}");
}

fn ip_v4_any() -> IpAddr {
    "198.18.0.11".parse().unwrap()
}

fn lab_receiver_v6(lab: &Lab, source: IpAddr, peers: Vec<IpAddr>) -> Receiver {
    let (ready_tx, ready_rx) = mpsc::channel();
    let handle = lab
        .spawn_thread_in(2, move || {
            block_on(async move {
                let nl = Netlink::connect().unwrap();
                let eth0 = nl.interface("eth0").await.unwrap();
                let socket = VrrpSocket::open(&eth0, source, Peers::Unicast(peers)).unwrap();
                ready_tx.send(()).unwrap();
                let packet = tokio::time::timeout(Duration::from_secs(5), socket.recv())
                    .await
                    .expect("a VRRP packet within 5 s")
                    .unwrap();
                (vec![packet], socket.counters().dropped_not_peer)
            })
        })
        .unwrap();
    (handle, ready_rx)
}
