//! keepalived's notify hooks: `notify_master`, `notify_backup`,
//! `notify_fault`, `notify_stop`, and the generic `notify`.
//!
//! As in keepalived 2.2 (keepalived.conf(5), "notify"): the state-specific
//! script runs with exactly its configured arguments; the generic `notify`
//! script runs after it with four arguments appended to its own:
//! `INSTANCE|GROUP`, the instance or group name, the target state
//! (`MASTER`, `BACKUP`, `FAULT`, `STOP`) and the priority.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::command::ScriptCommand;
use crate::process::{self, RunOutcome};

/// What changed state: keepalived's first `notify` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A `vrrp_instance`.
    Instance,
    /// A `vrrp_sync_group`.
    Group,
}

impl Subject {
    /// `INSTANCE` or `GROUP`, as keepalived passes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instance => "INSTANCE",
            Self::Group => "GROUP",
        }
    }
}

/// The state an instance moved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    /// Became MASTER: runs `notify_master`.
    Master,
    /// Became BACKUP: runs `notify_backup`.
    Backup,
    /// Entered FAULT: runs `notify_fault`.
    Fault,
    /// The instance stops (daemon shutdown or removal): runs `notify_stop`.
    Stop,
}

impl TargetState {
    /// The upper-case name keepalived passes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Master => "MASTER",
            Self::Backup => "BACKUP",
            Self::Fault => "FAULT",
            Self::Stop => "STOP",
        }
    }
}

/// One instance's notify scripts (each optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyScripts {
    /// `notify_master`.
    pub master: Option<ScriptCommand>,
    /// `notify_backup`.
    pub backup: Option<ScriptCommand>,
    /// `notify_fault`.
    pub fault: Option<ScriptCommand>,
    /// `notify_stop`.
    pub stop: Option<ScriptCommand>,
    /// `notify`, run after the state-specific one with four extra arguments.
    pub notify: Option<ScriptCommand>,
}

impl NotifyScripts {
    /// The state-specific script for `state`.
    pub fn for_state(&self, state: TargetState) -> Option<&ScriptCommand> {
        match state {
            TargetState::Master => self.master.as_ref(),
            TargetState::Backup => self.backup.as_ref(),
            TargetState::Fault => self.fault.as_ref(),
            TargetState::Stop => self.stop.as_ref(),
        }
    }
}

/// The result of one hook run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyOutcome {
    /// Which hook: `notify_master`, …, or `notify`.
    pub hook: &'static str,
    /// The full argv after the program.
    pub args: Vec<String>,
    /// How the run went.
    pub run: RunOutcome,
}

/// The hooks started for one transition; awaiting it is optional.
#[derive(Debug)]
pub struct NotifyHandle {
    task: Option<JoinHandle<Vec<NotifyOutcome>>>,
}

impl NotifyHandle {
    /// Waits for the hooks to finish (or time out) and returns their outcomes.
    pub async fn wait(self) -> Vec<NotifyOutcome> {
        match self.task {
            Some(task) => task.await.unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Whether any hook was started.
    pub fn is_empty(&self) -> bool {
        self.task.is_none()
    }
}

/// Starts notify hooks without blocking the caller.
#[derive(Debug, Clone)]
pub struct NotifyRunner {
    timeout: Duration,
}

impl NotifyRunner {
    /// Hooks still running after `timeout` are killed with their process group.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// Runs the hooks for `name` entering `state` at `priority` on a spawned
    /// task: the state-specific script first, then (once it has finished, so
    /// their effects are ordered as keepalived documents) the generic `notify`
    /// script. Exit statuses are logged; the handle returns them.
    pub fn state_changed(
        &self,
        scripts: &NotifyScripts,
        subject: Subject,
        name: &str,
        state: TargetState,
        priority: u8,
    ) -> NotifyHandle {
        let mut runs: Vec<(&'static str, ScriptCommand, Vec<String>)> = Vec::new();
        if let Some(script) = scripts.for_state(state) {
            let hook = match state {
                TargetState::Master => "notify_master",
                TargetState::Backup => "notify_backup",
                TargetState::Fault => "notify_fault",
                TargetState::Stop => "notify_stop",
            };
            runs.push((hook, script.clone(), Vec::new()));
        }
        if let Some(script) = &scripts.notify {
            let extra = notify_args(subject, name, state, priority);
            runs.push(("notify", script.clone(), extra));
        }
        if runs.is_empty() {
            return NotifyHandle { task: None };
        }
        let timeout = self.timeout;
        let name = name.to_owned();
        let task = tokio::spawn(async move {
            let mut outcomes = Vec::with_capacity(runs.len());
            for (hook, script, extra) in runs {
                let run = process::run(&script, &extra, timeout).await;
                log_outcome(&name, state, hook, &script, &run);
                let mut args = script.args().to_vec();
                args.extend(extra);
                outcomes.push(NotifyOutcome { hook, args, run });
            }
            outcomes
        });
        NotifyHandle { task: Some(task) }
    }
}

/// keepalived's four extra arguments to the generic `notify` script.
pub fn notify_args(subject: Subject, name: &str, state: TargetState, priority: u8) -> Vec<String> {
    vec![
        subject.as_str().to_owned(),
        name.to_owned(),
        state.as_str().to_owned(),
        priority.to_string(),
    ]
}

fn log_outcome(
    name: &str,
    state: TargetState,
    hook: &str,
    script: &ScriptCommand,
    run: &RunOutcome,
) {
    let program = script.program().display();
    let output = run.last_line.as_deref().unwrap_or("");
    if run.status.is_success() {
        tracing::info!(instance = name, state = state.as_str(), hook, %program, ?run.duration, "notify hook succeeded");
    } else {
        tracing::warn!(instance = name, state = state.as_str(), hook, %program, status = ?run.status, output, "notify hook failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_notify_arguments() {
        assert_eq!(
            notify_args(Subject::Instance, "VI_1", TargetState::Master, 100),
            ["INSTANCE", "VI_1", "MASTER", "100"]
        );
        assert_eq!(
            notify_args(Subject::Group, "G", TargetState::Fault, 0),
            ["GROUP", "G", "FAULT", "0"]
        );
    }
}
