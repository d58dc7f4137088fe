//! The one place that spawns children, for script checks and notify hooks
//! alike: no shell, own process group, optional uid/gid switch, bounded
//! output capture, and a timeout that kills the whole group.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use crate::command::ScriptCommand;

/// The longest output line kept; the rest of a longer line is discarded.
pub const MAX_LINE: usize = 4096;

/// How long a child gets between SIGTERM and SIGKILL after overrunning.
const KILL_GRACE: Duration = Duration::from_millis(200);

/// How long output is still read after the child exited (a grandchild may
/// hold the pipes open forever; we do not wait for it).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(100);

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    /// The child exited with this status code.
    Exited(i32),
    /// The child was killed by this signal (not by us).
    Signaled(i32),
    /// The child overran its timeout; its process group was killed.
    TimedOut,
    /// The child could not be started.
    SpawnFailed(String),
}

impl RunStatus {
    /// keepalived's rule: only exit status 0 is success.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Exited(0))
    }
}

/// The result of running one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// How it ended.
    pub status: RunStatus,
    /// The last non-empty line written to stdout (or, if none, stderr),
    /// at most [`MAX_LINE`] bytes, lossily decoded as UTF-8.
    pub last_line: Option<String>,
    /// Wall-clock time from spawn to exit (or to the kill).
    pub duration: Duration,
    /// The child's PID, which is also its process group id.
    pub pid: Option<u32>,
}

/// Keeps the last non-empty line of a stream, bounded to [`MAX_LINE`] bytes,
/// whatever the stream's size.
#[derive(Debug, Default)]
pub struct LineTail {
    current: Vec<u8>,
    last: Vec<u8>,
}

impl LineTail {
    /// Feeds a chunk of the stream.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        while let Some(pos) = chunk.iter().position(|&b| b == b'\n') {
            let (line, rest) = chunk.split_at(pos);
            self.push(line);
            if self.current.last() == Some(&b'\r') {
                self.current.pop();
            }
            if !self.current.is_empty() {
                std::mem::swap(&mut self.last, &mut self.current);
            }
            self.current.clear();
            chunk = rest.get(1..).unwrap_or_default();
        }
        self.push(chunk);
    }

    fn push(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.current.len());
        let take = bytes.len().min(room);
        self.current
            .extend_from_slice(bytes.get(..take).unwrap_or_default());
    }

    /// The last non-empty line seen (an unterminated final line counts).
    pub fn last_line(&self) -> Option<String> {
        let line = if self.current.is_empty() {
            &self.last
        } else {
            &self.current
        };
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        (!text.is_empty()).then(|| text.to_owned())
    }
}

/// Kills the child's process group if the run is abandoned (task aborted,
/// daemon stopping) before the child was reaped.
struct GroupGuard {
    pgid: Option<Pid>,
}

impl GroupGuard {
    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// Runs `command` with `extra_args` appended, without a shell, in its own
/// process group, as the command's user if one is set, with stdin from
/// `/dev/null`. Output is drained and only the last line kept. If the child
/// is still running after `timeout`, its whole process group gets SIGTERM,
/// then SIGKILL after a short grace, and the run counts as
/// [`RunStatus::TimedOut`].
pub async fn run(command: &ScriptCommand, extra_args: &[String], timeout: Duration) -> RunOutcome {
    let started = Instant::now();
    let mut cmd = tokio::process::Command::new(command.program());
    cmd.args(command.args())
        .args(extra_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // std/tokio's uid() also drops supplementary groups when called as root.
    if let Some(gid) = command.gid() {
        cmd.gid(gid);
    }
    if let Some(uid) = command.uid() {
        cmd.uid(uid);
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            return RunOutcome {
                status: RunStatus::SpawnFailed(format!("{}: {e}", command.program().display())),
                last_line: None,
                duration: started.elapsed(),
                pid: None,
            };
        }
    };
    let pid = child.id();
    let mut guard = GroupGuard {
        pgid: pid.and_then(|p| i32::try_from(p).ok()).map(Pid::from_raw),
    };
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let (mut out_tail, mut err_tail) = (LineTail::default(), LineTail::default());
    let (mut out_buf, mut err_buf) = (vec![0u8; 8192], vec![0u8; 8192]);
    let deadline = started + timeout;
    let mut exit: Option<RunStatus> = None;
    let mut drain_until = deadline;
    loop {
        if exit.is_some() && stdout.is_none() && stderr.is_none() {
            break;
        }
        tokio::select! {
            read = read_some(&mut stdout, &mut out_buf) => {
                match read {
                    Some(n) => out_tail.feed(out_buf.get(..n).unwrap_or_default()),
                    None => stdout = None,
                }
            }
            read = read_some(&mut stderr, &mut err_buf) => {
                match read {
                    Some(n) => err_tail.feed(err_buf.get(..n).unwrap_or_default()),
                    None => stderr = None,
                }
            }
            status = child.wait(), if exit.is_none() => {
                exit = Some(match status {
                    Ok(status) => exit_status(status),
                    Err(e) => RunStatus::SpawnFailed(format!("wait: {e}")),
                });
                guard.disarm();
                drain_until = Instant::now() + DRAIN_AFTER_EXIT;
            }
            () = tokio::time::sleep_until(drain_until) => {
                if exit.is_some() {
                    // Exited, but something still holds the pipes: stop reading.
                    break;
                }
                kill_group(&mut child, guard.pgid).await;
                guard.disarm();
                exit = Some(RunStatus::TimedOut);
                break;
            }
        }
    }
    let duration = started.elapsed();
    RunOutcome {
        status: exit.unwrap_or(RunStatus::TimedOut),
        last_line: out_tail.last_line().or_else(|| err_tail.last_line()),
        duration,
        pid,
    }
}

/// Reads from an optional pipe; `None` means EOF or error (the pipe is done).
/// A missing pipe never completes, so `select!` simply ignores it.
async fn read_some<R: tokio::io::AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut [u8],
) -> Option<usize> {
    match pipe {
        Some(reader) => match reader.read(buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(n),
        },
        None => std::future::pending().await,
    }
}

/// SIGTERM to the group, a short grace, then SIGKILL to the group, and reap
/// the leader.
async fn kill_group(child: &mut tokio::process::Child, pgid: Option<Pid>) {
    let Some(pgid) = pgid else {
        let _ = child.start_kill();
        let _ = child.wait().await;
        return;
    };
    let _ = killpg(pgid, Signal::SIGTERM);
    let _ = tokio::time::timeout(KILL_GRACE, child.wait()).await;
    // Members that ignored SIGTERM (or the leader's children) go now.
    let _ = killpg(pgid, Signal::SIGKILL);
    let _ = child.wait().await;
}

fn exit_status(status: std::process::ExitStatus) -> RunStatus {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => RunStatus::Exited(code),
        (None, Some(signal)) => RunStatus::Signaled(signal),
        (None, None) => RunStatus::Exited(-1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_nonempty_line() {
        let mut tail = LineTail::default();
        tail.feed(b"first\nsec");
        tail.feed(b"ond\n\n");
        assert_eq!(tail.last_line().as_deref(), Some("second"));
        tail.feed(b"third, unterminated\r");
        assert_eq!(tail.last_line().as_deref(), Some("third, unterminated"));
    }

    #[test]
    fn tail_bounds_long_lines() {
        let mut tail = LineTail::default();
        for _ in 0..1000 {
            tail.feed(&[b'x'; 1000]);
        }
        assert_eq!(tail.last_line().map(|l| l.len()), Some(MAX_LINE));
        tail.feed(b"\nshort\n");
        assert_eq!(tail.last_line().as_deref(), Some("short"));
    }

    #[test]
    fn empty_stream_has_no_line() {
        let mut tail = LineTail::default();
        assert_eq!(tail.last_line(), None);
        tail.feed(b"\n\n\r\n");
        assert_eq!(tail.last_line(), None);
    }
}
