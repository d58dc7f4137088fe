//! Shared by the end-to-end and chaos lab tests: real HTTP members (nginx in
//! lab nodes), a client that probes the VIP with a fresh connection every
//! 10 ms, the outage arithmetic over its record, and a forger of VRRP
//! packets (garbage, wrong password, TTL below 255) sent from a lab node.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vip_netlink::lab::Lab;

/// Whether `program` runs here; under `CI=true` a missing one is a failure.
pub fn tool_available(program: &str, package: &str) -> bool {
    let ok = std::process::Command::new(program)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        let msg = format!("{program} is not installed (Debian package {package})");
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}");
        }
        eprintln!("skipping: {msg}");
    }
    ok
}

/// An nginx serving `member <last octet>` on port 8080 of a lab node: a
/// single process (`master_process off`), so SIGKILL is a member's death.
pub struct Member {
    /// The lab node it runs in.
    pub node: usize,
    /// Where it listens.
    pub addr: SocketAddr,
    dir: PathBuf,
    child: Option<Child>,
}

/// The port every member listens on.
pub const MEMBER_PORT: u16 = 8080;

impl Member {
    /// Start nginx in node `i` and wait (bounded) until it answers.
    pub fn start(lab: &Lab, dir: &Path, i: usize) -> Member {
        let ip = lab.node(i).ipv4;
        let addr = SocketAddr::new(IpAddr::V4(ip), MEMBER_PORT);
        let root = dir.join(format!("member{i}"));
        std::fs::create_dir_all(&root).unwrap();
        let conf = root.join("nginx.conf");
        let r = root.display();
        std::fs::write(
            &conf,
            format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {r}/nginx.pid;\n\
                 error_log {r}/error.log warn;\nevents {{ worker_connections 4096; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {r}/body;\n  proxy_temp_path {r}/proxy;\n\
                 fastcgi_temp_path {r}/fastcgi;\n  uwsgi_temp_path {r}/uwsgi;\n  scgi_temp_path {r}/scgi;\n\
                 server {{\n    listen {addr} reuseport;\n    keepalive_requests 100000;\n\
                 location / {{ default_type text/plain; return 200 \"member {}\\n\"; }}\n  }}\n}}\n",
                ip.octets()[3]
            ),
        )
        .unwrap();
        let mut m = Member {
            node: i,
            addr,
            dir: root,
            child: None,
        };
        m.restart(lab);
        m
    }

    /// (Re)start the nginx process and wait until it accepts connections.
    pub fn restart(&mut self, lab: &Lab) {
        self.kill();
        let mut cmd = lab.command(self.node, "nginx").unwrap();
        cmd.arg("-p")
            .arg(&self.dir)
            .arg("-e")
            .arg(self.dir.join("stderr.log"))
            .arg("-c")
            .arg(self.dir.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child = Some(lab.spawn_command(self.node, &mut cmd).unwrap());
        let addr = self.addr;
        let up = lab_support::wait_until(Duration::from_secs(5), || {
            lab.run_in(self.node, move || {
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            })
            .unwrap_or(false)
        });
        assert!(
            up.is_some(),
            "nginx member in node {} did not start: {}",
            self.node,
            std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
        );
    }

    /// SIGKILL: the member dies with its connections.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The member's URL as a proxy config writes it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

use crate::lab_support;

/// One probe: a fresh TCP connection, `GET /`, the whole response read.
#[derive(Debug, Clone)]
pub struct Probe {
    /// When the probe started.
    pub at: Instant,
    /// A `200` with a member's body arrived within the probe deadline.
    pub ok: bool,
    /// Time to the full response or to the failure.
    pub took: Duration,
    /// Why it failed (empty when ok).
    pub error: String,
}

/// A client in its own lab node probing `target` every `period` with a
/// fresh connection (each probe bounded by `deadline`), until stopped or
/// `limit` has passed.
pub struct Prober {
    probes: Arc<Mutex<Vec<Probe>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<(), vip_netlink::lab::LabError>>>,
}

/// How long a probe may take before it counts as failed.
pub const PROBE_DEADLINE: Duration = Duration::from_millis(200);

impl Prober {
    /// Start probing from node `i`.
    pub fn start(
        lab: &Lab,
        i: usize,
        target: SocketAddr,
        period: Duration,
        limit: Duration,
    ) -> Prober {
        let probes: Arc<Mutex<Vec<Probe>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (probes.clone(), stop.clone());
        let thread = lab
            .spawn_thread_in(i, move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("client runtime");
                rt.block_on(probe_loop(target, period, limit, p, s));
            })
            .unwrap();
        Prober {
            probes,
            stop,
            thread: Some(thread),
        }
    }

    /// The probes so far.
    pub fn probes(&self) -> Vec<Probe> {
        self.probes.lock().unwrap().clone()
    }

    /// The probes started in `[from, to]` (all finished when this returns:
    /// waits out the deadline of the last ones).
    pub fn window(&self, from: Instant, to: Instant) -> Vec<Probe> {
        let settle = to + PROBE_DEADLINE + Duration::from_millis(50);
        if let Some(d) = settle.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
        let mut v: Vec<Probe> = self
            .probes()
            .into_iter()
            .filter(|p| p.at >= from && p.at <= to)
            .collect();
        v.sort_by_key(|p| p.at);
        v
    }

    /// Stop probing and wait for the client thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn probe_loop(
    target: SocketAddr,
    period: Duration,
    limit: Duration,
    probes: Arc<Mutex<Vec<Probe>>>,
    stop: Arc<AtomicBool>,
) {
    let t0 = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut tasks = tokio::task::JoinSet::new();
    while !stop.load(Ordering::Relaxed) && t0.elapsed() < limit {
        tick.tick().await;
        let p = probes.clone();
        tasks.spawn(async move {
            let at = Instant::now();
            let result = tokio::time::timeout(PROBE_DEADLINE, get(target)).await;
            let took = at.elapsed();
            let (ok, error) = match result {
                Ok(Ok(())) => (true, String::new()),
                Ok(Err(e)) => (false, e),
                Err(_) => (false, "timeout".to_owned()),
            };
            p.lock().unwrap().push(Probe {
                at,
                ok,
                took,
                error,
            });
        });
        // Reap finished probes so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

async fn get(target: SocketAddr) -> Result<(), String> {
    let mut s = tokio::net::TcpStream::connect(target)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let req = format!("GET / HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::with_capacity(512);
    s.read_to_end(&mut buf)
        .await
        .map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&buf);
    if text.starts_with("HTTP/1.1 200") && text.contains("member ") {
        Ok(())
    } else {
        Err(format!(
            "response: {}",
            text.lines().next().unwrap_or("(empty)")
        ))
    }
}

/// What a client saw during one fault.
#[derive(Debug, Clone, Default)]
pub struct Outage {
    /// Longest run of failed probes: from the first failed probe's start to
    /// the start of the first probe that succeeded after it (or the last
    /// probe's end if none did).
    pub longest: Duration,
    /// Probes that failed.
    pub failed: usize,
    /// Probes in the window.
    pub total: usize,
    /// The distinct failure reasons, with counts.
    pub reasons: Vec<(String, usize)>,
    /// Whether the window ends with a success (service resumed).
    pub resumed: bool,
}

impl Outage {
    /// Compute over probes sorted by start time.
    pub fn of(probes: &[Probe]) -> Outage {
        let mut o = Outage {
            total: probes.len(),
            ..Outage::default()
        };
        let mut run_start: Option<Instant> = None;
        let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
        for p in probes {
            if p.ok {
                if let Some(s) = run_start.take() {
                    o.longest = o.longest.max(p.at.duration_since(s));
                }
            } else {
                o.failed += 1;
                *reasons.entry(p.error.clone()).or_default() += 1;
                run_start.get_or_insert(p.at);
            }
        }
        if let (Some(s), Some(last)) = (run_start, probes.last()) {
            o.longest = o.longest.max((last.at + last.took).duration_since(s));
        }
        o.resumed = probes.last().is_some_and(|p| p.ok);
        o.reasons = reasons.into_iter().collect();
        o
    }
}

/// Milliseconds with one decimal, for tables.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// One measured line, printed in a form `cargo xtask` collects:
/// `E2E|<scenario>|<outage ms>|<failed>|<total>|<goal>`.
pub fn report(dir: &Path, scenario: &str, o: &Outage, goal: &str) {
    lab_support::note(
        dir,
        &format!(
            "E2E|{scenario}|{}|{}|{}|{goal}|{}",
            ms(o.longest),
            o.failed,
            o.total,
            o.reasons
                .iter()
                .map(|(r, n)| format!("{r} x{n}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    );
}

/// Drops (with a TCP reset, so failures are fast) node `i`'s own traffic to
/// `targets`: the node's proxy loses its members while the VIP stays up.
pub fn block_output(lab: &Lab, i: usize, targets: &[SocketAddr]) {
    let set: Vec<String> = targets.iter().map(|a| a.ip().to_string()).collect();
    let script = format!(
        "add table ip e2e_block\ndelete table ip e2e_block\n\
         table ip e2e_block {{\n chain out {{\n  type filter hook output priority 0; policy accept;\n\
           ip daddr {{ {} }} tcp dport {MEMBER_PORT} reject with tcp reset\n }}\n}}\n",
        set.join(", ")
    );
    nft(lab, i, &script);
}

/// Undoes [`block_output`].
pub fn unblock_output(lab: &Lab, i: usize) {
    nft(
        lab,
        i,
        "add table ip e2e_block\ndelete table ip e2e_block\n",
    );
}

/// Rewrites the TTL of every VRRP packet node `i` sends to `ttl` (to forge
/// adverts that crossed a router, which RFC 5798 §5.1.1.3 says to drop).
pub fn rewrite_vrrp_ttl(lab: &Lab, i: usize, ttl: u8) {
    let script = format!(
        "add table ip e2e_ttl\ndelete table ip e2e_ttl\n\
         table ip e2e_ttl {{\n chain out {{\n  type filter hook output priority 0; policy accept;\n\
           ip protocol 112 ip ttl set {ttl}\n }}\n}}\n"
    );
    nft(lab, i, &script);
}

fn nft(lab: &Lab, i: usize, script: &str) {
    use std::io::Write;
    let mut cmd = lab.command(i, "nft").unwrap();
    cmd.args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("nft");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft in node {i} failed: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a forger sends.
#[derive(Debug, Clone)]
pub enum Forgery {
    /// Random bytes whose second byte is `vrid` (so receivers attribute
    /// them to the instance and count them as malformed).
    Garbage {
        /// The VRID written in byte 1.
        vrid: u8,
    },
    /// A well-formed advert (encoded by vrrp-core).
    Advert(vrrp_core::Advertisement),
}

/// Sends `count` forged packets from node `i` to the VRRP group, one every
/// `gap` (bounded: at most `count` packets), through a VRRP raw socket.
/// Returns how many were sent.
pub fn forge(lab: &Lab, i: usize, forgery: Forgery, count: usize, gap: Duration) -> usize {
    forge_to(lab, i, None, forgery, count, gap)
}

/// [`forge`], sent to `unicast` (one node's address) instead of the group
/// when given.
pub fn forge_to(
    lab: &Lab,
    i: usize,
    unicast: Option<IpAddr>,
    forgery: Forgery,
    count: usize,
    gap: Duration,
) -> usize {
    let src = IpAddr::V4(lab.node(i).ipv4);
    let (dst, peers) = match unicast {
        Some(to) => (to, vip_netlink::Peers::Unicast(vec![to])),
        None => (
            IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
            vip_netlink::Peers::Multicast,
        ),
    };
    lab.run_in(i, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let nl = vip_netlink::Netlink::connect().unwrap();
            let eth0 = nl.interface("eth0").await.unwrap();
            let socket = vip_netlink::VrrpSocket::open(&eth0, src, peers).unwrap();
            // A fixed-seed xorshift: the garbage is random-looking but the
            // run is repeatable.
            let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut sent = 0;
            for n in 0..count {
                let payload = match &forgery {
                    Forgery::Garbage { vrid } => {
                        let len = 1 + (n % 60);
                        let mut b: Vec<u8> = (0..len)
                            .map(|_| {
                                state ^= state << 13;
                                state ^= state >> 7;
                                state ^= state << 17;
                                state.to_le_bytes()[0]
                            })
                            .collect();
                        if let Some(slot) = b.get_mut(1) {
                            *slot = *vrid;
                        }
                        b
                    }
                    Forgery::Advert(a) => {
                        let mut buf = vec![0u8; a.encoded_len()];
                        a.encode(src, dst, &mut buf).unwrap();
                        buf
                    }
                };
                if socket.send(&payload).await.is_ok() {
                    sent += 1;
                }
                tokio::time::sleep(gap).await;
            }
            sent
        })
    })
    .unwrap()
}

/// Lines of a daemon log that show a panic.
pub fn panics(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("panicked") || l.contains("RUST_BACKTRACE"))
        .map(str::to_owned)
        .collect()
}

/// A run-length knob from the environment (set by the xtask that runs the
/// heavy variants): `default` when unset or unparsable, clamped to `min..=max`
/// so every loop stays bounded.
pub fn env_knob<T: std::str::FromStr + Ord>(name: &str, default: T, min: T, max: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
        .clamp(min, max)
}
