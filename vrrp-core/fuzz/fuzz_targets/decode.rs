//! Fuzz `Advertisement::decode`: it must never panic, and whatever it accepts
//! must encode back into bytes that decode to the same advertisement.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vrrp_core::packet::{AdvertPacket, Advertisement, IpFamily};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the IP header's addresses, so both families and a
    // mismatched pair are reached; the rest is the VRRP message. The addresses
    // are those of the keepalived capture, so the seeds in `seeds/decode`
    // (captured messages behind selector 0 or 1) carry valid checksums.
    let Some((selector, payload)) = data.split_first() else {
        return;
    };
    let v4_src = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 12));
    let v4_dst = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
    let v6_src = IpAddr::V6(Ipv6Addr::new(
        0xfe80, 0, 0, 0, 0xd8b5, 0xebff, 0xfef5, 0x3caa,
    ));
    let v6_dst = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12));
    let (src, dst) = match selector % 3 {
        0 => (v4_src, v4_dst),
        1 => (v6_src, v6_dst),
        _ => (v4_src, v6_dst),
    };

    // The zero-copy view's getters must be total on any buffer.
    let family = IpFamily::of(src);
    let view = AdvertPacket::new_unchecked(payload, family);
    let _ = (
        view.interval_cs(),
        view.auth_data(),
        view.addresses().count(),
    );
    let _ = view.compute_checksum(src, dst);

    if let Ok(advert) = Advertisement::decode(payload, src, dst) {
        let mut buf = vec![0u8; advert.encoded_len()];
        let written = advert
            .encode(src, dst, &mut buf)
            .expect("a decoded advertisement encodes");
        assert_eq!(written, payload.len(), "re-encoded length");
        assert_eq!(
            Advertisement::decode(&buf, src, dst).as_ref(),
            Ok(&advert),
            "round trip"
        );
    }
});
