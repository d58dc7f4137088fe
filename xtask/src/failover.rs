//! `cargo xtask failover`: takeover times of had↔had, had↔keepalived and
//! keepalived↔keepalived, at advert intervals 1 s and 0.1 s, for a crash
//! (SIGKILL), a graceful stop (SIGTERM) and preemption, against the RFC
//! bounds.
//!
//! Method: a third lab node listens on the VRRP multicast group and stamps
//! every advert with the xtask's monotonic clock (the same clock that stamps
//! the kill/stop/start); a takeover is the time from the event to the first
//! advert of the new master. The nodes are two network namespaces of a
//! `vip_netlink::lab` LAN (VRRPv3 over IPv4, priorities 100 and 90).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use vip_netlink::lab::Lab;

use crate::resources::children_of;
use vrrp_core::{Advertisement, Version, master_down_interval, skew_time};

/// Arguments of `cargo xtask failover`.
#[derive(Debug, Args)]
pub struct FailoverArgs {
    /// The had binary (default: build it with `cargo build -p had`).
    #[arg(long)]
    had: Option<PathBuf>,
    /// Only these advert intervals, in centiseconds (default 100,10).
    #[arg(long, value_delimiter = ',')]
    intervals: Vec<u16>,
    /// Only these pairs: had-had, had-keepalived, keepalived-had, keepalived-keepalived.
    #[arg(long, value_delimiter = ',')]
    pairs: Vec<String>,
    /// Instead: client-visible outages of the seed's architecture end to end
    /// (had pair proxying the VIP to nginx members, a client probing every 10 ms).
    #[arg(long)]
    e2e: bool,
    /// Rounds of the end-to-end fault sequence (with --e2e).
    #[arg(long, default_value_t = 3)]
    e2e_rounds: usize,
    /// Instead: had↔had at 0.1 s under CPU contention (busy loops on every
    /// core for 10 s), without and with `[global] realtime = true`: advert
    /// timing error and spurious takeovers.
    #[arg(long)]
    contention: bool,
    /// Busy loops per CPU (with --contention).
    #[arg(long, default_value_t = 4)]
    hogs_per_cpu: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Had,
    Keepalived,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Had => "had",
            Kind::Keepalived => "keepalived",
        }
    }
}

/// One advert seen by the observer.
#[derive(Debug, Clone, Copy)]
struct Seen {
    at: Instant,
    src: IpAddr,
    priority: u8,
}

/// The observer node: records every VRRP advert on the LAN.
struct Observer {
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<(), vip_netlink::lab::LabError>>>,
}

impl Observer {
    fn start(lab: &Lab, i: usize) -> Result<Observer> {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        let source = IpAddr::V4(lab.node(i).ipv4);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = lab.spawn_thread_in(i, move || {
            // The observer's own timestamps must not suffer from the CPU
            // contention it measures: SCHED_FIFO when allowed (root).
            let _ = thread_priority::set_thread_priority_and_policy(
                thread_priority::thread_native_id(),
                thread_priority::ThreadPriority::Max,
                thread_priority::ThreadSchedulePolicy::Realtime(
                    thread_priority::RealtimeThreadSchedulePolicy::Fifo,
                ),
            );
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                let open = async {
                    let nl = vip_netlink::Netlink::connect()?;
                    let eth0 = nl.interface("eth0").await?;
                    vip_netlink::VrrpSocket::open(&eth0, source, vip_netlink::Peers::Multicast)
                };
                let socket = match open.await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                while !st.load(Ordering::Relaxed) {
                    let Ok(Ok(p)) =
                        tokio::time::timeout(Duration::from_millis(50), socket.recv()).await
                    else {
                        continue;
                    };
                    let at = Instant::now();
                    if let Ok(a) = Advertisement::decode(&p.payload, p.src, p.dst)
                        && let Ok(mut v) = s.lock()
                    {
                        v.push(Seen {
                            at,
                            src: p.src,
                            priority: a.priority,
                        });
                    }
                }
            });
        })?;
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => bail!("observer: {e}"),
            Err(_) => bail!("observer did not start"),
        }
        Ok(Observer {
            seen,
            stop,
            thread: Some(thread),
        })
    }

    /// First advert from `src` after `after` with a priority above 0.
    fn first_from(&self, src: IpAddr, after: Instant) -> Option<Instant> {
        self.seen.lock().ok().and_then(|v| {
            v.iter()
                .find(|s| s.src == src && s.at >= after && s.priority > 0)
                .map(|s| s.at)
        })
    }

    /// Wait (bounded) for an advert from `src` after `after`.
    fn wait_first_from(&self, src: IpAddr, after: Instant, limit: Duration) -> Option<Duration> {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if let Some(at) = self.first_from(src, after) {
                return Some(at.saturating_duration_since(after));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// The last advert from `src` before `before`.
    fn last_from(&self, src: IpAddr, before: Instant) -> Option<Instant> {
        self.seen.lock().ok().and_then(|v| {
            v.iter()
                .rev()
                .find(|s| s.src == src && s.at <= before && s.priority > 0)
                .map(|s| s.at)
        })
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A VRRP speaker (had or keepalived) running in a lab node.
struct Speaker {
    child: Option<Child>,
}

impl Speaker {
    fn start(
        lab: &Lab,
        dir: &Path,
        i: usize,
        kind: Kind,
        had: &Path,
        priority: u8,
        advert_cs: u16,
    ) -> Result<Speaker> {
        Speaker::start_rt(lab, dir, i, kind, had, priority, advert_cs, false)
    }

    #[allow(clippy::too_many_arguments)]
    fn start_rt(
        lab: &Lab,
        dir: &Path,
        i: usize,
        kind: Kind,
        had: &Path,
        priority: u8,
        advert_cs: u16,
        realtime: bool,
    ) -> Result<Speaker> {
        static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, Ordering::Relaxed);
        let secs = f64::from(advert_cs) / 100.0;
        let log = std::fs::File::create(dir.join(format!("n{i}-{n}.log")))?;
        let mut cmd = match kind {
            Kind::Had => {
                let conf = dir.join(format!("n{i}-{n}.toml"));
                std::fs::write(
                    &conf,
                    format!(
                        "[global]\nrouter_id = \"n{i}\"\ncontrol_socket = \"{}\"\nrealtime = {realtime}\n\n\
                         [vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
                         priority = {priority}\nadvert_int = {secs}\nversion = 3\n\
                         virtual_ipaddress = [\"198.18.0.200/24\"]\n",
                        dir.join(format!("n{i}-{n}.sock")).display()
                    ),
                )?;
                let mut c = lab.command(i, &had.to_string_lossy())?;
                c.arg("--config").arg(conf);
                c
            }
            Kind::Keepalived => {
                // A SIGKILLed keepalived leaves its VIP: not what is measured.
                let _ = lab.exec(i, &["ip", "addr", "del", "198.18.0.200/24", "dev", "eth0"]);
                let conf = dir.join(format!("k{i}-{n}.conf"));
                std::fs::write(
                    &conf,
                    format!(
                        "global_defs {{\n  router_id k{i}\n  vrrp_version 3\n}}\n\
                         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  \
                         virtual_router_id 51\n  priority {priority}\n  advert_int {secs}\n  \
                         virtual_ipaddress {{\n    198.18.0.200/24\n  }}\n}}\n"
                    ),
                )?;
                let mut c = lab.command(i, "keepalived")?;
                c.args(["-n", "-l", "-D", "-f"])
                    .arg(conf)
                    .arg("-p")
                    .arg(dir.join(format!("k{i}-{n}.pid")))
                    .arg("-r")
                    .arg(dir.join(format!("k{i}-{n}.vrrp.pid")));
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = cmd
            .spawn()
            .with_context(|| format!("start {}", kind.name()))?;
        Ok(Speaker { child: Some(child) })
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        if let Some(c) = &self.child
            && let Ok(pid) = i32::try_from(c.id())
        {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
        }
    }

    /// SIGKILL the process and (keepalived) its VRRP child.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            for p in children_of(c.id()) {
                if let Ok(pid) = i32::try_from(p) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait, bounded.
    fn stop(&mut self) {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        if let Some(mut c) = self.child.take() {
            let t0 = Instant::now();
            while c.try_wait().ok().flatten().is_none() && t0.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Speaker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One measured row.
struct Row {
    pair: String,
    advert_cs: u16,
    event: &'static str,
    took: Option<Duration>,
    bound: Duration,
    note: String,
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn measure_pair(
    lab: &Lab,
    dir: &Path,
    had: &Path,
    master: Kind,
    backup: Kind,
    advert_cs: u16,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let pair = format!("{}(100)↔{}(90)", master.name(), backup.name());
    let adv = Duration::from_millis(u64::from(advert_cs) * 10);
    let a_addr = IpAddr::V4(lab.node(0).ipv4);
    let b_addr = IpAddr::V4(lab.node(1).ipv4);
    let obs = Observer::start(lab, 2)?;
    let mdi90 = master_down_interval(Version::V3, 90, advert_cs).total();
    let mdi100 = master_down_interval(Version::V3, 100, advert_cs).total();
    let skew90 = skew_time(Version::V3, 90, advert_cs);

    let mut a = Speaker::start(lab, dir, 0, master, had, 100, advert_cs)?;
    std::thread::sleep(mdi100 + adv * 2);
    let b = Speaker::start(lab, dir, 1, backup, had, 90, advert_cs)?;
    std::thread::sleep(adv * 5 + Duration::from_millis(300));
    if obs
        .wait_first_from(a_addr, Instant::now(), adv * 3)
        .is_none()
    {
        bail!("{pair}: the priority-100 node is not advertising");
    }

    // Crash.
    let t0 = Instant::now();
    a.kill();
    let took = obs.wait_first_from(b_addr, t0, mdi90 * 3);
    let last = obs.last_from(a_addr, t0);
    rows.push(Row {
        pair: pair.clone(),
        advert_cs,
        event: "crash (SIGKILL)",
        took,
        bound: mdi90,
        note: match (took, last) {
            (Some(t), Some(l)) => format!(
                "{} after the last advert",
                ms((t0 + t).saturating_duration_since(l))
            ),
            _ => String::new(),
        },
    });

    // Preemption: the priority-100 node returns.
    std::thread::sleep(adv * 3);
    let t0 = Instant::now();
    let mut a = Speaker::start(lab, dir, 0, master, had, 100, advert_cs)?;
    let took = obs.wait_first_from(a_addr, t0, mdi100 * 3 + Duration::from_secs(2));
    rows.push(Row {
        pair: pair.clone(),
        advert_cs,
        event: "preemption (restart)",
        took,
        bound: mdi100,
        note: "includes process start".into(),
    });

    // Graceful stop of the (again) master.
    std::thread::sleep(adv * 5 + Duration::from_millis(200));
    let t0 = Instant::now();
    a.signal(nix::sys::signal::Signal::SIGTERM);
    let took = obs.wait_first_from(b_addr, t0, Duration::from_secs(5));
    a.stop();
    rows.push(Row {
        pair,
        advert_cs,
        event: "graceful stop (SIGTERM)",
        took,
        bound: skew90,
        note: "bound = Skew_Time".into(),
    });
    drop(b);
    drop(obs);
    Ok(())
}

fn had_binary(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "-q", "-p", "had", "--bin", "had"])
        .status()
        .context("cargo build -p had")?;
    if !status.success() {
        bail!("cargo build -p had failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    Ok(target.join("debug/had"))
}

/// What one contention run saw.
struct Contention {
    adverts: usize,
    max_gap: Duration,
    p99_error: Duration,
    spurious: usize,
}

/// had↔had at 0.1 s while busy loops compete for every CPU.
fn measure_contention(
    lab: &Lab,
    dir: &Path,
    had: &Path,
    realtime: bool,
    hogs_per_cpu: usize,
) -> Result<Contention> {
    let adv = Duration::from_millis(100);
    let a_addr = IpAddr::V4(lab.node(0).ipv4);
    let b_addr = IpAddr::V4(lab.node(1).ipv4);
    let obs = Observer::start(lab, 2)?;
    let _a = Speaker::start_rt(lab, dir, 0, Kind::Had, had, 100, 10, realtime)?;
    std::thread::sleep(Duration::from_millis(600));
    let _b = Speaker::start_rt(lab, dir, 1, Kind::Had, had, 90, 10, realtime)?;
    std::thread::sleep(Duration::from_secs(1));
    let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let mut hogs = Vec::new();
    for _ in 0..cpus * hogs_per_cpu {
        hogs.push(
            Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .stdin(Stdio::null())
                .spawn()?,
        );
    }
    let t0 = Instant::now();
    // Bounded: the hogs run 10 s and are killed by PID.
    std::thread::sleep(Duration::from_secs(10));
    let t1 = Instant::now();
    for mut h in hogs {
        let _ = h.kill();
        let _ = h.wait();
    }
    let seen: Vec<Seen> = obs
        .seen
        .lock()
        .map(|v| {
            v.iter()
                .copied()
                .filter(|s| s.at >= t0 && s.at <= t1)
                .collect()
        })
        .unwrap_or_default();
    let master: Vec<Instant> = seen
        .iter()
        .filter(|s| s.src == a_addr)
        .map(|s| s.at)
        .collect();
    let gaps: Vec<Duration> = master
        .windows(2)
        .filter_map(|w| match w {
            [x, y] => Some(y.saturating_duration_since(*x)),
            _ => None,
        })
        .collect();
    let mut errors: Vec<Duration> = gaps.iter().map(|g| g.abs_diff(adv)).collect();
    errors.sort();
    let p99_error = errors
        .get(errors.len().saturating_mul(99) / 100)
        .copied()
        .unwrap_or_default();
    Ok(Contention {
        adverts: master.len(),
        max_gap: gaps.iter().copied().max().unwrap_or_default(),
        p99_error,
        spurious: seen.iter().filter(|s| s.src == b_addr).count(),
    })
}

fn run_contention(had: &Path, hogs_per_cpu: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("had-contention-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!(
        "\nhad↔had, VRRPv3 at 0.1 s, {hogs_per_cpu} busy loops per CPU for 10 s \
         (Master_Down_Interval 364.8 ms at priority 90):\n"
    );
    println!(
        "| realtime | master adverts | max advert gap | p99 timer error | backup adverts (spurious takeover) |\n|---|---|---|---|---|"
    );
    for realtime in [false, true] {
        let lab = Lab::new("contention", 3)?;
        let c = measure_contention(&lab, &dir, had, realtime, hogs_per_cpu)?;
        println!(
            "| {realtime} | {} | {} | {} | {} |",
            c.adverts,
            ms(c.max_gap),
            ms(c.p99_error),
            c.spurious
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Entry point.
pub fn run(args: FailoverArgs) -> Result<()> {
    if args.e2e {
        return crate::e2e::run(args.e2e_rounds);
    }
    if let Some(why) = vip_netlink::lab::unavailable_reason() {
        bail!("cargo xtask failover needs the network lab: {why}");
    }
    let had = had_binary(args.had)?;
    if args.contention {
        return run_contention(&had, args.hogs_per_cpu);
    }
    let keepalived = Command::new("keepalived")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    let intervals = if args.intervals.is_empty() {
        vec![100, 10]
    } else {
        args.intervals
    };
    let mut pairs = vec![(Kind::Had, Kind::Had)];
    if keepalived {
        pairs.extend([
            (Kind::Had, Kind::Keepalived),
            (Kind::Keepalived, Kind::Had),
            (Kind::Keepalived, Kind::Keepalived),
        ]);
    } else {
        eprintln!("keepalived not installed: measuring had↔had only");
    }
    if !args.pairs.is_empty() {
        pairs.retain(|(m, b)| args.pairs.contains(&format!("{}-{}", m.name(), b.name())));
    }
    let dir = std::env::temp_dir().join(format!("had-failover-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    for &cs in &intervals {
        for &(m, b) in &pairs {
            let lab = Lab::new("failover", 3)?;
            eprintln!(
                "measuring {}↔{} at advert {} s ...",
                m.name(),
                b.name(),
                f64::from(cs) / 100.0
            );
            if let Err(e) = measure_pair(&lab, &dir, &had, m, b, cs, &mut rows) {
                eprintln!("  {e:#}");
            }
        }
    }
    println!(
        "\nTakeover times (VRRPv3 over IPv4, priorities 100/90; measured from the event to the \
         new master's first advert, as seen by a third node):\n"
    );
    println!(
        "| pair | advert | event | measured | RFC bound | vs bound | note |\n|---|---|---|---|---|---|---|"
    );
    for r in &rows {
        let (m, rel) = match r.took {
            Some(t) => (
                ms(t),
                format!(
                    "{:+.1}%",
                    (t.as_secs_f64() / r.bound.as_secs_f64() - 1.0) * 100.0
                ),
            ),
            None => ("none".into(), "-".into()),
        };
        println!(
            "| {} | {} s | {} | {} | {} | {} | {} |",
            r.pair,
            f64::from(r.advert_cs) / 100.0,
            r.event,
            m,
            ms(r.bound),
            rel,
            r.note
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
