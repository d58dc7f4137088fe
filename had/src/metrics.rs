//! Prometheus metrics on `metrics_listen` `/metrics`.
//!
//! Every value is read from one [`Status`] snapshot at scrape time (through a
//! `prometheus-client` [`Collector`]), so metrics and `hactl status` can never
//! disagree and the VRRP path never touches a metrics lock.
//!
//! ```
//! let text = had::metrics::render(&had::status::Status::default());
//! assert!(text.contains("# TYPE had_up gauge"));
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::control::{self, ControlCall};
use crate::status::Status;

/// The Prometheus text format's content type (version 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Render a status snapshot as Prometheus text.
pub fn render(status: &Status) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Snapshot(status.clone())));
    let mut out = String::new();
    // Writing into a String cannot fail; an error here would be a bug in the
    // encoder, which we report in the body rather than panic.
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry) {
        out.push_str(&format!("# encoding error: {e}\n"));
    }
    out
}

#[derive(Debug)]
struct Snapshot(Status);

type Labels = Vec<(&'static str, String)>;

/// One metric family: name, help, type, and its labelled values.
fn family<V>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl IntoIterator<Item = (Labels, V)>,
    mut write: impl FnMut(&mut prometheus_client::encoding::MetricEncoder<'_>, V) -> std::fmt::Result,
) -> std::fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, kind)?;
    for (labels, v) in samples {
        let mut f = m.encode_family(&labels)?;
        write(&mut f, v)?;
    }
    Ok(())
}

fn gauge<V: prometheus_client::encoding::EncodeGaugeValue>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels, V)>,
) -> std::fmt::Result {
    family(enc, name, help, MetricType::Gauge, samples, |m, v| {
        m.encode_gauge(&v)
    })
}

fn counter(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels, u64)>,
) -> std::fmt::Result {
    family(enc, name, help, MetricType::Counter, samples, |m, v| {
        m.encode_counter::<NoLabelSet, _, u64>(&v, None)
    })
}

impl Collector for Snapshot {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> std::fmt::Result {
        let s = &self.0;
        let e = &mut enc;
        gauge(
            e,
            "had_up",
            "1 while the daemon runs",
            [(vec![("router_id", s.router_id.clone())], 1_i64)],
        )?;
        counter(
            e,
            "had_reloads",
            "Successful configuration reloads",
            [(vec![], s.reloads)],
        )?;

        let inst = |i: &crate::status::InstanceStatus| vec![("instance", i.name.clone())];
        gauge(
            e,
            "had_vrrp_state",
            "VRRP state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT",
            s.instances.iter().map(|i| (inst(i), i.state.gauge_value())),
        )?;
        gauge(
            e,
            "had_vrrp_priority",
            "Configured VRRP priority",
            s.instances.iter().map(|i| (inst(i), i64::from(i.priority))),
        )?;
        gauge(
            e,
            "had_vrrp_effective_priority",
            "Priority advertised after checks, tracked interfaces and overrides",
            s.instances
                .iter()
                .map(|i| (inst(i), i64::from(i.effective_priority))),
        )?;
        counter(
            e,
            "had_vrrp_transitions",
            "VRRP state changes",
            s.instances.iter().map(|i| (inst(i), i.transitions)),
        )?;
        counter(
            e,
            "had_vrrp_adverts_sent",
            "VRRP advertisements sent",
            s.instances.iter().map(|i| (inst(i), i.adverts.sent)),
        )?;
        counter(
            e,
            "had_vrrp_adverts_received",
            "VRRP advertisements received and accepted",
            s.instances.iter().map(|i| (inst(i), i.adverts.received)),
        )?;
        counter(
            e,
            "had_vrrp_adverts_dropped",
            "VRRP advertisements received and dropped, by reason",
            s.instances.iter().flat_map(|i| {
                i.adverts.dropped.iter().map(|(reason, n)| {
                    (
                        vec![("instance", i.name.clone()), ("reason", reason.clone())],
                        *n,
                    )
                })
            }),
        )?;

        let chk = |c: &crate::status::CheckStatus| vec![("check", c.name.clone())];
        gauge(
            e,
            "had_check_up",
            "Check status: 1 ok, 0 failing, -1 no result yet",
            s.checks.iter().map(|c| {
                let v = match c.status.as_str() {
                    "ok" => 1_i64,
                    "failing" => 0,
                    _ => -1,
                };
                (chk(c), v)
            }),
        )?;
        counter(
            e,
            "had_check_runs",
            "Check runs, by result",
            s.checks.iter().flat_map(|c| {
                [
                    (
                        vec![("check", c.name.clone()), ("result", "ok".to_owned())],
                        c.successes,
                    ),
                    (
                        vec![("check", c.name.clone()), ("result", "failed".to_owned())],
                        c.failures,
                    ),
                ]
            }),
        )?;
        gauge(
            e,
            "had_check_duration_seconds",
            "Duration of the check's last run",
            s.checks.iter().map(|c| (chk(c), c.last_duration_secs)),
        )?;

        let members = || {
            s.proxies.iter().flat_map(|p| {
                p.members.iter().map(move |m| {
                    // One member URL may serve in two balancers: each is
                    // its own series.
                    let mut labels = vec![("proxy", p.name.clone())];
                    if !m.balancer.is_empty() {
                        labels.push(("balancer", m.balancer.clone()));
                    }
                    labels.push(("member", m.url.clone()));
                    (labels, m)
                })
            })
        };
        gauge(
            e,
            "had_proxy_member_up",
            "1 when the member takes requests, 0 when down, disabled or draining",
            members().map(|(l, m)| (l, i64::from(m.status == "up"))),
        )?;
        counter(
            e,
            "had_proxy_member_requests",
            "Requests sent to the member",
            members().map(|(l, m)| (l, m.requests)),
        )?;
        counter(
            e,
            "had_proxy_member_failures",
            "Requests that failed at the member",
            members().map(|(l, m)| (l, m.failures)),
        )?;
        gauge(
            e,
            "had_proxy_member_in_flight",
            "Requests in flight at the member",
            members().map(|(l, m)| (l, m.in_flight)),
        )?;
        family(
            e,
            "had_proxy_member_latency_seconds",
            "Latency of requests completed by the member",
            MetricType::Histogram,
            members().filter_map(|(l, m)| m.latency.as_ref().map(|h| (l, h))),
            |m, h| m.encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None),
        )?;

        // One series per certificate a TLS listener group serves; alert on
        // `(had_tls_certificate_not_after_seconds - time()) / 86400 < 14`.
        let certificates = || {
            s.proxies.iter().flat_map(|p| {
                p.certificates
                    .iter()
                    .map(move |c| (vec![("proxy", p.name.clone()), ("cert", c.file.clone())], c))
            })
        };
        gauge(
            e,
            "had_tls_certificate_days_left",
            "Whole days until the certificate expires (negative once expired)",
            certificates().map(|(l, c)| (l, c.days_left)),
        )?;
        gauge(
            e,
            "had_tls_certificate_not_after_seconds",
            "End of the certificate's validity, seconds since the Unix epoch",
            certificates().map(|(l, c)| (l, c.not_after_unix)),
        )?;
        Ok(())
    }
}

/// Serve `GET /metrics` on `listener` until `stop` turns true; each scrape
/// asks the daemon for a status snapshot through `calls`.
pub async fn serve(
    listener: TcpListener,
    calls: mpsc::Sender<ControlCall>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("metrics accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = crate::control::stopped(&mut stop) => return,
        };
        let calls = calls.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| scrape(req, calls.clone()));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!("metrics connection: {e}");
            }
        });
    }
}

/// Bind the metrics listener, naming the address on failure.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, std::io::Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("metrics_listen {addr}: {e}")))
}

async fn scrape(
    req: Request<hyper::body::Incoming>,
    calls: mpsc::Sender<ControlCall>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |code: StatusCode, ctype: &str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = code;
        if let Ok(v) = http::HeaderValue::from_str(ctype) {
            r.headers_mut().insert(http::header::CONTENT_TYPE, v);
        }
        Ok(r)
    };
    if req.uri().path() != "/metrics" {
        return reply(StatusCode::NOT_FOUND, "text/plain", "try /metrics\n".into());
    }
    let (tx, rx) = oneshot::channel();
    let call = ControlCall {
        request: control::Request::Status,
        reply: tx,
    };
    if calls.send(call).await.is_err() {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "daemon stopping\n".into(),
        );
    }
    match rx.await {
        Ok(control::Response {
            status: Some(status),
            ..
        }) => reply(StatusCode::OK, CONTENT_TYPE, render(&status)),
        _ => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "no status\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::*;

    #[test]
    fn every_documented_family_is_rendered() {
        let status = Status {
            router_id: "ha1".into(),
            instances: vec![InstanceStatus {
                name: "VI_1".into(),
                state: State::Master,
                priority: 100,
                effective_priority: 98,
                transitions: 2,
                adverts: AdvertCounters {
                    sent: 7,
                    received: 3,
                    dropped: [("auth".to_owned(), 4)].into_iter().collect(),
                },
                ..InstanceStatus::default()
            }],
            checks: vec![CheckStatus {
                name: "chk".into(),
                status: "failing".into(),
                successes: 1,
                failures: 2,
                last_duration_secs: 0.25,
                ..CheckStatus::default()
            }],
            proxies: vec![ProxyStatus {
                name: "web".into(),
                listen: vec![],
                members: vec![MemberStatus {
                    url: "http://127.0.0.1:1".into(),
                    status: "up".into(),
                    requests: 5,
                    failures: 1,
                    in_flight: 2,
                    loadfactor: 1,
                    latency: Some(Histogram {
                        sum: 0.5,
                        count: 5,
                        buckets: vec![(0.1, 4), (1.0, 1)],
                    }),
                    ..MemberStatus::default()
                }],
                ..ProxyStatus::default()
            }],
            ..Status::default()
        };
        let t = render(&status);
        for line in [
            "had_vrrp_state{instance=\"VI_1\"} 2",
            "had_vrrp_priority{instance=\"VI_1\"} 100",
            "had_vrrp_effective_priority{instance=\"VI_1\"} 98",
            "had_vrrp_transitions_total{instance=\"VI_1\"} 2",
            "had_vrrp_adverts_sent_total{instance=\"VI_1\"} 7",
            "had_vrrp_adverts_received_total{instance=\"VI_1\"} 3",
            "had_vrrp_adverts_dropped_total{instance=\"VI_1\",reason=\"auth\"} 4",
            "had_check_up{check=\"chk\"} 0",
            "had_check_runs_total{check=\"chk\",result=\"failed\"} 2",
            "had_check_duration_seconds{check=\"chk\"} 0.25",
            "had_proxy_member_up{proxy=\"web\",member=\"http://127.0.0.1:1\"} 1",
            "had_proxy_member_requests_total{proxy=\"web\",member=\"http://127.0.0.1:1\"} 5",
            "had_proxy_member_failures_total{proxy=\"web\",member=\"http://127.0.0.1:1\"} 1",
            "had_proxy_member_in_flight{proxy=\"web\",member=\"http://127.0.0.1:1\"} 2",
            "had_proxy_member_latency_seconds_bucket{proxy=\"web\",member=\"http://127.0.0.1:1\",le=\"0.1\"} 4",
            "had_proxy_member_latency_seconds_bucket{proxy=\"web\",member=\"http://127.0.0.1:1\",le=\"1\"} 5",
            "had_proxy_member_latency_seconds_count{proxy=\"web\",member=\"http://127.0.0.1:1\"} 5",
        ] {
            assert!(t.lines().any(|l| l == line), "missing {line:?} in\n{t}");
        }
        assert!(
            t.contains("# TYPE had_vrrp_transitions_total counter"),
            "{t}"
        );
        assert!(
            t.contains("# TYPE had_proxy_member_latency_seconds histogram"),
            "{t}"
        );
    }

    #[test]
    fn certificates_have_their_expiry_gauges() {
        let cert = |file: &str, days_left, not_after_unix| CertificateStatus {
            file: file.into(),
            names: vec!["www.example.com".into()],
            not_after: String::new(),
            not_after_unix,
            days_left,
        };
        let status = Status {
            proxies: vec![
                ProxyStatus {
                    name: "www".into(),
                    certificates: vec![
                        cert("/etc/had/www.pem", 87, 1_803_945_599),
                        cert("/etc/had/api.pem", -2, 1_796_083_199),
                    ],
                    ..ProxyStatus::default()
                },
                ProxyStatus {
                    name: "plain".into(),
                    ..ProxyStatus::default()
                },
            ],
            ..Status::default()
        };
        let t = render(&status);
        for line in [
            "# TYPE had_tls_certificate_days_left gauge",
            "had_tls_certificate_days_left{proxy=\"www\",cert=\"/etc/had/www.pem\"} 87",
            "had_tls_certificate_days_left{proxy=\"www\",cert=\"/etc/had/api.pem\"} -2",
            "# TYPE had_tls_certificate_not_after_seconds gauge",
            "had_tls_certificate_not_after_seconds{proxy=\"www\",cert=\"/etc/had/www.pem\"} 1803945599",
            "had_tls_certificate_not_after_seconds{proxy=\"www\",cert=\"/etc/had/api.pem\"} 1796083199",
        ] {
            assert!(t.lines().any(|l| l == line), "missing {line:?} in\n{t}");
        }
        assert!(!t.contains("proxy=\"plain\",cert"), "{t}");
        assert_eq!(
            t.matches("had_tls_certificate_days_left{").count(),
            2,
            "{t}"
        );
    }

    /// A member URL in two balancers of one listener is two series, told
    /// apart by the `balancer` label (absent for the members shorthand).
    #[test]
    fn members_of_named_balancers_carry_the_balancer_label() {
        let member = |balancer: &str, requests| MemberStatus {
            url: "http://198.18.0.21:8080".into(),
            balancer: balancer.into(),
            status: "up".into(),
            requests,
            ..MemberStatus::default()
        };
        let status = Status {
            proxies: vec![ProxyStatus {
                name: "www".into(),
                members: vec![member("app", 3), member("api", 4)],
                ..ProxyStatus::default()
            }],
            ..Status::default()
        };
        let t = render(&status);
        for line in [
            "had_proxy_member_requests_total{proxy=\"www\",balancer=\"app\",member=\"http://198.18.0.21:8080\"} 3",
            "had_proxy_member_requests_total{proxy=\"www\",balancer=\"api\",member=\"http://198.18.0.21:8080\"} 4",
        ] {
            assert!(t.lines().any(|l| l == line), "missing {line:?} in\n{t}");
        }
    }
}
