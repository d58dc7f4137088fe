//! keepalived.conf → had.toml: `global_defs`, `vrrp_script`,
//! `vrrp_instance`, `vrrp_sync_group`, `vrrp_track_file`,
//! `vrrp_track_process` and `include` (globs relative to the including file).
//!
//! keepalived's syntax is line-oriented: one statement per line, `{` at the
//! end of a line opens a block, `#` and `!` start comments, double quotes
//! group words.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::files::{Files, Filesystem};
use super::{ImportError, ImportProblem, Imported, Location, Note};
use crate::config::{
    AuthType, Authentication, Config, InitialState, TrackFile, TrackProcess, TrackRef,
    VirtualAddress, VrrpInstance, VrrpScript, VrrpSyncGroup, parse_duration,
};

/// Include depth beyond which we assume a loop.
/// Most included files read in one import: a few includes that include
/// each other several times would otherwise read files without end.
const MAX_INCLUDED_FILES: usize = 1000;
const MAX_INCLUDE_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Open,
    Close,
    Newline,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    file: usize,
    line: usize,
}

/// One statement: its words and, if it opens one, its block.
#[derive(Debug, Clone)]
struct Stmt {
    words: Vec<String>,
    file: usize,
    line: usize,
    block: Option<Vec<Stmt>>,
}

struct Importer<'r> {
    config_id: Option<String>,
    /// Where included files are read from.
    reader: &'r dyn Files,
    /// Included files read so far (at most [`MAX_INCLUDED_FILES`]).
    included: usize,
    files: Vec<PathBuf>,
    problems: Vec<ImportProblem>,
    notes: Vec<Note>,
}

fn tokenize_line(text: &str, file: usize, line: usize, out: &mut Vec<Token>) {
    let mut word = String::new();
    let mut in_quotes = false;
    let mut quoted = false;
    let push = |word: &mut String, quoted: &mut bool, out: &mut Vec<Token>| {
        if !word.is_empty() || *quoted {
            out.push(Token {
                tok: Tok::Word(std::mem::take(word)),
                file,
                line,
            });
        }
        *quoted = false;
    };
    for ch in text.chars() {
        if in_quotes {
            if ch == '"' {
                in_quotes = false;
            } else {
                word.push(ch);
            }
            continue;
        }
        match ch {
            '"' => {
                in_quotes = true;
                quoted = true;
            }
            '#' | '!' if word.is_empty() => break,
            '{' | '}' => {
                push(&mut word, &mut quoted, out);
                out.push(Token {
                    tok: if ch == '{' { Tok::Open } else { Tok::Close },
                    file,
                    line,
                });
            }
            c if c.is_whitespace() => push(&mut word, &mut quoted, out),
            c => word.push(c),
        }
    }
    push(&mut word, &mut quoted, out);
    out.push(Token {
        tok: Tok::Newline,
        file,
        line,
    });
}

impl Importer<'_> {
    fn at(&self, file: usize, line: usize) -> Location {
        Location {
            file: self.files.get(file).cloned().unwrap_or_default(),
            line,
        }
    }

    fn problem(&mut self, file: usize, line: usize, message: String) {
        let at = self.at(file, line);
        self.problems.push(ImportProblem { at, message });
    }

    fn note(&mut self, s: &Stmt, message: impl Into<String>) {
        let at = self.at(s.file, s.line);
        self.notes.push(Note {
            at,
            directive: s.words.join(" "),
            message: message.into(),
        });
    }

    /// keepalived's conditional lines: `@ID rest` is read only when keepalived
    /// runs with `-i ID`, `@^ID rest` only when it does not.
    fn select<'l>(&mut self, raw: &'l str, file: usize, line: usize) -> Option<&'l str> {
        let trimmed = raw.trim_start();
        let Some(cond) = trimmed.strip_prefix('@') else {
            return Some(raw);
        };
        let (id, rest) = cond.split_once(char::is_whitespace).unwrap_or((cond, ""));
        let (negated, id) = match id.strip_prefix('^') {
            Some(id) => (true, id),
            None => (false, id),
        };
        let selected = (self.config_id.as_deref() == Some(id)) != negated;
        if !selected {
            let at = self.at(file, line);
            let message = match &self.config_id {
                Some(cid) => format!("conditional on config id `{id}`, not `{cid}`: skipped"),
                None => format!(
                    "conditional on config id `{id}`: skipped (choose one with --config-id)"
                ),
            };
            self.notes.push(Note {
                at,
                directive: trimmed.to_string(),
                message,
            });
            return None;
        }
        Some(rest)
    }

    /// Tokenizes `text` (from `path`), splicing `include`d files in place.
    fn tokenize(&mut self, text: &str, path: &Path, depth: usize, out: &mut Vec<Token>) {
        let file = self.files.len();
        self.files.push(path.to_path_buf());
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let mut toks = Vec::new();
            let Some(raw) = self.select(raw, file, line) else {
                continue;
            };
            tokenize_line(raw, file, line, &mut toks);
            let is_include =
                matches!(toks.first(), Some(Token { tok: Tok::Word(w), .. }) if w == "include");
            if !is_include {
                out.extend(toks);
                continue;
            }
            let Some(Token {
                tok: Tok::Word(pattern),
                ..
            }) = toks.get(1)
            else {
                self.problem(file, line, "include needs a file name or glob".into());
                continue;
            };
            if depth >= MAX_INCLUDE_DEPTH {
                self.problem(
                    file,
                    line,
                    format!("include nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)"),
                );
                continue;
            }
            let base = path.parent().unwrap_or(Path::new("."));
            let full = if Path::new(pattern).is_absolute() {
                PathBuf::from(pattern)
            } else {
                base.join(pattern)
            };
            let matches: Vec<PathBuf> = match self.reader.glob(&full) {
                Ok(paths) => paths,
                Err(e) => {
                    self.problem(
                        file,
                        line,
                        format!("include {pattern:?} is not a valid glob: {e}"),
                    );
                    continue;
                }
            };
            if matches.is_empty() {
                let at = self.at(file, line);
                self.notes.push(Note {
                    at,
                    directive: format!("include {pattern}"),
                    message: "matches no file; nothing included".into(),
                });
            }
            for inc in matches {
                self.included += 1;
                if self.included > MAX_INCLUDED_FILES {
                    if self.included == MAX_INCLUDED_FILES + 1 {
                        self.problem(
                            file,
                            line,
                            format!(
                                "more than {MAX_INCLUDED_FILES} included files read (includes that include each other many times?): the rest is not read"
                            ),
                        );
                    }
                    continue;
                }
                match self.reader.read(&inc) {
                    Ok(t) => self.tokenize(&t, &inc, depth + 1, out),
                    Err(e) => self.problem(
                        file,
                        line,
                        format!("cannot read included {}: {e}", inc.display()),
                    ),
                }
            }
        }
    }

    fn parse_block(
        &mut self,
        toks: &[Token],
        pos: &mut usize,
        opened_at: Option<(usize, usize)>,
    ) -> Vec<Stmt> {
        let mut stmts: Vec<Stmt> = Vec::new();
        let mut words: Vec<String> = Vec::new();
        let mut start = (0, 0);
        while let Some(t) = toks.get(*pos) {
            *pos += 1;
            match &t.tok {
                Tok::Word(w) => {
                    if words.is_empty() {
                        start = (t.file, t.line);
                    }
                    words.push(w.clone());
                }
                Tok::Newline => {
                    if !words.is_empty() {
                        stmts.push(Stmt {
                            words: std::mem::take(&mut words),
                            file: start.0,
                            line: start.1,
                            block: None,
                        });
                    }
                }
                Tok::Open => {
                    let block = self.parse_block(toks, pos, Some((t.file, t.line)));
                    if words.is_empty() {
                        // `{` on a line of its own belongs to the previous statement.
                        match stmts.last_mut() {
                            Some(prev) if prev.block.is_none() => prev.block = Some(block),
                            _ => self.problem(
                                t.file,
                                t.line,
                                "`{` opens a block that belongs to no keyword".into(),
                            ),
                        }
                    } else {
                        stmts.push(Stmt {
                            words: std::mem::take(&mut words),
                            file: start.0,
                            line: start.1,
                            block: Some(block),
                        });
                    }
                }
                Tok::Close => {
                    if !words.is_empty() {
                        stmts.push(Stmt {
                            words: std::mem::take(&mut words),
                            file: start.0,
                            line: start.1,
                            block: None,
                        });
                    }
                    if opened_at.is_none() {
                        self.problem(t.file, t.line, "`}` closes no block".into());
                        continue;
                    }
                    return stmts;
                }
            }
        }
        if let Some((file, line)) = opened_at {
            self.problem(file, line, "this block's `{` has no matching `}`".into());
        }
        stmts
    }

    /// Reports an unknown keyword, suggesting the nearest known one.
    fn unknown(&mut self, s: &Stmt, context: &str, known: &[&str]) {
        // `virtual router id 51`: try the words joined as one keyword too.
        let joined = s
            .words
            .iter()
            .take_while(|w| w.parse::<f64>().is_err())
            .cloned()
            .collect::<Vec<_>>()
            .join("_");
        let first = s.words.first().cloned().unwrap_or_default();
        let suggestion = crate::config::nearest(&joined, known.iter().copied())
            .or_else(|| crate::config::nearest(&first, known.iter().copied()));
        let hint = match suggestion {
            Some(k) => format!("; did you mean `{k}`?"),
            None => String::new(),
        };
        let written = s.words.join(" ");
        self.problem(
            s.file,
            s.line,
            format!("unknown keyword `{first}` in {context} (`{written}`){hint}"),
        );
    }

    fn arg<'s>(&mut self, s: &'s Stmt) -> Option<&'s str> {
        let v = s.words.get(1).map(String::as_str);
        if v.is_none() {
            let k = s.words.first().cloned().unwrap_or_default();
            self.problem(s.file, s.line, format!("`{k}` needs a value"));
        }
        v
    }

    fn num<T: std::str::FromStr>(&mut self, s: &Stmt) -> Option<T> {
        let v = self.arg(s)?;
        match v.parse::<T>() {
            Ok(n) => Some(n),
            Err(_) => {
                let k = s.words.first().cloned().unwrap_or_default();
                self.problem(s.file, s.line, format!("`{k}` needs a number, not {v:?}"));
                None
            }
        }
    }

    fn secs(&mut self, s: &Stmt) -> Option<Duration> {
        let v = self.arg(s)?;
        match parse_duration(v) {
            Ok(d) => Some(d),
            Err(e) => {
                let k = s.words.first().cloned().unwrap_or_default();
                self.problem(s.file, s.line, format!("`{k}`: {e}"));
                None
            }
        }
    }

    /// The rest of the line as one command (keepalived allows unquoted commands).
    fn command(&mut self, s: &Stmt) -> Option<String> {
        self.arg(s)?;
        let rest = s.words.get(1..).unwrap_or_default();
        Some(if rest.len() == 1 {
            rest.first().cloned().unwrap_or_default()
        } else {
            rest.join(" ")
        })
    }

    fn block<'s>(&mut self, s: &'s Stmt) -> &'s [Stmt] {
        match &s.block {
            Some(b) => b,
            None => {
                let k = s.words.first().cloned().unwrap_or_default();
                self.problem(s.file, s.line, format!("`{k}` needs a block {{ ... }}"));
                &[]
            }
        }
    }

    fn name(&mut self, s: &Stmt) -> Option<String> {
        let n = s.words.get(1).cloned();
        if n.is_none() {
            let k = s.words.first().cloned().unwrap_or_default();
            self.problem(s.file, s.line, format!("`{k}` needs a name"));
        }
        n
    }

    fn global_defs(&mut self, s: &Stmt, config: &mut Config) {
        const KNOWN: &[&str] = &[
            "router_id",
            "enable_script_security",
            "script_user",
            "vrrp_version",
            "vrrp_garp_master_delay",
            "vrrp_garp_master_repeat",
            "vrrp_garp_master_refresh",
            "vrrp_rt_priority",
        ];
        for st in self.block(s) {
            let kw = st.words.first().map(String::as_str).unwrap_or_default();
            let g = &mut config.global;
            match kw {
                "router_id" => g.router_id = self.arg(st).map(str::to_string),
                "enable_script_security" => g.enable_script_security = true,
                "script_user" => {
                    g.script_user = self
                        .arg(st)
                        .map(|_| st.words.get(1..).unwrap_or_default().join(":"));
                }
                "vrrp_version" => {
                    if let Some(v) = self.num(st) {
                        g.vrrp_version = v;
                    }
                }
                "vrrp_garp_master_delay" => {
                    if let Some(v) = self.secs(st) {
                        g.vrrp_garp_master_delay = v;
                    }
                }
                "vrrp_garp_master_repeat" => {
                    if let Some(v) = self.num(st) {
                        g.vrrp_garp_master_repeat = v;
                    }
                }
                "vrrp_garp_master_refresh" => g.vrrp_garp_master_refresh = self.secs(st),
                "vrrp_rt_priority" => {
                    g.realtime = true;
                    self.note(
                        st,
                        "imported as realtime = true; had picks its own real-time priority",
                    );
                }
                k if GLOBAL_UNSUPPORTED.contains(&k) => {
                    self.note(st, "not supported by had; dropped");
                }
                _ => {
                    let all: Vec<&str> = KNOWN.iter().chain(GLOBAL_UNSUPPORTED).copied().collect();
                    self.unknown(st, "global_defs", &all);
                }
            }
        }
    }

    fn vrrp_script(&mut self, s: &Stmt, config: &mut Config) {
        const KNOWN: &[&str] = &[
            "script",
            "interval",
            "timeout",
            "weight",
            "rise",
            "fall",
            "user",
            "init_fail",
        ];
        let Some(name) = self.name(s) else { return };
        let mut script = VrrpScript {
            script: String::new(),
            interval: Duration::from_secs(1),
            timeout: None,
            weight: 0,
            rise: 1,
            fall: 1,
            user: None,
            init_fail: false,
        };
        let mut has_script = false;
        for st in self.block(s) {
            match st.words.first().map(String::as_str).unwrap_or_default() {
                "script" => {
                    if let Some(c) = self.command(st) {
                        script.script = c;
                        has_script = true;
                    }
                }
                "interval" => script.interval = self.secs(st).unwrap_or(script.interval),
                "timeout" => script.timeout = self.secs(st),
                "weight" => {
                    script.weight = self.num(st).unwrap_or(0);
                    if st.words.get(2).is_some_and(|w| w == "reverse") {
                        self.note(
                            st,
                            "`reverse` is not supported by had; the weight is kept as written",
                        );
                    }
                }
                "rise" => script.rise = self.num(st).unwrap_or(1),
                "fall" => script.fall = self.num(st).unwrap_or(1),
                "user" => {
                    script.user = self
                        .arg(st)
                        .map(|_| st.words.get(1..).unwrap_or_default().join(":"));
                }
                "init_fail" => script.init_fail = true,
                _ => self.unknown(st, "vrrp_script", KNOWN),
            }
        }
        if !has_script {
            self.problem(
                s.file,
                s.line,
                format!("vrrp_script {name} has no `script`"),
            );
        }
        config.vrrp_script.insert(name, script);
    }

    fn track_list(&mut self, s: &Stmt) -> Vec<TrackRef> {
        let mut out = Vec::new();
        for st in self.block(s) {
            let Some(name) = st.words.first() else {
                continue;
            };
            let mut t = TrackRef::named(name.clone());
            match st.words.get(1).map(String::as_str) {
                None => {}
                Some("weight") => {
                    match st.words.get(2).and_then(|w| w.parse::<i64>().ok()) {
                        Some(w) => {
                            t.weight = Some(w);
                            if st.words.get(3).is_some_and(|w| w == "reverse") {
                                self.note(st, "`reverse` is not supported by had; the weight is kept as written");
                            }
                        }
                        None => self.problem(
                            st.file,
                            st.line,
                            "`weight` needs a number, e.g. `chk_apache weight -20`".into(),
                        ),
                    }
                }
                Some(other) => self.problem(
                    st.file,
                    st.line,
                    format!("unexpected {other:?} after {name:?} (allowed: `{name} weight N`)"),
                ),
            }
            out.push(t);
        }
        out
    }

    fn addresses(&mut self, s: &Stmt) -> Vec<VirtualAddress> {
        let mut out = Vec::new();
        for st in self.block(s) {
            // Keep the words we support; report the others (brd, scope, ...).
            let mut kept = Vec::new();
            let mut words = st.words.iter();
            if let Some(addr) = words.next() {
                kept.push(addr.clone());
            }
            while let Some(w) = words.next() {
                match w.as_str() {
                    "dev" | "label" => {
                        kept.push(w.clone());
                        if let Some(v) = words.next() {
                            kept.push(v.clone());
                        }
                    }
                    "brd" | "broadcast" | "scope" | "preferred_lft" | "valid_lft" => {
                        let v = words.next().cloned().unwrap_or_default();
                        self.note(st, format!("`{w} {v}` is not supported by had; dropped"));
                    }
                    "no_track" | "home" | "-nodad" | "nodad" | "noprefixroute" | "autojoin" => {
                        self.note(st, format!("`{w}` is not supported by had; dropped"));
                    }
                    other => {
                        self.problem(st.file, st.line, format!("unexpected {other:?} in an address (allowed: ADDR[/PREFIX] [dev IFACE] [label NAME])"));
                        // One error per line: the words after it are not worth guessing at.
                        break;
                    }
                }
            }
            match kept.join(" ").parse::<VirtualAddress>() {
                Ok(a) => out.push(a),
                Err(e) => self.problem(st.file, st.line, e),
            }
        }
        out
    }

    fn vrrp_instance(&mut self, s: &Stmt, config: &mut Config) {
        let Some(name) = self.name(s) else { return };
        let mut inst = VrrpInstance {
            state: InitialState::Backup,
            interface: String::new(),
            virtual_router_id: 0,
            priority: 100,
            advert_int: Duration::from_secs(1),
            version: None,
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            accept: false,
            authentication: None,
            virtual_ipaddress: Vec::new(),
            track_script: Vec::new(),
            track_file: Vec::new(),
            track_process: Vec::new(),
            track_interface: Vec::new(),
            unicast_src_ip: None,
            unicast_peer: Vec::new(),
            garp_master_delay: None,
            garp_master_repeat: None,
            garp_master_refresh: None,
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            notify_stop: None,
            notify: None,
        };
        let mut seen_vrid = false;
        // Where `auth_type AH` was, judged once the version is known.
        let mut ah_at: Option<(usize, usize)> = None;
        for st in self.block(s) {
            let kw = st.words.first().map(String::as_str).unwrap_or_default();
            match kw {
                "state" => match self.arg(st) {
                    Some("MASTER") => inst.state = InitialState::Master,
                    Some("BACKUP") => inst.state = InitialState::Backup,
                    Some(other) => self.problem(
                        st.file,
                        st.line,
                        format!("state {other:?} is not allowed (allowed: MASTER, BACKUP)"),
                    ),
                    None => {}
                },
                "interface" => inst.interface = self.arg(st).unwrap_or_default().to_string(),
                "virtual_router_id" => {
                    seen_vrid = true;
                    inst.virtual_router_id = self.num(st).unwrap_or(0);
                }
                "priority" => inst.priority = self.num(st).unwrap_or(100),
                "advert_int" => inst.advert_int = self.secs(st).unwrap_or(inst.advert_int),
                "version" => inst.version = self.num(st),
                "nopreempt" => inst.nopreempt = true,
                "preempt" => {}
                "preempt_delay" => inst.preempt_delay = self.secs(st).unwrap_or_default(),
                "accept" => inst.accept = true,
                "no_accept" => self.note(
                    st,
                    "had always accepts traffic to the VIPs while MASTER (keepalived's \
                     default outside vrrp_strict) and installs no rule that would drop it",
                ),
                "authentication" => {
                    let mut auth_type = None;
                    let mut pass = None;
                    for a in self.block(st) {
                        match a.words.first().map(String::as_str).unwrap_or_default() {
                            "auth_type" => match self.arg(a) {
                                Some("PASS") => auth_type = Some(AuthType::Pass),
                                Some("AH") => {
                                    ah_at = Some((a.file, a.line));
                                    auth_type = Some(AuthType::Ah);
                                }
                                Some(o) => self.problem(
                                    a.file,
                                    a.line,
                                    format!("auth_type {o:?} is not allowed (allowed: PASS, AH)"),
                                ),
                                None => {}
                            },
                            "auth_pass" => pass = self.arg(a).map(str::to_string),
                            _ => self.unknown(a, "authentication", &["auth_type", "auth_pass"]),
                        }
                    }
                    match (auth_type, pass) {
                        (Some(auth_type), Some(auth_pass)) => {
                            inst.authentication = Some(Authentication {
                                auth_type,
                                auth_pass,
                            });
                        }
                        _ => self.problem(
                            st.file,
                            st.line,
                            "authentication needs both auth_type and auth_pass".into(),
                        ),
                    }
                }
                "virtual_ipaddress" => inst.virtual_ipaddress = self.addresses(st),
                "track_script" => inst.track_script = self.track_list(st),
                "track_interface" => inst.track_interface = self.track_list(st),
                "track_file" => inst.track_file = self.track_list(st),
                "track_process" => inst.track_process = self.track_list(st),
                "unicast_src_ip" => {
                    if let Some(v) = self.arg(st) {
                        match v.parse() {
                            Ok(a) => inst.unicast_src_ip = Some(a),
                            Err(_) => self.problem(
                                st.file,
                                st.line,
                                format!("{v:?} is not an IP address"),
                            ),
                        }
                    }
                }
                "unicast_peer" => {
                    for p in self.block(st) {
                        let v = p.words.first().cloned().unwrap_or_default();
                        match v.parse() {
                            Ok(a) => inst.unicast_peer.push(a),
                            Err(_) => {
                                self.problem(p.file, p.line, format!("{v:?} is not an IP address"));
                            }
                        }
                        if p.words.len() > 1 {
                            self.note(
                                p,
                                "peer options (min_ttl, max_ttl) are not supported by had; dropped",
                            );
                        }
                    }
                }
                "garp_master_delay" => inst.garp_master_delay = self.secs(st),
                "garp_master_repeat" => inst.garp_master_repeat = self.num(st),
                "garp_master_refresh" => inst.garp_master_refresh = self.secs(st),
                "notify_master" => inst.notify_master = self.command(st),
                "notify_backup" => inst.notify_backup = self.command(st),
                "notify_fault" => inst.notify_fault = self.command(st),
                "notify_stop" => inst.notify_stop = self.command(st),
                "notify" => inst.notify = self.command(st),
                k if INSTANCE_UNSUPPORTED.contains(&k) => {
                    self.note(st, "not supported by had; dropped");
                }
                _ => {
                    let all: Vec<&str> = INSTANCE_KNOWN
                        .iter()
                        .chain(INSTANCE_UNSUPPORTED)
                        .copied()
                        .collect();
                    self.unknown(st, &format!("vrrp_instance {name}"), &all);
                }
            }
        }
        if !seen_vrid {
            self.problem(
                s.file,
                s.line,
                format!("vrrp_instance {name} has no virtual_router_id"),
            );
        }
        if inst.interface.is_empty() {
            self.problem(
                s.file,
                s.line,
                format!("vrrp_instance {name} has no interface"),
            );
        }
        if let Some((file, line)) = ah_at {
            if inst.version.unwrap_or(config.global.vrrp_version) == 3 {
                // VRRPv3 has no authentication (RFC 5798): keepalived ignores it too.
                inst.authentication = None;
                self.notes.push(Note {
                    at: self.at(file, line),
                    directive: "auth_type AH".into(),
                    message:
                        "VRRPv3 carries no authentication (RFC 5798); keepalived ignores it as well"
                            .into(),
                });
            } else {
                self.problem(
                    file,
                    line,
                    "auth_type AH: had implements no IPsec AH and would send VRRPv2 adverts \
                     unauthenticated; use PASS, or no authentication"
                        .into(),
                );
            }
        }
        config.vrrp_instance.insert(name, inst);
    }

    fn sync_group(&mut self, s: &Stmt, config: &mut Config) {
        let Some(name) = self.name(s) else { return };
        let mut g = VrrpSyncGroup {
            group: Vec::new(),
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            notify: None,
        };
        for st in self.block(s) {
            match st.words.first().map(String::as_str).unwrap_or_default() {
                "group" => {
                    for m in self.block(st) {
                        g.group.extend(m.words.iter().cloned());
                    }
                }
                "notify_master" => g.notify_master = self.command(st),
                "notify_backup" => g.notify_backup = self.command(st),
                "notify_fault" => g.notify_fault = self.command(st),
                "notify" => g.notify = self.command(st),
                "smtp_alert" | "global_tracking" | "sync_group_tracking_weight" | "notify_stop" => {
                    self.note(st, "not supported by had; dropped");
                }
                // keepalived 1.x syntax: instance names directly in the group block.
                _ if st.words.len() == 1 && st.block.is_none() => {
                    g.group.extend(st.words.iter().cloned());
                }
                _ => self.unknown(
                    st,
                    "vrrp_sync_group",
                    &[
                        "group",
                        "notify_master",
                        "notify_backup",
                        "notify_fault",
                        "notify",
                    ],
                ),
            }
        }
        config.vrrp_sync_group.insert(name, g);
    }

    fn track_file(&mut self, s: &Stmt, config: &mut Config) {
        let Some(name) = self.name(s) else { return };
        let mut t = TrackFile {
            file: PathBuf::new(),
            weight: 1,
            reverse: false,
        };
        for st in self.block(s) {
            match st.words.first().map(String::as_str).unwrap_or_default() {
                "file" => t.file = self.arg(st).map(PathBuf::from).unwrap_or_default(),
                "weight" => {
                    t.weight = self.num(st).unwrap_or(1);
                    t.reverse = st.words.get(2).is_some_and(|w| w == "reverse");
                }
                "init_file" => self.note(st, "not supported by had; dropped"),
                _ => self.unknown(st, "vrrp_track_file", &["file", "weight"]),
            }
        }
        config.track_file.insert(name, t);
    }

    fn track_process(&mut self, s: &Stmt, config: &mut Config) {
        const KNOWN: &[&str] = &[
            "process",
            "param_match",
            "full_command",
            "quorum",
            "quorum_max",
            "weight",
            "delay",
            "fork_delay",
            "terminate_delay",
        ];
        let Some(name) = self.name(s) else { return };
        let mut t = TrackProcess {
            process: String::new(),
            params: Vec::new(),
            param_match: None,
            full_command: false,
            quorum: 1,
            quorum_max: None,
            weight: 0,
            delay: None,
            fork_delay: None,
            terminate_delay: None,
        };
        for st in self.block(s) {
            match st.words.first().map(String::as_str).unwrap_or_default() {
                "process" => {
                    t.process = self.arg(st).unwrap_or_default().to_string();
                    t.params = st.words.get(2..).unwrap_or_default().to_vec();
                }
                "param_match" => t.param_match = self.arg(st).map(str::to_string),
                "full_command" => t.full_command = true,
                "quorum" => t.quorum = self.num(st).unwrap_or(1),
                "quorum_max" => t.quorum_max = self.num(st),
                "weight" => t.weight = self.num(st).unwrap_or(0),
                "delay" => t.delay = self.secs(st),
                "fork_delay" => t.fork_delay = self.secs(st),
                "terminate_delay" => t.terminate_delay = self.secs(st),
                _ => self.unknown(st, "vrrp_track_process", KNOWN),
            }
        }
        config.track_process.insert(name, t);
    }
}

const GLOBAL_UNSUPPORTED: &[&str] = &[
    "vrrp_cpu_affinity",
    "vrrp_rlimit_rtime",
    "checker_no_swap",
    "checker_cpu_affinity",
    "checker_rt_priority",
    "checker_rlimit_rtime",
    "bfd_no_swap",
    "bfd_rt_priority",
    "bfd_rlimit_rtime",
    "snmp_socket",
    "enable_snmp_vrrp",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_dbus",
    "enable_dbus_instance",
    "notify_fifo_script",
    "vrrp_notify_fifo_script",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "lvs_flush",
    "lvs_flush_onstop",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "bfd_process_name",
    "no_email_faults",
    "smtp_alert",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "checker_log_all_failures",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "log_unknown_vrids",
    "namespace_with_ipsets",
    "min_auto_priority_delay",
    "random_seed",
    "reload_check_config",
    "reload_time_file",
    "config_save_dir",
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_connect_timeout",
    "smtp_helo_name",
    "lvs_id",
    "enable_traps",
    "enable_snmp_keepalived",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_skip_check_adv_addr",
    "vrrp_strict",
    "vrrp_iptables",
    "vrrp_ipsets",
    "vrrp_check_unicast_src",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_priority",
    "checker_priority",
    "bfd_priority",
    "vrrp_no_swap",
    "max_auto_priority",
    "dynamic_interfaces",
    "script_security",
    "vrrp_startup_delay",
    "vrrp_notify_fifo",
    "notify_fifo",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "default_interface",
    "lvs_sync_daemon",
    "linkbeat_use_polling",
    "umask",
    "vrrp_min_garp",
    "process_names",
    "instance",
];

const INSTANCE_KNOWN: &[&str] = &[
    "state",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "nopreempt",
    "preempt",
    "preempt_delay",
    "accept",
    "no_accept",
    "authentication",
    "virtual_ipaddress",
    "track_script",
    "track_interface",
    "track_file",
    "track_process",
    "unicast_src_ip",
    "unicast_peer",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_master_refresh",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
];

const INSTANCE_UNSUPPORTED: &[&str] = &[
    "unicast_fault_no_peer",
    "old_unicast_checksum",
    "notify_priority_changes",
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "virtual_rules",
    "mcast_src_ip",
    "dont_track_primary",
    "use_vmac",
    "vmac_xmit_base",
    "native_ipv6",
    "smtp_alert",
    "debug",
    "lvs_sync_daemon_interface",
    "garp_master_refresh_repeat",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "kernel_rx_buf_size",
    "strict_mode",
    "linkbeat_use_polling",
    "track_bfd",
    "unicast_ttl",
    "check_unicast_src",
    "skip_check_adv_addr",
    "notify_master_rx_lower_pri",
    "notify_deleted",
    "promote_secondaries",
    "no_accept_mode",
    "track_src_ip",
    "vrrp_track_bfd",
];

const TOP_KNOWN: &[&str] = &[
    "global_defs",
    "vrrp_script",
    "vrrp_instance",
    "vrrp_sync_group",
    "vrrp_track_file",
    "vrrp_track_process",
    "include",
];

const TOP_UNSUPPORTED: &[&str] = &[
    "virtual_server",
    "virtual_server_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "linkbeat_interfaces",
    "bfd_instance",
    "garp_group",
    "net_namespace",
    "use_pid_dir",
    "instance",
    "real_server",
    "$",
];

/// Import options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// keepalived's `-i CONFIG_ID`: which `@ID` conditional lines to read.
    pub config_id: Option<String>,
}

/// Imports a keepalived.conf file (following its `include`s).
pub fn import_file(path: impl AsRef<Path>) -> Result<Imported, ImportError> {
    import_file_with(path, &Options::default())
}

/// Imports a keepalived.conf file with options.
pub fn import_file_with(
    path: impl AsRef<Path>,
    options: &Options,
) -> Result<Imported, ImportError> {
    import_file_from(path, options, &Filesystem)
}

/// Imports a keepalived.conf file read, with its `include`s, from `files`
/// (the filesystem, or [`super::files::InMemory`] in tests and fuzzing).
pub fn import_file_from(
    path: impl AsRef<Path>,
    options: &Options,
    files: &dyn Files,
) -> Result<Imported, ImportError> {
    let path = path.as_ref();
    let text = files.read(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    import_text(&text, path, options, files)
}

/// Imports keepalived.conf text as if read from `name` (includes are relative to it).
pub fn import_str(text: &str, name: impl AsRef<Path>) -> Result<Imported, ImportError> {
    import_text(text, name.as_ref(), &Options::default(), &Filesystem)
}

/// Imports keepalived.conf text as if read from `path`, its `include`s read
/// from `files`.
pub fn import_text(
    text: &str,
    path: &Path,
    options: &Options,
    files: &dyn Files,
) -> Result<Imported, ImportError> {
    let mut im = Importer {
        config_id: options.config_id.clone(),
        reader: files,
        included: 0,
        files: Vec::new(),
        problems: Vec::new(),
        notes: Vec::new(),
    };
    let mut toks = Vec::new();
    im.tokenize(text, path, 0, &mut toks);
    let mut pos = 0;
    let stmts = im.parse_block(&toks, &mut pos, None);
    let mut config = Config::default();
    for s in &stmts {
        match s.words.first().map(String::as_str).unwrap_or_default() {
            "global_defs" => im.global_defs(s, &mut config),
            "vrrp_script" => im.vrrp_script(s, &mut config),
            "vrrp_instance" => im.vrrp_instance(s, &mut config),
            "vrrp_sync_group" => im.sync_group(s, &mut config),
            "vrrp_track_file" => im.track_file(s, &mut config),
            "vrrp_track_process" => im.track_process(s, &mut config),
            k @ ("virtual_server" | "virtual_server_group" | "real_server") => im.note(s, format!("not supported by had ({k} drives LVS; had proxies HTTP instead: see `hactl import apache`); dropped with its block")),
            k if TOP_UNSUPPORTED.contains(&k) => im.note(s, "not supported by had; dropped with its block"),
            _ => {
                let all: Vec<&str> = TOP_KNOWN.iter().chain(TOP_UNSUPPORTED).copied().collect();
                im.unknown(s, "the top level", &all);
            }
        }
    }
    if im.problems.is_empty() {
        Ok(Imported {
            config,
            notes: im.notes,
        })
    } else {
        im.problems
            .sort_by(|a, b| (&a.at.file, a.at.line).cmp(&(&b.at.file, b.at.line)));
        Err(ImportError::Invalid {
            problems: im.problems,
            notes: im.notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_handles_quotes_comments_and_braces() {
        let mut toks = Vec::new();
        tokenize_line(r#"  script "/bin/echo a # b" # comment"#, 0, 1, &mut toks);
        let words: Vec<_> = toks
            .iter()
            .filter_map(|t| match &t.tok {
                Tok::Word(w) => Some(w.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(words, ["script", "/bin/echo a # b"]);
        let mut toks = Vec::new();
        tokenize_line("virtual_ipaddress{ ! x", 0, 1, &mut toks);
        assert_eq!(toks.get(1).map(|t| &t.tok), Some(&Tok::Open));
        assert_eq!(toks.len(), 3);
    }
}
