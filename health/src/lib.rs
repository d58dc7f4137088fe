//! keepalived-style track scripts and built-in checks that produce a stream
//! of health changes for the VRRP priority, plus the notify hooks run on
//! instance state changes.
//!
//! - [`CheckConfig`] describes one check: a [`Probe`] (a script run without a
//!   shell, a TCP connect, a plain HTTP request, a proxy's up-member count,
//!   keepalived's `track_file` or `vrrp_track_process`) with keepalived's
//!   `interval`, `timeout`, `rise`, `fall`, `init_fail` and signed `weight`.
//! - [`Monitor::start`] runs each check on its own tokio task and returns the
//!   stream of [`HealthChange`]s (emitted on transitions only);
//!   [`Monitor::snapshot`] gives every check's [`CheckSnapshot`] for
//!   `hactl status` and metrics.
//! - [`ScriptCommand::parse`] splits a script string into argv, resolves the
//!   program and user, and enforces keepalived's `enable_script_security`.
//! - [`NotifyRunner`] runs `notify_master`/`notify_backup`/`notify_fault`/
//!   `notify_stop` and the generic `notify` without blocking the caller.
//!
//! The weight is carried through unchanged: turning statuses and weights into
//! an effective priority is `vrrp-core`'s job.
//!
//! ```
//! use std::time::Duration;
//! use health::{CheckConfig, Monitor, Probe, ScriptCommand, ScriptSecurity, Status};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let script = ScriptCommand::parse("check chk_true", "true", None, ScriptSecurity::Enforce)?;
//! let mut check = CheckConfig::new("chk_true", Probe::Script(script));
//! check.interval = Duration::from_millis(100);
//! check.weight = -20;
//! let (monitor, mut changes) = Monitor::start(vec![check])?;
//! let change = changes.recv().await.expect("first result");
//! assert_eq!((change.previous, change.status), (Status::Init, Status::Ok));
//! assert_eq!(change.weight, -20);
//! assert_eq!(monitor.snapshot()[0].status, Status::Ok);
//! # Ok::<(), health::Error>(())
//! # }).unwrap();
//! ```

mod check;
mod command;
mod counter;
mod monitor;
mod notify;
pub mod process;

pub use check::{
    Attempt, CheckConfig, FileEffect, HttpMethod, HttpProbe, MembersUp, ParamMatch, Probe,
    ProxyMembersProbe, TrackFileProbe, TrackProcessProbe, attempt, blocking_attempt,
    count_processes, read_track_file, track_file_effect,
};
pub use command::{Insecure, RunAs, ScriptCommand, ScriptSecurity, check_script_secure};
pub use counter::RiseFall;
pub use monitor::{CheckSnapshot, HealthChange, Monitor, Reconfigured, Status};
pub use notify::{
    NotifyHandle, NotifyOutcome, NotifyRunner, NotifyScripts, Subject, TargetState, notify_args,
};

use std::path::PathBuf;

/// Everything that can be wrong with a check or notify configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The script string has no words.
    #[error("{what}: script is empty")]
    EmptyScript {
        /// What the script belongs to (`check chk_x`, `instance VI_1 notify_master`).
        what: String,
    },
    /// Unbalanced quotes or a trailing backslash.
    #[error(
        "{what}: cannot split script {script:?} into words (unbalanced quote or trailing backslash)"
    )]
    ScriptQuoting {
        /// What the script belongs to.
        what: String,
        /// The script string.
        script: String,
    },
    /// A program path with a `/` that is not absolute.
    #[error("{what}: program {program:?} must be an absolute path or a bare name found in PATH")]
    RelativeProgram {
        /// What the script belongs to.
        what: String,
        /// The program word.
        program: String,
    },
    /// A bare program name not found in `PATH`.
    #[error("{what}: program {program:?} not found in PATH")]
    ProgramNotFound {
        /// What the script belongs to.
        what: String,
        /// The program word.
        program: String,
    },
    /// `user` names no known user.
    #[error("{what}: unknown user {user:?}")]
    UnknownUser {
        /// What the script belongs to.
        what: String,
        /// The configured user.
        user: String,
    },
    /// `user USER GROUP` names no known group.
    #[error("{what}: unknown group {group:?}")]
    UnknownGroup {
        /// What the script belongs to.
        what: String,
        /// The configured group.
        group: String,
    },
    /// The script would run as root but a non-root user could modify it.
    #[error("{what}: refusing to run script as root: {path} is {reason} (enable_script_security)", path = path.display())]
    InsecureScript {
        /// What the script belongs to.
        what: String,
        /// The offending file or directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A field has a value the check cannot work with.
    #[error("check {check}: {field} {reason}")]
    InvalidField {
        /// The check's name.
        check: String,
        /// The field (`interval`, `rise`, `path`, …).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Two checks share a name.
    #[error("check {check} is defined twice")]
    DuplicateCheck {
        /// The name.
        check: String,
    },
}
