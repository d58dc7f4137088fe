//! Shared by the lab and interop tests: had and keepalived nodes in a
//! `vip_netlink::lab` LAN, observed through control sockets and `ip addr`.

#![allow(dead_code)]

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use had::control::{Client, Request};
use had::status::{State, Status};
use vip_netlink::lab::Lab;

/// A had daemon running inside a lab node.
pub struct HadNode {
    pub index: usize,
    pub socket: PathBuf,
    pub log: PathBuf,
    pub config: PathBuf,
    child: Option<Child>,
}

impl HadNode {
    /// Start `had --config` in node `i` with `toml` (its control socket is
    /// `dir/n{i}.sock`, already written into the text by the caller via
    /// [`socket_path`]).
    pub fn start(lab: &Lab, dir: &Path, i: usize, toml: &str) -> HadNode {
        let config = dir.join(format!("n{i}.toml"));
        std::fs::write(&config, toml).unwrap();
        let log = dir.join(format!("n{i}.log"));
        let mut cmd = lab.command(i, env!("CARGO_BIN_EXE_had")).unwrap();
        cmd.arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let child = cmd.spawn().unwrap();
        let node = HadNode {
            index: i,
            socket: socket_path(dir, i),
            log,
            config,
            child: Some(child),
        };
        let up = wait_until(Duration::from_secs(10), || node.status().is_some());
        assert!(
            up.is_some(),
            "had in node {i} did not start:\n{}",
            node.log_text()
        );
        node
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The status document, if the daemon answers.
    pub fn status(&self) -> Option<Status> {
        let mut c = Client::connect(&self.socket).ok()?;
        c.call(&Request::Status).ok()?.status.map(|s| *s)
    }

    pub fn state(&self, instance: &str) -> Option<State> {
        self.status()?.instance(instance).map(|i| i.state)
    }

    pub fn call(&self, request: &Request) -> had::control::Response {
        Client::connect(&self.socket)
            .unwrap()
            .call(request)
            .unwrap()
    }

    /// SIGKILL: a crash (VIPs stay on the interface, no priority-0 advert).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for the exit status (bounded).
    pub fn terminate(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("running");
        signal(c.id(), nix::sys::signal::Signal::SIGTERM);
        let t0 = Instant::now();
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            if t0.elapsed() > Duration::from_secs(15) {
                let _ = c.kill();
                panic!("had did not stop within 15 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn hup(&self) {
        if let Some(c) = &self.child {
            signal(c.id(), nix::sys::signal::Signal::SIGHUP);
        }
    }
}

impl Drop for HadNode {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap());
    let _ = nix::sys::signal::kill(pid, sig);
}

pub fn socket_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("n{i}.sock"))
}

/// Poll `f` every 2 ms until true or `limit`; the time it took.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    loop {
        if f() {
            return Some(t0.elapsed());
        }
        if t0.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Whether node `i`'s eth0 holds `vip`.
pub fn has_vip(lab: &Lab, i: usize, vip: IpAddr) -> bool {
    lab.exec(i, &["ip", "-o", "addr", "show", "dev", "eth0"])
        .map(|out| out.contains(&format!(" {vip}/")))
        .unwrap_or(false)
}

/// The nodes holding `vip`.
pub fn holders(lab: &Lab, nodes: &[usize], vip: IpAddr) -> Vec<usize> {
    nodes
        .iter()
        .copied()
        .filter(|&i| has_vip(lab, i, vip))
        .collect()
}

/// A had.toml for one node.
pub fn had_toml(dir: &Path, i: usize, instance: &str) -> String {
    format!(
        "[global]\nrouter_id = \"n{i}\"\ncontrol_socket = \"{}\"\nvrrp_garp_master_delay = 0\n\n{instance}",
        socket_path(dir, i).display()
    )
}

/// keepalived 2.2.7 inside a lab node, with its own pid files.
pub struct KeepalivedNode {
    child: Option<Child>,
    pub log: PathBuf,
}

impl KeepalivedNode {
    pub fn start(lab: &Lab, dir: &Path, i: usize, conf: &str) -> KeepalivedNode {
        let path = dir.join(format!("k{i}.conf"));
        std::fs::write(&path, conf).unwrap();
        let log = dir.join(format!("k{i}.log"));
        // Fresh pid files per start: a SIGKILLed keepalived leaves its own,
        // and its reaped-late children make a restart think it still runs.
        static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pid = dir.join(format!("k{i}-{n}.pid"));
        let vpid = dir.join(format!("k{i}-{n}.vrrp.pid"));
        let mut cmd = lab.command(i, "keepalived").unwrap();
        cmd.args(["-n", "-l", "-D", "-f"])
            .arg(&path)
            .arg("-p")
            .arg(&pid)
            .arg("-r")
            .arg(&vpid)
            .stdin(Stdio::null());
        let out = std::fs::File::create(&log).unwrap();
        cmd.stderr(out.try_clone().unwrap()).stdout(out);
        let child = cmd.spawn().unwrap();
        KeepalivedNode {
            child: Some(child),
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL the parent and its VRRP child (keepalived forks one).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let parent = c.id();
            for child in children_of(parent) {
                signal(child, nix::sys::signal::Signal::SIGKILL);
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM (graceful: priority-0 adverts) and wait, bounded.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id(), nix::sys::signal::Signal::SIGTERM);
            let t0 = Instant::now();
            while c.try_wait().ok().flatten().is_none() && t0.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for KeepalivedNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// PIDs whose parent is `pid` (from /proc).
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // Field 4 (ppid) follows the parenthesised command name.
        if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r)
            && rest
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<u32>().ok())
                == Some(pid)
        {
            out.push(p);
        }
    }
    out
}

/// Whether keepalived can be run here (it is a real peer from Debian).
pub fn keepalived_available() -> bool {
    let ok = std::process::Command::new("keepalived")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        let msg = "keepalived is not installed (Debian package keepalived)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}");
        }
        eprintln!("skipping: {msg}");
    }
    ok
}

/// Append a line to a test's own progress log (shown on failure).
pub fn note(dir: &Path, line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("notes.txt"))
    {
        let _ = writeln!(f, "{line}");
    }
    eprintln!("{line}");
}
