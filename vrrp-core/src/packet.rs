//! VRRP advertisement codec (RFC 3768 §5, RFC 5798 §5).

use std::net::IpAddr;

/// The VRRP protocol version carried in the first nibble of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// VRRPv2, RFC 3768: IPv4 only, interval in whole seconds, optional simple auth.
    V2,
    /// VRRPv3, RFC 5798: IPv4 or IPv6, interval in centiseconds, no auth.
    V3,
}

/// VRRPv2 authentication (RFC 3768 §5.3.6). VRRPv3 always carries `Auth::None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Auth type 0: no authentication; the 8 auth bytes are zero.
    None,
    /// Auth type 1: simple text password, exactly 8 bytes, zero padded.
    Simple([u8; 8]),
}

/// A decoded (owned) VRRP advertisement: the `Repr` of smoltcp's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Advertisement {
    /// Protocol version.
    pub version: Version,
    /// Virtual router identifier, 1..=255.
    pub vrid: u8,
    /// Sender priority: 0 = resigning master, 255 = address owner.
    pub priority: u8,
    /// Advertisement interval in centiseconds. VRRPv2 carries whole seconds on
    /// the wire, so a v2 value is always a multiple of 100 in 100..=25500;
    /// VRRPv3 carries 12 bits of centiseconds (1..=4095).
    pub interval_cs: u16,
    /// Authentication (v2 only; `Auth::None` for v3).
    pub auth: Auth,
    /// The virtual addresses, all of one family matching the IP header.
    pub addresses: Vec<IpAddr>,
}

/// Why a byte slice is not a valid VRRP advertisement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {}

/// Why an [`Advertisement`] cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {}
