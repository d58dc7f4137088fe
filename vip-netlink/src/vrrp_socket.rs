//! Raw IP-protocol-112 sockets carrying VRRP advertisements, one per
//! (interface, address family), non-blocking under tokio.
//!
//! - Multicast mode joins 224.0.0.18 / ff02::12 on the interface (RFC 3768
//!   §5.2.2, RFC 5798 §5.1.1.2) and sends there.
//! - Unicast mode (keepalived's `unicast_peer`) sends to every peer and drops,
//!   counting them, packets whose source is not a peer.
//! - Sends with TTL / hop limit 255 (RFC 5798 §5.1.1.3) and reports the TTL /
//!   hop limit of what arrives (the IPv4 header for IPv4, IPV6_HOPLIMIT
//!   ancillary data for IPv6), which vrrp-core checks (§7.1).
//! - The source address is set on every send (IP_PKTINFO / IPV6_PKTINFO): the
//!   advert checksum of VRRPv3 covers it, so it must be the one the caller
//!   computed with — for IPv6 the interface's link-local address (§5.1.2.1).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn, SockaddrIn6, recvmsg, sendmsg,
    setsockopt, sockopt,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockRef, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use vrrp_core::packet::{IP_PROTOCOL_VRRP, Ipv4Header, MULTICAST_V4, MULTICAST_V6, REQUIRED_TTL};

use crate::error::Error;
use crate::netlink::Interface;

/// DSCP "network control" (CS6), the traffic class keepalived uses for adverts.
const TOS_NETWORK_CONTROL: u32 = 0xc0;

/// Largest VRRP payload: header, 255 IPv6 addresses, v2 auth data.
const MAX_PAYLOAD: usize = 8 + 255 * 16 + 8;
/// Receive buffer: the payload plus the largest IPv4 header.
const RECV_BUFFER: usize = MAX_PAYLOAD + 60;

/// One VRRP packet as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPacket {
    /// Source address of the IP packet.
    pub src: IpAddr,
    /// Destination address (the group, or this node's address in unicast mode).
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit as received (must be 255 to be valid).
    pub ttl: u8,
    /// The VRRP message (what `vrrp_core::Advertisement` decodes).
    pub payload: Vec<u8>,
}

/// Where a [`VrrpSocket`] sends, and whom it hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peers {
    /// The VRRP multicast group of the family.
    Multicast,
    /// These unicast addresses only (keepalived's `unicast_peer`).
    Unicast(Vec<IpAddr>),
}

/// Counters of packets the socket discarded before the caller saw them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketCounters {
    /// Unicast mode: source not in the peer list.
    pub dropped_not_peer: u64,
    /// Malformed: an IPv4 header vrrp-core's parser refuses (length,
    /// fragment, checksum), or a truncated or ancillary-data-less IPv6 packet.
    pub dropped_malformed: u64,
}

/// A raw VRRP socket bound to one interface and address family.
#[derive(Debug)]
pub struct VrrpSocket {
    /// The raw socket, registered with tokio through `UdpSocket` (a safe
    /// readiness wrapper; all I/O is done with `async_io` and nix/socket2).
    fd: UdpSocket,
    interface: String,
    ifindex: u32,
    source: IpAddr,
    peers: Peers,
    dropped_not_peer: AtomicU64,
    dropped_malformed: AtomicU64,
}

impl VrrpSocket {
    /// Opens a socket on `interface` for the family of `source`, which is
    /// the source address of everything sent (keepalived's `unicast_src_ip`,
    /// else the interface's primary IPv4 address or its IPv6 link-local
    /// address: see [`crate::Netlink::primary_ipv4`] and
    /// [`crate::Netlink::link_local_ipv6`]).
    ///
    /// Must be called inside a tokio runtime, from a thread in the
    /// interface's network namespace.
    pub fn open(interface: &Interface, source: IpAddr, peers: Peers) -> Result<VrrpSocket, Error> {
        let name = interface.name.as_str();
        if let Peers::Unicast(list) = &peers
            && let Some(&bad) = list.iter().find(|p| p.is_ipv4() != source.is_ipv4())
        {
            return Err(Error::AddressFamily {
                interface: name.to_owned(),
                address: bad,
                family: family_name(source),
            });
        }
        let socket = open_socket(interface, source, &peers)
            .map_err(|(operation, e)| Error::socket(name, operation, e))?;
        let fd = UdpSocket::from_std(std::net::UdpSocket::from(socket))
            .map_err(|e| Error::socket(name, "register VRRP socket", e))?;
        Ok(VrrpSocket {
            fd,
            interface: interface.name.clone(),
            ifindex: interface.index,
            source,
            peers,
            dropped_not_peer: AtomicU64::new(0),
            dropped_malformed: AtomicU64::new(0),
        })
    }

    /// The source address of what this socket sends (for the v3 checksum).
    pub fn source(&self) -> IpAddr {
        self.source
    }

    /// The interface name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The peers (multicast or the unicast list).
    pub fn peers(&self) -> &Peers {
        &self.peers
    }

    /// Where [`VrrpSocket::send`] sends: the group, or every unicast peer.
    pub fn destinations(&self) -> Vec<IpAddr> {
        match &self.peers {
            Peers::Multicast if self.source.is_ipv4() => vec![IpAddr::V4(MULTICAST_V4)],
            Peers::Multicast => vec![IpAddr::V6(MULTICAST_V6)],
            Peers::Unicast(list) => list.clone(),
        }
    }

    /// Packets discarded so far.
    pub fn counters(&self) -> SocketCounters {
        SocketCounters {
            dropped_not_peer: self.dropped_not_peer.load(Ordering::Relaxed),
            dropped_malformed: self.dropped_malformed.load(Ordering::Relaxed),
        }
    }

    /// Sends `payload` (an encoded advertisement) to every destination.
    pub async fn send(&self, payload: &[u8]) -> Result<(), Error> {
        for dst in self.destinations() {
            self.send_to(payload, dst).await?;
        }
        Ok(())
    }

    /// Sends `payload` to one destination, from [`VrrpSocket::source`].
    pub async fn send_to(&self, payload: &[u8], dst: IpAddr) -> Result<(), Error> {
        if dst.is_ipv4() != self.source.is_ipv4() {
            return Err(Error::AddressFamily {
                interface: self.interface.clone(),
                address: dst,
                family: family_name(self.source),
            });
        }
        let ifindex = self.ifindex;
        let source = self.source;
        self.fd
            .async_io(Interest::WRITABLE, || {
                send_one(self.fd.as_raw_fd(), payload, source, dst, ifindex)
            })
            .await
            .map_err(|e| Error::socket(&self.interface, "send VRRP advert", e))
    }

    /// Receives the next packet, skipping (and counting) those from
    /// non-peers in unicast mode and malformed ones.
    pub async fn recv(&self) -> Result<ReceivedPacket, Error> {
        loop {
            let received = self
                .fd
                .async_io(Interest::READABLE, || match self.source {
                    IpAddr::V4(_) => recv_v4(&SockRef::from(&self.fd)),
                    IpAddr::V6(_) => recv_v6(self.fd.as_raw_fd()),
                })
                .await
                .map_err(|e| Error::socket(&self.interface, "receive VRRP advert", e))?;
            let Some(packet) = received else {
                self.dropped_malformed.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            if let Peers::Unicast(list) = &self.peers
                && !list.contains(&packet.src)
            {
                self.dropped_not_peer.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            return Ok(packet);
        }
    }
}

fn family_name(addr: IpAddr) -> &'static str {
    if addr.is_ipv4() { "IPv4" } else { "IPv6" }
}

fn open_socket(
    interface: &Interface,
    source: IpAddr,
    peers: &Peers,
) -> Result<Socket, (&'static str, io::Error)> {
    let protocol = Some(Protocol::from(i32::from(IP_PROTOCOL_VRRP)));
    let hops = u32::from(REQUIRED_TTL);
    let multicast = *peers == Peers::Multicast;
    let socket = match source {
        IpAddr::V4(_) => {
            let socket = Socket::new(Domain::IPV4, Type::RAW, protocol)
                .map_err(at("open raw IPv4 socket"))?;
            socket.set_ttl_v4(hops).map_err(at("set TTL 255"))?;
            socket
                .set_multicast_ttl_v4(hops)
                .map_err(at("set multicast TTL 255"))?;
            socket
                .set_multicast_loop_v4(false)
                .map_err(at("disable multicast loop"))?;
            socket
                .set_tos_v4(TOS_NETWORK_CONTROL)
                .map_err(at("set TOS"))?;
            if multicast {
                socket
                    .join_multicast_v4_n(
                        &MULTICAST_V4,
                        &InterfaceIndexOrAddress::Index(interface.index),
                    )
                    .map_err(at("join 224.0.0.18"))?;
            }
            socket
        }
        IpAddr::V6(_) => {
            let socket = Socket::new(Domain::IPV6, Type::RAW, protocol)
                .map_err(at("open raw IPv6 socket"))?;
            socket
                .set_unicast_hops_v6(hops)
                .map_err(at("set hop limit 255"))?;
            socket
                .set_multicast_hops_v6(hops)
                .map_err(at("set multicast hop limit 255"))?;
            socket
                .set_multicast_loop_v6(false)
                .map_err(at("disable multicast loop"))?;
            socket
                .set_multicast_if_v6(interface.index)
                .map_err(at("set multicast interface"))?;
            socket
                .set_tclass_v6(TOS_NETWORK_CONTROL)
                .map_err(at("set traffic class"))?;
            // RFC 5798 §5.1.2.3 / §7.1: the hop limit must be checked, and
            // only ancillary data tells it for IPv6; PKTINFO tells the
            // destination (group or unicast).
            setsockopt(&socket, sockopt::Ipv6RecvHopLimit, &true)
                .map_err(|e| ("request IPV6_HOPLIMIT", io::Error::from(e)))?;
            setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true)
                .map_err(|e| ("request IPV6_PKTINFO", io::Error::from(e)))?;
            if multicast {
                socket
                    .join_multicast_v6(&MULTICAST_V6, interface.index)
                    .map_err(at("join ff02::12"))?;
            }
            socket
        }
    };
    // Only this interface's packets in, and out through it only.
    socket
        .bind_device(Some(interface.name.as_bytes()))
        .map_err(at("bind to interface"))?;
    socket
        .set_nonblocking(true)
        .map_err(at("set non-blocking"))?;
    Ok(socket)
}

fn at(operation: &'static str) -> impl Fn(io::Error) -> (&'static str, io::Error) {
    move |e| (operation, e)
}

fn send_one(fd: i32, payload: &[u8], source: IpAddr, dst: IpAddr, ifindex: u32) -> io::Result<()> {
    let iov = [IoSlice::new(payload)];
    let ifindex_int = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index too large"))?;
    let sent = match (source, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let info = libc::in_pktinfo {
                ipi_ifindex: ifindex_int,
                ipi_spec_dst: libc::in_addr {
                    s_addr: u32::from(src).to_be(),
                },
                ipi_addr: libc::in_addr { s_addr: 0 },
            };
            let to = SockaddrIn::from(SocketAddrV4::new(dst, 0));
            sendmsg(
                fd,
                &iov,
                &[ControlMessage::Ipv4PacketInfo(&info)],
                MsgFlags::empty(),
                Some(&to),
            )?
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let info = libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr {
                    s6_addr: src.octets(),
                },
                ipi6_ifindex: ifindex,
            };
            // Link-scope destinations (ff02::12, fe80::…) need the zone.
            let scope = if dst.is_multicast() || dst.is_unicast_link_local() {
                ifindex
            } else {
                0
            };
            let to = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, scope));
            sendmsg(
                fd,
                &iov,
                &[ControlMessage::Ipv6PacketInfo(&info)],
                MsgFlags::empty(),
                Some(&to),
            )?
        }
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "source and destination of different families",
            ));
        }
    };
    if sent == payload.len() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("sent {sent} of {} bytes", payload.len()),
        ))
    }
}

/// An IPv4 raw socket delivers the IP header too: vrrp-core's checked
/// parser gives source, destination and TTL. `Ok(None)` = malformed.
fn recv_v4(mut socket: &Socket) -> io::Result<Option<ReceivedPacket>> {
    let mut buf = vec![0u8; RECV_BUFFER];
    let n = io::Read::read(&mut socket, &mut buf)?;
    Ok(buf.get(..n).and_then(|packet| {
        let header = Ipv4Header::parse(packet).ok()?;
        (header.protocol == IP_PROTOCOL_VRRP).then(|| ReceivedPacket {
            src: IpAddr::V4(header.src),
            dst: IpAddr::V4(header.dst),
            ttl: header.ttl,
            payload: header.payload.to_vec(),
        })
    }))
}

/// An IPv6 raw socket delivers only the payload; source from the address,
/// hop limit and destination from ancillary data. `Ok(None)` = malformed.
fn recv_v6(fd: i32) -> io::Result<Option<ReceivedPacket>> {
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut cmsg = nix::cmsg_space!(libc::c_int, libc::in6_pktinfo);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let message = recvmsg::<SockaddrIn6>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty())?;
    if message.flags.contains(MsgFlags::MSG_TRUNC) {
        return Ok(None);
    }
    let Some(from) = message.address else {
        return Ok(None);
    };
    let mut ttl = None;
    let mut dst = None;
    for control in message.cmsgs()? {
        match control {
            ControlMessageOwned::Ipv6HopLimit(limit) => ttl = u8::try_from(limit).ok(),
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
            }
            _ => {}
        }
    }
    let bytes = message.bytes;
    let (Some(ttl), Some(dst)) = (ttl, dst) else {
        return Ok(None);
    };
    Ok(buf.get(..bytes).map(|payload| ReceivedPacket {
        src: IpAddr::V6(from.ip()),
        dst: IpAddr::V6(dst),
        ttl,
        payload: payload.to_vec(),
    }))
}
