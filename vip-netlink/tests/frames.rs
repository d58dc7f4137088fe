//! The announcement frames, byte for byte against keepalived 2.2.7's.
//!
//! The vectors are the tcpdump text capture in
//! `shared/vectors/keepalived-2.2.7/keepalived-vrrp.txt` (beside the
//! checkout), read as data: each ARP and NA frame's inputs (sender MAC and
//! announced address) come from the capture, and our builder must reproduce
//! the whole frame.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use vip_netlink::announce::{gratuitous_arp, unsolicited_neighbour_advert};

/// One captured frame: tcpdump's summary line and the bytes.
struct Frame {
    summary: String,
    bytes: Vec<u8>,
}

fn vectors() -> Vec<Frame> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/vectors/keepalived-2.2.7/keepalived-vrrp.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; the vectors live in shared/ beside the checkout",
            path.display()
        )
    });
    let mut frames: Vec<Frame> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(hex) = trimmed.strip_prefix("0x") {
            // "0x0010:  0800 0604 ..." : offset, colon, hex groups.
            let (_, groups) = hex.split_once(':').expect("offset colon");
            let frame = frames.last_mut().expect("hex before any summary");
            for group in groups.split_whitespace() {
                assert!(group.len() % 2 == 0, "odd hex group {group:?}");
                for i in (0..group.len()).step_by(2) {
                    frame
                        .bytes
                        .push(u8::from_str_radix(&group[i..i + 2], 16).expect("hex byte"));
                }
            }
        } else if !line.starts_with(char::is_whitespace) && !line.is_empty() {
            frames.push(Frame {
                summary: line.to_owned(),
                bytes: Vec::new(),
            });
        } else if let Some(frame) = frames.last_mut() {
            // Continuation of the summary (tcpdump -v wraps).
            frame.summary.push(' ');
            frame.summary.push_str(trimmed);
        }
    }
    frames
}

fn word_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let rest = &text[text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} in {text}"))
        + marker.len()..];
    rest.split(|c: char| c.is_whitespace() || c == ',')
        .next()
        .unwrap()
}

fn parse_mac(text: &str) -> [u8; 6] {
    let bytes: Vec<u8> = text
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

#[test]
fn gratuitous_arps_match_keepalived() {
    let frames: Vec<Frame> = vectors()
        .into_iter()
        .filter(|f| f.summary.contains(" ARP, "))
        .collect();
    assert!(
        frames.len() >= 10,
        "expected the GARP bursts, got {}",
        frames.len()
    );
    for frame in &frames {
        // "Request who-has 198.18.0.210 (ff:ff:ff:ff:ff:ff) tell 198.18.0.210"
        let target: Ipv4Addr = word_after(&frame.summary, "who-has ").parse().unwrap();
        let sender: Ipv4Addr = word_after(&frame.summary, "tell ").parse().unwrap();
        assert_eq!(target, sender, "a gratuitous ARP: {}", frame.summary);
        // The sender MAC is an input: the node's own address, at offset 6.
        let mac: [u8; 6] = frame.bytes[6..12].try_into().unwrap();
        assert_eq!(
            gratuitous_arp(mac, target).as_slice(),
            frame.bytes.as_slice(),
            "{}",
            frame.summary
        );
    }
}

#[test]
fn neighbour_advertisements_match_keepalived() {
    let frames: Vec<Frame> = vectors()
        .into_iter()
        .filter(|f| f.summary.contains("neighbor advertisement"))
        .collect();
    assert!(
        frames.len() >= 15,
        "expected the NA bursts, got {}",
        frames.len()
    );
    for frame in &frames {
        // "... tgt is 2001:db8::200, Flags [override] destination link-address
        // option (2), length 8 (1): da:b5:eb:f5:3c:aa"
        let target: Ipv6Addr = word_after(&frame.summary, "tgt is ").parse().unwrap();
        let mac = parse_mac(word_after(&frame.summary, "length 8 (1): "));
        assert!(
            frame.summary.contains("Flags [override]"),
            "{}",
            frame.summary
        );
        assert_eq!(
            unsolicited_neighbour_advert(mac, target).as_slice(),
            frame.bytes.as_slice(),
            "{}",
            frame.summary
        );
    }
}
