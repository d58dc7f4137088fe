//! `cargo xtask bench checks` (also `cargo xtask bench-checks`): what health checks cost the VRRP timer.
//!
//! Runs a 100 ms tokio interval (a stand-in for the VRRP advert timer) on the
//! same multi-threaded runtime as N checks at 100 ms, and measures how late
//! each tick fires and the process's CPU time (its own plus its reaped
//! children's, from `/proc/self/stat`). Three phases: no checks (baseline),
//! script checks running `/bin/true`, and built-in TCP checks against a local
//! listener. The goal: timer error within 10 ms.
//!
//! The baseline row matters: on a shared, loaded machine the timer is late
//! with no checks at all. Running the bench under `chrt -f 10` (as a VRRP
//! daemon may run, cf. keepalived's `vrrp_rt_priority`) takes most of the
//! other processes' load out of the picture and shows the checks' own cost.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use health::{CheckConfig, Monitor, Probe, ScriptCommand, ScriptSecurity};

/// Options for the checks benchmark.
#[derive(Args)]
pub struct BenchChecksArgs {
    /// Checks per phase.
    #[arg(long, default_value_t = 100)]
    checks: usize,
    /// Check interval and timer period, in milliseconds.
    #[arg(long, default_value_t = 100)]
    interval_ms: u64,
    /// Seconds measured per phase and round.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Rounds; phases are interleaved across rounds so that load from other
    /// processes on the machine spreads over all of them.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
}

/// One phase's raw measurements, accumulated over rounds.
#[derive(Default)]
struct Sample {
    errors: Vec<Duration>,
    cpu: Duration,
    wall: Duration,
    runs: u64,
    load: Vec<f64>,
}

/// One phase's results.
struct Row {
    kind: String,
    cpu_percent: f64,
    runs_per_second: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    load: f64,
}

/// Runs the three phases and prints the table.
pub fn run(args: BenchChecksArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    let listener = spawn_listener()?;
    let interval = Duration::from_millis(args.interval_ms);
    let seconds = Duration::from_secs(args.seconds);
    let script = ScriptCommand::parse("bench", "/bin/true", None, ScriptSecurity::Enforce)?;
    let phases: Vec<(String, Option<Probe>)> = vec![
        ("none (baseline)".into(), None),
        (
            format!("{} script (/bin/true)", args.checks),
            Some(Probe::Script(script)),
        ),
        (
            format!("{} built-in TCP", args.checks),
            Some(Probe::Tcp(listener)),
        ),
    ];
    let mut samples: Vec<Sample> = phases.iter().map(|_| Sample::default()).collect();
    for round in 1..=args.rounds {
        for ((kind, probe), sample) in phases.iter().zip(samples.iter_mut()) {
            let checks: Vec<CheckConfig> = match probe {
                None => Vec::new(),
                Some(probe) => (0..args.checks)
                    .map(|i| {
                        let mut check = CheckConfig::new(format!("bench_{i}"), probe.clone());
                        check.interval = interval;
                        check.timeout = Some(interval);
                        check
                    })
                    .collect(),
            };
            runtime.block_on(measure(checks, interval, seconds, sample))?;
            eprintln!("round {round}/{}: measured {kind}", args.rounds);
        }
    }
    let rows: Vec<Row> = phases
        .into_iter()
        .zip(samples)
        .map(|((kind, _), sample)| summarize(kind, sample))
        .collect();
    println!(
        "{:<26} {:>8} {:>10} {:>11} {:>11} {:>11} {:>9}",
        "checks", "CPU %", "runs/s", "timer p50", "timer p99", "timer max", "loadavg"
    );
    for row in &rows {
        println!(
            "{:<26} {:>8.1} {:>10.0} {:>8.2} ms {:>8.2} ms {:>8.2} ms {:>9.2}",
            row.kind,
            row.cpu_percent,
            row.runs_per_second,
            ms(row.p50),
            ms(row.p99),
            ms(row.max),
            row.load
        );
    }
    let worst = rows.iter().map(|r| r.max).max().unwrap_or_default();
    println!(
        "goal: timer error within 10 ms: {} (worst {:.2} ms; {} profile)",
        if worst <= Duration::from_millis(10) {
            "met"
        } else {
            "NOT met"
        },
        ms(worst),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    Ok(())
}

async fn measure(
    checks: Vec<CheckConfig>,
    interval: Duration,
    seconds: Duration,
    sample: &mut Sample,
) -> anyhow::Result<()> {
    let (monitor, mut changes) = Monitor::start(checks)?;
    // Drain the change stream as the daemon would.
    let drain = tokio::spawn(async move { while changes.recv().await.is_some() {} });
    // Let the checks settle into their phases before measuring.
    tokio::time::sleep(interval * 3).await;
    let runs_before: u64 = monitor.snapshot().iter().map(|c| c.runs).sum();
    let cpu_before = cpu_time()?;
    let started = Instant::now();
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    ticks.tick().await;
    while started.elapsed() < seconds {
        let scheduled = ticks.tick().await;
        let late = tokio::time::Instant::now().saturating_duration_since(scheduled);
        sample.errors.push(late);
    }
    sample.wall += started.elapsed();
    sample.cpu += cpu_time()?.saturating_sub(cpu_before);
    let runs_after: u64 = monitor.snapshot().iter().map(|c| c.runs).sum();
    sample.runs += runs_after.saturating_sub(runs_before);
    sample.load.push(load_average());
    drop(monitor);
    drain.abort();
    Ok(())
}

fn summarize(kind: String, mut sample: Sample) -> Row {
    sample.errors.sort();
    let errors = &sample.errors;
    let pick = |q: f64| -> Duration {
        let last = errors.len().saturating_sub(1);
        let index = ((last as f64) * q).round() as usize;
        errors.get(index.min(last)).copied().unwrap_or_default()
    };
    let wall = sample.wall.as_secs_f64().max(f64::EPSILON);
    Row {
        kind,
        cpu_percent: sample.cpu.as_secs_f64() / wall * 100.0,
        runs_per_second: sample.runs as f64 / wall,
        p50: pick(0.50),
        p99: pick(0.99),
        max: errors.last().copied().unwrap_or_default(),
        load: sample.load.iter().sum::<f64>() / sample.load.len().max(1) as f64,
    }
}

/// The 1-minute load average: the bench shares the machine, and a loaded
/// machine delays timers whatever the checks do.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// A loopback listener on its own thread that accepts and closes connections.
fn spawn_listener() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding the bench listener")?;
    let address = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    Ok(address)
}

/// utime + stime + cutime + cstime of this process, from `/proc/self/stat`
/// (fields 14–17, in USER_HZ ticks, which Linux fixes at 100 per second for
/// userspace).
fn cpu_time() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // Fields after the parenthesised command name start at field 3 (state).
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc/self/stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let mut ticks: u64 = 0;
    for index in 11..=14 {
        // Field n is at index n - 3 here: 14..=17 -> 11..=14.
        let value: i64 = fields
            .get(index)
            .context("short /proc/self/stat")?
            .parse()
            .context("non-numeric /proc/self/stat field")?;
        ticks += u64::try_from(value.max(0)).unwrap_or_default();
    }
    Ok(Duration::from_millis(ticks * 10))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
