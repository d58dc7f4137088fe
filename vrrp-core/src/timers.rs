//! VRRP timer arithmetic (RFC 5798 §6.1, RFC 3768 §6.1) as pure functions.
//!
//! The RFCs state Skew_Time in the protocol's own unit (centiseconds for v3,
//! seconds for v2) and leave the rounding open. keepalived 2.x computes it in
//! microseconds (`(256 − priority) × interval_cs × 625 / 16` µs for v3,
//! `(256 − priority) × 1 000 000 / 256` µs for v2), so a had backup takes over
//! at the same instant a keepalived backup would. We do the same: the result
//! differs from the RFC's truncated-centisecond value by less than 10 ms.

use std::time::Duration;

use crate::packet::Version;

/// Microseconds per centisecond, the unit of VRRPv3's advertisement interval.
const MICROS_PER_CS: u64 = 10_000;

/// Skew_Time: how long a backup of `priority` waits beyond three missed
/// adverts, so that higher priorities time out first.
///
/// v3 (RFC 5798 §6.1): `((256 − priority) × Master_Adver_Interval) / 256`.
/// v2 (RFC 3768 §6.1): `(256 − priority) / 256` seconds, whatever the interval.
pub fn skew_time(version: Version, priority: u8, master_adver_interval_cs: u16) -> Duration {
    let weight = 256 - u64::from(priority);
    let micros = match version {
        Version::V3 => weight * u64::from(master_adver_interval_cs) * MICROS_PER_CS / 256,
        Version::V2 => weight * 1_000_000 / 256,
    };
    Duration::from_micros(micros)
}

/// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time, as its parts.
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_interval_cs: u16,
) -> MasterDownInterval {
    MasterDownInterval {
        advert_interval: centiseconds(master_adver_interval_cs),
        skew: skew_time(version, priority, master_adver_interval_cs),
    }
}

/// Converts a VRRP interval in centiseconds to a [`Duration`].
pub fn centiseconds(cs: u16) -> Duration {
    Duration::from_micros(u64::from(cs) * MICROS_PER_CS)
}

/// The time a backup waits without hearing the master before taking over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MasterDownInterval {
    /// Master_Adver_Interval: the interval the current master advertises.
    pub advert_interval: Duration,
    /// Skew_Time for the local priority.
    pub skew: Duration,
}

impl MasterDownInterval {
    /// The whole interval: `3 × advert_interval + skew`.
    pub fn total(&self) -> Duration {
        self.advert_interval * 3 + self.skew
    }
}

impl std::fmt::Display for MasterDownInterval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} (3 × {:?} + skew {:?})",
            self.total(),
            self.advert_interval,
            self.skew
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_skew_follows_the_interval() {
        // RFC 5798 §6.1 with interval 100 cs: (256 − 100) × 1 s / 256 = 609.375 ms.
        assert_eq!(
            skew_time(Version::V3, 100, 100),
            Duration::from_micros(609_375)
        );
        // Priority 255 at 50 cs: 50 cs / 256 = 1953.125 µs, truncated to µs.
        assert_eq!(
            skew_time(Version::V3, 255, 50),
            Duration::from_micros(1_953)
        );
        // Priority 1 at the largest interval: no overflow, just under the interval.
        assert_eq!(
            skew_time(Version::V3, 1, 4095),
            Duration::from_micros(40_790_039)
        );
    }

    #[test]
    fn v2_skew_ignores_the_interval() {
        assert_eq!(
            skew_time(Version::V2, 100, 100),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            skew_time(Version::V2, 100, 500),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            skew_time(Version::V2, 254, 100),
            Duration::from_micros(7_812)
        );
    }

    #[test]
    fn master_down_interval_is_three_intervals_plus_skew() {
        let mdi = master_down_interval(Version::V3, 100, 100);
        assert_eq!(mdi.total(), Duration::from_micros(3_609_375));
        let mdi = master_down_interval(Version::V2, 200, 300);
        assert_eq!(
            mdi.total(),
            Duration::from_secs(9) + Duration::from_micros(218_750)
        );
        assert!(mdi.to_string().starts_with("9.21875s"));
    }

    #[test]
    fn higher_priority_always_times_out_first() {
        for version in [Version::V2, Version::V3] {
            for p in 1..255u8 {
                let lower = master_down_interval(version, p, 100).total();
                let higher = master_down_interval(version, p + 1, 100).total();
                assert!(higher < lower, "{version:?} priority {p}");
            }
        }
    }
}
