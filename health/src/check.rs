//! Check configuration (plain structs the daemon fills from its TOML) and the
//! probes that run one attempt of each kind.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Error;
use crate::command::ScriptCommand;
use crate::process::{self, RunStatus};

/// One check, as configured.
#[derive(Clone, PartialEq)]
pub struct CheckConfig {
    /// The check's name (`vrrp_script.<name>`), unique within a monitor.
    pub name: String,
    /// keepalived's signed weight, carried unchanged to consumers: >0 added
    /// while OK, <0 added while failed, 0 = FAULT while failed. For
    /// `track_file` it multiplies the file's value (see [`track_file_effect`]).
    pub weight: i32,
    /// Time between attempts (keepalived `interval`; default 1 s).
    pub interval: Duration,
    /// An attempt still running after this counts as failed; `None` means the
    /// interval (keepalived's `timeout 0` default).
    pub timeout: Option<Duration>,
    /// Consecutive successes needed to go from failed to OK (default 1).
    pub rise: u32,
    /// Consecutive failures needed to go from OK to failed (default 1).
    pub fall: u32,
    /// Start in the failed state instead of init (keepalived `init_fail`).
    pub init_fail: bool,
    /// What to probe.
    pub probe: Probe,
}

impl CheckConfig {
    /// A check with keepalived's defaults: weight 0, interval 1 s, timeout =
    /// interval, rise 1, fall 1, starting in init.
    pub fn new(name: impl Into<String>, probe: Probe) -> Self {
        Self {
            name: name.into(),
            weight: 0,
            interval: Duration::from_secs(1),
            timeout: None,
            rise: 1,
            fall: 1,
            init_fail: false,
            probe,
        }
    }

    /// Checks the values a probe cannot work with; errors name the check and field.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |field: &'static str, reason: &str| Error::InvalidField {
            check: self.name.clone(),
            field,
            reason: reason.to_owned(),
        };
        if self.name.is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        if self.interval < Duration::from_millis(10) {
            return Err(invalid("interval", "must be at least 0.01 s"));
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(invalid("timeout", "must be greater than 0"));
        }
        if self.rise == 0 {
            return Err(invalid("rise", "must be at least 1"));
        }
        if self.fall == 0 {
            return Err(invalid("fall", "must be at least 1"));
        }
        // keepalived's ranges: scripts (and our network probes, which stand
        // in for scripts) -253..=253, track_process -254..=254; track_file
        // multiplies a file value, so any weight is meaningful there.
        let weight_range = match &self.probe {
            Probe::TrackFile(_) => i32::MIN..=i32::MAX,
            Probe::TrackProcess(_) => -254..=254,
            _ => -253..=253,
        };
        if !weight_range.contains(&self.weight) {
            return Err(Error::InvalidField {
                check: self.name.clone(),
                field: "weight",
                reason: format!(
                    "{} is outside {}..={}",
                    self.weight,
                    weight_range.start(),
                    weight_range.end()
                ),
            });
        }
        match &self.probe {
            Probe::Http(http) => http.validate(&self.name),
            Probe::TrackProcess(p) => {
                if p.process.is_empty() {
                    return Err(invalid("process", "must not be empty"));
                }
                if p.quorum_max.is_some_and(|max| max < p.quorum) {
                    return Err(invalid("quorum_max", "must not be below quorum"));
                }
                Ok(())
            }
            Probe::TrackFile(f) if f.path.as_os_str().is_empty() => {
                Err(invalid("file", "must not be empty"))
            }
            _ => Ok(()),
        }
    }

    /// The timeout that applies: the configured one, else the interval.
    pub fn effective_timeout(&self) -> Duration {
        self.timeout.unwrap_or(self.interval)
    }

    /// The kind of probe, as shown by `hactl status`.
    pub fn kind(&self) -> &'static str {
        self.probe.kind()
    }
}

impl fmt::Debug for CheckConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckConfig")
            .field("name", &self.name)
            .field("weight", &self.weight)
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("rise", &self.rise)
            .field("fall", &self.fall)
            .field("init_fail", &self.init_fail)
            .field("probe", &self.probe)
            .finish()
    }
}

/// What a check looks at.
#[derive(Clone, PartialEq, Debug)]
pub enum Probe {
    /// Run a program; exit status 0 is OK (keepalived `vrrp_script`).
    Script(ScriptCommand),
    /// Open a TCP connection; connected is OK.
    Tcp(SocketAddr),
    /// Send one plain HTTP/1.1 request; the expected status is OK.
    Http(HttpProbe),
    /// OK while at least `min_up` members of a local proxy are up.
    ProxyMembers(ProxyMembersProbe),
    /// An integer in a file (keepalived `track_file`).
    TrackFile(TrackFileProbe),
    /// A named process is running (keepalived `vrrp_track_process`).
    TrackProcess(TrackProcessProbe),
}

impl Probe {
    /// A short name for the kind of probe.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Script(_) => "script",
            Self::Tcp(_) => "tcp",
            Self::Http(_) => "http",
            Self::ProxyMembers(_) => "proxy_members",
            Self::TrackFile(_) => "track_file",
            Self::TrackProcess(_) => "track_process",
        }
    }
}

/// HTTP method of an [`HttpProbe`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum HttpMethod {
    /// `GET`.
    #[default]
    Get,
    /// `HEAD`.
    Head,
}

/// A plain-HTTP (no TLS) check.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HttpProbe {
    /// Where to connect.
    pub address: SocketAddr,
    /// `Host` header; defaults to the address.
    pub host: Option<String>,
    /// Request target, starting with `/`.
    pub path: String,
    /// `GET` or `HEAD`.
    pub method: HttpMethod,
    /// The status that means OK (default 200).
    pub expected_status: u16,
}

impl HttpProbe {
    /// `GET /` expecting 200.
    pub fn get(address: SocketAddr) -> Self {
        Self {
            address,
            host: None,
            path: "/".to_owned(),
            method: HttpMethod::Get,
            expected_status: 200,
        }
    }

    fn validate(&self, check: &str) -> Result<(), Error> {
        let invalid = |field: &'static str, reason: &str| Error::InvalidField {
            check: check.to_owned(),
            field,
            reason: reason.to_owned(),
        };
        let clean = |s: &str| !s.bytes().any(|b| b.is_ascii_control() || b == b' ');
        if !self.path.starts_with('/') || !clean(&self.path) {
            return Err(invalid(
                "path",
                "must start with '/' and contain no spaces or control characters",
            ));
        }
        if self
            .host
            .as_deref()
            .is_some_and(|h| h.is_empty() || !clean(h))
        {
            return Err(invalid("host", "must be a non-empty name without spaces"));
        }
        if !(100..=599).contains(&self.expected_status) {
            return Err(invalid("expected_status", "must be between 100 and 599"));
        }
        Ok(())
    }
}

/// Counts the up members of a local proxy; supplied by the daemon so this
/// crate does not depend on the proxy.
pub type MembersUp = Arc<dyn Fn() -> usize + Send + Sync>;

/// The node is healthy while at least `min_up` members of a proxy are up.
#[derive(Clone)]
pub struct ProxyMembersProbe {
    /// Minimum number of up members for OK.
    pub min_up: usize,
    /// Returns how many members are up now.
    pub members_up: MembersUp,
}

impl PartialEq for ProxyMembersProbe {
    fn eq(&self, other: &Self) -> bool {
        self.min_up == other.min_up && Arc::ptr_eq(&self.members_up, &other.members_up)
    }
}

impl fmt::Debug for ProxyMembersProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyMembersProbe")
            .field("min_up", &self.min_up)
            .finish_non_exhaustive()
    }
}

/// keepalived `track_file`: the file holds an integer that, multiplied by the
/// check's weight, moves the priority. It is re-read every interval.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TrackFileProbe {
    /// The file to read.
    pub path: PathBuf,
    /// keepalived `weight N reverse`: invert the effect.
    pub reverse: bool,
}

/// How a [`TrackProcessProbe`] with parameters matches a command line
/// (keepalived `param_match`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ParamMatch {
    /// All parameters equal, same count.
    #[default]
    Exact,
    /// The first n parameters equal; more may follow.
    Partial,
    /// Like `Partial`, but the last configured parameter may be a prefix.
    Initial,
}

/// keepalived `vrrp_track_process`: OK while the number of matching running
/// (non-zombie) processes is within `quorum ..= quorum_max`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TrackProcessProbe {
    /// The process name (matched exactly against `/proc/PID/comm`, which the
    /// kernel truncates to 15 bytes), or with `full_command`/`params`,
    /// against the command line.
    pub process: String,
    /// Parameters to match against the command line's arguments.
    pub params: Vec<String>,
    /// How parameters match; `Some` with no params means "no parameters".
    pub param_match: Option<ParamMatch>,
    /// Match `process` against the whole command line (args joined by spaces).
    pub full_command: bool,
    /// Minimum number of processes for OK (default 1).
    pub quorum: u32,
    /// Maximum number of processes for OK (default unlimited).
    pub quorum_max: Option<u32>,
    /// Quorum must hold this long before the check goes OK (keepalived `fork_delay`).
    pub fork_delay: Duration,
    /// Quorum must be lost this long before the check fails (keepalived `terminate_delay`).
    pub terminate_delay: Duration,
}

impl TrackProcessProbe {
    /// Tracks processes named `process`, quorum 1, no delays.
    pub fn named(process: impl Into<String>) -> Self {
        Self {
            process: process.into(),
            params: Vec::new(),
            param_match: None,
            full_command: false,
            quorum: 1,
            quorum_max: None,
            fork_delay: Duration::ZERO,
            terminate_delay: Duration::ZERO,
        }
    }
}

/// What one attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Whether it counts as a success.
    pub success: bool,
    /// The attempt overran its timeout.
    pub timed_out: bool,
    /// Exit code of a script.
    pub exit_code: Option<i32>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// Last output line (scripts) or a short description (built-ins).
    pub output: Option<String>,
    /// Value read from a tracked file.
    pub value: Option<i64>,
}

impl Attempt {
    fn ok(output: String) -> Self {
        Self {
            success: true,
            timed_out: false,
            exit_code: None,
            error: None,
            output: Some(output),
            value: None,
        }
    }

    pub(crate) fn failed(error: String) -> Self {
        Self {
            success: false,
            timed_out: false,
            exit_code: None,
            error: Some(error),
            output: None,
            value: None,
        }
    }

    fn timed_out(timeout: Duration) -> Self {
        Self {
            timed_out: true,
            ..Self::failed(format!("timed out after {timeout:?}"))
        }
    }
}

/// Runs one attempt of a periodic probe (script, TCP, HTTP, proxy members).
/// `track_file` and `track_process` have their own loops in the monitor.
pub async fn attempt(probe: &Probe, timeout: Duration) -> Attempt {
    match probe {
        Probe::Script(command) => script_attempt(command, timeout).await,
        Probe::Tcp(address) => {
            match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
                Err(_) => Attempt::timed_out(timeout),
                Ok(Err(e)) => Attempt::failed(format!("connect {address}: {e}")),
                Ok(Ok(_)) => Attempt::ok(format!("connected to {address}")),
            }
        }
        Probe::Http(http) => match tokio::time::timeout(timeout, http_status(http)).await {
            Err(_) => Attempt::timed_out(timeout),
            Ok(Err(e)) => Attempt::failed(e),
            Ok(Ok(status)) if status == http.expected_status => {
                Attempt::ok(format!("HTTP {status}"))
            }
            Ok(Ok(status)) => Attempt {
                output: Some(format!("HTTP {status}")),
                ..Attempt::failed(format!(
                    "HTTP status {status}, expected {}",
                    http.expected_status
                ))
            },
        },
        Probe::ProxyMembers(p) => {
            let up = (p.members_up)();
            let text = format!("{up} members up, {} needed", p.min_up);
            if up >= p.min_up {
                Attempt::ok(text)
            } else {
                Attempt::failed(text)
            }
        }
        Probe::TrackFile(_) | Probe::TrackProcess(_) => blocking_attempt(probe),
    }
}

/// One attempt of the probes that only read files (`track_file`,
/// `track_process`); blocking, so the monitor runs it on a blocking thread.
/// Other probes report a failure here.
pub fn blocking_attempt(probe: &Probe) -> Attempt {
    match probe {
        Probe::TrackFile(f) => {
            let value = read_track_file(&f.path);
            Attempt {
                value: Some(value),
                ..Attempt::ok(format!("value {value}"))
            }
        }
        Probe::TrackProcess(p) => {
            let count = count_processes(p);
            let text = format!("{count} matching processes");
            if in_quorum(p, count) {
                Attempt::ok(text)
            } else {
                Attempt::failed(text)
            }
        }
        other => Attempt::failed(format!("{} probe is not a blocking probe", other.kind())),
    }
}

async fn script_attempt(command: &ScriptCommand, timeout: Duration) -> Attempt {
    let run = process::run(command, &[], timeout).await;
    let mut attempt = match &run.status {
        RunStatus::Exited(0) => Attempt::ok(String::new()),
        RunStatus::Exited(code) => Attempt::failed(format!("exit status {code}")),
        RunStatus::Signaled(sig) => Attempt::failed(format!("killed by signal {sig}")),
        RunStatus::TimedOut => Attempt::timed_out(timeout),
        RunStatus::SpawnFailed(e) => Attempt::failed(format!("cannot run: {e}")),
    };
    if let RunStatus::Exited(code) = run.status {
        attempt.exit_code = Some(code);
    }
    attempt.output = run.last_line;
    attempt
}

/// Sends one request and returns the response status code.
async fn http_status(http: &HttpProbe) -> Result<u16, String> {
    let mut stream = TcpStream::connect(http.address)
        .await
        .map_err(|e| format!("connect {}: {e}", http.address))?;
    let method = match http.method {
        HttpMethod::Get => "GET",
        HttpMethod::Head => "HEAD",
    };
    let host = http
        .host
        .clone()
        .unwrap_or_else(|| http.address.to_string());
    let request = format!(
        "{method} {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: had-health\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        http.path
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send request: {e}"))?;
    // Only the status line matters; read at most 1 KiB to find it.
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 512];
    while !head.contains(&b'\n') && head.len() < 1024 {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("read response: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    parse_status_line(&head)
}

/// Parses `HTTP/1.x NNN ...` from the start of a response.
fn parse_status_line(head: &[u8]) -> Result<u16, String> {
    let end = head.iter().position(|&b| b == b'\n').ok_or_else(|| {
        if head.is_empty() {
            "connection closed before a response".to_owned()
        } else {
            "no status line in the first 1024 bytes".to_owned()
        }
    })?;
    let line = String::from_utf8_lossy(head.get(..end).unwrap_or_default());
    let mut parts = line.trim_end().splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(format!("malformed status line {line:?}"));
    }
    code.parse()
        .map_err(|_| format!("malformed status line {line:?}"))
}

/// keepalived's `track_file` read: at most 127 bytes parsed like `strtol(buf,
/// NULL, 0)` (leading blanks, a sign, `0x` hex or leading-`0` octal, then
/// digits up to the first non-digit); a missing, unreadable, empty or
/// non-numeric file reads as 0, and the value is clamped to -254..=254.
pub fn read_track_file(path: &std::path::Path) -> i64 {
    use std::io::Read;
    let mut buf = [0u8; 127];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut buf))
        .unwrap_or(0);
    strtol(buf.get(..n).unwrap_or_default()).clamp(-254, 254)
}

/// `strtol(s, NULL, 0)` with saturation instead of `ERANGE`.
fn strtol(s: &[u8]) -> i64 {
    let mut rest = s;
    while let [b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c', tail @ ..] = rest {
        rest = tail;
    }
    let negative = match rest {
        [b'-', tail @ ..] => {
            rest = tail;
            true
        }
        [b'+', tail @ ..] => {
            rest = tail;
            false
        }
        _ => false,
    };
    let radix: u32 = match rest {
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => {
            rest = rest.get(2..).unwrap_or_default();
            16
        }
        [b'0', ..] => 8,
        _ => 10,
    };
    let mut value: i64 = 0;
    for &b in rest {
        let Some(digit) = char::from(b).to_digit(radix) else {
            break;
        };
        value = value
            .saturating_mul(i64::from(radix))
            .saturating_add(i64::from(digit));
    }
    if negative { -value } else { value }
}

/// What a `track_file` value does to an instance, per keepalived 2.2
/// (`update_track_file_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileEffect {
    /// The instance goes to FAULT.
    Fault,
    /// Add this to the priority (before the instance's own clamping).
    Delta(i32),
}

impl FileEffect {
    /// The `(weight, healthy)` pair that keepalived's script arithmetic
    /// (a positive weight counts while healthy, a negative one while failed,
    /// weight 0 failed = FAULT) turns into this same effect, so a consumer
    /// can treat a tracked file like any other tracked check.
    pub fn as_weight_and_health(self) -> (i32, bool) {
        match self {
            Self::Fault => (0, false),
            Self::Delta(delta) => (delta, delta >= 0),
        }
    }
}

/// keepalived's `track_file` rule: with weight 0, a non-zero value is FAULT
/// and 0 is OK (inverted by `reverse`); otherwise `value × weight` (negated by
/// `reverse`) clamped to -254..=253, where -254 means FAULT.
pub fn track_file_effect(value: i64, weight: i32, reverse: bool) -> FileEffect {
    if weight == 0 {
        return if (value != 0) != reverse {
            FileEffect::Fault
        } else {
            FileEffect::Delta(0)
        };
    }
    let sign = if reverse { -1 } else { 1 };
    let delta = value
        .saturating_mul(i64::from(weight))
        .saturating_mul(sign)
        .clamp(-254, 253);
    if delta == -254 {
        FileEffect::Fault
    } else {
        // Clamped to -253..=253 above, so this always fits.
        FileEffect::Delta(i32::try_from(delta).unwrap_or_default())
    }
}

fn in_quorum(p: &TrackProcessProbe, count: u32) -> bool {
    count >= p.quorum && p.quorum_max.is_none_or(|max| count <= max)
}

/// Counts running, non-zombie processes matching the probe by scanning `/proc`.
pub fn count_processes(p: &TrackProcessProbe) -> u32 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let by_cmdline = p.full_command || !p.params.is_empty() || p.param_match.is_some();
    let mut count = 0;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let base = PathBuf::from("/proc").join(pid);
        let matches = if by_cmdline {
            std::fs::read(base.join("cmdline")).is_ok_and(|raw| cmdline_matches(p, &raw))
        } else {
            std::fs::read(base.join("comm")).is_ok_and(|raw| comm_matches(&p.process, &raw))
        };
        if matches && !is_zombie(&base) {
            count += 1;
        }
    }
    count
}

/// `comm` holds at most 15 bytes of the name, then a newline.
fn comm_matches(process: &str, raw: &[u8]) -> bool {
    let comm = raw.strip_suffix(b"\n").unwrap_or(raw);
    let wanted = process.as_bytes();
    comm == wanted.get(..wanted.len().min(15)).unwrap_or(wanted)
}

fn cmdline_matches(p: &TrackProcessProbe, raw: &[u8]) -> bool {
    let raw = raw.strip_suffix(b"\0").unwrap_or(raw);
    if raw.is_empty() {
        return false; // kernel threads
    }
    let args: Vec<&[u8]> = raw.split(|&b| b == 0).collect();
    if p.full_command && p.params.is_empty() {
        return args.join(&b' ') == p.process.as_bytes();
    }
    let Some((program, rest)) = args.split_first() else {
        return false;
    };
    if *program != p.process.as_bytes() {
        return false;
    }
    let wanted: Vec<&[u8]> = p.params.iter().map(String::as_bytes).collect();
    match p.param_match.unwrap_or_default() {
        ParamMatch::Exact => rest == wanted.as_slice(),
        ParamMatch::Partial => {
            rest.len() >= wanted.len() && rest.iter().zip(&wanted).all(|(a, b)| a == b)
        }
        ParamMatch::Initial => {
            rest.len() >= wanted.len()
                && rest.iter().zip(&wanted).enumerate().all(|(i, (a, b))| {
                    if i + 1 == wanted.len() {
                        a.starts_with(b)
                    } else {
                        a == b
                    }
                })
        }
    }
}

/// The state letter follows the last `)` in `/proc/PID/stat`.
fn is_zombie(base: &std::path::Path) -> bool {
    std::fs::read(base.join("stat")).is_ok_and(|stat| {
        let after = stat
            .iter()
            .rposition(|&b| b == b')')
            .and_then(|i| stat.get(i + 2));
        matches!(after, Some(b'Z' | b'X'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_like_c() {
        assert_eq!(strtol(b"42\n"), 42);
        assert_eq!(strtol(b"  -7 apples"), -7);
        assert_eq!(strtol(b"+3"), 3);
        assert_eq!(strtol(b"0x1F"), 31);
        assert_eq!(strtol(b"010"), 8);
        assert_eq!(strtol(b"0"), 0);
        assert_eq!(strtol(b"abc"), 0);
        assert_eq!(strtol(b""), 0);
        assert_eq!(strtol(b"99999999999999999999999"), i64::MAX);
    }

    #[test]
    fn file_effect_matches_keepalived() {
        assert_eq!(track_file_effect(0, 0, false), FileEffect::Delta(0));
        assert_eq!(track_file_effect(3, 0, false), FileEffect::Fault);
        assert_eq!(track_file_effect(3, 0, true), FileEffect::Delta(0));
        assert_eq!(track_file_effect(0, 0, true), FileEffect::Fault);
        assert_eq!(track_file_effect(5, -10, false), FileEffect::Delta(-50));
        assert_eq!(track_file_effect(5, -10, true), FileEffect::Delta(50));
        assert_eq!(track_file_effect(100, 10, false), FileEffect::Delta(253));
        assert_eq!(track_file_effect(-100, 10, false), FileEffect::Fault);
        assert_eq!(track_file_effect(-253, 1, false), FileEffect::Delta(-253));
        assert_eq!(FileEffect::Fault.as_weight_and_health(), (0, false));
        assert_eq!(FileEffect::Delta(0).as_weight_and_health(), (0, true));
        assert_eq!(FileEffect::Delta(30).as_weight_and_health(), (30, true));
        assert_eq!(FileEffect::Delta(-50).as_weight_and_health(), (-50, false));
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 204 No Content\r\n"), Ok(204));
        assert_eq!(parse_status_line(b"HTTP/1.0 503\r\n"), Ok(503));
        assert!(parse_status_line(b"").is_err());
        assert!(parse_status_line(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(parse_status_line(b"HTTP/1.1 2x0 OK\r\n").is_err());
        assert!(parse_status_line(b"HTTP/1.1 200 OK").is_err());
    }

    #[test]
    fn process_matching() {
        let named = TrackProcessProbe::named("haproxy");
        assert!(comm_matches("haproxy", b"haproxy\n"));
        assert!(!comm_matches("haproxy", b"haproxy-ctl\n"));
        assert!(comm_matches(
            "a-very-long-process-name",
            b"a-very-long-pro\n"
        ));
        assert!(!cmdline_matches(&named, b""));
        let mut p = TrackProcessProbe::named("/usr/sbin/nginx");
        p.params = vec!["-g".into(), "daemon".into()];
        assert!(cmdline_matches(&p, b"/usr/sbin/nginx\0-g\0daemon\0"));
        assert!(!cmdline_matches(&p, b"/usr/sbin/nginx\0-g\0daemon off\0"));
        p.param_match = Some(ParamMatch::Initial);
        assert!(cmdline_matches(&p, b"/usr/sbin/nginx\0-g\0daemon off\0"));
        p.param_match = Some(ParamMatch::Partial);
        assert!(cmdline_matches(&p, b"/usr/sbin/nginx\0-g\0daemon\0-q\0"));
        let mut none = TrackProcessProbe::named("/bin/sleep");
        none.param_match = Some(ParamMatch::Exact);
        assert!(cmdline_matches(&none, b"/bin/sleep\0"));
        assert!(!cmdline_matches(&none, b"/bin/sleep\x0010\0"));
        let mut full = TrackProcessProbe::named("sleep 10");
        full.full_command = true;
        assert!(cmdline_matches(&full, b"sleep\x0010\0"));
    }

    #[test]
    fn validation_names_check_and_field() {
        let mut c = CheckConfig::new("chk_w", Probe::Tcp("127.0.0.1:1".parse().unwrap()));
        c.validate().unwrap();
        c.weight = 254;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("chk_w") && err.contains("weight"), "{err}");
        c.weight = 0;
        c.rise = 0;
        assert!(c.validate().unwrap_err().to_string().contains("rise"));
        c.rise = 1;
        c.interval = Duration::ZERO;
        assert!(c.validate().unwrap_err().to_string().contains("interval"));
        let mut p = TrackProcessProbe::named("x");
        p.quorum = 2;
        p.quorum_max = Some(1);
        let c = CheckConfig::new("chk_p", Probe::TrackProcess(p));
        assert!(c.validate().unwrap_err().to_string().contains("quorum_max"));
    }

    #[test]
    fn monitor_types_can_cross_tasks() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<crate::Monitor>();
        send_sync::<crate::NotifyRunner>();
        send_sync::<crate::HealthChange>();
    }

    #[test]
    fn quorum_bounds() {
        let mut p = TrackProcessProbe::named("x");
        assert!(!in_quorum(&p, 0));
        assert!(in_quorum(&p, 5));
        p.quorum = 2;
        p.quorum_max = Some(3);
        assert!(!in_quorum(&p, 1));
        assert!(in_quorum(&p, 3));
        assert!(!in_quorum(&p, 4));
    }
}
