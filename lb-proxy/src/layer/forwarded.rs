//! Hop-by-hop header removal from requests (RFC 9110 §7.6.1) and the
//! X-Forwarded-* headers. (Responses lose theirs where they are read, in
//! [`crate::member_conn`]; the list is [`crate::fields::HOP_BY_HOP`].)
//!
//! Order matters: every header named in `Connection` is removed *before*
//! X-Forwarded-For/Host/Proto/Port are added, so a client cannot make the proxy
//! strip the headers it adds itself (Apache CVE-2022-31813).

use std::net::IpAddr;
use std::task::{Context, Poll};

use http::header::{CONNECTION, CONTENT_LENGTH, HOST, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use tower::{Layer, Service};

use crate::fields::HOP_BY_HOP;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

/// Whether the `Connection` header lists `token` (case-insensitive).
pub(crate) fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Removes every field named in `Connection`, then the fixed hop-by-hop set
/// and `Upgrade`. Returns the `Upgrade` value when the message asked for one.
///
/// Runs on every request, so it first looks at the names present
/// (one pass, comparing constants) and removes only what is there: a typical
/// message carries at most `Connection`, and removing absent names one by one
/// cost more than the rest of the header handling together.
fn strip_hop_by_hop(headers: &mut HeaderMap) -> Option<HeaderValue> {
    let fixed = &HOP_BY_HOP;
    let mut present = [false; 9];
    let mut any = false;
    for name in headers.keys() {
        // Most names are not hop-by-hop: a length check rules them out
        // before any comparison (the fixed names are 2, 7, 10, 16, 17, 18
        // or 19 bytes long).
        if !matches!(name.as_str().len(), 2 | 7 | 10 | 16..=19) {
            continue;
        }
        if let Some(i) = fixed.iter().position(|f| *f == name) {
            present[i] = true;
            any = true;
        }
    }
    if !any {
        return None;
    }
    let mut upgrade = None;
    // `Connection` is fixed[0].
    if present[0] {
        if connection_has(headers, "upgrade") {
            upgrade = headers.get(UPGRADE).cloned();
        }
        // Names listed in `Connection` that are present and not in the fixed
        // set (those go below anyway); collected first because removing
        // needs the map mutably. Usually none, so nothing is allocated.
        let mut listed: Vec<HeaderName> = Vec::new();
        for token in headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            if fixed.iter().any(|f| f.as_str().eq_ignore_ascii_case(token)) {
                continue;
            }
            // A message cannot declare the fields that address and frame it
            // hop-by-hop (RFC 9110 §7.6.1: a sender must not list fields the
            // recipient needs): `Connection: Host` would leave the member
            // without the client's Host. Ignored, as Apache and nginx do.
            if [HOST.as_str(), CONTENT_LENGTH.as_str()]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(token))
            {
                continue;
            }
            if let Some(name) = headers
                .keys()
                .find(|k| k.as_str().eq_ignore_ascii_case(token))
            {
                listed.push(name.clone());
            }
        }
        for name in listed {
            headers.remove(name);
        }
    }
    for (name, here) in fixed.iter().zip(present) {
        if here {
            headers.remove(name);
        }
    }
    upgrade
}

/// Whether an `Upgrade` value lists the `websocket` protocol.
fn asks_for_websocket(upgrade: &HeaderValue) -> bool {
    upgrade.to_str().is_ok_and(|v| {
        v.split(',').any(|p| {
            // A protocol may carry a version: `websocket/13`.
            let name = p.trim().split('/').next().unwrap_or_default();
            name.eq_ignore_ascii_case("websocket")
        })
    })
}

/// Puts an upgrade request's `Upgrade` and `Connection: upgrade` back.
fn restore_upgrade(headers: &mut HeaderMap, upgrade: HeaderValue) {
    headers.insert(UPGRADE, upgrade);
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
}

/// Layer for [`ForwardedHeaders`].
#[derive(Debug, Clone)]
pub struct ForwardedHeadersLayer {
    // A HeaderValue clone is a reference-count bump; this layer is cloned
    // with the stack for every request, so it holds nothing that allocates.
    client_ip: HeaderValue,
    proto: HeaderValue,
    port: HeaderValue,
    /// The client-subject header and this connection's verified subject.
    subject: Option<(HeaderName, Option<HeaderValue>)>,
}

impl ForwardedHeadersLayer {
    /// For requests arriving from `client` on `front`; `subject_header`
    /// names the header that carries the client certificate's subject (a
    /// client's own header of that name never reaches a member).
    pub(crate) fn new(
        client: IpAddr,
        front: &crate::settings::Front,
        subject_header: Option<HeaderName>,
    ) -> Self {
        let client_ip = HeaderValue::from_str(&client.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        Self {
            client_ip,
            proto: HeaderValue::from_static(if front.tls { "https" } else { "http" }),
            port: HeaderValue::from(front.port),
            subject: subject_header.map(|name| (name, front.client_subject.clone())),
        }
    }
}

impl<S> Layer<S> for ForwardedHeadersLayer {
    type Service = ForwardedHeaders<S>;
    fn layer(&self, inner: S) -> ForwardedHeaders<S> {
        ForwardedHeaders {
            client: self.clone(),
            inner,
        }
    }
}

/// Strips hop-by-hop headers from requests and adds X-Forwarded-*.
#[derive(Debug, Clone)]
pub struct ForwardedHeaders<S> {
    client: ForwardedHeadersLayer,
    inner: S,
}

impl<S, B> Service<Request<B>> for ForwardedHeaders<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let headers = req.headers_mut();
        // First remove what the client declared hop-by-hop (CVE-2022-31813) ...
        // Only a WebSocket upgrade is passed on, as Apache's mod_proxy_http
        // does by default (`upgrade=websocket`): a member that accepted an
        // `h2c` upgrade would speak HTTP/2 through a tunnel past every
        // per-request rule (h2c smuggling). Any other Upgrade goes as a
        // plain request, its Upgrade field dropped with the hop-by-hop ones.
        let upgrade = strip_hop_by_hop(headers).filter(asks_for_websocket);
        if let Some(u) = upgrade {
            restore_upgrade(headers, u);
        }
        // ... then add ours. X-Forwarded-For appends to a client-supplied list, as Apache does.
        let ours = &self.client.client_ip;
        let xff = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            Some(prior) => {
                HeaderValue::from_str(&format!("{prior}, {}", ours.to_str().unwrap_or("unknown")))
                    .unwrap_or_else(|_| ours.clone())
            }
            None => ours.clone(),
        };
        headers.insert(X_FORWARDED_FOR.clone(), xff);
        if let Some(host) = headers.get(HOST).cloned() {
            headers.insert(X_FORWARDED_HOST.clone(), host);
        }
        headers.insert(X_FORWARDED_PROTO.clone(), self.client.proto.clone());
        headers.insert(X_FORWARDED_PORT.clone(), self.client.port.clone());
        if let Some((name, subject)) = &self.client.subject {
            headers.remove(name);
            if let Some(subject) = subject {
                headers.insert(name.clone(), subject.clone());
            }
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Response;
    use tower::ServiceExt;
    use tower_test::mock;

    async fn through(req: Request<()>, resp: Response<()>) -> (http::request::Parts, Response<()>) {
        let (svc, mut handle) = mock::pair::<Request<()>, Response<()>>();
        let seen = tokio::spawn(async move {
            let (req, send) = handle.next_request().await?;
            send.send_response(resp);
            Some(req.into_parts().0)
        });
        let svc = ForwardedHeadersLayer::new(
            "198.18.0.9".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            &crate::settings::Front {
                tls: false,
                port: 80,
                client_subject: None,
            },
            None,
        )
        .layer(svc);
        let out = svc.oneshot(req).await.unwrap_or_default();
        let parts = seen
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| Request::new(()).into_parts().0);
        (parts, out)
    }

    #[tokio::test]
    async fn connection_named_headers_cannot_remove_x_forwarded() {
        let req = Request::builder()
            .header("host", "front.example")
            .header(
                "connection",
                "close, X-Forwarded-For, X-Forwarded-Host, x-secret",
            )
            .header("x-forwarded-for", "203.0.113.7")
            .header("x-secret", "1")
            .header("keep-alive", "timeout=5")
            .body(())
            .unwrap_or_default();
        let (parts, _) = through(req, Response::new(())).await;
        let h = &parts.headers;
        assert_eq!(
            h.get("x-forwarded-for").map(HeaderValue::as_bytes),
            Some(&b"198.18.0.9"[..])
        );
        assert_eq!(
            h.get("x-forwarded-host").map(HeaderValue::as_bytes),
            Some(&b"front.example"[..])
        );
        assert_eq!(
            h.get("x-forwarded-proto").map(HeaderValue::as_bytes),
            Some(&b"http"[..])
        );
        assert!(h.get("x-secret").is_none());
        assert!(h.get("connection").is_none());
        assert!(h.get("keep-alive").is_none());
    }

    #[tokio::test]
    async fn connection_cannot_name_host_or_content_length() {
        let req = Request::builder()
            .header("host", "front.example")
            .header("content-length", "3")
            .header("connection", "Host, content-length, x-gone")
            .header("x-gone", "1")
            .body(())
            .unwrap_or_default();
        let (parts, _) = through(req, Response::new(())).await;
        let h = &parts.headers;
        assert_eq!(
            h.get("host").map(HeaderValue::as_bytes),
            Some(&b"front.example"[..])
        );
        assert_eq!(
            h.get("content-length").map(HeaderValue::as_bytes),
            Some(&b"3"[..])
        );
        assert!(h.get("x-gone").is_none());
    }

    #[tokio::test]
    async fn x_forwarded_for_is_appended() {
        let req = Request::builder()
            .header("x-forwarded-for", "203.0.113.7")
            .body(())
            .unwrap_or_default();
        let (parts, _) = through(req, Response::new(())).await;
        assert_eq!(
            parts
                .headers
                .get("x-forwarded-for")
                .map(HeaderValue::as_bytes),
            Some(&b"203.0.113.7, 198.18.0.9"[..])
        );
    }

    #[tokio::test]
    async fn upgrade_survives_only_for_upgrades() {
        let req = Request::builder()
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .body(())
            .unwrap_or_default();
        let resp = Response::builder()
            .status(101)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .body(())
            .unwrap_or_default();
        let (parts, _) = through(req, resp).await;
        assert_eq!(
            parts.headers.get("upgrade").map(HeaderValue::as_bytes),
            Some(&b"websocket"[..])
        );
        let req = Request::builder()
            .header("upgrade", "websocket")
            .body(())
            .unwrap_or_default();
        let (parts, _) = through(req, Response::new(())).await;
        assert!(parts.headers.get("upgrade").is_none());
    }

    #[test]
    fn strip_removes_every_hop_by_hop_field_and_only_those() {
        let mut h = HeaderMap::new();
        for (name, value) in [
            ("connection", "close, X-Listed"),
            ("connection", "keep-alive"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authenticate", "Basic"),
            ("proxy-authorization", "Basic eA=="),
            ("te", "trailers"),
            ("te", "gzip"),
            ("trailer", "x-sum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-listed", "1"),
            ("x-listed", "2"),
            ("x-kept", "1"),
            ("host", "front.example"),
        ] {
            h.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        assert!(strip_hop_by_hop(&mut h).is_none());
        let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["host", "x-kept"]);

        let mut plain = HeaderMap::new();
        plain.insert(HOST, HeaderValue::from_static("front.example"));
        plain.insert("x-kept", HeaderValue::from_static("1"));
        let before = plain.clone();
        assert!(strip_hop_by_hop(&mut plain).is_none());
        assert_eq!(plain, before);
    }
}
