//! Upgrades (WebSocket and others, RFC 9110 §7.8): the client's connection is
//! joined to the member's only after the member answered 101, then bytes are
//! copied both ways until either side closes or the tunnel sits idle.

use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tower::{Layer, Service};

use super::{Mapped, OnResponse};
use crate::body::{ProxyBody, local_response};
use crate::member_conn::UpgradeSlot;

/// Layer for [`Tunnel`].
#[derive(Debug, Clone, Copy)]
pub struct TunnelLayer {
    idle_timeout: Duration,
}

impl TunnelLayer {
    /// Tunnels close after `idle_timeout` without a byte either way.
    pub fn new(idle_timeout: Duration) -> Self {
        Self { idle_timeout }
    }
}

impl<S> Layer<S> for TunnelLayer {
    type Service = Tunnel<S>;
    fn layer(&self, inner: S) -> Tunnel<S> {
        Tunnel {
            idle_timeout: self.idle_timeout,
            inner,
        }
    }
}

/// Joins client and member connections after a 101 answer.
#[derive(Debug, Clone)]
pub struct Tunnel<S> {
    idle_timeout: Duration,
    inner: S,
}

impl<S, B> Service<Request<B>> for Tunnel<S>
where
    S: Service<Request<B>, Response = Response<ProxyBody>>,
{
    type Response = Response<ProxyBody>;
    type Error = S::Error;
    type Future = Mapped<S::Future, Join>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let client = if req.headers().contains_key(http::header::UPGRADE)
            && req.extensions().get::<OnUpgrade>().is_some()
        {
            Some(hyper::upgrade::on(&mut req))
        } else {
            None
        };
        Mapped::new(
            self.inner.call(req),
            Join {
                client,
                idle_timeout: self.idle_timeout,
            },
        )
    }
}

/// Response step of [`Tunnel`].
#[derive(Debug)]
pub struct Join {
    client: Option<OnUpgrade>,
    idle_timeout: Duration,
}

impl OnResponse<ProxyBody> for Join {
    type Body = ProxyBody;
    fn on_response(self, mut resp: Response<ProxyBody>) -> Response<ProxyBody> {
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            return resp;
        }
        let Some(client) = self.client else {
            // A 101 nobody asked for cannot be honoured.
            tracing::warn!("member switched protocols without an upgrade request");
            return local_response(StatusCode::BAD_GATEWAY, "unexpected 101 from member\n");
        };
        let Some(member) = resp
            .extensions_mut()
            .remove::<UpgradeSlot>()
            .and_then(|slot| slot.take())
        else {
            tracing::warn!("101 from member without its connection");
            return local_response(StatusCode::BAD_GATEWAY, "upgrade failed\n");
        };
        let idle = self.idle_timeout;
        tokio::spawn(async move {
            match client.await {
                Ok(c) => {
                    let mut c = TokioIo::new(c);
                    // What the member sent right after its 101 goes first.
                    let joined = async {
                        c.write_all(&member.read_ahead).await?;
                        splice(c, member.io, idle).await
                    };
                    if let Err(e) = joined.await {
                        tracing::debug!(error = %e, "tunnel ended with an error");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "upgrade failed"),
            }
        });
        resp
    }
}

/// Copies both ways until EOF on both sides, an error, or `idle` without traffic.
pub(crate) async fn splice<A, B>(a: A, b: B, idle: Duration) -> std::io::Result<()>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut ar, mut aw) = tokio::io::split(a);
    let (mut br, mut bw) = tokio::io::split(b);
    let mut abuf = vec![0u8; 16 * 1024];
    let mut bbuf = vec![0u8; 16 * 1024];
    let (mut a_open, mut b_open) = (true, true);
    while a_open || b_open {
        tokio::select! {
            r = ar.read(&mut abuf), if a_open => {
                let n = r?;
                if n == 0 { a_open = false; bw.shutdown().await?; } else { bw.write_all(abuf.get(..n).unwrap_or_default()).await?; }
            }
            r = br.read(&mut bbuf), if b_open => {
                let n = r?;
                if n == 0 { b_open = false; aw.shutdown().await?; } else { aw.write_all(bbuf.get(..n).unwrap_or_default()).await?; }
            }
            () = tokio::time::sleep(idle) => {
                tracing::debug!("tunnel idle, closing");
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_tunnel_closes() {
        let (a, _a_peer) = tokio::io::duplex(64);
        let (b, _b_peer) = tokio::io::duplex(64);
        let r = tokio::time::timeout(
            Duration::from_secs(100),
            splice(a, b, Duration::from_secs(30)),
        )
        .await;
        assert!(matches!(r, Ok(Ok(()))));
    }

    #[tokio::test]
    async fn bytes_cross_both_ways() {
        let (a, mut a_peer) = tokio::io::duplex(64);
        let (b, mut b_peer) = tokio::io::duplex(64);
        let task = tokio::spawn(splice(a, b, Duration::from_secs(5)));
        a_peer.write_all(b"ping").await.ok();
        let mut got = [0u8; 4];
        b_peer.read_exact(&mut got).await.ok();
        assert_eq!(&got, b"ping");
        b_peer.write_all(b"pong").await.ok();
        a_peer.read_exact(&mut got).await.ok();
        assert_eq!(&got, b"pong");
        drop(a_peer);
        drop(b_peer);
        assert!(matches!(task.await, Ok(Ok(()))));
    }
}
