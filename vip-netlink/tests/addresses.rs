//! VIP add / remove / list over rtnetlink inside a lab node.

mod common;

use std::net::IpAddr;

use common::block_on;
use vip_netlink::lab::Lab;
use vip_netlink::{AddOutcome, Error, InterfaceAddress, Netlink, RemoveOutcome};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn interface_lookup_and_primary_addresses() {
    let Some(lab) = Lab::for_test("ifaces", 1) else {
        return;
    };
    let node = lab.node(0).clone();
    lab.run_in(0, || {
        block_on(async {
            let nl = Netlink::connect().unwrap();
            let eth0 = nl.interface("eth0").await.unwrap();
            assert_eq!(eth0.mac, Some(node.mac));
            assert!(eth0.is_up());
            assert_eq!(nl.interface_by_index(eth0.index).await.unwrap(), eth0);
            let held = nl.addresses("eth0").await.unwrap();
            assert!(
                held.contains(&InterfaceAddress::new(IpAddr::V4(node.ipv4), 24).unwrap()),
                "{held:?}"
            );
            assert!(
                held.contains(&InterfaceAddress::new(IpAddr::V6(node.ipv6), 64).unwrap()),
                "{held:?}"
            );
            assert_eq!(
                nl.link_local_ipv6("eth0").await.unwrap(),
                node.ipv6_link_local
            );
            // A VIP in the same subnet is secondary: the primary stays.
            let vip: InterfaceAddress = "198.18.0.200/24".parse().unwrap();
            nl.add_address("eth0", &vip).await.unwrap();
            assert_eq!(
                nl.primary_ipv4("eth0").await.unwrap(),
                Some(IpAddr::V4(node.ipv4))
            );
            match nl.interface("nope0").await {
                Err(Error::InterfaceNotFound { interface }) => assert_eq!(interface, "nope0"),
                other => panic!("expected InterfaceNotFound, got {other:?}"),
            }
            let err = nl.addresses("nope0").await.unwrap_err();
            assert!(err.to_string().contains("nope0"), "{err}");
        });
    })
    .unwrap();
}

#[test]
fn add_remove_are_idempotent_with_label_and_nodad() {
    let Some(lab) = Lab::for_test("vips", 1) else {
        return;
    };
    let v4 = InterfaceAddress::new(ip("198.18.0.200"), 24)
        .unwrap()
        .with_label("eth0:vip");
    let v6 = InterfaceAddress::new(ip("2001:db8::200"), 64).unwrap();
    let (v4c, v6c) = (v4.clone(), v6.clone());
    lab.run_in(0, move || {
        block_on(async {
            let nl = Netlink::connect().unwrap();
            assert_eq!(
                nl.add_address("eth0", &v4c).await.unwrap(),
                AddOutcome::Added
            );
            assert_eq!(
                nl.add_address("eth0", &v4c).await.unwrap(),
                AddOutcome::AlreadyPresent
            );
            assert_eq!(
                nl.add_address("eth0", &v6c).await.unwrap(),
                AddOutcome::Added
            );
            assert_eq!(
                nl.add_address("eth0", &v6c).await.unwrap(),
                AddOutcome::AlreadyPresent
            );
            let held = nl.addresses("eth0").await.unwrap();
            assert!(held.contains(&v4c), "{held:?}");
            assert!(held.contains(&v6c), "{held:?}");
        });
    })
    .unwrap();
    // What the kernel says, through iproute2: label set, IPv6 not tentative.
    let shown = lab
        .exec(0, &["ip", "-o", "addr", "show", "dev", "eth0"])
        .unwrap();
    assert!(shown.contains("198.18.0.200/24"), "{shown}");
    assert!(shown.contains("eth0:vip"), "{shown}");
    let v6_line = shown
        .lines()
        .find(|l| l.contains("2001:db8::200/64"))
        .unwrap();
    assert!(v6_line.contains("nodad"), "{v6_line}");
    assert!(!v6_line.contains("tentative"), "{v6_line}");

    lab.run_in(0, move || {
        block_on(async {
            let nl = Netlink::connect().unwrap();
            assert_eq!(
                nl.remove_address("eth0", v4.addr).await.unwrap(),
                RemoveOutcome::Removed
            );
            assert_eq!(
                nl.remove_address("eth0", v4.addr).await.unwrap(),
                RemoveOutcome::NotPresent
            );
            assert_eq!(
                nl.remove_address("eth0", v6.addr).await.unwrap(),
                RemoveOutcome::Removed
            );
            assert_eq!(
                nl.remove_address("eth0", v6.addr).await.unwrap(),
                RemoveOutcome::NotPresent
            );
            let held = nl.addresses("eth0").await.unwrap();
            assert!(
                !held.iter().any(|a| a.addr == v4.addr || a.addr == v6.addr),
                "{held:?}"
            );
            // Refused inputs name what is wrong.
            let bad = InterfaceAddress::new(ip("198.18.0.201"), 32)
                .unwrap()
                .with_label("eth1:x");
            let err = nl.add_address("eth0", &bad).await.unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("eth1:x") && text.contains("198.18.0.201") && text.contains("eth0"),
                "{text}"
            );
        });
    })
    .unwrap();
    let shown = lab
        .exec(0, &["ip", "-o", "addr", "show", "dev", "eth0"])
        .unwrap();
    assert!(!shown.contains("198.18.0.200"), "{shown}");
    assert!(!shown.contains("2001:db8::200"), "{shown}");
}

#[test]
fn leftovers_of_a_killed_keepalived_are_removed() {
    let Some(lab) = Lab::for_test("leftover", 1) else {
        return;
    };
    // As keepalived adds them (and leaves them when SIGKILLed): any prefix.
    lab.exec(0, &["ip", "addr", "add", "198.18.0.201/32", "dev", "eth0"])
        .unwrap();
    lab.exec(
        0,
        &[
            "ip",
            "addr",
            "add",
            "198.18.0.202/24",
            "dev",
            "eth0",
            "label",
            "eth0:ka",
        ],
    )
    .unwrap();
    lab.exec(
        0,
        &[
            "ip",
            "addr",
            "add",
            "2001:db8::201/128",
            "dev",
            "eth0",
            "nodad",
        ],
    )
    .unwrap();
    let removed = lab
        .run_in(0, || {
            block_on(async {
                let nl = Netlink::connect().unwrap();
                nl.remove_leftovers(
                    "eth0",
                    &[
                        ip("198.18.0.201"),
                        ip("198.18.0.202"),
                        ip("2001:db8::201"),
                        ip("198.18.0.203"),
                    ],
                )
                .await
                .unwrap()
            })
        })
        .unwrap();
    assert_eq!(
        removed,
        vec![ip("198.18.0.201"), ip("198.18.0.202"), ip("2001:db8::201")]
    );
    let shown = lab
        .exec(0, &["ip", "-o", "addr", "show", "dev", "eth0"])
        .unwrap();
    for gone in ["198.18.0.201", "198.18.0.202", "2001:db8::201"] {
        assert!(!shown.contains(gone), "{gone} still there: {shown}");
    }
    // The node's own addresses are untouched.
    assert!(shown.contains("198.18.0.11/24"), "{shown}");
}
