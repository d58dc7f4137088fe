//! `cargo xtask hostile`: lb-proxy's hostile-request corpus
//! (`lb-proxy/tests/hostile/*.cases`) played through the had daemon,
//! HAProxy, nginx and Apache, each in front of the same strict recording
//! member, and a table of how each proxy handled each class.
//!
//! Outcomes are judged by quality, not by equality with had's answers: a
//! stall (no answer within a second, connection held) and a desync (the
//! member got something unparsable, a hidden request, or more requests than
//! were answered) are the worst; refusing fast with nothing sent to the
//! member, and forwarding exactly what was sent, are good. Everything runs
//! on 127.0.0.1 high ports; each proxy runs from a config in a temporary
//! directory and is stopped by PID; every wait is bounded.

#[allow(dead_code)]
#[path = "../../lb-proxy/tests/common/recording.rs"]
mod recording;

#[path = "../../lb-proxy/tests/common/hostile_cases.rs"]
mod hostile_cases;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use crate::bench::{Proc, had_binary, require_tools, wait_for_port, workspace_target};
use hostile_cases::{Case, Quality};
use recording::{Recording, Strictness};

/// Options of `cargo xtask hostile`.
#[derive(Args)]
pub struct HostileArgs {
    /// Only these proxies (had, haproxy, nginx, apache).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Use this build of the had daemon instead of building `target/release/had`.
    #[arg(long)]
    daemon_bin: Option<PathBuf>,
    /// Where the Markdown report goes (default: `target/hostile.md`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print every case's outcome for every proxy as it runs.
    #[arg(long)]
    verbose: bool,
}

/// The proxy's front port; the member listens on a free port.
const FRONT_PORT: u16 = 18_490;

/// The proxies compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    Had,
    Haproxy,
    Nginx,
    Apache,
}

impl Peer {
    const ALL: [Peer; 4] = [Self::Had, Self::Haproxy, Self::Nginx, Self::Apache];

    fn name(self) -> &'static str {
        match self {
            Self::Had => "had",
            Self::Haproxy => "haproxy",
            Self::Nginx => "nginx",
            Self::Apache => "apache",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Had => "had",
            Self::Haproxy => "HAProxy",
            Self::Nginx => "nginx",
            Self::Apache => "Apache",
        }
    }

    /// The program and its version line; `given` when `--daemon-bin` named had's build.
    fn version(self, daemon: &Path, given: bool) -> String {
        let (program, args): (&Path, &[&str]) = match self {
            Self::Had if given => return format!("had {} (--daemon-bin)", daemon.display()),
            Self::Had => return had_version(daemon),
            Self::Haproxy => (Path::new("/usr/sbin/haproxy"), &["-v"]),
            Self::Nginx => (Path::new("/usr/sbin/nginx"), &["-v"]),
            Self::Apache => (Path::new("/usr/sbin/apache2"), &["-v"]),
        };
        let Ok(out) = Command::new(program).args(args).output() else {
            return "?".into();
        };
        // nginx prints its version on stderr.
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map_or_else(|| "?".into(), |l| l.replace("Server version: ", ""))
    }
}

/// The commit the daemon was built from (and whether the tree had changes).
fn had_version(daemon: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    // Only the daemon's own sources count (other edits do not change it).
    let sources = [
        "status",
        "--porcelain",
        "--",
        "had",
        "lb-proxy/src",
        "vrrp-core/src",
        "vip-netlink/src",
        "health/src",
        "Cargo.lock",
    ];
    let dirty = if git(&sources).is_empty() {
        ""
    } else {
        " with uncommitted changes"
    };
    format!("had {} at {commit}{dirty}", daemon.display())
}

/// Writes `peer`'s config for one proxy from FRONT_PORT to `member` and starts it.
fn start_peer(peer: Peer, dir: &Path, daemon: &Path, member: SocketAddr) -> anyhow::Result<Proc> {
    let d = dir.display();
    let (program, args): (PathBuf, Vec<String>) = match peer {
        Peer::Had => {
            let conf = dir.join("had.toml");
            std::fs::write(
                &conf,
                format!(
                    "[global]\ncontrol_socket = \"{d}/had.sock\"\n\n[proxy.x]\nlisten = [\"127.0.0.1:{FRONT_PORT}\"]\npreserve_host = true\nmembers = [{{ url = \"http://{member}\" }}]\n"
                ),
            )?;
            (
                daemon.to_owned(),
                vec!["--config".into(), conf.display().to_string()],
            )
        }
        Peer::Haproxy => {
            let conf = dir.join("haproxy.cfg");
            std::fs::write(
                &conf,
                format!(
                    "global\n  nbthread 1\n  maxconn 1024\n\ndefaults\n  mode http\n  option http-keep-alive\n  option forwardfor\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n  timeout http-request 20s\n\nfrontend fe\n  bind 127.0.0.1:{FRONT_PORT}\n  default_backend member\n\nbackend member\n  server m1 {member}\n"
                ),
            )?;
            (
                PathBuf::from("/usr/sbin/haproxy"),
                vec!["-db".into(), "-f".into(), conf.display().to_string()],
            )
        }
        Peer::Nginx => {
            let conf = dir.join("nginx.conf");
            std::fs::write(
                &conf,
                format!(
                    "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/nginx_error.log;\nevents {{ worker_connections 1024; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/nginx_body;\n  proxy_temp_path {d}/nginx_proxy;\n  upstream member {{ server {member}; keepalive 16; }}\n  server {{\n    listen 127.0.0.1:{FRONT_PORT};\n    server_name front.test;\n    location / {{\n      proxy_pass http://member;\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      proxy_set_header Host $host;\n      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    }}\n  }}\n}}\n"
                ),
            )?;
            (
                PathBuf::from("/usr/sbin/nginx"),
                vec!["-c".into(), conf.display().to_string()],
            )
        }
        Peer::Apache => {
            let conf = dir.join("apache.conf");
            let m = "/usr/lib/apache2/modules";
            std::fs::write(
                &conf,
                format!(
                    "ServerRoot {d}\nDefaultRuntimeDir {d}\nPidFile {d}/apache.pid\nErrorLog {d}/apache_error.log\nMutex file:{d} default\nListen 127.0.0.1:{FRONT_PORT}\nUser www-data\nGroup www-data\nServerName 127.0.0.1\n\
LoadModule mpm_event_module {m}/mod_mpm_event.so\nLoadModule authz_core_module {m}/mod_authz_core.so\n\
LoadModule proxy_module {m}/mod_proxy.so\nLoadModule proxy_http_module {m}/mod_proxy_http.so\n\
StartServers 1\nServerLimit 1\nThreadsPerChild 25\nMaxRequestWorkers 25\n\
<VirtualHost *:{FRONT_PORT}>\n    ServerName 127.0.0.1\n    ProxyPreserveHost On\n    ProxyPass / http://{member}/\n    ProxyPassReverse / http://{member}/\n</VirtualHost>\n"
                ),
            )?;
            (
                PathBuf::from("/usr/sbin/apache2"),
                vec![
                    "-f".into(),
                    conf.display().to_string(),
                    "-DFOREGROUND".into(),
                ],
            )
        }
    };
    let mut p = Proc::spawn(
        peer.name(),
        0,
        &program,
        &args,
        &dir.join(format!("{}.log", peer.name())),
    )?;
    wait_for_port(FRONT_PORT, &mut p)?;
    Ok(p)
}

/// One case through one proxy.
struct Outcome {
    class: String,
    case: String,
    quality: Quality,
    as_expected: bool,
    /// What differed from the case file (`-` expected, `+` got).
    diff: String,
}

/// Plays every case through `peer`, each on a new client connection, with
/// a fresh recording member for this proxy.
fn run_peer(
    rt: &tokio::runtime::Runtime,
    peer: Peer,
    dir: &Path,
    daemon: &Path,
    cases: &[Case],
    verbose: bool,
) -> anyhow::Result<Vec<Outcome>> {
    // Read as RFC 9112 allows any proxy to write (HTTP/1.0, trailers, ...):
    // had's own stricter contract is lb-proxy's hostile test.
    let member = rt.block_on(Recording::start_with(Duration::ZERO, Strictness::Rfc));
    let mut proc = start_peer(peer, dir, daemon, member.addr)?;
    let front = SocketAddr::from(([127, 0, 0, 1], FRONT_PORT));
    let mut out = Vec::with_capacity(cases.len());
    for case in cases {
        let before = hostile_cases::mark(&member);
        let answer = rt
            .block_on(hostile_cases::play(front, case))
            .with_context(|| format!("{}: case {:?}", peer.name(), case.name))?;
        rt.block_on(hostile_cases::settle(&member));
        let view = hostile_cases::since(&member, &before);
        let quality = hostile_cases::quality(case, &answer, &view);
        let expected = hostile_cases::render_expected(&case.expected);
        let got = hostile_cases::render_got(&case.expected, &answer, &view);
        let as_expected = expected == got;
        if verbose {
            eprintln!(
                "{:<8} {:<18} {:<9} {} {}",
                peer.name(),
                case.class,
                quality.as_str(),
                if as_expected { "ok  " } else { "DIFF" },
                case.name
            );
        }
        out.push(Outcome {
            class: case.class.clone(),
            case: case.name.clone(),
            quality,
            as_expected,
            diff: if as_expected {
                String::new()
            } else {
                hostile_cases::diff(&expected, &got)
            },
        });
    }
    proc.stop();
    Ok(out)
}

/// Counts per quality, and how many were as expected.
#[derive(Default, Clone)]
struct Tally {
    cases: usize,
    as_expected: usize,
    by_quality: BTreeMap<Quality, usize>,
}

impl Tally {
    fn add(&mut self, o: &Outcome) {
        self.cases += 1;
        self.as_expected += usize::from(o.as_expected);
        *self.by_quality.entry(o.quality).or_default() += 1;
    }

    /// `24 ✓ · 23 refused · 1 forwarded`: as expected, then each quality seen.
    fn cell(&self) -> String {
        let mut parts = vec![format!("{} ✓", self.as_expected)];
        for q in Quality::ALL {
            if let Some(n) = self.by_quality.get(&q) {
                let name = q.as_str();
                parts.push(if matches!(q, Quality::Desync | Quality::Stall) {
                    format!("**{n} {name}**")
                } else {
                    format!("{n} {name}")
                });
            }
        }
        parts.join(" · ")
    }
}

/// Entry point.
pub fn run(args: HostileArgs) -> anyhow::Result<()> {
    let peers: Vec<Peer> = Peer::ALL
        .into_iter()
        .filter(|p| args.only.is_empty() || args.only.iter().any(|o| o == p.name()))
        .collect();
    if peers.is_empty() {
        bail!(
            "--only {} selects no proxy (had, haproxy, nginx, apache)",
            args.only.join(",")
        );
    }
    for (peer, tool) in [
        (Peer::Haproxy, "/usr/sbin/haproxy"),
        (Peer::Nginx, "/usr/sbin/nginx"),
        (Peer::Apache, "/usr/sbin/apache2"),
    ] {
        if peers.contains(&peer) {
            require_tools(&[tool, "taskset"], "haproxy nginx apache2")?;
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?
        .to_owned();
    let corpus = root.join(hostile_cases::CORPUS);
    let mut cases = Vec::new();
    for class in hostile_cases::classes(&corpus) {
        cases.extend(hostile_cases::load_class(&corpus, &class).map_err(anyhow::Error::msg)?);
    }
    if cases.is_empty() {
        bail!("no cases under {}", corpus.display());
    }
    let daemon = match (&args.daemon_bin, peers.contains(&Peer::Had)) {
        (Some(p), _) => p.clone(),
        (None, true) => had_binary()?,
        (None, false) => PathBuf::new(),
    };
    let dir = std::env::temp_dir().join(format!("had-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // Apache drops privileges to www-data; let it reach its run dir.
    let _ = Command::new("chmod").arg("0777").arg(&dir).status();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = utc_now();
    let mut results: Vec<(Peer, Vec<Outcome>)> = Vec::new();
    let mut failure = None;
    for &peer in &peers {
        eprintln!("{}: {} cases ...", peer.name(), cases.len());
        match run_peer(&rt, peer, &dir, &daemon, &cases, args.verbose) {
            Ok(o) => results.push((peer, o)),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(e) = failure {
        return Err(e);
    }
    let report = report(&args, &peers, &daemon, &cases, &results, &started);
    println!("{report}");
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| workspace_target().join("hostile.md"));
    std::fs::write(&out, &report).with_context(|| format!("write {}", out.display()))?;
    eprintln!("report written to {}", out.display());
    Ok(())
}

/// The Markdown report: command, date, versions, the per-class table, then
/// every case that was not as expected, per proxy.
fn report(
    args: &HostileArgs,
    peers: &[Peer],
    daemon: &Path,
    cases: &[Case],
    results: &[(Peer, Vec<Outcome>)],
    started: &str,
) -> String {
    let mut classes: Vec<&str> = Vec::new();
    for c in cases {
        if !classes.contains(&c.class.as_str()) {
            classes.push(&c.class);
        }
    }
    let mut md = String::new();
    let mut command = "cargo xtask hostile".to_owned();
    if !args.only.is_empty() {
        let _ = write!(command, " --only {}", args.only.join(","));
    }
    if let Some(p) = &args.daemon_bin {
        let _ = write!(command, " --daemon-bin {}", p.display());
    }
    let _ = writeln!(
        md,
        "`{command}`, {started}: {} cases in {} classes, each on a new connection; one recording member per proxy on 127.0.0.1.\n",
        cases.len(),
        classes.len()
    );
    for &p in peers {
        let _ = writeln!(
            md,
            "- {}: {}",
            p.title(),
            p.version(daemon, args.daemon_bin.is_some())
        );
    }
    let _ = writeln!(
        md,
        "\nEach cell: cases whose outcome matched the case file exactly (✓), then each case's outcome by quality: forwarded (the member got well-formed requests, no more than the client sent), refused (4xx/5xx, the member got nothing), local (answered below 400 by the proxy itself), dropped (closed without an answer), cut (the member got part of a request), **stall** (no answer within 1 s, connection open), **desync** (the member got something unparsable, a request hidden in another's bytes, or more requests than the client sent and got answers for).\n"
    );
    let _ = write!(md, "| class | cases |");
    for &p in peers {
        let _ = write!(md, " {} |", p.title());
    }
    let _ = write!(md, "\n|---|---:|");
    for _ in peers {
        let _ = write!(md, "---|");
    }
    md.push('\n');
    let tally = |peer: Peer, class: Option<&str>| {
        let mut t = Tally::default();
        for (_, outcomes) in results.iter().filter(|(p, _)| *p == peer) {
            for o in outcomes
                .iter()
                .filter(|o| class.is_none_or(|c| o.class == c))
            {
                t.add(o);
            }
        }
        t
    };
    for class in &classes {
        let n = cases.iter().filter(|c| c.class == *class).count();
        let _ = write!(md, "| {class} | {n} |");
        for &p in peers {
            let _ = write!(md, " {} |", tally(p, Some(class)).cell());
        }
        md.push('\n');
    }
    let _ = write!(md, "| **all** | {} |", cases.len());
    for &p in peers {
        let _ = write!(md, " {} |", tally(p, None).cell());
    }
    md.push('\n');
    for (peer, outcomes) in results {
        let off: Vec<&Outcome> = outcomes.iter().filter(|o| !o.as_expected).collect();
        let _ = writeln!(
            md,
            "\n### {}: {} of {} cases not as the case file expects\n",
            peer.title(),
            off.len(),
            outcomes.len()
        );
        for o in off {
            let _ = writeln!(
                md,
                "- {} / {} ({}):\n\n```diff\n{}```",
                o.class,
                o.case,
                o.quality.as_str(),
                o.diff
            );
        }
    }
    md
}

/// The time now, as `date -u` prints it.
fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
