//! Interfaces and addresses over rtnetlink: look up links, list, add and
//! remove (virtual) addresses, idempotently.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use futures_util::TryStreamExt;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};

use crate::error::{Error, netlink_errno};

/// Longest interface name (and address label) Linux accepts: IFNAMSIZ - 1.
pub const MAX_IFNAME_LEN: usize = 15;

/// An address as an interface holds it: address, prefix length and, for
/// IPv4, an optional label (`eth0:vip`, as keepalived's `label`).
///
/// Parses from `ADDRESS[/PREFIX]`; without a prefix, the host prefix
/// (/32 or /128) as keepalived's `virtual_ipaddress` does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InterfaceAddress {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix_len: u8,
    /// IPv4 label (`None` = no label; the kernel then reports the interface name).
    pub label: Option<String>,
}

impl InterfaceAddress {
    /// An address with a prefix length and no label.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Result<InterfaceAddress, Error> {
        let max = max_prefix(addr);
        if prefix_len > max {
            return Err(Error::PrefixLength {
                address: addr,
                prefix_len,
                max,
            });
        }
        Ok(InterfaceAddress {
            addr,
            prefix_len,
            label: None,
        })
    }

    /// The same address with an IPv4 label (checked when it is added).
    pub fn with_label(mut self, label: impl Into<String>) -> InterfaceAddress {
        self.label = Some(label.into());
        self
    }
}

impl fmt::Display for InterfaceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)?;
        if let Some(label) = &self.label {
            write!(f, " label {label}")?;
        }
        Ok(())
    }
}

impl FromStr for InterfaceAddress {
    type Err = Error;

    fn from_str(text: &str) -> Result<InterfaceAddress, Error> {
        let parse_err = |reason: String| Error::ParseAddress {
            text: text.to_owned(),
            reason,
        };
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .trim()
            .parse()
            .map_err(|e| parse_err(format!("address {addr_text:?}: {e}")))?;
        let prefix_len = match prefix_text {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .map_err(|e| parse_err(format!("prefix {p:?}: {e}")))?,
            None => max_prefix(addr),
        };
        InterfaceAddress::new(addr, prefix_len).map_err(|e| parse_err(e.to_string()))
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// What [`Netlink::add_address`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// The address was added.
    Added,
    /// The interface already held it (not an error: adding is idempotent).
    AlreadyPresent,
}

/// What [`Netlink::remove_address`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveOutcome {
    /// The address was removed (every prefix length it was held with).
    Removed,
    /// The interface did not hold it (not an error: removing is idempotent).
    NotPresent,
}

/// A network interface as rtnetlink reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Ethernet address, if the link has a 6-byte one.
    pub mac: Option<[u8; 6]>,
    /// Administratively up (IFF_UP).
    pub admin_up: bool,
    /// Operationally up (IFF_RUNNING: carrier and not dormant).
    pub running: bool,
}

impl Interface {
    /// Usable for VRRP: administratively and operationally up (as keepalived
    /// judges an interface: IFF_UP and IFF_RUNNING).
    pub fn is_up(&self) -> bool {
        self.admin_up && self.running
    }

    pub(crate) fn from_message(message: &LinkMessage) -> Interface {
        let mut name = String::new();
        let mut mac = None;
        for attribute in &message.attributes {
            match attribute {
                LinkAttribute::IfName(n) => name.clone_from(n),
                LinkAttribute::Address(bytes) => {
                    mac = <[u8; 6]>::try_from(bytes.as_slice()).ok();
                }
                _ => {}
            }
        }
        let flags = message.header.flags;
        Interface {
            index: message.header.index,
            name,
            mac,
            admin_up: flags.contains(LinkFlags::Up),
            running: flags.contains(LinkFlags::Running),
        }
    }
}

/// An rtnetlink connection (in the network namespace of the thread that opened it).
///
/// Cheap to clone: clones share the connection, which closes when the last
/// clone is dropped.
#[derive(Debug, Clone)]
pub struct Netlink {
    handle: rtnetlink::Handle,
    _connection: std::sync::Arc<ConnectionTask>,
}

#[derive(Debug)]
struct ConnectionTask(tokio::task::JoinHandle<()>);

impl Drop for ConnectionTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Netlink {
    /// Opens a connection; must be called inside a tokio runtime (it spawns
    /// the task that drives the socket).
    pub fn connect() -> Result<Netlink, Error> {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(Error::NetlinkSocket)?;
        let task = tokio::spawn(connection);
        Ok(Netlink {
            handle,
            _connection: std::sync::Arc::new(ConnectionTask(task)),
        })
    }

    /// Looks up an interface by name.
    pub async fn interface(&self, name: &str) -> Result<Interface, Error> {
        let query = self.handle.link().get().match_name(name).execute();
        let found = first_link(query, name).await?;
        found.ok_or_else(|| Error::InterfaceNotFound {
            interface: name.to_owned(),
        })
    }

    /// Looks up an interface by index.
    pub async fn interface_by_index(&self, index: u32) -> Result<Interface, Error> {
        let label = format!("#{index}");
        let query = self.handle.link().get().match_index(index).execute();
        let found = first_link(query, &label).await?;
        found.ok_or(Error::InterfaceNotFound { interface: label })
    }

    /// Every interface of this namespace.
    pub async fn interfaces(&self) -> Result<Vec<Interface>, Error> {
        let messages: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|source| Error::LinkQuery {
                interface: "*".to_owned(),
                source: Box::new(source),
            })?;
        Ok(messages.iter().map(Interface::from_message).collect())
    }

    /// Every address `interface` holds, in the kernel's order (primary first).
    pub async fn addresses(&self, interface: &str) -> Result<Vec<InterfaceAddress>, Error> {
        let link = self.interface(interface).await?;
        let messages = self.address_messages(&link).await?;
        Ok(messages
            .iter()
            .filter_map(|m| address_of(m, &link.name))
            .collect())
    }

    /// The interface's first IPv4 address that is not a secondary one (the
    /// source keepalived uses for IPv4 adverts), if any.
    pub async fn primary_ipv4(&self, interface: &str) -> Result<Option<IpAddr>, Error> {
        let link = self.interface(interface).await?;
        let messages = self.address_messages(&link).await?;
        Ok(messages
            .iter()
            .filter(|m| {
                !m.header.flags.contains(AddressHeaderFlags::Secondary)
                    && !address_flags(m).contains(AddressFlags::Secondary)
            })
            .filter_map(|m| address_of(m, &link.name))
            .map(|a| a.addr)
            .find(IpAddr::is_ipv4))
    }

    /// The interface's IPv6 link-local address (RFC 5798 §5.1.2.1: the source
    /// of IPv6 adverts).
    pub async fn link_local_ipv6(&self, interface: &str) -> Result<Ipv6Addr, Error> {
        let link = self.interface(interface).await?;
        let messages = self.address_messages(&link).await?;
        messages
            .iter()
            .filter(|m| m.header.scope == AddressScope::Link)
            .filter_map(|m| address_of(m, &link.name))
            .find_map(|a| match a.addr {
                IpAddr::V6(v6) if v6.is_unicast_link_local() => Some(v6),
                _ => None,
            })
            .ok_or(Error::MissingAddress {
                interface: interface.to_owned(),
                what: "IPv6 link-local address",
            })
    }

    /// Adds `address` to `interface`; an address already held is not an error.
    ///
    /// IPv6 addresses are added with IFA_F_NODAD: a VIP must be usable at
    /// once, and its uniqueness is VRRP's job, not DAD's. Labels are IPv4 only
    /// and must start with the interface name (as `ip` requires), at most 15
    /// bytes.
    pub async fn add_address(
        &self,
        interface: &str,
        address: &InterfaceAddress,
    ) -> Result<AddOutcome, Error> {
        InterfaceAddress::new(address.addr, address.prefix_len)?;
        if let Some(label) = &address.label {
            check_label(interface, address.addr, label)?;
        }
        let link = self.interface(interface).await?;
        let mut request = self
            .handle
            .address()
            .add(link.index, address.addr, address.prefix_len);
        let message = request.message_mut();
        if let Some(label) = &address.label {
            message
                .attributes
                .push(AddressAttribute::Label(label.clone()));
        }
        if address.addr.is_ipv6() {
            message.header.flags |= AddressHeaderFlags::Nodad;
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match request.execute().await {
            Ok(()) => Ok(AddOutcome::Added),
            Err(e) if netlink_errno(&e) == Some(libc::EEXIST) => Ok(AddOutcome::AlreadyPresent),
            Err(source) => Err(Error::AddAddress {
                interface: interface.to_owned(),
                address: format!("{}/{}", address.addr, address.prefix_len),
                source: Box::new(source),
            }),
        }
    }

    /// Removes `address` from `interface` whatever its prefix length; an
    /// address not held is not an error.
    pub async fn remove_address(
        &self,
        interface: &str,
        address: IpAddr,
    ) -> Result<RemoveOutcome, Error> {
        let link = self.interface(interface).await?;
        self.remove_on(&link, address).await
    }

    async fn remove_on(&self, link: &Interface, address: IpAddr) -> Result<RemoveOutcome, Error> {
        let messages = self.address_messages(link).await?;
        let mut outcome = RemoveOutcome::NotPresent;
        for message in messages {
            if address_of(&message, &link.name).is_none_or(|a| a.addr != address) {
                continue;
            }
            // Delete with the kernel's own description of the address, so
            // prefix length and label match whatever added it.
            match self.handle.address().del(message).execute().await {
                Ok(()) => outcome = RemoveOutcome::Removed,
                // Gone between the dump and the delete: someone else removed it.
                Err(e) if netlink_errno(&e) == Some(libc::EADDRNOTAVAIL) => {}
                Err(source) => {
                    return Err(Error::RemoveAddress {
                        interface: link.name.clone(),
                        address,
                        source: Box::new(source),
                    });
                }
            }
        }
        Ok(outcome)
    }

    /// Removes those of `addresses` that `interface` already holds; returns
    /// the ones removed.
    ///
    /// For start-up: keepalived killed with SIGKILL leaves its VIPs behind,
    /// and a node must not hold a VIP unless and until it becomes master.
    pub async fn remove_leftovers(
        &self,
        interface: &str,
        addresses: &[IpAddr],
    ) -> Result<Vec<IpAddr>, Error> {
        let link = self.interface(interface).await?;
        let mut removed = Vec::new();
        for &address in addresses {
            if self.remove_on(&link, address).await? == RemoveOutcome::Removed {
                removed.push(address);
            }
        }
        Ok(removed)
    }

    async fn address_messages(&self, link: &Interface) -> Result<Vec<AddressMessage>, Error> {
        self.handle
            .address()
            .get()
            .set_link_index_filter(link.index)
            .execute()
            .try_collect()
            .await
            .map_err(|source| Error::ListAddresses {
                interface: link.name.clone(),
                source: Box::new(source),
            })
    }
}

async fn first_link(
    query: impl futures_util::Stream<Item = Result<LinkMessage, rtnetlink::Error>>,
    label: &str,
) -> Result<Option<Interface>, Error> {
    let mut query = std::pin::pin!(query);
    match query.try_next().await {
        Ok(found) => Ok(found.as_ref().map(Interface::from_message)),
        Err(e) if netlink_errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(source) => Err(Error::LinkQuery {
            interface: label.to_owned(),
            source: Box::new(source),
        }),
    }
}

fn address_flags(message: &AddressMessage) -> AddressFlags {
    message
        .attributes
        .iter()
        .find_map(|a| match a {
            AddressAttribute::Flags(f) => Some(*f),
            _ => None,
        })
        .unwrap_or(AddressFlags::empty())
}

/// The address of a dump entry: IFA_LOCAL for IPv4 (IFA_ADDRESS is the peer
/// on point-to-point links), IFA_ADDRESS for IPv6.
fn address_of(message: &AddressMessage, ifname: &str) -> Option<InterfaceAddress> {
    let mut local = None;
    let mut address = None;
    let mut label = None;
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(a) => local = Some(*a),
            AddressAttribute::Address(a) => address = Some(*a),
            AddressAttribute::Label(l) if l != ifname => label = Some(l.clone()),
            _ => {}
        }
    }
    let addr = match address {
        Some(IpAddr::V6(v6)) => IpAddr::V6(v6),
        _ => local.or(address)?,
    };
    Some(InterfaceAddress {
        addr,
        prefix_len: message.header.prefix_len,
        label,
    })
}

fn check_label(interface: &str, address: IpAddr, label: &str) -> Result<(), Error> {
    let refuse = |reason| Error::Label {
        interface: interface.to_owned(),
        address,
        label: label.to_owned(),
        reason,
    };
    if address.is_ipv6() {
        return Err(refuse("labels exist for IPv4 addresses only"));
    }
    if label.len() > MAX_IFNAME_LEN {
        return Err(refuse("longer than 15 bytes"));
    }
    if !label.starts_with(interface) {
        return Err(refuse("must start with the interface name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_address_with_and_without_prefix() {
        let a: InterfaceAddress = "198.18.0.200/24".parse().unwrap();
        assert_eq!(a.addr, "198.18.0.200".parse::<IpAddr>().unwrap());
        assert_eq!(a.prefix_len, 24);
        let b: InterfaceAddress = "2001:db8::200".parse().unwrap();
        assert_eq!(b.prefix_len, 128);
        let c: InterfaceAddress = "198.18.0.201".parse().unwrap();
        assert_eq!(c.prefix_len, 32);
        assert_eq!(a.to_string(), "198.18.0.200/24");
        assert_eq!(
            a.clone().with_label("eth0:vip").to_string(),
            "198.18.0.200/24 label eth0:vip"
        );
    }

    #[test]
    fn refuses_bad_addresses_naming_the_text() {
        for bad in [
            "198.18.0.200/33",
            "2001:db8::1/129",
            "nonsense/24",
            "198.18.0.1/x",
        ] {
            let err = bad.parse::<InterfaceAddress>().unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn labels_follow_ip_rules() {
        let v4: IpAddr = "198.18.0.200".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(check_label("eth0", v4, "eth0:vip").is_ok());
        assert!(check_label("eth0", v4, "eth1:vip").is_err());
        assert!(check_label("eth0", v4, "eth0:a-very-long-label").is_err());
        assert!(check_label("eth0", v6, "eth0:vip").is_err());
    }
}
