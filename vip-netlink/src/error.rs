//! The one error type at vip-netlink's public boundary.

use std::io;
use std::net::IpAddr;

/// Everything that can go wrong talking to the kernel's network stack.
///
/// Every variant names the interface (and the address, where there is one),
/// so a log line says what failed without more context.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening the rtnetlink socket failed.
    #[error("cannot open an rtnetlink socket: {0}")]
    NetlinkSocket(#[source] io::Error),
    /// No interface has this name.
    #[error("interface {interface} does not exist")]
    InterfaceNotFound {
        /// The name asked for.
        interface: String,
    },
    /// Looking up an interface over rtnetlink failed.
    #[error("cannot look up interface {interface}: {source}")]
    LinkQuery {
        /// The interface name (or `#index`).
        interface: String,
        /// The rtnetlink error.
        #[source]
        source: Box<rtnetlink::Error>,
    },
    /// Adding an address failed (other than "already there").
    #[error("cannot add {address} to {interface}: {source}")]
    AddAddress {
        /// The interface.
        interface: String,
        /// The address with its prefix length.
        address: String,
        /// The rtnetlink error.
        #[source]
        source: Box<rtnetlink::Error>,
    },
    /// Removing an address failed (other than "not there").
    #[error("cannot remove {address} from {interface}: {source}")]
    RemoveAddress {
        /// The interface.
        interface: String,
        /// The address.
        address: IpAddr,
        /// The rtnetlink error.
        #[source]
        source: Box<rtnetlink::Error>,
    },
    /// Listing an interface's addresses failed.
    #[error("cannot list the addresses of {interface}: {source}")]
    ListAddresses {
        /// The interface.
        interface: String,
        /// The rtnetlink error.
        #[source]
        source: Box<rtnetlink::Error>,
    },
    /// A prefix length out of range for the address family.
    #[error("{address}/{prefix_len}: prefix length must be at most {max}")]
    PrefixLength {
        /// The address.
        address: IpAddr,
        /// The prefix length given.
        prefix_len: u8,
        /// 32 or 128.
        max: u8,
    },
    /// A label the kernel or keepalived convention would refuse.
    #[error("label {label:?} for {address} on {interface}: {reason}")]
    Label {
        /// The interface.
        interface: String,
        /// The address.
        address: IpAddr,
        /// The label.
        label: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Text that is not `ADDRESS[/PREFIX]`.
    #[error("{text:?} is not an address with optional /prefix: {reason}")]
    ParseAddress {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The interface lacks an address of the kind needed.
    #[error("interface {interface} has no {what}")]
    MissingAddress {
        /// The interface.
        interface: String,
        /// What is missing ("IPv6 link-local address", "Ethernet address", …).
        what: &'static str,
    },
    /// A socket operation failed.
    #[error("{operation} on {interface}: {source}")]
    Socket {
        /// The interface the socket serves.
        interface: String,
        /// What was being done ("open VRRP socket", "send GARP", …).
        operation: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A source or destination address of the wrong family for the socket.
    #[error("{address} is not an {family} address ({interface})")]
    AddressFamily {
        /// The interface the socket serves.
        interface: String,
        /// The offending address.
        address: IpAddr,
        /// "IPv4" or "IPv6".
        family: &'static str,
    },
}

impl Error {
    pub(crate) fn socket(interface: &str, operation: &'static str, source: io::Error) -> Error {
        Error::Socket {
            interface: interface.to_owned(),
            operation,
            source,
        }
    }
}

/// The errno of an rtnetlink error reply, if it is one.
pub(crate) fn netlink_errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.code.map(|code| -code.get()),
        _ => None,
    }
}
