//! The whole daemon (config file → plan → checks → VRRP thread → notify
//! hooks, events, control socket, reload) with two nodes on an in-memory
//! LAN: no root needed.

mod runtime_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use had::control::{Client, EventKind, Request};
use had::runtime::source::FileSource;
use had::runtime::vrrp::VrrpThread;
use had::runtime::{Daemon, Source, StopHandle, VrrpSpawner};
use had::status::{State, Status};
use runtime_support::{SharedLan, SimWire};

fn spawner(lan: &SharedLan, node: usize) -> VrrpSpawner {
    let lan = lan.clone();
    Arc::new(move |instances, realtime, reports| {
        let lan = lan.clone();
        VrrpThread::spawn(
            move || {
                Ok(SimWire {
                    node,
                    primary: std::net::IpAddr::from([198, 18, 0, 10 + node as u8]),
                    lan,
                    links: None,
                })
            },
            instances,
            realtime,
            reports,
        )
    })
}

fn write_config(dir: &Path, node: usize, priority: u8) -> PathBuf {
    let path = dir.join(format!("n{node}.toml"));
    let text = format!(
        r#"[global]
router_id = "n{node}"
control_socket = "{dir}/n{node}.sock"

[vrrp_script.chk]
script = "/usr/bin/test -f {dir}/ok{node}"
interval = 0.05
weight = -20
fall = 1
rise = 1

[vrrp_instance.VI_1]
interface = "lan0"
virtual_router_id = 51
priority = {priority}
advert_int = 0.1
version = 3
virtual_ipaddress = ["198.18.0.200/24"]
track_script = ["chk"]
notify = "/bin/sh -c 'echo \"$@\" >> {dir}/notify{node}' notify"
"#,
        dir = dir.display()
    );
    std::fs::write(&path, text).unwrap();
    std::fs::write(dir.join(format!("ok{node}")), "").unwrap();
    path
}

struct Node {
    socket: PathBuf,
    stop: StopHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Node {
    fn start(lan: &SharedLan, dir: &Path, node: usize, priority: u8) -> Node {
        let config = write_config(dir, node, priority);
        let source: Arc<dyn Source> = Arc::new(FileSource::new(config));
        let sp = spawner(lan, node);
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let d = Daemon::start_with(source, sp).await.expect("daemon starts");
                tx.send(d.stop_handle()).unwrap();
                d.run().await.unwrap();
            });
        });
        let stop = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Node {
            socket: dir.join(format!("n{node}.sock")),
            stop,
            thread: Some(thread),
        }
    }
    fn status(&self) -> Status {
        *Client::connect(&self.socket)
            .unwrap()
            .call(&Request::Status)
            .unwrap()
            .status
            .unwrap()
    }
    fn state(&self) -> State {
        self.status()
            .instance("VI_1")
            .map_or(State::Init, |i| i.state)
    }
    fn call(&self, r: &Request) -> had::control::Response {
        Client::connect(&self.socket).unwrap().call(r).unwrap()
    }
    fn stop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn notified(dir: &Path, node: usize) -> String {
    std::fs::read_to_string(dir.join(format!("notify{node}"))).unwrap_or_default()
}

#[test]
fn checks_notify_events_overrides_and_reload_through_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lan: SharedLan = Arc::default();
    let mut a = Node::start(&lan, d, 1, 100);
    let b = Node::start(&lan, d, 2, 90);
    wait("A master, B backup", Duration::from_secs(5), || {
        a.state() == State::Master && b.state() == State::Backup
    });
    // keepalived's generic notify: INSTANCE name state priority.
    wait("notify MASTER on A", Duration::from_secs(5), || {
        notified(d, 1).contains("INSTANCE VI_1 MASTER 100")
    });
    wait("notify BACKUP on B", Duration::from_secs(5), || {
        notified(d, 2).contains("INSTANCE VI_1 BACKUP 90")
    });
    let st = a.status();
    assert_eq!(st.checks[0].name, "chk");
    assert_eq!(st.checks[0].status, "ok");

    // Follow A's events while its check fails: priority 80 < 90, B preempts.
    let (tx, rx) = std::sync::mpsc::channel();
    let sock = a.socket.clone();
    std::thread::spawn(move || {
        let _ = Client::connect(&sock)
            .unwrap()
            .follow(|e| tx.send(e.clone()).is_ok());
    });
    std::thread::sleep(Duration::from_millis(200));
    std::fs::remove_file(d.join("ok1")).unwrap();
    wait(
        "B master after A's check fails",
        Duration::from_secs(5),
        || b.state() == State::Master && a.state() == State::Backup,
    );
    assert_eq!(a.status().instances[0].effective_priority, 80);
    let mut saw = (false, false);
    let t0 = Instant::now();
    while !(saw.0 && saw.1) && t0.elapsed() < Duration::from_secs(5) {
        if let Ok(e) = rx.recv_timeout(Duration::from_millis(100)) {
            match e.kind {
                EventKind::Check { status, .. } if status == "failing" => saw.0 = true,
                EventKind::State {
                    from: State::Master,
                    to: State::Backup,
                    ..
                } => saw.1 = true,
                _ => {}
            }
        }
    }
    assert_eq!(saw, (true, true), "check and state events streamed");
    wait("notify BACKUP 80 on A", Duration::from_secs(5), || {
        notified(d, 1).contains("INSTANCE VI_1 BACKUP 80")
    });
    std::fs::write(d.join("ok1"), "").unwrap();
    wait("A back", Duration::from_secs(5), || {
        a.state() == State::Master
    });

    // Operator override through the control socket.
    assert!(
        a.call(&Request::Demote {
            instance: "VI_1".into()
        })
        .ok
    );
    wait("B master after demote", Duration::from_secs(5), || {
        b.state() == State::Master
    });
    assert_eq!(a.status().instances[0].effective_priority, 1);
    assert!(
        !a.call(&Request::Promote {
            instance: "nope".into()
        })
        .ok
    );
    assert!(
        a.call(&Request::Clear {
            instance: "VI_1".into()
        })
        .ok
    );
    wait("A master after clear", Duration::from_secs(5), || {
        a.state() == State::Master
    });

    // Reload with a new priority: same identity, no flap.
    let before = a.status().instances[0].clone();
    write_config(d, 1, 110);
    let r = a.call(&Request::Reload);
    assert!(r.ok, "{r:?}");
    let after = a.status().instances[0].clone();
    assert_eq!(after.state, State::Master);
    assert_eq!(after.transitions, before.transitions, "no flap on reload");
    assert_eq!(after.priority, 110);
    assert_eq!(after.effective_priority, 110);
    // A broken file is refused; the old configuration keeps running.
    std::fs::write(
        d.join("n1.toml"),
        "[vrrp_instance.VI_1]\ninterface = \"lan0\"\nvirtual_router_id = 300\n",
    )
    .unwrap();
    let r = a.call(&Request::Reload);
    assert!(!r.ok);
    let e = r.error.unwrap();
    assert!(
        e.contains("n1.toml") && e.contains("virtual_router_id"),
        "{e}"
    );
    assert_eq!(a.state(), State::Master);

    // Graceful stop: B takes over at once.
    a.stop();
    wait("B master after A stops", Duration::from_secs(2), || {
        b.state() == State::Master
    });
    assert!(lan.lock().unwrap().vips[&1].is_empty(), "A's VIP removed");
    // The stop hook ran (and finished) before the daemon returned.
    assert!(
        notified(d, 1).contains("INSTANCE VI_1 STOP"),
        "{}",
        notified(d, 1)
    );
}

#[test]
fn sync_group_hooks_run_when_the_whole_group_changes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lan: SharedLan = Arc::default();
    let config = d.join("g.toml");
    std::fs::write(d.join("okg"), "").unwrap();
    std::fs::write(
        &config,
        format!(
            r#"[global]
router_id = "g"
control_socket = "{dir}/g.sock"

[vrrp_script.link_ok]
script = "/usr/bin/test -f {dir}/okg"
interval = 0.05
weight = 0

[vrrp_instance.VI_1]
interface = "lan0"
virtual_router_id = 51
advert_int = 0.1
version = 3
virtual_ipaddress = ["198.18.0.200/24"]
track_script = ["link_ok"]

[vrrp_instance.VI_2]
interface = "lan0"
virtual_router_id = 52
advert_int = 0.1
version = 3
virtual_ipaddress = ["198.18.0.201/24"]

[vrrp_sync_group.G]
group = ["VI_1", "VI_2"]
notify = "/bin/sh -c 'echo \"$@\" >> {dir}/group' notify"
"#,
            dir = d.display()
        ),
    )
    .unwrap();
    let source: Arc<dyn Source> = Arc::new(FileSource::new(&config));
    let sp = spawner(&lan, 1);
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let d = Daemon::start_with(source, sp).await.expect("daemon starts");
            tx.send(d.stop_handle()).unwrap();
            d.run().await.unwrap();
        });
    });
    let stop = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let mut node = Node {
        socket: d.join("g.sock"),
        stop,
        thread: Some(thread),
    };
    let group = || std::fs::read_to_string(d.join("group")).unwrap_or_default();
    wait("GROUP G MASTER", Duration::from_secs(5), || {
        group().contains("GROUP G MASTER")
    });
    // A weight-0 check of one member fails: the whole group goes FAULT.
    std::fs::remove_file(d.join("okg")).unwrap();
    wait("GROUP G FAULT", Duration::from_secs(5), || {
        group().contains("GROUP G FAULT")
    });
    let st = node.status();
    assert!(
        st.instances.iter().all(|i| i.state == State::Fault),
        "{st:?}"
    );
    assert!(
        st.instances
            .iter()
            .all(|i| i.sync_group.as_deref() == Some("G"))
    );
    std::fs::write(d.join("okg"), "").unwrap();
    wait("group back to MASTER", Duration::from_secs(5), || {
        group().matches("GROUP G MASTER").count() == 2
    });
    node.stop();
}

#[test]
fn a_dead_vrrp_thread_stops_the_daemon_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = write_config(d, 7, 100);
    let source: Arc<dyn Source> = Arc::new(FileSource::new(config));
    // A wire that cannot open (as when rtnetlink is refused): the thread ends.
    let broken: VrrpSpawner = Arc::new(|instances, realtime, reports| {
        VrrpThread::spawn(
            || -> Result<SimWire, had::runtime::vrrp::WireError> {
                Err(had::runtime::vrrp::WireError("netlink refused".into()))
            },
            instances,
            realtime,
            reports,
        )
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t0 = Instant::now();
    let result = rt.block_on(async move {
        let daemon = Daemon::start_with(source, broken).await.expect("starts");
        daemon.run().await
    });
    let err = result.expect_err("the daemon must not run without its VRRP thread");
    assert!(err.to_string().contains("VRRP thread"), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert!(!d.join("n7.sock").exists(), "cleaned up");
}
