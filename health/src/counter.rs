//! keepalived's `rise`/`fall` hysteresis for `vrrp_script`, reproduced
//! exactly (keepalived 2.2 `vrrp_script_child_thread`).
//!
//! keepalived keeps one counter `result` in `0 ..= rise + fall - 1`; the
//! script is OK while `result >= rise`. A success moves the counter up by one
//! while it is below `rise - 1`, and from `rise - 1` (the OK transition) or
//! any OK value jumps to the top; a failure moves it down by one while it is
//! above `rise`, and from `rise` (the KO transition) or below drops it to 0.
//! So `fall` consecutive failures take an OK script down and `rise`
//! consecutive successes bring a failed one up, and any opposite result
//! in between resets the streak.
//!
//! Initial state: keepalived starts a script in an *init* state with
//! `result = rise - 1` ("one success is enough") and treats its very first
//! failure as a KO transition too, so the first result decides the status
//! whatever `rise` and `fall` are. With `init_fail` the script starts failed
//! (`result = 0`) and needs `rise` successes.

use crate::Status;

/// The rise/fall counter of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiseFall {
    rise: u32,
    fall: u32,
    result: u32,
    status: Status,
}

impl RiseFall {
    /// A new counter; `rise` and `fall` below 1 are treated as 1.
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> Self {
        let (rise, fall) = (rise.max(1), fall.max(1));
        if init_fail {
            Self {
                rise,
                fall,
                result: 0,
                status: Status::Failed,
            }
        } else {
            Self {
                rise,
                fall,
                result: rise - 1,
                status: Status::Init,
            }
        }
    }

    /// The current status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Records one result; returns the new status if this result is a
    /// transition (including the first result out of [`Status::Init`]).
    pub fn record(&mut self, success: bool) -> Option<Status> {
        let top = self.rise + self.fall - 1;
        let init = self.status == Status::Init;
        let transition = if success {
            if self.result + 1 < self.rise {
                self.result += 1;
                None
            } else {
                let was_failed = self.result < self.rise;
                self.result = top;
                (was_failed || init).then_some(Status::Ok)
            }
        } else if self.result > self.rise {
            self.result -= 1;
            None
        } else {
            let was_ok = self.result == self.rise;
            self.result = 0;
            (was_ok || init).then_some(Status::Failed)
        };
        if let Some(status) = transition {
            self.status = status;
        }
        transition
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::{Failed, Ok};

    /// Feeds a pattern ('+' success, '-' failure) and returns the status after
    /// each result plus where transitions happened.
    fn run(rise: u32, fall: u32, init_fail: bool, pattern: &str) -> (String, Vec<usize>) {
        let mut c = RiseFall::new(rise, fall, init_fail);
        let mut out = String::new();
        let mut transitions = Vec::new();
        for (i, ch) in pattern.chars().enumerate() {
            if c.record(ch == '+').is_some() {
                transitions.push(i);
            }
            out.push(match c.status() {
                Status::Init => 'i',
                Ok => 'U',
                Failed => 'D',
            });
        }
        (out, transitions)
    }

    #[test]
    fn first_result_decides_from_init() {
        assert_eq!(run(3, 3, false, "+"), ("U".into(), vec![0]));
        assert_eq!(run(3, 3, false, "-"), ("D".into(), vec![0]));
    }

    #[test]
    fn fall_consecutive_failures_take_it_down() {
        // rise 1, fall 2: one failure is tolerated, the second is KO.
        assert_eq!(run(1, 2, false, "+-+--"), ("UUUUD".into(), vec![0, 4]));
        // fall 3: a success in between resets the streak.
        assert_eq!(run(1, 3, false, "+--+---"), ("UUUUUUD".into(), vec![0, 6]));
    }

    #[test]
    fn rise_consecutive_successes_bring_it_up() {
        assert_eq!(run(3, 1, false, "-++-+++"), ("DDDDDDU".into(), vec![0, 6]));
    }

    #[test]
    fn init_fail_starts_failed_and_needs_rise() {
        let c = RiseFall::new(2, 2, true);
        assert_eq!(c.status(), Failed);
        assert_eq!(run(2, 2, true, "-++"), ("DDU".into(), vec![2]));
    }

    #[test]
    fn repeated_results_do_not_re_emit() {
        let mut c = RiseFall::new(2, 2, false);
        assert_eq!(c.record(true), Some(Ok));
        for _ in 0..10 {
            assert_eq!(c.record(true), None);
        }
        assert_eq!(c.record(false), None);
        assert_eq!(c.record(false), Some(Failed));
        for _ in 0..10 {
            assert_eq!(c.record(false), None);
        }
    }

    #[test]
    fn zero_rise_and_fall_act_as_one() {
        assert_eq!(run(0, 0, false, "+-+"), ("UDU".into(), vec![0, 1, 2]));
    }
}
