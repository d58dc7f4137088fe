//! VRRP's numeric bounds, in one place: what the RFCs let a router
//! configure (RFC 3768 §5.3, RFC 5798 §5.2), what the wire can carry, and
//! the conversion of an advertisement interval into the centiseconds the
//! state machine and the wire count in. The instance's validation, the
//! packet encoder and the daemon's config validation and planner all read
//! them from here.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::packet::Version;

/// Virtual router identifiers (0 is not one).
pub const VRID: RangeInclusive<u8> = 1..=255;

/// Configurable priorities: 255 is the address owner's; 0 is reserved for
/// a master that resigns.
pub const PRIORITY: RangeInclusive<u8> = 1..=255;

/// The address owner's priority.
pub const OWNER_PRIORITY: u8 = 255;

/// Priorities that tracked inputs can move a router to: never the owner's
/// 255, never the resigning 0 (keepalived clamps the same way).
pub const TRACKED_PRIORITY: RangeInclusive<i32> = 1..=254;

/// Weights of a tracked check or interface (keepalived's -254..=254).
pub const WEIGHT: RangeInclusive<i32> = -254..=254;

/// VRRPv2 advertisement intervals in centiseconds: whole seconds 1..=255
/// (an 8-bit count of seconds on the wire).
pub const V2_INTERVAL_CS: RangeInclusive<u16> = 100..=25_500;

/// VRRPv3 advertisement intervals in centiseconds: 0.01..=40.95 s (a 12-bit
/// count of centiseconds on the wire).
pub const V3_INTERVAL_CS: RangeInclusive<u16> = 1..=4095;

/// Most virtual addresses one advertisement carries (an 8-bit count).
pub const MAX_ADDRESSES: usize = 255;

/// The advertisement intervals `version` allows, in centiseconds.
pub fn interval_range_cs(version: Version) -> RangeInclusive<u16> {
    match version {
        Version::V2 => V2_INTERVAL_CS,
        Version::V3 => V3_INTERVAL_CS,
    }
}

/// Whether `cs` centiseconds is an interval `version` can advertise.
pub fn interval_ok(version: Version, cs: u16) -> bool {
    interval_range_cs(version).contains(&cs) && (version == Version::V3 || cs.is_multiple_of(100))
}

/// An advertisement interval `version` cannot carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IntervalError {
    /// VRRPv2: not whole seconds from 1 to 255.
    #[error("VRRPv2 advertises whole seconds 1-255; use version 3 for sub-second intervals")]
    V2,
    /// VRRPv3: not a whole number of centiseconds from 0.01 to 40.95 s.
    #[error("VRRPv3 advertises 0.01-40.95 s in steps of 0.01 s")]
    V3,
}

impl IntervalError {
    /// What `version` allows, for messages that name the value themselves.
    pub fn allowed(self) -> &'static str {
        match self {
            Self::V2 => "whole seconds 1-255; use version = 3 for sub-second intervals",
            Self::V3 => "0.01-40.95 s in steps of 0.01 s",
        }
    }
}

/// `interval` in centiseconds, when `version` can advertise it exactly.
///
/// # Errors
/// [`IntervalError`] when it is out of the version's range or not a whole
/// number of its units (seconds for v2, centiseconds for v3).
pub fn interval_cs(version: Version, interval: Duration) -> Result<u16, IntervalError> {
    let err = match version {
        Version::V2 => IntervalError::V2,
        Version::V3 => IntervalError::V3,
    };
    if !interval.subsec_nanos().is_multiple_of(10_000_000) {
        return Err(err);
    }
    let cs = u16::try_from(interval.as_millis() / 10).map_err(|_| err)?;
    if interval_ok(version, cs) {
        Ok(cs)
    } else {
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_by_version() {
        let ms = Duration::from_millis;
        assert_eq!(interval_cs(Version::V2, ms(1000)), Ok(100));
        assert_eq!(interval_cs(Version::V2, ms(255_000)), Ok(25_500));
        for bad in [0, 500, 1500, 256_000] {
            assert_eq!(
                interval_cs(Version::V2, ms(bad)),
                Err(IntervalError::V2),
                "{bad} ms"
            );
        }
        assert_eq!(interval_cs(Version::V3, ms(10)), Ok(1));
        assert_eq!(interval_cs(Version::V3, ms(200)), Ok(20));
        assert_eq!(interval_cs(Version::V3, ms(40_950)), Ok(4095));
        for bad in [0, 5, 15, 40_960, 1_000_000] {
            assert_eq!(
                interval_cs(Version::V3, ms(bad)),
                Err(IntervalError::V3),
                "{bad} ms"
            );
        }
        assert_eq!(
            interval_cs(Version::V3, Duration::from_nanos(10_000_001)),
            Err(IntervalError::V3)
        );
        assert!(interval_ok(Version::V2, 300) && !interval_ok(Version::V2, 350));
        assert!(interval_ok(Version::V3, 350));
    }
}
