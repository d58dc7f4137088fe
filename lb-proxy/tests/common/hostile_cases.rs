//! The hostile-request corpus (`lb-proxy/tests/hostile/*.cases`): its file
//! format, the client that plays a case against a proxy, and the comparison
//! of what happened with what the case expects. Shared by
//! `lb-proxy/tests/hostile.rs` (had's proxy in process) and `cargo xtask
//! hostile` (had, HAProxy, nginx and Apache as processes), which both load
//! it with `#[path]` next to the recording member (`recording.rs`), reached
//! here as `super::recording`.
//!
//! The format is described in `lb-proxy/tests/hostile/README.md`.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::recording::{ConnLog, Received, Recording};

/// How long a proxy has to answer once the client sent its last byte, and
/// how long a client waits for an interim `100 Continue` (as curl does).
pub const ANSWER_BOUND: Duration = Duration::from_secs(1);

/// After the expected answers, how long the client keeps reading to see
/// whether the proxy closes the connection (or sends more).
pub const CLOSE_GRACE: Duration = Duration::from_millis(200);

/// The target prefix of a request hidden inside another request's bytes: it
/// must never reach a member as a request of its own.
pub const SMUGGLED: &str = "/smuggled";

/// The directory of the case files, from the workspace root.
pub const CORPUS: &str = "lb-proxy/tests/hostile";

/// One piece of what the client sends: bytes written at once, then maybe a
/// wait for an interim answer before the next piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Written with one `write_all`.
    pub bytes: Vec<u8>,
    /// Then wait (at most [`ANSWER_BOUND`]) for an interim response with this status.
    pub await_interim: Option<u16>,
}

/// A request the member must receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedRequest {
    /// Method, exactly.
    pub method: String,
    /// Request-target, exactly.
    pub target: String,
    /// The single `Host` value, when the case names one.
    pub host: Option<String>,
    /// Fields that must be present (lower-case name), with a value when it must match.
    pub has: Vec<(String, Option<String>)>,
    /// Fields that must be absent (lower-case name).
    pub lacks: Vec<String>,
    /// The decoded body.
    pub body: Vec<u8>,
}

/// What must happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Status codes of the responses the client reads, in order (interim ones included).
    pub statuses: Vec<u16>,
    /// Whether the proxy closes the connection after them (`None`: either
    /// is right, as where RFC 9112 leaves it to the server).
    pub close: Option<bool>,
    /// Header fields (lower-case names) the last response must carry.
    pub reply_has: Vec<String>,
    /// Exactly the requests the member receives (empty: nothing at all).
    pub member: Vec<ExpectedRequest>,
}

/// One hostile (or control) request and its expected outcome.
#[derive(Debug, Clone)]
pub struct Case {
    /// Short name, unique in its class.
    pub name: String,
    /// The class: the case file's name without `.cases`.
    pub class: String,
    /// `file:line` of the case's `===` line.
    pub origin: String,
    /// Why the case is there, or the rule it checks.
    pub note: Option<String>,
    /// What the client sends.
    pub segments: Vec<Segment>,
    /// The client shuts down its sending side after the last segment.
    pub half_close: bool,
    /// The expected outcome.
    pub expected: Expected,
    /// had is known not to meet the expectation; what it does instead.
    pub had_differs: Option<String>,
}

impl Case {
    /// Every byte the client sends.
    pub fn bytes(&self) -> Vec<u8> {
        self.segments.iter().flat_map(|s| s.bytes.clone()).collect()
    }
}

/// Every class (case file) in the corpus directory `dir`, sorted.
pub fn classes(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".cases").map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The cases of one class, from the corpus directory `dir`.
///
/// # Errors
/// The file cannot be read, or a line of it is not in the format (the
/// message names the file and line).
pub fn load_class(dir: &Path, class: &str) -> Result<Vec<Case>, String> {
    let path = dir.join(format!("{class}.cases"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_cases(class, &path.display().to_string(), &text)
}

/// Parses a case file's text.
///
/// # Errors
/// Names the line that is not in the format.
pub fn parse_cases(class: &str, file: &str, text: &str) -> Result<Vec<Case>, String> {
    let mut cases: Vec<Case> = Vec::new();
    let mut draft: Option<Draft> = None;
    for (i, line) in text.lines().enumerate() {
        let at = format!("{file}:{}", i + 1);
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix("=== ") {
            if let Some(d) = draft.take() {
                cases.push(d.finish()?);
            }
            let name = name.trim().to_owned();
            if cases.iter().any(|c| c.name == name) {
                return Err(format!("{at}: a second case named {name:?}"));
            }
            draft = Some(Draft::new(class, name, at));
            continue;
        }
        let Some(d) = draft.as_mut() else {
            return Err(format!("{at}: text before the first `=== name` line"));
        };
        d.line(line).map_err(|e| format!("{at}: {e}"))?;
    }
    if let Some(d) = draft.take() {
        cases.push(d.finish()?);
    }
    Ok(cases)
}

/// A case while its lines are read.
struct Draft {
    case: Case,
    statuses: Option<Vec<u16>>,
    close: Option<Option<bool>>,
    member: Option<Vec<ExpectedRequest>>,
}

impl Draft {
    fn new(class: &str, name: String, origin: String) -> Self {
        Self {
            case: Case {
                name,
                class: class.to_owned(),
                origin,
                note: None,
                segments: Vec::new(),
                half_close: false,
                expected: Expected {
                    statuses: Vec::new(),
                    close: None,
                    reply_has: Vec::new(),
                    member: Vec::new(),
                },
                had_differs: None,
            },
            statuses: None,
            close: None,
            member: None,
        }
    }

    fn line(&mut self, line: &str) -> Result<(), String> {
        if let Some(attr) = line.strip_prefix("  ") {
            let Some(req) = self.member.as_mut().and_then(|m| m.last_mut()) else {
                return Err("an indented line belongs under `member: METHOD TARGET`".into());
            };
            return request_attribute(req, attr.trim_start());
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| format!("expected `key: value`, got {line:?}"))?;
        // One space after the colon separates; the rest is the value as written.
        let value = value.strip_prefix(' ').unwrap_or(value);
        match key {
            "note" => self.case.note = Some(value.trim().to_owned()),
            "send" => {
                let bytes = decode(value)?;
                match self.case.segments.last_mut() {
                    Some(s) if s.await_interim.is_none() => s.bytes.extend(bytes),
                    _ => self.case.segments.push(Segment {
                        bytes,
                        await_interim: None,
                    }),
                }
            }
            "await" => {
                let status = value
                    .trim()
                    .parse::<u16>()
                    .map_err(|_| format!("await: {value:?} is not a status code"))?;
                let Some(last) = self.case.segments.last_mut() else {
                    return Err("await: comes after a send: line".into());
                };
                last.await_interim = Some(status);
            }
            "half-close" => self.case.half_close = yes_no(value)?,
            "status" => {
                let codes = value
                    .split_whitespace()
                    .map(|c| {
                        c.parse::<u16>()
                            .map_err(|_| format!("status: {c:?} is not a status code"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if codes.is_empty() {
                    return Err("status: needs at least one code".into());
                }
                self.statuses = Some(codes);
            }
            "close" => {
                self.close = Some(if value.trim() == "any" {
                    None
                } else {
                    Some(yes_no(value)?)
                });
            }
            "reply-has" => self
                .case
                .expected
                .reply_has
                .push(value.trim().to_ascii_lowercase()),
            "had-differs" => self.case.had_differs = Some(value.trim().to_owned()),
            "member" => {
                let value = value.trim();
                let list = self.member.get_or_insert_with(Vec::new);
                if value == "nothing" {
                    if !list.is_empty() {
                        return Err("member: nothing after a member request".into());
                    }
                    return Ok(());
                }
                let (method, target) = value
                    .split_once(' ')
                    .ok_or_else(|| format!("member: {value:?} is not `METHOD TARGET`"))?;
                list.push(ExpectedRequest {
                    method: method.to_owned(),
                    target: String::from_utf8_lossy(&decode(target)?).into_owned(),
                    host: None,
                    has: Vec::new(),
                    lacks: Vec::new(),
                    body: Vec::new(),
                });
            }
            other => return Err(format!("unknown key {other:?}")),
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Case, String> {
        let at = &self.case.origin;
        if self.case.segments.is_empty() {
            return Err(format!("{at}: case without send: lines"));
        }
        self.case.expected.statuses = self
            .statuses
            .ok_or_else(|| format!("{at}: case without status:"))?;
        self.case.expected.close = self
            .close
            .ok_or_else(|| format!("{at}: case without close:"))?;
        self.case.expected.member = self
            .member
            .ok_or_else(|| format!("{at}: case without member: (say `member: nothing`)"))?;
        Ok(self.case)
    }
}

fn request_attribute(req: &mut ExpectedRequest, attr: &str) -> Result<(), String> {
    let (key, value) = attr
        .split_once(':')
        .ok_or_else(|| format!("expected `key: value` under member:, got {attr:?}"))?;
    let value = value.strip_prefix(' ').unwrap_or(value);
    match key {
        "host" => req.host = Some(lossy(&decode(value)?)),
        "has" => req.has.push(match value.split_once(':') {
            Some((name, v)) => (
                name.trim().to_ascii_lowercase(),
                Some(lossy(&decode(v.strip_prefix(' ').unwrap_or(v))?)),
            ),
            None => (value.trim().to_ascii_lowercase(), None),
        }),
        "lacks" => req.lacks.push(value.trim().to_ascii_lowercase()),
        "body" => req.body.extend(decode(value)?),
        other => return Err(format!("unknown key {other:?} under member:")),
    }
    Ok(())
}

fn yes_no(value: &str) -> Result<bool, String> {
    match value.trim() {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(format!("{other:?} is not yes or no")),
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Decodes a value: `\r \n \t \0 \\ \{ \} \*` and `\xHH` escapes, and
/// `{TEXT*N}` for TEXT repeated N times (TEXT may hold escapes and repeats).
///
/// # Errors
/// An unknown escape, a bad `\x`, an unclosed repeat.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let mut chars = text.char_indices().peekable();
    let bytes = decode_until(text, &mut chars, false)?;
    Ok(bytes)
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

/// Decodes until the end, or (inside a repeat) until its `*N}`, which it
/// consumes; returns the bytes (already repeated for a repeat).
fn decode_until(text: &str, chars: &mut Chars<'_>, in_repeat: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, e) = chars
                    .next()
                    .ok_or_else(|| format!("{text:?}: `\\` at the end"))?;
                match e {
                    'r' => out.push(b'\r'),
                    'n' => out.push(b'\n'),
                    't' => out.push(b'\t'),
                    '0' => out.push(0),
                    '\\' | '{' | '}' | '*' => out.push(e as u8),
                    'x' => {
                        let hex: String =
                            (0..2).filter_map(|_| chars.next().map(|x| x.1)).collect();
                        let b = u8::from_str_radix(&hex, 16)
                            .map_err(|_| format!("{text:?}: \\x{hex} is not two hex digits"))?;
                        out.push(b);
                    }
                    other => return Err(format!("{text:?}: unknown escape \\{other}")),
                }
            }
            '{' => {
                let inner = decode_until(text, chars, true)?;
                out.extend(inner);
            }
            '*' if in_repeat => {
                // `*N}` ends the repeat; a `*` not followed by digits and `}` is literal.
                let rest = &text[i + 1..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if !digits.is_empty() && rest[digits.len()..].starts_with('}') {
                    let n: usize = digits
                        .parse()
                        .map_err(|_| format!("{text:?}: repeat count {digits} too large"))?;
                    for _ in 0..=digits.len() {
                        chars.next();
                    }
                    return Ok(out.repeat(n));
                }
                out.push(b'*');
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    if in_repeat {
        return Err(format!("{text:?}: `{{` without its `*N}}`"));
    }
    Ok(out)
}

/// Escapes bytes the way case files write them (for diffs).
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        // Long runs of one byte print as a repeat.
        let run = bytes[i..].iter().take_while(|&&b| b == bytes[i]).count();
        if run >= 16 {
            let _ = write!(out, "{{{}*{run}}}", escape(&bytes[i..=i]));
            i += run;
            continue;
        }
        match bytes[i] {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0 => out.push_str("\\0"),
            b'\\' => out.push_str("\\\\"),
            b'{' => out.push_str("\\{"),
            b'}' => out.push_str("\\}"),
            b if (0x20..0x7f).contains(&b) => out.push(char::from(b)),
            b => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
        i += 1;
    }
    out
}

/// One response the client read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Header fields, names lower-cased.
    pub headers: Vec<(String, String)>,
}

/// What the client saw.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// Complete responses, in order.
    pub replies: Vec<Reply>,
    /// Bytes after the last complete response (a cut or unparsable answer).
    pub leftover: Vec<u8>,
    /// The proxy closed (or reset) the connection.
    pub closed: bool,
    /// Time from the last byte sent until as many final (non-1xx) responses
    /// as the case expects had arrived; `None` if they never did within
    /// [`ANSWER_BOUND`].
    pub answered_in: Option<Duration>,
    /// Time from the last byte sent until the connection closed.
    pub closed_in: Option<Duration>,
}

impl Answer {
    /// The status codes.
    pub fn statuses(&self) -> Vec<u16> {
        self.replies.iter().map(|r| r.status).collect()
    }
}

/// Plays `case` on a new connection to `addr` and reads the answer, every
/// wait bounded.
///
/// # Errors
/// The connection cannot be made or written to before the last segment
/// (a proxy that closes early while the client still sends gets the
/// answer it had sent so far).
pub async fn play(addr: SocketAddr, case: &Case) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let mut answer = Answer::default();
    let mut buf = Vec::new();
    for seg in &case.segments {
        if s.write_all(&seg.bytes).await.is_err() {
            // The proxy closed while we sent: read what it answered.
            break;
        }
        if let Some(status) = seg.await_interim {
            let until = Instant::now() + ANSWER_BOUND;
            while !parse_replies(&buf).0.iter().any(|r| r.status == status) {
                let Some(n) = read_until(&mut s, &mut buf, until).await else {
                    break;
                };
                if n == 0 {
                    break;
                }
            }
        }
    }
    if case.half_close {
        let _ = s.shutdown().await;
    }
    let sent = Instant::now();
    let want = finals(&case.expected.statuses);
    let deadline = sent + ANSWER_BOUND;
    let mut grace_until: Option<Instant> = None;
    loop {
        let (replies, _) = parse_replies(&buf);
        let got = finals(&replies.iter().map(|r| r.status).collect::<Vec<_>>());
        if got >= want && answer.answered_in.is_none() {
            answer.answered_in = Some(sent.elapsed());
            grace_until = Some(Instant::now() + CLOSE_GRACE);
        }
        let until = grace_until.unwrap_or(deadline);
        match read_until(&mut s, &mut buf, until).await {
            Some(0) => {
                answer.closed = true;
                answer.closed_in = Some(sent.elapsed());
                break;
            }
            Some(_) => {}
            None => break,
        }
    }
    let (replies, used) = parse_replies(&buf);
    let got = finals(&replies.iter().map(|r| r.status).collect::<Vec<_>>());
    if got >= want && answer.answered_in.is_none() {
        answer.answered_in = Some(sent.elapsed());
    }
    answer.replies = replies;
    answer.leftover = buf[used..].to_vec();
    Ok(answer)
}

/// How many of `statuses` are final (not 1xx).
fn finals(statuses: &[u16]) -> usize {
    statuses.iter().filter(|&&s| s >= 200).count()
}

/// Reads once into `buf`, until `until` at the latest: `Some(0)` at the end
/// of the stream (or a reset), `Some(n)` bytes read, `None` on time out.
async fn read_until(s: &mut TcpStream, buf: &mut Vec<u8>, until: Instant) -> Option<usize> {
    let left = until.saturating_duration_since(Instant::now());
    let mut chunk = [0u8; 16 * 1024];
    match tokio::time::timeout(left, s.read(&mut chunk)).await {
        Ok(Ok(n)) => {
            buf.extend_from_slice(&chunk[..n]);
            Some(n)
        }
        Ok(Err(_)) => Some(0),
        Err(_) => None,
    }
}

/// The complete responses at the start of `buf` and the bytes they use.
pub fn parse_replies(buf: &[u8]) -> (Vec<Reply>, usize) {
    let mut replies = Vec::new();
    let mut used = 0;
    while used < buf.len() {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut fields);
        let Ok(httparse::Status::Complete(head)) = resp.parse(&buf[used..]) else {
            break;
        };
        let status = resp.code.unwrap_or(0);
        let headers: Vec<(String, String)> = resp
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), lossy(h.value)))
            .collect();
        let rest = &buf[used + head..];
        let body = if (100..200).contains(&status) || status == 204 || status == 304 {
            Some(0)
        } else if headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"))
        {
            chunked_len(rest)
        } else if let Some((_, v)) = headers.iter().find(|(n, _)| n == "content-length") {
            v.trim().parse::<usize>().ok().filter(|&n| rest.len() >= n)
        } else {
            // Read to the end of the stream: complete only once it closed,
            // which the caller sees; count it as complete with what is there.
            Some(rest.len())
        };
        let Some(body) = body else {
            break;
        };
        used += head + body;
        replies.push(Reply { status, headers });
    }
    (replies, used)
}

/// The length of a complete chunked body at the start of `rest`, trailers
/// included; `None` while incomplete.
fn chunked_len(rest: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let eol = rest[at..].windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&rest[at..at + eol]).ok()?;
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        at += eol + 2;
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let eol = rest[at..].windows(2).position(|w| w == b"\r\n")?;
                at += eol + 2;
                if eol == 0 {
                    return Some(at);
                }
            }
        }
        if rest.len() < at + size + 2 {
            return None;
        }
        at += size + 2;
    }
}

/// The state of every member connection at one moment, to tell what a
/// case added when several cases share a member (and its pooled connections).
#[derive(Debug, Clone, Default)]
pub struct Mark {
    conns: Vec<(usize, usize, bool, bool)>,
}

/// What a member saw during one case.
#[derive(Debug, Clone, Default)]
pub struct MemberView {
    /// Complete requests, in the order they arrived.
    pub requests: Vec<Received>,
    /// Bytes received (over every connection).
    pub bytes: usize,
    /// Why the member could not parse what it received, per connection.
    pub malformed: Vec<String>,
    /// Connections the proxy closed with a request incomplete.
    pub cut: usize,
    /// Connections holding bytes that are not (yet) a complete request.
    pub pending: usize,
    /// Member connections accepted.
    pub new_conns: usize,
}

/// Where the member is now.
pub fn mark(member: &Recording) -> Mark {
    Mark {
        conns: member
            .conns()
            .iter()
            .map(|c| {
                (
                    c.requests.len(),
                    c.bytes.len(),
                    c.malformed.is_some(),
                    c.cut_mid_request,
                )
            })
            .collect(),
    }
}

/// What the member saw since `mark`.
pub fn since(member: &Recording, mark: &Mark) -> MemberView {
    let conns = member.conns();
    let mut view = MemberView {
        new_conns: conns.len().saturating_sub(mark.conns.len()),
        ..MemberView::default()
    };
    for (i, c) in conns.iter().enumerate() {
        let (reqs, bytes, malformed, cut) = mark.conns.get(i).copied().unwrap_or_default();
        view.requests.extend(c.requests.iter().skip(reqs).cloned());
        view.bytes += c.bytes.len().saturating_sub(bytes);
        if let Some(why) = c.malformed.as_ref().filter(|_| !malformed) {
            view.malformed.push(why.clone());
        }
        if c.cut_mid_request && !cut {
            view.cut += 1;
        }
        if !c.closed && pending_bytes(c) > 0 {
            view.pending += 1;
        }
    }
    // In arrival order, whichever connections carried them.
    view.requests.sort_by_key(|r| r.seq);
    view
}

/// Bytes on an open connection not consumed by its complete requests.
fn pending_bytes(c: &ConnLog) -> usize {
    c.bytes.len().saturating_sub(c.consumed)
}

/// Waits until the member has been quiet (nothing new on any connection)
/// for 50 ms, at most half a second: a proxy may still be forwarding when
/// its answer reached the client.
pub async fn settle(member: &Recording) {
    let until = Instant::now() + Duration::from_millis(500);
    let mut last = snapshot(member);
    let mut quiet_since = Instant::now();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = snapshot(member);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= Duration::from_millis(50) {
            return;
        }
    }
}

fn snapshot(member: &Recording) -> Vec<(usize, usize, bool, bool)> {
    member
        .conns()
        .iter()
        .map(|c| {
            (
                c.requests.len(),
                c.bytes.len(),
                c.malformed.is_some(),
                c.closed,
            )
        })
        .collect()
}

/// The expected outcome, one fact per line, in the order [`render_got`] uses.
pub fn render_expected(e: &Expected) -> Vec<String> {
    let mut lines = vec![
        format!("status: {}", join(&e.statuses)),
        format!("close: {}", e.close.map_or("any", yes)),
        "answered: within 1 s".to_owned(),
    ];
    for name in &e.reply_has {
        lines.push(format!("reply-has: {name}"));
    }
    if e.member.is_empty() {
        lines.push("member: nothing".into());
    }
    for r in &e.member {
        lines.push(format!("member: {} {}", r.method, r.target));
        if let Some(h) = &r.host {
            lines.push(format!("  host: {h}"));
        }
        for (name, value) in &r.has {
            lines.push(match value {
                Some(v) => format!("  has: {name}: {v}"),
                None => format!("  has: {name}"),
            });
        }
        for name in &r.lacks {
            lines.push(format!("  lacks: {name}"));
        }
        lines.push(format!("  body: {}", escape(&r.body)));
    }
    lines
}

/// What happened, rendered with the facts `e` asks about, so that it equals
/// [`render_expected`] exactly when the case passes.
pub fn render_got(e: &Expected, answer: &Answer, view: &MemberView) -> Vec<String> {
    let mut lines = vec![
        format!("status: {}", join(&answer.statuses())),
        format!(
            "close: {}",
            if e.close.is_none() {
                "any"
            } else {
                yes(answer.closed)
            }
        ),
        match (answer.answered_in, answer.closed_in) {
            (Some(t), _) if t < ANSWER_BOUND => "answered: within 1 s".to_owned(),
            (Some(t), _) => format!("answered: after {} ms", t.as_millis()),
            (None, Some(t)) => format!("answered: no (closed after {} ms)", t.as_millis()),
            (None, None) => "answered: no (stalled past 1 s)".to_owned(),
        },
    ];
    if !answer.leftover.is_empty() {
        lines.push(format!(
            "client got unparsable bytes: {}",
            escape(&answer.leftover[..answer.leftover.len().min(120)])
        ));
    }
    let last = answer.replies.last();
    for name in &e.reply_has {
        let present = last.is_some_and(|r| r.headers.iter().any(|(n, _)| n == name));
        lines.push(if present {
            format!("reply-has: {name}")
        } else {
            format!("reply-has: {name} (absent)")
        });
    }
    if view.requests.is_empty() {
        if view.bytes == 0 {
            lines.push("member: nothing".into());
        } else {
            lines.push(format!("member: no request, but {} bytes", view.bytes));
        }
    }
    for (i, r) in view.requests.iter().enumerate() {
        lines.push(format!("member: {} {}", r.method, r.target));
        let asked = e.member.get(i);
        let host = r.all("host").join(" | ");
        if asked.is_none_or(|a| a.host.is_some()) {
            lines.push(format!("  host: {host}"));
        }
        for (name, value) in asked.map(|a| a.has.as_slice()).unwrap_or_default() {
            let values = r.all(name);
            lines.push(match (value, values.as_slice()) {
                (_, []) => format!("  has: {name} (absent)"),
                (None, _) => format!("  has: {name}"),
                (Some(v), _) if values.contains(&v.as_str()) => format!("  has: {name}: {v}"),
                (Some(_), _) => format!("  has: {name}: {}", values.join(" | ")),
            });
        }
        for name in asked.map(|a| a.lacks.as_slice()).unwrap_or_default() {
            let values = r.all(name);
            lines.push(if values.is_empty() {
                format!("  lacks: {name}")
            } else {
                format!("  lacks: {name} (present: {})", values.join(" | "))
            });
        }
        lines.push(format!("  body: {}", escape(&r.body)));
    }
    for why in &view.malformed {
        lines.push(format!("member could not parse: {why}"));
    }
    if view.cut > 0 {
        lines.push(format!("member connections cut mid-request: {}", view.cut));
    }
    if view.pending > 0 {
        lines.push(format!(
            "member connections holding an incomplete request: {}",
            view.pending
        ));
    }
    lines
}

fn join(codes: &[u16]) -> String {
    if codes.is_empty() {
        return "(none)".into();
    }
    codes
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// A line diff of `expected` and `got` (`-` expected only, `+` got only).
pub fn diff(expected: &[String], got: &[String]) -> String {
    // Longest common subsequence; the lists are a few dozen lines.
    let (n, m) = (expected.len(), got.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if expected[i] == got[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < n || j < m {
        if i < n && j < m && expected[i] == got[j] {
            let _ = writeln!(out, "  {}", expected[i]);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            let _ = writeln!(out, "+ {}", got[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "- {}", expected[i]);
            i += 1;
        }
    }
    out
}

/// How a proxy handled a case, judged by quality rather than by equality
/// with any one proxy's answer; worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Quality {
    /// The member received something it could not parse, a request hidden
    /// in another's bytes ([`SMUGGLED`]), or more requests than the client
    /// sent and got answers for.
    Desync,
    /// Fewer final answers than the case expects within [`ANSWER_BOUND`],
    /// and the connection still open.
    Stall,
    /// The member received bytes that never became a complete request (its
    /// connection cut, or left holding them).
    Cut,
    /// The connection closed without an answer.
    Dropped,
    /// Answered 4xx/5xx; the member received nothing.
    Refused,
    /// Answered by the proxy itself below 400; the member received nothing.
    Local,
    /// The member received well-formed requests, no more than were sent.
    Forwarded,
}

impl Quality {
    /// Every quality, worst first.
    pub const ALL: [Quality; 7] = [
        Self::Desync,
        Self::Stall,
        Self::Cut,
        Self::Dropped,
        Self::Refused,
        Self::Local,
        Self::Forwarded,
    ];

    /// Its name in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Desync => "desync",
            Self::Stall => "stall",
            Self::Cut => "cut",
            Self::Dropped => "dropped",
            Self::Refused => "refused",
            Self::Local => "local",
            Self::Forwarded => "forwarded",
        }
    }
}

/// Judges what happened in `case`.
pub fn quality(case: &Case, answer: &Answer, view: &MemberView) -> Quality {
    let answered = finals(&answer.statuses());
    let wanted = finals(&case.expected.statuses);
    // An answer that is not HTTP/1.x (an HTTP/0.9 body) still answers one request.
    let unparsed = usize::from(!answer.leftover.is_empty());
    // The requests the client's bytes hold, as the case counts them (hidden
    // ones aside); a proxy may also answer more (splitting is caught by
    // SMUGGLED or by the member's parse).
    let sent = case.expected.member.len().max(wanted);
    if !view.malformed.is_empty()
        || view.requests.iter().any(|r| r.target.starts_with(SMUGGLED))
        || view.requests.len() > sent.max(answered + unparsed)
    {
        return Quality::Desync;
    }
    if answered < wanted && !answer.closed {
        return Quality::Stall;
    }
    if view.cut > 0 || view.pending > 0 || (view.requests.is_empty() && view.bytes > 0) {
        return Quality::Cut;
    }
    if answered + unparsed == 0 {
        return Quality::Dropped;
    }
    if view.requests.is_empty() {
        return if answer.replies.iter().any(|r| r.status >= 400) {
            Quality::Refused
        } else {
            Quality::Local
        };
    }
    Quality::Forwarded
}
