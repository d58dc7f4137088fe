//! AF_PACKET sockets bound to one interface: whole Ethernet frames out (the
//! announcements) and in (captures, for tests and diagnostics).
//!
//! This is the crate's only `unsafe` code, and why: binding a packet socket
//! to an interface needs a `sockaddr_ll`, and neither socket2 nor nix offers
//! a safe constructor for one (socket2's `SockAddr` is built from raw
//! storage, nix's `LinkAddr` only from a raw pointer). The unsafe block below
//! writes the plain-data fields of a zeroed `sockaddr_storage`, which is
//! larger and at least as aligned as `sockaddr_ll`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, SockAddrStorage, SockRef, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// `ETH_P_ALL`: every protocol (captures).
pub const ETH_P_ALL: u16 = 0x0003;
/// `ETH_P_ARP`.
pub const ETH_P_ARP: u16 = 0x0806;
/// `ETH_P_IPV6`.
pub const ETH_P_IPV6: u16 = 0x86dd;

/// A raw (`SOCK_RAW`) packet socket bound to one interface, non-blocking under tokio.
#[derive(Debug)]
pub struct PacketSocket {
    /// tokio's UdpSocket only serves as a safe readiness wrapper for the
    /// packet socket's descriptor; every I/O goes through `async_io` with
    /// socket2 calls, so no UDP semantics are assumed.
    fd: UdpSocket,
    ifindex: u32,
}

impl PacketSocket {
    /// A socket that only sends: bound to `ifindex` with protocol 0, so the
    /// kernel queues no received frames on it.
    pub fn sender(ifindex: u32) -> io::Result<PacketSocket> {
        PacketSocket::open(ifindex, 0)
    }

    /// A socket that receives every frame of `ethertype` (e.g. [`ETH_P_ALL`])
    /// seen on `ifindex`, in both directions, and can send too.
    pub fn capture(ifindex: u32, ethertype: u16) -> io::Result<PacketSocket> {
        PacketSocket::open(ifindex, ethertype)
    }

    fn open(ifindex: u32, ethertype: u16) -> io::Result<PacketSocket> {
        // The protocol of a packet socket is in network byte order.
        let protocol = i32::from(ethertype.to_be());
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(protocol)))?;
        socket.bind(&link_address(ifindex, ethertype)?)?;
        socket.set_nonblocking(true)?;
        Ok(PacketSocket {
            fd: UdpSocket::from_std(std::net::UdpSocket::from(socket))?,
            ifindex,
        })
    }

    /// The interface index the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends one complete Ethernet frame (header included) on the interface.
    pub async fn send(&self, frame: &[u8]) -> io::Result<()> {
        let sent = self
            .fd
            .async_io(Interest::WRITABLE, || SockRef::from(&self.fd).send(frame))
            .await?;
        if sent == frame.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("sent {sent} of {} bytes", frame.len()),
            ))
        }
    }

    /// Receives one frame into `buf`; returns its length (truncated to `buf`).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd
            .async_io(Interest::READABLE, || {
                // `Read for &Socket` receives into initialised memory.
                io::Read::read(&mut &*SockRef::from(&self.fd), buf)
            })
            .await
    }

    /// The raw file descriptor (for diagnostics).
    pub fn as_raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

/// A `sockaddr_ll` for `ifindex` and `ethertype`.
fn link_address(ifindex: u32, ethertype: u16) -> io::Result<SockAddr> {
    let ifindex = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index too large"))?;
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: `SockAddrStorage` wraps `sockaddr_storage`, which is at least as
    // large and as aligned as `sockaddr_ll`; all its fields are integers or
    // byte arrays, for which the zeroed bytes are valid values.
    let address = unsafe { storage.view_as::<libc::sockaddr_ll>() };
    address.sll_family = libc::AF_PACKET as libc::sa_family_t;
    address.sll_protocol = ethertype.to_be();
    address.sll_ifindex = ifindex;
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the storage holds an initialised `sockaddr_ll` of `len` bytes.
    Ok(unsafe { SockAddr::new(storage, len) })
}
