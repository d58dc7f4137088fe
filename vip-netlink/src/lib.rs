//! Everything in had that touches the kernel's network stack: virtual
//! addresses over rtnetlink, gratuitous ARP and unsolicited neighbour
//! advertisements, link-state watching and the raw VRRP sockets.
//!
//! The pieces, in the order a VRRP driver uses them:
//! - [`Netlink`]: look up an [`Interface`], list / add / remove
//!   [`InterfaceAddress`]es idempotently, remove VIPs left behind by a
//!   killed keepalived ([`Netlink::remove_leftovers`]).
//! - [`VrrpSocket`]: raw IP-protocol-112 socket per interface and family,
//!   multicast or unicast peers, TTL 255 out, TTL reported in.
//! - [`Announcer`] and [`AnnounceSchedule`]: GARP / unsolicited NA on
//!   takeover, timed as keepalived's `garp_master_*`.
//! - [`LinkWatcher`]: link up/down events for FAULT handling.
//! - `lab` (feature `lab`): the network-namespace lab for tests.
//!
//! Every socket and rtnetlink connection lives in the network namespace of
//! the thread that created it.
//!
//! ```no_run
//! use vip_netlink::{Netlink, InterfaceAddress, Announcer, VrrpSocket, Peers};
//!
//! # async fn demo() -> Result<(), vip_netlink::Error> {
//! let netlink = Netlink::connect()?;
//! let eth0 = netlink.interface("eth0").await?;
//! let vip: InterfaceAddress = "198.18.0.200/24".parse()?;
//! netlink.add_address("eth0", &vip).await?; // Ok even if already there
//! Announcer::open(&eth0)?.announce(&[vip.addr], 5, &Default::default()).await?;
//!
//! let source = netlink.primary_ipv4("eth0").await?.expect("eth0 has IPv4");
//! let socket = VrrpSocket::open(&eth0, source, Peers::Multicast)?;
//! let packet = socket.recv().await?; // src, dst, ttl, payload
//! # let _ = packet; Ok(()) }
//! ```

pub mod announce;
mod error;
pub mod link;
pub mod netlink;
pub mod packet_socket;
pub mod vrrp_socket;

#[cfg(feature = "lab")]
pub mod lab;

pub use announce::{AnnounceSchedule, Announcer, GarpConfig};
pub use error::Error;
pub use link::{LinkEvent, LinkState, LinkWatcher};
pub use netlink::{AddOutcome, Interface, InterfaceAddress, Netlink, RemoveOutcome};
pub use packet_socket::PacketSocket;
pub use vrrp_socket::{Peers, ReceivedPacket, SocketCounters, VrrpSocket};
