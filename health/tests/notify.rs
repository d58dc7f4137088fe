//! Notify hooks: keepalived's argv, no shell, not blocking the caller, timeout.

use std::time::{Duration, Instant};

use health::process::RunStatus;
use health::{NotifyRunner, NotifyScripts, ScriptCommand, ScriptSecurity, Subject, TargetState};

fn script(text: &str) -> ScriptCommand {
    ScriptCommand::parse("instance VI_1 notify", text, None, ScriptSecurity::Enforce).unwrap()
}

#[tokio::test]
async fn state_script_then_generic_notify_with_keepalived_arguments() {
    let scripts = NotifyScripts {
        master: Some(script("/bin/echo master 'two words'")),
        backup: Some(script("/bin/echo backup")),
        notify: Some(script("/bin/echo notify")),
        ..NotifyScripts::default()
    };
    let runner = NotifyRunner::new(Duration::from_secs(5));
    let outcomes = runner
        .state_changed(
            &scripts,
            Subject::Instance,
            "VI_1",
            TargetState::Master,
            100,
        )
        .wait()
        .await;
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[0].hook, "notify_master");
    assert_eq!(outcomes[0].args, ["master", "two words"]);
    assert_eq!(
        outcomes[0].run.last_line.as_deref(),
        Some("master two words")
    );
    assert_eq!(outcomes[1].hook, "notify");
    assert_eq!(
        outcomes[1].run.last_line.as_deref(),
        Some("notify INSTANCE VI_1 MASTER 100")
    );
    assert!(
        outcomes
            .iter()
            .all(|o| o.run.status == RunStatus::Exited(0))
    );

    // FAULT has no specific script here: only the generic one runs.
    let outcomes = runner
        .state_changed(&scripts, Subject::Instance, "VI_1", TargetState::Fault, 0)
        .wait()
        .await;
    assert_eq!(outcomes.len(), 1);
    assert_eq!(
        outcomes[0].run.last_line.as_deref(),
        Some("notify INSTANCE VI_1 FAULT 0")
    );
}

#[tokio::test]
async fn arguments_are_not_interpreted_by_a_shell() {
    let scripts = NotifyScripts {
        stop: Some(script("/bin/echo '$(id -u)' ';' '*'")),
        ..NotifyScripts::default()
    };
    let outcomes = NotifyRunner::new(Duration::from_secs(5))
        .state_changed(&scripts, Subject::Instance, "VI_1", TargetState::Stop, 0)
        .wait()
        .await;
    assert_eq!(outcomes[0].run.last_line.as_deref(), Some("$(id -u) ; *"));
}

#[tokio::test]
async fn hooks_do_not_block_the_caller_and_are_timed_out() {
    let scripts = NotifyScripts {
        backup: Some(script("sleep 10")),
        ..NotifyScripts::default()
    };
    let runner = NotifyRunner::new(Duration::from_millis(300));
    let started = Instant::now();
    let handle = runner.state_changed(&scripts, Subject::Instance, "VI_1", TargetState::Backup, 90);
    // Had it waited for the hook, at least the hook's 300 ms timeout would have passed.
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "state_changed blocked"
    );
    let outcomes = handle.wait().await;
    assert_eq!(outcomes[0].run.status, RunStatus::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn no_scripts_no_task() {
    let handle = NotifyRunner::new(Duration::from_secs(1)).state_changed(
        &NotifyScripts::default(),
        Subject::Group,
        "G",
        TargetState::Master,
        100,
    );
    assert!(handle.is_empty());
    assert!(handle.wait().await.is_empty());
}

#[tokio::test]
async fn failing_hook_status_is_returned() {
    let scripts = NotifyScripts {
        master: Some(script("/bin/sh -c 'echo broken >&2; exit 7'")),
        ..NotifyScripts::default()
    };
    let outcomes = NotifyRunner::new(Duration::from_secs(5))
        .state_changed(
            &scripts,
            Subject::Instance,
            "VI_1",
            TargetState::Master,
            100,
        )
        .wait()
        .await;
    assert_eq!(outcomes[0].run.status, RunStatus::Exited(7));
    assert_eq!(outcomes[0].run.last_line.as_deref(), Some("broken"));
}
