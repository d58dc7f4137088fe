//! Deterministic simulation: N VRRP instances on a simulated LAN with loss,
//! delay, partitions, crashes and restarts, over thousands of seeds.
//!
//! `HAD_SIM_SEEDS=N` runs N seeds per scenario (default 10 000); `HAD_SIM_SEED=S`
//! runs the single seed S (to replay a failure).

// `sim` is the driver: it picks the base instant of the virtual LAN
// (vrrp-core's clippy.toml forbids reading the clock in the crate itself).
#![allow(clippy::disallowed_methods)]
mod sim;

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_xorshift::XorShiftRng;
use sim::{Lan, Link, node_ip, vip};
use vrrp_core::{InitialState, InstanceConfig, State, Version};

/// The oracle, written from the RFCs independently of the crate's `timers`
/// (keepalived's microsecond arithmetic, see that module): Skew_Time.
fn skew_time(version: Version, priority: u8, interval_cs: u16) -> Duration {
    let weight = 256 - u64::from(priority);
    match version {
        // RFC 5798 §6.1: ((256 − Priority) × Master_Adver_Interval) / 256, in µs.
        Version::V3 => Duration::from_micros(weight * u64::from(interval_cs) * 10_000 / 256),
        // RFC 3768 §6.1: (256 − Priority) / 256 seconds.
        Version::V2 => Duration::from_micros(weight * 1_000_000 / 256),
    }
}

/// The oracle's Master_Down_Interval: 3 × Master_Adver_Interval + Skew_Time.
struct Mdi(Duration);

impl Mdi {
    fn total(&self) -> Duration {
        self.0
    }
}

fn master_down_interval(version: Version, priority: u8, interval_cs: u16) -> Mdi {
    Mdi(interval(interval_cs) * 3 + skew_time(version, priority, interval_cs))
}

fn interval(cs: u16) -> Duration {
    Duration::from_millis(u64::from(cs) * 10)
}

fn seeds() -> Vec<u64> {
    if let Ok(one) = std::env::var("HAD_SIM_SEED") {
        return vec![one.parse().expect("HAD_SIM_SEED is a number")];
    }
    let n: u64 = std::env::var("HAD_SIM_SEEDS")
        .ok()
        .map(|s| s.parse().expect("HAD_SIM_SEEDS is a number"))
        .unwrap_or(10_000);
    (0..n).collect()
}

/// A random cluster: n nodes with distinct priorities, one version/interval.
fn cluster(rng: &mut XorShiftRng, n: usize, preempt: bool) -> Vec<InstanceConfig> {
    let version = if rng.random_bool(0.3) {
        Version::V2
    } else {
        Version::V3
    };
    let interval_cs = match version {
        Version::V2 => 100 * rng.random_range(1..=3u16),
        Version::V3 => rng.random_range(5..=300u16),
    };
    let mut priorities: Vec<u8> = Vec::new();
    while priorities.len() < n {
        let p = rng.random_range(1..=254u8);
        if !priorities.contains(&p) {
            priorities.push(p);
        }
    }
    (0..n)
        .map(|i| {
            let mut c = InstanceConfig::new(51, node_ip(i), vec![vip()]);
            c.version = version;
            c.advert_interval_cs = interval_cs;
            c.priority = priorities[i];
            c.preempt = preempt;
            c.initial_state = if rng.random_bool(0.3) {
                InitialState::Master
            } else {
                InitialState::Backup
            };
            c
        })
        .collect()
}

fn highest(lan: &Lan, candidates: impl Iterator<Item = usize>) -> usize {
    candidates
        .max_by_key(|&i| lan.nodes[i].instance.effective_priority())
        .expect("at least one candidate")
}

/// Worst observations across seeds, printed for the lead's report.
#[derive(Default, Debug)]
struct Worst {
    seeds: u64,
    max_error: Duration,
    max_ratio: f64,
}

impl Worst {
    /// `error` is the deviation from the exact expected instant (0 = to the
    /// tick); `ratio` is the time taken divided by the RFC bound.
    fn report(&self, name: &str, error: &str, bound: &str) {
        eprintln!(
            "sim {name}: {} seeds; largest {error}: {:?}; largest time taken / {bound}: {:.3}",
            self.seeds, self.max_error, self.max_ratio
        );
    }
}

/// After chaos (loss, delay, partitions, crashes, restarts, faults and
/// priority changes) the network heals: exactly one master, the highest live
/// priority, within Master_Down_Interval plus one advert interval (plus the
/// network's delays), and it stays so.
#[test]
fn heal_converges_to_the_highest_priority() {
    let mut worst = Worst::default();
    for seed in seeds() {
        let mut rng = XorShiftRng::seed_from_u64(seed ^ 0xA11CE);
        let n = rng.random_range(2..=5usize);
        let configs = cluster(&mut rng, n, true);
        let interval = interval(configs[0].advert_interval_cs);
        let mut lan = Lan::new(seed, configs.clone());
        let chaos_delay = interval / rng.random_range(2..=20u32);
        let loss = rng.random_range(0.0..0.5);
        lan.set_all_links(Link {
            loss,
            min_delay: Duration::ZERO,
            max_delay: chaos_delay,
            cut: false,
        });
        let mdi_max = master_down_interval(configs[0].version, 1, configs[0].advert_interval_cs);
        let chaos_end = lan.at(mdi_max.total() * rng.random_range(0..=8u32));
        for i in 0..n {
            if rng.random_bool(0.8) {
                lan.start(i);
            }
        }
        let mut used: Vec<u8> = configs.iter().map(|c| c.priority).collect();
        while lan.now < chaos_end {
            let next = (lan.now + interval.mul_f64(rng.random_range(0.0..3.0))).min(chaos_end);
            lan.run_until(next, |_| {});
            let i = rng.random_range(0..n);
            match rng.random_range(0..6u8) {
                0 => {
                    // A new partition: every node in one of up to 3 groups.
                    let groups: Vec<u8> = (0..n).map(|_| rng.random_range(0..3u8)).collect();
                    for a in 0..n {
                        for b in 0..n {
                            lan.links[a][b].cut = groups[a] != groups[b];
                        }
                    }
                }
                1 if lan.nodes[i].alive => lan.crash(i),
                1 => {
                    // The driver re-applies the tracked priority after a restart.
                    lan.restart(i);
                    lan.set_priority(i, used[i]);
                }
                2 if lan.nodes[i].alive => {
                    let fault = !lan.nodes[i].instance.is_fault();
                    lan.set_fault(i, fault);
                }
                3 if lan.nodes[i].alive => {
                    let p = loop {
                        let p = rng.random_range(1..=254u8);
                        if !used.contains(&p) {
                            break p;
                        }
                    };
                    used[i] = p;
                    lan.set_priority(i, p);
                }
                _ => {}
            }
        }
        // Heal: no loss, no cuts, small delays; faults clear; the dead stay dead.
        let heal_delay = Duration::from_micros(rng.random_range(0..=5_000));
        lan.set_all_links(Link {
            loss: 0.0,
            min_delay: Duration::ZERO,
            max_delay: heal_delay,
            cut: false,
        });
        if (0..n).all(|i| !lan.nodes[i].alive) {
            lan.restart(0);
            lan.set_priority(0, used[0]);
        }
        for i in 0..n {
            if lan.nodes[i].alive {
                lan.set_fault(i, false);
            }
        }
        let healed = lan.now;
        let lowest = (0..n)
            .filter(|&i| lan.nodes[i].alive)
            .map(|i| lan.nodes[i].instance.effective_priority())
            .min()
            .expect("someone is alive");
        let mdi = master_down_interval(configs[0].version, lowest, configs[0].advert_interval_cs);
        // Packets already on the wire may still land up to chaos_delay late.
        let nominal = mdi.total() + interval;
        let bound = nominal + chaos_delay + heal_delay * 2;
        let winner = lan.expected_winner().expect("someone is alive");
        let mut good_since = None;
        let observe_until = healed + bound + mdi.total() * 3;
        let check = |lan: &Lan, good_since: &mut Option<std::time::Instant>| {
            if lan.masters() == vec![winner] {
                good_since.get_or_insert(lan.now);
            } else {
                *good_since = None;
            }
        };
        check(&lan, &mut good_since);
        lan.run_until(observe_until, |lan| check(lan, &mut good_since));
        let since = good_since.unwrap_or_else(|| {
            panic!(
                "seed {seed}: masters {:?} at the end, expected only node {winner}\n{}",
                lan.masters(),
                lan.describe()
            )
        });
        let took = since.saturating_duration_since(healed);
        assert!(
            took <= bound,
            "seed {seed}: one master only {took:?} after healing, bound {bound:?}"
        );
        assert_eq!(lan.nodes[winner].instance.state(), State::Master);
        worst.seeds += 1;
        worst.max_error = worst.max_error.max(took);
        worst.max_ratio = worst
            .max_ratio
            .max(took.as_secs_f64() / nominal.as_secs_f64());
    }
    worst.report(
        "heal",
        "time from heal to a single, highest master",
        "(Master_Down_Interval + advert interval)",
    );
}

/// Zero loss and delay: when the master crashes, the highest backup takes
/// over exactly Master_Down_Interval after the master's last advert, and the
/// restarted master preempts it exactly its own Master_Down_Interval after
/// starting.
#[test]
fn crash_takeover_is_exact_to_the_tick() {
    let mut worst = Worst::default();
    let mut worst_preempt = Worst::default();
    for seed in seeds() {
        let mut rng = XorShiftRng::seed_from_u64(seed ^ 0xC4A54);
        let n = rng.random_range(2..=5usize);
        let configs = cluster(&mut rng, n, true);
        let (version, interval_cs) = (configs[0].version, configs[0].advert_interval_cs);
        let interval = interval(interval_cs);
        let mut lan = Lan::new(seed, configs.clone());
        for i in 0..n {
            lan.start(i);
        }
        let mdi_max = master_down_interval(version, 1, interval_cs).total();
        let crash_at = lan.at(mdi_max * 2 + interval.mul_f64(rng.random_range(0.0..5.0)));
        lan.run_until(crash_at, |_| {});
        let m = highest(&lan, 0..n);
        assert_eq!(
            lan.masters(),
            vec![m],
            "seed {seed}: stable before the crash"
        );
        let last_advert = lan.sent[m].last().expect("master advertised").0;
        lan.crash(m);
        let b = highest(&lan, (0..n).filter(|&i| i != m));
        let mdi_b = master_down_interval(version, configs[b].priority, interval_cs).total();
        let expected = last_advert + mdi_b;
        lan.run_until(crash_at + mdi_max + interval, |lan| {
            for i in lan.masters() {
                assert_eq!(i, b, "seed {seed}: only node {b} may take over");
            }
        });
        let took_over = lan.nodes[b]
            .changes
            .iter()
            .find(|(t, _, to)| *t > crash_at && *to == State::Master)
            .unwrap_or_else(|| panic!("seed {seed}: node {b} never took over"))
            .0;
        let error = took_over.max(expected) - took_over.min(expected);
        assert_eq!(
            error,
            Duration::ZERO,
            "seed {seed}: takeover off by {error:?}"
        );
        assert!(
            took_over - crash_at <= mdi_b,
            "seed {seed}: took longer than MDI"
        );
        worst.seeds += 1;
        worst.max_error = worst.max_error.max(error);
        worst.max_ratio = worst
            .max_ratio
            .max((took_over - crash_at).as_secs_f64() / mdi_b.as_secs_f64());

        // The old master returns and preempts.
        let restart_at = lan.now + interval.mul_f64(rng.random_range(0.5..3.0));
        lan.run_until(restart_at, |_| {});
        lan.restart(m);
        // RFC 5798 §6.4.1: whatever its `state` hint, a returning router
        // listens for its whole Master_Down_Interval (the lower-priority
        // master's adverts do not reset the timer) and then preempts.
        let wait = master_down_interval(version, configs[m].priority, interval_cs).total();
        lan.run_until(restart_at + mdi_max + interval, |_| {});
        assert_eq!(
            lan.masters(),
            vec![m],
            "seed {seed}: the higher priority preempts"
        );
        let preempted = lan.nodes[m]
            .changes
            .last()
            .expect("restarted node changed state")
            .0;
        let error = preempted.max(restart_at + wait) - preempted.min(restart_at + wait);
        assert_eq!(
            error,
            Duration::ZERO,
            "seed {seed}: preemption off by {error:?}"
        );
        worst_preempt.seeds += 1;
        worst_preempt.max_error = worst_preempt.max_error.max(error);
        worst_preempt.max_ratio = worst_preempt
            .max_ratio
            .max((preempted - restart_at).as_secs_f64() / wait.as_secs_f64());
    }
    worst.report(
        "crash",
        "takeover error vs last advert + Master_Down_Interval",
        "Master_Down_Interval (from the crash)",
    );
    worst_preempt.report(
        "preempt-on-restart",
        "preemption error vs start + expected wait",
        "expected wait",
    );
}

/// With nopreempt, a higher priority router that comes back stays BACKUP.
#[test]
fn nopreempt_keeps_the_current_master() {
    let mut worst = Worst::default();
    for seed in seeds() {
        let mut rng = XorShiftRng::seed_from_u64(seed ^ 0x0BEE);
        let n = rng.random_range(2..=4usize);
        let configs = cluster(&mut rng, n, false);
        let (version, interval_cs) = (configs[0].version, configs[0].advert_interval_cs);
        let interval = interval(interval_cs);
        let mut lan = Lan::new(seed, configs.clone());
        let delay = interval / rng.random_range(5..=50u32);
        lan.set_all_links(Link {
            loss: 0.0,
            min_delay: Duration::ZERO,
            max_delay: delay,
            cut: false,
        });
        let top = highest(&lan, 0..n);
        for i in (0..n).filter(|&i| i != top) {
            lan.start(i);
        }
        let mdi_max = master_down_interval(version, 1, interval_cs).total();
        lan.run_until(lan.at(mdi_max * 3), |_| {});
        let masters = lan.masters();
        assert_eq!(
            masters.len(),
            1,
            "seed {seed}: one master before the return"
        );
        let current = masters[0];
        let returned_at = lan.now;
        lan.start(top);
        lan.run_until(returned_at + mdi_max * 5, |lan| {
            assert_eq!(
                lan.masters(),
                vec![current],
                "seed {seed}: nopreempt master {current} must stay (higher {top} returned)"
            );
        });
        assert_eq!(lan.nodes[top].instance.state(), State::Backup);
        assert_eq!(
            lan.nodes[top].instance.master_address(),
            Some(node_ip(current))
        );
        worst.seeds += 1;
    }
    worst.report("nopreempt", "takeover (none allowed)", "n/a");
}

/// A master that shuts down sends priority 0; the highest backup takes over
/// within its Skew_Time (exactly, with zero delay).
#[test]
fn priority_zero_hands_over_within_skew_time() {
    let mut worst = Worst::default();
    for seed in seeds() {
        let mut rng = XorShiftRng::seed_from_u64(seed ^ 0x5E51);
        let n = rng.random_range(2..=5usize);
        let configs = cluster(&mut rng, n, true);
        let (version, interval_cs) = (configs[0].version, configs[0].advert_interval_cs);
        let interval = interval(interval_cs);
        let mut lan = Lan::new(seed, configs.clone());
        for i in 0..n {
            lan.start(i);
        }
        let mdi_max = master_down_interval(version, 1, interval_cs).total();
        lan.run_until(
            lan.at(mdi_max * 2 + interval.mul_f64(rng.random_range(0.0..4.0))),
            |_| {},
        );
        let m = highest(&lan, 0..n);
        assert_eq!(
            lan.masters(),
            vec![m],
            "seed {seed}: stable before resigning"
        );
        let resigned_at = lan.now;
        lan.shutdown(m);
        assert_eq!(
            lan.sent[m].last(),
            Some(&(resigned_at, 0)),
            "seed {seed}: priority 0 sent"
        );
        let b = highest(&lan, (0..n).filter(|&i| i != m));
        let skew = skew_time(version, configs[b].priority, interval_cs);
        lan.run_until(resigned_at + mdi_max, |_| {});
        assert_eq!(lan.masters(), vec![b], "seed {seed}");
        let took_over = lan.nodes[b].changes.last().expect("changed").0;
        let error = took_over.max(resigned_at + skew) - took_over.min(resigned_at + skew);
        assert_eq!(
            error,
            Duration::ZERO,
            "seed {seed}: handover off by {error:?}"
        );
        assert!(took_over - resigned_at <= skew);
        worst.seeds += 1;
        worst.max_error = worst.max_error.max(error);
        worst.max_ratio = worst
            .max_ratio
            .max((took_over - resigned_at).as_secs_f64() / skew.as_secs_f64());
    }
    worst.report("resign", "handover error vs Skew_Time", "Skew_Time");
}

/// The simulator itself must catch a broken timer: a backup whose
/// Master_Down_Timer is one tick late fails the exactness check.
#[test]
fn a_late_timer_would_be_caught() {
    let configs = {
        let mut rng = XorShiftRng::seed_from_u64(7);
        cluster(&mut rng, 2, true)
    };
    let (version, interval_cs) = (configs[0].version, configs[0].advert_interval_cs);
    let mut lan = Lan::new(7, configs.clone());
    lan.start(0);
    lan.start(1);
    let mdi_max = master_down_interval(version, 1, interval_cs).total();
    lan.run_until(lan.at(mdi_max * 2), |_| {});
    let m = highest(&lan, 0..2);
    let b = 1 - m;
    let last = lan.sent[m].last().expect("advertised").0;
    lan.crash(m);
    // Deliver a fake late "tick": handle_timeout one microsecond early must not fire.
    let deadline = lan.nodes[b].instance.poll_timeout().expect("backup timer");
    assert_eq!(
        deadline,
        last + master_down_interval(version, configs[b].priority, interval_cs).total()
    );
    lan.nodes[b]
        .instance
        .handle_timeout(deadline - Duration::from_micros(1));
    assert_eq!(lan.nodes[b].instance.state(), State::Backup);
    lan.nodes[b].instance.handle_timeout(deadline);
    assert_eq!(lan.nodes[b].instance.state(), State::Master);
}
