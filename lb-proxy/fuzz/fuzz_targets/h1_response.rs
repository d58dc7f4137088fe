//! Fuzz the member-side HTTP/1.1 codec (`lb_proxy::h1`) as a member's bytes
//! reach it: a response head, then its body by the framing the head says,
//! arriving in pieces of sizes the input chooses. Nothing may panic; the
//! head keeps no hop-by-hop field (but a 101's `Upgrade` and `Connection`);
//! the framing is the one RFC 9112 §6.3 gives its fields.
#![no_main]

use bytes::BytesMut;
use lb_proxy::h1::{BodyFraming, ChunkStep, parse_response_head, step_chunked};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte sets how many bytes arrive per read (1..=64).
    let Some((&split, wire)) = data.split_first() else {
        return;
    };
    let split = usize::from(split % 64) + 1;
    let mut pieces = wire.chunks(split);
    let mut buf = BytesMut::new();
    let mut head = loop {
        match parse_response_head(&mut buf) {
            Ok(Some(head)) => break head,
            Ok(None) => match pieces.next() {
                Some(p) => buf.extend_from_slice(p),
                None => return,
            },
            Err(_) => return,
        }
    };
    let switching = head.status == 101;
    for name in head.headers.keys() {
        let hop = matches!(
            name.as_str(),
            "connection" | "keep-alive" | "proxy-connection" | "proxy-authenticate"
                | "proxy-authorization" | "te" | "trailer" | "transfer-encoding" | "upgrade"
        );
        assert!(!hop || (switching && matches!(name.as_str(), "upgrade" | "connection")), "{name}");
    }
    let (mut framing, _) = head.body_framing(false);
    match framing {
        BodyFraming::Length(n) => assert!(
            n == 0 || (head.chunked.is_none() && head.content_length == Some(n))
        ),
        BodyFraming::Chunked(_) => {
            assert_eq!(head.chunked, Some(true));
            assert!(!head.headers.contains_key("content-length"));
        }
        BodyFraming::Close | BodyFraming::Done => {}
    }
    loop {
        match framing {
            BodyFraming::Done => return,
            BodyFraming::Length(left) => {
                if buf.is_empty() {
                    match pieces.next() {
                        Some(p) => buf.extend_from_slice(p),
                        None => return,
                    }
                }
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                let _ = buf.split_to(n);
                framing = if left == n as u64 {
                    BodyFraming::Done
                } else {
                    BodyFraming::Length(left - n as u64)
                };
            }
            BodyFraming::Close => return,
            BodyFraming::Chunked(state) => match step_chunked(state, &mut buf) {
                Ok(Some(ChunkStep::State(next))) => framing = BodyFraming::Chunked(next),
                Ok(Some(ChunkStep::Data(d, next))) => {
                    assert!(!d.is_empty());
                    framing = BodyFraming::Chunked(next);
                }
                Ok(Some(ChunkStep::End)) => framing = BodyFraming::Done,
                Ok(None) => match pieces.next() {
                    Some(p) => buf.extend_from_slice(p),
                    None => return,
                },
                Err(_) => return,
            },
        }
    }
});
