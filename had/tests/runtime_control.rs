//! The daemon's control socket and metrics endpoint, in-process, with a plan
//! that needs no root and no network.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use had::control::{Client, EventKind, Request};
use had::plan::Plan;
use had::runtime::{Daemon, LoadError, Source};

/// A source whose next load can be made to fail, to exercise a refused reload.
struct Fixed {
    plan: Plan,
    broken: AtomicBool,
}

impl Source for Fixed {
    fn load(&self) -> Result<Plan, LoadError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(LoadError(
                "test.toml:3: key `priority`: 300 is not in 1..=255".into(),
            ));
        }
        Ok(self.plan.clone())
    }
    fn describe(&self) -> String {
        "test.toml".into()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn control_socket_and_metrics_answer_and_stop_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("run/had.sock");
    let port = free_port();
    let mut plan = Plan::empty("test-node", &sock);
    plan.metrics_listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
    let source = Arc::new(Fixed {
        plan,
        broken: AtomicBool::new(false),
    });

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (ready_tx, ready_rx) = mpsc::channel();
    let src: Arc<dyn Source> = source.clone();
    let daemon = std::thread::spawn(move || {
        rt.block_on(async move {
            let d = Daemon::start(src).await.expect("daemon starts");
            ready_tx.send(d.stop_handle()).unwrap();
            d.run().await
        })
    });
    let stop = ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();

    // Mode 0660 so the operators' group can use it.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);

    // A second daemon on the same socket is refused, not allowed to steal it.
    let err = had::control::bind(&sock).unwrap_err();
    assert!(err.to_string().contains("already listening"), "{err}");

    // Follow events from another connection.
    let (ev_tx, ev_rx) = mpsc::channel();
    let follow_path = sock.clone();
    std::thread::spawn(move || {
        let mut c = Client::connect(&follow_path).unwrap();
        let _ = c.follow(|e| ev_tx.send(e.clone()).is_ok());
    });
    std::thread::sleep(Duration::from_millis(200));

    let mut client = Client::connect(&sock).unwrap();
    let status = client.call(&Request::Status).unwrap().status.unwrap();
    assert_eq!(status.router_id, "test-node");
    assert_eq!(status.pid, std::process::id());
    assert!(status.instances.is_empty());

    let r = client
        .call(&Request::Demote {
            instance: "VI_9".into(),
        })
        .unwrap();
    assert!(!r.ok);
    assert!(r.error.unwrap().contains("VI_9"));

    let r = client
        .call(&Request::MemberDisable {
            proxy: "nope".into(),
            url: "http://127.0.0.1:1".into(),
        })
        .unwrap();
    assert!(!r.ok);

    // A good reload, then a refused one: the daemon keeps running.
    assert!(client.call(&Request::Reload).unwrap().ok);
    source.broken.store(true, Ordering::SeqCst);
    let r = client.call(&Request::Reload).unwrap();
    assert!(!r.ok);
    assert!(r.error.unwrap().contains("priority"));
    let status = client.call(&Request::Status).unwrap().status.unwrap();
    assert_eq!(status.reloads, 1);

    let ok_ev = ev_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        matches!(ok_ev.kind, EventKind::Reload { ok: true, .. }),
        "{ok_ev:?}"
    );
    let bad_ev = ev_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        matches!(bad_ev.kind, EventKind::Reload { ok: false, .. }),
        "{bad_ev:?}"
    );

    // Garbage gets an error line, not a dropped connection.
    let mut raw = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    raw.write_all(b"{\"cmd\":\"explode\"}\n").unwrap();
    let mut buf = [0u8; 512];
    let n = raw.read(&mut buf).unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(answer["ok"], false);

    // Metrics.
    let mut http = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    http.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    http.read_to_string(&mut body).unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("had_up{router_id=\"test-node\"} 1"), "{body}");
    assert!(body.contains("had_reloads_total 1"), "{body}");

    stop.stop();
    daemon.join().unwrap().unwrap();
    assert!(!sock.exists(), "control socket removed at stop");
    let err = Client::connect(&sock).unwrap_err();
    assert!(err.is_unreachable());
}
