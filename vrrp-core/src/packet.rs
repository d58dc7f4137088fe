//! VRRP advertisement codec (RFC 3768 §5, RFC 5798 §5).
//!
//! Two layers, in smoltcp's style:
//! - [`AdvertPacket`] is a zero-copy typed view over a byte buffer. Its
//!   [`new_checked`](AdvertPacket::new_checked) validates the lengths once;
//!   after that the getters and setters are cheap and cannot panic.
//! - [`Advertisement`] is the owned, fully validated form, with
//!   [`decode`](Advertisement::decode), [`encoded_len`](Advertisement::encoded_len)
//!   and [`encode`](Advertisement::encode).
//!
//! Around them: [`InternetChecksum`] (the RFC 1071 sum both versions use) and
//! [`Ipv4Header`], which parses the IPv4 header that a raw IPv4 socket delivers
//! in front of each VRRP message.
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use vrrp_core::packet::{Advertisement, Auth, Version};
//!
//! let advert = Advertisement {
//!     version: Version::V3,
//!     vrid: 52,
//!     priority: 150,
//!     interval_cs: 50,
//!     auth: Auth::None,
//!     addresses: vec![IpAddr::V4(Ipv4Addr::new(198, 18, 0, 210))],
//! };
//! let src = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 12));
//! let dst = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
//!
//! let mut buf = [0u8; 64];
//! let written = advert.encode(src, dst, &mut buf)?;
//! assert_eq!(written, advert.encoded_len());
//! let wire = buf.get(..written).unwrap_or_default();
//! assert_eq!(Advertisement::decode(wire, src, dst)?, advert);
//!
//! // A VRRPv2 simple password is cut to 8 bytes, as keepalived does.
//! assert_eq!(Auth::simple_from_str("secretpass"), Auth::Simple(*b"secretpa"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of VRRP (RFC 5798 §5.1.1.4, RFC 3768 §5.2.4).
pub const IP_PROTOCOL_VRRP: u8 = 112;
/// The IPv4 multicast group VRRP advertisements are sent to (RFC 5798 §5.1.1.2).
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group VRRP advertisements are sent to (RFC 5798 §5.1.2.2).
pub const MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The TTL / hop limit every advertisement is sent and must be received with
/// (RFC 5798 §5.1.1.3, §7.1).
pub const REQUIRED_TTL: u8 = 255;
/// Length of the fixed VRRP header (version/type to checksum), both versions.
pub const HEADER_LEN: usize = 8;
/// Length of the VRRPv2 authentication data that follows the addresses.
pub const AUTH_DATA_LEN: usize = 8;
/// The only VRRP message type: advertisement (RFC 5798 §5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// Most addresses one advertisement can carry: the count field is one byte.
pub const MAX_ADDRESSES: usize = crate::limits::MAX_ADDRESSES;
/// Largest VRRPv3 interval: the field is 12 bits of centiseconds (RFC 5798 §5.2.7).
pub const MAX_V3_INTERVAL_CS: u16 = 0x0fff;
/// Largest VRRPv2 interval: the field is one byte of seconds (RFC 3768 §5.3.7).
pub const MAX_V2_INTERVAL_CS: u16 = *crate::limits::V2_INTERVAL_CS.end();
/// VRRPv2 auth type 0: no authentication (RFC 3768 §5.3.6.1).
pub const AUTH_TYPE_NONE: u8 = 0;
/// VRRPv2 auth type 1: simple text password (RFC 2338 §5.3.6.2, kept by keepalived).
pub const AUTH_TYPE_SIMPLE: u8 = 1;
/// VRRPv2 auth type 2: IP Authentication Header (RFC 2338 §5.3.6.3), refused here.
pub const AUTH_TYPE_IP_AH: u8 = 2;

/// The VRRP protocol version carried in the first nibble of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// VRRPv2, RFC 3768: IPv4 only, interval in whole seconds, optional simple auth.
    V2,
    /// VRRPv3, RFC 5798: IPv4 or IPv6, interval in centiseconds, no auth.
    V3,
}

impl Version {
    /// The number written in the version nibble: 2 or 3.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The version a version nibble names, if it is 2 or 3.
    pub fn from_number(number: u8) -> Option<Version> {
        match number {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VRRPv{}", self.number())
    }
}

/// The address family of a VRRP message: the family of its IP header and of
/// every address it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpFamily {
    /// IPv4: 4-byte addresses, VRRPv2 or VRRPv3.
    V4,
    /// IPv6: 16-byte addresses, VRRPv3 only.
    V6,
}

impl IpFamily {
    /// The family of one address.
    pub fn of(addr: IpAddr) -> IpFamily {
        match addr {
            IpAddr::V4(_) => IpFamily::V4,
            IpAddr::V6(_) => IpFamily::V6,
        }
    }

    /// The common family of a source and destination, or `None` if they differ.
    pub fn of_pair(src: IpAddr, dst: IpAddr) -> Option<IpFamily> {
        let family = IpFamily::of(src);
        (family == IpFamily::of(dst)).then_some(family)
    }

    /// Bytes one address of this family takes on the wire.
    pub fn address_len(self) -> usize {
        match self {
            IpFamily::V4 => 4,
            IpFamily::V6 => 16,
        }
    }

    /// Read one address of this family from exactly `address_len()` bytes.
    fn address_from(self, bytes: &[u8]) -> Option<IpAddr> {
        match self {
            IpFamily::V4 => <[u8; 4]>::try_from(bytes)
                .ok()
                .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
            IpFamily::V6 => <[u8; 16]>::try_from(bytes)
                .ok()
                .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        }
    }
}

impl fmt::Display for IpFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpFamily::V4 => "IPv4",
            IpFamily::V6 => "IPv6",
        })
    }
}

/// VRRPv2 authentication (RFC 3768 §5.3.6). VRRPv3 always carries `Auth::None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Auth type 0: no authentication; the 8 auth bytes are zero.
    None,
    /// Auth type 1: simple text password, exactly 8 bytes, zero padded.
    Simple([u8; 8]),
}

impl Auth {
    /// A simple-password auth from a configured `auth_pass`: like keepalived,
    /// keep the first 8 bytes and zero-pad a shorter password.
    pub fn simple_from_str(password: &str) -> Auth {
        let mut data = [0u8; AUTH_DATA_LEN];
        for (slot, byte) in data.iter_mut().zip(password.bytes()) {
            *slot = byte;
        }
        Auth::Simple(data)
    }

    /// The auth type number written on the wire (0 or 1).
    pub fn auth_type(&self) -> u8 {
        match self {
            Auth::None => AUTH_TYPE_NONE,
            Auth::Simple(_) => AUTH_TYPE_SIMPLE,
        }
    }

    /// The 8 authentication data bytes written on the wire (zero for `None`).
    pub fn data(&self) -> [u8; AUTH_DATA_LEN] {
        match self {
            Auth::None => [0; AUTH_DATA_LEN],
            Auth::Simple(data) => *data,
        }
    }
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
pub enum DecodeError {
    /// Fewer bytes than the fixed 8-byte header.
    #[error("truncated: {len} bytes, a VRRP header needs {needed}")]
    Truncated {
        /// Bytes received.
        len: usize,
        /// Bytes the header needs.
        needed: usize,
    },
    /// The IP source and destination are of different families.
    #[error("source {src} and destination {dst} are not of the same address family")]
    FamilyMismatch {
        /// IP source address.
        src: IpAddr,
        /// IP destination address.
        dst: IpAddr,
    },
    /// The version nibble is neither 2 nor 3.
    #[error("version {version}: only VRRP versions 2 and 3 are understood")]
    UnsupportedVersion {
        /// The version nibble.
        version: u8,
    },
    /// A VRRPv2 message arrived over IPv6 (RFC 3768 is IPv4 only).
    #[error("version 2 over IPv6: VRRPv2 (RFC 3768) is IPv4 only")]
    V2OverIpv6,
    /// The type nibble is not 1 (advertisement).
    #[error("type {kind}: only type 1 (advertisement) is defined")]
    UnsupportedType {
        /// The type nibble.
        kind: u8,
    },
    /// The address count does not match the message length.
    #[error(
        "address count {count} but {fit} {family} addresses fit in {space} bytes \
         ({version} message of {len} bytes, {expected} expected)"
    )]
    AddressCountMismatch {
        /// Protocol version.
        version: Version,
        /// Address family (from the IP header).
        family: IpFamily,
        /// The count field.
        count: u8,
        /// Whole addresses that fit in the bytes left for them.
        fit: usize,
        /// Bytes left for addresses after the header (and v2 auth data).
        space: usize,
        /// Length of the message.
        len: usize,
        /// Length the count implies.
        expected: usize,
    },
    /// The checksum field does not match the message.
    #[error("checksum {found:#06x}, expected {expected:#06x}")]
    BadChecksum {
        /// The checksum field.
        found: u16,
        /// The checksum of the message as received.
        expected: u16,
    },
    /// Virtual router id 0 (valid ids are 1-255).
    #[error("virtual router id 0: valid ids are 1-255")]
    ZeroVrid,
    /// Advertisement interval 0.
    #[error("advertisement interval 0 ({version}): it must be at least 1")]
    ZeroInterval {
        /// Protocol version (v2 counts seconds, v3 centiseconds).
        version: Version,
    },
    /// VRRPv2 auth type 2, IP Authentication Header: recognised, not supported.
    #[error(
        "auth type 2 (IP Authentication Header) is not supported: RFC 3768 removed it, use none or simple"
    )]
    AuthHeaderUnsupported,
    /// A VRRPv2 auth type other than 0, 1 or 2.
    #[error(
        "auth type {auth_type} is unknown: 0 (none), 1 (simple password) and 2 (IP AH) are defined"
    )]
    UnknownAuthType {
        /// The auth type field.
        auth_type: u8,
    },
}

impl DecodeError {
    /// A stable snake_case name of the error's kind, for counters, metrics
    /// and `hactl status` keys (the daemon counts `malformed_<kind>`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "truncated",
            Self::FamilyMismatch { .. } => "family_mismatch",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::V2OverIpv6 => "v2_over_ipv6",
            Self::UnsupportedType { .. } => "unsupported_type",
            Self::AddressCountMismatch { .. } => "address_count_mismatch",
            Self::BadChecksum { .. } => "bad_checksum",
            Self::ZeroVrid => "zero_vrid",
            Self::ZeroInterval { .. } => "zero_interval",
            Self::AuthHeaderUnsupported => "auth_header_unsupported",
            Self::UnknownAuthType { .. } => "unknown_auth_type",
        }
    }
}

/// Why an [`Advertisement`] cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The IP source and destination are of different families.
    #[error("source {src} and destination {dst} are not of the same address family")]
    FamilyMismatch {
        /// IP source address.
        src: IpAddr,
        /// IP destination address.
        dst: IpAddr,
    },
    /// VRRPv2 cannot be sent over IPv6.
    #[error("version 2 over IPv6: VRRPv2 (RFC 3768) is IPv4 only")]
    V2OverIpv6,
    /// Virtual router id 0.
    #[error("virtual router id 0: valid ids are 1-255")]
    ZeroVrid,
    /// More addresses than the one-byte count field can hold.
    #[error("{count} addresses: one advertisement carries at most 255")]
    TooManyAddresses {
        /// Number of addresses.
        count: usize,
    },
    /// An address is not of the IP header's family.
    #[error("address #{index} ({address}) is not {family} like the IP header")]
    AddressFamilyMismatch {
        /// Position in `addresses`.
        index: usize,
        /// The offending address.
        address: IpAddr,
        /// The IP header's family.
        family: IpFamily,
    },
    /// A VRRPv2 interval that is not a whole number of seconds.
    #[error("VRRPv2 interval {interval_cs} cs is not a whole number of seconds")]
    V2IntervalNotWholeSeconds {
        /// The interval in centiseconds.
        interval_cs: u16,
    },
    /// An interval outside what the version can carry.
    #[error("{version} interval {interval_cs} cs is outside {min}..={max} cs")]
    IntervalOutOfRange {
        /// Protocol version.
        version: Version,
        /// The interval in centiseconds.
        interval_cs: u16,
        /// Smallest allowed value, in centiseconds.
        min: u16,
        /// Largest allowed value, in centiseconds.
        max: u16,
    },
    /// VRRPv3 has no authentication (RFC 5798 §9 removed it).
    #[error("VRRPv3 has no authentication, but a simple password was given")]
    AuthInV3,
    /// The caller's buffer is shorter than [`Advertisement::encoded_len`].
    #[error("buffer of {available} bytes, the message needs {needed}")]
    BufferTooSmall {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
}

/// The RFC 1071 internet checksum, accumulated over any number of byte runs
/// (odd-length runs are joined correctly).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InternetChecksum {
    /// Sum of 16-bit big-endian words, folded lazily in `finish`.
    sum: u64,
    /// High byte of a word whose low byte has not arrived yet.
    pending: Option<u8>,
}

impl InternetChecksum {
    /// An empty sum.
    pub fn new() -> InternetChecksum {
        InternetChecksum::default()
    }

    /// Add a run of bytes, continuing the previous run's word alignment.
    pub fn add(&mut self, bytes: &[u8]) -> &mut InternetChecksum {
        let mut rest = bytes;
        if let Some(high) = self.pending.take() {
            match rest.split_first() {
                Some((low, tail)) => {
                    self.sum += u64::from(u16::from_be_bytes([high, *low]));
                    rest = tail;
                }
                None => {
                    self.pending = Some(high);
                    return self;
                }
            }
        }
        let mut words = rest.chunks_exact(2);
        for word in &mut words {
            if let [high, low] = word {
                self.sum += u64::from(u16::from_be_bytes([*high, *low]));
            }
        }
        if let [last] = words.remainder() {
            self.pending = Some(*last);
        }
        self
    }

    /// The checksum: the one's complement of the folded one's-complement sum.
    /// Over data that includes a correct checksum field this is 0.
    pub fn finish(&self) -> u16 {
        let mut sum = self.sum + self.pending.map_or(0, |high| u64::from(high) << 8);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        // The loop leaves `sum` in 0..=0xffff, so the cast keeps every bit.
        !(sum as u16)
    }
}

/// The RFC 1071 internet checksum of one byte run.
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    InternetChecksum::new().add(bytes).finish()
}

/// Byte offsets in the VRRP header (RFC 3768 §5.1, RFC 5798 §5.1).
mod field {
    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    /// v2: auth type; v3: reserved nibble and the high 4 bits of the interval.
    pub const AUTH_TYPE_OR_INTERVAL_HI: usize = 4;
    /// v2: interval in seconds; v3: low 8 bits of the interval.
    pub const INTERVAL_LO: usize = 5;
    pub const CHECKSUM: usize = 6;
}

/// A zero-copy view of a VRRP message (the IP payload) in smoltcp's style.
///
/// The layout depends on the version nibble and on the address family of the
/// IP header, so the family is part of the view. Build it with
/// [`new_checked`](AdvertPacket::new_checked) before trusting the getters; on
/// a buffer that was not checked they return zeros instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertPacket<T: AsRef<[u8]>> {
    buffer: T,
    family: IpFamily,
}

impl<T: AsRef<[u8]>> AdvertPacket<T> {
    /// Wrap a buffer without validating anything.
    pub fn new_unchecked(buffer: T, family: IpFamily) -> AdvertPacket<T> {
        AdvertPacket { buffer, family }
    }

    /// Wrap a buffer and validate its layout with [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T, family: IpFamily) -> Result<AdvertPacket<T>, DecodeError> {
        let packet = AdvertPacket::new_unchecked(buffer, family);
        packet.check_len()?;
        Ok(packet)
    }

    /// Check that the version is known, allowed for the family, and that the
    /// length is exactly what the address count implies (RFC 3768 §7.1,
    /// RFC 5798 §7.1: the message must contain all fixed fields, addresses and,
    /// for v2, the authentication data).
    pub fn check_len(&self) -> Result<(), DecodeError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(DecodeError::Truncated {
                len,
                needed: HEADER_LEN,
            });
        }
        let version = self.version().ok_or(DecodeError::UnsupportedVersion {
            version: self.version_number(),
        })?;
        if version == Version::V2 && self.family == IpFamily::V6 {
            return Err(DecodeError::V2OverIpv6);
        }
        let count = self.address_count();
        let expected = message_len(version, self.family, usize::from(count));
        if len != expected {
            let fixed = message_len(version, self.family, 0);
            let space = len.saturating_sub(fixed);
            return Err(DecodeError::AddressCountMismatch {
                version,
                family: self.family,
                count,
                fit: space / self.family.address_len(),
                space,
                len,
                expected,
            });
        }
        Ok(())
    }

    /// Give back the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The address family this view was built for.
    pub fn family(&self) -> IpFamily {
        self.family
    }

    fn byte(&self, offset: usize) -> u8 {
        self.buffer.as_ref().get(offset).copied().unwrap_or(0)
    }

    /// The raw version nibble.
    pub fn version_number(&self) -> u8 {
        self.byte(field::VER_TYPE) >> 4
    }

    /// The version, if the nibble is 2 or 3.
    pub fn version(&self) -> Option<Version> {
        Version::from_number(self.version_number())
    }

    /// The type nibble (1 = advertisement).
    pub fn kind(&self) -> u8 {
        self.byte(field::VER_TYPE) & 0x0f
    }

    /// The virtual router id.
    pub fn vrid(&self) -> u8 {
        self.byte(field::VRID)
    }

    /// The sender's priority.
    pub fn priority(&self) -> u8 {
        self.byte(field::PRIORITY)
    }

    /// The address count field.
    pub fn address_count(&self) -> u8 {
        self.byte(field::COUNT)
    }

    /// The VRRPv2 auth type field (meaningless for v3, where it is 0).
    pub fn auth_type(&self) -> u8 {
        match self.version() {
            Some(Version::V2) => self.byte(field::AUTH_TYPE_OR_INTERVAL_HI),
            _ => 0,
        }
    }

    /// The advertisement interval in centiseconds: v2 seconds × 100, or the
    /// v3 12-bit field with the reserved nibble ignored (RFC 5798 §5.2.6).
    pub fn interval_cs(&self) -> u16 {
        let low = self.byte(field::INTERVAL_LO);
        match self.version() {
            Some(Version::V2) => u16::from(low) * 100,
            _ => {
                u16::from_be_bytes([self.byte(field::AUTH_TYPE_OR_INTERVAL_HI), low])
                    & MAX_V3_INTERVAL_CS
            }
        }
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.byte(field::CHECKSUM), self.byte(field::CHECKSUM + 1)])
    }

    /// The addresses, as many as the count says and the buffer holds.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let family = self.family;
        let area = self.buffer.as_ref().get(HEADER_LEN..).unwrap_or_default();
        area.chunks_exact(family.address_len())
            .take(usize::from(self.address_count()))
            .filter_map(move |bytes| family.address_from(bytes))
    }

    /// The VRRPv2 authentication data (zeros for v3 or a short buffer).
    pub fn auth_data(&self) -> [u8; AUTH_DATA_LEN] {
        if self.version() != Some(Version::V2) {
            return [0; AUTH_DATA_LEN];
        }
        let start = HEADER_LEN + usize::from(self.address_count()) * self.family.address_len();
        self.buffer
            .as_ref()
            .get(start..start + AUTH_DATA_LEN)
            .and_then(|bytes| <[u8; AUTH_DATA_LEN]>::try_from(bytes).ok())
            .unwrap_or_default()
    }

    /// The checksum the message should carry: v2 over the message alone
    /// (RFC 3768 §5.3.8), v3 over the pseudo-header and the message
    /// (RFC 5798 §5.2.8). The checksum field itself counts as zero.
    pub fn compute_checksum(&self, src: IpAddr, dst: IpAddr) -> u16 {
        let bytes = self.buffer.as_ref();
        let mut sum = InternetChecksum::new();
        if self.version() != Some(Version::V2) {
            add_pseudo_header(&mut sum, src, dst, bytes.len());
        }
        sum.add(bytes.get(..field::CHECKSUM).unwrap_or_default());
        sum.add(bytes.get(field::CHECKSUM + 2..).unwrap_or_default());
        sum.finish()
    }

    /// Whether the checksum field is right. Summing over the field itself
    /// accepts both one's-complement zeros (0x0000 and 0xffff).
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        let bytes = self.buffer.as_ref();
        let mut sum = InternetChecksum::new();
        if self.version() != Some(Version::V2) {
            add_pseudo_header(&mut sum, src, dst, bytes.len());
        }
        sum.add(bytes);
        sum.finish() == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> AdvertPacket<T> {
    fn set_byte(&mut self, offset: usize, value: u8) {
        if let Some(slot) = self.buffer.as_mut().get_mut(offset) {
            *slot = value;
        }
    }

    /// Write the version and type nibbles.
    pub fn set_version_and_kind(&mut self, version: Version, kind: u8) {
        self.set_byte(field::VER_TYPE, (version.number() << 4) | (kind & 0x0f));
    }

    /// Write the virtual router id.
    pub fn set_vrid(&mut self, vrid: u8) {
        self.set_byte(field::VRID, vrid);
    }

    /// Write the priority.
    pub fn set_priority(&mut self, priority: u8) {
        self.set_byte(field::PRIORITY, priority);
    }

    /// Write the address count field.
    pub fn set_address_count(&mut self, count: u8) {
        self.set_byte(field::COUNT, count);
    }

    /// Write the VRRPv2 auth type and interval in seconds.
    pub fn set_v2_auth_type_and_interval(&mut self, auth_type: u8, interval_s: u8) {
        self.set_byte(field::AUTH_TYPE_OR_INTERVAL_HI, auth_type);
        self.set_byte(field::INTERVAL_LO, interval_s);
    }

    /// Write the VRRPv3 interval; the reserved nibble is sent as zero
    /// (RFC 5798 §5.2.6) and bits above 12 are dropped.
    pub fn set_v3_interval(&mut self, interval_cs: u16) {
        let [high, low] = (interval_cs & MAX_V3_INTERVAL_CS).to_be_bytes();
        self.set_byte(field::AUTH_TYPE_OR_INTERVAL_HI, high);
        self.set_byte(field::INTERVAL_LO, low);
    }

    /// Write the checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        let [high, low] = checksum.to_be_bytes();
        self.set_byte(field::CHECKSUM, high);
        self.set_byte(field::CHECKSUM + 1, low);
    }

    /// Write address number `index`; an address of the wrong family or out of
    /// the buffer is not written.
    pub fn set_address(&mut self, index: usize, address: IpAddr) {
        let len = self.family.address_len();
        let Some(start) = index
            .checked_mul(len)
            .and_then(|o| o.checked_add(HEADER_LEN))
        else {
            return;
        };
        let Some(slot) = self
            .buffer
            .as_mut()
            .get_mut(start..start.saturating_add(len))
        else {
            return;
        };
        match (address, self.family) {
            (IpAddr::V4(a), IpFamily::V4) => slot.copy_from_slice(&a.octets()),
            (IpAddr::V6(a), IpFamily::V6) => slot.copy_from_slice(&a.octets()),
            _ => {}
        }
    }

    /// Write the VRRPv2 authentication data after the addresses (uses the
    /// count field already written).
    pub fn set_auth_data(&mut self, data: [u8; AUTH_DATA_LEN]) {
        let start = HEADER_LEN + usize::from(self.address_count()) * self.family.address_len();
        if let Some(slot) = self.buffer.as_mut().get_mut(start..start + AUTH_DATA_LEN) {
            slot.copy_from_slice(&data);
        }
    }

    /// Compute and write the checksum, after every other field is written.
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        let checksum = self.compute_checksum(src, dst);
        self.set_checksum(checksum);
    }
}

/// Length of a message of this version and family with `count` addresses.
fn message_len(version: Version, family: IpFamily, count: usize) -> usize {
    let auth = match version {
        Version::V2 => AUTH_DATA_LEN,
        Version::V3 => 0,
    };
    HEADER_LEN + count * family.address_len() + auth
}

/// Add the RFC 5798 §5.2.8 pseudo-header: for IPv4 the RFC 768 layout
/// (src, dst, zero, protocol, 16-bit length), for IPv6 the RFC 8200 §8.1
/// layout (src, dst, 32-bit length, three zero bytes, next header).
fn add_pseudo_header(sum: &mut InternetChecksum, src: IpAddr, dst: IpAddr, len: usize) {
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            // A VRRP message is at most 8 + 255 * 16 bytes, so the length fits.
            let len = u16::try_from(len).unwrap_or(u16::MAX);
            sum.add(&src.octets())
                .add(&dst.octets())
                .add(&[0, IP_PROTOCOL_VRRP])
                .add(&len.to_be_bytes());
        }
        _ => {
            let len = u32::try_from(len).unwrap_or(u32::MAX);
            sum.add(&ipv6_octets(src))
                .add(&ipv6_octets(dst))
                .add(&len.to_be_bytes())
                .add(&[0, 0, 0, IP_PROTOCOL_VRRP]);
        }
    }
}

/// The 16 bytes of an IPv6 address (an IPv4 address maps to `::ffff:a.b.c.d`,
/// which only happens for a mismatched pair that decode/encode refuse first).
fn ipv6_octets(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

impl Advertisement {
    /// Decode a VRRP message (the IP payload, without IP header) that arrived from `src` to `dst`.
    ///
    /// Checks, in order: `src` and `dst` share a family, the header fits,
    /// the version is 2 or 3 (2 only over IPv4), the length matches the
    /// address count, the type is 1, the checksum, VRID 1-255, a non-zero
    /// interval and, for v2, the auth type.
    pub fn decode(payload: &[u8], src: IpAddr, dst: IpAddr) -> Result<Advertisement, DecodeError> {
        let family = IpFamily::of_pair(src, dst).ok_or(DecodeError::FamilyMismatch { src, dst })?;
        let packet = AdvertPacket::new_checked(payload, family)?;
        let version = packet.version().ok_or(DecodeError::UnsupportedVersion {
            version: packet.version_number(),
        })?;
        if packet.kind() != TYPE_ADVERTISEMENT {
            return Err(DecodeError::UnsupportedType {
                kind: packet.kind(),
            });
        }
        if !packet.verify_checksum(src, dst) {
            return Err(DecodeError::BadChecksum {
                found: packet.checksum(),
                expected: packet.compute_checksum(src, dst),
            });
        }
        if packet.vrid() == 0 {
            return Err(DecodeError::ZeroVrid);
        }
        let interval_cs = packet.interval_cs();
        if interval_cs == 0 {
            return Err(DecodeError::ZeroInterval { version });
        }
        let auth = match version {
            Version::V3 => Auth::None,
            // RFC 3768 §5.3.6.1: with type 0 the data is ignored on reception.
            Version::V2 => match packet.auth_type() {
                AUTH_TYPE_NONE => Auth::None,
                AUTH_TYPE_SIMPLE => Auth::Simple(packet.auth_data()),
                AUTH_TYPE_IP_AH => return Err(DecodeError::AuthHeaderUnsupported),
                auth_type => return Err(DecodeError::UnknownAuthType { auth_type }),
            },
        };
        Ok(Advertisement {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            interval_cs,
            auth,
            addresses: packet.addresses().collect(),
        })
    }

    /// Number of bytes `encode` writes.
    pub fn encoded_len(&self) -> usize {
        let addresses: usize = self
            .addresses
            .iter()
            .map(|a| IpFamily::of(*a).address_len())
            .sum();
        let auth = match self.version {
            Version::V2 => AUTH_DATA_LEN,
            Version::V3 => 0,
        };
        HEADER_LEN + addresses + auth
    }

    /// Check that this advertisement can be sent in an IP packet of `family`:
    /// the checks `encode` makes before writing anything.
    pub fn check(&self, family: IpFamily) -> Result<(), EncodeError> {
        if self.version == Version::V2 && family == IpFamily::V6 {
            return Err(EncodeError::V2OverIpv6);
        }
        if self.vrid == 0 {
            return Err(EncodeError::ZeroVrid);
        }
        if self.addresses.len() > MAX_ADDRESSES {
            return Err(EncodeError::TooManyAddresses {
                count: self.addresses.len(),
            });
        }
        if let Some((index, address)) = self
            .addresses
            .iter()
            .enumerate()
            .find(|(_, a)| IpFamily::of(**a) != family)
        {
            return Err(EncodeError::AddressFamilyMismatch {
                index,
                address: *address,
                family,
            });
        }
        let (min, max) = crate::limits::interval_range_cs(self.version).into_inner();
        if self.version == Version::V2 && !self.interval_cs.is_multiple_of(100) {
            return Err(EncodeError::V2IntervalNotWholeSeconds {
                interval_cs: self.interval_cs,
            });
        }
        if !(min..=max).contains(&self.interval_cs) {
            return Err(EncodeError::IntervalOutOfRange {
                version: self.version,
                interval_cs: self.interval_cs,
                min,
                max,
            });
        }
        if self.version == Version::V3 && self.auth != Auth::None {
            return Err(EncodeError::AuthInV3);
        }
        Ok(())
    }

    /// Write the message into `buf` (checksum included; v3 checksum uses the src/dst pseudo-header).
    ///
    /// Returns the number of bytes written, always [`encoded_len`](Self::encoded_len).
    pub fn encode(&self, src: IpAddr, dst: IpAddr, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let family = IpFamily::of_pair(src, dst).ok_or(EncodeError::FamilyMismatch { src, dst })?;
        self.check(family)?;
        let len = self.encoded_len();
        let available = buf.len();
        let out = buf.get_mut(..len).ok_or(EncodeError::BufferTooSmall {
            needed: len,
            available,
        })?;
        // `check` bounded the count by 255 and the v2 interval by 255 s.
        let count = u8::try_from(self.addresses.len()).unwrap_or(u8::MAX);
        out.fill(0);
        let mut packet = AdvertPacket::new_unchecked(out, family);
        packet.set_version_and_kind(self.version, TYPE_ADVERTISEMENT);
        packet.set_vrid(self.vrid);
        packet.set_priority(self.priority);
        packet.set_address_count(count);
        match self.version {
            Version::V2 => {
                let seconds = u8::try_from(self.interval_cs / 100).unwrap_or(u8::MAX);
                packet.set_v2_auth_type_and_interval(self.auth.auth_type(), seconds);
            }
            Version::V3 => packet.set_v3_interval(self.interval_cs),
        }
        for (index, address) in self.addresses.iter().enumerate() {
            packet.set_address(index, *address);
        }
        if self.version == Version::V2 {
            packet.set_auth_data(self.auth.data());
        }
        packet.fill_checksum(src, dst);
        Ok(len)
    }
}

/// The fields of an IPv4 header (RFC 791 §3.1) that a VRRP receiver needs,
/// parsed from what a raw IPv4 socket delivers: header, then payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header<'a> {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Time to live (VRRP requires 255, RFC 5798 §7.1).
    pub ttl: u8,
    /// Protocol number (VRRP is 112).
    pub protocol: u8,
    /// The payload: the bytes after the header, up to the total length.
    pub payload: &'a [u8],
}

/// Why bytes are not a usable IPv4 packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Ipv4HeaderError {
    /// Fewer bytes than the header needs.
    #[error("truncated: {len} bytes, an IPv4 header needs {needed}")]
    Truncated {
        /// Bytes received.
        len: usize,
        /// Bytes the header needs.
        needed: usize,
    },
    /// The version nibble is not 4.
    #[error("IP version {version}, expected 4")]
    NotIpv4 {
        /// The version nibble.
        version: u8,
    },
    /// The header length field is below the 5-word minimum.
    #[error("header length field {ihl} ({} bytes) is below the 20-byte minimum", usize::from(*ihl) * 4)]
    HeaderLengthTooSmall {
        /// The IHL field, in 32-bit words.
        ihl: u8,
    },
    /// The total length field is shorter than the header.
    #[error("total length {total_len} is shorter than the {header_len}-byte header")]
    TotalLengthTooSmall {
        /// The total length field.
        total_len: usize,
        /// The header length.
        header_len: usize,
    },
    /// The total length field claims more bytes than were received.
    #[error("total length {total_len} but only {len} bytes received")]
    TotalLengthExceedsPacket {
        /// The total length field.
        total_len: usize,
        /// Bytes received.
        len: usize,
    },
    /// A fragment (VRRP messages are never fragmented).
    #[error(
        "fragment (offset {offset} bytes, more fragments: {more_fragments}): VRRP is never fragmented"
    )]
    Fragment {
        /// Fragment offset in bytes.
        offset: usize,
        /// The MF flag.
        more_fragments: bool,
    },
    /// The header checksum is wrong.
    #[error("header checksum {found:#06x}, expected {expected:#06x}")]
    BadChecksum {
        /// The checksum field.
        found: u16,
        /// The checksum of the header as received.
        expected: u16,
    },
}

/// Length of an IPv4 header without options (RFC 791 §3.1).
const IPV4_MIN_HEADER_LEN: usize = 20;

impl<'a> Ipv4Header<'a> {
    /// Minimum IPv4 header length (no options).
    pub const MIN_LEN: usize = IPV4_MIN_HEADER_LEN;

    /// Parse the header at the start of `packet` and split off its payload.
    pub fn parse(packet: &'a [u8]) -> Result<Ipv4Header<'a>, Ipv4HeaderError> {
        let len = packet.len();
        let fixed: &[u8; IPV4_MIN_HEADER_LEN] = packet
            .get(..Self::MIN_LEN)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(Ipv4HeaderError::Truncated {
                len,
                needed: Self::MIN_LEN,
            })?;
        let [
            ver_ihl,
            _tos,
            len_hi,
            len_lo,
            _id_hi,
            _id_lo,
            frag_hi,
            frag_lo,
            ttl,
            protocol,
            sum_hi,
            sum_lo,
            s0,
            s1,
            s2,
            s3,
            d0,
            d1,
            d2,
            d3,
        ] = *fixed;
        let version = ver_ihl >> 4;
        if version != 4 {
            return Err(Ipv4HeaderError::NotIpv4 { version });
        }
        let ihl = ver_ihl & 0x0f;
        let header_len = usize::from(ihl) * 4;
        if header_len < Self::MIN_LEN {
            return Err(Ipv4HeaderError::HeaderLengthTooSmall { ihl });
        }
        let header = packet.get(..header_len).ok_or(Ipv4HeaderError::Truncated {
            len,
            needed: header_len,
        })?;
        let total_len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
        if total_len < header_len {
            return Err(Ipv4HeaderError::TotalLengthTooSmall {
                total_len,
                header_len,
            });
        }
        let payload = packet
            .get(header_len..total_len)
            .ok_or(Ipv4HeaderError::TotalLengthExceedsPacket { total_len, len })?;
        let frag = u16::from_be_bytes([frag_hi, frag_lo]);
        let more_fragments = frag & 0x2000 != 0;
        let offset = usize::from(frag & 0x1fff) * 8;
        if more_fragments || offset != 0 {
            return Err(Ipv4HeaderError::Fragment {
                offset,
                more_fragments,
            });
        }
        // The kernel already drops bad headers; checking again keeps the
        // parser honest on its own and costs 10 additions.
        if internet_checksum(header) != 0 {
            let found = u16::from_be_bytes([sum_hi, sum_lo]);
            let expected = InternetChecksum::new()
                .add(header.get(..10).unwrap_or_default())
                .add(header.get(12..).unwrap_or_default())
                .finish();
            return Err(Ipv4HeaderError::BadChecksum { found, expected });
        }
        Ok(Ipv4Header {
            src: Ipv4Addr::new(s0, s1, s2, s3),
            dst: Ipv4Addr::new(d0, d1, d2, d3),
            ttl,
            protocol,
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    /// The kinds are the variants' names in snake_case (the metric keys
    /// `malformed_<kind>` operators already know), and no two are alike.
    #[test]
    fn each_decode_error_has_its_own_stable_kind() {
        let a = v4(198, 18, 0, 1);
        let all = [
            DecodeError::Truncated { len: 1, needed: 8 },
            DecodeError::FamilyMismatch { src: a, dst: a },
            DecodeError::UnsupportedVersion { version: 4 },
            DecodeError::V2OverIpv6,
            DecodeError::UnsupportedType { kind: 2 },
            DecodeError::AddressCountMismatch {
                version: Version::V3,
                family: IpFamily::V4,
                count: 1,
                fit: 0,
                space: 0,
                len: 0,
                expected: 0,
            },
            DecodeError::BadChecksum {
                found: 0,
                expected: 1,
            },
            DecodeError::ZeroVrid,
            DecodeError::ZeroInterval {
                version: Version::V3,
            },
            DecodeError::AuthHeaderUnsupported,
            DecodeError::UnknownAuthType { auth_type: 9 },
        ];
        let mut kinds = std::collections::BTreeSet::new();
        for e in &all {
            let name: String = format!("{e:?}")
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            let mut snake = String::new();
            for (i, c) in name.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            }
            assert_eq!(e.kind(), snake);
            assert!(kinds.insert(e.kind()), "{} twice", e.kind());
        }
    }

    fn v6(last: u16) -> IpAddr {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last))
    }

    const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 12));
    const DST4: IpAddr = IpAddr::V4(MULTICAST_V4);
    const SRC6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    const DST6: IpAddr = IpAddr::V6(MULTICAST_V6);

    fn v3_advert() -> Advertisement {
        Advertisement {
            version: Version::V3,
            vrid: 52,
            priority: 150,
            interval_cs: 50,
            auth: Auth::None,
            addresses: vec![v4(198, 18, 0, 210)],
        }
    }

    fn v2_advert() -> Advertisement {
        Advertisement {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            interval_cs: 100,
            auth: Auth::simple_from_str("secretpass"),
            addresses: vec![v4(198, 18, 0, 200), v4(198, 18, 0, 201)],
        }
    }

    fn encoded(advert: &Advertisement, src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let mut buf = vec![0u8; advert.encoded_len()];
        let written = advert.encode(src, dst, &mut buf).expect("valid advert");
        assert_eq!(written, buf.len());
        buf
    }

    /// Apply `edit` to a valid v4 message, then repair the checksum so only
    /// the edited field is wrong.
    fn edited(advert: &Advertisement, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut bytes = encoded(advert, SRC4, DST4);
        edit(&mut bytes);
        let mut packet = AdvertPacket::new_unchecked(&mut bytes[..], IpFamily::V4);
        packet.fill_checksum(SRC4, DST4);
        bytes
    }

    fn decode4(bytes: &[u8]) -> Result<Advertisement, DecodeError> {
        Advertisement::decode(bytes, SRC4, DST4)
    }

    #[test]
    fn round_trips_v2_v3_and_ipv6() {
        for advert in [v3_advert(), v2_advert()] {
            let bytes = encoded(&advert, SRC4, DST4);
            assert_eq!(decode4(&bytes), Ok(advert));
        }
        let advert = Advertisement {
            addresses: vec![v6(0x200), v6(0x201)],
            ..v3_advert()
        };
        let bytes = encoded(&advert, SRC6, DST6);
        assert_eq!(bytes.len(), 8 + 2 * 16);
        assert_eq!(Advertisement::decode(&bytes, SRC6, DST6), Ok(advert));
    }

    #[test]
    fn truncated_header() {
        let bytes = encoded(&v3_advert(), SRC4, DST4);
        let err = decode4(&bytes[..6]).unwrap_err();
        assert_eq!(err, DecodeError::Truncated { len: 6, needed: 8 });
        assert_eq!(err.to_string(), "truncated: 6 bytes, a VRRP header needs 8");
        assert_eq!(
            decode4(&[]),
            Err(DecodeError::Truncated { len: 0, needed: 8 })
        );
    }

    #[test]
    fn wrong_version() {
        for version in [0u8, 1, 4, 15] {
            let bytes = edited(&v3_advert(), |b| b[0] = (version << 4) | 1);
            assert_eq!(
                decode4(&bytes),
                Err(DecodeError::UnsupportedVersion { version })
            );
        }
    }

    #[test]
    fn v2_over_ipv6_is_refused() {
        let bytes = encoded(&v2_advert(), SRC4, DST4);
        assert_eq!(
            Advertisement::decode(&bytes, SRC6, DST6),
            Err(DecodeError::V2OverIpv6)
        );
        let mut buf = [0u8; 64];
        assert_eq!(
            v2_advert().encode(SRC6, DST6, &mut buf),
            Err(EncodeError::V2OverIpv6)
        );
    }

    #[test]
    fn wrong_type() {
        for kind in [0u8, 2, 15] {
            let bytes = edited(&v3_advert(), |b| b[0] = 0x30 | kind);
            assert_eq!(decode4(&bytes), Err(DecodeError::UnsupportedType { kind }));
        }
    }

    #[test]
    fn bad_checksum() {
        let mut bytes = encoded(&v3_advert(), SRC4, DST4);
        let good = u16::from_be_bytes([bytes[6], bytes[7]]);
        bytes[7] ^= 0x01;
        let err = decode4(&bytes).unwrap_err();
        assert_eq!(
            err,
            DecodeError::BadChecksum {
                found: good ^ 0x01,
                expected: good
            }
        );
        assert_eq!(
            err.to_string(),
            format!("checksum {:#06x}, expected {good:#06x}", good ^ 1)
        );
    }

    #[test]
    fn v3_checksum_covers_the_pseudo_header_and_v2_does_not() {
        let v3 = encoded(&v3_advert(), SRC4, DST4);
        let other_src = v4(198, 18, 0, 13);
        assert!(matches!(
            Advertisement::decode(&v3, other_src, DST4),
            Err(DecodeError::BadChecksum { .. })
        ));
        let v2 = encoded(&v2_advert(), SRC4, DST4);
        assert_eq!(Advertisement::decode(&v2, other_src, DST4), Ok(v2_advert()));
    }

    #[test]
    fn both_checksum_zeros_are_accepted() {
        // The (vrid, priority) word takes every value over this search, so
        // one message sums to a checksum of 0x0000; send it as the other
        // one's-complement zero, 0xffff.
        let advert = (1..=255u8)
            .flat_map(|vrid| (0..=255u8).map(move |priority| (vrid, priority)))
            .map(|(vrid, priority)| Advertisement {
                vrid,
                priority,
                ..v3_advert()
            })
            .find(|a| encoded(a, SRC4, DST4)[6..8] == [0, 0])
            .expect("some vrid/priority gives checksum 0");
        let mut bytes = encoded(&advert, SRC4, DST4);
        bytes[6] = 0xff;
        bytes[7] = 0xff;
        assert_eq!(decode4(&bytes), Ok(advert));
    }

    #[test]
    fn count_length_mismatch() {
        let bytes = edited(&v3_advert(), |b| b[3] = 3);
        let err = decode4(&bytes).unwrap_err();
        assert_eq!(
            err,
            DecodeError::AddressCountMismatch {
                version: Version::V3,
                family: IpFamily::V4,
                count: 3,
                fit: 1,
                space: 4,
                len: 12,
                expected: 20
            }
        );
        assert_eq!(
            err.to_string(),
            "address count 3 but 1 IPv4 addresses fit in 4 bytes (VRRPv3 message of 12 bytes, 20 expected)"
        );
        // A trailing byte is as wrong as a missing one.
        let bytes = edited(&v3_advert(), |b| b.push(0));
        assert!(matches!(
            decode4(&bytes),
            Err(DecodeError::AddressCountMismatch {
                count: 1,
                len: 13,
                expected: 12,
                ..
            })
        ));
        // A v2 message without its 8 bytes of authentication data.
        let bytes = encoded(&v2_advert(), SRC4, DST4);
        assert!(matches!(
            decode4(&bytes[..16]),
            Err(DecodeError::AddressCountMismatch {
                version: Version::V2,
                count: 2,
                len: 16,
                expected: 24,
                ..
            })
        ));
        // IPv6 addresses are 16 bytes: an IPv4-sized message does not fit.
        let bytes = encoded(&v3_advert(), SRC4, DST4);
        assert!(matches!(
            Advertisement::decode(&bytes, SRC6, DST6),
            Err(DecodeError::AddressCountMismatch {
                family: IpFamily::V6,
                fit: 0,
                expected: 24,
                ..
            })
        ));
    }

    #[test]
    fn zero_interval() {
        let bytes = edited(&v3_advert(), |b| {
            b[4] = 0;
            b[5] = 0;
        });
        assert_eq!(
            decode4(&bytes),
            Err(DecodeError::ZeroInterval {
                version: Version::V3
            })
        );
        // Reserved bits alone do not make a non-zero interval.
        let bytes = edited(&v3_advert(), |b| {
            b[4] = 0xf0;
            b[5] = 0;
        });
        assert_eq!(
            decode4(&bytes),
            Err(DecodeError::ZeroInterval {
                version: Version::V3
            })
        );
        let bytes = edited(&v2_advert(), |b| b[5] = 0);
        assert_eq!(
            decode4(&bytes),
            Err(DecodeError::ZeroInterval {
                version: Version::V2
            })
        );
    }

    #[test]
    fn v3_reserved_bits_are_ignored_on_receive_and_zero_on_send() {
        let bytes = encoded(&v3_advert(), SRC4, DST4);
        assert_eq!(bytes[4] & 0xf0, 0);
        let bytes = edited(&v3_advert(), |b| b[4] |= 0xa0);
        assert_eq!(decode4(&bytes), Ok(v3_advert()));
    }

    #[test]
    fn v2_intervals_are_seconds() {
        let advert = Advertisement {
            interval_cs: 25500,
            ..v2_advert()
        };
        let bytes = encoded(&advert, SRC4, DST4);
        assert_eq!(bytes[5], 255);
        assert_eq!(decode4(&bytes), Ok(advert));
    }

    #[test]
    fn unknown_and_ah_auth_types() {
        for auth_type in [3u8, 7, 255] {
            let bytes = edited(&v2_advert(), |b| b[4] = auth_type);
            assert_eq!(
                decode4(&bytes),
                Err(DecodeError::UnknownAuthType { auth_type })
            );
        }
        let bytes = edited(&v2_advert(), |b| b[4] = AUTH_TYPE_IP_AH);
        assert_eq!(decode4(&bytes), Err(DecodeError::AuthHeaderUnsupported));
    }

    #[test]
    fn auth_none_ignores_the_data_on_receive() {
        // RFC 3768 §5.3.6.1: type 0 data is ignored on reception.
        let bytes = edited(&v2_advert(), |b| b[4] = AUTH_TYPE_NONE);
        let advert = decode4(&bytes).expect("auth none decodes");
        assert_eq!(advert.auth, Auth::None);
        let resent = encoded(&advert, SRC4, DST4);
        assert_eq!(&resent[16..], &[0u8; 8]);
    }

    #[test]
    fn vrid_zero() {
        let bytes = edited(&v3_advert(), |b| b[1] = 0);
        assert_eq!(decode4(&bytes), Err(DecodeError::ZeroVrid));
        let mut buf = [0u8; 64];
        let advert = Advertisement {
            vrid: 0,
            ..v3_advert()
        };
        assert_eq!(
            advert.encode(SRC4, DST4, &mut buf),
            Err(EncodeError::ZeroVrid)
        );
    }

    #[test]
    fn family_mismatch() {
        let bytes = encoded(&v3_advert(), SRC4, DST4);
        assert_eq!(
            Advertisement::decode(&bytes, SRC4, DST6),
            Err(DecodeError::FamilyMismatch {
                src: SRC4,
                dst: DST6
            })
        );
        let mut buf = [0u8; 64];
        assert_eq!(
            v3_advert().encode(SRC6, DST4, &mut buf),
            Err(EncodeError::FamilyMismatch {
                src: SRC6,
                dst: DST4
            })
        );
        let err = v3_advert().encode(SRC6, DST6, &mut buf).unwrap_err();
        assert_eq!(
            err,
            EncodeError::AddressFamilyMismatch {
                index: 0,
                address: v4(198, 18, 0, 210),
                family: IpFamily::V6
            }
        );
        assert_eq!(
            err.to_string(),
            "address #0 (198.18.0.210) is not IPv6 like the IP header"
        );
    }

    #[test]
    fn encode_refuses_what_the_wire_cannot_carry() {
        let mut buf = [0u8; 4096];
        let check = |advert: Advertisement| advert.encode(SRC4, DST4, &mut [0u8; 4096]);
        assert_eq!(
            check(Advertisement {
                interval_cs: 150,
                ..v2_advert()
            }),
            Err(EncodeError::V2IntervalNotWholeSeconds { interval_cs: 150 })
        );
        for interval_cs in [0, 25600] {
            assert_eq!(
                check(Advertisement {
                    interval_cs,
                    ..v2_advert()
                }),
                Err(EncodeError::IntervalOutOfRange {
                    version: Version::V2,
                    interval_cs,
                    min: 100,
                    max: 25500
                })
            );
        }
        for interval_cs in [0, 4096] {
            assert_eq!(
                check(Advertisement {
                    interval_cs,
                    ..v3_advert()
                }),
                Err(EncodeError::IntervalOutOfRange {
                    version: Version::V3,
                    interval_cs,
                    min: 1,
                    max: 4095
                })
            );
        }
        assert_eq!(
            check(Advertisement {
                auth: Auth::simple_from_str("x"),
                ..v3_advert()
            }),
            Err(EncodeError::AuthInV3)
        );
        let many = Advertisement {
            addresses: (0..=255u8).map(|i| v4(198, 18, 1, i)).collect(),
            ..v3_advert()
        };
        assert_eq!(
            many.encode(SRC4, DST4, &mut buf),
            Err(EncodeError::TooManyAddresses { count: 256 })
        );
        let mut short = [0u8; 11];
        assert_eq!(
            v3_advert().encode(SRC4, DST4, &mut short),
            Err(EncodeError::BufferTooSmall {
                needed: 12,
                available: 11
            })
        );
    }

    #[test]
    fn largest_messages_round_trip() {
        let v2 = Advertisement {
            addresses: (0..=254u8).map(|i| v4(198, 18, 1, i)).collect(),
            ..v2_advert()
        };
        let bytes = encoded(&v2, SRC4, DST4);
        assert_eq!(bytes.len(), 8 + 255 * 4 + 8);
        assert_eq!(decode4(&bytes), Ok(v2));
        let v3 = Advertisement {
            addresses: (0..255u16).map(v6).collect(),
            interval_cs: MAX_V3_INTERVAL_CS,
            ..v3_advert()
        };
        let bytes = encoded(&v3, SRC6, DST6);
        assert_eq!(bytes.len(), 8 + 255 * 16);
        assert_eq!(Advertisement::decode(&bytes, SRC6, DST6), Ok(v3));
    }

    #[test]
    fn simple_password_is_cut_to_eight_bytes_and_zero_padded() {
        assert_eq!(
            Auth::simple_from_str("secretpass"),
            Auth::Simple(*b"secretpa")
        );
        assert_eq!(
            Auth::simple_from_str("abc"),
            Auth::Simple(*b"abc\0\0\0\0\0")
        );
        assert_eq!(Auth::simple_from_str(""), Auth::Simple([0; 8]));
        assert_eq!(Auth::simple_from_str("abc").auth_type(), AUTH_TYPE_SIMPLE);
        assert_eq!(Auth::None.data(), [0; 8]);
    }

    #[test]
    fn view_getters_do_not_panic_on_short_buffers() {
        let packet = AdvertPacket::new_unchecked(&[0x21u8, 9, 9, 200][..], IpFamily::V4);
        assert_eq!(packet.interval_cs(), 0);
        assert_eq!(packet.checksum(), 0);
        assert_eq!(packet.addresses().count(), 0);
        assert_eq!(packet.auth_data(), [0; 8]);
        let _ = packet.compute_checksum(SRC4, DST4);
        let mut buf = [0u8; 3];
        let mut packet = AdvertPacket::new_unchecked(&mut buf[..], IpFamily::V6);
        packet.set_address(7, v6(1));
        packet.set_address(usize::MAX, v6(1));
        packet.set_auth_data([1; 8]);
        packet.fill_checksum(SRC6, DST6);
        assert_eq!(buf, [0; 3]);
    }

    #[test]
    fn checksum_matches_rfc_1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&data), !0xddf2);
        // Runs of odd length continue the word alignment.
        let split = InternetChecksum::new()
            .add(&data[..3])
            .add(&[])
            .add(&data[3..5])
            .add(&data[5..])
            .finish();
        assert_eq!(split, !0xddf2);
        // An odd trailing byte is padded with zero.
        assert_eq!(internet_checksum(&[0xab]), !0xab00);
        assert_eq!(internet_checksum(&[]), 0xffff);
    }

    /// A valid IPv4 header with `options` 32-bit words of options, carrying `payload`.
    fn ipv4_packet(options: usize, payload: &[u8]) -> Vec<u8> {
        let header_len = 20 + 4 * options;
        let total = u16::try_from(header_len + payload.len()).unwrap();
        let mut p = vec![0u8; header_len];
        p[0] = 0x40 | u8::try_from(header_len / 4).unwrap();
        p[1] = 0xc0;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[8] = 255;
        p[9] = IP_PROTOCOL_VRRP;
        p[12..16].copy_from_slice(&[198, 18, 0, 12]);
        p[16..20].copy_from_slice(&[224, 0, 0, 18]);
        let sum = internet_checksum(&p);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn ipv4_header_parses_with_and_without_options() {
        let payload = encoded(&v3_advert(), SRC4, DST4);
        for options in [0, 1, 10] {
            let packet = ipv4_packet(options, &payload);
            let header = Ipv4Header::parse(&packet).expect("valid header");
            assert_eq!(header.src, Ipv4Addr::new(198, 18, 0, 12));
            assert_eq!(header.dst, MULTICAST_V4);
            assert_eq!(header.ttl, 255);
            assert_eq!(header.protocol, IP_PROTOCOL_VRRP);
            assert_eq!(header.payload, &payload[..]);
        }
    }

    #[test]
    fn ipv4_header_errors() {
        let good = ipv4_packet(0, &[1, 2, 3, 4]);
        assert_eq!(
            Ipv4Header::parse(&good[..19]),
            Err(Ipv4HeaderError::Truncated {
                len: 19,
                needed: 20
            })
        );
        let mut p = good.clone();
        p[0] = 0x65;
        assert_eq!(
            Ipv4Header::parse(&p),
            Err(Ipv4HeaderError::NotIpv4 { version: 6 })
        );
        p[0] = 0x44;
        assert_eq!(
            Ipv4Header::parse(&p),
            Err(Ipv4HeaderError::HeaderLengthTooSmall { ihl: 4 })
        );
        let with_options = ipv4_packet(2, &[]);
        assert_eq!(
            Ipv4Header::parse(&with_options[..24]),
            Err(Ipv4HeaderError::Truncated {
                len: 24,
                needed: 28
            })
        );
        assert_eq!(
            Ipv4Header::parse(&good[..23]),
            Err(Ipv4HeaderError::TotalLengthExceedsPacket {
                total_len: 24,
                len: 23
            })
        );
        let mut p = good.clone();
        p[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert!(matches!(
            Ipv4Header::parse(&p),
            Err(Ipv4HeaderError::TotalLengthTooSmall {
                total_len: 19,
                header_len: 20
            })
        ));
        let mut p = good.clone();
        p[6] = 0x20;
        assert_eq!(
            Ipv4Header::parse(&p),
            Err(Ipv4HeaderError::Fragment {
                offset: 0,
                more_fragments: true
            })
        );
        p[6] = 0x00;
        p[7] = 0x03;
        assert_eq!(
            Ipv4Header::parse(&p),
            Err(Ipv4HeaderError::Fragment {
                offset: 24,
                more_fragments: false
            })
        );
        let mut p = good.clone();
        let found = u16::from_be_bytes([p[10], p[11]]);
        p[11] ^= 0x10;
        assert_eq!(
            Ipv4Header::parse(&p),
            Err(Ipv4HeaderError::BadChecksum {
                found: found ^ 0x10,
                expected: found
            })
        );
        // Bytes beyond the total length (link padding) are not payload.
        let mut padded = good.clone();
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(Ipv4Header::parse(&padded).unwrap().payload, &[1, 2, 3, 4]);
    }
}
