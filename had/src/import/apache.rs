//! Apache reverse-proxy vhost → `[proxy.NAME]` tables: `<VirtualHost>`,
//! `Listen`, `<Proxy "balancer://NAME">` with `BalancerMember` and `ProxySet`,
//! `ProxyPass`, `ProxyPassReverse`, `ProxyPreserveHost`, `ProxyTimeout`,
//! `CustomLog ... combined`. `ErrorLog` is dropped with a note: had keeps no
//! per-proxy error log. Directive and section names are case-insensitive, as
//! in Apache.
//!
//! `${APACHE_LOG_DIR}` expands to `/var/log/apache2` (Debian's
//! `/etc/apache2/envvars`); other `${VAR}`s are kept as written and noted.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ImportError, ImportProblem, Imported, Location, Note};
use crate::config::{Config, LbMethod, Member, Proxy, parse_duration};

/// Debian's `APACHE_LOG_DIR`.
pub const APACHE_LOG_DIR: &str = "/var/log/apache2";

#[derive(Debug, Default, Clone)]
struct Balancer {
    members: Vec<Member>,
    lbmethod: Option<LbMethod>,
    timeout: Option<Duration>,
    maxattempts: Option<u32>,
    line: usize,
}

#[derive(Debug, Default)]
struct Vhost {
    ports: Vec<SocketAddr>,
    preserve_host: Option<bool>,
    timeout: Option<Duration>,
    /// (local path, balancer name or direct URL, line).
    passes: Vec<(String, String, usize)>,
    reverse: Vec<String>,
    access_log: Option<PathBuf>,
    /// `LimitRequestFieldSize`.
    limit_field_size: Option<u32>,
    /// `LimitRequestFields`.
    limit_fields: Option<u32>,
    /// `RequestReadTimeout header=N`.
    header_read: Option<Duration>,
    line: usize,
}

struct Importer<'a> {
    file: &'a Path,
    problems: Vec<ImportProblem>,
    notes: Vec<Note>,
}

/// Splits a directive line into words, honouring double quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for ch in line.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => word.push(c),
        }
    }
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

fn expand(text: &str, notes: &mut Vec<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        match after.find('}') {
            Some(end) => {
                let var = after.get(..end).unwrap_or_default();
                if var == "APACHE_LOG_DIR" {
                    out.push_str(APACHE_LOG_DIR);
                } else {
                    notes.push(format!(
                        "${{{var}}} is not known to the importer; kept as written"
                    ));
                    out.push_str(&format!("${{{var}}}"));
                }
                rest = after.get(end + 1..).unwrap_or_default();
            }
            None => {
                out.push_str(rest.get(start..).unwrap_or_default());
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_listen(text: &str) -> Option<SocketAddr> {
    // `80`, `*:80`, `_default_:80`, `198.18.0.1:80`, `[2001:db8::1]:80`.
    if let Ok(port) = text.parse::<u16>() {
        return Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Some(sa);
    }
    let (host, port) = text.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    match host {
        "*" | "_default_" => Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)),
        "[::]" => Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port)),
        h => h.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, port)),
    }
}

impl Importer<'_> {
    fn at(&self, line: usize) -> Location {
        Location {
            file: self.file.to_path_buf(),
            line,
        }
    }

    fn problem(&mut self, line: usize, message: String) {
        let at = self.at(line);
        self.problems.push(ImportProblem { at, message });
    }

    fn note(&mut self, line: usize, directive: &[String], message: impl Into<String>) {
        let at = self.at(line);
        self.notes.push(Note {
            at,
            directive: directive.join(" "),
            message: message.into(),
        });
    }

    fn secs(&mut self, line: usize, what: &str, value: &str) -> Option<Duration> {
        match parse_duration(value) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(line, format!("{what}: {e}"));
                None
            }
        }
    }

    /// Applies `key=value` worker/balancer parameters.
    fn member_params(&mut self, line: usize, words: &[String], member: &mut Member) {
        for p in words {
            let Some((k, v)) = p.split_once('=') else {
                self.problem(line, format!("{p:?} is not a key=value parameter"));
                continue;
            };
            match k.to_ascii_lowercase().as_str() {
                "loadfactor" => match v.parse() {
                    Ok(n) => member.loadfactor = n,
                    Err(_) => self.problem(line, format!("loadfactor={v}: needs a number 1-100")),
                },
                "retry" => member.retry = self.secs(line, "retry", v),
                "timeout" => member.timeout = self.secs(line, "timeout", v),
                "status" => member.status = Some(v.to_string()),
                _ => self.note(
                    line,
                    std::slice::from_ref(p),
                    "BalancerMember parameter not supported by had; dropped",
                ),
            }
        }
    }
}

/// Imports an Apache configuration file.
pub fn import_file(path: impl AsRef<Path>) -> Result<Imported, ImportError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    import_str(&text, path)
}

/// Imports Apache configuration text as if read from `name`.
pub fn import_str(text: &str, name: impl AsRef<Path>) -> Result<Imported, ImportError> {
    let mut im = Importer {
        file: name.as_ref(),
        problems: Vec::new(),
        notes: Vec::new(),
    };
    let mut balancers: BTreeMap<String, Balancer> = BTreeMap::new();
    let mut vhosts: Vec<Vhost> = Vec::new();
    // Server-level settings: the defaults of every <VirtualHost>.
    let mut server = Vhost::default();
    let mut listens: Vec<SocketAddr> = Vec::new();
    // Open sections: (lowercased name, line, balancer name if <Proxy balancer://>).
    let mut sections: Vec<(String, usize, Option<String>)> = Vec::new();
    let mut current: Option<Vhost> = None;

    let mut logical = String::new();
    let mut start_line = 0;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        if logical.is_empty() {
            start_line = line_no;
        }
        // A trailing backslash continues the directive on the next line.
        if let Some(cont) = raw.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(raw);
        let full = std::mem::take(&mut logical);
        let line = start_line;
        let trimmed = full.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut var_notes = Vec::new();
        let expanded = expand(trimmed, &mut var_notes);
        for n in var_notes {
            im.note(line, &[trimmed.to_string()], n);
        }

        if let Some(close) = expanded.strip_prefix("</") {
            let name = close.trim_end_matches('>').trim().to_ascii_lowercase();
            match sections.pop() {
                Some((open, _, _)) if open == name => {
                    if name == "virtualhost"
                        && let Some(v) = current.take()
                    {
                        vhosts.push(v);
                    }
                }
                Some((open, open_line, _)) => {
                    im.problem(line, format!("</{name}> closes <{open}> opened at line {open_line}; expected </{open}>"));
                }
                None => im.problem(line, format!("</{name}> closes no section")),
            }
            continue;
        }
        if let Some(open) = expanded.strip_prefix('<') {
            let Some(inner) = open.strip_suffix('>') else {
                im.problem(line, format!("section {expanded:?} lacks its closing `>`"));
                continue;
            };
            let w = words(inner);
            let name = w
                .first()
                .map(|s| s.to_ascii_lowercase())
                .unwrap_or_default();
            match name.as_str() {
                "virtualhost" => {
                    let mut v = Vhost {
                        line,
                        ..Vhost::default()
                    };
                    for a in w.get(1..).unwrap_or_default() {
                        match parse_listen(a) {
                            Some(sa) => v.ports.push(sa),
                            None => im.problem(
                                line,
                                format!("<VirtualHost {a}>: expected ADDR:PORT, *:PORT or PORT"),
                            ),
                        }
                    }
                    current = Some(v);
                    sections.push((name, line, None));
                }
                "proxy" => {
                    let target = w.get(1).cloned().unwrap_or_default();
                    let bal = target
                        .strip_prefix("balancer://")
                        .map(|b| b.trim_end_matches('/').to_string());
                    match &bal {
                        Some(b) => {
                            balancers.entry(b.clone()).or_insert_with(|| Balancer { line, ..Balancer::default() });
                        }
                        None => im.note(line, &w, "a <Proxy> section that is not a balancer: access rules are not supported by had; its directives are dropped"),
                    }
                    sections.push((name, line, bal));
                }
                "ifmodule" | "directory" | "location" | "files" | "ifdefine" => {
                    im.note(
                        line,
                        &w,
                        "section kept open; directives inside are imported where had supports them",
                    );
                    sections.push((name, line, None));
                }
                _ => {
                    im.note(line, &w, "section not supported by had; its directives are read where had supports them");
                    sections.push((name, line, None));
                }
            }
            continue;
        }

        let w = words(&expanded);
        let Some(directive) = w.first().map(|s| s.to_ascii_lowercase()) else {
            continue;
        };
        let args = w.get(1..).unwrap_or_default();
        let in_balancer = sections.iter().rev().find_map(|(_, _, b)| b.clone());
        match directive.as_str() {
            "listen" => match args.first().and_then(|a| parse_listen(a)) {
                Some(sa) => listens.push(sa),
                None => im.problem(line, "Listen needs [ADDR:]PORT".into()),
            },
            "balancermember" => {
                let (bal, rest) = addressed_balancer(in_balancer.as_deref(), args);
                let Some(bal) = bal else {
                    im.problem(line, "BalancerMember outside <Proxy \"balancer://NAME\"> must name its balancer first".into());
                    continue;
                };
                let Some(url) = rest.first() else {
                    im.problem(line, "BalancerMember needs a URL".into());
                    continue;
                };
                let mut member = Member {
                    url: url.clone(),
                    route: None,
                    lbset: None,
                    loadfactor: 1,
                    retry: None,
                    timeout: None,
                    status: None,
                };
                im.member_params(line, rest.get(1..).unwrap_or_default(), &mut member);
                balancers
                    .entry(bal)
                    .or_insert_with(|| Balancer {
                        line,
                        ..Balancer::default()
                    })
                    .members
                    .push(member);
            }
            "proxyset" => {
                let (bal, params) = addressed_balancer(in_balancer.as_deref(), args);
                let Some(bal) = bal else {
                    im.note(
                        line,
                        &w,
                        "ProxySet for a non-balancer worker is not supported by had; dropped",
                    );
                    continue;
                };
                let mut b = balancers.remove(&bal).unwrap_or(Balancer {
                    line,
                    ..Balancer::default()
                });
                for p in params {
                    let Some((k, v)) = p.split_once('=') else {
                        im.problem(line, format!("{p:?} is not a key=value parameter"));
                        continue;
                    };
                    match (k.to_ascii_lowercase().as_str(), v.to_ascii_lowercase().as_str()) {
                        ("lbmethod", "byrequests") => b.lbmethod = Some(LbMethod::Byrequests),
                        ("lbmethod", "bybusyness") => b.lbmethod = Some(LbMethod::Bybusyness),
                        ("lbmethod", other) => im.problem(line, format!("lbmethod={other} is not supported (allowed: byrequests, bybusyness)")),
                        ("timeout", _) => b.timeout = im.secs(line, "timeout", v),
                        ("maxattempts", _) => b.maxattempts = v.parse().ok(),
                        _ => im.note(line, std::slice::from_ref(p), "ProxySet parameter not supported by had; dropped"),
                    }
                }
                balancers.insert(bal, b);
            }
            "proxypass" => {
                let (Some(path), Some(target)) = (args.first(), args.get(1)) else {
                    im.problem(
                        line,
                        "ProxyPass needs a path and a target (ProxyPass / balancer://NAME/)".into(),
                    );
                    continue;
                };
                if target == "!" {
                    im.note(
                        line,
                        &w,
                        "exclusions (ProxyPass PATH !) are not supported by had; dropped",
                    );
                    continue;
                }
                if args.len() > 2 {
                    im.note(
                        line,
                        args.get(2..).unwrap_or_default(),
                        "ProxyPass parameters not supported by had; dropped",
                    );
                }
                match current.as_mut() {
                    Some(v) => v.passes.push((path.clone(), target.clone(), line)),
                    None => im.problem(line, "ProxyPass outside <VirtualHost>: had needs a listen address; put it in a <VirtualHost *:PORT>".into()),
                }
            }
            "proxypassreverse" => {
                if let (Some(v), Some(target)) = (current.as_mut(), args.get(1)) {
                    v.reverse.push(target.clone());
                } else {
                    im.problem(
                        line,
                        "ProxyPassReverse needs a path and a target, inside <VirtualHost>".into(),
                    );
                }
            }
            "proxypreservehost" => {
                let on = args.first().is_some_and(|a| a.eq_ignore_ascii_case("on"));
                current.as_mut().unwrap_or(&mut server).preserve_host = Some(on);
            }
            "proxytimeout" => {
                let t = args.first().and_then(|a| im.secs(line, "ProxyTimeout", a));
                current.as_mut().unwrap_or(&mut server).timeout = t;
            }
            "limitrequestfieldsize" | "limitrequestfields" => {
                let n = args.first().and_then(|a| a.parse::<u32>().ok());
                if n.is_none() {
                    im.problem(
                        line,
                        format!("{} needs a number", w.first().cloned().unwrap_or_default()),
                    );
                }
                let target = current.as_mut().unwrap_or(&mut server);
                if directive == "limitrequestfields" {
                    target.limit_fields = n;
                } else {
                    target.limit_field_size = n;
                }
            }
            "requestreadtimeout" => {
                // `header=20` or `header=20-40,MinRate=500`: had keeps the first bound.
                let header = args.iter().find_map(|a| {
                    a.to_ascii_lowercase()
                        .strip_prefix("header=")
                        .map(str::to_string)
                });
                match header
                    .as_deref()
                    .and_then(|h| h.split(['-', ',']).next())
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    Some(secs) => {
                        current.as_mut().unwrap_or(&mut server).header_read =
                            Some(Duration::from_secs(secs));
                        if header.as_deref().is_some_and(|h| h.contains(['-', ',']))
                            || args.len() > 1
                        {
                            im.note(line, &w, "had keeps only the first header= timeout; ranges, MinRate and body= are dropped");
                        }
                    }
                    None => im.note(line, &w, "no header=N timeout: not carried over"),
                }
            }
            "customlog" => {
                let format = args.get(1).map(|f| f.to_ascii_lowercase());
                if format.as_deref() != Some("combined") {
                    im.note(
                        line,
                        &w,
                        "had writes the combined format only; the log is kept in combined format",
                    );
                }
                if let Some(p) = args.first() {
                    current.as_mut().unwrap_or(&mut server).access_log = Some(PathBuf::from(p));
                }
            }
            "errorlog" => {
                let why = crate::config::PROXY_ERROR_LOG.why;
                im.note(line, &w, format!("{why}; dropped"));
            }
            "servername" | "serveralias" | "documentroot" | "loglevel" | "serveradmin" => {
                im.note(
                    line,
                    &w,
                    "not needed: had serves every Host on its listen addresses; dropped",
                );
            }
            "proxyrequests" if args.first().is_some_and(|a| a.eq_ignore_ascii_case("off")) => {}
            _ => im.note(line, &w, "directive not supported by had; dropped"),
        }
    }
    for (name, line, _) in sections.iter().rev() {
        im.problem(*line, format!("<{name}> is never closed"));
    }

    let mut config = Config::default();
    for v in &vhosts {
        let mut listen = v.ports.clone();
        // `<VirtualHost *:80>` listens wherever `Listen 80` does.
        if listen.is_empty() {
            listen = listens.clone();
        }
        let listen: Vec<SocketAddr> = listen
            .into_iter()
            .map(|sa| {
                if sa.ip().is_unspecified() {
                    listens
                        .iter()
                        .find(|l| l.port() == sa.port() && !l.ip().is_unspecified())
                        .copied()
                        .unwrap_or(sa)
                } else {
                    sa
                }
            })
            .collect();
        for (path, target, line) in &v.passes {
            let (name, bal) = match target.strip_prefix("balancer://") {
                Some(b) => {
                    let b = b.trim_end_matches('/').to_string();
                    let bal = balancers.get(&b).cloned();
                    if bal.is_none() {
                        im.problem(*line, format!("ProxyPass names balancer://{b}/ but no <Proxy \"balancer://{b}\"> or BalancerMember defines it"));
                    }
                    (b, bal.unwrap_or_default())
                }
                None => {
                    let name = format!("proxy{}", config.proxy.len() + 1);
                    let member = Member {
                        url: target.clone(),
                        route: None,
                        lbset: None,
                        loadfactor: 1,
                        retry: None,
                        timeout: None,
                        status: None,
                    };
                    (
                        name,
                        Balancer {
                            members: vec![member],
                            line: *line,
                            ..Balancer::default()
                        },
                    )
                }
            };
            let pass_reverse = v
                .reverse
                .iter()
                .any(|r| r.trim_end_matches('/') == target.trim_end_matches('/'));
            let mut proxy = Proxy {
                listen: listen.clone(),
                server_name: None,
                server_alias: Vec::new(),
                routes: Vec::new(),
                path: path.clone(),
                preserve_host: v.preserve_host.or(server.preserve_host).unwrap_or(false),
                pass_reverse,
                lbmethod: bal.lbmethod.unwrap_or_default(),
                members: bal.members,
                timeout: Duration::from_secs(60),
                connect_timeout: Duration::from_secs(5),
                retry: Duration::from_secs(60),
                maxattempts: bal.maxattempts,
                max_connections: None,
                health_check: None,
                access_log: v.access_log.clone().or_else(|| server.access_log.clone()),
                header_read_timeout: v.header_read.or(server.header_read),
                body_read_timeout: None,
                pool_idle_timeout: None,
                tunnel_idle_timeout: None,
                limit_request_field_size: v.limit_field_size.or(server.limit_field_size),
                limit_request_fields: v.limit_fields.or(server.limit_fields),
                limit_request_line: None,
                workers: None,
            };
            if let Some(t) = bal.timeout.or(v.timeout).or(server.timeout) {
                proxy.timeout = t;
            }
            let mut key = name.clone();
            let mut n = 2;
            while config.proxy.contains_key(&key) {
                key = format!("{name}_{n}");
                n += 1;
            }
            config.proxy.insert(key, proxy);
        }
        if v.passes.is_empty() {
            im.note(
                v.line,
                &["<VirtualHost>".to_string()],
                "has no ProxyPass: nothing to import",
            );
        }
    }
    for (name, b) in &balancers {
        let used = vhosts.iter().flat_map(|v| &v.passes).any(|(_, t, _)| {
            t.strip_prefix("balancer://")
                .is_some_and(|x| x.trim_end_matches('/') == name)
        });
        if !used {
            im.note(
                b.line,
                &[format!("balancer://{name}")],
                "no ProxyPass in a <VirtualHost> uses this balancer: not imported",
            );
        }
    }
    if im.problems.is_empty() {
        Ok(Imported {
            config,
            notes: im.notes,
        })
    } else {
        im.problems.sort_by_key(|p| p.at.line);
        Err(ImportError::Invalid {
            problems: im.problems,
            notes: im.notes,
        })
    }
}

/// The balancer a `BalancerMember` or `ProxySet` line addresses, and its
/// remaining arguments: inside `<Proxy balancer://x>` the section's, outside
/// it the leading `balancer://x` argument's (`None` when neither names one).
fn addressed_balancer<'a>(
    in_balancer: Option<&str>,
    args: &'a [String],
) -> (Option<String>, &'a [String]) {
    match (in_balancer, args.first()) {
        (Some(b), _) => (Some(b.to_owned()), args),
        (None, Some(first)) if first.starts_with("balancer://") => (
            Some(
                first
                    .trim_start_matches("balancer://")
                    .trim_end_matches('/')
                    .to_owned(),
            ),
            args.get(1..).unwrap_or_default(),
        ),
        _ => (None, args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_expansion() {
        assert_eq!(
            words(r#"<Proxy "balancer://my cluster">"#),
            ["<Proxy", "balancer://my cluster>"]
        );
        let mut notes = Vec::new();
        assert_eq!(
            expand("${APACHE_LOG_DIR}/a.log", &mut notes),
            "/var/log/apache2/a.log"
        );
        assert_eq!(expand("${OTHER}/a", &mut notes), "${OTHER}/a");
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn listen_forms() {
        assert_eq!(parse_listen("80"), "0.0.0.0:80".parse().ok());
        assert_eq!(parse_listen("*:8080"), "0.0.0.0:8080".parse().ok());
        assert_eq!(
            parse_listen("198.18.0.200:80"),
            "198.18.0.200:80".parse().ok()
        );
        assert_eq!(parse_listen("[::]:80"), "[::]:80".parse().ok());
        assert_eq!(parse_listen("x"), None);
    }
}
