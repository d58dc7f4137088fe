//! Real keepalived 2.2.7 packets, read as data: every VRRP frame tcpdump
//! captured decodes to the values tcpdump printed beside it and re-encodes to
//! the identical bytes, checksum included.
//!
//! The vectors live in `shared/vectors/keepalived-2.2.7/` beside the
//! repository (`../../shared` from this crate), as tcpdump text
//! (`keepalived-vrrp.txt`, from `tcpdump -vv -xx`), the raw capture
//! (`keepalived-vrrp.pcap`) and the two keepalived configs that produced them.

use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

use vrrp_core::packet::{
    Advertisement, Auth, IP_PROTOCOL_VRRP, IpFamily, Ipv4Header, REQUIRED_TTL, Version,
};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/keepalived-2.2.7")
}

fn read_vector(name: &str) -> Vec<u8> {
    let path = vectors_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read test vector {}: {e}; the vectors live in shared/ beside the \
             repository checkout (clone it so that ../shared/vectors/keepalived-2.2.7 exists)",
            path.display()
        )
    })
}

fn read_vector_text(name: &str) -> String {
    String::from_utf8(read_vector(name)).unwrap_or_else(|e| panic!("{name} is not UTF-8: {e}"))
}

/// One frame of the tcpdump text: its summary lines and its hex dump.
struct Frame {
    /// 1-based line of the frame's first summary line, for messages.
    line: usize,
    /// The summary lines joined with a space.
    summary: String,
    /// The frame's bytes, Ethernet header first.
    bytes: Vec<u8>,
}

/// Split `tcpdump -vv -xx` output into frames. A frame starts with a line
/// that begins with a timestamp; lines starting with whitespace then `0x`
/// are hex dump lines; other indented lines continue the summary.
fn parse_tcpdump(text: &str) -> Vec<Frame> {
    let mut frames: Vec<Frame> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            frames.push(Frame {
                line: index + 1,
                summary: line.to_owned(),
                bytes: Vec::new(),
            });
            continue;
        }
        let frame = frames
            .last_mut()
            .unwrap_or_else(|| panic!("line {}: indented line before any frame", index + 1));
        if let Some(rest) = trimmed.strip_prefix("0x") {
            let (offset, hex) = rest
                .split_once(':')
                .unwrap_or_else(|| panic!("line {}: hex line without offset", index + 1));
            let offset = usize::from_str_radix(offset, 16)
                .unwrap_or_else(|e| panic!("line {}: bad offset {offset}: {e}", index + 1));
            assert_eq!(
                offset,
                frame.bytes.len(),
                "line {}: hex offset does not continue the frame",
                index + 1
            );
            for group in hex.split_whitespace() {
                assert!(
                    group.len() % 2 == 0,
                    "line {}: odd hex group {group}",
                    index + 1
                );
                for pair in group.as_bytes().chunks(2) {
                    let pair = std::str::from_utf8(pair).expect("ASCII hex");
                    let byte = u8::from_str_radix(pair, 16)
                        .unwrap_or_else(|e| panic!("line {}: bad hex {pair}: {e}", index + 1));
                    frame.bytes.push(byte);
                }
            }
        } else {
            frame.summary.push(' ');
            frame.summary.push_str(trimmed);
        }
    }
    frames
}

/// What tcpdump printed about one VRRP frame.
#[derive(Debug)]
struct Printed {
    src: IpAddr,
    dst: IpAddr,
    /// `ttl N` (IPv4) or `hlim N` (IPv6).
    ttl: u8,
    version: Version,
    vrid: u8,
    priority: u8,
    interval_cs: u16,
    /// The VRRP message length.
    length: usize,
    addresses: Vec<IpAddr>,
    /// `authtype NAME`, VRRPv2 only.
    authtype: Option<String>,
    /// `auth "TEXT"`, VRRPv2 simple auth only.
    auth: Option<String>,
}

fn number<T: std::str::FromStr>(summary: &str, key: &str) -> T
where
    T::Err: std::fmt::Display,
{
    let value = field_after(summary, key)
        .unwrap_or_else(|| panic!("no `{key}` in tcpdump line: {summary}"));
    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|e| panic!("`{key}{value}`: {e} in: {summary}"))
}

/// The text after `key` up to the next `,` or `)`.
fn field_after<'a>(summary: &'a str, key: &str) -> Option<&'a str> {
    let start = summary.find(key)? + key.len();
    let rest = summary.get(start..)?;
    let end = rest.find([',', ')']).unwrap_or(rest.len());
    rest.get(..end)
}

fn parse_printed(summary: &str) -> Printed {
    let (ip_part, vrrp_part) = summary
        .split_once(": VRRPv")
        .unwrap_or_else(|| panic!("not a VRRP line: {summary}"));
    // "... 198.18.0.11 > 224.0.0.18" or "...) fe80::1 > ff02::12"
    let mut tokens = ip_part.rsplit(' ');
    let dst = tokens.next().expect("destination");
    assert_eq!(tokens.next(), Some(">"), "no `src > dst` in: {summary}");
    let src = tokens.next().expect("source");
    let parse_ip = |s: &str| -> IpAddr {
        s.parse()
            .unwrap_or_else(|e| panic!("address {s}: {e} in: {summary}"))
    };
    let ttl = if ip_part.contains("hlim ") {
        number(ip_part, "hlim ")
    } else {
        number(ip_part, "ttl ")
    };

    let version = match vrrp_part.get(..1) {
        Some("2") => Version::V2,
        Some("3") => Version::V3,
        other => panic!("version {other:?} in: {summary}"),
    };
    let fields: Vec<&str> = vrrp_part.split(", ").collect();
    assert_eq!(
        fields.get(1).copied(),
        Some("Advertisement"),
        "type in: {summary}"
    );
    let interval = field_after(vrrp_part, "intvl ").expect("intvl");
    let interval_cs = if let Some(cs) = interval.strip_suffix("cs") {
        cs.parse().expect("intvl cs")
    } else if let Some(s) = interval.strip_suffix('s') {
        s.parse::<u16>().expect("intvl s") * 100
    } else {
        panic!("intvl {interval} in: {summary}")
    };
    // "addrs(2): a,b auth \"x\"" or "addrs: a"
    let addrs = fields
        .iter()
        .find(|f| f.starts_with("addrs"))
        .unwrap_or_else(|| panic!("no addrs in: {summary}"));
    let (count_part, list) = addrs.split_once(": ").expect("addrs: list");
    let mut list_tokens = list.split(' ');
    let addresses: Vec<IpAddr> = list_tokens
        .next()
        .expect("address list")
        .split(',')
        .map(parse_ip)
        .collect();
    if let Some(count) = count_part
        .strip_prefix("addrs(")
        .and_then(|c| c.strip_suffix(')'))
    {
        assert_eq!(
            count.parse::<usize>().expect("addrs(N)"),
            addresses.len(),
            "{summary}"
        );
    }
    let auth = list
        .split_once("auth \"")
        .map(|(_, quoted)| quoted.trim_end_matches('"').to_owned());
    Printed {
        src: parse_ip(src),
        dst: parse_ip(dst),
        ttl,
        version,
        vrid: number(vrrp_part, "vrid "),
        priority: number(vrrp_part, "prio "),
        interval_cs,
        length: number(vrrp_part, "length "),
        addresses,
        authtype: field_after(vrrp_part, "authtype ").map(str::to_owned),
        auth,
    }
}

/// The IP header fields and VRRP payload of an Ethernet frame.
struct IpPacket<'a> {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    protocol: u8,
    payload: &'a [u8],
}

fn strip_headers(frame: &[u8]) -> Option<IpPacket<'_>> {
    let ethertype = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    let ip = frame.get(14..)?;
    match ethertype {
        0x0800 => {
            let header = Ipv4Header::parse(ip).expect("keepalived's IPv4 header parses");
            Some(IpPacket {
                src: header.src.into(),
                dst: header.dst.into(),
                ttl: header.ttl,
                protocol: header.protocol,
                payload: header.payload,
            })
        }
        0x86dd => {
            // RFC 8200 §3: fixed 40-byte header; keepalived sends no extension headers.
            assert_eq!(ip.first()? >> 4, 6, "IPv6 version nibble");
            let payload_len = usize::from(u16::from_be_bytes(ip.get(4..6)?.try_into().ok()?));
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            Some(IpPacket {
                src: Ipv6Addr::from(src).into(),
                dst: Ipv6Addr::from(dst).into(),
                ttl: *ip.get(7)?,
                protocol: *ip.get(6)?,
                payload: ip.get(40..40 + payload_len)?,
            })
        }
        _ => None,
    }
}

/// keepalived's `auth_pass` from the v2 config that produced the capture.
fn configured_auth_pass() -> String {
    let conf = read_vector_text("kv2.conf");
    conf.lines()
        .find_map(|l| l.trim().strip_prefix("auth_pass "))
        .map(|p| p.trim().to_owned())
        .expect("kv2.conf has an auth_pass")
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    v2: usize,
    v3_ipv4: usize,
    v3_ipv6: usize,
    v2_priority_0: usize,
    v3_ipv4_priority_0: usize,
    v3_ipv6_priority_0: usize,
}

/// Check one VRRP frame against what tcpdump printed; returns the decoded advert.
fn check_frame(frame: &Frame, printed: &Printed, auth_pass: &str) -> Advertisement {
    let at = format!("frame at line {}", frame.line);
    let ip = strip_headers(&frame.bytes).unwrap_or_else(|| panic!("{at}: not IP over Ethernet"));
    assert_eq!(ip.protocol, IP_PROTOCOL_VRRP, "{at}: protocol");
    assert_eq!(
        (ip.src, ip.dst),
        (printed.src, printed.dst),
        "{at}: addresses"
    );
    assert_eq!(ip.ttl, printed.ttl, "{at}: ttl/hlim");
    assert_eq!(ip.ttl, REQUIRED_TTL, "{at}: keepalived sends TTL 255");
    assert_eq!(ip.payload.len(), printed.length, "{at}: VRRP length");

    let advert = Advertisement::decode(ip.payload, ip.src, ip.dst)
        .unwrap_or_else(|e| panic!("{at}: decode failed: {e}"));
    assert_eq!(advert.version, printed.version, "{at}: version");
    assert_eq!(advert.vrid, printed.vrid, "{at}: vrid");
    assert_eq!(advert.priority, printed.priority, "{at}: prio");
    assert_eq!(advert.interval_cs, printed.interval_cs, "{at}: intvl");
    assert_eq!(advert.addresses, printed.addresses, "{at}: addrs");
    match (advert.version, printed.authtype.as_deref()) {
        (Version::V3, None) => assert_eq!(advert.auth, Auth::None, "{at}: v3 auth"),
        (Version::V2, Some("none")) => assert_eq!(advert.auth, Auth::None, "{at}: auth"),
        (Version::V2, Some("simple")) => {
            let shown = printed
                .auth
                .as_deref()
                .unwrap_or_else(|| panic!("{at}: simple auth without text"));
            let mut expected = [0u8; 8];
            for (slot, byte) in expected.iter_mut().zip(shown.bytes()) {
                *slot = byte;
            }
            assert_eq!(advert.auth, Auth::Simple(expected), "{at}: auth text");
            // keepalived cut the configured password to 8 bytes.
            assert_eq!(
                advert.auth,
                Auth::simple_from_str(auth_pass),
                "{at}: auth_pass {auth_pass:?} truncated"
            );
        }
        (version, authtype) => panic!("{at}: {version} with authtype {authtype:?}"),
    }

    assert_eq!(advert.encoded_len(), ip.payload.len(), "{at}: encoded_len");
    let mut buf = vec![0u8; advert.encoded_len()];
    let written = advert
        .encode(ip.src, ip.dst, &mut buf)
        .unwrap_or_else(|e| panic!("{at}: encode failed: {e}"));
    assert_eq!(written, ip.payload.len(), "{at}: bytes written");
    assert_eq!(buf, ip.payload, "{at}: re-encoded bytes differ");
    advert
}

fn vrrp_frames(frames: &[Frame]) -> Vec<(&Frame, Printed)> {
    frames
        .iter()
        .filter(|f| f.summary.contains("VRRP"))
        .map(|f| {
            assert!(
                f.summary.contains(": VRRPv"),
                "line {}: VRRP frame tcpdump did not decode: {}",
                f.line,
                f.summary
            );
            (f, parse_printed(&f.summary))
        })
        .collect()
}

#[test]
fn every_keepalived_frame_decodes_to_what_tcpdump_printed_and_re_encodes_identically() {
    let text = read_vector_text("keepalived-vrrp.txt");
    let frames = parse_tcpdump(&text);
    let auth_pass = configured_auth_pass();
    assert_eq!(
        auth_pass, "secretpass",
        "kv2.conf's password is longer than 8"
    );

    let mut tally = Tally::default();
    for (frame, printed) in vrrp_frames(&frames) {
        let advert = check_frame(frame, &printed, &auth_pass);
        let family = IpFamily::of(printed.src);
        let (count, zero) = match (advert.version, family) {
            (Version::V2, _) => (&mut tally.v2, &mut tally.v2_priority_0),
            (Version::V3, IpFamily::V4) => (&mut tally.v3_ipv4, &mut tally.v3_ipv4_priority_0),
            (Version::V3, IpFamily::V6) => (&mut tally.v3_ipv6, &mut tally.v3_ipv6_priority_0),
        };
        *count += 1;
        if advert.priority == 0 {
            *zero += 1;
        }
    }
    // The capture: kv2.conf's v2 instance (PASS auth, two VIPs), kv3.conf's
    // v3 IPv4 instance at 50 cs and v3 IPv6 instance with three addresses,
    // each ending with one priority-0 advert when keepalived stopped.
    assert_eq!(
        tally,
        Tally {
            v2: 4,
            v3_ipv4: 10,
            v3_ipv6: 4,
            v2_priority_0: 1,
            v3_ipv4_priority_0: 1,
            v3_ipv6_priority_0: 1,
        }
    );
    // The other frames are keepalived's gratuitous ARPs and unsolicited NAs.
    assert!(frames.len() > 18, "non-VRRP frames are present too");
}

#[test]
fn the_pcap_holds_the_same_frames_as_the_text() {
    let pcap = read_vector("keepalived-vrrp.pcap");
    let text = read_vector_text("keepalived-vrrp.txt");
    let frames = parse_tcpdump(&text);

    // Classic libpcap: 24-byte global header, then 16-byte record headers.
    let magic = pcap.get(..4).expect("pcap header");
    let little_endian = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] => false,
        other => panic!("not a microsecond libpcap file: magic {other:02x?}"),
    };
    let u32_at = |offset: usize| -> u32 {
        let bytes: [u8; 4] = pcap
            .get(offset..offset + 4)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_else(|| panic!("pcap truncated at {offset}"));
        if little_endian {
            u32::from_le_bytes(bytes)
        } else {
            u32::from_be_bytes(bytes)
        }
    };
    assert_eq!(u32_at(20), 1, "link type Ethernet");
    let mut records = Vec::new();
    let mut offset = 24;
    while offset < pcap.len() {
        let captured = usize::try_from(u32_at(offset + 8)).expect("length");
        let original = usize::try_from(u32_at(offset + 12)).expect("length");
        assert_eq!(captured, original, "record at {offset} was cut by snaplen");
        let start = offset + 16;
        let data = pcap
            .get(start..start + captured)
            .unwrap_or_else(|| panic!("pcap record at {offset} truncated"));
        records.push(data);
        offset = start + captured;
    }
    assert_eq!(records.len(), frames.len(), "frame count, pcap vs text");
    for (record, frame) in records.iter().zip(&frames) {
        assert_eq!(
            *record,
            &frame.bytes[..],
            "frame at line {} differs from the pcap",
            frame.line
        );
    }
    // And every VRRP frame of the capture decodes and re-encodes byte for byte.
    let vrrp = records
        .iter()
        .filter_map(|r| strip_headers(r))
        .filter(|p| p.protocol == IP_PROTOCOL_VRRP)
        .map(|p| {
            let advert = Advertisement::decode(p.payload, p.src, p.dst).expect("decodes");
            let mut buf = vec![0u8; advert.encoded_len()];
            advert.encode(p.src, p.dst, &mut buf).expect("encodes");
            assert_eq!(buf, p.payload);
        })
        .count();
    assert_eq!(vrrp, 18);
}

#[test]
fn corrupting_any_bit_of_a_captured_frame_is_detected() {
    let text = read_vector_text("keepalived-vrrp.txt");
    let frames = parse_tcpdump(&text);
    let mut checked = 0;
    for (frame, _) in vrrp_frames(&frames) {
        let ip = strip_headers(&frame.bytes).expect("IP");
        let mut payload = ip.payload.to_vec();
        for bit in 0..payload.len() * 8 {
            let (byte, mask) = (bit / 8, 1u8 << (bit % 8));
            payload[byte] ^= mask;
            assert!(
                Advertisement::decode(&payload, ip.src, ip.dst).is_err(),
                "frame at line {}: flipping bit {bit} went unnoticed",
                frame.line
            );
            payload[byte] ^= mask;
            checked += 1;
        }
    }
    assert!(checked > 1000, "{checked} bit flips checked");
}
