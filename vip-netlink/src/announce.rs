//! Announcing a takeover: gratuitous ARP (IPv4) and unsolicited neighbour
//! advertisements (IPv6), in the forms keepalived 2.2.7 sends, with
//! keepalived's `garp_master_*` timing.
//!
//! The frame builders are pure functions; [`AnnounceSchedule`] is a sans-IO
//! timer (time comes in as an argument); [`Announcer`] sends through a packet
//! socket bound to the interface.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use vrrp_core::packet::InternetChecksum;

use crate::error::Error;
use crate::netlink::Interface;
use crate::packet_socket::PacketSocket;

/// Length of a gratuitous ARP frame (Ethernet header + ARP, no padding).
pub const GARP_FRAME_LEN: usize = 42;
/// Length of an unsolicited NA frame (Ethernet + IPv6 + ICMPv6 NA + option).
pub const NA_FRAME_LEN: usize = 86;

const BROADCAST_MAC: [u8; 6] = [0xff; 6];
/// ff02::1 mapped to Ethernet (RFC 2464 §7).
const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
/// NA flags: Override only (RFC 4861 §4.4). Not Solicited (nobody asked),
/// not Router (a VIP holder is a host here) — as keepalived sends.
const NA_FLAG_OVERRIDE: u8 = 0x20;
/// NDP option "target link-layer address" (RFC 4861 §4.6.1).
const OPTION_TARGET_LINK_LAYER: u8 = 2;
const IP_PROTOCOL_ICMPV6: u8 = 58;

/// A gratuitous ARP for `ip` from `mac`: the ARP-*request* form keepalived
/// sends (RFC 5227 §3 "ARP Announcement" style, with a broadcast target
/// hardware address): Ethernet broadcast, sender IP = target IP = `ip`,
/// target MAC ff:ff:ff:ff:ff:ff.
pub fn gratuitous_arp(mac: [u8; 6], ip: Ipv4Addr) -> [u8; GARP_FRAME_LEN] {
    let mut frame = [0u8; GARP_FRAME_LEN];
    let ip = ip.octets();
    let parts: [&[u8]; 11] = [
        &BROADCAST_MAC, // Ethernet destination
        &mac,           // Ethernet source
        &[0x08, 0x06],  // EtherType ARP
        &[0x00, 0x01],  // hardware type Ethernet
        &[0x08, 0x00],  // protocol type IPv4
        &[6, 4],        // hardware and protocol address lengths
        &[0x00, 0x01],  // operation: request
        &mac,           // sender hardware address
        &ip,            // sender protocol address
        &BROADCAST_MAC, // target hardware address
        &ip,            // target protocol address
    ];
    write_parts(&mut frame, &parts);
    frame
}

/// An unsolicited neighbour advertisement for `target` from `mac` (RFC 4861
/// §7.2.6): source address `target`, destination ff02::1, hop limit 255,
/// Override flag, target link-layer address option, checksum filled in.
pub fn unsolicited_neighbour_advert(mac: [u8; 6], target: Ipv6Addr) -> [u8; NA_FRAME_LEN] {
    const ICMP_LEN: u16 = 32;
    let target_octets = target.octets();
    let mut icmp = [0u8; ICMP_LEN as usize];
    let icmp_parts: [&[u8]; 7] = [
        &[ICMPV6_NEIGHBOR_ADVERT, 0], // type, code
        &[0, 0],                      // checksum, filled below
        &[NA_FLAG_OVERRIDE, 0, 0, 0], // flags + reserved
        &target_octets,
        &[OPTION_TARGET_LINK_LAYER, 1], // option type, length in 8-byte units
        &mac,
        &[],
    ];
    write_parts(&mut icmp, &icmp_parts);
    // RFC 4443 §2.3: the checksum covers the IPv6 pseudo-header (RFC 8200 §8.1).
    let checksum = InternetChecksum::new()
        .add(&target_octets)
        .add(&ALL_NODES.octets())
        .add(&u32::from(ICMP_LEN).to_be_bytes())
        .add(&[0, 0, 0, IP_PROTOCOL_ICMPV6])
        .add(&icmp)
        .finish();
    let [hi, lo] = checksum.to_be_bytes();
    icmp[2] = hi;
    icmp[3] = lo;

    let mut frame = [0u8; NA_FRAME_LEN];
    let parts: [&[u8]; 9] = [
        &ALL_NODES_MAC,
        &mac,
        &[0x86, 0xdd],              // EtherType IPv6
        &[0x60, 0, 0, 0],           // version 6, traffic class 0, flow label 0
        &ICMP_LEN.to_be_bytes(),    // payload length
        &[IP_PROTOCOL_ICMPV6, 255], // next header, hop limit (RFC 4861 §7.1.2)
        &target_octets,             // source: the address being announced
        &ALL_NODES.octets(),
        &icmp,
    ];
    write_parts(&mut frame, &parts);
    frame
}

/// Copies `parts` one after another into `frame` (whose length is their sum).
fn write_parts(frame: &mut [u8], parts: &[&[u8]]) {
    let mut rest = frame;
    for part in parts {
        let (head, tail) = rest.split_at_mut(part.len().min(rest.len()));
        head.copy_from_slice(part.get(..head.len()).unwrap_or_default());
        rest = tail;
    }
}

/// The Ethernet frame announcing `addr` from `mac`: a GARP or an NA.
pub fn announcement_frame(mac: [u8; 6], addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(v4) => gratuitous_arp(mac, v4).to_vec(),
        IpAddr::V6(v6) => unsolicited_neighbour_advert(mac, v6).to_vec(),
    }
}

/// keepalived's gratuitous-ARP settings, with its defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarpConfig {
    /// Delay of the second set of announcements after becoming master
    /// (`garp_master_delay`, default 5 s; zero = no second set).
    pub master_delay: Duration,
    /// Announcements per address in each of those two sets
    /// (`garp_master_repeat`, default 5).
    pub master_repeat: u32,
    /// Period of refresh announcements while master (`garp_master_refresh`,
    /// default zero = none).
    pub master_refresh: Duration,
    /// Announcements per address in each refresh (`garp_master_refresh_repeat`,
    /// default 1).
    pub master_refresh_repeat: u32,
    /// Pause between two gratuitous ARPs (`garp_interval`, default 0).
    pub garp_interval: Duration,
    /// Pause between two neighbour advertisements (`gna_interval`, default 0).
    pub gna_interval: Duration,
}

impl Default for GarpConfig {
    fn default() -> GarpConfig {
        GarpConfig {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
            garp_interval: Duration::ZERO,
            gna_interval: Duration::ZERO,
        }
    }
}

/// When to announce while master, as keepalived does: a set of
/// `master_repeat` rounds on becoming master, a second set `master_delay`
/// later, then `master_refresh_repeat` rounds every `master_refresh`.
///
/// Sans-IO: the driver calls [`AnnounceSchedule::poll`] with the current
/// time (at least when [`AnnounceSchedule::poll_timeout`] is reached) and
/// sends the rounds it returns; it drops the schedule on leaving MASTER.
///
/// ```
/// use std::time::{Duration, Instant};
/// use vip_netlink::announce::{AnnounceSchedule, GarpConfig};
///
/// let t0 = Instant::now();
/// let mut schedule = AnnounceSchedule::new(t0, &GarpConfig::default());
/// assert_eq!(schedule.poll(t0), Some(5)); // 5 rounds at once
/// assert_eq!(schedule.poll(t0), None);
/// assert_eq!(schedule.poll_timeout(), Some(t0 + Duration::from_secs(5)));
/// assert_eq!(schedule.poll(t0 + Duration::from_secs(5)), Some(5));
/// assert_eq!(schedule.poll_timeout(), None); // no refresh by default
/// ```
#[derive(Debug, Clone)]
pub struct AnnounceSchedule {
    config: GarpConfig,
    /// Next burst: when, and how many rounds.
    next: Option<(Instant, u32)>,
    /// Whether the delayed second set is still to come after `next`.
    second_set_pending: bool,
    /// When the next refresh is due, if refreshing.
    next_refresh: Option<Instant>,
}

impl AnnounceSchedule {
    /// The schedule of a router that became master at `now`.
    pub fn new(now: Instant, config: &GarpConfig) -> AnnounceSchedule {
        let next_refresh = (!config.master_refresh.is_zero() && config.master_refresh_repeat > 0)
            .then(|| now.checked_add(config.master_refresh))
            .flatten();
        AnnounceSchedule {
            config: config.clone(),
            next: (config.master_repeat > 0).then_some((now, config.master_repeat)),
            second_set_pending: !config.master_delay.is_zero() && config.master_repeat > 0,
            next_refresh,
        }
    }

    /// When the next announcement is due, or `None` if none ever will be.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let burst = self.next.map(|(at, _)| at);
        match (burst, self.next_refresh) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// How many rounds to send now (each round announces every address
    /// once), or `None` when nothing is due. Bursts that fall due together
    /// are summed, so a late poll loses nothing.
    pub fn poll(&mut self, now: Instant) -> Option<u32> {
        let mut rounds: u32 = 0;
        if let Some((at, repeat)) = self.next
            && at <= now
        {
            rounds = rounds.saturating_add(repeat);
            self.next = None;
            if self.second_set_pending {
                self.second_set_pending = false;
                self.next = at
                    .checked_add(self.config.master_delay)
                    .map(|later| (later, self.config.master_repeat));
                if let Some((later, repeat)) = self.next
                    && later <= now
                {
                    rounds = rounds.saturating_add(repeat);
                    self.next = None;
                }
            }
        }
        if let Some(at) = self.next_refresh
            && at <= now
        {
            rounds = rounds.saturating_add(self.config.master_refresh_repeat);
            // The next refresh counts from now, not from `at`: a driver that
            // was late does not get a catch-up storm.
            self.next_refresh = now.checked_add(self.config.master_refresh);
        }
        (rounds > 0).then_some(rounds)
    }
}

/// Sends GARPs and NAs for the addresses of one interface.
#[derive(Debug)]
pub struct Announcer {
    socket: PacketSocket,
    mac: [u8; 6],
    interface: String,
}

impl Announcer {
    /// Opens a send-only packet socket on `interface` (from
    /// [`crate::Netlink::interface`]); the frames carry its MAC address.
    pub fn open(interface: &Interface) -> Result<Announcer, Error> {
        let mac = interface.mac.ok_or_else(|| Error::MissingAddress {
            interface: interface.name.clone(),
            what: "Ethernet address",
        })?;
        let socket = PacketSocket::sender(interface.index)
            .map_err(|e| Error::socket(&interface.name, "open packet socket", e))?;
        Ok(Announcer {
            socket,
            mac,
            interface: interface.name.clone(),
        })
    }

    /// The MAC address the announcements carry.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Sends `rounds` rounds; each round announces every address of
    /// `addresses` once, in order (as keepalived interleaves them), pausing
    /// `garp_interval` / `gna_interval` after each frame. Returns the number
    /// of frames sent.
    pub async fn announce(
        &self,
        addresses: &[IpAddr],
        rounds: u32,
        config: &GarpConfig,
    ) -> Result<usize, Error> {
        let mut sent = 0;
        for _ in 0..rounds {
            for &addr in addresses {
                self.send_one(addr).await?;
                sent += 1;
                let pause = match addr {
                    IpAddr::V4(_) => config.garp_interval,
                    IpAddr::V6(_) => config.gna_interval,
                };
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
        }
        Ok(sent)
    }

    /// Sends one announcement for `addr`.
    pub async fn send_one(&self, addr: IpAddr) -> Result<(), Error> {
        let frame = announcement_frame(self.mac, addr);
        let operation = match addr {
            IpAddr::V4(_) => "send gratuitous ARP",
            IpAddr::V6(_) => "send neighbour advertisement",
        };
        self.socket
            .send(&frame)
            .await
            .map_err(|e| Error::socket(&self.interface, operation, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(delay: u64, repeat: u32, refresh: u64, refresh_repeat: u32) -> GarpConfig {
        GarpConfig {
            master_delay: Duration::from_secs(delay),
            master_repeat: repeat,
            master_refresh: Duration::from_secs(refresh),
            master_refresh_repeat: refresh_repeat,
            ..GarpConfig::default()
        }
    }

    #[test]
    fn keepalived_defaults() {
        let c = GarpConfig::default();
        assert_eq!(c, config(5, 5, 0, 1));
    }

    #[test]
    fn two_sets_then_refreshes() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut sched = AnnounceSchedule::new(t0, &config(5, 3, 60, 2));
        assert_eq!(sched.poll_timeout(), Some(t0));
        assert_eq!(sched.poll(t0), Some(3));
        assert_eq!(sched.poll(t0 + s(4)), None);
        assert_eq!(sched.poll_timeout(), Some(t0 + s(5)));
        assert_eq!(sched.poll(t0 + s(5)), Some(3));
        assert_eq!(sched.poll_timeout(), Some(t0 + s(60)));
        assert_eq!(sched.poll(t0 + s(59)), None);
        assert_eq!(sched.poll(t0 + s(61)), Some(2));
        assert_eq!(sched.poll_timeout(), Some(t0 + s(121)));
    }

    #[test]
    fn no_second_set_when_delay_is_zero() {
        let t0 = Instant::now();
        let mut sched = AnnounceSchedule::new(t0, &config(0, 5, 0, 1));
        assert_eq!(sched.poll(t0), Some(5));
        assert_eq!(sched.poll_timeout(), None);
        assert_eq!(sched.poll(t0 + Duration::from_secs(100)), None);
    }

    #[test]
    fn late_poll_sums_due_bursts() {
        let t0 = Instant::now();
        let mut sched = AnnounceSchedule::new(t0, &config(5, 5, 0, 1));
        assert_eq!(sched.poll(t0 + Duration::from_secs(6)), Some(10));
        assert_eq!(sched.poll_timeout(), None);
    }

    #[test]
    fn zero_repeat_announces_nothing() {
        let t0 = Instant::now();
        let mut sched = AnnounceSchedule::new(t0, &config(5, 0, 0, 1));
        assert_eq!(sched.poll_timeout(), None);
        assert_eq!(sched.poll(t0 + Duration::from_secs(10)), None);
    }

    #[test]
    fn na_checksum_verifies() {
        let frame = unsolicited_neighbour_advert(
            [0x02, 0x68, 0x6c, 0, 0, 0x0b],
            "2001:db8::200".parse().unwrap(),
        );
        // Summing the pseudo-header and the ICMPv6 message including its
        // checksum gives zero (RFC 1071).
        let icmp = &frame[54..];
        let sum = InternetChecksum::new()
            .add(&frame[22..38])
            .add(&frame[38..54])
            .add(&32u32.to_be_bytes())
            .add(&[0, 0, 0, 58])
            .add(icmp)
            .finish();
        assert_eq!(sum, 0);
    }
}
