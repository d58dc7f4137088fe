//! Link watching sees a node's interface go down and up, both ways a link
//! can fail: administratively, and by losing carrier.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::block_on;
use vip_netlink::lab::Lab;
use vip_netlink::{LinkState, LinkWatcher};

#[test]
fn link_down_and_up_are_reported() {
    let Some(lab) = Lab::for_test("linkwatch", 1) else {
        return;
    };
    let (ready_tx, ready_rx) = mpsc::channel();
    let watcher = lab
        .spawn_thread_in(0, move || {
            block_on(async move {
                let mut watcher = LinkWatcher::new().unwrap();
                let snapshot = watcher.snapshot().await.unwrap();
                ready_tx.send(snapshot).unwrap();
                let mut seen = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(10);
                while seen.len() < 4 && Instant::now() < deadline {
                    match tokio::time::timeout(Duration::from_millis(200), watcher.next()).await {
                        Ok(Some(event)) if event.name == "eth0" => seen.push(event.state),
                        Ok(Some(_)) | Err(_) => {}
                        Ok(None) => break,
                    }
                }
                seen
            })
        })
        .unwrap();
    let snapshot = ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let eth0 = snapshot.iter().find(|l| l.name == "eth0").unwrap();
    assert_eq!(eth0.state, LinkState::Up);
    assert!(snapshot.iter().any(|l| l.name == "lo" && l.state.is_up()));

    let pause = || std::thread::sleep(Duration::from_millis(300));
    lab.link_down(0).unwrap();
    pause();
    lab.link_up(0).unwrap();
    pause();
    lab.carrier_down(0).unwrap();
    pause();
    lab.carrier_up(0).unwrap();
    let seen = watcher.join().unwrap().unwrap();
    assert_eq!(
        seen,
        vec![
            LinkState::Down,
            LinkState::Up,
            LinkState::Down,
            LinkState::Up
        ]
    );
}
