//! Script checks and the child runner: timeouts kill the whole process group,
//! output is bounded, users are switched, rise/fall drive the change stream.

use std::path::Path;
use std::time::Duration;

use health::process::{self, RunStatus};
use health::{CheckConfig, Monitor, Probe, RunAs, ScriptCommand, ScriptSecurity, Status};

fn script(text: &str) -> ScriptCommand {
    ScriptCommand::parse("check test", text, None, ScriptSecurity::Enforce).unwrap()
}

/// A process is gone when /proc has no entry or it is a zombie waiting for a
/// reaper (this machine's PID 1 may not reap orphans).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            !matches!(state.and_then(|s| s.chars().next()), Some('Z' | 'X'))
        }
    }
}

/// Live processes whose process group is `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after "comm)": state ppid pgrp ...
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        if fields.get(2) == Some(&pgid.to_string().as_str()) && alive(pid) {
            members.push(pid);
        }
    }
    members
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild.pid");
    let cmd = script(&format!(
        "/bin/sh -c 'sleep 10 & echo $! > {}; exec sleep 10'",
        pidfile.display()
    ));
    // 0.8 s leaves the shell time to write the pid file even on a loaded machine.
    let outcome = process::run(&cmd, &[], Duration::from_millis(800)).await;
    assert_eq!(outcome.status, RunStatus::TimedOut);
    assert!(outcome.duration >= Duration::from_millis(800));
    assert!(
        outcome.duration < Duration::from_secs(3),
        "{:?}",
        outcome.duration
    );
    let leader = outcome.pid.expect("spawned");
    let grandchild: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The group was signalled; delivery to a process that was not running at
    // that instant completes when it is next scheduled, so allow a moment on
    // a loaded machine (a survivor would live on for 10 s).
    let gone = |pid: u32| {
        (0..100).any(|_| {
            if alive(pid) {
                std::thread::sleep(Duration::from_millis(20));
                false
            } else {
                true
            }
        })
    };
    assert!(gone(leader), "leader {leader} still running");
    assert!(gone(grandchild), "grandchild {grandchild} still running");
    assert_eq!(group_members(leader), Vec::<u32>::new());
}

#[tokio::test]
async fn a_sleeping_check_counts_as_failed_timeout() {
    let mut check = CheckConfig::new("chk_sleep", Probe::Script(script("sleep 10")));
    check.interval = Duration::from_secs(1);
    check.timeout = Some(Duration::from_millis(300));
    let (monitor, mut changes) = Monitor::start(vec![check]).unwrap();
    let change = tokio::time::timeout(Duration::from_secs(5), changes.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (change.previous, change.status),
        (Status::Init, Status::Failed)
    );
    let snap = monitor.check("chk_sleep").unwrap();
    assert_eq!((snap.runs, snap.failures, snap.timeouts), (1, 1, 1));
    assert!(snap.last_error.unwrap().contains("timed out"));
    // No `sleep 10` of ours is left behind.
    drop(monitor);
}

#[tokio::test]
async fn output_is_bounded_and_last_line_kept() {
    // 10 MB of 'x' on one line, then a short last line, on stdout.
    let cmd = script("/bin/sh -c 'head -c 10000000 /dev/zero | tr \"\\0\" x; echo; echo done'");
    let outcome = process::run(&cmd, &[], Duration::from_secs(20)).await;
    assert_eq!(outcome.status, RunStatus::Exited(0));
    assert_eq!(outcome.last_line.as_deref(), Some("done"));
    // A 10 MB last line is cut to 4 KiB.
    let cmd = script("/bin/sh -c 'head -c 10000000 /dev/zero | tr \"\\0\" y'");
    let outcome = process::run(&cmd, &[], Duration::from_secs(20)).await;
    assert_eq!(outcome.status, RunStatus::Exited(0));
    let line = outcome.last_line.unwrap();
    assert_eq!(line.len(), process::MAX_LINE);
    assert!(line.bytes().all(|b| b == b'y'));
}

#[tokio::test]
async fn stderr_is_used_when_stdout_is_silent() {
    let cmd = script("/bin/sh -c 'echo oops >&2; exit 3'");
    let outcome = process::run(&cmd, &[], Duration::from_secs(5)).await;
    assert_eq!(outcome.status, RunStatus::Exited(3));
    assert_eq!(outcome.last_line.as_deref(), Some("oops"));
}

#[tokio::test]
async fn missing_program_is_a_spawn_failure_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone");
    std::fs::write(&path, "#!/bin/sh\n").unwrap();
    let cmd = ScriptCommand::parse(
        "check t",
        path.to_str().unwrap(),
        None,
        ScriptSecurity::WarnOnly,
    )
    .unwrap();
    std::fs::remove_file(&path).unwrap();
    let outcome = process::run(&cmd, &[], Duration::from_secs(5)).await;
    assert!(
        matches!(outcome.status, RunStatus::SpawnFailed(_)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn runs_as_the_configured_user() {
    let nobody = RunAs {
        user: "nobody".into(),
        group: None,
    };
    let cmd =
        ScriptCommand::parse("check t", "id -u", Some(&nobody), ScriptSecurity::Enforce).unwrap();
    let outcome = process::run(&cmd, &[], Duration::from_secs(5)).await;
    assert_eq!(outcome.status, RunStatus::Exited(0));
    assert_eq!(outcome.last_line.as_deref(), Some("65534"));
    // Supplementary groups are dropped too (root's would leak otherwise).
    let cmd =
        ScriptCommand::parse("check t", "id -G", Some(&nobody), ScriptSecurity::Enforce).unwrap();
    let outcome = process::run(&cmd, &[], Duration::from_secs(5)).await;
    assert_eq!(outcome.last_line.as_deref(), Some("65534"));
}

fn set(path: &Path, value: &str) {
    std::fs::write(path, value).unwrap();
}

#[tokio::test]
async fn rise_and_fall_drive_the_change_stream() {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("exit-code");
    set(&code, "0");
    let mut check = CheckConfig::new(
        "chk_flip",
        Probe::Script(script(&format!(
            "/bin/sh -c 'exit $(cat {})'",
            code.display()
        ))),
    );
    check.interval = Duration::from_millis(50);
    check.timeout = Some(Duration::from_secs(2));
    check.rise = 3;
    check.fall = 2;
    check.weight = 2;
    let (monitor, mut changes) = Monitor::start(vec![check]).unwrap();
    let next = async |changes: &mut tokio::sync::mpsc::UnboundedReceiver<health::HealthChange>| {
        tokio::time::timeout(Duration::from_secs(10), changes.recv())
            .await
            .expect("a change in time")
            .expect("stream open")
    };
    let first = next(&mut changes).await;
    assert_eq!(
        (first.previous, first.status, first.weight),
        (Status::Init, Status::Ok, 2)
    );

    set(&code, "1");
    let down = next(&mut changes).await;
    assert_eq!((down.previous, down.status), (Status::Ok, Status::Failed));
    let snap = monitor.check("chk_flip").unwrap();
    assert!(snap.failures >= 2, "fall 2 needs two failures: {snap:?}");
    assert_eq!(snap.last_exit_code, Some(1));

    set(&code, "0");
    let up = next(&mut changes).await;
    assert_eq!((up.previous, up.status), (Status::Failed, Status::Ok));
    let snap = monitor.check("chk_flip").unwrap();
    assert!(
        snap.successes >= 4, // the first success, then rise = 3
        "rise 3 needs three successes: {snap:?}"
    );
    assert_eq!(snap.transitions, 3);
    assert!(
        changes.try_recv().is_err(),
        "no change without a transition"
    );
}

#[tokio::test]
async fn reconfigure_keeps_unchanged_checks() {
    let keep = CheckConfig::new("keep", Probe::Script(script("true")));
    let change = CheckConfig::new("change", Probe::Script(script("true")));
    let drop_me = CheckConfig::new("drop", Probe::Script(script("true")));
    let (mut monitor, mut changes) =
        Monitor::start(vec![keep.clone(), change.clone(), drop_me]).unwrap();
    for _ in 0..3 {
        changes.recv().await.unwrap();
    }
    let mut changed = change.clone();
    changed.weight = 5;
    let added = CheckConfig::new("new", Probe::Script(script("false")));
    let done = monitor.reconfigure(vec![keep, changed, added]).unwrap();
    assert_eq!(done.kept, ["keep"]);
    assert_eq!(done.started, ["change", "new"]);
    assert_eq!(done.stopped, ["drop"]);
    assert_eq!(monitor.check("keep").unwrap().status, Status::Ok);
    assert_eq!(monitor.check("change").unwrap().status, Status::Init);
    assert!(monitor.check("drop").is_none());
    // A bad new set changes nothing.
    let dup = CheckConfig::new("x", Probe::Script(script("true")));
    assert!(monitor.reconfigure(vec![dup.clone(), dup]).is_err());
    assert!(monitor.check("keep").is_some());
}

#[tokio::test]
async fn dropping_the_monitor_kills_running_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let mut check = CheckConfig::new(
        "chk_long",
        Probe::Script(script(&format!(
            "/bin/sh -c 'echo $$ > {}; exec sleep 10'",
            pidfile.display()
        ))),
    );
    check.interval = Duration::from_secs(20);
    check.timeout = Some(Duration::from_secs(20));
    let (monitor, _changes) = Monitor::start(vec![check]).unwrap();
    let mut pid = None;
    for _ in 0..200 {
        if let Some(p) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            pid = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = pid.expect("script started");
    assert!(alive(pid));
    drop(monitor);
    for _ in 0..200 {
        if !alive(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("script {pid} survived the monitor");
}
