//! Active health checks (Apache mod_proxy_hcheck): one task per member probes
//! it every `interval`; `fails` consecutive failures take it out of the
//! rotation, `passes` consecutive passes bring it back.
//!
//! A probe opens its connection the way requests do (`Pool::open`): for an
//! `https://` or `wss://` member that includes the TLS handshake with the
//! same verification, so a TCP check passes only when a request could be
//! sent (Apache's TCP check stops at the socket; a member whose certificate
//! would be refused is no more usable than one that is down).

use std::sync::Arc;

use http::{Request, StatusCode};
use hyper_util::rt::TokioIo;

use crate::body::RequestBody;
use crate::config::{HealthCheckConfig, HealthCheckKind};
use crate::member::Member;

/// One probe; `true` = healthy.
pub(crate) async fn probe(member: &Member, cfg: &HealthCheckConfig) -> bool {
    let attempt = async {
        let stream = member.pool.open(cfg.timeout).await.ok()?;
        let HealthCheckKind::Http {
            method,
            uri,
            expect_status,
        } = &cfg.kind
        else {
            return Some(true);
        };
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, RequestBody>(TokioIo::new(stream))
                .await
                .ok()?;
        tokio::spawn(conn);
        let path = format!("{}{uri}", member.target.prefix);
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(http::header::HOST, member.target.authority.clone())
            .header(http::header::CONNECTION, "close")
            .header(http::header::USER_AGENT, "had-lb-proxy-hcheck")
            .body(RequestBody::empty())
            .ok()?;
        let resp = sender.send_request(req).await.ok()?;
        let status: StatusCode = resp.status();
        Some(status == *expect_status)
    };
    matches!(
        tokio::time::timeout(cfg.timeout, attempt).await,
        Ok(Some(true))
    )
}

/// Probes `member` forever, updating its health state.
pub(crate) async fn run(member: Arc<Member>, cfg: Arc<HealthCheckConfig>) {
    let (mut passes, mut fails) = (0u32, 0u32);
    let mut ticker = tokio::time::interval(cfg.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if probe(&member, &cfg).await {
            fails = 0;
            passes = passes.saturating_add(1);
            if passes >= cfg.passes && !member.health_ok() {
                tracing::info!(member = %member.url, "health check passes, member back in rotation");
                member.set_health(true);
            }
        } else {
            passes = 0;
            fails = fails.saturating_add(1);
            if fails >= cfg.fails && member.health_ok() {
                tracing::warn!(member = %member.url, "health check fails, member out of rotation");
                member.set_health(false);
            }
        }
    }
}
