//! Everything in had that touches the kernel's network stack: virtual
//! addresses over rtnetlink, gratuitous ARP and unsolicited neighbour
//! advertisements, link-state watching and the raw VRRP sockets.

#[cfg(feature = "lab")]
pub mod lab;
