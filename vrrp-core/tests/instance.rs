//! Behaviour of one `Instance` against RFC 5798 §6 / RFC 3768 and keepalived.

// The test is the driver: it picks the base instant the crate is given
// (vrrp-core's clippy.toml forbids reading the clock in the crate itself).
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use vrrp_core::{
    Action, Advertisement, Auth, ConfigError, ConfigWarning, DropReason, InitialState, Instance,
    InstanceConfig, Reason, State, Version,
};

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 0, last))
}

fn vip() -> IpAddr {
    ip(200)
}

fn config(priority: u8) -> InstanceConfig {
    let mut c = InstanceConfig::new(51, ip(11), vec![vip()]);
    c.priority = priority;
    c
}

fn advert(priority: u8) -> Advertisement {
    Advertisement {
        version: Version::V3,
        vrid: 51,
        priority,
        interval_cs: 100,
        auth: Auth::None,
        addresses: vec![vip()],
    }
}

fn drain(vr: &mut Instance) -> Vec<Action> {
    std::iter::from_fn(|| vr.poll_action()).collect()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A started backup at priority `p` and the base instant.
fn backup(c: InstanceConfig) -> (Instance, Instant) {
    let t0 = Instant::now();
    let mut vr = Instance::new(c).expect("valid");
    vr.start(t0);
    drain(&mut vr);
    (vr, t0)
}

/// A master at priority `p`, reached by timing out alone.
fn master(c: InstanceConfig) -> (Instance, Instant) {
    let (mut vr, _) = backup(c);
    let at = vr.poll_timeout().expect("timer");
    vr.handle_timeout(at);
    drain(&mut vr);
    assert_eq!(vr.state(), State::Master);
    (vr, at)
}

#[test]
fn owner_goes_master_at_once_in_order() {
    let t0 = Instant::now();
    let mut vr = Instance::new(config(255)).expect("valid");
    vr.start(t0);
    let actions = drain(&mut vr);
    assert_eq!(actions.len(), 4, "{actions:?}");
    assert_eq!(actions[0], Action::AddAddresses(vec![vip()]));
    assert!(matches!(&actions[1], Action::SendAdvert(a) if a.priority == 255));
    assert_eq!(actions[2], Action::Announce(vec![vip()]));
    assert_eq!(
        actions[3],
        Action::StateChanged {
            from: State::Initialize,
            to: State::Master,
            reason: Reason::AddressOwner
        }
    );
    assert_eq!(vr.poll_timeout(), Some(t0 + ms(1000)));
    assert!(vr.accepts_vip_traffic());
    assert_eq!(vr.master_address(), Some(ip(11)));
}

#[test]
fn master_advertises_every_interval() {
    let (mut vr, t) = master(config(100));
    assert_eq!(vr.poll_timeout(), Some(t + ms(1000)));
    vr.handle_timeout(t + ms(999));
    assert!(drain(&mut vr).is_empty(), "early timeout is a no-op");
    vr.handle_timeout(t + ms(1000));
    let actions = drain(&mut vr);
    assert!(matches!(&actions[..], [Action::SendAdvert(a)] if a.priority == 100));
    assert_eq!(vr.poll_timeout(), Some(t + ms(2000)));
    assert_eq!(vr.counters().adverts_sent, 2);
}

#[test]
fn receive_checks_drop_and_count() {
    let mut c = config(100);
    c.version = Version::V2;
    c.auth = Auth::Simple(*b"secret\0\0");
    let (mut vr, t) = backup(c);
    let good = Advertisement {
        version: Version::V2,
        auth: Auth::Simple(*b"secret\0\0"),
        ..advert(150)
    };
    let cases = [
        (ip(12), 64, good.clone(), DropReason::Ttl { got: 64 }),
        (
            ip(12),
            255,
            Advertisement {
                vrid: 52,
                ..good.clone()
            },
            DropReason::VridMismatch {
                got: 52,
                expected: 51,
            },
        ),
        (
            ip(12),
            255,
            Advertisement {
                version: Version::V3,
                ..good.clone()
            },
            DropReason::VersionMismatch {
                got: Version::V3,
                expected: Version::V2,
            },
        ),
        (
            ip(12),
            255,
            Advertisement {
                auth: Auth::Simple(*b"wrong\0\0\0"),
                ..good.clone()
            },
            DropReason::AuthMismatch,
        ),
        (
            ip(12),
            255,
            Advertisement {
                auth: Auth::None,
                ..good.clone()
            },
            DropReason::AuthMismatch,
        ),
        (
            ip(12),
            255,
            Advertisement {
                interval_cs: 200,
                ..good.clone()
            },
            DropReason::IntervalMismatch {
                got_cs: 200,
                expected_cs: 100,
            },
        ),
        (ip(11), 255, good.clone(), DropReason::OwnAdvert),
    ];
    let timer = vr.poll_timeout();
    for (src, ttl, a, reason) in cases {
        assert_eq!(vr.handle_advert(t + ms(10), src, ttl, &a), Err(reason));
    }
    assert_eq!(
        vr.poll_timeout(),
        timer,
        "dropped adverts do not touch the timer"
    );
    let c = *vr.counters();
    assert_eq!(c.adverts_received, 7);
    assert_eq!(
        (
            c.dropped_ttl,
            c.dropped_vrid,
            c.dropped_version,
            c.dropped_auth,
            c.dropped_interval,
            c.dropped_own
        ),
        (1, 1, 1, 2, 1, 1)
    );
    assert_eq!(vr.handle_advert(t + ms(10), ip(12), 255, &good), Ok(()));
    assert_eq!(vr.master_address(), Some(ip(12)));
}

#[test]
fn init_and_fault_do_not_listen() {
    let mut vr = Instance::new(config(100)).expect("valid");
    let t = Instant::now();
    assert_eq!(
        vr.handle_advert(t, ip(12), 255, &advert(100)),
        Err(DropReason::NotListening {
            state: State::Initialize
        })
    );
    vr.start(t);
    vr.set_fault(t, true);
    assert_eq!(
        vr.handle_advert(t, ip(12), 255, &advert(100)),
        Err(DropReason::NotListening {
            state: State::Fault
        })
    );
    assert_eq!(vr.counters().dropped_not_listening, 2);
}

#[test]
fn equal_priority_tie_break_by_primary_address() {
    // From a higher address: step down.
    let (mut vr, t) = master(config(100));
    vr.handle_advert(t + ms(5), ip(12), 255, &advert(100))
        .expect("accepted");
    let actions = drain(&mut vr);
    assert_eq!(actions[0], Action::RemoveAddresses(vec![vip()]));
    assert_eq!(
        actions[1],
        Action::StateChanged {
            from: State::Master,
            to: State::Backup,
            reason: Reason::EqualPriorityHigherAddress {
                from: ip(12),
                priority: 100
            }
        }
    );
    assert_eq!(vr.master_address(), Some(ip(12)));
    assert_eq!(
        vr.poll_timeout(),
        Some(t + ms(5) + vr.master_down_interval().total())
    );

    // From a lower address: stay master and answer at once.
    let (mut vr, t) = master(config(100));
    vr.handle_advert(t + ms(5), ip(10), 255, &advert(100))
        .expect("accepted");
    let actions = drain(&mut vr);
    assert!(
        matches!(&actions[..], [Action::SendAdvert(a)] if a.priority == 100),
        "{actions:?}"
    );
    assert_eq!(vr.state(), State::Master);
    assert_eq!(vr.poll_timeout(), Some(t + ms(1005)));
}

#[test]
fn master_steps_down_for_higher_priority_and_adopts_its_interval() {
    let (mut vr, t) = master(config(100));
    let higher = Advertisement {
        interval_cs: 50,
        ..advert(101)
    };
    vr.handle_advert(t, ip(9), 255, &higher).expect("accepted");
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.master_adver_interval_cs(), 50);
    // 3 × 0.5 s + (256 − 100) × 0.5 s / 256
    assert_eq!(
        vr.poll_timeout(),
        Some(t + Duration::from_micros(1_500_000 + 304_687))
    );
    let actions = drain(&mut vr);
    assert!(actions.contains(&Action::StateChanged {
        from: State::Master,
        to: State::Backup,
        reason: Reason::HigherPriority {
            from: ip(9),
            priority: 101
        }
    }));
    assert!(!actions.iter().any(|a| matches!(a, Action::SendAdvert(_))));
}

#[test]
fn master_answers_lower_priority_at_once() {
    let (mut vr, t) = master(config(100));
    vr.handle_advert(t + ms(300), ip(12), 255, &advert(50))
        .expect("accepted");
    let actions = drain(&mut vr);
    assert!(matches!(&actions[..], [Action::SendAdvert(a)] if a.priority == 100));
    assert_eq!(vr.state(), State::Master);
    assert_eq!(vr.poll_timeout(), Some(t + ms(1300)));
}

#[test]
fn backup_priority_zero_sets_skew_time() {
    let (mut vr, t) = backup(config(100));
    vr.handle_advert(t, ip(12), 255, &advert(200))
        .expect("accepted");
    let now = t + ms(500);
    vr.handle_advert(now, ip(12), 255, &advert(0))
        .expect("accepted");
    assert_eq!(vr.poll_timeout(), Some(now + vr.skew_time()));
    assert_eq!(vr.skew_time(), Duration::from_micros(609_375));
    vr.handle_timeout(now + vr.skew_time());
    let actions = drain(&mut vr);
    assert_eq!(
        actions.last(),
        Some(&Action::StateChanged {
            from: State::Backup,
            to: State::Master,
            reason: Reason::MasterResigned { from: ip(12) }
        })
    );
    assert_eq!(vr.counters().priority_zero_received, 1);
}

#[test]
fn v3_backup_adopts_master_interval() {
    let (mut vr, t) = backup(config(100));
    vr.handle_advert(
        t,
        ip(12),
        255,
        &Advertisement {
            interval_cs: 300,
            ..advert(200)
        },
    )
    .expect("accepted");
    assert_eq!(vr.master_adver_interval_cs(), 300);
    let mdi = vr.master_down_interval();
    assert_eq!(mdi.advert_interval, ms(3000));
    assert_eq!(vr.poll_timeout(), Some(t + mdi.total()));
    // Our own adverts keep the configured interval when we take over.
    vr.handle_timeout(t + mdi.total());
    let sent = drain(&mut vr).into_iter().find_map(|a| match a {
        Action::SendAdvert(a) => Some(a),
        _ => None,
    });
    assert_eq!(sent.map(|a| a.interval_cs), Some(100));
}

#[test]
fn preempt_discards_lower_priority_then_takes_over() {
    let (mut vr, t) = backup(config(100));
    let timer = vr.poll_timeout();
    vr.handle_advert(t + ms(100), ip(12), 255, &advert(50))
        .expect("accepted");
    assert_eq!(
        vr.poll_timeout(),
        timer,
        "lower priority does not reset the timer"
    );
    assert_eq!(vr.counters().lower_priority_discarded, 1);
    vr.handle_timeout(timer.expect("timer"));
    assert_eq!(
        drain(&mut vr).last(),
        Some(&Action::StateChanged {
            from: State::Backup,
            to: State::Master,
            reason: Reason::PreemptedLowerPriority {
                from: ip(12),
                priority: 50
            }
        })
    );
}

#[test]
fn nopreempt_accepts_lower_priority_master() {
    let mut c = config(100);
    c.preempt = false;
    let (mut vr, t) = backup(c);
    for k in 1..20u64 {
        let now = t + ms(1000 * k);
        vr.handle_advert(now, ip(12), 255, &advert(50))
            .expect("accepted");
        assert_eq!(
            vr.poll_timeout(),
            Some(now + vr.master_down_interval().total())
        );
    }
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.master_address(), Some(ip(12)));
}

#[test]
fn preempt_delay_holds_off_preemption() {
    let mut c = config(100);
    c.preempt_delay = Duration::from_secs(5);
    let (mut vr, t) = backup(c);
    // Within 5 s of start, a lower master is accepted (timer reset).
    for k in 0..5u64 {
        let now = t + ms(1000 * k);
        vr.handle_advert(now, ip(12), 255, &advert(50))
            .expect("accepted");
        assert_eq!(
            vr.poll_timeout(),
            Some(now + vr.master_down_interval().total())
        );
    }
    // From then on it is discarded, and the backup times out and preempts.
    let frozen = vr.poll_timeout();
    vr.handle_advert(t + ms(5000), ip(12), 255, &advert(50))
        .expect("accepted");
    assert_eq!(vr.poll_timeout(), frozen);
    vr.handle_timeout(frozen.expect("timer"));
    assert_eq!(vr.state(), State::Master);
}

#[test]
fn fault_from_master_resigns_and_recovers_as_backup() {
    let (mut vr, t) = master(config(100));
    vr.set_fault(t + ms(10), true);
    let actions = drain(&mut vr);
    assert!(matches!(&actions[0], Action::SendAdvert(a) if a.priority == 0));
    assert_eq!(actions[1], Action::RemoveAddresses(vec![vip()]));
    assert_eq!(
        actions[2],
        Action::StateChanged {
            from: State::Master,
            to: State::Fault,
            reason: Reason::FaultSet
        }
    );
    assert_eq!(vr.poll_timeout(), None);
    assert_eq!(vr.master_address(), None);
    assert_eq!(vr.counters().priority_zero_sent, 1);
    vr.set_fault(t + ms(20), false);
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(
        vr.poll_timeout(),
        Some(t + ms(20) + vr.master_down_interval().total())
    );
    assert_eq!(
        drain(&mut vr),
        vec![Action::StateChanged {
            from: State::Fault,
            to: State::Backup,
            reason: Reason::FaultCleared
        }]
    );
}

#[test]
fn fault_before_start_starts_in_fault() {
    let mut vr = Instance::new(config(100)).expect("valid");
    let t = Instant::now();
    vr.set_fault(t, true);
    vr.start(t);
    assert_eq!(vr.state(), State::Fault);
    assert_eq!(vr.poll_timeout(), None);
}

#[test]
fn shutdown_master_resigns_and_can_restart() {
    let (mut vr, t) = master(config(100));
    vr.shutdown(t);
    let actions = drain(&mut vr);
    assert!(matches!(&actions[0], Action::SendAdvert(a) if a.priority == 0));
    assert_eq!(actions[1], Action::RemoveAddresses(vec![vip()]));
    assert_eq!(
        actions[2],
        Action::StateChanged {
            from: State::Master,
            to: State::Initialize,
            reason: Reason::Shutdown
        }
    );
    assert_eq!(vr.poll_timeout(), None);
    vr.start(t + ms(1));
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.transitions(), 4);
}

#[test]
fn initial_state_master_waits_master_down_interval() {
    let mut c = config(100);
    c.initial_state = InitialState::Master;
    assert!(c.warnings().is_empty());
    let (mut vr, t) = backup(c.clone());
    // RFC 5798 §6.4.1 and keepalived 2.2.7: the whole Master_Down_Interval
    // (3 × 1 s + (256 - 100) / 256 s), not one interval.
    let down = t + Duration::from_micros(3_609_375);
    assert_eq!(vr.poll_timeout(), Some(down));
    vr.handle_timeout(down - Duration::from_millis(1));
    assert_eq!(vr.state(), State::Backup, "not before the interval");
    assert!(
        !drain(&mut vr)
            .iter()
            .any(|a| matches!(a, Action::SendAdvert(_))),
        "no advert while listening"
    );
    vr.handle_timeout(down);
    assert_eq!(
        drain(&mut vr).last(),
        Some(&Action::StateChanged {
            from: State::Backup,
            to: State::Master,
            reason: Reason::InitialStateMaster
        })
    );
    // With nopreempt keepalived ignores the hint (and warns).
    c.preempt = false;
    assert_eq!(
        c.warnings(),
        vec![ConfigWarning::NopreemptWithInitialMaster]
    );
    let (vr, t) = backup(c);
    assert_eq!(
        vr.poll_timeout(),
        Some(t + vr.master_down_interval().total())
    );
}

#[test]
fn priority_change_moves_the_backup_timer() {
    let (mut vr, t) = backup(config(100));
    let before = vr.poll_timeout().expect("timer");
    vr.set_effective_priority(t + ms(100), 200);
    assert_eq!(vr.effective_priority(), 200);
    // Skew shrinks from 156/256 s to 56/256 s.
    assert_eq!(
        vr.poll_timeout(),
        Some(before - Duration::from_micros(390_625))
    );
    vr.set_effective_priority(t + ms(100), 0);
    assert_eq!(vr.effective_priority(), 1, "clamped to 1..=254");

    let mut owner = Instance::new(config(255)).expect("valid");
    owner.set_effective_priority(t, 10);
    assert_eq!(owner.effective_priority(), 255);
}

#[test]
fn lowered_master_advertises_its_new_priority() {
    let (mut vr, t) = master(config(100));
    vr.set_effective_priority(t, 80);
    vr.handle_timeout(t + ms(1000));
    assert!(matches!(&drain(&mut vr)[..], [Action::SendAdvert(a)] if a.priority == 80));
}

#[test]
fn address_list_mismatch_is_reported_once_and_counted() {
    let (mut vr, t) = backup(config(100));
    let other = Advertisement {
        addresses: vec![ip(201)],
        ..advert(200)
    };
    for _ in 0..3 {
        vr.handle_advert(t, ip(12), 255, &other).expect("not fatal");
    }
    assert_eq!(
        drain(&mut vr),
        vec![Action::AddressListMismatch {
            from: ip(12),
            advertised: vec![ip(201)]
        }]
    );
    assert_eq!(vr.counters().address_list_mismatch, 3);
    assert_eq!(vr.master_address(), Some(ip(12)));
}

#[test]
fn config_validation_names_the_field() {
    let bad = |f: fn(&mut InstanceConfig)| {
        let mut c = config(100);
        f(&mut c);
        Instance::new(c).expect_err("invalid")
    };
    assert_eq!(bad(|c| c.vrid = 0), ConfigError::Vrid);
    assert_eq!(bad(|c| c.priority = 0), ConfigError::Priority);
    assert_eq!(
        bad(|c| c.advert_interval_cs = 0),
        ConfigError::V3Interval { cs: 0 }
    );
    assert_eq!(
        bad(|c| c.advert_interval_cs = 4096),
        ConfigError::V3Interval { cs: 4096 }
    );
    assert_eq!(bad(|c| c.auth = Auth::Simple([1; 8])), ConfigError::V3Auth);
    assert_eq!(
        bad(|c| c.virtual_addresses.clear()),
        ConfigError::NoAddresses
    );
    assert_eq!(
        bad(|c| {
            c.version = Version::V2;
            c.advert_interval_cs = 150;
        }),
        ConfigError::V2Interval { cs: 150 }
    );
    let v6: IpAddr = "2001:db8::1".parse().expect("literal");
    assert_eq!(
        bad(|c| c
            .virtual_addresses
            .push("2001:db8::1".parse().expect("literal"))),
        ConfigError::MixedFamilies {
            address: v6,
            primary: ip(11)
        }
    );
    assert_eq!(
        bad(|c| {
            c.version = Version::V2;
            c.primary_address = "2001:db8::2".parse().expect("literal");
        }),
        ConfigError::V2Ipv6
    );
    assert!(
        ConfigError::V3Interval { cs: 4096 }
            .to_string()
            .contains("4096")
    );
}

#[test]
fn states_print_like_keepalived() {
    let names: Vec<String> = [
        State::Initialize,
        State::Backup,
        State::Master,
        State::Fault,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(names, ["INIT", "BACKUP", "MASTER", "FAULT"]);
    assert_eq!(
        Reason::HigherPriority {
            from: ip(12),
            priority: 150
        }
        .to_string(),
        "higher priority 150 advert from 198.18.0.12"
    );
}

#[derive(Debug, Clone)]
enum Event {
    Advert {
        from: u8,
        priority: u8,
        ttl_ok: bool,
        interval_cs: u16,
    },
    Elapse(u16),
    Timeout,
    Priority(u8),
    Fault(bool),
    Shutdown,
    Start,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => (9..14u8, any::<u8>(), prop::bool::weighted(0.9), 1..400u16).prop_map(
            |(from, priority, ttl_ok, interval_cs)| Event::Advert { from, priority, ttl_ok, interval_cs }
        ),
        3 => (0..5000u16).prop_map(Event::Elapse),
        3 => Just(Event::Timeout),
        1 => any::<u8>().prop_map(Event::Priority),
        1 => any::<bool>().prop_map(Event::Fault),
        1 => Just(Event::Shutdown),
        1 => Just(Event::Start),
    ]
}

proptest! {
    /// Arbitrary inputs never panic, addresses are held exactly while MASTER,
    /// every StateChanged matches the state, and the timer is set exactly in
    /// BACKUP and MASTER.
    #[test]
    fn arbitrary_events_keep_the_invariants(
        priority in 1..=255u8,
        preempt in any::<bool>(),
        hint_master in any::<bool>(),
        delay_ms in 0..3000u64,
        events in prop::collection::vec(event(), 0..200),
    ) {
        let mut c = config(priority);
        c.preempt = preempt;
        c.preempt_delay = ms(delay_ms);
        c.initial_state = if hint_master { InitialState::Master } else { InitialState::Backup };
        let mut vr = Instance::new(c).expect("valid");
        let mut now = Instant::now();
        let mut held = false;
        let mut state = State::Initialize;
        for e in events {
            match e {
                Event::Advert { from, priority, ttl_ok, interval_cs } => {
                    let a = Advertisement { interval_cs, ..advert(priority) };
                    let _ = vr.handle_advert(now, ip(from), if ttl_ok { 255 } else { 1 }, &a);
                }
                Event::Elapse(d) => now += ms(u64::from(d)),
                Event::Timeout => {
                    if let Some(t) = vr.poll_timeout() {
                        now = now.max(t);
                        vr.handle_timeout(now);
                    }
                }
                Event::Priority(p) => vr.set_effective_priority(now, p),
                Event::Fault(f) => vr.set_fault(now, f),
                Event::Shutdown => vr.shutdown(now),
                Event::Start => vr.start(now),
            }
            while let Some(action) = vr.poll_action() {
                match action {
                    Action::AddAddresses(_) => { prop_assert!(!held); held = true; }
                    Action::RemoveAddresses(_) => { prop_assert!(held); held = false; }
                    Action::Announce(_) => prop_assert!(held),
                    Action::SendAdvert(a) => {
                        prop_assert!(a.priority == 0 || state == State::Master || held);
                        prop_assert_eq!(a.vrid, 51);
                    }
                    Action::StateChanged { from, to, .. } => {
                        prop_assert_eq!(from, state);
                        prop_assert_ne!(from, to);
                        state = to;
                    }
                    Action::AddressListMismatch { .. } => {}
                }
            }
            prop_assert_eq!(state, vr.state());
            prop_assert_eq!(held, vr.state() == State::Master);
            prop_assert_eq!(
                vr.poll_timeout().is_some(),
                matches!(vr.state(), State::Master | State::Backup)
            );
            if priority == 255 {
                prop_assert_eq!(vr.effective_priority(), 255);
            } else {
                prop_assert!((1..=254).contains(&vr.effective_priority()));
            }
        }
    }
}

#[test]
fn ipv6_tie_break_compares_addresses_bytewise() {
    let v6 = |s: &str| -> IpAddr { s.parse().expect("literal") };
    let mut c = InstanceConfig::new(7, v6("2001:db8::9"), vec![v6("2001:db8::100")]);
    c.priority = 100;
    let (mut vr, t) = master(c);
    let a = Advertisement {
        vrid: 7,
        addresses: vec![v6("2001:db8::100")],
        ..advert(100)
    };
    // 2001:db8::8 < 2001:db8::9: we stay master.
    vr.handle_advert(t, v6("2001:db8::8"), 255, &a)
        .expect("accepted");
    assert_eq!(vr.state(), State::Master);
    // 2001:db8::a > 2001:db8::9: we step down.
    vr.handle_advert(t, v6("2001:db8::a"), 255, &a)
        .expect("accepted");
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.master_address(), Some(v6("2001:db8::a")));
}

#[test]
fn sync_group_member_becoming_master_pulls_a_backup_along() {
    let (mut vr, t0) = backup(config(100));
    let at = t0 + ms(10);
    assert!(
        vr.poll_timeout().is_some_and(|d| d > at),
        "its own timer is not due"
    );
    vr.follow_group_to_master(at, "VI_2");
    let actions = drain(&mut vr);
    assert_eq!(vr.state(), State::Master);
    assert!(matches!(actions.first(), Some(Action::AddAddresses(a)) if a == &vec![vip()]));
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::SendAdvert(ad) if ad.priority == 100))
    );
    assert!(actions.contains(&Action::StateChanged {
        from: State::Backup,
        to: State::Master,
        reason: Reason::SyncGroup {
            leader: "VI_2".into()
        },
    }));
    assert_eq!(
        Reason::SyncGroup {
            leader: "VI_2".into()
        }
        .to_string(),
        "sync group member VI_2 became MASTER"
    );
    // A master stays, a FAULT member stays in FAULT.
    vr.follow_group_to_master(at, "VI_2");
    assert!(drain(&mut vr).is_empty());
    let (mut faulty, t1) = backup(config(100));
    faulty.set_fault(t1, true);
    drain(&mut faulty);
    faulty.follow_group_to_master(t1, "VI_2");
    assert!(drain(&mut faulty).is_empty());
    assert_eq!(faulty.state(), State::Fault);
}

#[test]
fn a_resumed_master_claims_after_one_interval_unless_a_master_is_heard() {
    let c = config(100);
    let t = Instant::now();
    let mut vr = Instance::new(c.clone()).expect("valid");
    vr.resume(t);
    assert_eq!(vr.state(), State::Backup);
    // One interval plus the skew of priority 255 (1 s / 256).
    let short = t + Duration::from_micros(1_003_906);
    assert_eq!(vr.poll_timeout(), Some(short));
    vr.handle_timeout(short);
    assert_eq!(
        drain(&mut vr).last(),
        Some(&Action::StateChanged {
            from: State::Backup,
            to: State::Master,
            reason: Reason::Resumed
        })
    );
    // resume() is start() for anything but a BACKUP start: an owner is
    // MASTER at once.
    let mut owner = Instance::new(config(255)).expect("valid");
    owner.resume(t);
    assert_eq!(owner.state(), State::Master);
    // start() never takes the short way.
    let mut plain = Instance::new(c).expect("valid");
    plain.start(t);
    assert_eq!(
        plain.poll_timeout(),
        Some(t + Duration::from_micros(3_609_375))
    );
}
