//! The proxy's path (`ProxyPass PATH`), members' own timeouts and
//! `maxattempts`, against real members.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{client, config, front, full, get, member, named, start};
use http::Response;
use lb_proxy::{MemberConfig, ProxyConfig};

/// A member that answers with the target it received (and a redirect to
/// itself under `/v1/moved` for `/v1/redirect`).
async fn echo_target() -> common::Member {
    member(|req| async move {
        let target = req.uri().to_string();
        if target == "/v1/redirect" {
            let location = format!(
                "http://{}/v1/moved",
                req.headers()["host"].to_str().unwrap_or("")
            );
            return Response::builder()
                .status(302)
                .header("location", location)
                .body(full(""))
                .unwrap_or_else(|_| Response::new(full("")));
        }
        Response::new(full(target))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_serves_only_its_prefix_and_hands_the_rest_to_the_member() {
    let m = echo_target().await;
    let proxy = start(ProxyConfig {
        path: "/api".into(),
        pass_reverse: true,
        members: vec![MemberConfig::new(format!("{}/v1", m.url()))],
        ..config(&[])
    });
    let url = front(&proxy);
    let c = client();
    assert_eq!(
        get(&c, &format!("{url}/api/x?q=1")).await,
        (200, "/v1/x?q=1".to_owned())
    );
    assert_eq!(
        get(&c, &format!("{url}/api")).await,
        (200, "/v1".to_owned())
    );
    assert_eq!(
        get(&c, &format!("{url}/api/")).await,
        (200, "/v1/".to_owned())
    );
    assert_eq!(
        get(&c, &format!("{url}/api?k=v")).await,
        (200, "/v1?k=v".to_owned())
    );
    assert_eq!(
        get(&c, &format!("{url}/api/a/../b")).await,
        (200, "/v1/b".to_owned())
    );
    for outside in [
        "/other/page",
        "/apix",
        "/",
        "/api/../admin",
        "/api/%2e%2e/admin",
    ] {
        let (status, _) = get(&c, &format!("{url}{outside}")).await;
        assert_eq!(status, 404, "{outside}");
    }
    assert_eq!(m.hits(), 5, "nothing outside the path reached the member");
    // ProxyPassReverse maps the member's URL back under the path.
    let resp = c
        .get(format!("{url}/api/redirect").parse().expect("url"))
        .await
        .expect("response");
    assert_eq!(resp.status(), 302);
    let host = proxy.local_addrs()[0];
    assert_eq!(
        resp.headers()["location"].to_str().ok(),
        Some(format!("http://{host}/api/moved").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_own_timeout_overrides_the_proxys_both_ways() {
    let slow = |secs: f64| {
        member(move |_req| async move {
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            Response::new(full("late"))
        })
    };
    // Shorter than the proxy's: 504 after the member's 200 ms.
    let a = slow(5.0).await;
    let proxy = start(ProxyConfig {
        members: vec![MemberConfig {
            timeout: Some(Duration::from_millis(200)),
            ..MemberConfig::new(a.url())
        }],
        timeout: Duration::from_secs(30),
        ..config(&[])
    });
    let started = Instant::now();
    let (status, _) = get(&client(), &front(&proxy)).await;
    let took = started.elapsed();
    assert_eq!(status, 504);
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // Longer than the proxy's: the member's 3 s wins over the proxy's 300 ms.
    let b = slow(0.8).await;
    let proxy = start(ProxyConfig {
        members: vec![MemberConfig {
            timeout: Some(Duration::from_secs(3)),
            ..MemberConfig::new(b.url())
        }],
        timeout: Duration::from_millis(300),
        ..config(&[])
    });
    assert_eq!(
        get(&client(), &front(&proxy)).await,
        (200, "late".to_owned())
    );
}

/// A URL whose port refuses connections.
fn dead_url() -> String {
    let l = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_attempts_bounds_failover() {
    let b = named("B").await;
    let members = vec![MemberConfig::new(dead_url()), MemberConfig::new(b.url())];
    // maxattempts 0: the first (dead) member's failure is final.
    let proxy = start(ProxyConfig {
        members: members.clone(),
        max_attempts: Some(0),
        ..config(&[])
    });
    assert_eq!(get(&client(), &front(&proxy)).await.0, 503);
    assert_eq!(b.hits(), 0);
    // Default (every other member): it fails over to B.
    let proxy = start(ProxyConfig {
        members,
        ..config(&[])
    });
    assert_eq!(get(&client(), &front(&proxy)).await, (200, "B".to_owned()));
}
