//! Effective priority from tracked checks, computed exactly as keepalived does.
//!
//! keepalived (`vrrp_track.c`) adds each tracked object's weight to the
//! configured priority: a positive weight while the object is healthy, a
//! negative weight while it is failing. A tracked object with weight 0 (a
//! script with `weight 0`, or a tracked interface without a weight) puts the
//! instance in FAULT while it fails. The sum is clamped to 1..=254, and an
//! address owner (priority 255) keeps 255 whatever its checks say (only a
//! weight-0 failure, i.e. FAULT, affects it).

/// One tracked object (script, check or interface) as seen by the priority sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tracked {
    /// keepalived's signed weight; 0 means "FAULT while failing".
    pub weight: i32,
    /// Whether the object currently succeeds (script OK, interface up).
    pub healthy: bool,
}

impl Tracked {
    /// A tracked script or check with keepalived's signed `weight`.
    pub fn check(weight: i32, healthy: bool) -> Self {
        Self { weight, healthy }
    }

    /// A tracked interface without a weight: its failure means FAULT.
    pub fn interface(up: bool) -> Self {
        Self {
            weight: 0,
            healthy: up,
        }
    }

    /// What this object adds to the priority sum right now (`None` = FAULT).
    pub fn contribution(&self) -> Option<i64> {
        match (self.weight, self.healthy) {
            (0, false) => None,
            (0, true) => Some(0),
            (w, true) if w > 0 => Some(i64::from(w)),
            (w, false) if w < 0 => Some(i64::from(w)),
            _ => Some(0),
        }
    }
}

/// The result of [`effective_priority`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriorityOutcome {
    /// The instance runs with this priority (1..=255).
    Priority(u8),
    /// A weight-0 object failed: the instance must be in FAULT.
    Fault,
}

impl std::fmt::Display for PriorityOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Priority(p) => write!(f, "{p}"),
            Self::Fault => f.write_str("FAULT"),
        }
    }
}

/// keepalived's effective priority for configured priority `base` given the
/// current state of every tracked object.
///
/// ```
/// use vrrp_core::priority::{effective_priority, PriorityOutcome, Tracked};
/// // The seed's trap: master 100 with `weight 2` loses its bonus only when
/// // its check fails, so it still beats a healthy backup at 90 + 2 = 92.
/// let master = effective_priority(100, [Tracked::check(2, false)]);
/// let backup = effective_priority(90, [Tracked::check(2, true)]);
/// assert_eq!((master, backup), (PriorityOutcome::Priority(100), PriorityOutcome::Priority(92)));
/// ```
pub fn effective_priority(base: u8, tracked: impl IntoIterator<Item = Tracked>) -> PriorityOutcome {
    let mut total = i64::from(base);
    for object in tracked {
        match object.contribution() {
            Some(delta) => total += delta,
            None => return PriorityOutcome::Fault,
        }
    }
    if base == crate::limits::OWNER_PRIORITY {
        // keepalived never turns an address owner into a non-owner.
        return PriorityOutcome::Priority(crate::limits::OWNER_PRIORITY);
    }
    let (low, high) = crate::limits::TRACKED_PRIORITY.into_inner();
    let clamped = total.clamp(i64::from(low), i64::from(high));
    PriorityOutcome::Priority(u8::try_from(clamped).unwrap_or(254))
}

#[cfg(test)]
mod tests {
    use super::*;
    use PriorityOutcome::{Fault, Priority};

    /// (base, tracked objects, keepalived's effective priority)
    fn keepalived_table() -> Vec<(u8, Vec<Tracked>, PriorityOutcome)> {
        vec![
            // Nothing tracked: the configured priority.
            (100, vec![], Priority(100)),
            // Positive weight: added while healthy, nothing while failing.
            (100, vec![Tracked::check(2, true)], Priority(102)),
            (100, vec![Tracked::check(2, false)], Priority(100)),
            (90, vec![Tracked::check(2, true)], Priority(92)),
            // Negative weight: nothing while healthy, added while failing.
            (100, vec![Tracked::check(-20, true)], Priority(100)),
            (100, vec![Tracked::check(-20, false)], Priority(80)),
            // Several objects sum.
            (
                100,
                vec![
                    Tracked::check(10, true),
                    Tracked::check(-30, false),
                    Tracked::check(5, false),
                ],
                Priority(80),
            ),
            // Clamped to 1..=254.
            (10, vec![Tracked::check(-50, false)], Priority(1)),
            (250, vec![Tracked::check(50, true)], Priority(254)),
            (254, vec![Tracked::check(1, true)], Priority(254)),
            // Weight 0 and tracked interfaces: FAULT while failing.
            (100, vec![Tracked::check(0, true)], Priority(100)),
            (100, vec![Tracked::check(0, false)], Fault),
            (100, vec![Tracked::interface(false)], Fault),
            (
                100,
                vec![Tracked::check(50, true), Tracked::interface(false)],
                Fault,
            ),
            // The address owner stays 255 unless it faults.
            (255, vec![Tracked::check(-100, false)], Priority(255)),
            (255, vec![Tracked::check(10, true)], Priority(255)),
            (255, vec![Tracked::interface(false)], Fault),
            // Extreme weights do not overflow.
            (
                1,
                vec![
                    Tracked::check(i32::MIN, false),
                    Tracked::check(i32::MIN, false),
                ],
                Priority(1),
            ),
            (
                254,
                vec![
                    Tracked::check(i32::MAX, true),
                    Tracked::check(i32::MAX, true),
                ],
                Priority(254),
            ),
        ]
    }

    #[test]
    fn matches_keepalived_table() {
        for (base, tracked, expected) in keepalived_table() {
            assert_eq!(
                effective_priority(base, tracked.clone()),
                expected,
                "base {base}, tracked {tracked:?}"
            );
        }
    }

    #[test]
    fn seed_case_weight_plus_two_does_not_move_the_vip() {
        // Seed: master 100 / backup 90, both `weight 2`; Apache dies on the master.
        let master = effective_priority(100, [Tracked::check(2, false)]);
        let backup = effective_priority(90, [Tracked::check(2, true)]);
        assert_eq!(master, Priority(100));
        assert_eq!(backup, Priority(92));
        assert!(matches!((master, backup), (Priority(m), Priority(b)) if m > b));
    }

    #[test]
    fn seed_case_weight_minus_twenty_moves_the_vip() {
        let master = effective_priority(100, [Tracked::check(-20, false)]);
        let backup = effective_priority(90, [Tracked::check(-20, true)]);
        assert_eq!(master, Priority(80));
        assert_eq!(backup, Priority(90));
    }

    #[test]
    fn display_reads_like_keepalived() {
        assert_eq!(Priority(92).to_string(), "92");
        assert_eq!(Fault.to_string(), "FAULT");
    }
}
