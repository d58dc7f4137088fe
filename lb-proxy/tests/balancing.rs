//! Balancing, failover and member state against real HTTP members.

mod common;

use std::time::{Duration, Instant};

use common::{client, config, front, full, get, member, member_on, named, start};
use http::Response;
use lb_proxy::{
    HealthCheckConfig, HealthCheckKind, LbMethod, MemberConfig, MemberStatus, ProxyConfig,
};

async fn sequence(n: usize, url: &str) -> String {
    let c = client();
    let mut seq = String::new();
    for _ in 0..n {
        let (status, body) = get(&c, url).await;
        assert_eq!(status, 200, "body {body}");
        seq.push_str(&body);
    }
    seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byrequests_weights_3_1_interleave_75_25() {
    let (a, b) = (named("A").await, named("B").await);
    let mut cfg = config(&[&a, &b]);
    cfg.members[0].loadfactor = 3;
    let proxy = start(cfg);
    let seq = sequence(40, &front(&proxy)).await;
    // Apache's smooth weighting interleaves: A A B A, never A A A B.
    assert_eq!(seq, "AABA".repeat(10));
    assert_eq!((a.hits(), b.hits()), (30, 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byrequests_equal_weights_strictly_alternate() {
    let (a, b) = (named("A").await, named("B").await);
    let proxy = start(config(&[&a, &b]));
    assert_eq!(sequence(20, &front(&proxy)).await, "AB".repeat(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybusyness_avoids_the_busy_member() {
    let a = member(|_req| async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        Response::new(full("A"))
    })
    .await;
    let b = named("B").await;
    let mut cfg = config(&[&a, &b]);
    cfg.lbmethod = LbMethod::ByBusyness;
    let proxy = start(cfg);
    let url = front(&proxy);
    let slow = {
        let url = url.clone();
        tokio::spawn(async move { get(&client(), &url).await })
    };
    let t0 = Instant::now();
    while a.hits() == 0 && t0.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(a.hits(), 1, "the first request went to A");
    assert_eq!(sequence(6, &url).await, "BBBBBB");
    assert_eq!(slow.await.ok(), Some((200, "A".to_owned())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_killed_mid_test_costs_no_request() {
    let (a, b) = (named("A").await, named("B").await);
    let proxy = start(config(&[&a, &b]));
    let url = front(&proxy);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let c = client();
            let mut failures = 0;
            for _ in 0..60 {
                if get(&c, &url).await.0 != 200 {
                    failures += 1;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            failures
        }));
    }
    while a.hits() + b.hits() < 60 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    b.kill();
    let before = a.hits();
    for t in tasks {
        assert_eq!(t.await.ok(), Some(0), "a request failed");
    }
    assert!(a.hits() > before, "A took over");
    let stats = proxy.stats();
    assert_eq!(stats.members[1].status, MemberStatus::Error);
    assert!(stats.members[1].failures >= 1);
    assert_eq!(proxy.members_up(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_members_down_answers_503_at_once_then_recovers() {
    // Two free ports with nothing listening.
    let ports: Vec<_> = (0..2)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
        })
        .collect();
    let mut cfg = config(&[]);
    cfg.members = ports
        .iter()
        .map(|p| MemberConfig::new(format!("http://{p}")))
        .collect();
    let proxy = start(cfg);
    let url = front(&proxy);
    let c = client();
    let t0 = Instant::now();
    assert_eq!(get(&c, &url).await.0, 503);
    assert_eq!(proxy.members_up(), 0, "both members are in error");
    assert_eq!(get(&c, &url).await.0, 503);
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "503 must not wait for the retry period"
    );
    // A member comes back: forcerecovery lets the next requests find it
    // without waiting for `retry` (5 s).
    let _back = member_on(ports[0], |_req| async { Response::new(full("back")) }).await;
    let mut answer = (0, String::new());
    for _ in 0..4 {
        answer = get(&c, &url).await;
        if answer.0 == 200 {
            break;
        }
    }
    assert_eq!(answer, (200, "back".to_owned()));
    assert!(t0.elapsed() < Duration::from_secs(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_member_answers_504() {
    let slow = member(|_req| async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        Response::new(full("late"))
    })
    .await;
    let mut cfg = config(&[&slow]);
    cfg.timeout = Duration::from_millis(300);
    let proxy = start(cfg);
    let t0 = Instant::now();
    assert_eq!(get(&client(), &front(&proxy)).await.0, 504);
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_member_gets_no_traffic_and_stats_say_so() {
    let (a, b) = (named("A").await, named("B").await);
    let proxy = start(config(&[&a, &b]));
    proxy
        .set_member_enabled(&a.url(), false)
        .expect("known member");
    assert!(
        proxy
            .set_member_enabled("http://127.0.0.1:1", false)
            .is_err()
    );
    assert_eq!(sequence(4, &front(&proxy)).await, "BBBB");
    let stats = proxy.stats();
    assert_eq!(stats.members[0].status, MemberStatus::Disabled);
    assert_eq!(stats.members[1].requests, 4);
    assert_eq!(stats.members[1].in_flight, 0);
    assert_eq!(stats.members[1].latency_buckets.last().copied(), Some(4));
    assert_eq!(proxy.members_up(), 1);
    proxy
        .set_member_enabled(&a.url(), true)
        .expect("known member");
    assert_eq!(sequence(2, &front(&proxy)).await.len(), 2);
    assert!(a.hits() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_standby_serves_only_when_others_are_out() {
    let (a, h) = (named("A").await, named("H").await);
    let mut cfg = config(&[&a, &h]);
    cfg.members[1].hot_standby = true;
    let proxy = start(cfg);
    assert_eq!(sequence(4, &front(&proxy)).await, "AAAA");
    proxy
        .set_member_enabled(&a.url(), false)
        .expect("known member");
    assert_eq!(sequence(2, &front(&proxy)).await, "HH");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_http_health_check_moves_traffic() {
    let sick = member(|req| async move {
        if req.uri().path() == "/health" {
            let mut r = Response::new(full("no"));
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        } else {
            Response::new(full("S"))
        }
    })
    .await;
    let well = named("W").await;
    let mut cfg = config(&[&sick, &well]);
    cfg.health_check = Some(HealthCheckConfig {
        kind: HealthCheckKind::Http {
            method: http::Method::GET,
            uri: "/health".into(),
            expect_status: http::StatusCode::OK,
        },
        interval: Duration::from_millis(100),
        timeout: Duration::from_secs(1),
        passes: 1,
        fails: 2,
    });
    let proxy = start(cfg);
    let t0 = Instant::now();
    while proxy.members_up() != 1 && t0.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(proxy.stats().members[0].status, MemberStatus::HealthFailed);
    assert_eq!(sequence(4, &front(&proxy)).await, "WWWW");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_health_check_brings_a_member_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let well = named("W").await;
    let mut cfg = config(&[&well]);
    cfg.members
        .insert(0, MemberConfig::new(format!("http://{port}")));
    cfg.health_check = Some(HealthCheckConfig {
        interval: Duration::from_millis(100),
        ..HealthCheckConfig::default()
    });
    let proxy = start(cfg);
    let t0 = Instant::now();
    while proxy.stats().members[0].status != MemberStatus::HealthFailed
        && t0.elapsed() < Duration::from_secs(5)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(proxy.stats().members[0].status, MemberStatus::HealthFailed);
    let _back = member_on(port, |_req| async { Response::new(full("B")) }).await;
    while proxy.members_up() != 2 && t0.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(proxy.members_up(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_swaps_members_and_keeps_connections() {
    let (a, b) = (named("A").await, named("B").await);
    let cfg = config(&[&a]);
    let proxy = start(cfg.clone());
    let mut c = common::Conn::open(proxy.local_addrs()[0]).await;
    assert_eq!(c.get("/").await.1, "A");
    let mut next = cfg.clone();
    next.members = vec![MemberConfig::new(b.url())];
    proxy.reload(&next).expect("reload");
    assert_eq!(c.get("/").await.1, "B");
    assert_eq!(
        proxy.stats().accepted_connections,
        1,
        "the client kept its connection"
    );
    let mut moved = next.clone();
    moved.listen = vec!["127.0.0.1:1".parse().expect("addr")];
    assert!(matches!(
        proxy.reload(&moved),
        Err(lb_proxy::Error::NeedsRestart { field: "listen" })
    ));
    let mut bad = next;
    bad.members[0].loadfactor = 0;
    assert!(proxy.reload(&bad).is_err());
    assert_eq!(
        c.get("/").await.1,
        "B",
        "a refused reload keeps the old config"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_member_connections_are_reused_then_expire() {
    let a = named("A").await;
    let mut cfg = config(&[&a]);
    cfg.workers = Some(1);
    cfg.pool_idle_timeout = Duration::from_millis(300);
    let proxy = start(cfg);
    let url = front(&proxy);
    let c = client();
    for _ in 0..5 {
        assert_eq!(get(&c, &url).await.0, 200);
    }
    assert_eq!(
        a.conns.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one pooled connection served all"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get(&c, &url).await.0, 200);
    assert_eq!(
        a.conns.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "an expired connection is not reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_name_the_field() {
    let mut cfg = ProxyConfig {
        listen: vec!["127.0.0.1:0".parse().expect("addr")],
        ..ProxyConfig::default()
    };
    let err = |c: &ProxyConfig| match c.validate() {
        Err(lb_proxy::Error::Config { field, .. }) => field,
        other => format!("{other:?}"),
    };
    assert_eq!(err(&cfg), "members");
    cfg.members = vec![
        MemberConfig::new("http://127.0.0.1:1"),
        MemberConfig::new("ajp://127.0.0.1:2"),
    ];
    assert_eq!(err(&cfg), "members[1].url");
    cfg.members[1] = MemberConfig::new("http://127.0.0.1:2").with_loadfactor(101);
    assert_eq!(err(&cfg), "members[1].loadfactor");
    cfg.members[1].loadfactor = 1;
    cfg.timeout = Duration::ZERO;
    assert_eq!(err(&cfg), "timeout");
    assert!(matches!(
        "bogus".parse::<LbMethod>(),
        Err(lb_proxy::Error::Config { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listens_on_an_address_this_node_does_not_hold() {
    // 198.18.0.0/15 (RFC 2544) is not configured on this host: IP_FREEBIND allows the bind.
    let a = named("A").await;
    let mut cfg = config(&[&a]);
    cfg.listen = vec!["198.18.255.254:0".parse().expect("addr")];
    let proxy = start(cfg);
    assert_eq!(proxy.local_addrs()[0].ip().to_string(), "198.18.255.254");
    assert_ne!(proxy.local_addrs()[0].port(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_closing_idle_connections_costs_no_request() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A member with a 50 ms keep-alive: it answers one request per
    // connection without announcing a close, then hangs up shortly after.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    let server = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            });
        }
    });
    let mut cfg = config(&[]);
    cfg.members = vec![MemberConfig::new(format!("http://{addr}"))];
    cfg.workers = Some(1);
    let proxy = start(cfg);
    let c = client();
    for _ in 0..5 {
        assert_eq!(get(&c, &front(&proxy)).await, (200, "ok".to_owned()));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        5,
        "each request needed a fresh member connection"
    );
    assert_eq!(proxy.stats().members[0].failures, 0);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_idempotent_bodiless_requests_are_replayed_after_a_member_fails_mid_exchange() {
    use tokio::io::AsyncReadExt;
    // A member that reads a request and hangs up without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let rude = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
            });
        }
    });
    let good = named("G").await;
    let mut cfg = config(&[&good]);
    cfg.members
        .insert(0, MemberConfig::new(format!("http://{addr}")));
    let proxy = start(cfg);
    let mut c = common::Conn::open(proxy.local_addrs()[0]).await;
    // GET: the first pick is the rude member; the request is replayed on G.
    assert_eq!(&c.get("/").await.1[..], b"G");
    // POST with a body: never replayed, 502. (Next pick is G by rotation, so
    // turn G off to force the rude member.)
    proxy.set_member_enabled(&good.url(), false).expect("known");
    let post = http::Request::post("/")
        .header("host", "h")
        .body(full("payload"))
        .expect("request");
    assert_eq!(c.send(post).await.0.status(), 502);
    assert_eq!(good.hits(), 1);
    let stats = proxy.stats();
    assert_eq!(stats.members[0].failures, 2);
    assert_eq!(
        stats.members[0].status,
        MemberStatus::Up,
        "a mid-exchange failure is not a connect failure"
    );
    rude.abort();
}
