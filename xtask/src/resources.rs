//! `cargo xtask resources`: memory and CPU of the daemon, measured from
//! /proc, beside keepalived 2.2.7's, in one run.
//!
//! - Idle RSS of had with one VRRP instance (VRRPv3, advert 0.1 s, MASTER)
//!   and one proxy on the VIP (goal: under 10 MB), of had with the instance
//!   alone, and of keepalived with the same instance (its parent and VRRP
//!   child summed).
//! - CPU of 50 instances at advert 0.1 s (goal: under 2 % of one core), for
//!   the MASTER node (sends 500 adverts/s) and the BACKUP node (receives
//!   them), had and keepalived, from the per-thread `schedstat` run times.
//!
//! had is the release build (`cargo build --release -p had`) unless `--had`
//! names a binary. Every node lives in a `vip_netlink::lab` LAN; the labs are
//! deleted at the end.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use vip_netlink::lab::Lab;

/// Arguments of `cargo xtask resources`.
#[derive(Debug, Args)]
pub struct ResourcesArgs {
    /// The had binary (default: `cargo build --release -p had`).
    #[arg(long)]
    had: Option<PathBuf>,
    /// Seconds of idle before RSS is read.
    #[arg(long, default_value_t = 5)]
    settle: u64,
    /// Seconds over which CPU is measured.
    #[arg(long, default_value_t = 20)]
    secs: u64,
    /// Instances for the CPU measurement.
    #[arg(long, default_value_t = 50)]
    instances: u8,
}

/// A daemon in a lab node; killed (with its children) on drop.
struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(lab: &Lab, i: usize, program: &str, args: &[&str], log: &Path) -> Result<Daemon> {
        let mut cmd = lab.command(i, program)?;
        let out = std::fs::File::create(log)?;
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = lab
            .spawn_command(i, &mut cmd)
            .with_context(|| format!("start {program}"))?;
        Ok(Daemon { child })
    }

    /// The process and its children (keepalived forks its VRRP process).
    fn pids(&self) -> Vec<u32> {
        let mut v = vec![self.child.id()];
        v.extend(children_of(self.child.id()));
        v
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        for p in children_of(self.child.id()) {
            kill(p);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kill(pid: u32) {
    if let Ok(p) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// PIDs whose parent is `pid`.
pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // The parent PID is the second field after the parenthesised name.
        if let Some((_, rest)) = stat.rsplit_once(')')
            && rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) == Some(pid)
        {
            out.push(p);
        }
    }
    out
}

/// VmRSS of a process, kB.
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Nanoseconds on CPU of every thread of a process (`/proc/PID/task/*/schedstat`).
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn had_binary(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "-q", "--release", "-p", "had", "--bin", "had"])
        .status()
        .context("cargo build --release -p had")?;
    if !status.success() {
        bail!("cargo build --release -p had failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    Ok(target.join("release/had"))
}

/// had.toml: `count` instances (VRIDs from `vrid0`), optionally a proxy.
fn had_toml(dir: &Path, name: &str, priority: u8, vrid0: u8, count: u8, proxy: bool) -> String {
    let mut s = format!(
        "[global]\nrouter_id = \"{name}\"\ncontrol_socket = \"{}\"\nvrrp_garp_master_delay = 0\n",
        dir.join(format!("{name}.sock")).display()
    );
    for k in 0..count {
        let vrid = vrid0 + k;
        s.push_str(&format!(
            "\n[vrrp_instance.VI_{vrid}]\nstate = \"BACKUP\"\ninterface = \"eth0\"\n\
             virtual_router_id = {vrid}\npriority = {priority}\nadvert_int = 0.1\nversion = 3\n\
             virtual_ipaddress = [\"198.18.2.{vrid}/24\"]\n"
        ));
    }
    if proxy {
        s.push_str(&format!(
            "\n[proxy.web]\nlisten = [\"198.18.2.{vrid0}:80\"]\npreserve_host = true\n\
             pass_reverse = true\nmembers = [\n  {{ url = \"http://198.18.0.21:8080\" }},\n  \
             {{ url = \"http://198.18.0.22:8080\" }},\n]\n"
        ));
    }
    s
}

/// keepalived.conf with the same instances.
fn keepalived_conf(name: &str, priority: u8, vrid0: u8, count: u8) -> String {
    let mut s = format!("global_defs {{\n  router_id {name}\n  vrrp_version 3\n}}\n");
    for k in 0..count {
        let vrid = vrid0 + k;
        s.push_str(&format!(
            "vrrp_instance VI_{vrid} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  \
             priority {priority}\n  advert_int 0.1\n  virtual_ipaddress {{\n    198.18.2.{vrid}/24\n  }}\n}}\n"
        ));
    }
    s
}

fn start_had(
    lab: &Lab,
    i: usize,
    had: &Path,
    dir: &Path,
    name: &str,
    toml: &str,
) -> Result<Daemon> {
    let conf = dir.join(format!("{name}.toml"));
    std::fs::write(&conf, toml)?;
    let had = had.to_string_lossy();
    let conf = conf.to_string_lossy();
    Daemon::start(
        lab,
        i,
        &had,
        &["--config", &conf],
        &dir.join(format!("{name}.log")),
    )
}

fn start_keepalived(lab: &Lab, i: usize, dir: &Path, name: &str, conf: &str) -> Result<Daemon> {
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, conf)?;
    let p = |s: &str| {
        dir.join(format!("{name}{s}"))
            .to_string_lossy()
            .into_owned()
    };
    Daemon::start(
        lab,
        i,
        "keepalived",
        &[
            "-n",
            "-l",
            "-D",
            "-f",
            &path.to_string_lossy(),
            "-p",
            &p(".pid"),
            "-r",
            &p(".vrrp.pid"),
        ],
        &dir.join(format!("{name}.log")),
    )
}

/// Wait until node `i` holds `count` addresses of 198.18.2.0/24 (all its
/// instances MASTER), bounded.
fn wait_masters(lab: &Lab, i: usize, count: u8, limit: Duration) -> Result<()> {
    let t0 = Instant::now();
    loop {
        let out = lab.exec(i, &["ip", "-o", "-4", "addr", "show", "dev", "eth0"])?;
        let n = out.lines().filter(|l| l.contains(" 198.18.2.")).count();
        if n == usize::from(count) {
            return Ok(());
        }
        if t0.elapsed() > limit {
            bail!("node {i} holds {n} of {count} VIPs after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// State changes logged so far in `logs` (lines containing `marker`): a
/// CPU figure taken while instances flap measures elections, not steady state.
fn transitions(logs: &[PathBuf], marker: &str) -> usize {
    logs.iter()
        .filter_map(|l| std::fs::read_to_string(l).ok())
        .map(|t| t.lines().filter(|l| l.contains(marker)).count())
        .sum()
}

/// CPU of each daemon over `secs`, in percent of one core.
fn cpu_percent(daemons: &[&Daemon], secs: u64) -> Vec<f64> {
    let before: Vec<(Instant, u64)> = daemons
        .iter()
        .map(|d| (Instant::now(), d.pids().iter().map(|&p| cpu_ns(p)).sum()))
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    daemons
        .iter()
        .zip(before)
        .map(|(d, (t0, ns0))| {
            let ns1: u64 = d.pids().iter().map(|&p| cpu_ns(p)).sum();
            let wall = t0.elapsed().as_nanos() as f64;
            100.0 * ns1.saturating_sub(ns0) as f64 / wall
        })
        .collect()
}

/// Entry point.
pub fn run(args: ResourcesArgs) -> Result<()> {
    if let Some(why) = vip_netlink::lab::unavailable_reason() {
        bail!("cargo xtask resources needs the network lab: {why}");
    }
    if args.instances == 0 || args.instances > 200 {
        bail!("--instances must be 1..=200");
    }
    let had = had_binary(args.had)?;
    let keepalived = Command::new("keepalived")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    let tmp = std::env::temp_dir().join(format!("had-resources-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let dir = tmp.as_path();

    // Idle RSS: each speaker alone in its own lab (so each is MASTER of a
    // VIP nobody else claims).
    let mut rss_rows = Vec::new();
    {
        let lab = Lab::new("res1", 1)?;
        let d = start_had(
            &lab,
            0,
            &had,
            dir,
            "had1p",
            &had_toml(dir, "had1p", 100, 1, 1, true),
        )?;
        wait_masters(&lab, 0, 1, Duration::from_secs(10))?;
        std::thread::sleep(Duration::from_secs(args.settle));
        rss_rows.push((
            "had: 1 instance + 1 proxy",
            d.pids().iter().map(|&p| rss_kb(p)).sum::<u64>(),
            d.pids().len(),
        ));
    }
    {
        let lab = Lab::new("res2", 1)?;
        let d = start_had(
            &lab,
            0,
            &had,
            dir,
            "had1",
            &had_toml(dir, "had1", 100, 1, 1, false),
        )?;
        wait_masters(&lab, 0, 1, Duration::from_secs(10))?;
        std::thread::sleep(Duration::from_secs(args.settle));
        rss_rows.push((
            "had: 1 instance",
            d.pids().iter().map(|&p| rss_kb(p)).sum(),
            d.pids().len(),
        ));
    }
    if keepalived {
        let lab = Lab::new("res3", 1)?;
        let d = start_keepalived(&lab, 0, dir, "ka1", &keepalived_conf("ka1", 100, 1, 1))?;
        wait_masters(&lab, 0, 1, Duration::from_secs(10))?;
        std::thread::sleep(Duration::from_secs(args.settle));
        rss_rows.push((
            "keepalived 2.2.7: 1 instance",
            d.pids().iter().map(|&p| rss_kb(p)).sum(),
            d.pids().len(),
        ));
    }

    // CPU: a MASTER/BACKUP pair with N instances each at 0.1 s.
    let n = args.instances;
    let mut cpu_rows = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    {
        let lab = Lab::new("resc", 2)?;
        let m = start_had(
            &lab,
            0,
            &had,
            dir,
            "hadm",
            &had_toml(dir, "hadm", 100, 1, n, false),
        )?;
        let b = start_had(
            &lab,
            1,
            &had,
            dir,
            "hadb",
            &had_toml(dir, "hadb", 90, 1, n, false),
        )?;
        wait_masters(&lab, 0, n, Duration::from_secs(15))?;
        std::thread::sleep(Duration::from_secs(2));
        let logs = [dir.join("hadm.log"), dir.join("hadb.log")];
        let t0 = transitions(&logs, " -> ");
        let p = cpu_percent(&[&m, &b], args.secs);
        let flaps = transitions(&logs, " -> ") - t0;
        let rss: u64 = m.pids().iter().map(|&p| rss_kb(p)).sum();
        cpu_rows.push(("had", p[0], p[1], rss, flaps));
    }
    if keepalived {
        let lab = Lab::new("resk", 2)?;
        let m = start_keepalived(&lab, 0, dir, "kam", &keepalived_conf("kam", 100, 1, n))?;
        let b = start_keepalived(&lab, 1, dir, "kab", &keepalived_conf("kab", 90, 1, n))?;
        // Reported, not fatal: the comparison is still worth its numbers.
        if let Err(e) = wait_masters(&lab, 0, n, Duration::from_secs(15)) {
            notes.push(format!(
                "keepalived {n} instances did not settle (measured anyway): {e}"
            ));
        }
        std::thread::sleep(Duration::from_secs(2));
        let logs = [dir.join("kam.log"), dir.join("kab.log")];
        let t0 = transitions(&logs, "Entering ");
        let p = cpu_percent(&[&m, &b], args.secs);
        let flaps = transitions(&logs, "Entering ") - t0;
        let rss: u64 = m.pids().iter().map(|&p| rss_kb(p)).sum();
        cpu_rows.push(("keepalived 2.2.7", p[0], p[1], rss, flaps));
    }
    let _ = std::fs::remove_dir_all(dir);

    println!(
        "\n## Idle memory (RSS after {} s, VRRPv3 advert 0.1 s, MASTER)\n",
        args.settle
    );
    println!("| node | processes | RSS | goal |\n|---|---|---|---|");
    for (name, kb, procs) in &rss_rows {
        let goal = if name.starts_with("had: 1 instance + 1 proxy") {
            if *kb < 10 * 1024 {
                "< 10 MB: met"
            } else {
                "< 10 MB: MISSED"
            }
        } else {
            ""
        };
        println!("| {name} | {procs} | {} | {goal} |", mb(*kb));
    }
    println!(
        "\n## CPU of {n} instances at advert 0.1 s ({} s, % of one core)\n",
        args.secs
    );
    println!(
        "| speaker | MASTER | BACKUP | MASTER RSS | state changes during the window | goal (< 2 %) |\n|---|---|---|---|---|---|"
    );
    for (name, m, b, rss, flaps) in &cpu_rows {
        let goal = if name.starts_with("had") {
            if m.max(*b) < 2.0 { "met" } else { "MISSED" }
        } else {
            ""
        };
        println!(
            "| {name} | {m:.2} % | {b:.2} % | {} | {flaps} | {goal} |",
            mb(*rss)
        );
    }
    for note in notes {
        println!("\nNote: {note}");
    }
    Ok(())
}
