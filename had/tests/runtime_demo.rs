//! `had --demo` end to end: the real binary, the embedded config, requests
//! through the proxy, the control socket, metrics, SIGHUP and SIGTERM → exit 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use had::control::{Client, Request};

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Kills the child if the test fails midway.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn demo_serves_through_the_proxy_and_stops_cleanly() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_had"))
            .args(["--demo", "--demo-port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut proxy = None;
    let mut socket = None;
    let mut metrics = None;
    let t0 = Instant::now();
    while proxy.is_none() || socket.is_none() || metrics.is_none() {
        assert!(t0.elapsed() < Duration::from_secs(30), "no banner");
        let line = lines.next().expect("banner").unwrap();
        if let Some(rest) = line.trim().strip_prefix("curl http://")
            && let Some((addr, _)) = rest.split_once('/')
        {
            if rest.contains("/metrics") {
                metrics = Some(addr.to_owned());
            } else {
                proxy = Some(addr.to_owned());
            }
        }
        if let Some(rest) = line.trim().strip_prefix("hactl --socket ") {
            socket = rest.split_whitespace().next().map(std::path::PathBuf::from);
        }
    }
    let (proxy, socket, metrics) = (proxy.unwrap(), socket.unwrap(), metrics.unwrap());

    // Round robin over the two built-in backends.
    let a = http_get(&proxy, "/one");
    let b = http_get(&proxy, "/two");
    assert!(a.starts_with("HTTP/1.1 200"), "{a}");
    assert!(a.contains("hello from backend"), "{a}");
    let who = |r: &str| r.contains("backend A");
    assert_ne!(
        who(&a),
        who(&b),
        "two requests went to different backends:\n{a}\n{b}"
    );

    let mut client = Client::connect(&socket).unwrap();
    let status = client.call(&Request::Status).unwrap().status.unwrap();
    assert_eq!(status.router_id, "demo");
    assert!(status.instances.is_empty());
    assert_eq!(status.proxies[0].name, "web");
    let total: u64 = status.proxies[0].members.iter().map(|m| m.requests).sum();
    assert!(total >= 2, "{status:?}");
    assert_eq!(status.checks.len(), 2);

    // Disable one member: every request now goes to the other.
    let url = status.proxies[0].members[0].url.clone();
    assert!(
        client
            .call(&Request::MemberDisable {
                proxy: "web".into(),
                url: url.clone(),
            })
            .unwrap()
            .ok
    );
    let port = url.rsplit(':').next().unwrap().to_owned();
    for _ in 0..4 {
        let r = http_get(&proxy, "/x");
        assert!(
            r.starts_with("HTTP/1.1 200") && !r.contains(&format!(":{port})")),
            "{r}"
        );
    }
    assert!(
        client
            .call(&Request::MemberEnable {
                proxy: "web".into(),
                url,
            })
            .unwrap()
            .ok
    );

    let m = http_get(&metrics, "/metrics");
    assert!(
        m.contains("had_proxy_member_requests_total{proxy=\"web\""),
        "{m}"
    );
    assert!(m.contains("had_check_up{check=\"backend_a\"} 1"), "{m}");

    // SIGHUP reloads (the proxy keeps serving), SIGTERM stops with exit 0.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.0.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let t0 = Instant::now();
    loop {
        let s = client.call(&Request::Status).unwrap().status.unwrap();
        if s.reloads == 1 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no reload");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(http_get(&proxy, "/after").starts_with("HTTP/1.1 200"));
    drop(client);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let t0 = Instant::now();
    let code = loop {
        if let Some(code) = child.0.try_wait().unwrap() {
            break code;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "exit status {code:?}");
    assert!(!socket.exists(), "control socket removed");
    assert!(TcpStream::connect(&proxy).is_err(), "proxy closed");
}

/// Reading the demo's banner: (proxy address, control socket).
fn banner(child: &mut std::process::Child) -> (String, std::path::PathBuf) {
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let (mut proxy, mut socket) = (None, None);
    while proxy.is_none() || socket.is_none() {
        let line = lines.next().expect("banner").unwrap();
        if let Some(rest) = line.trim().strip_prefix("curl http://")
            && !rest.contains("/metrics")
        {
            proxy = rest.split_once('/').map(|(a, _)| a.to_owned());
        }
        if let Some(rest) = line.trim().strip_prefix("hactl --socket ") {
            socket = rest.split_whitespace().next().map(std::path::PathBuf::from);
        }
    }
    // Keep draining stdout so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (proxy.unwrap(), socket.unwrap())
}

#[test]
fn reloads_never_fail_a_request_through_the_proxy() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_had"))
            .args(["--demo", "--demo-port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (proxy, socket) = banner(&mut child.0);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    // A probe: sequential requests, bounded in count and time.
    let probe = std::thread::spawn(move || {
        let (mut ok, mut failed) = (0u32, Vec::new());
        let t0 = Instant::now();
        while !s2.load(std::sync::atomic::Ordering::Relaxed)
            && ok + (failed.len() as u32) < 5000
            && t0.elapsed() < Duration::from_secs(20)
        {
            let r = std::panic::catch_unwind(|| http_get(&proxy, "/probe"));
            match r {
                Ok(r) if r.starts_with("HTTP/1.1 200") => ok += 1,
                Ok(r) => failed.push(r.lines().next().unwrap_or_default().to_owned()),
                Err(_) => failed.push("connection error".into()),
            }
        }
        (ok, failed)
    });
    let mut client = Client::connect(&socket).unwrap();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(150));
        let r = client.call(&Request::Reload).unwrap();
        assert!(r.ok, "{r:?}");
    }
    std::thread::sleep(Duration::from_millis(150));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = probe.join().unwrap();
    assert!(ok > 20, "the probe ran ({ok} requests)");
    assert!(
        failed.is_empty(),
        "{} of {} failed: {failed:?}",
        failed.len(),
        ok as usize + failed.len()
    );
    let status = client.call(&Request::Status).unwrap().status.unwrap();
    assert_eq!(status.reloads, 5);
}

#[test]
fn check_flag_exits_0_for_valid_and_1_for_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
         virtual_ipaddress = [\"198.18.0.200/24\"]\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 300\n",
    )
    .unwrap();
    let run = |p: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_had"))
            .arg("--check")
            .arg("--config")
            .arg(p)
            .output()
            .unwrap()
    };
    let ok = run(&good);
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let ko = run(&bad);
    assert_eq!(ko.status.code(), Some(1));
    let text = String::from_utf8_lossy(&ko.stdout);
    assert!(
        text.contains("bad.toml:3"),
        "errors name the file and line: {text}"
    );
}
