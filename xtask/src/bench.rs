//! `cargo xtask bench proxy`: had's proxy against HAProxy, nginx and Apache.
//!
//! Every proxy under test is pinned with `taskset` to the same single CPU;
//! the two nginx members and wrk share the other CPU. Runs are interleaved
//! (proxy after proxy, round after round) so a noisy neighbour hurts all of
//! them alike, and each proxy is started fresh for each run. Everything is
//! on 127.0.0.1; configs go to a temporary directory; processes are started
//! and stopped by PID.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

/// `cargo xtask bench ...`.
#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// had's lb-proxy vs HAProxy, nginx and Apache as round-robin reverse proxies.
    Proxy(ProxyArgs),
    /// Timer error and CPU with script vs built-in health checks (see bench_checks).
    Checks(crate::bench_checks::BenchChecksArgs),
    /// had vs HAProxy vs nginx terminating TLS: full handshakes/s, HTTPS and
    /// HTTP/2 req/s, memory per idle TLS connection (see bench_tls).
    Tls(crate::bench_tls::TlsArgs),
}

/// Options of `bench proxy`.
#[derive(Args)]
struct ProxyArgs {
    /// Seconds of measured load per run (after a 1 s warm-up).
    #[arg(long, default_value_t = 6)]
    duration: u64,
    /// Interleaved rounds; the table shows the median of the rounds.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Client connection counts to run.
    #[arg(long, value_delimiter = ',', default_value = "50,400")]
    conns: Vec<u32>,
    /// CPU for the proxies under test.
    #[arg(long, default_value_t = 0)]
    proxy_cpu: u32,
    /// CPU for wrk and the nginx members.
    #[arg(long, default_value_t = 1)]
    client_cpu: u32,
    /// Only these proxies (had, had+routes, had+log, haproxy, nginx, apache, example).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Use this build of the had daemon instead of building `target/release/had`.
    #[arg(long)]
    daemon_bin: Option<PathBuf>,
    /// Also run this build of lb-proxy's example runner (`lb-proxy/examples/proxy.rs`);
    /// repeat for A/B runs of two builds (rows `example#1`, `example#2`, ...).
    #[arg(long)]
    had_bin: Vec<PathBuf>,
    /// Each wrk connection waits this many milliseconds after a response
    /// before its next request (a wrk Lua `delay()`): every proxy then gets
    /// the same offered load below saturation, so latencies compare at equal
    /// load instead of at each proxy's own maximum.
    #[arg(long)]
    pace_ms: Option<u32>,
    /// Count instructions per request under `valgrind --tool=callgrind`
    /// instead of timing: each proxy runs under callgrind, counters are
    /// zeroed after a warm-up, then `wrk` runs for `--duration` seconds at the
    /// first of `--conns`. Repeatable whatever else the machine is doing.
    #[arg(long)]
    callgrind: bool,
}

/// Entry point.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        What::Proxy(a) if a.callgrind => callgrind(&a),
        What::Proxy(a) => proxy(&a),
        What::Checks(a) => crate::bench_checks::run(a),
        What::Tls(a) => crate::bench_tls::run(&a),
    }
}

pub(crate) const MEMBER_PORTS: [u16; 2] = [18_481, 18_482];
const FRONT_PORT: u16 = 18_480;

/// A process tree we started, stopped by PID on drop.
pub(crate) struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    pub(crate) fn spawn(
        name: &str,
        cpu: u32,
        program: &Path,
        args: &[String],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let out = std::fs::File::create(log)?;
        let child = Command::new("taskset")
            .arg("-c")
            .arg(cpu.to_string())
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("start {name} ({})", program.display()))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the process and its children, in KiB.
    fn rss_kib(&self) -> u64 {
        rss_tree_kib(self.pid())
    }

    pub(crate) fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} did not stop on SIGTERM; killing", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

/// `root` and its direct children.
fn process_tree(root: u32) -> Vec<u32> {
    let mut pids = vec![root];
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the parenthesised command: state, ppid, ...
            let ppid = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.split(' ').nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(root) {
                pids.push(pid);
            }
        }
    }
    pids
}

/// CPU time (user + system) used so far by `root` and its children, in clock ticks.
pub(crate) fn cpu_ticks(root: u32) -> u64 {
    process_tree(root)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|stat| {
            // After the command: state is field 3, utime 14, stime 15 (proc(5)).
            let rest = stat.rsplit_once(") ")?.1;
            let f: Vec<&str> = rest.split(' ').collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

/// Resident memory of `root` and its direct children, in KiB.
pub(crate) fn rss_tree_kib(root: u32) -> u64 {
    process_tree(root)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}

pub(crate) fn wait_for_port(port: u16, proc: &mut Proc) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // Generous: a proxy under valgrind takes seconds to start.
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = proc.child.try_wait() {
            let log = std::fs::read_to_string(&proc.log).unwrap_or_default();
            bail!("{} exited early ({status}): {}", proc.name, log.trim());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{} is not listening on {port}", proc.name)
}

/// The proxies under test.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The had daemon (`had --config FILE`) with one `[proxy.web]`.
    Had,
    /// The same daemon with 5 virtual hosts × 20 routes and a sticky cookie
    /// on every request (see `bench_routed`).
    HadRouted,
    /// The same with the combined access log on.
    HadLog,
    /// lb-proxy's example runner, the `--had-bin` build with this index.
    Example(usize),
    Haproxy,
    Nginx,
    Apache,
}

impl Kind {
    fn name(self) -> String {
        match self {
            Self::Had => "had".into(),
            Self::HadRouted => "had+routes".into(),
            Self::HadLog => "had+log".into(),
            Self::Example(i) => format!("example#{}", i + 1),
            Self::Haproxy => "haproxy".into(),
            Self::Nginx => "nginx".into(),
            Self::Apache => "apache".into(),
        }
    }

    /// Whether `--only` selects this kind (`example` selects every example build).
    fn selected(self, only: &[String]) -> bool {
        only.is_empty()
            || only
                .iter()
                .any(|o| *o == self.name() || (o == "example" && matches!(self, Self::Example(_))))
    }
}

struct Env {
    dir: PathBuf,
    /// wrk script pacing each connection (`--pace-ms`).
    pace_script: Option<PathBuf>,
    daemon_bin: PathBuf,
    examples: Vec<PathBuf>,
    proxy_cpu: u32,
    /// Run proxies under callgrind, writing its files into this directory.
    callgrind_dir: Option<PathBuf>,
}

fn member_urls() -> Vec<String> {
    MEMBER_PORTS
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect()
}

pub(crate) fn start_members(dir: &Path, cpu: u32) -> anyhow::Result<Proc> {
    let conf = dir.join("members.conf");
    let mut servers = String::new();
    for (i, p) in MEMBER_PORTS.iter().enumerate() {
        let _ = writeln!(
            servers,
            "  server {{ listen 127.0.0.1:{p}; location / {{ default_type text/plain; return 200 \"member {i}: a small page standing in for a backend response\\n\"; }} }}"
        );
    }
    std::fs::write(
        &conf,
        format!(
            "worker_processes 1;\ndaemon off;\npid {dir}/members.pid;\nerror_log {dir}/members_error.log;\nevents {{ worker_connections 4096; }}\nhttp {{\n  access_log off;\n  keepalive_requests 1000000;\n  keepalive_timeout 60s;\n{servers}}}\n",
            dir = dir.display()
        ),
    )?;
    let mut p = Proc::spawn(
        "nginx members",
        cpu,
        Path::new("/usr/sbin/nginx"),
        &["-c".into(), conf.display().to_string()],
        &dir.join("members.log"),
    )?;
    for port in MEMBER_PORTS {
        wait_for_port(port, &mut p)?;
    }
    Ok(p)
}

fn start_proxy(kind: Kind, env: &Env) -> anyhow::Result<Proc> {
    let dir = &env.dir;
    let d = dir.display();
    let [m1, m2] = MEMBER_PORTS;
    let (program, args): (PathBuf, Vec<String>) = match kind {
        Kind::HadRouted => {
            let conf = dir.join("had_routed.toml");
            std::fs::write(
                &conf,
                crate::bench_routed::had_toml(
                    &format!("[global]\ncontrol_socket = \"{d}/had.sock\"\n"),
                    FRONT_PORT,
                    &member_urls(),
                ),
            )?;
            (
                env.daemon_bin.clone(),
                vec!["--config".into(), conf.display().to_string()],
            )
        }
        Kind::Had | Kind::HadLog => {
            // A proxy-only daemon: no VRRP instance, the seed's Apache settings.
            let conf = dir.join("had.toml");
            let members: Vec<String> = member_urls()
                .iter()
                .map(|u| format!("{{ url = \"{u}\" }}"))
                .collect();
            let access_log = if kind == Kind::HadLog {
                format!("access_log = \"{d}/had_access.log\"\n")
            } else {
                String::new()
            };
            std::fs::write(
                &conf,
                format!(
                    "[global]\ncontrol_socket = \"{d}/had.sock\"\n\n[proxy.web]\nlisten = [\"127.0.0.1:{FRONT_PORT}\"]\npreserve_host = true\npass_reverse = true\nlbmethod = \"byrequests\"\nmembers = [{}]\n{access_log}",
                    members.join(", ")
                ),
            )?;
            (
                env.daemon_bin.clone(),
                vec!["--config".into(), conf.display().to_string()],
            )
        }
        Kind::Example(i) => {
            let program = env
                .examples
                .get(i)
                .context("no such example build")?
                .clone();
            let mut args = vec![format!("127.0.0.1:{FRONT_PORT}")];
            args.extend(member_urls());
            (program, args)
        }
        Kind::Haproxy => {
            let conf = dir.join("haproxy.cfg");
            std::fs::write(
                &conf,
                format!(
                    "global\n  nbthread 1\n  maxconn 4096\n\ndefaults\n  mode http\n  option http-keep-alive\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\nfrontend fe\n  bind 127.0.0.1:{FRONT_PORT}\n  default_backend mycluster\n\nbackend mycluster\n  balance roundrobin\n  server m1 127.0.0.1:{m1}\n  server m2 127.0.0.1:{m2}\n"
                ),
            )?;
            (
                PathBuf::from("/usr/sbin/haproxy"),
                vec!["-db".into(), "-f".into(), conf.display().to_string()],
            )
        }
        Kind::Nginx => {
            let conf = dir.join("nginx_proxy.conf");
            // Under callgrind the worker keeps root's identity: callgrind_control
            // cannot reach a valgrind process that switched to another user.
            let user = if env.callgrind_dir.is_some() {
                "user root;\n"
            } else {
                ""
            };
            std::fs::write(
                &conf,
                format!(
                    "{user}worker_processes 1;\ndaemon off;\npid {d}/nginx_proxy.pid;\nerror_log {d}/nginx_proxy_error.log;\nevents {{ worker_connections 4096; }}\nhttp {{\n  access_log off;\n  keepalive_requests 1000000;\n  upstream mycluster {{ server 127.0.0.1:{m1}; server 127.0.0.1:{m2}; keepalive 128; }}\n  server {{\n    listen 127.0.0.1:{FRONT_PORT};\n    location / {{\n      proxy_pass http://mycluster;\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      proxy_set_header Host $host;\n    }}\n  }}\n}}\n"
                ),
            )?;
            (
                PathBuf::from("/usr/sbin/nginx"),
                vec!["-c".into(), conf.display().to_string()],
            )
        }
        Kind::Apache => {
            let conf = dir.join("apache.conf");
            let m = "/usr/lib/apache2/modules";
            std::fs::write(
                &conf,
                format!(
                    "ServerRoot {d}\nDefaultRuntimeDir {d}\nPidFile {d}/apache.pid\nErrorLog {d}/apache_error.log\nMutex file:{d} default\nListen 127.0.0.1:{FRONT_PORT}\nUser www-data\nGroup www-data\nServerName 127.0.0.1\n\
LoadModule mpm_event_module {m}/mod_mpm_event.so\nLoadModule authz_core_module {m}/mod_authz_core.so\n\
LoadModule slotmem_shm_module {m}/mod_slotmem_shm.so\nLoadModule proxy_module {m}/mod_proxy.so\nLoadModule proxy_http_module {m}/mod_proxy_http.so\n\
LoadModule proxy_balancer_module {m}/mod_proxy_balancer.so\nLoadModule lbmethod_byrequests_module {m}/mod_lbmethod_byrequests.so\n\
StartServers 1\nServerLimit 1\nThreadLimit 512\nThreadsPerChild 512\nMaxRequestWorkers 512\nMinSpareThreads 1\nMaxSpareThreads 512\n\
KeepAlive On\nMaxKeepAliveRequests 0\nKeepAliveTimeout 30\n\
LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b \\\"%{{Referer}}i\\\" \\\"%{{User-Agent}}i\\\"\" combined\n\
# The seed's section 6, with its two members on loopback.\n\
<VirtualHost *:{FRONT_PORT}>\n    ServerName 127.0.0.1\n    ProxyPreserveHost On\n    <Proxy \"balancer://mycluster\">\n        BalancerMember http://127.0.0.1:{m1}\n        BalancerMember http://127.0.0.1:{m2}\n        ProxySet lbmethod=byrequests\n    </Proxy>\n    ProxyPass / balancer://mycluster/\n    ProxyPassReverse / balancer://mycluster/\n    ErrorLog {d}/proxy_error.log\n    CustomLog {d}/proxy_access.log combined\n</VirtualHost>\n"
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
    let (program, args) = match &env.callgrind_dir {
        None => (program, args),
        Some(out) => {
            let mut wrapped = vec![
                "--tool=callgrind".to_owned(),
                "--trace-children=yes".to_owned(),
                format!(
                    "--callgrind-out-file={}/callgrind.{}.%p",
                    out.display(),
                    kind.name()
                ),
                program.display().to_string(),
            ];
            wrapped.extend(args);
            (PathBuf::from("valgrind"), wrapped)
        }
    };
    let mut p = Proc::spawn(
        &kind.name(),
        env.proxy_cpu,
        &program,
        &args,
        &dir.join(format!("{}.log", kind.name())),
    )?;
    wait_for_port(FRONT_PORT, &mut p)?;
    if kind == Kind::HadRouted {
        crate::bench_routed::check(FRONT_PORT)?;
    }
    Ok(p)
}

/// What wrk sends: the path and extra header lines.
#[derive(Default)]
struct Load {
    path: String,
    headers: Vec<String>,
}

impl Load {
    /// `GET /` for every proxy but `had+routes`, which gets its host's name,
    /// a late route's path and the sticky cookie.
    fn of(kind: Kind) -> Self {
        match kind {
            Kind::HadRouted => Self {
                path: crate::bench_routed::path(),
                headers: vec![
                    format!("Host: {}", crate::bench_routed::host_header(FRONT_PORT)),
                    format!("Cookie: {}", crate::bench_routed::COOKIE),
                ],
            },
            _ => Self {
                path: "/".into(),
                headers: Vec::new(),
            },
        }
    }
}

/// One wrk result.
#[derive(Clone, Copy, Default)]
pub(crate) struct Sample {
    pub(crate) rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    pub(crate) errors: u64,
    rss_idle_kib: u64,
    rss_load_kib: u64,
    cpu_us_per_req: f64,
}

fn parse_latency(s: &str) -> Option<f64> {
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| s.split_at(i))?;
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v / 1000.0,
        "ms" => v,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => return None,
    })
}

fn wrk(
    cpu: u32,
    conns: u32,
    secs: u64,
    script: Option<&Path>,
    load: &Load,
) -> anyhow::Result<Sample> {
    wrk_url(
        cpu,
        conns,
        secs,
        script,
        &load.headers,
        &format!("http://127.0.0.1:{FRONT_PORT}{}", load.path),
    )
}

/// `wrk -t1 -cCONNS -dSECS` pinned to `cpu` against `url` (http or https),
/// with extra header lines.
pub(crate) fn wrk_url(
    cpu: u32,
    conns: u32,
    secs: u64,
    script: Option<&Path>,
    headers: &[String],
    url: &str,
) -> anyhow::Result<Sample> {
    let mut cmd = Command::new("taskset");
    cmd.args([
        "-c",
        &cpu.to_string(),
        "wrk",
        "-t1",
        &format!("-c{conns}"),
        &format!("-d{secs}s"),
        "--latency",
        "--timeout",
        "5s",
    ]);
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    for h in headers {
        cmd.arg("-H").arg(h);
    }
    let out = cmd.arg(url).output().context("run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    let mut s = Sample::default();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => s.rps = v.parse().unwrap_or(0.0),
            ["50%", v] => s.p50_ms = parse_latency(v).unwrap_or(f64::NAN),
            ["99%", v] => s.p99_ms = parse_latency(v).unwrap_or(f64::NAN),
            ["Non-2xx", "or", "3xx", "responses:", n] => s.errors += n.parse::<u64>().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                s.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    Ok(s)
}

fn measure(
    kind: Kind,
    env: &Env,
    client_cpu: u32,
    conns: u32,
    secs: u64,
) -> anyhow::Result<Sample> {
    let mut p = start_proxy(kind, env)?;
    std::thread::sleep(Duration::from_millis(300));
    let rss_idle_kib = p.rss_kib();
    let load = Load::of(kind);
    wrk(client_cpu, conns, 1, env.pace_script.as_deref(), &load)?;
    let pid = p.pid();
    // RSS under load, sampled half-way through the run.
    let sampler = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(secs) / 2);
        rss_tree_kib(pid)
    });
    let ticks_before = cpu_ticks(pid);
    let mut s = wrk(client_cpu, conns, secs, env.pace_script.as_deref(), &load)?;
    let ticks = cpu_ticks(pid).saturating_sub(ticks_before);
    // Clock ticks are 10 ms (USER_HZ = 100 on Linux).
    #[allow(clippy::cast_precision_loss)]
    let total_requests = s.rps * secs as f64;
    #[allow(clippy::cast_precision_loss)]
    let cpu_us = ticks as f64 * 10_000.0;
    s.cpu_us_per_req = if total_requests > 0.0 {
        cpu_us / total_requests
    } else {
        f64::NAN
    };
    s.rss_load_kib = sampler.join().unwrap_or(0);
    s.rss_idle_kib = rss_idle_kib;
    p.stop();
    Ok(s)
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => f64::midpoint(v[n / 2 - 1], v[n / 2]),
    }
}

/// Fails naming the first of `tools` that is not on this machine, with the
/// Debian packages that bring them.
pub(crate) fn require_tools(tools: &[&str], packages: &str) -> anyhow::Result<()> {
    for tool in tools {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .map_or(true, |s| !s.success())
        {
            bail!("{tool} is not installed (apt-get install {packages})");
        }
    }
    Ok(())
}

/// The daemon the `had` rows run: `--daemon-bin`, else a fresh release
/// build when a `had` row is selected (empty path when none is).
fn daemon_binary(a: &ProxyArgs, kinds: &[Kind]) -> anyhow::Result<PathBuf> {
    match &a.daemon_bin {
        Some(p) => Ok(p.clone()),
        None if kinds
            .iter()
            .any(|k| matches!(k, Kind::Had | Kind::HadRouted | Kind::HadLog)) =>
        {
            had_binary()
        }
        None => Ok(PathBuf::new()),
    }
}

/// The workspace's target directory (`CARGO_TARGET_DIR` if set).
pub(crate) fn workspace_target() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| Path::new("."));
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Builds the had daemon (release) and returns its path.
pub(crate) fn had_binary() -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?
        .to_owned();
    let target = workspace_target();
    eprintln!("building the had daemon (release) ...");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--quiet", "--release", "-p", "had", "--bin", "had"])
        .current_dir(&root)
        .status()
        .context("cargo build")?;
    if !status.success() {
        bail!("building the had daemon failed");
    }
    Ok(target.join("release/had"))
}

/// The 1-minute load average, as `/proc/loadavg` prints it.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn proxy(a: &ProxyArgs) -> anyhow::Result<()> {
    require_tools(
        &[
            "taskset",
            "wrk",
            "/usr/sbin/nginx",
            "/usr/sbin/haproxy",
            "/usr/sbin/apache2",
        ],
        "wrk nginx haproxy apache2",
    )?;
    let kinds: Vec<Kind> = [
        Kind::Had,
        Kind::HadRouted,
        Kind::Haproxy,
        Kind::Nginx,
        Kind::Apache,
    ]
    .into_iter()
    .chain((0..a.had_bin.len()).map(Kind::Example))
    .chain([Kind::HadLog])
    .filter(|k| k.selected(&a.only))
    .collect();
    if kinds.is_empty() {
        bail!(
            "--only {} selects no proxy (had, had+routes, had+log, haproxy, nginx, apache, or example with --had-bin)",
            a.only.join(",")
        );
    }
    let daemon_bin = daemon_binary(a, &kinds)?;
    let dir = std::env::temp_dir().join(format!("had-bench-proxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // Apache drops privileges to www-data; let it reach its run dir.
    let _ = Command::new("chmod").arg("0777").arg(&dir).status();
    let pace_script = match a.pace_ms {
        Some(ms) => {
            let script = dir.join("pace.lua");
            std::fs::write(&script, format!("function delay()\n  return {ms}\nend\n"))?;
            Some(script)
        }
        None => None,
    };
    let env = Env {
        dir: dir.clone(),
        pace_script,
        daemon_bin: daemon_bin.clone(),
        examples: a.had_bin.clone(),
        proxy_cpu: a.proxy_cpu,
        callgrind_dir: None,
    };
    let load_before = load_average();
    let result = (|| -> anyhow::Result<Vec<(Kind, u32, Vec<Sample>)>> {
        let _members = start_members(&dir, a.client_cpu)?;
        let mut results: Vec<(Kind, u32, Vec<Sample>)> = a
            .conns
            .iter()
            .flat_map(|&c| kinds.iter().map(move |&k| (k, c, Vec::new())))
            .collect();
        for round in 1..=a.rounds {
            for &conns in &a.conns {
                // Every other round runs the proxies in reverse order, so no
                // proxy always goes first (or right after a given one).
                let order: Vec<Kind> = if round % 2 == 0 {
                    kinds.iter().rev().copied().collect()
                } else {
                    kinds.clone()
                };
                for kind in order {
                    let s = measure(kind, &env, a.client_cpu, conns, a.duration)?;
                    eprintln!(
                        "round {round} c={conns:<3} {:<8} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}  cpu {:.1} us/req  rss {} KiB idle / {} KiB loaded",
                        kind.name(),
                        s.rps,
                        s.p50_ms,
                        s.p99_ms,
                        s.errors,
                        s.cpu_us_per_req,
                        s.rss_idle_kib,
                        s.rss_load_kib
                    );
                    if let Some(r) = results
                        .iter_mut()
                        .find(|(k, c, _)| *k == kind && *c == conns)
                    {
                        r.2.push(s);
                    }
                }
            }
        }
        Ok(results)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    let results = result?;
    let mut extra = String::new();
    if let Some(p) = &a.daemon_bin {
        let _ = write!(extra, " --daemon-bin {}", p.display());
    }
    for p in &a.had_bin {
        let _ = write!(extra, " --had-bin {}", p.display());
    }
    if !a.only.is_empty() {
        let _ = write!(extra, " --only {}", a.only.join(","));
    }
    if let Some(ms) = a.pace_ms {
        let _ = write!(extra, " --pace-ms {ms}");
    }
    println!(
        "\n`cargo xtask bench proxy --duration {} --rounds {}{extra}`: proxies pinned to CPU {}, wrk -t1 and two nginx members on CPU {}, 127.0.0.1; median of {} interleaved rounds{}; load average before/after: {load_before} / {}.",
        a.duration,
        a.rounds,
        a.proxy_cpu,
        a.client_cpu,
        a.rounds,
        a.pace_ms.map_or_else(String::new, |ms| format!(
            "; each connection waits {ms} ms between a response and its next request"
        )),
        load_average()
    );
    if kinds.iter().any(|k| matches!(k, Kind::Had | Kind::HadLog)) {
        println!(
            "had = the daemon `{} --config had.toml` with one `[proxy.web]` (no VRRP instance); had+log adds `access_log`.",
            daemon_bin.display()
        );
    }
    for (i, p) in a.had_bin.iter().enumerate() {
        println!(
            "example#{} = lb-proxy's example runner `{}` (lb-proxy/examples/proxy.rs).",
            i + 1,
            p.display()
        );
    }
    println!();
    println!(
        "| proxy | conns | req/s | p50 ms | p99 ms | errors | CPU µs/req | RSS idle KiB | RSS loaded KiB | req/s per round |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for (kind, conns, samples) in &results {
        let per_round: Vec<String> = samples.iter().map(|s| format!("{:.0}", s.rps)).collect();
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {:.1} | {} | {} | {} |",
            kind.name(),
            conns,
            median(samples.iter().map(|s| s.rps).collect()),
            median(samples.iter().map(|s| s.p50_ms).collect()),
            median(samples.iter().map(|s| s.p99_ms).collect()),
            samples.iter().map(|s| s.errors).sum::<u64>(),
            median(samples.iter().map(|s| s.cpu_us_per_req).collect()),
            samples.iter().map(|s| s.rss_idle_kib).max().unwrap_or(0),
            samples.iter().map(|s| s.rss_load_kib).max().unwrap_or(0),
            per_round.join(" / ")
        );
    }
    println!();
    for &conns in &a.conns {
        let samples_of = |k: Kind| {
            results
                .iter()
                .find(|(kk, c, _)| *kk == k && *c == conns)
                .map(|(_, _, s)| s.as_slice())
        };
        let median_of = |k: Kind, of: fn(&Sample) -> f64| {
            samples_of(k).map(|s| median(s.iter().map(of).collect()))
        };
        let rps = |k: Kind| median_of(k, |s| s.rps);
        let p99 = |k: Kind| median_of(k, |s| s.p99_ms);
        let cpu = |k: Kind| median_of(k, |s| s.cpu_us_per_req);
        for ours in kinds
            .iter()
            .copied()
            .filter(|k| matches!(k, Kind::Had | Kind::HadRouted | Kind::Example(_)))
        {
            if let (Some(h), Some(x), Some(hp), Some(xp), Some(hc), Some(xc)) = (
                rps(ours),
                rps(Kind::Haproxy),
                p99(ours),
                p99(Kind::Haproxy),
                cpu(ours),
                cpu(Kind::Haproxy),
            ) {
                // Each round runs the proxies back to back, so the ratio
                // within a round is less exposed to the VM's slow drifts
                // than the ratio of medians.
                let paired = |of: fn(&Sample) -> f64| -> Vec<f64> {
                    match (samples_of(ours), samples_of(Kind::Haproxy)) {
                        (Some(o), Some(x)) => o
                            .iter()
                            .zip(x)
                            .filter(|(_, x)| of(x) > 0.0)
                            .map(|(o, x)| of(o) / of(x))
                            .collect(),
                        _ => Vec::new(),
                    }
                };
                let rps_ratios = paired(|s| s.rps);
                let p99_ratios = paired(|s| s.p99_ms);
                let range = |v: &[f64]| {
                    (
                        v.iter().copied().fold(f64::INFINITY, f64::min),
                        v.iter().copied().fold(0.0, f64::max),
                    )
                };
                let (lowest, highest) = range(&rps_ratios);
                let (p99_lowest, p99_highest) = range(&p99_ratios);
                println!(
                    "c={conns}: {name}/HAProxy req/s = {:.2} (median of per-round ratios {:.2}, range {lowest:.2}-{highest:.2}), CPU µs/req = {:.2}; p99 {name} {hp:.2} ms vs HAProxy {xp:.2} ms (median of per-round ratios {:.2}, range {p99_lowest:.2}-{p99_highest:.2})",
                    h / x,
                    median(rps_ratios),
                    hc / xc,
                    median(p99_ratios),
                    name = ours.name()
                );
            }
        }
    }
    Ok(())
}

/// One callgrind round: (instructions per request, requests counted).
type Counted = (f64, f64);

/// `bench proxy --callgrind`: instructions per request, each proxy under
/// callgrind in turn (same members, same wrk load), as a ratio to HAProxy.
fn callgrind(a: &ProxyArgs) -> anyhow::Result<()> {
    require_tools(
        &[
            "valgrind",
            "callgrind_control",
            "taskset",
            "wrk",
            "/usr/sbin/nginx",
            "/usr/sbin/haproxy",
        ],
        "valgrind wrk nginx haproxy",
    )?;
    // Apache's thread pool under valgrind is too slow to be meaningful.
    let kinds: Vec<Kind> = [Kind::Had, Kind::HadRouted, Kind::Haproxy, Kind::Nginx]
        .into_iter()
        .chain((0..a.had_bin.len()).map(Kind::Example))
        .chain([Kind::HadLog])
        .filter(|k| k.selected(&a.only))
        .collect();
    let conns = a.conns.first().copied().unwrap_or(50);
    let daemon_bin = daemon_binary(a, &kinds)?;
    let dir = std::env::temp_dir().join(format!("had-bench-callgrind-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let keep = workspace_target().join("bench-callgrind");
    let result = (|| -> anyhow::Result<Vec<(Kind, Vec<Counted>)>> {
        let _members = start_members(&dir, a.client_cpu)?;
        let mut results: Vec<(Kind, Vec<Counted>)> =
            kinds.iter().map(|&k| (k, Vec::new())).collect();
        for round in 1..=a.rounds {
            for (kind, samples) in &mut results {
                // Kept after the run for callgrind_annotate.
                let out = keep.join(format!("{}-{round}", kind.name()));
                let _ = std::fs::remove_dir_all(&out);
                std::fs::create_dir_all(&out)?;
                let env = Env {
                    dir: dir.clone(),
                    pace_script: None,
                    daemon_bin: daemon_bin.clone(),
                    examples: a.had_bin.clone(),
                    proxy_cpu: a.proxy_cpu,
                    callgrind_dir: Some(out.clone()),
                };
                let mut p = start_proxy(*kind, &env)?;
                // Warm-up (pools filled, code paged in), then count only the run.
                let load = Load::of(*kind);
                wrk(a.client_cpu, conns, 2, None, &load)?;
                let pids = process_tree(p.pid());
                callgrind_control("-z", &pids)?;
                let s = wrk(a.client_cpu, conns, a.duration, None, &load)?;
                let dumped = callgrind_control("-d", &pids)?;
                p.stop();
                #[allow(clippy::cast_precision_loss)]
                let requests = s.rps * a.duration as f64;
                let instructions = dumped_instructions(&out, &dumped)?;
                let per_request = if requests > 0.0 {
                    instructions / requests
                } else {
                    f64::NAN
                };
                eprintln!(
                    "round {round} c={conns} {:<9} {requests:>8.0} requests  {:>9.0} instructions/request  errors {}",
                    kind.name(),
                    per_request,
                    s.errors
                );
                samples.push((per_request, requests));
            }
        }
        Ok(results)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    let results = result?;
    println!(
        "\n`cargo xtask bench proxy --callgrind --duration {} --rounds {} --conns {conns}`: each proxy under valgrind --tool=callgrind pinned to CPU {}, wrk -t1 -c{conns} and two nginx members on CPU {}; counters zeroed after a 2 s warm-up; instructions of the proxy's processes / requests wrk completed; median of {} rounds. Profiles: `callgrind_annotate --inclusive=yes {}/<proxy>-<round>/callgrind.*.1`.\n",
        a.duration,
        a.rounds,
        a.proxy_cpu,
        a.client_cpu,
        a.rounds,
        keep.display()
    );
    println!("| proxy | instructions/request | requests counted | per round |");
    println!("|---|---:|---:|---|");
    let median_of = |k: Kind| {
        results
            .iter()
            .find(|(kk, _)| *kk == k)
            .map(|(_, s)| median(s.iter().map(|x| x.0).collect()))
    };
    for (kind, samples) in &results {
        let per_round: Vec<String> = samples.iter().map(|s| format!("{:.0}", s.0)).collect();
        println!(
            "| {} | {:.0} | {:.0} | {} |",
            kind.name(),
            median(samples.iter().map(|s| s.0).collect()),
            median(samples.iter().map(|s| s.1).collect()),
            per_round.join(" / ")
        );
    }
    if let Some(hx) = median_of(Kind::Haproxy) {
        println!();
        for (kind, _) in results.iter().filter(|(k, _)| *k != Kind::Haproxy) {
            if let Some(x) = median_of(*kind) {
                println!(
                    "{}/HAProxy instructions per request = {:.2}",
                    kind.name(),
                    x / hx
                );
            }
        }
    }
    if let (Some(single), Some(routed)) = (median_of(Kind::Had), median_of(Kind::HadRouted)) {
        println!(
            "had+routes/had instructions per request = {:.3} (the cost of {} virtual hosts × {} routes and a sticky cookie)",
            routed / single,
            crate::bench_routed::HOSTS,
            crate::bench_routed::ROUTES
        );
    }
    Ok(())
}

/// Runs `callgrind_control ACTION PID` (`-z` zero, `-d` dump) for each of
/// the proxy's processes and returns those that answered. A process blocked
/// in a system call for the whole run (nginx's master) executes no code that
/// would read the request, so each gets a few seconds; at least one must
/// answer. (Without a PID, callgrind_control waits for every valgrind process
/// on the machine, and waited forever for nginx's master.)
fn callgrind_control(action: &str, pids: &[u32]) -> anyhow::Result<Vec<u32>> {
    let mut answered = Vec::new();
    for pid in pids {
        let status = Command::new("timeout")
            .args(["5", "callgrind_control", action, &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("run callgrind_control")?;
        if status.success() {
            answered.push(*pid);
        }
    }
    if answered.is_empty() {
        bail!("no process of {pids:?} answered callgrind_control {action}");
    }
    Ok(answered)
}

/// Sum of the instruction totals of the dumps callgrind wrote into `dir`
/// on request (`callgrind_control -d`: `callgrind.<proxy>.<pid>.1`), over the
/// processes in `pids` (those that answered the dump request).
fn dumped_instructions(dir: &Path, pids: &[u32]) -> anyhow::Result<f64> {
    let mut total = 0.0;
    let mut files = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("1") {
            continue;
        }
        let pid = path
            .file_stem()
            .and_then(|stem| stem.to_str()?.rsplit('.').next()?.parse::<u32>().ok());
        if !pid.is_some_and(|pid| pids.contains(&pid)) {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let value = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("totals:")
                    .or_else(|| l.strip_prefix("summary:"))
            })
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .with_context(|| format!("no totals in {}", path.display()))?;
        total += value;
        files += 1;
    }
    if files == 0 {
        bail!("callgrind wrote no dump into {}", dir.display());
    }
    Ok(total)
}
