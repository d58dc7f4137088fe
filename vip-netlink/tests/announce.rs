//! GARP and unsolicited NA sent by one lab node and captured on another.

mod common;

use std::net::IpAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::block_on;
use vip_netlink::announce::{gratuitous_arp, unsolicited_neighbour_advert};
use vip_netlink::lab::Lab;
use vip_netlink::packet_socket::{ETH_P_ALL, PacketSocket};
use vip_netlink::{Announcer, GarpConfig, Netlink};

#[test]
fn garp_and_na_reach_the_other_node() {
    let Some(lab) = Lab::for_test("announce", 2) else {
        return;
    };
    let sender_mac = lab.node(0).mac;
    let v4: IpAddr = "198.18.0.200".parse().unwrap();
    let v6: IpAddr = "2001:db8::200".parse().unwrap();
    let expected_arp = gratuitous_arp(sender_mac, "198.18.0.200".parse().unwrap()).to_vec();
    let expected_na =
        unsolicited_neighbour_advert(sender_mac, "2001:db8::200".parse().unwrap()).to_vec();

    // Node 1 captures everything on its eth0 until it has seen two of each
    // expected frame, or 5 s pass.
    let (ready_tx, ready_rx) = mpsc::channel();
    let (arp, na) = (expected_arp.clone(), expected_na.clone());
    let capture = lab
        .spawn_thread_in(1, move || {
            block_on(async move {
                let nl = Netlink::connect().unwrap();
                let eth0 = nl.interface("eth0").await.unwrap();
                let socket = PacketSocket::capture(eth0.index, ETH_P_ALL).unwrap();
                ready_tx.send(()).unwrap();
                let deadline = Instant::now() + Duration::from_secs(5);
                let (mut arps, mut nas) = (0, 0);
                let mut buf = [0u8; 2048];
                while (arps < 2 || nas < 2) && Instant::now() < deadline {
                    let Ok(Ok(n)) =
                        tokio::time::timeout(Duration::from_millis(200), socket.recv(&mut buf))
                            .await
                    else {
                        continue;
                    };
                    // Frames may arrive padded to the Ethernet minimum.
                    if buf.get(..arp.len()) == Some(arp.as_slice()) && buf[6..12] == sender_mac {
                        arps += 1;
                    } else if n == na.len() && buf[..n] == na[..] {
                        nas += 1;
                    }
                }
                (arps, nas)
            })
        })
        .unwrap();
    ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();

    let sent = lab
        .run_in(0, move || {
            block_on(async move {
                let nl = Netlink::connect().unwrap();
                let eth0 = nl.interface("eth0").await.unwrap();
                let announcer = Announcer::open(&eth0).unwrap();
                assert_eq!(announcer.mac(), sender_mac);
                let config = GarpConfig {
                    garp_interval: Duration::from_millis(1),
                    ..GarpConfig::default()
                };
                announcer.announce(&[v4, v6], 2, &config).await.unwrap()
            })
        })
        .unwrap();
    assert_eq!(sent, 4);
    let (arps, nas) = capture.join().unwrap().unwrap();
    assert_eq!((arps, nas), (2, 2), "captured GARPs and NAs on node 1");
}
