//! Health checks moving the VIP between two had nodes in the network lab
//! (root; skipped with a message otherwise, a failure under CI=true).
//!
//! Every node runs VRRPv3 at 0.1 s adverts; node 0 has priority 100 and
//! node 1 priority 90, both start as BACKUP and node 0 wins the election.
//! Each test then breaks and repairs what node 0 tracks and checks, in both
//! namespaces, who holds the VIP (`ip -o addr show dev eth0`) and what the
//! control socket's status document says (the JSON `hactl status --json`
//! prints: the same `Status` value serialised with serde_json).
//!
//! Bounds (RFC 5798 §6.4.2: a backup takes over when Master_Down_Interval
//! passes without an advert it accepts; with preemption, adverts from a lower
//! priority are discarded, so the timer runs out):
//! - a script check failing: `interval × fall + Master_Down_Interval(90)`;
//! - a hanging check: `interval + fall × max(interval, timeout) + MDI(90)`
//!   (the first hung run may start an interval late, then runs follow each
//!   other as each one is killed at its timeout);
//! - recovery with preemption: `interval × rise + MDI(100)`;
//!
//! plus [`MARGIN`] for the loaded machine. Measured times are printed and
//! appended to each test's `notes.txt`.

mod lab_support;

use std::net::{IpAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use had::control::{Client, EventKind};
use had::status::State;
use lab_support::{HadNode, had_toml, has_vip, holders, note, wait_until};
use vip_netlink::lab::Lab;
use vrrp_core::{Version, master_down_interval};

const VIP: &str = "198.18.0.200";
/// VRRPv3 advert interval in centiseconds (0.1 s).
const ADVERT_CS: u16 = 10;
const MASTER_PRIORITY: u8 = 100;
const BACKUP_PRIORITY: u8 = 90;

/// Allowed on top of the protocol bounds: fork/exec of the script, the 2 ms
/// status polling and the ~5 ms `ip addr` probes, and a 2-core CI machine
/// running other test binaries at the same time. Measured moves are well
/// inside the bound without it (see the notes the tests print).
const MARGIN: Duration = Duration::from_millis(500);

fn vip() -> IpAddr {
    VIP.parse().unwrap()
}

/// Master_Down_Interval of a backup at `priority` (RFC 5798 §6.1).
fn mdi(priority: u8) -> Duration {
    master_down_interval(Version::V3, priority, ADVERT_CS).total()
}

/// One node's had.toml: `checks` (the check tables) and a VRRPv3 instance
/// whose `track_script` is `track` (already TOML: `["chk"]`), with script
/// security enforced (keepalived's `enable_script_security`).
///
/// The nodes share the file system, so each node's check looks at its own
/// files (`up0`, `up1`, ...).
fn node_toml(dir: &Path, i: usize, priority: u8, checks: &str, track: &str) -> String {
    let body = format!(
        "enable_script_security = true\n\n{checks}\n\
         [vrrp_instance.VI_1]\nstate = \"BACKUP\"\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
         priority = {priority}\nadvert_int = 0.1\nversion = 3\nvirtual_ipaddress = [\"{VIP}/24\"]\n\
         track_script = {track}\n"
    );
    had_toml(dir, i, &body)
}

/// Two had nodes, node 0 elected MASTER and holding the VIP alone.
struct Pair {
    lab: Lab,
    n0: HadNode,
    n1: HadNode,
}

impl Pair {
    fn start(lab: Lab, dir: &Path, toml0: &str, toml1: &str) -> Pair {
        let n0 = HadNode::start(&lab, dir, 0, toml0);
        let n1 = HadNode::start(&lab, dir, 1, toml1);
        let elected = wait_until(Duration::from_secs(5), || {
            n0.state("VI_1") == Some(State::Master)
                && n1.state("VI_1") == Some(State::Backup)
                && holders(&lab, &[0, 1], vip()) == vec![0]
        });
        assert!(
            elected.is_some(),
            "no election with the VIP on node 0: {:?} / {:?}, holders {:?}\n--- n0\n{}\n--- n1\n{}",
            n0.state("VI_1"),
            n1.state("VI_1"),
            holders(&lab, &[0, 1], vip()),
            n0.log_text(),
            n1.log_text()
        );
        Pair { lab, n0, n1 }
    }

    fn logs(&self) -> String {
        format!(
            "--- n0\n{}\n--- n1\n{}",
            self.n0.log_text(),
            self.n1.log_text()
        )
    }

    /// Waits until `node` is MASTER (as the JSON status says) and holds the
    /// VIP; the time it took from `t0`. Then checks the other node gave the
    /// VIP up within one more Master_Down_Interval (it hears the new
    /// master's higher priority).
    /// `probe` runs on every poll (to watch processes while waiting).
    fn vip_moves_to(
        &self,
        node: usize,
        t0: Instant,
        limit: Duration,
        mut probe: impl FnMut(),
    ) -> Option<Duration> {
        let (me, other) = if node == 0 {
            (&self.n0, &self.n1)
        } else {
            (&self.n1, &self.n0)
        };
        wait_until(limit, || {
            probe();
            json_state(me).as_deref() == Some("MASTER") && has_vip(&self.lab, node, vip())
        })?;
        let took = t0.elapsed();
        let alone = wait_until(mdi(BACKUP_PRIORITY) + MARGIN, || {
            holders(&self.lab, &[0, 1], vip()) == vec![node]
                && json_state(other).as_deref() != Some("MASTER")
        });
        assert!(
            alone.is_some(),
            "node {node} took the VIP but holders are {:?} (other: {:?})\n{}",
            holders(&self.lab, &[0, 1], vip()),
            json_state(other),
            self.logs()
        );
        Some(took)
    }

    /// [`Pair::vip_moves_to`], then notes the time taken under `what` and
    /// asserts it is within `bound` + [`MARGIN`].
    fn expect_vip_moves_to(
        &self,
        d: &Path,
        what: &str,
        node: usize,
        t0: Instant,
        bound: Duration,
        probe: impl FnMut(),
    ) -> Duration {
        let took = self
            .vip_moves_to(node, t0, bound + MARGIN + Duration::from_secs(2), probe)
            .unwrap_or_else(|| {
                panic!("{what}: the VIP did not reach node {node}\n{}", self.logs())
            });
        elapsed_note(d, what, took, bound);
        assert!(
            took <= bound + MARGIN,
            "{what}: took {took:?}, bound {bound:?} + {MARGIN:?}\n{}",
            self.logs()
        );
        took
    }
}

/// The status document as `hactl status --json` prints it.
fn json_status(n: &HadNode) -> Option<serde_json::Value> {
    serde_json::to_value(n.status()?).ok()
}

/// `instances[VI_1].state` of the JSON status.
fn json_state(n: &HadNode) -> Option<String> {
    let v = json_status(n)?;
    let inst = v["instances"]
        .as_array()?
        .iter()
        .find(|i| i["name"] == "VI_1")?;
    inst["state"].as_str().map(str::to_owned)
}

/// `checks[name].status` of the JSON status (`ok`, `failing`, `unknown`).
fn json_check(n: &HadNode, name: &str) -> Option<String> {
    let v = json_status(n)?;
    let check = v["checks"].as_array()?.iter().find(|c| c["name"] == name)?;
    check["status"].as_str().map(str::to_owned)
}

/// `instances[VI_1].effective_priority` of the JSON status.
fn json_priority(n: &HadNode) -> Option<u64> {
    let v = json_status(n)?;
    let inst = v["instances"]
        .as_array()?
        .iter()
        .find(|i| i["name"] == "VI_1")?;
    inst["effective_priority"].as_u64()
}

/// Writes an executable script (owned by the test's user: root under the
/// lab), standing for "is the proxy running": OK while the file named by its
/// argument exists.
fn write_script(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(
        path,
        "#!/bin/sh\n# Stands for `systemctl is-active had-proxy`: OK while \"$1\" exists.\nexec test -e \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn touch(path: &Path) {
    std::fs::write(path, b"").unwrap();
}

fn elapsed_note(dir: &Path, what: &str, took: Duration, bound: Duration) {
    note(
        dir,
        &format!(
            "{what}: {:.0} ms (bound {:.0} ms + margin {:.0} ms)",
            took.as_secs_f64() * 1e3,
            bound.as_secs_f64() * 1e3,
            MARGIN.as_secs_f64() * 1e3
        ),
    );
}

/// `had --config` with a script a non-root user could modify must refuse to
/// start (enable_script_security), naming the file. Bounded: killed after 10 s.
fn assert_refuses_insecure_script(lab: &Lab, dir: &Path, toml: &str, script: &Path) {
    let config = dir.join("insecure.toml");
    std::fs::write(&config, toml).unwrap();
    let log = dir.join("insecure.log");
    let mut cmd = lab.command(0, env!("CARGO_BIN_EXE_had")).unwrap();
    cmd.arg("--config")
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = lab.spawn_command(0, &mut cmd).unwrap();
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if t0.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.is_some_and(|s| !s.success()),
        "had ran a world-writable script with enable_script_security: {status:?}\n{text}"
    );
    assert!(
        text.contains(&script.display().to_string()) && text.contains("enable_script_security"),
        "the refusal must name the script and the setting:\n{text}"
    );
}

/// Test 1: a script check with weight −20 on the master (100 → 80 < 90):
/// the VIP moves when the tracked "proxy" stops and comes back (preempt)
/// when it runs again.
///
/// Script security: the script lives in the test's temp dir, which passes
/// keepalived-style checks as is: `/tmp` is root-owned and sticky (1777, a
/// sticky directory is allowed), the temp dir is root's and 0700, the script
/// root's and 0755. The same script made 0777 is refused.
#[test]
fn script_check_failure_moves_the_vip_and_recovery_preempts() {
    let Some(lab) = Lab::for_test("hhscr", 2) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let marker = d.join("up0");
    let script = d.join("chk_proxy.sh");
    let (interval, rise, fall) = (Duration::from_millis(200), 2u32, 2u32);
    let checks = |i: usize| {
        format!(
            "[vrrp_script.chk_proxy]\nscript = \"{} {}\"\ninterval = 0.2\ntimeout = 0.3\n\
             weight = -20\nrise = {rise}\nfall = {fall}\n",
            script.display(),
            d.join(format!("up{i}")).display()
        )
    };
    let track = "[\"chk_proxy\"]";

    write_script(&script, 0o777);
    assert_refuses_insecure_script(
        &lab,
        d,
        &node_toml(d, 0, MASTER_PRIORITY, &checks(0), track),
        &script,
    );
    write_script(&script, 0o755);
    touch(&marker);
    touch(&d.join("up1"));

    let toml0 = node_toml(d, 0, MASTER_PRIORITY, &checks(0), track);
    let toml1 = node_toml(d, 1, BACKUP_PRIORITY, &checks(1), track);
    let pair = Pair::start(lab, d, &toml0, &toml1);
    assert!(
        wait_until(Duration::from_secs(2), || json_check(&pair.n0, "chk_proxy")
            .as_deref()
            == Some("ok"))
        .is_some(),
        "chk_proxy never ran OK: {:?}\n{}",
        json_status(&pair.n0),
        pair.logs()
    );

    // The arithmetic `hactl check n0.toml n1.toml` prints says this one moves.
    let report = had::check::check_files(&[pair.n0.config.clone(), pair.n1.config.clone()]);
    let text = report.render();
    assert!(report.is_valid(), "{text}");
    assert!(
        text.contains(
            "chk_proxy failing on n0 leaves it at 80 against n1's 90: the VIP moves to n1"
        ),
        "{text}"
    );

    // The proxy stops.
    let bound = interval * fall + mdi(BACKUP_PRIORITY);
    std::fs::remove_file(&marker).unwrap();
    let t0 = Instant::now();
    pair.expect_vip_moves_to(
        d,
        "script check failing (weight -20): VIP on the backup",
        1,
        t0,
        bound,
        || {},
    );
    assert_eq!(
        json_check(&pair.n0, "chk_proxy").as_deref(),
        Some("failing")
    );
    assert_eq!(json_priority(&pair.n0), Some(80));
    assert_eq!(json_state(&pair.n0).as_deref(), Some("BACKUP"));

    // The proxy runs again: node 0 is back at 100 and preempts.
    let bound = interval * rise + mdi(MASTER_PRIORITY);
    touch(&marker);
    let t0 = Instant::now();
    pair.expect_vip_moves_to(
        d,
        "script check OK again: VIP back on the master (preempt)",
        0,
        t0,
        bound,
        || {},
    );
    assert_eq!(json_priority(&pair.n0), Some(100));
    assert_eq!(json_state(&pair.n1).as_deref(), Some("BACKUP"));
}

/// Test 2: the seed's own configuration, `weight 2` on both nodes (100 vs
/// 90): the failing master is left at 100 against 92, so the VIP stays —
/// observed for three Master_Down_Intervals — and the failover arithmetic
/// (`hactl check` on the two files) says so.
#[test]
fn seed_weight_plus_two_does_not_move_the_vip() {
    let Some(lab) = Lab::for_test("hhseed", 2) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let marker = d.join("up0");
    touch(&marker);
    touch(&d.join("up1"));
    let checks = |i: usize| {
        format!(
            "[vrrp_script.chk_apache]\nscript = \"/usr/bin/test -e {}\"\ninterval = 0.2\n\
             weight = 2\n",
            d.join(format!("up{i}")).display()
        )
    };
    let track = "[\"chk_apache\"]";
    let toml0 = node_toml(d, 0, MASTER_PRIORITY, &checks(0), track);
    let toml1 = node_toml(d, 1, BACKUP_PRIORITY, &checks(1), track);
    let pair = Pair::start(lab, d, &toml0, &toml1);
    assert!(
        wait_until(Duration::from_secs(2), || json_priority(&pair.n0)
            == Some(102)
            && json_priority(&pair.n1) == Some(92))
        .is_some(),
        "priorities with the checks OK must be 102 and 92: {:?} / {:?}",
        json_priority(&pair.n0),
        json_priority(&pair.n1)
    );

    let report = had::check::check_files(&[pair.n0.config.clone(), pair.n1.config.clone()]);
    let text = report.render();
    assert!(report.is_valid(), "{text}");
    assert!(
        text.contains(
            "chk_apache failing on n0 leaves it at 100 against n1's 92: the VIP does NOT move"
        ),
        "{text}"
    );
    note(d, &format!("hactl check n0.toml n1.toml:\n{text}"));

    std::fs::remove_file(&marker).unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || json_check(
            &pair.n0,
            "chk_apache"
        )
        .as_deref()
            == Some("failing")
            && json_priority(&pair.n0) == Some(100))
        .is_some(),
        "the check never failed on node 0: {:?}",
        json_status(&pair.n0)
    );
    let watch = mdi(BACKUP_PRIORITY) * 3;
    let t0 = Instant::now();
    let mut polls = 0u32;
    while t0.elapsed() < watch {
        assert_eq!(
            holders(&pair.lab, &[0, 1], vip()),
            vec![0],
            "the VIP moved after {:?}\n{}",
            t0.elapsed(),
            pair.logs()
        );
        assert_eq!(json_state(&pair.n0).as_deref(), Some("MASTER"));
        assert_eq!(json_state(&pair.n1).as_deref(), Some("BACKUP"));
        polls += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    note(
        d,
        &format!(
            "seed weight +2: VIP stayed on the failing master for {:?} (3 × MDI, {polls} polls)",
            t0.elapsed()
        ),
    );
    assert!(polls >= 10, "too few observations ({polls}) to conclude");
}

/// Test 3: a check that hangs (`sleep 30`) past its 0.3 s timeout is killed
/// and counts as failed; with weight −20 the VIP moves. The script is a
/// shell whose child hangs, so the kill must reach the process group: at no
/// time do the hung `sleep`s pile up.
#[test]
fn hanging_check_counts_as_failed_and_moves_the_vip() {
    let Some(lab) = Lab::for_test("hhhang", 2) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hang = d.join("hang0");
    // A sleep length no other test uses, to find this test's sleeps in /proc.
    let sleep_arg = format!("30.{}", 1000 + std::process::id() % 9000);
    let (interval, timeout, fall) = (Duration::from_millis(200), Duration::from_millis(300), 2u32);
    let checks = |i: usize| {
        format!(
            "[vrrp_script.chk_hang]\n\
             script = \"/bin/sh -c 'if test -e {}; then sleep {sleep_arg}; fi'\"\n\
             interval = 0.2\ntimeout = 0.3\nweight = -20\nfall = {fall}\n",
            d.join(format!("hang{i}")).display()
        )
    };
    let track = "[\"chk_hang\"]";
    let toml0 = node_toml(d, 0, MASTER_PRIORITY, &checks(0), track);
    let toml1 = node_toml(d, 1, BACKUP_PRIORITY, &checks(1), track);
    let pair = Pair::start(lab, d, &toml0, &toml1);
    assert!(
        wait_until(Duration::from_secs(2), || json_check(&pair.n0, "chk_hang")
            .as_deref()
            == Some("ok"))
        .is_some(),
        "chk_hang never ran OK\n{}",
        pair.logs()
    );

    let bound = interval + timeout.max(interval) * fall + mdi(BACKUP_PRIORITY);
    touch(&hang);
    let t0 = Instant::now();
    let mut most_sleeps = 0;
    pair.expect_vip_moves_to(
        d,
        "hanging check (timeout 0.3 s): VIP on the backup",
        1,
        t0,
        bound,
        || most_sleeps = most_sleeps.max(sleeps_running(&sleep_arg)),
    );
    // Keep hanging a while: each run is killed at its timeout, so at most the
    // current run's sleep exists (two for an instant while one is reaped).
    let t1 = Instant::now();
    while t1.elapsed() < Duration::from_secs(1) {
        most_sleeps = most_sleeps.max(sleeps_running(&sleep_arg));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        most_sleeps <= 2,
        "{most_sleeps} hung `sleep {sleep_arg}` at once: timed-out runs are not killed"
    );
    let st = json_status(&pair.n0).unwrap();
    let check = st["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "chk_hang")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "failing", "{check}");
    let last = check["last_duration_secs"].as_f64().unwrap();
    assert!(
        (0.29..1.0).contains(&last),
        "a timed-out run lasts about its timeout, not the sleep: {last} s ({check})"
    );
    note(d, &format!("chk_hang status: {check}"));

    // Stop hanging: the check recovers and node 0 preempts.
    std::fs::remove_file(&hang).unwrap();
    let t0 = Instant::now();
    let bound = interval + mdi(MASTER_PRIORITY) + timeout;
    pair.expect_vip_moves_to(
        d,
        "check no longer hangs: VIP back (preempt)",
        0,
        t0,
        bound,
        || {},
    );
    // The last hung sleep was killed, not left behind.
    assert!(
        wait_until(Duration::from_secs(1), || sleeps_running(&sleep_arg) == 0).is_some(),
        "a hung `sleep {sleep_arg}` outlived its check run"
    );
}

/// Running processes whose command line is `sleep ARG`.
fn sleeps_running(arg: &str) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let want = format!("sleep\0{arg}\0");
    dir.flatten()
        .filter(|e| {
            e.file_name().to_string_lossy().parse::<u32>().is_ok()
                && std::fs::read(e.path().join("cmdline"))
                    .is_ok_and(|c| c.ends_with(want.as_bytes()) && is_sleep_cmd(&c))
        })
        .count()
}

/// `cmdline` is `sleep ARG` or `/…/sleep ARG`.
fn is_sleep_cmd(cmdline: &[u8]) -> bool {
    let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or_default();
    argv0 == b"sleep" || argv0.ends_with(b"/sleep")
}

/// Test 4: a weight-0 check failing puts the master in FAULT (its VIP
/// removed) and the backup takes the VIP; when the check recovers the
/// instance goes FAULT → BACKUP → MASTER (preempt). The order is read from
/// the control socket's event stream (`hactl events`).
#[test]
fn weight_zero_failure_is_fault_and_recovery_goes_backup_then_master() {
    let Some(lab) = Lab::for_test("hhfault", 2) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let marker = d.join("up0");
    touch(&marker);
    touch(&d.join("up1"));
    let (interval, fall, rise) = (Duration::from_millis(200), 1u32, 1u32);
    let checks = |i: usize| {
        format!(
            "[vrrp_script.chk_proxy]\nscript = \"/usr/bin/test -e {}\"\ninterval = 0.2\n\
             weight = 0\n",
            d.join(format!("up{i}")).display()
        )
    };
    let track = "[\"chk_proxy\"]";
    let toml0 = node_toml(d, 0, MASTER_PRIORITY, &checks(0), track);
    let toml1 = node_toml(d, 1, BACKUP_PRIORITY, &checks(1), track);
    let pair = Pair::start(lab, d, &toml0, &toml1);
    let transitions = follow_states(&pair.n0.socket);

    let bound = interval * fall + mdi(BACKUP_PRIORITY);
    std::fs::remove_file(&marker).unwrap();
    let t0 = Instant::now();
    let fault = wait_until(bound + MARGIN + Duration::from_secs(2), || {
        json_state(&pair.n0).as_deref() == Some("FAULT")
    })
    .unwrap_or_else(|| panic!("node 0 never entered FAULT\n{}", pair.logs()));
    note(
        d,
        &format!("weight 0 failing: node 0 FAULT after {fault:?}"),
    );
    pair.expect_vip_moves_to(
        d,
        "weight 0 failing: VIP on the backup",
        1,
        t0,
        bound,
        || {},
    );
    assert!(!has_vip(&pair.lab, 0, vip()), "a FAULT node holds no VIP");
    assert_eq!(json_state(&pair.n0).as_deref(), Some("FAULT"));

    let bound = interval * rise + mdi(MASTER_PRIORITY);
    touch(&marker);
    let t0 = Instant::now();
    pair.expect_vip_moves_to(
        d,
        "weight 0 OK again: VIP back on the master",
        0,
        t0,
        bound,
        || {},
    );

    // The event stream saw MASTER → FAULT → BACKUP → MASTER, in that order.
    let seen = wait_until(Duration::from_secs(1), || {
        transitions.lock().unwrap().len() >= 3
    });
    let got = transitions.lock().unwrap().clone();
    note(d, &format!("node 0 transitions: {got:?}"));
    assert!(seen.is_some(), "events: {got:?}");
    assert_eq!(
        got,
        vec![
            (State::Master, State::Fault),
            (State::Fault, State::Backup),
            (State::Backup, State::Master)
        ],
        "node 0's state changes after the election"
    );
}

/// State changes from `socket`'s event stream, collected on a thread that
/// ends when the daemon goes away (its stream closes).
fn follow_states(socket: &Path) -> Arc<Mutex<Vec<(State, State)>>> {
    let seen: Arc<Mutex<Vec<(State, State)>>> = Arc::default();
    let out = Arc::clone(&seen);
    let mut client = Client::connect(socket).unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = ready_tx.send(());
        let _ = client.follow(|ev| {
            if let EventKind::State { from, to, .. } = &ev.kind {
                out.lock().unwrap().push((*from, *to));
            }
            true
        });
    });
    let _ = ready_rx.recv_timeout(Duration::from_secs(1));
    // The subscription is registered once the first answer is read; give
    // the daemon a moment (no state changes happen meanwhile: the pair is
    // elected and healthy).
    std::thread::sleep(Duration::from_millis(100));
    seen
}

/// A TCP listener inside a lab node that accepts and drops connections
/// until stopped (bounded to 60 s); dropping it closes the port.
struct PortOpen {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<(), vip_netlink::lab::LabError>>>,
}

impl PortOpen {
    fn open(lab: &Lab, node: usize, port: u16) -> PortOpen {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = lab
            .spawn_thread_in(node, move || {
                let listener = match TcpListener::bind(("127.0.0.1", port)) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
                listener.set_nonblocking(true).unwrap();
                let _ = tx.send(Ok(()));
                let t0 = Instant::now();
                while !flag.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(60) {
                    match listener.accept() {
                        Ok(_) => {}
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
            .unwrap();
        match rx.recv_timeout(Duration::from_secs(2)) {
            Ok(Ok(())) => {}
            other => panic!("cannot listen on 127.0.0.1:{port} in node {node}: {other:?}"),
        }
        PortOpen {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for PortOpen {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Test 5: the built-in TCP check (no fork) on the master's own port: the
/// port closing moves the VIP, reopening brings it back. While the checks
/// run every 100 ms, the daemon never has a child process.
#[test]
fn builtin_tcp_check_moves_the_vip_without_forking() {
    let Some(lab) = Lab::for_test("hhtcp", 2) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    const PORT: u16 = 8080;
    let (interval, fall, rise) = (Duration::from_millis(100), 2u32, 2u32);
    let checks = format!(
        "[tcp_check.chk_proxy_port]\nconnect_ip = \"127.0.0.1\"\nconnect_port = {PORT}\n\
         interval = 0.1\ntimeout = 0.3\nweight = -20\nrise = {rise}\nfall = {fall}\n"
    );
    let track = "[\"chk_proxy_port\"]";
    // Both nodes run the check against their own port; only node 0 opens it
    // first, so node 1 (already at 90 - 20 = 70 while failing) is the
    // backup. Open node 1's too so it can take over at 90.
    let port0 = PortOpen::open(&lab, 0, PORT);
    let port1 = PortOpen::open(&lab, 1, PORT);
    let toml0 = node_toml(d, 0, MASTER_PRIORITY, &checks, track);
    let toml1 = node_toml(d, 1, BACKUP_PRIORITY, &checks, track);
    let pair = Pair::start(lab, d, &toml0, &toml1);
    assert!(
        wait_until(Duration::from_secs(2), || {
            json_check(&pair.n0, "chk_proxy_port").as_deref() == Some("ok")
                && json_check(&pair.n1, "chk_proxy_port").as_deref() == Some("ok")
        })
        .is_some(),
        "the TCP checks never passed: {:?}\n{}",
        json_status(&pair.n0),
        pair.logs()
    );
    let had_pid = pair.n0.pid().unwrap();
    let mut forks_seen = 0usize;

    let bound = interval * fall + mdi(BACKUP_PRIORITY);
    drop(port0);
    let t0 = Instant::now();
    pair.expect_vip_moves_to(
        d,
        "tcp check failing (port closed): VIP on the backup",
        1,
        t0,
        bound,
        || forks_seen += lab_support::children_of(had_pid).len(),
    );
    assert_eq!(
        json_check(&pair.n0, "chk_proxy_port").as_deref(),
        Some("failing")
    );
    assert_eq!(json_priority(&pair.n0), Some(80));

    let bound = interval * rise + mdi(MASTER_PRIORITY);
    let port0 = PortOpen::open(&pair.lab, 0, PORT);
    let t0 = Instant::now();
    pair.expect_vip_moves_to(
        d,
        "tcp check OK again: VIP back on the master",
        0,
        t0,
        bound,
        || forks_seen += lab_support::children_of(had_pid).len(),
    );
    let st = json_status(&pair.n0).unwrap();
    let check = st["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "chk_proxy_port")
        .unwrap()
        .clone();
    note(d, &format!("chk_proxy_port status: {check}"));
    assert!(
        check["failures"].as_u64().unwrap() >= u64::from(fall),
        "{check}"
    );
    assert_eq!(
        forks_seen, 0,
        "had started child processes while only built-in checks run"
    );
    drop(port0);
    drop(port1);
}

/// Test 6: the built-in proxy-members check (`track_proxy`, what the README
/// example tracks): each node's `[proxy.mycluster]` balances over two
/// members with active TCP health checks; node 0 stays MASTER while one
/// member is up (`min_up = 1`) and hands the VIP over when none is, then
/// takes it back when a member returns.
///
/// Bound: `hcinterval × hcfails` for the member to be marked down, plus the
/// runtime's fixed 0.5 s `track_proxy` polling interval, plus
/// Master_Down_Interval.
#[test]
fn proxy_members_down_moves_the_vip() {
    let Some(lab) = Lab::for_test("hhprox", 2) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    const MEMBERS: [u16; 2] = [9001, 9002];
    // The runtime polls a proxy's up-member count every 0.5 s.
    let poll = Duration::from_millis(500);
    let hc_interval = Duration::from_millis(100);
    let checks = format!(
        "[proxy.mycluster]\nlisten = [\"{VIP}:8080\"]\n\
         members = [{{ url = \"http://127.0.0.1:{}\" }}, {{ url = \"http://127.0.0.1:{}\" }}]\n\
         health_check = {{ method = \"TCP\", interval = 0.1, timeout = 0.3, fails = 1, passes = 1 }}\n\n\
         [track_proxy.chk_proxy]\nproxy = \"mycluster\"\nmin_up = 1\nweight = -20\n",
        MEMBERS[0], MEMBERS[1]
    );
    let track = "[\"chk_proxy\"]";
    let mut open0: Vec<PortOpen> = MEMBERS
        .iter()
        .map(|&p| PortOpen::open(&lab, 0, p))
        .collect();
    let open1: Vec<PortOpen> = MEMBERS
        .iter()
        .map(|&p| PortOpen::open(&lab, 1, p))
        .collect();
    let toml0 = node_toml(d, 0, MASTER_PRIORITY, &checks, track);
    let toml1 = node_toml(d, 1, BACKUP_PRIORITY, &checks, track);
    let pair = Pair::start(lab, d, &toml0, &toml1);
    assert!(
        wait_until(Duration::from_secs(3), || {
            json_check(&pair.n0, "chk_proxy").as_deref() == Some("ok")
                && json_check(&pair.n1, "chk_proxy").as_deref() == Some("ok")
        })
        .is_some(),
        "chk_proxy never OK: {:?}\n{}",
        json_status(&pair.n0),
        pair.logs()
    );

    // One member down (lb-proxy says `health_failed`): one is still up, the
    // check holds, the VIP stays.
    drop(open0.remove(0));
    let member_down = wait_until(Duration::from_secs(2), || {
        member_status(&pair.n0, MEMBERS[0]).is_some_and(|s| s != "up")
    });
    assert!(
        member_down.is_some(),
        "member :{} never marked down: {:?}",
        MEMBERS[0],
        json_status(&pair.n0)
    );
    let t0 = Instant::now();
    while t0.elapsed() < poll * 2 + mdi(BACKUP_PRIORITY) {
        assert_eq!(
            holders(&pair.lab, &[0, 1], vip()),
            vec![0],
            "moved with one member up"
        );
        assert_eq!(json_check(&pair.n0, "chk_proxy").as_deref(), Some("ok"));
        std::thread::sleep(Duration::from_millis(20));
    }

    // The last member goes: the proxy cannot serve, the VIP leaves.
    let bound = hc_interval + poll + mdi(BACKUP_PRIORITY);
    drop(open0.remove(0));
    let t0 = Instant::now();
    pair.expect_vip_moves_to(
        d,
        "track_proxy: no member up: VIP on the backup",
        1,
        t0,
        bound,
        || {},
    );
    assert_eq!(
        json_check(&pair.n0, "chk_proxy").as_deref(),
        Some("failing")
    );
    assert_eq!(json_priority(&pair.n0), Some(80));

    // A member is back: node 0 preempts.
    let bound = hc_interval + poll + mdi(MASTER_PRIORITY);
    open0.push(PortOpen::open(&pair.lab, 0, MEMBERS[1]));
    let t0 = Instant::now();
    pair.expect_vip_moves_to(
        d,
        "track_proxy: a member back: VIP on the master",
        0,
        t0,
        bound,
        || {},
    );
    drop(open0);
    drop(open1);
}

/// `proxies[mycluster].members[127.0.0.1:port].status` of the JSON status.
fn member_status(n: &HadNode, port: u16) -> Option<String> {
    let v = json_status(n)?;
    let proxy = v["proxies"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == "mycluster")?;
    let url = format!("http://127.0.0.1:{port}");
    let member = proxy["members"].as_array()?.iter().find(|m| {
        m["url"]
            .as_str()
            .is_some_and(|u| u.trim_end_matches('/') == url)
    })?;
    member["status"].as_str().map(str::to_owned)
}
