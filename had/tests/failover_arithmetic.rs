//! The failover arithmetic on a table of two-node setups: does a failure on
//! the MASTER move the VIP, and how fast does the backup take over?

use std::time::Duration;

use had::config::{Config, parse_str};
use had::failover::{FailoverReport, Node, Verdict, analyze};
use vrrp_core::PriorityOutcome;

/// One node's instance, written the way an operator would.
struct NodeSpec {
    priority: u32,
    weight: i64,
    /// `track_script` entry (TOML), e.g. `"chk"` or `{ name = "chk", weight = -20 }`.
    track: &'static str,
    /// `track_interface` entries (TOML).
    interfaces: &'static str,
    nopreempt: bool,
    version: u32,
    advert_int: &'static str,
}

const SEED: NodeSpec = NodeSpec {
    priority: 0,
    weight: 2,
    track: "\"chk_apache\"",
    interfaces: "",
    nopreempt: false,
    version: 2,
    advert_int: "1",
};

fn node(name: &str, spec: &NodeSpec) -> Config {
    let text = format!(
        "[global]\nrouter_id = \"{name}\"\n\
         [vrrp_script.chk_apache]\nscript = \"/usr/bin/systemctl is-active apache2\"\ninterval = 2\nweight = {w}\n\
         [vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 51\npriority = {p}\nversion = {v}\n\
         advert_int = {a}\nnopreempt = {np}\nvirtual_ipaddress = [\"198.18.0.200/24\"]\n\
         track_script = [{t}]\ntrack_interface = [{i}]\n",
        w = spec.weight,
        p = spec.priority,
        v = spec.version,
        a = spec.advert_int,
        np = spec.nopreempt,
        t = spec.track,
        i = spec.interfaces,
    );
    parse_str(&text, format!("{name}.toml"))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .config
}

fn report(master: &NodeSpec, backup: &NodeSpec) -> FailoverReport {
    let (a, b) = (node("ha1", master), node("ha2", backup));
    analyze(&[Node::new("ha1", &a), Node::new("ha2", &b)])
}

struct Case {
    what: &'static str,
    master: NodeSpec,
    backup: NodeSpec,
    /// The tracked object examined.
    tracked: &'static str,
    moves: bool,
    master_after: PriorityOutcome,
    /// The sentence `hactl check` prints for it.
    sentence: &'static str,
}

#[test]
fn tracked_failures_move_the_vip_or_not() {
    use PriorityOutcome::{Fault, Priority};
    let cases = [
        Case {
            what: "the seed: master 100 / backup 90, weight +2",
            master: NodeSpec {
                priority: 100,
                ..SEED
            },
            backup: NodeSpec {
                priority: 90,
                ..SEED
            },
            tracked: "chk_apache",
            moves: false,
            master_after: Priority(100),
            sentence: "VI_1: chk_apache failing on ha1 leaves it at 100 against ha2's 92: the VIP does NOT move",
        },
        Case {
            what: "weight -20 moves it",
            master: NodeSpec {
                priority: 100,
                weight: -20,
                ..SEED
            },
            backup: NodeSpec {
                priority: 90,
                weight: -20,
                ..SEED
            },
            tracked: "chk_apache",
            moves: true,
            master_after: Priority(80),
            sentence: "VI_1: chk_apache failing on ha1 leaves it at 80 against ha2's 90: the VIP moves to ha2",
        },
        Case {
            what: "weight -10 only ties: an equal priority never preempts (RFC 5798 §6.4.2)",
            master: NodeSpec {
                priority: 100,
                weight: -10,
                ..SEED
            },
            backup: NodeSpec {
                priority: 90,
                weight: -10,
                ..SEED
            },
            tracked: "chk_apache",
            moves: false,
            master_after: Priority(90),
            sentence: "VI_1: chk_apache failing on ha1 leaves it at 90 against ha2's 90: the VIP does NOT move",
        },
        Case {
            what: "a +15 bonus lost is enough",
            master: NodeSpec {
                priority: 100,
                weight: 15,
                ..SEED
            },
            backup: NodeSpec {
                priority: 90,
                weight: 15,
                ..SEED
            },
            tracked: "chk_apache",
            moves: true,
            master_after: Priority(100),
            sentence: "VI_1: chk_apache failing on ha1 leaves it at 100 against ha2's 105: the VIP moves to ha2",
        },
        Case {
            what: "weight 0 means FAULT",
            master: NodeSpec {
                priority: 100,
                weight: 0,
                ..SEED
            },
            backup: NodeSpec {
                priority: 90,
                weight: 0,
                ..SEED
            },
            tracked: "chk_apache",
            moves: true,
            master_after: Fault,
            sentence: "VI_1: chk_apache failing on ha1 puts it in FAULT (weight 0): the VIP moves to ha2",
        },
        Case {
            what: "the instance's weight override wins over the script's",
            master: NodeSpec {
                priority: 100,
                track: "{ name = \"chk_apache\", weight = -20 }",
                ..SEED
            },
            backup: NodeSpec {
                priority: 90,
                ..SEED
            },
            tracked: "chk_apache",
            moves: true,
            master_after: Priority(80),
            sentence: "VI_1: chk_apache failing on ha1 leaves it at 80 against ha2's 92: the VIP moves to ha2",
        },
        Case {
            what: "a backup with nopreempt keeps out",
            master: NodeSpec {
                priority: 100,
                weight: -20,
                nopreempt: true,
                ..SEED
            },
            backup: NodeSpec {
                priority: 90,
                weight: -20,
                nopreempt: true,
                ..SEED
            },
            tracked: "chk_apache",
            moves: false,
            master_after: Priority(80),
            sentence: "VI_1: chk_apache failing on ha1 leaves it at 80 against ha2's 90, but ha2 has nopreempt: the VIP does NOT move",
        },
        Case {
            what: "a tracked interface without weight means FAULT",
            master: NodeSpec {
                priority: 100,
                interfaces: "\"eth1\"",
                ..SEED
            },
            backup: NodeSpec {
                priority: 90,
                interfaces: "\"eth1\"",
                ..SEED
            },
            tracked: "eth1",
            moves: true,
            master_after: Fault,
            sentence: "VI_1: interface eth1 going down on ha1 puts it in FAULT (weight 0): the VIP moves to ha2",
        },
        Case {
            what: "a weighted tracked interface that costs too little",
            master: NodeSpec {
                priority: 100,
                interfaces: "{ name = \"eth1\", weight = -5 }",
                ..SEED
            },
            backup: NodeSpec {
                priority: 90,
                ..SEED
            },
            tracked: "eth1",
            moves: false,
            master_after: Priority(97),
            sentence: "VI_1: interface eth1 going down on ha1 leaves it at 97 against ha2's 92: the VIP does NOT move",
        },
        Case {
            what: "an address owner (255) never drops below 255",
            master: NodeSpec {
                priority: 255,
                weight: -20,
                ..SEED
            },
            backup: NodeSpec {
                priority: 90,
                weight: -20,
                ..SEED
            },
            tracked: "chk_apache",
            moves: false,
            master_after: Priority(255),
            sentence: "VI_1: chk_apache failing on ha1 leaves it at 255 against ha2's 90: the VIP does NOT move",
        },
    ];
    for case in &cases {
        let r = report(&case.master, &case.backup);
        let inst = &r.instances[0];
        assert_eq!(inst.master, "ha1", "{}", case.what);
        let failure = inst
            .failures
            .iter()
            .find(|f| f.tracked == case.tracked)
            .unwrap_or_else(|| panic!("{}: no case for {}", case.what, case.tracked));
        assert_eq!(
            failure.verdict.moves(),
            case.moves,
            "{}: {failure}",
            case.what
        );
        assert_eq!(failure.master_after, case.master_after, "{}", case.what);
        assert_eq!(failure.to_string(), case.sentence, "{}", case.what);
    }
}

#[test]
fn takeover_times_follow_the_rfc_timers() {
    // v2, backup at 92: Skew_Time = (256 - 92) / 256 s = 0.640625 s.
    let r = report(
        &NodeSpec {
            priority: 100,
            ..SEED
        },
        &NodeSpec {
            priority: 90,
            ..SEED
        },
    );
    let t = r.instances[0].takeover.as_ref().expect("a backup");
    assert_eq!(t.node, "ha2");
    assert_eq!(t.graceful, Duration::from_micros(640_625));
    assert_eq!(t.crash.total(), Duration::from_micros(3_640_625));

    // v3 at 0.5 s, backup at 92: Skew_Time = (256 - 92) × 50 cs / 256 = 0.3203125 s,
    // which vrrp-core (like keepalived) truncates to whole microseconds.
    let v3 = NodeSpec {
        version: 3,
        advert_int: "0.5",
        ..SEED
    };
    let r = report(
        &NodeSpec {
            priority: 100,
            ..v3
        },
        &NodeSpec { priority: 90, ..v3 },
    );
    let t = r.instances[0].takeover.as_ref().expect("a backup");
    assert_eq!(t.graceful, Duration::from_micros(320_312));
    assert_eq!(
        t.crash.total(),
        Duration::from_millis(1500) + Duration::from_micros(320_312)
    );
}

#[test]
fn the_report_reads_plainly() {
    let r = report(
        &NodeSpec {
            priority: 100,
            ..SEED
        },
        &NodeSpec {
            priority: 90,
            ..SEED
        },
    );
    let text = r.to_string();
    let expected = [
        "VI_1 (eth0 VRID 51): ha1 is MASTER (effective priorities with all checks OK: ha1 102, ha2 92)",
        "  VI_1: chk_apache failing on ha1 leaves it at 100 against ha2's 92: the VIP does NOT move",
        "    to make it move, give chk_apache weight = -11 or lower on every node",
        "  ha1 crashes: ha2 takes over after 3.64s (Master_Down_Interval = 3 x 1.00s + skew 0.64s)",
        "  ha1 stops gracefully: ha2 takes over after 0.64s (Skew_Time, after its priority-0 advert)",
    ];
    for line in expected {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert_eq!(r.non_moving().count(), 1);
}

/// The suggested weight really moves the VIP: feed it back into the table.
#[test]
fn suggested_weights_move_the_vip() {
    let setups = [
        (
            NodeSpec {
                priority: 100,
                ..SEED
            },
            NodeSpec {
                priority: 90,
                ..SEED
            },
        ),
        (
            NodeSpec {
                priority: 200,
                weight: -20,
                ..SEED
            },
            NodeSpec {
                priority: 100,
                weight: -20,
                ..SEED
            },
        ),
        (
            NodeSpec {
                priority: 100,
                weight: 5,
                ..SEED
            },
            NodeSpec {
                priority: 90,
                weight: 5,
                ..SEED
            },
        ),
    ];
    for (master, backup) in setups {
        let before = report(&master, &backup);
        let case = &before.instances[0].failures[0];
        assert!(!case.verdict.moves());
        let w = case.suggested_weight.expect("a suggestion");
        let after = report(
            &NodeSpec {
                weight: w,
                ..master
            },
            &NodeSpec {
                weight: w,
                ..backup
            },
        );
        assert!(
            after.instances[0].failures[0].verdict.moves(),
            "weight {w}: {}",
            after.instances[0].failures[0]
        );
        // One less negative does not move it: the suggestion is the highest that works.
        let short = report(
            &NodeSpec {
                weight: w + 1,
                ..master
            },
            &NodeSpec {
                weight: w + 1,
                ..backup
            },
        );
        assert!(
            !short.instances[0].failures[0].verdict.moves(),
            "weight {}",
            w + 1
        );
    }
}

#[test]
fn equal_priorities_and_lone_nodes_are_explained() {
    let spec = NodeSpec {
        priority: 100,
        ..SEED
    };
    let r = report(&spec, &spec);
    assert!(
        r.instances[0]
            .notes
            .iter()
            .any(|n| n.contains("same priority") && n.contains("higher primary address")),
        "{:?}",
        r.instances[0].notes
    );
    let lone = node("ha1", &spec);
    let r = analyze(&[Node::new("ha1", &lone)]);
    assert_eq!(r.instances[0].failures[0].verdict, Verdict::NoBackup);
    assert!(r.instances[0].takeover.is_none());
}

#[test]
fn settings_that_must_agree_are_reported() {
    let master = node(
        "ha1",
        &NodeSpec {
            priority: 100,
            ..SEED
        },
    );
    let cases: &[(NodeSpec, &str)] = &[
        (
            NodeSpec {
                priority: 90,
                advert_int: "2",
                ..SEED
            },
            "MISMATCH: ha1 and ha2 have advert_int 1 s and 2 s",
        ),
        (
            NodeSpec {
                priority: 90,
                version: 3,
                ..SEED
            },
            "MISMATCH: ha1 and ha2 speak VRRPv2 and VRRPv3",
        ),
    ];
    for (spec, want) in cases {
        let backup = node("ha2", spec);
        let r = analyze(&[Node::new("ha1", &master), Node::new("ha2", &backup)]);
        assert!(
            r.instances[0].notes.iter().any(|n| n.starts_with(want)),
            "{want}: {:?}",
            r.instances[0].notes
        );
    }
    // Agreeing nodes produce no MISMATCH note.
    let backup = node(
        "ha2",
        &NodeSpec {
            priority: 90,
            ..SEED
        },
    );
    let r = analyze(&[Node::new("ha1", &master), Node::new("ha2", &backup)]);
    assert!(
        r.instances[0].notes.iter().all(|n| !n.contains("MISMATCH")),
        "{:?}",
        r.instances[0].notes
    );
    // Different VIPs and passwords, written by hand.
    let text = |prio: u32, vip: &str, pass: &str| {
        format!(
            "[vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 51\npriority = {prio}\n\
             virtual_ipaddress = [\"{vip}\"]\nauthentication = {{ auth_type = \"PASS\", auth_pass = \"{pass}\" }}\n"
        )
    };
    let a = parse_str(&text(100, "198.18.0.200/24", "one"), "a.toml")
        .expect("valid")
        .config;
    let b = parse_str(&text(90, "198.18.0.201/24", "two"), "b.toml")
        .expect("valid")
        .config;
    let r = analyze(&[Node::new("ha1", &a), Node::new("ha2", &b)]);
    let notes = &r.instances[0].notes;
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("MISMATCH: ha1 and ha2 have different authentication")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("MISMATCH: ha1 and ha2 have different virtual_ipaddress")),
        "{notes:?}"
    );
}
