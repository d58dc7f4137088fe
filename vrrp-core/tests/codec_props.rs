//! Properties of the advertisement codec: every valid advertisement survives
//! `decode(encode(x))`, no input makes the decoders panic, and every single
//! bit of corruption is caught.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use vrrp_core::packet::{
    AdvertPacket, Advertisement, Auth, DecodeError, IpFamily, Ipv4Header, MAX_V3_INTERVAL_CS,
    Version,
};

fn ipv4() -> impl Strategy<Value = IpAddr> + Clone {
    any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b)))
}

fn ipv6() -> impl Strategy<Value = IpAddr> + Clone {
    any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b)))
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![ipv4(), ipv6()]
}

/// A valid advertisement with the source and destination it is sent between.
#[derive(Debug, Clone)]
struct Sent {
    advert: Advertisement,
    src: IpAddr,
    dst: IpAddr,
}

fn v2_ipv4() -> impl Strategy<Value = Sent> {
    let auth = prop_oneof![
        Just(Auth::None),
        any::<[u8; 8]>().prop_map(Auth::Simple),
        ".{0,12}".prop_map(|p| Auth::simple_from_str(&p)),
    ];
    (
        1..=255u8,
        any::<u8>(),
        1..=255u16,
        auth,
        prop::collection::vec(ipv4(), 0..=20),
        ipv4(),
        ipv4(),
    )
        .prop_map(
            |(vrid, priority, seconds, auth, addresses, src, dst)| Sent {
                advert: Advertisement {
                    version: Version::V2,
                    vrid,
                    priority,
                    interval_cs: seconds * 100,
                    auth,
                    addresses,
                },
                src,
                dst,
            },
        )
}

fn v3(address: impl Strategy<Value = IpAddr> + Clone) -> impl Strategy<Value = Sent> {
    (
        1..=255u8,
        any::<u8>(),
        1..=MAX_V3_INTERVAL_CS,
        prop::collection::vec(address.clone(), 0..=20),
        address.clone(),
        address,
    )
        .prop_map(|(vrid, priority, interval_cs, addresses, src, dst)| Sent {
            advert: Advertisement {
                version: Version::V3,
                vrid,
                priority,
                interval_cs,
                auth: Auth::None,
                addresses,
            },
            src,
            dst,
        })
}

fn any_valid() -> impl Strategy<Value = Sent> {
    prop_oneof![v2_ipv4(), v3(ipv4()), v3(ipv6())]
}

fn encode(sent: &Sent) -> Vec<u8> {
    let mut buf = vec![0u8; sent.advert.encoded_len()];
    let written = sent
        .advert
        .encode(sent.src, sent.dst, &mut buf)
        .expect("a valid advertisement encodes");
    assert_eq!(written, buf.len());
    buf
}

/// If `bytes` decode, what they decode to must survive a second round trip.
fn assert_stable(bytes: &[u8], src: IpAddr, dst: IpAddr) -> Result<(), TestCaseError> {
    if let Ok(advert) = Advertisement::decode(bytes, src, dst) {
        let mut buf = vec![0u8; advert.encoded_len()];
        let written = advert.encode(src, dst, &mut buf).map_err(|e| {
            TestCaseError::fail(format!("decoded {advert:?} but cannot encode: {e}"))
        })?;
        prop_assert_eq!(written, bytes.len());
        prop_assert_eq!(Advertisement::decode(&buf, src, dst), Ok(advert));
    }
    Ok(())
}

proptest! {
    #[test]
    fn decode_inverts_encode(sent in any_valid()) {
        let bytes = encode(&sent);
        prop_assert_eq!(
            Advertisement::decode(&bytes, sent.src, sent.dst),
            Ok(sent.advert.clone())
        );
        // The zero-copy view reads the same fields.
        let family = IpFamily::of(sent.src);
        let view = AdvertPacket::new_checked(&bytes[..], family)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(view.version(), Some(sent.advert.version));
        prop_assert_eq!(view.vrid(), sent.advert.vrid);
        prop_assert_eq!(view.priority(), sent.advert.priority);
        prop_assert_eq!(view.interval_cs(), sent.advert.interval_cs);
        prop_assert_eq!(usize::from(view.address_count()), sent.advert.addresses.len());
        prop_assert!(view.addresses().eq(sent.advert.addresses.iter().copied()));
        prop_assert!(view.verify_checksum(sent.src, sent.dst));
        prop_assert_eq!(view.checksum(), view.compute_checksum(sent.src, sent.dst));
    }

    #[test]
    fn every_single_bit_flip_is_rejected(sent in any_valid(), bit in any::<prop::sample::Index>()) {
        let mut bytes = encode(&sent);
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(Advertisement::decode(&bytes, sent.src, sent.dst).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        src in any_ip(),
        dst in any_ip(),
    ) {
        assert_stable(&bytes, src, dst)?;
        for family in [IpFamily::V4, IpFamily::V6] {
            let view = AdvertPacket::new_unchecked(&bytes[..], family);
            let _ = (view.interval_cs(), view.auth_data(), view.addresses().count());
            let _ = view.compute_checksum(src, dst);
        }
    }

    #[test]
    fn corrupted_valid_messages_never_panic_and_stay_stable(
        sent in any_valid(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        refill_checksum in any::<bool>(),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = encode(&sent);
        for (at, value) in edits {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if refill_checksum {
            // Reach the checks behind the checksum: repair it after the damage.
            let family = IpFamily::of(sent.src);
            AdvertPacket::new_unchecked(&mut bytes[..], family).fill_checksum(sent.src, sent.dst);
        }
        let decoded = Advertisement::decode(&bytes, sent.src, sent.dst);
        if let Err(DecodeError::BadChecksum { found, expected }) = decoded {
            prop_assert_ne!(found, expected);
        }
        assert_stable(&bytes, sent.src, sent.dst)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_ipv4_header_parser(
        bytes in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        if let Ok(header) = Ipv4Header::parse(&bytes) {
            prop_assert!(header.payload.len() + 20 <= bytes.len());
            // The payload is a window of the input, never bytes from elsewhere.
            let start = header.payload.as_ptr() as usize - bytes.as_ptr() as usize;
            prop_assert!(start >= 20 && start + header.payload.len() <= bytes.len());
        }
    }

    #[test]
    fn simple_password_keeps_the_first_eight_bytes(password in ".{0,16}") {
        let Auth::Simple(data) = Auth::simple_from_str(&password) else {
            return Err(TestCaseError::fail("simple_from_str gave Auth::None"));
        };
        let kept = password.len().min(8);
        prop_assert_eq!(&data[..kept], &password.as_bytes()[..kept]);
        prop_assert!(data[kept..].iter().all(|b| *b == 0));
    }
}
