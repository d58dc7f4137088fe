//! Built-in checks against listeners, files and processes the tests create
//! on 127.0.0.1 and in temp directories.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use health::{
    CheckConfig, HttpMethod, HttpProbe, Monitor, Probe, ProxyMembersProbe, Status, TrackFileProbe,
    TrackProcessProbe, attempt,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(2);

/// An address on loopback where nothing listens (bound, then closed).
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// A tiny HTTP server answering every request with `status`; sends each
/// request head it receives on the returned channel.
async fn http_server(status: u16) -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
                let body = "hello";
                let response = format!(
                    "HTTP/1.1 {status} Whatever\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn tcp_up_and_down() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    let result = attempt(&Probe::Tcp(up), T).await;
    assert!(result.success, "{result:?}");
    let down = closed_port().await;
    let result = attempt(&Probe::Tcp(down), T).await;
    assert!(!result.success);
    assert!(result.error.unwrap().contains(&down.to_string()));
}

#[tokio::test]
async fn http_expected_status_wrong_status_and_down() {
    let (ok, mut requests) = http_server(200).await;
    let result = attempt(&Probe::Http(HttpProbe::get(ok)), T).await;
    assert!(result.success, "{result:?}");
    let head = requests.recv().await.unwrap();
    assert!(head.starts_with("GET / HTTP/1.1\r\n"), "{head}");
    assert!(head.contains(&format!("Host: {ok}\r\n")), "{head}");

    let mut head_probe = HttpProbe::get(ok);
    head_probe.method = HttpMethod::Head;
    head_probe.path = "/health?x=1".into();
    head_probe.host = Some("www.example".into());
    assert!(attempt(&Probe::Http(head_probe), T).await.success);
    let head = requests.recv().await.unwrap();
    assert!(head.starts_with("HEAD /health?x=1 HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("Host: www.example\r\n"), "{head}");

    let (wrong, _requests) = http_server(503).await;
    let result = attempt(&Probe::Http(HttpProbe::get(wrong)), T).await;
    assert!(!result.success);
    assert_eq!(
        result.error.as_deref(),
        Some("HTTP status 503, expected 200")
    );
    let mut expect_503 = HttpProbe::get(wrong);
    expect_503.expected_status = 503;
    assert!(attempt(&Probe::Http(expect_503), T).await.success);

    let down = closed_port().await;
    assert!(!attempt(&Probe::Http(HttpProbe::get(down)), T).await.success);
}

#[tokio::test]
async fn http_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepted by the kernel backlog, never answered.
    let result = attempt(
        &Probe::Http(HttpProbe::get(addr)),
        Duration::from_millis(200),
    )
    .await;
    assert!(!result.success && result.timed_out, "{result:?}");
    drop(listener);
}

#[tokio::test]
async fn http_garbage_is_a_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await;
    });
    let result = attempt(&Probe::Http(HttpProbe::get(addr)), T).await;
    assert!(!result.success);
    assert!(result.error.unwrap().contains("malformed status line"));
}

#[test]
fn invalid_http_config_names_the_field() {
    let mut probe = HttpProbe::get("127.0.0.1:80".parse().unwrap());
    probe.path = "no-slash".into();
    let err = CheckConfig::new("chk_web", Probe::Http(probe))
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("chk_web") && err.contains("path"), "{err}");
}

async fn next_change(
    changes: &mut mpsc::UnboundedReceiver<health::HealthChange>,
) -> health::HealthChange {
    tokio::time::timeout(Duration::from_secs(5), changes.recv())
        .await
        .expect("a change in time")
        .expect("stream open")
}

#[tokio::test]
async fn tcp_check_through_the_monitor_falls_when_listener_closes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut check = CheckConfig::new("chk_tcp", Probe::Tcp(addr));
    check.interval = Duration::from_millis(50);
    check.timeout = Some(Duration::from_millis(500));
    check.fall = 2;
    check.weight = -20;
    let (monitor, mut changes) = Monitor::start(vec![check]).unwrap();
    let up = next_change(&mut changes).await;
    assert_eq!((up.status, up.weight), (Status::Ok, -20));
    drop(listener);
    let down = next_change(&mut changes).await;
    assert_eq!((down.previous, down.status), (Status::Ok, Status::Failed));
    let snap = monitor.check("chk_tcp").unwrap();
    assert_eq!(snap.kind, "tcp");
    assert!(snap.failures >= 2);
}

#[tokio::test]
async fn proxy_members_quorum() {
    let up = Arc::new(AtomicUsize::new(2));
    let counter = up.clone();
    let probe = ProxyMembersProbe {
        min_up: 1,
        members_up: Arc::new(move || counter.load(Ordering::SeqCst)),
    };
    let mut check = CheckConfig::new("chk_members", Probe::ProxyMembers(probe));
    check.interval = Duration::from_millis(20);
    let (monitor, mut changes) = Monitor::start(vec![check]).unwrap();
    assert_eq!(next_change(&mut changes).await.status, Status::Ok);
    up.store(0, Ordering::SeqCst);
    let down = next_change(&mut changes).await;
    assert_eq!(down.status, Status::Failed);
    assert_eq!(down.reason.as_deref(), Some("0 members up, 1 needed"));
    up.store(1, Ordering::SeqCst);
    assert_eq!(next_change(&mut changes).await.status, Status::Ok);
    drop(monitor);
}

#[tokio::test]
async fn track_file_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prio");
    let probe = TrackFileProbe {
        path: file.clone(),
        reverse: false,
    };
    // Missing file reads as 0.
    assert_eq!(health::read_track_file(&file), 0);
    let mut check = CheckConfig::new("trk_file", Probe::TrackFile(probe));
    check.interval = Duration::from_millis(20);
    check.weight = -10;
    let (monitor, mut changes) = Monitor::start(vec![check]).unwrap();
    let first = next_change(&mut changes).await;
    assert_eq!(
        (first.status, first.value, first.weight),
        (Status::Ok, Some(0), -10)
    );

    std::fs::write(&file, "5\n").unwrap();
    let five = next_change(&mut changes).await;
    assert_eq!(
        (five.previous, five.status, five.value),
        (Status::Ok, Status::Ok, Some(5))
    );
    assert_eq!(
        health::track_file_effect(5, -10, false),
        health::FileEffect::Delta(-50)
    );

    // 30 × -10 = -300, below -253: FAULT, as keepalived.
    std::fs::write(&file, "30").unwrap();
    let fault = next_change(&mut changes).await;
    assert_eq!((fault.status, fault.value), (Status::Failed, Some(30)));

    std::fs::write(&file, "garbage").unwrap();
    let zero = next_change(&mut changes).await;
    assert_eq!((zero.status, zero.value), (Status::Ok, Some(0)));
    assert_eq!(monitor.check("trk_file").unwrap().value, Some(0));

    std::fs::write(&file, "-999").unwrap();
    assert_eq!(next_change(&mut changes).await.value, Some(-254));
}

#[tokio::test]
async fn track_file_weight_zero_faults_on_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("down");
    std::fs::write(&file, "1").unwrap();
    let probe = TrackFileProbe {
        path: file.clone(),
        reverse: false,
    };
    let mut check = CheckConfig::new("trk_down", Probe::TrackFile(probe));
    check.interval = Duration::from_millis(20);
    let (_monitor, mut changes) = Monitor::start(vec![check]).unwrap();
    assert_eq!(next_change(&mut changes).await.status, Status::Failed);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(next_change(&mut changes).await.status, Status::Ok);
}

/// Until a spawned child has exec'd, its comm and cmdline are still ours:
/// poll briefly for the expected count.
async fn wait_for_count(probe: &TrackProcessProbe, expected: u32) {
    let mut count = 0;
    for _ in 0..300 {
        count = health::count_processes(probe);
        if count == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("expected {expected} matching processes, found {count}");
}

#[tokio::test]
async fn track_process_sees_a_process_come_and_go() {
    // A uniquely named process: a copy of sleep with our own name.
    let dir = tempfile::tempdir().unwrap();
    let name = format!("hadtrk{}", std::process::id() % 100_000);
    let exe = dir.path().join(&name);
    std::fs::copy("/bin/sleep", &exe).unwrap();
    let probe = TrackProcessProbe::named(&name);
    let mut check = CheckConfig::new("trk_proc", Probe::TrackProcess(probe));
    check.interval = Duration::from_millis(30);
    let (monitor, mut changes) = Monitor::start(vec![check]).unwrap();
    assert_eq!(next_change(&mut changes).await.status, Status::Failed);

    let mut child = std::process::Command::new(&exe).arg("30").spawn().unwrap();
    let up = next_change(&mut changes).await;
    assert_eq!(up.status, Status::Ok);
    assert_eq!(up.reason.as_deref(), Some("1 matching processes"));

    // quorum_max 0 style bounds are covered in unit tests; here: it goes away.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(next_change(&mut changes).await.status, Status::Failed);
    assert_eq!(monitor.check("trk_proc").unwrap().transitions, 3);

    // Matching by command line with parameters.
    let mut by_args = TrackProcessProbe::named(exe.to_str().unwrap());
    by_args.params = vec!["31".into()];
    assert_eq!(health::count_processes(&by_args), 0);
    let mut child = std::process::Command::new(&exe).arg("31").spawn().unwrap();
    wait_for_count(&by_args, 1).await;
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn track_process_terminate_delay_absorbs_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("hadrst{}", std::process::id() % 100_000);
    let exe = dir.path().join(&name);
    std::fs::copy("/bin/sleep", &exe).unwrap();
    let mut child = std::process::Command::new(&exe).arg("30").spawn().unwrap();
    let mut probe = TrackProcessProbe::named(&name);
    wait_for_count(&probe, 1).await;
    probe.terminate_delay = Duration::from_millis(600);
    let mut check = CheckConfig::new("trk_delay", Probe::TrackProcess(probe));
    check.interval = Duration::from_millis(30);
    let (_monitor, mut changes) = Monitor::start(vec![check]).unwrap();
    assert_eq!(next_change(&mut changes).await.status, Status::Ok);
    // Stopped and restarted within the delay: no change.
    child.kill().unwrap();
    child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut child = std::process::Command::new(&exe).arg("30").spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        changes.try_recv().is_err(),
        "restart within terminate_delay must not fail"
    );
    // Stopped for longer than the delay: failed.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(next_change(&mut changes).await.status, Status::Failed);
}
