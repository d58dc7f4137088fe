//! `cargo xtask bench tls`: had, HAProxy and nginx terminating TLS, side by side.
//!
//! The same machinery as `bench proxy` (see `bench.rs`): every proxy pinned
//! with `taskset` to one CPU, the clients and the two plain-HTTP nginx
//! members on the other, rounds interleaved (proxy after proxy, the order
//! reversed every other round), each proxy started fresh for each run, medians
//! of the rounds. One ECDSA P-256 certificate, generated with `openssl` into
//! the run's temporary directory, serves all three. Four measures:
//!
//! 1. Full handshakes per second, a new TLS connection per request. The
//!    client is this process (rustls, ring) on the client CPU: session
//!    resumption disabled, and every connection's `handshake_kind()` checked
//!    to be a full handshake. Neither `wrk` (its `SSL_clear` keeps the session
//!    and offers it again on reconnect) nor `openssl s_time -new` (one
//!    handshake at a time per process: four of them reached about 380
//!    handshakes/s with had's CPU 12% busy) would do.
//! 2. HTTPS keep-alive requests per second: `wrk -t1 -c50`.
//! 3. HTTP/2 requests per second: `h2load -c 10 -m 10`.
//! 4. Memory per idle TLS connection: 1,000 connections opened by this
//!    process (handshake complete, nothing sent after it); the proxy's RSS
//!    after minus before, over the connections the kernel still shows
//!    established on the proxy's port.
//!
//! The clients of measures 1 and 4 need optimised crypto: run from a debug
//! build (plain `cargo xtask`), the bench builds the release xtask and runs
//! the same command line with it.
//!
//! Everything is on 127.0.0.1; processes are started and stopped by PID;
//! the temporary directory is removed at the end, error or not.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, HandshakeKind, SignatureScheme};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::bench::{self, Proc};

/// The TLS front of every proxy under test (`bench proxy` uses 18480).
const TLS_PORT: u16 = 18_443;
/// The certificate's name, sent as SNI and Host.
const HOST: &str = "bench.test";
/// Seconds of warm-up load before each measured run.
const WARM_UP_SECS: u64 = 1;
/// One request on a connection that is then closed.
const CLOSE_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n";
/// How long one connection of a client may take (connect, handshake, response).
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Options of `bench tls`.
#[derive(Args)]
pub struct TlsArgs {
    /// Seconds of measured load per run (after a 1 s warm-up).
    #[arg(long, default_value_t = 5)]
    duration: u64,
    /// Interleaved rounds; the tables show each round and the median.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Only these proxies (had, haproxy, nginx).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Use this build of the had daemon instead of building `target/release/had`.
    #[arg(long)]
    daemon_bin: Option<PathBuf>,
    /// CPU for the proxies under test.
    #[arg(long, default_value_t = 0)]
    proxy_cpu: u32,
    /// CPU for the clients (this process's TLS clients, wrk, h2load) and the nginx members.
    #[arg(long, default_value_t = 1)]
    client_cpu: u32,
    /// Concurrent connections of the full-handshake client.
    #[arg(long, default_value_t = 32)]
    handshake_conns: usize,
    /// Idle TLS connections held open for the memory measure.
    #[arg(long, default_value_t = 1000)]
    idle_conns: usize,
}

/// The proxies under test.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Had,
    Haproxy,
    Nginx,
}

impl Kind {
    const ALL: [Self; 3] = [Self::Had, Self::Haproxy, Self::Nginx];

    fn name(self) -> &'static str {
        match self {
            Self::Had => "had",
            Self::Haproxy => "haproxy",
            Self::Nginx => "nginx",
        }
    }
}

/// What one run measures.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Measure {
    Handshakes,
    Https,
    H2,
    Idle,
}

impl Measure {
    const ALL: [Self; 4] = [Self::Handshakes, Self::Https, Self::H2, Self::Idle];

    fn title(self) -> &'static str {
        match self {
            Self::Handshakes => {
                "Full TLS handshakes per second (a new connection per request, TLS 1.3)"
            }
            Self::Https => "HTTPS keep-alive requests per second (wrk -t1 -c50, HTTP/1.1)",
            Self::H2 => "HTTP/2 requests per second (h2load -c 10 -m 10)",
            Self::Idle => "Memory per idle TLS connection (KiB of RSS, lower is better)",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Self::Handshakes => "handshakes/s",
            Self::Https | Self::H2 => "req/s",
            Self::Idle => "KiB/conn",
        }
    }
}

/// One run of one measure against one proxy.
#[derive(Clone, Copy, Default)]
struct Run {
    /// Per second, or KiB per connection for [`Measure::Idle`].
    value: f64,
    /// Failed requests or connections (and, for handshakes, any that was
    /// not a full handshake).
    errors: u64,
    /// Proxy CPU per handshake or request, µs (NaN for the idle measure).
    cpu_us: f64,
    /// Share of its CPU the proxy used during the measured run.
    busy: f64,
    /// Share of its CPU the client used (handshakes and idle: this process's
    /// client thread; NaN for wrk and h2load).
    client_busy: f64,
    /// Busy share of the proxy's CPU and of the clients' CPU, all processes
    /// on the machine counted (`/proc/stat`): the proxy's CPU busier than the
    /// proxy means other processes took some of it.
    proxy_cpu_all: f64,
    /// Interrupts and softirqs on that CPU (also in the time of the process they interrupted).
    proxy_cpu_irq: f64,
    client_cpu_all: f64,
    /// Idle measure: connections established on the proxy's port while
    /// its RSS was read; the RSS before and after, KiB.
    held: usize,
    rss_before_kib: u64,
    rss_after_kib: u64,
}

/// What the run's temporary directory holds, and where things run.
struct Env {
    dir: PathBuf,
    daemon_bin: PathBuf,
    proxy_cpu: u32,
    client_cpu: u32,
    /// The bench certificate: the only one the clients accept.
    cert: CertificateDer<'static>,
}

/// Set in the release build this bench re-runs itself as.
const RELEASE_ENV: &str = "HAD_BENCH_TLS_RELEASE";

/// Entry point.
pub fn run(a: &TlsArgs) -> anyhow::Result<()> {
    if cfg!(debug_assertions) && std::env::var_os(RELEASE_ENV).is_none() {
        return rerun_release();
    }
    bench::require_tools(
        &[
            "taskset",
            "timeout",
            "openssl",
            "wrk",
            "h2load",
            "/usr/sbin/nginx",
            "/usr/sbin/haproxy",
        ],
        "util-linux coreutils openssl wrk nghttp2-client nginx haproxy",
    )?;
    for o in &a.only {
        if !Kind::ALL.iter().any(|k| k.name() == o) {
            bail!("--only {o}: not one of had, haproxy, nginx");
        }
    }
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| a.only.is_empty() || a.only.iter().any(|o| o == k.name()))
        .collect();
    if a.rounds == 0 || a.duration == 0 || a.handshake_conns == 0 || a.idle_conns == 0 {
        bail!("--rounds, --duration, --handshake-conns and --idle-conns must be at least 1");
    }
    check_fd_limit(a.idle_conns + a.handshake_conns + 64)?;
    // A listener already there would answer in place of the proxy under test.
    if std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], TLS_PORT)),
        Duration::from_millis(200),
    )
    .is_ok()
    {
        bail!("127.0.0.1:{TLS_PORT} is in use: another bench running?");
    }
    let daemon_bin = match (&a.daemon_bin, kinds.contains(&Kind::Had)) {
        (Some(p), _) => p.clone(),
        (None, true) => bench::had_binary()?,
        (None, false) => PathBuf::new(),
    };
    let dir = std::env::temp_dir().join(format!("had-bench-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let load_before = bench::load_average();
    let result = (|| -> anyhow::Result<Results> {
        let cert = make_certificate(&dir)?;
        let env = Env {
            dir: dir.clone(),
            daemon_bin: daemon_bin.clone(),
            proxy_cpu: a.proxy_cpu,
            client_cpu: a.client_cpu,
            cert,
        };
        let _members = bench::start_members(&dir, a.client_cpu)?;
        measure_all(a, &kinds, &env)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    let results = result?;
    print_report(a, &kinds, &daemon_bin, &results, &load_before);
    Ok(())
}

/// The handshake and idle clients run in this process, and in a debug
/// build (`cargo xtask` is `cargo run` without `--release`) rustls and
/// ring's C code are unoptimised: the client, not the proxy, would set the
/// rate. So a debug build builds the release xtask and runs the same
/// command line with it.
fn rerun_release() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?
        .to_owned();
    eprintln!("bench tls: the TLS clients need optimised crypto; building the release xtask ...");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--quiet", "--release", "-p", "xtask"])
        .current_dir(&root)
        .status()
        .context("cargo build")?;
    if !status.success() {
        bail!("building the release xtask failed");
    }
    let status = Command::new(bench::workspace_target().join("release/xtask"))
        .args(std::env::args_os().skip(1))
        .env(RELEASE_ENV, "1")
        .status()
        .context("run the release xtask")?;
    if !status.success() {
        bail!("the release xtask failed ({status})");
    }
    Ok(())
}

/// Every run, by measure and proxy, in round order; and what each proxy negotiated.
struct Results {
    runs: Vec<(Measure, Kind, Vec<Run>)>,
    negotiated: Vec<(Kind, String)>,
    /// What h2load said it negotiated with each proxy.
    h2_negotiated: Vec<(Kind, String)>,
}

impl Results {
    fn runs(&self, m: Measure, k: Kind) -> Option<&[Run]> {
        self.runs
            .iter()
            .find(|(mm, kk, _)| *mm == m && *kk == k)
            .map(|(_, _, r)| r.as_slice())
    }
}

fn measure_all(a: &TlsArgs, kinds: &[Kind], env: &Env) -> anyhow::Result<Results> {
    let mut results = Results {
        runs: Measure::ALL
            .iter()
            .flat_map(|&m| kinds.iter().map(move |&k| (m, k, Vec::new())))
            .collect(),
        negotiated: Vec::new(),
        h2_negotiated: Vec::new(),
    };
    for round in 1..=a.rounds {
        // Every other round runs the proxies in reverse order, so no proxy
        // always goes first (or right after a given one).
        let order: Vec<Kind> = if round % 2 == 0 {
            kinds.iter().rev().copied().collect()
        } else {
            kinds.to_vec()
        };
        for m in Measure::ALL {
            for &kind in &order {
                let mut p = start_proxy(kind, env)?;
                let negotiated = check(kind, env)?;
                if !results.negotiated.iter().any(|(k, _)| *k == kind) {
                    results.negotiated.push((kind, negotiated));
                }
                let r = match m {
                    Measure::Handshakes => handshakes(&p, env, a),
                    Measure::Https => https(&p, env, a.duration),
                    Measure::H2 => h2(&p, env, a.duration).map(|(r, tls)| {
                        if !results.h2_negotiated.iter().any(|(k, _)| *k == kind) {
                            results.h2_negotiated.push((kind, tls));
                        }
                        r
                    }),
                    Measure::Idle => idle(&p, env, a.idle_conns),
                };
                p.stop();
                let r = r.with_context(|| format!("{m:?} against {}", kind.name()))?;
                eprintln!(
                    "round {round} {:<10} {:<7} {:>9.1} {:<12} errors {:<4} cpu {:>6.1} us  proxy busy {:>3.0}%  client busy {:>3.0}%  CPU {} busy {:>3.0}% (irq {:>2.0}%)  CPU {} busy {:>3.0}%{}",
                    format!("{m:?}"),
                    kind.name(),
                    r.value,
                    m.unit(),
                    r.errors,
                    r.cpu_us,
                    r.busy * 100.0,
                    r.client_busy * 100.0,
                    a.proxy_cpu,
                    r.proxy_cpu_all * 100.0,
                    r.proxy_cpu_irq * 100.0,
                    a.client_cpu,
                    r.client_cpu_all * 100.0,
                    if m == Measure::Idle {
                        format!(
                            "  held {}  rss {} -> {} KiB",
                            r.held, r.rss_before_kib, r.rss_after_kib
                        )
                    } else {
                        String::new()
                    }
                );
                if let Some(v) = results
                    .runs
                    .iter_mut()
                    .find(|(mm, kk, _)| *mm == m && *kk == kind)
                {
                    v.2.push(r);
                }
            }
        }
    }
    Ok(results)
}

/// Fails unless this process may open `need` files (the idle measure holds
/// its connections here).
fn check_fd_limit(need: usize) -> anyhow::Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok());
    match soft {
        Some(n) if n < need => bail!(
            "open files limit {n} < {need}: raise it (ulimit -n {}) or lower --idle-conns",
            need.next_power_of_two()
        ),
        _ => Ok(()),
    }
}

/// The bench's ECDSA P-256 certificate (`cert.pem`, `key.pem`, and both in
/// `haproxy.pem` for HAProxy's `crt`); returns the certificate.
fn make_certificate(dir: &Path) -> anyhow::Result<CertificateDer<'static>> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=bench.test",
            "-addext",
            "subjectAltName=DNS:bench.test",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .context("run openssl req")?;
    if !out.status.success() {
        bail!(
            "openssl req failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let cert_pem = std::fs::read(&cert)?;
    let key_pem = std::fs::read(&key)?;
    std::fs::write(
        dir.join("haproxy.pem"),
        [cert_pem.as_slice(), &key_pem].concat(),
    )?;
    CertificateDer::from_pem_slice(&cert_pem).context("read the generated certificate")
}

fn start_proxy(kind: Kind, env: &Env) -> anyhow::Result<Proc> {
    let dir = &env.dir;
    let d = dir.display();
    let [m1, m2] = bench::MEMBER_PORTS;
    let (program, args): (PathBuf, Vec<String>) = match kind {
        Kind::Had => {
            // The `bench proxy` daemon (no VRRP instance) with `tls`.
            let conf = dir.join("had.toml");
            let members: Vec<String> = bench::MEMBER_PORTS
                .iter()
                .map(|p| format!("{{ url = \"http://127.0.0.1:{p}\" }}"))
                .collect();
            std::fs::write(
                &conf,
                format!(
                    "[global]\ncontrol_socket = \"{d}/had.sock\"\n\n[proxy.web]\nlisten = [\"127.0.0.1:{TLS_PORT}\"]\ntls = {{ cert = \"{d}/cert.pem\", key = \"{d}/key.pem\" }}\npreserve_host = true\npass_reverse = true\nlbmethod = \"byrequests\"\nmembers = [{}]\n",
                    members.join(", ")
                ),
            )?;
            (
                env.daemon_bin.clone(),
                vec!["--config".into(), conf.display().to_string()],
            )
        }
        Kind::Haproxy => {
            // `http-reuse always`: idle member connections serve any request,
            // a session's first included (as had's and nginx's pools do);
            // the default `safe` opens a member connection for the first
            // request of every client connection.
            let conf = dir.join("haproxy.cfg");
            std::fs::write(
                &conf,
                format!(
                    "global\n  nbthread 1\n  maxconn 4096\n  ssl-default-bind-options ssl-min-ver TLSv1.2\n\ndefaults\n  mode http\n  option http-keep-alive\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\nfrontend fe\n  bind 127.0.0.1:{TLS_PORT} ssl crt {d}/haproxy.pem alpn h2,http/1.1\n  default_backend mycluster\n\nbackend mycluster\n  balance roundrobin\n  http-reuse always\n  server m1 127.0.0.1:{m1}\n  server m2 127.0.0.1:{m2}\n"
                ),
            )?;
            (
                PathBuf::from("/usr/sbin/haproxy"),
                vec!["-db".into(), "-f".into(), conf.display().to_string()],
            )
        }
        Kind::Nginx => {
            let conf = dir.join("nginx_tls.conf");
            std::fs::write(
                &conf,
                format!(
                    "worker_processes 1;\nworker_rlimit_nofile 8192;\ndaemon off;\npid {d}/nginx_tls.pid;\nerror_log {d}/nginx_tls_error.log;\nevents {{ worker_connections 4096; }}\nhttp {{\n  access_log off;\n  keepalive_requests 1000000;\n  upstream mycluster {{ server 127.0.0.1:{m1}; server 127.0.0.1:{m2}; keepalive 128; }}\n  server {{\n    listen 127.0.0.1:{TLS_PORT} ssl http2;\n    ssl_certificate {d}/cert.pem;\n    ssl_certificate_key {d}/key.pem;\n    ssl_protocols TLSv1.2 TLSv1.3;\n    location / {{\n      proxy_pass http://mycluster;\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      proxy_set_header Host $host;\n    }}\n  }}\n}}\n"
                ),
            )?;
            (
                PathBuf::from("/usr/sbin/nginx"),
                vec!["-c".into(), conf.display().to_string()],
            )
        }
    };
    let mut p = Proc::spawn(
        kind.name(),
        env.proxy_cpu,
        &program,
        &args,
        &dir.join(format!("{}_tls.log", kind.name())),
    )?;
    bench::wait_for_port(TLS_PORT, &mut p)?;
    Ok(p)
}

/// One request through the fresh proxy: it must answer 200 from a member
/// over a full handshake. Returns what was negotiated.
fn check(kind: Kind, env: &Env) -> anyhow::Result<String> {
    let config = client_config(&env.cert, &[b"http/1.1"])?;
    let got = on_cpu(env.client_cpu, move || async move {
        let mut tls = connect(&config).await?;
        let c = tls.get_ref().1;
        let negotiated = format!(
            "{:?}, {:?}, {:?}, ALPN {}, {:?} handshake",
            c.protocol_version().context("no protocol version")?,
            c.negotiated_cipher_suite()
                .context("no cipher suite")?
                .suite(),
            c.negotiated_key_exchange_group()
                .map(rustls::crypto::SupportedKxGroup::name)
                .context("no key exchange group")?,
            c.alpn_protocol().map_or_else(
                || "none".into(),
                |p| String::from_utf8_lossy(p).into_owned()
            ),
            c.handshake_kind().context("no handshake kind")?
        );
        let status = request_close(&mut tls).await?;
        if status != 200 {
            bail!("status {status}");
        }
        Ok(negotiated)
    });
    got.with_context(|| {
        let log = std::fs::read_to_string(env.dir.join(format!("{}_tls.log", kind.name())))
            .unwrap_or_default();
        format!("{} does not serve HTTPS: {}", kind.name(), log.trim())
    })
}

/// Runs `work` on a new thread pinned to `cpu`, on a single-threaded tokio
/// runtime, and waits for it.
fn on_cpu<F, Fut, T>(cpu: u32, work: F) -> anyhow::Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<T>>,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        let mut set = nix::sched::CpuSet::new();
        set.set(cpu as usize)?;
        nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
            .with_context(|| format!("pin the client thread to CPU {cpu}"))?;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(work())
    })
    .join()
    .map_err(|_| anyhow!("client thread panicked"))?
}

/// CPU time of the calling thread, in clock ticks (10 ms).
fn thread_ticks() -> u64 {
    std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|stat| {
            let rest = stat.rsplit_once(") ")?.1.to_owned();
            let f: Vec<&str> = rest.split(' ').collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

/// Clock ticks as a share of `elapsed`.
#[allow(clippy::cast_precision_loss)]
fn busy(ticks: u64, elapsed: Duration) -> f64 {
    ticks as f64 * 0.01 / elapsed.as_secs_f64()
}

/// Clock ticks of one CPU so far, from `/proc/stat`.
#[derive(Clone, Copy)]
struct CpuStat {
    busy: u64,
    /// Interrupts and softirqs (on loopback, much of the network stack).
    irq: u64,
    total: u64,
}

fn cpu_stat(cpu: u32) -> CpuStat {
    let prefix = format!("cpu{cpu} ");
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with(&prefix)) else {
        return CpuStat {
            busy: 0,
            irq: 0,
            total: 0,
        };
    };
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect();
    let field = |i: usize| f.get(i).copied().unwrap_or(0);
    let total: u64 = f.iter().sum();
    CpuStat {
        busy: total.saturating_sub(field(3) + field(4)),
        irq: field(5) + field(6),
        total,
    }
}

/// The CPU accounting of one measured run.
struct Window {
    pid: u32,
    proxy_cpu: u32,
    client_cpu: u32,
    ticks: u64,
    proxy_stat: CpuStat,
    client_stat: CpuStat,
    start: Instant,
}

/// What a [`Window`] saw.
struct Used {
    /// The proxy's own CPU time, clock ticks.
    ticks: u64,
    busy: f64,
    proxy_cpu_all: f64,
    proxy_cpu_irq: f64,
    client_cpu_all: f64,
}

impl Used {
    /// The proxy's CPU µs per `n` handshakes or requests.
    #[allow(clippy::cast_precision_loss)]
    fn us_per(&self, n: f64) -> f64 {
        if n > 0.0 {
            self.ticks as f64 * 10_000.0 / n
        } else {
            f64::NAN
        }
    }
}

impl Window {
    fn open(p: &Proc, env: &Env) -> Self {
        Self {
            pid: p.pid(),
            proxy_cpu: env.proxy_cpu,
            client_cpu: env.client_cpu,
            ticks: bench::cpu_ticks(p.pid()),
            proxy_stat: cpu_stat(env.proxy_cpu),
            client_stat: cpu_stat(env.client_cpu),
            start: Instant::now(),
        }
    }

    fn close(self) -> Used {
        let elapsed = self.start.elapsed();
        let ticks = bench::cpu_ticks(self.pid).saturating_sub(self.ticks);
        #[allow(clippy::cast_precision_loss)]
        let share = |part: u64, from: CpuStat, to: CpuStat| {
            if to.total > from.total {
                part as f64 / (to.total - from.total) as f64
            } else {
                f64::NAN
            }
        };
        let (proxy, client) = (cpu_stat(self.proxy_cpu), cpu_stat(self.client_cpu));
        let (p0, c0) = (self.proxy_stat, self.client_stat);
        Used {
            ticks,
            busy: busy(ticks, elapsed),
            proxy_cpu_all: share(proxy.busy.saturating_sub(p0.busy), p0, proxy),
            proxy_cpu_irq: share(proxy.irq.saturating_sub(p0.irq), p0, proxy),
            client_cpu_all: share(client.busy.saturating_sub(c0.busy), c0, client),
        }
    }
}

/// Accepts exactly the bench's certificate. The handshake signature is not
/// checked: that keeps the client's CPU per handshake below the proxy's
/// (an ECDSA verification costs more than the proxy's signing), so one
/// client CPU can saturate one proxy CPU. The proxy's work is the same.
#[derive(Debug)]
struct BenchCert {
    cert: CertificateDer<'static>,
    schemes: Vec<SignatureScheme>,
}

impl ServerCertVerifier for BenchCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "not the bench certificate".to_owned(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// A client that never resumes: no session storage, so no ticket or session
/// ID is ever offered and every handshake is a full one.
fn client_config(
    cert: &CertificateDer<'static>,
    alpn: &[&[u8]],
) -> anyhow::Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = BenchCert {
        cert: cert.clone(),
        schemes: provider
            .signature_verification_algorithms
            .supported_schemes(),
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// TCP connect and a TLS handshake to the proxy, within [`IO_TIMEOUT`].
async fn connect(config: &Arc<ClientConfig>) -> anyhow::Result<TlsStream<TcpStream>> {
    tokio::time::timeout(IO_TIMEOUT, async {
        let tcp = TcpStream::connect(("127.0.0.1", TLS_PORT)).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(HOST)?.to_owned();
        Ok(TlsConnector::from(Arc::clone(config))
            .connect(name, tcp)
            .await?)
    })
    .await
    .context("connect and handshake timed out")?
}

/// Sends [`CLOSE_REQUEST`], reads the whole response and closes; returns
/// its status.
async fn request_close(tls: &mut TlsStream<TcpStream>) -> anyhow::Result<u16> {
    tokio::time::timeout(IO_TIMEOUT, async {
        tls.write_all(CLOSE_REQUEST).await?;
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 4096];
        let status = loop {
            if let Some(status) = complete_response(&buf, false) {
                break status;
            }
            match tls.read(&mut chunk).await {
                Ok(0) => {}
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.len() > 1 << 20 {
                        bail!("response over 1 MiB");
                    }
                    continue;
                }
                // The proxy closed without close_notify after the response.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
                Err(e) => return Err(e.into()),
            }
            // End of stream: the response must be whole by now.
            break complete_response(&buf, true).with_context(|| {
                format!(
                    "incomplete response: {:?}",
                    String::from_utf8_lossy(&buf[..buf.len().min(200)])
                )
            })?;
        };
        let _ = tls.shutdown().await;
        Ok(status)
    })
    .await
    .context("request timed out")?
}

/// The status of the response in `buf` once it is complete: headers and
/// `Content-Length` bytes of body, or headers and end of stream (`eof`).
fn complete_response(buf: &[u8], eof: bool) -> Option<u16> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head) = r.parse(buf).ok()? else {
        return None;
    };
    let length = r
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| {
            std::str::from_utf8(h.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        });
    match length {
        Some(n) if buf.len() >= head + n => r.code,
        None if eof => r.code,
        _ => None,
    }
}

/// Full-handshake load: `conns` loops of connect, handshake, one request
/// with `Connection: close`, until `secs` have passed.
#[derive(Default)]
struct HandshakeLoad {
    ok: u64,
    failed: u64,
    /// Handshakes that were not full ones (must stay 0).
    not_full: u64,
    first_error: Option<String>,
    elapsed: Duration,
    client_ticks: u64,
}

fn handshake_load(
    cpu: u32,
    config: &Arc<ClientConfig>,
    conns: usize,
    secs: u64,
) -> anyhow::Result<HandshakeLoad> {
    let config = Arc::clone(config);
    on_cpu(cpu, move || async move {
        let ticks = thread_ticks();
        let start = Instant::now();
        let deadline = start + Duration::from_secs(secs);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..conns {
            let config = Arc::clone(&config);
            set.spawn(async move {
                let mut load = HandshakeLoad::default();
                while Instant::now() < deadline {
                    let one = async {
                        let mut tls = connect(&config).await?;
                        let full = matches!(
                            tls.get_ref().1.handshake_kind(),
                            Some(HandshakeKind::Full | HandshakeKind::FullWithHelloRetryRequest)
                        );
                        let status = request_close(&mut tls).await?;
                        anyhow::Ok((full, status))
                    };
                    match one.await {
                        Ok((true, 200)) => load.ok += 1,
                        Ok((false, _)) => load.not_full += 1,
                        Ok((true, status)) => {
                            load.failed += 1;
                            load.first_error
                                .get_or_insert_with(|| format!("status {status}"));
                        }
                        Err(e) => {
                            load.failed += 1;
                            load.first_error.get_or_insert_with(|| format!("{e:#}"));
                            // No busy loop against a refusing proxy.
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
                load
            });
        }
        let mut total = HandshakeLoad::default();
        while let Some(done) = set.join_next().await {
            let l = done?;
            total.ok += l.ok;
            total.failed += l.failed;
            total.not_full += l.not_full;
            if total.first_error.is_none() {
                total.first_error = l.first_error;
            }
        }
        total.elapsed = start.elapsed();
        total.client_ticks = thread_ticks().saturating_sub(ticks);
        Ok(total)
    })
}

/// Measure 1: full handshakes per second.
fn handshakes(p: &Proc, env: &Env, a: &TlsArgs) -> anyhow::Result<Run> {
    let config = client_config(&env.cert, &[b"http/1.1"])?;
    handshake_load(env.client_cpu, &config, a.handshake_conns, WARM_UP_SECS)?;
    let window = Window::open(p, env);
    let load = handshake_load(env.client_cpu, &config, a.handshake_conns, a.duration)?;
    let used = window.close();
    if let Some(e) = &load.first_error {
        eprintln!(
            "  {} failed connections; the first: {e}",
            load.failed + load.not_full
        );
    }
    #[allow(clippy::cast_precision_loss)]
    let ok = load.ok as f64;
    Ok(Run {
        value: ok / load.elapsed.as_secs_f64(),
        errors: load.failed + load.not_full,
        cpu_us: used.us_per(ok),
        busy: used.busy,
        client_busy: busy(load.client_ticks, load.elapsed),
        proxy_cpu_all: used.proxy_cpu_all,
        proxy_cpu_irq: used.proxy_cpu_irq,
        client_cpu_all: used.client_cpu_all,
        ..Run::default()
    })
}

/// Measure 2: HTTPS keep-alive requests per second with wrk.
fn https(p: &Proc, env: &Env, secs: u64) -> anyhow::Result<Run> {
    let url = format!("https://127.0.0.1:{TLS_PORT}/");
    let headers = [format!("Host: {HOST}")];
    bench::wrk_url(env.client_cpu, 50, WARM_UP_SECS, None, &headers, &url)?;
    let window = Window::open(p, env);
    let s = bench::wrk_url(env.client_cpu, 50, secs, None, &headers, &url)?;
    let used = window.close();
    #[allow(clippy::cast_precision_loss)]
    let requests = s.rps * secs as f64;
    Ok(Run {
        value: s.rps,
        errors: s.errors,
        cpu_us: used.us_per(requests),
        busy: used.busy,
        client_busy: f64::NAN,
        proxy_cpu_all: used.proxy_cpu_all,
        proxy_cpu_irq: used.proxy_cpu_irq,
        client_cpu_all: used.client_cpu_all,
        ..Run::default()
    })
}

/// What h2load reported.
struct H2load {
    rps: f64,
    succeeded: u64,
    failed: u64,
    /// Its "TLS Protocol", "Cipher" and "Server Temp Key" lines.
    tls: String,
}

fn h2load(cpu: u32, secs: u64) -> anyhow::Result<H2load> {
    let out = Command::new("timeout")
        .args([
            "-s",
            "KILL",
            &(secs + 30).to_string(),
            "taskset",
            "-c",
            &cpu.to_string(),
            "h2load",
            "-c",
            "10",
            "-m",
            "10",
            "-D",
            &secs.to_string(),
            &format!("https://127.0.0.1:{TLS_PORT}/"),
        ])
        .output()
        .context("run h2load")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "h2load failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if !text.contains("Application protocol: h2") {
        bail!("h2load did not negotiate h2: {text}");
    }
    let mut r = H2load {
        rps: f64::NAN,
        succeeded: 0,
        failed: 0,
        tls: String::new(),
    };
    let mut non_2xx = 0;
    let number = |w: &str| w.trim_end_matches(',').parse::<u64>().unwrap_or(0);
    for line in text.lines().map(str::trim) {
        for key in ["TLS Protocol:", "Cipher:", "Server Temp Key:"] {
            if let Some(v) = line.strip_prefix(key) {
                if !r.tls.is_empty() {
                    r.tls.push_str(", ");
                }
                r.tls.push_str(v.trim());
            }
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            // finished in 5.00s, 41234.40 req/s, 4.72MB/s
            ["finished", "in", _, rps, "req/s,", ..] => {
                r.rps = rps.parse().unwrap_or(f64::NAN);
            }
            // requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
            ["requests:", rest @ ..] => {
                for pair in rest.chunks(2) {
                    if let [n, what] = pair {
                        match what.trim_end_matches(',') {
                            "succeeded" => r.succeeded = number(n),
                            "failed" => r.failed += number(n),
                            _ => {}
                        }
                    }
                }
            }
            // status codes: N 2xx, N 3xx, N 4xx, N 5xx
            ["status", "codes:", rest @ ..] => {
                for pair in rest.chunks(2) {
                    if let [n, what] = pair
                        && what.trim_end_matches(',') != "2xx"
                    {
                        non_2xx += number(n);
                    }
                }
            }
            _ => {}
        }
    }
    if r.rps.is_nan() {
        bail!("no req/s in h2load's output: {text}");
    }
    r.failed += non_2xx;
    Ok(r)
}

/// Measure 3: HTTP/2 requests per second with h2load.
fn h2(p: &Proc, env: &Env, secs: u64) -> anyhow::Result<(Run, String)> {
    h2load(env.client_cpu, WARM_UP_SECS)?;
    let window = Window::open(p, env);
    let r = h2load(env.client_cpu, secs)?;
    let used = window.close();
    #[allow(clippy::cast_precision_loss)]
    let run = Run {
        value: r.rps,
        errors: r.failed,
        cpu_us: used.us_per(r.succeeded as f64),
        busy: used.busy,
        client_busy: f64::NAN,
        proxy_cpu_all: used.proxy_cpu_all,
        proxy_cpu_irq: used.proxy_cpu_irq,
        client_cpu_all: used.client_cpu_all,
        ..Run::default()
    };
    Ok((run, r.tls))
}

/// Connections in state ESTABLISHED whose local port is `port` (the proxy's
/// side of its clients' connections), from `/proc/net/tcp`.
fn established_on(port: u16) -> usize {
    let local = format!(":{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1).is_some_and(|a| a.ends_with(&local)) && f.get(3) == Some(&"01")
        })
        .count()
}

/// Measure 4: RSS per idle TLS connection.
fn idle(p: &Proc, env: &Env, n: usize) -> anyhow::Result<Run> {
    let config = client_config(&env.cert, &[b"http/1.1"])?;
    // A short sequential warm-up (code paged in, per-thread state made),
    // not a concurrent one: memory the allocator kept from many freed
    // connections would be reused by the idle ones and hide their cost.
    handshake_load(env.client_cpu, &config, 1, 1)?;
    std::thread::sleep(Duration::from_millis(500));
    let pid = p.pid();
    let before = bench::rss_tree_kib(pid);
    let (held, after, opened, first_error, elapsed, client_ticks) =
        on_cpu(env.client_cpu, move || async move {
            let ticks = thread_ticks();
            let start = Instant::now();
            let mut open = Vec::with_capacity(n);
            let mut first_error = None;
            let mut set = tokio::task::JoinSet::new();
            let mut next = 0;
            // At most 50 handshakes in flight; every connection is bounded
            // by IO_TIMEOUT, so this loop is too.
            while next < n || !set.is_empty() {
                while next < n && set.len() < 50 {
                    let config = Arc::clone(&config);
                    set.spawn(async move { connect(&config).await });
                    next += 1;
                }
                match set.join_next().await {
                    Some(Ok(Ok(tls))) => open.push(tls),
                    Some(Ok(Err(e))) => {
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                    Some(Err(e)) => {
                        first_error.get_or_insert_with(|| format!("{e}"));
                    }
                    None => break,
                }
            }
            let elapsed = start.elapsed();
            let client_ticks = thread_ticks().saturating_sub(ticks);
            // Let the proxy finish its side (the client's Finished, session
            // tickets), then read its memory with every connection open.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let held = established_on(TLS_PORT);
            let after = bench::rss_tree_kib(pid);
            let opened = open.len();
            drop(open);
            anyhow::Ok((held, after, opened, first_error, elapsed, client_ticks))
        })?;
    if let Some(e) = &first_error {
        eprintln!(
            "  {} of {n} idle connections failed; the first: {e}",
            n - opened
        );
    }
    if held < opened * 95 / 100 {
        bail!("only {held} of the {opened} idle connections were still established");
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(Run {
        value: after.saturating_sub(before) as f64 / held.max(1) as f64,
        errors: (n - opened) as u64,
        cpu_us: f64::NAN,
        busy: f64::NAN,
        client_busy: busy(client_ticks, elapsed),
        proxy_cpu_all: f64::NAN,
        proxy_cpu_irq: f64::NAN,
        client_cpu_all: f64::NAN,
        held,
        rss_before_kib: before,
        rss_after_kib: after,
    })
}

/// First line of a tool's version output (stdout or stderr).
fn version(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            let text = [o.stdout, o.stderr].concat();
            String::from_utf8_lossy(&text)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "?".into())
}

fn machine_note() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "?".into(), |k| k.trim().to_owned());
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    format!(
        "{cpus} CPUs ({cpu}), Linux {kernel}; {}; {}; {}; {}; {}",
        version("/usr/sbin/haproxy", &["-v"]),
        version("/usr/sbin/nginx", &["-v"]),
        version("openssl", &["version"]),
        version("h2load", &["--version"]),
        version("wrk", &["-v"]),
    )
}

fn fmt_value(m: Measure, v: f64) -> String {
    match m {
        Measure::Idle => format!("{v:.1}"),
        _ => format!("{v:.0}"),
    }
}

fn fmt_opt(v: f64, digits: usize) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{v:.digits$}")
    }
}

/// Per-round ratios `ours / theirs` of a measure, and their median.
fn ratios(results: &Results, m: Measure, ours: Kind, theirs: Kind) -> Option<(Vec<f64>, f64)> {
    let o = results.runs(m, ours)?;
    let t = results.runs(m, theirs)?;
    let v: Vec<f64> = o
        .iter()
        .zip(t)
        .filter(|(_, t)| t.value > 0.0)
        .map(|(o, t)| o.value / t.value)
        .collect();
    if v.is_empty() {
        return None;
    }
    let med = bench::median(v.clone());
    Some((v, med))
}

fn print_report(
    a: &TlsArgs,
    kinds: &[Kind],
    daemon_bin: &Path,
    results: &Results,
    load_before: &str,
) {
    let command: Vec<String> = std::env::args().skip(1).collect();
    println!(
        "\n`cargo xtask {}`: proxies pinned to CPU {}, the clients (this process's rustls clients, wrk -t1, h2load) and two nginx members on CPU {}, 127.0.0.1; each proxy started fresh for each run; {} s measured after a {WARM_UP_SECS} s warm-up; {} interleaved rounds, the order reversed every other round; load average before/after: {load_before} / {}.",
        command.join(" "),
        a.proxy_cpu,
        a.client_cpu,
        a.duration,
        a.rounds,
        bench::load_average()
    );
    println!("Machine: {}.", machine_note());
    if kinds.contains(&Kind::Had) {
        println!(
            "had = the daemon `{} --config had.toml`, one `[proxy.web]` with `tls = {{ cert, key }}` (no VRRP instance); HAProxy: nbthread 1, `bind ... ssl crt ... alpn h2,http/1.1`, ssl-min-ver TLSv1.2, `http-reuse always`; nginx: 1 worker, `listen ... ssl http2`, ssl_protocols TLSv1.2 TLSv1.3, upstream keepalive 128. One ECDSA P-256 certificate (openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256) for all three; members are plain HTTP, kept alive by every proxy.",
            daemon_bin.display()
        );
    }
    let negotiated: Vec<String> = results
        .negotiated
        .iter()
        .map(|(k, n)| format!("{}: {n}", k.name()))
        .collect();
    println!(
        "Negotiated with the bench's rustls client: {}.",
        negotiated.join("; ")
    );
    if !results.h2_negotiated.is_empty() {
        let h2: Vec<String> = results
            .h2_negotiated
            .iter()
            .map(|(k, n)| format!("{}: {n}", k.name()))
            .collect();
        println!("h2load (OpenSSL) negotiated: {}.", h2.join("; "));
    }
    println!(
        "\nFull handshakes: the client is this process (the release build of xtask, which a debug `cargo xtask` builds and re-runs; rustls 0.23, ring) with `Resumption::disabled()`: it stores no session and offers no ticket, PSK or session ID, so the proxy cannot resume; every connection's `handshake_kind()` is also checked to be Full (any other counts as an error). Each connection: TCP connect, TLS 1.3 handshake (SNI bench.test, ALPN http/1.1), `GET /` with `Connection: close`, the whole 200 response read, close_notify; {} connections at a time. The client accepts exactly the bench certificate and does not verify the handshake signature, so that its CPU per handshake stays below the proxy's. Not wrk: its `SSL_clear` between connections keeps the session and resumes it (with `-H \"Connection: close\"` against nginx, `$ssl_session_reused` was `r` for 3917 of 3921 requests). Not `openssl s_time -new`: full handshakes, but one at a time per process, each ending only after a wait: four of them on the client CPU made about 380 handshakes/s in all against had, whose CPU was 12% busy.",
        a.handshake_conns
    );
    println!(
        "Idle memory: {} TLS connections opened by this process (handshake complete, nothing sent after it, ALPN http/1.1), 1 s later the proxy's RSS (all its processes) minus its RSS before (measured after 1 s of full-handshake requests one at a time and 0.5 s of rest), divided by the connections /proc/net/tcp shows established on the proxy's port.",
        a.idle_conns
    );
    println!(
        "CPU µs: the proxy's user+system time (all its processes, 10 ms ticks) over the measured run per handshake or request; proxy busy = that time / the run's wall time (100% = its one CPU saturated); CPU N busy (all processes) = /proc/stat's busy share of that CPU, whoever used it: on CPU {} above the proxy's own share it is other processes' load (interrupts and softirqs, i.e. much of loopback networking, are charged to the process they interrupt, the proxy included), on CPU {} near 100% the client side was the limit.",
        a.proxy_cpu, a.client_cpu
    );
    for m in Measure::ALL {
        println!("\n### {}\n", m.title());
        let per_round_header: Vec<String> = (1..=a.rounds).map(|r| format!("round {r}")).collect();
        match m {
            Measure::Idle => {
                println!(
                    "| proxy | median {} | {} | RSS before → after KiB (per round) | held | errors |",
                    m.unit(),
                    per_round_header.join(" | ")
                );
                println!("|---|---:|{}---|---:|---:|", "---:|".repeat(a.rounds));
            }
            _ => {
                println!(
                    "| proxy | median {} | {} | CPU µs per {} | proxy busy | CPU {} busy (all processes) | CPU {} busy (all processes) | errors |",
                    m.unit(),
                    per_round_header.join(" | "),
                    if m == Measure::Handshakes {
                        "handshake"
                    } else {
                        "request"
                    },
                    a.proxy_cpu,
                    a.client_cpu
                );
                println!(
                    "|---|---:|{}---:|---:|---:|---:|---:|",
                    "---:|".repeat(a.rounds)
                );
            }
        }
        for &k in kinds {
            let Some(runs) = results.runs(m, k) else {
                continue;
            };
            let values: Vec<String> = runs.iter().map(|r| fmt_value(m, r.value)).collect();
            let med = bench::median(runs.iter().map(|r| r.value).collect());
            let errors: u64 = runs.iter().map(|r| r.errors).sum();
            match m {
                Measure::Idle => {
                    let rss: Vec<String> = runs
                        .iter()
                        .map(|r| format!("{} → {}", r.rss_before_kib, r.rss_after_kib))
                        .collect();
                    let held: Vec<String> = runs.iter().map(|r| r.held.to_string()).collect();
                    println!(
                        "| {} | {} | {} | {} | {} | {errors} |",
                        k.name(),
                        fmt_value(m, med),
                        values.join(" | "),
                        rss.join(" / "),
                        held.join(" / ")
                    );
                }
                _ => {
                    let pct = |of: fn(&Run) -> f64| {
                        fmt_opt(
                            bench::median(runs.iter().map(|r| of(r) * 100.0).collect()),
                            0,
                        )
                    };
                    println!(
                        "| {} | {} | {} | {} | {}% | {}% | {}% | {errors} |",
                        k.name(),
                        fmt_value(m, med),
                        values.join(" | "),
                        fmt_opt(bench::median(runs.iter().map(|r| r.cpu_us).collect()), 1),
                        pct(|r| r.busy),
                        pct(|r| r.proxy_cpu_all),
                        pct(|r| r.client_cpu_all),
                    );
                }
            }
        }
        for theirs in [Kind::Haproxy, Kind::Nginx] {
            if let Some((per_round, med)) = ratios(results, m, Kind::Had, theirs) {
                let of_medians = match (results.runs(m, Kind::Had), results.runs(m, theirs)) {
                    (Some(o), Some(t)) => {
                        bench::median(o.iter().map(|r| r.value).collect())
                            / bench::median(t.iter().map(|r| r.value).collect())
                    }
                    _ => f64::NAN,
                };
                let cells: Vec<String> = per_round.iter().map(|r| format!("{r:.2}")).collect();
                let label = if theirs == Kind::Haproxy {
                    "HAProxy"
                } else {
                    "nginx"
                };
                let pad = match m {
                    Measure::Idle => " | | | |",
                    _ => " | | | | | |",
                };
                println!(
                    "| **had/{label}** | **{med:.2}** (of medians {of_medians:.2}) | {}{pad}",
                    cells.join(" | ")
                );
            }
        }
    }
    println!("\n### Goals (median of the per-round had/HAProxy ratios)\n");
    let goal = |m: Measure, what: &str, target: f64, higher: bool| {
        let Some((_, r)) = ratios(results, m, Kind::Had, Kind::Haproxy) else {
            println!("- {what}: not measured (needs had and haproxy)");
            return;
        };
        let met = if higher { r >= target } else { r <= target };
        let sign = if higher { "≥" } else { "≤" };
        // Per CPU: how many handshakes or requests had serves for each one
        // HAProxy serves with the same CPU time.
        let per_cpu = match (results.runs(m, Kind::Had), results.runs(m, Kind::Haproxy)) {
            (Some(o), Some(t)) if m != Measure::Idle => {
                let us = |runs: &[Run]| bench::median(runs.iter().map(|r| r.cpu_us).collect());
                format!(
                    "; per CPU second (HAProxy's CPU µs / had's) = {:.2}",
                    us(t) / us(o)
                )
            }
            _ => String::new(),
        };
        println!(
            "- {what}: had/HAProxy = {r:.2} (goal {sign} {target:.2}): {}{per_cpu}",
            if met { "met" } else { "NOT met" }
        );
    };
    goal(Measure::Handshakes, "full handshakes/s", 1.3, true);
    goal(Measure::Https, "HTTPS keep-alive req/s", 1.0, true);
    goal(Measure::H2, "HTTP/2 req/s", 1.0, true);
    goal(Measure::Idle, "idle TLS KiB per connection", 1.0, false);
    // A rate only says something about a proxy its client saturated.
    let mut notes = String::new();
    for m in [Measure::Handshakes, Measure::Https, Measure::H2] {
        for &k in kinds {
            let Some(runs) = results.runs(m, k) else {
                continue;
            };
            let of = |f: fn(&Run) -> f64| bench::median(runs.iter().map(f).collect());
            let (b, proxy_all, irq, client_all) = (
                of(|r| r.busy),
                of(|r| r.proxy_cpu_all),
                of(|r| r.proxy_cpu_irq),
                of(|r| r.client_cpu_all),
            );
            if b >= 0.9 {
                continue;
            }
            let why = if client_all >= 0.95 {
                format!(
                    "CPU {} (clients, members) was {:.0}% busy: the rate is the client side's limit",
                    a.client_cpu,
                    client_all * 100.0
                )
            } else if proxy_all - b >= 0.1 {
                // Interrupts and softirqs are charged to the process they
                // interrupt too, so those in the proxy's time are in `b`.
                format!(
                    "other processes, or interrupts taken while the proxy was not running, took {:.0}% of CPU {} (interrupts and softirqs in all: {:.0}%)",
                    (proxy_all - b) * 100.0,
                    a.proxy_cpu,
                    irq * 100.0
                )
            } else {
                "the client did not keep it busy".to_owned()
            };
            let _ = write!(
                notes,
                "\n- {} {m:?}: the proxy was {:.0}% busy, not saturated ({why}); compare CPU µs per {}.",
                k.name(),
                b * 100.0,
                if m == Measure::Handshakes {
                    "handshake"
                } else {
                    "request"
                }
            );
        }
    }
    if !notes.is_empty() {
        println!("\nCaveats:{notes}");
    }
}
