//! Runs every check on its own task and publishes transitions and a status
//! snapshot.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::Error;
use crate::check::{self, Attempt, CheckConfig, FileEffect, Probe, TrackProcessProbe};
use crate::counter::RiseFall;

/// A check's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// No result yet (keepalived's init state; the first result decides).
    Init,
    /// Healthy.
    Ok,
    /// Failed (after `fall` consecutive failures, or the first one from init).
    Failed,
}

impl Status {
    /// Lower-case name as shown in `hactl status --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::Ok => "ok",
            Self::Failed => "failed",
        }
    }
}

/// A transition of one check, emitted only when its status changes (or, for
/// `track_file`, when the value read changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    /// The check's name.
    pub check: String,
    /// Status before.
    pub previous: Status,
    /// Status now: [`Status::Ok`] or [`Status::Failed`], never init.
    pub status: Status,
    /// The configured weight, unchanged.
    pub weight: i32,
    /// For `track_file`: the value read (clamped to -254..=254).
    pub value: Option<i64>,
    /// Why: the error or last output line of the deciding attempt.
    pub reason: Option<String>,
}

/// Counters and last results of one check, for `hactl status` and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSnapshot {
    /// The check's name.
    pub name: String,
    /// Kind of probe (`script`, `tcp`, `http`, `proxy_members`, `track_file`, `track_process`).
    pub kind: &'static str,
    /// Current status.
    pub status: Status,
    /// The configured weight.
    pub weight: i32,
    /// For `track_file`: the last value read.
    pub value: Option<i64>,
    /// Whether the last attempt succeeded (`None` before the first).
    pub last_success: Option<bool>,
    /// Exit code of the last script run.
    pub last_exit_code: Option<i32>,
    /// Error of the last attempt, if it failed.
    pub last_error: Option<String>,
    /// Last output line of the last attempt (bounded to 4 KiB).
    pub last_output: Option<String>,
    /// How long the last attempt took.
    pub last_duration: Option<Duration>,
    /// When the last attempt finished.
    pub last_run: Option<SystemTime>,
    /// Attempts finished.
    pub runs: u64,
    /// Attempts that succeeded.
    pub successes: u64,
    /// Attempts that failed (including timeouts).
    pub failures: u64,
    /// Attempts that overran their timeout.
    pub timeouts: u64,
    /// Status transitions so far.
    pub transitions: u64,
}

struct Running {
    config: CheckConfig,
    state: Arc<Mutex<CheckSnapshot>>,
    task: JoinHandle<()>,
}

/// Runs a set of checks, each on its own tokio task; dropping it stops them
/// (a script still running is killed with its process group).
pub struct Monitor {
    checks: HashMap<String, Running>,
    changes: mpsc::UnboundedSender<HealthChange>,
}

/// What [`Monitor::reconfigure`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconfigured {
    /// Checks whose configuration did not change: kept running with their state.
    pub kept: Vec<String>,
    /// New or changed checks, started from init.
    pub started: Vec<String>,
    /// Checks no longer configured, stopped.
    pub stopped: Vec<String>,
}

impl Monitor {
    /// Validates and starts `checks` on the current tokio runtime (call it from
    /// within one: it spawns tasks). Returns the
    /// monitor and the stream of transitions. Fails without starting anything
    /// if a check is invalid or two share a name.
    pub fn start(
        checks: Vec<CheckConfig>,
    ) -> Result<(Self, mpsc::UnboundedReceiver<HealthChange>), Error> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut monitor = Self {
            checks: HashMap::new(),
            changes: tx,
        };
        monitor.reconfigure(checks)?;
        Ok((monitor, rx))
    }

    /// Applies a new set of checks (SIGHUP): unchanged checks keep running
    /// with their state and counters, changed and new ones start from init,
    /// removed ones stop. Nothing changes if the new set is invalid.
    pub fn reconfigure(&mut self, checks: Vec<CheckConfig>) -> Result<Reconfigured, Error> {
        let mut seen = std::collections::HashSet::new();
        for check in &checks {
            check.validate()?;
            if !seen.insert(check.name.clone()) {
                return Err(Error::DuplicateCheck {
                    check: check.name.clone(),
                });
            }
        }
        let mut done = Reconfigured::default();
        let mut old = std::mem::take(&mut self.checks);
        for config in checks {
            let name = config.name.clone();
            match old.remove(&name) {
                Some(running) if running.config == config => {
                    done.kept.push(name.clone());
                    self.checks.insert(name, running);
                }
                previous => {
                    if let Some(previous) = previous {
                        previous.task.abort();
                    }
                    done.started.push(name.clone());
                    let running = spawn(config, self.changes.clone());
                    self.checks.insert(name, running);
                }
            }
        }
        for (name, running) in old {
            running.task.abort();
            done.stopped.push(name);
        }
        done.kept.sort();
        done.started.sort();
        done.stopped.sort();
        Ok(done)
    }

    /// The status of every check, sorted by name.
    pub fn snapshot(&self) -> Vec<CheckSnapshot> {
        let mut all: Vec<CheckSnapshot> = self.checks.values().map(|r| lock(&r.state)).collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// The status of one check.
    pub fn check(&self, name: &str) -> Option<CheckSnapshot> {
        self.checks.get(name).map(|r| lock(&r.state))
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        for running in self.checks.values() {
            running.task.abort();
        }
    }
}

fn lock(state: &Mutex<CheckSnapshot>) -> CheckSnapshot {
    state.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

fn spawn(config: CheckConfig, changes: mpsc::UnboundedSender<HealthChange>) -> Running {
    let counter = RiseFall::new(config.rise, config.fall, config.init_fail);
    let state = Arc::new(Mutex::new(CheckSnapshot {
        name: config.name.clone(),
        kind: config.kind(),
        status: counter.status(),
        weight: config.weight,
        value: None,
        last_success: None,
        last_exit_code: None,
        last_error: None,
        last_output: None,
        last_duration: None,
        last_run: None,
        runs: 0,
        successes: 0,
        failures: 0,
        timeouts: 0,
        transitions: 0,
    }));
    let task = tokio::spawn(run_check(config.clone(), counter, state.clone(), changes));
    Running {
        config,
        state,
        task,
    }
}

/// How a check turns attempts into a status.
enum Decider {
    /// keepalived's rise/fall counter (scripts and network probes).
    Counter(RiseFall),
    /// `track_file`: the value decides at once; changes are reported.
    File { reverse: bool, last: Option<i64> },
    /// `track_process`: quorum with fork/terminate delays.
    Process {
        probe: TrackProcessProbe,
        status: Status,
        pending_since: Option<Instant>,
    },
}

impl Decider {
    /// Feeds an attempt; returns `Some(new status)` when a change is to be published.
    fn decide(
        &mut self,
        attempt: &Attempt,
        weight: i32,
        current: Status,
        now: Instant,
    ) -> Option<Status> {
        match self {
            Self::Counter(c) => c.record(attempt.success),
            Self::File { reverse, last } => {
                let value = attempt.value.unwrap_or_default();
                let status = match check::track_file_effect(value, weight, *reverse) {
                    FileEffect::Fault => Status::Failed,
                    FileEffect::Delta(_) => Status::Ok,
                };
                let changed = *last != Some(value) || status != current;
                *last = Some(value);
                changed.then_some(status)
            }
            Self::Process {
                probe,
                status,
                pending_since,
            } => {
                let wanted = if attempt.success {
                    Status::Ok
                } else {
                    Status::Failed
                };
                if wanted == *status {
                    *pending_since = None;
                    return None;
                }
                let delay = match (wanted, *status) {
                    // keepalived's initial scan decides at once.
                    (_, Status::Init) => Duration::ZERO,
                    (Status::Ok, _) => probe.fork_delay,
                    _ => probe.terminate_delay,
                };
                let since = *pending_since.get_or_insert(now);
                if now.saturating_duration_since(since) >= delay {
                    *pending_since = None;
                    *status = wanted;
                    Some(wanted)
                } else {
                    None
                }
            }
        }
    }
}

/// Deterministic offset in `0..interval` from the name, so a hundred checks
/// with the same interval do not all fire in the same millisecond.
fn phase(name: &str, interval: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut hasher);
    let fraction = (hasher.finish() % 1000) as u32;
    interval * fraction / 1000
}

async fn run_check(
    config: CheckConfig,
    counter: RiseFall,
    state: Arc<Mutex<CheckSnapshot>>,
    changes: mpsc::UnboundedSender<HealthChange>,
) {
    let mut decider = match &config.probe {
        Probe::TrackFile(f) => Decider::File {
            reverse: f.reverse,
            last: None,
        },
        Probe::TrackProcess(p) => Decider::Process {
            probe: p.clone(),
            status: if config.init_fail {
                Status::Failed
            } else {
                Status::Init
            },
            pending_since: None,
        },
        _ => Decider::Counter(counter),
    };
    // First attempt at once (keepalived runs scripts immediately at start),
    // the second half an interval to an interval later depending on the name,
    // then every interval.
    let first_tick =
        Instant::now() + config.interval / 2 + phase(&config.name, config.interval) / 2;
    let mut ticks = tokio::time::interval_at(first_tick, config.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let started = Instant::now();
        let attempt = match &config.probe {
            // File and /proc reads are blocking file-system calls, and a /proc
            // scan can take milliseconds on a busy host: keep them off the
            // runtime's worker threads.
            Probe::TrackFile(_) | Probe::TrackProcess(_) => {
                let probe = config.probe.clone();
                tokio::task::spawn_blocking(move || check::blocking_attempt(&probe))
                    .await
                    .unwrap_or_else(|e| Attempt::failed(format!("probe task failed: {e}")))
            }
            probe => check::attempt(probe, config.effective_timeout()).await,
        };
        let now = Instant::now();
        let current = lock(&state).status;
        let transition = decider.decide(&attempt, config.weight, current, now);
        let change = {
            let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
            s.runs += 1;
            if attempt.success {
                s.successes += 1;
            } else {
                s.failures += 1;
            }
            if attempt.timed_out {
                s.timeouts += 1;
            }
            s.last_success = Some(attempt.success);
            s.last_exit_code = attempt.exit_code;
            s.last_error.clone_from(&attempt.error);
            s.last_output.clone_from(&attempt.output);
            s.last_duration = Some(now.saturating_duration_since(started));
            s.last_run = Some(SystemTime::now());
            s.value = attempt.value;
            transition.map(|status| {
                let previous = s.status;
                if previous != status {
                    s.transitions += 1;
                }
                s.status = status;
                HealthChange {
                    check: config.name.clone(),
                    previous,
                    status,
                    weight: config.weight,
                    value: attempt.value,
                    reason: attempt.error.clone().or_else(|| attempt.output.clone()),
                }
            })
        };
        if let Some(change) = change {
            if change.previous != change.status {
                tracing::info!(
                    check = %change.check,
                    from = change.previous.as_str(),
                    to = change.status.as_str(),
                    reason = change.reason.as_deref().unwrap_or(""),
                    "health check changed"
                );
            }
            // The receiver may be gone while the daemon shuts down.
            let _ = changes.send(change);
        }
        ticks.tick().await;
    }
}
