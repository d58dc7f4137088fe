//! Virtual hosts and routes: which host a request is for (by listener and
//! `Host`), which of its routes matches, and what happens then — a member
//! of a balancer, a file from a directory, a redirect, or 404. On the way
//! back, `ProxyPassReverse` for the route that forwarded it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use futures_util::future::Either;
use http::header::{HOST, LOCATION};
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt as _;
use tower::{Layer, Service, ServiceExt as _};

use super::reverse::Rewrite;
use super::{Mapped, OrReject};
use crate::body::{ProxyBody, RequestBody, local_response};
use crate::sites::{Resolved, Routed, Sites};

/// Layer for [`Router`].
#[derive(Debug, Clone)]
pub struct RouterLayer {
    sites: Arc<ArcSwap<Sites>>,
    listener: usize,
}

impl RouterLayer {
    /// Routes requests that came in on listener `listener` (its index in
    /// the proxy's `listen`) by the sites in force.
    pub(crate) fn new(sites: Arc<ArcSwap<Sites>>, listener: usize) -> Self {
        Self { sites, listener }
    }
}

impl<S> Layer<S> for RouterLayer {
    type Service = Router<S>;
    fn layer(&self, inner: S) -> Router<S> {
        Router {
            sites: self.sites.clone(),
            listener: self.listener,
            inner,
        }
    }
}

/// Routes each request; see the module.
#[derive(Debug, Clone)]
pub struct Router<S> {
    sites: Arc<ArcSwap<Sites>>,
    listener: usize,
    inner: S,
}

/// A file served from a directory route (the rare path, boxed).
type FileFuture = Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>>;

impl<S> Service<Request<RequestBody>> for Router<S>
where
    S: Service<Routed, Response = Response<ProxyBody>, Error = Infallible>,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Either<OrReject<Mapped<S::Future, Rewrite>, ProxyBody, Infallible>, FileFuture>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<RequestBody>) -> Self::Future {
        let sites = self.sites.load();
        let host_header = req.headers().get(HOST).cloned();
        let Some(host) = sites.host(
            self.listener,
            host_header.as_ref().and_then(|h| h.to_str().ok()),
        ) else {
            return answer(local_response(StatusCode::NOT_FOUND, "not found\n"));
        };
        match Sites::resolve(host, req.uri()) {
            Resolved::Proxy(target) => {
                let rewrite = match (&target.reverse, host_header) {
                    (Some(reverse), Some(front)) => Rewrite::Front {
                        members: target.balancer.clone(),
                        host: front,
                        reverse: reverse.clone(),
                    },
                    _ => Rewrite::Off,
                };
                Either::Left(Either::Right(Mapped::new(
                    self.inner.call(Routed {
                        request: req,
                        target,
                    }),
                    rewrite,
                )))
            }
            Resolved::Redirect { status, location } => {
                let mut resp = local_response(status, "moved\n");
                match HeaderValue::from_str(&location) {
                    Ok(v) => {
                        resp.headers_mut().insert(LOCATION, v);
                        answer(resp)
                    }
                    Err(_) => answer(local_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "invalid redirect\n",
                    )),
                }
            }
            Resolved::Directory { directory, rest } => {
                Either::Right(Box::pin(serve_file(directory.clone(), req, rest)))
            }
            Resolved::NotFound => {
                tracing::debug!(vhost = %host.name, path = req.uri().path(), "no route for the path");
                answer(local_response(StatusCode::NOT_FOUND, "not found\n"))
            }
        }
    }
}

/// A local answer.
fn answer<F>(resp: Response<ProxyBody>) -> Either<OrReject<F, ProxyBody, Infallible>, FileFuture> {
    Either::Left(Either::Left(std::future::ready(Ok(resp))))
}

/// What a directory route allows, as Apache's core handler says it
/// (without `TRACE`, which had never answers).
const FILE_METHODS: &str = "GET, HEAD, POST, OPTIONS";

/// Serves `rest` (the path inside the directory) with tower-http's
/// `ServeDir` (GET and HEAD, ranges, `If-Modified-Since`, no way out of the
/// directory), or the one file an `Alias` names with `ServeFile`, plus what
/// Apache's core and mod_dir add to it:
/// - the methods of Apache's core handler: `POST` is answered as `GET`
///   (its body discarded), `OPTIONS` with the methods allowed, any other
///   method 405;
/// - an `ETag` as Apache's `FileETag MTime Size` writes it, and the entity
///   tag preconditions in RFC 9110 §13.2.2's order: `If-Match` (412),
///   `If-None-Match` (304; when present, `If-Modified-Since` is not
///   looked at), `If-Range` with a tag;
/// - a directory named without its slash is redirected (301) to the same
///   path under the route, with the slash and the query, as mod_dir does.
async fn serve_file(
    directory: std::path::PathBuf,
    req: Request<RequestBody>,
    rest: String,
) -> Result<Response<ProxyBody>, Infallible> {
    let (mut parts, _body) = req.into_parts();
    match parts.method {
        http::Method::GET | http::Method::HEAD => {}
        http::Method::POST => parts.method = http::Method::GET,
        ref m => {
            let status = if m == http::Method::OPTIONS {
                StatusCode::OK
            } else {
                StatusCode::METHOD_NOT_ALLOWED
            };
            let mut resp = if status == StatusCode::OK {
                local_response(status, "")
            } else {
                local_response(status, "method not allowed\n")
            };
            resp.headers_mut()
                .insert(http::header::ALLOW, HeaderValue::from_static(FILE_METHODS));
            return Ok(resp);
        }
    }
    let front = parts.uri.clone();
    let path = if rest.starts_with('/') {
        rest
    } else {
        format!("/{rest}")
    };
    // An Alias to one file: that file for the route's own path, and
    // nothing below it (Apache: not a directory, 404).
    let one_file = tokio::fs::metadata(&directory)
        .await
        .is_ok_and(|m| m.is_file());
    if one_file && (path != "/" || front.path().ends_with('/')) {
        return Ok(local_response(StatusCode::NOT_FOUND, "not found\n"));
    }
    parts.uri = match path.parse::<Uri>() {
        Ok(uri) => uri,
        Err(_) => return Ok(local_response(StatusCode::NOT_FOUND, "not found\n")),
    };
    let tag = if one_file {
        file_tag(&directory).await
    } else {
        entity_tag(&directory, &path).await
    };
    if let Some(early) = tag.as_deref().and_then(|t| preconditions(&mut parts, t)) {
        return Ok(early);
    }
    let req = Request::from_parts(parts, http_body_util::Empty::<bytes::Bytes>::new());
    let resp = if one_file {
        let Ok(resp) = tower_http::services::ServeFile::new(directory)
            .oneshot(req)
            .await;
        resp
    } else {
        let Ok(resp) = tower_http::services::ServeDir::new(directory)
            .append_index_html_on_directories(true)
            .oneshot(req)
            .await;
        resp
    };
    // hyper owes the file its first poll (`send_timeout`).
    crate::send_watch::owe();
    let mut resp = resp.map(|body| ProxyBody::Stream(body.map_err(Into::into).boxed_unsync()));
    if resp.status().is_redirection() && resp.status() != StatusCode::NOT_MODIFIED {
        // ServeDir names the path inside the directory; the client's path
        // is the route's prefix and that.
        let location = match front.query() {
            Some(q) => format!("{}/?{q}", front.path()),
            None => format!("{}/", front.path()),
        };
        let mut moved = local_response(StatusCode::MOVED_PERMANENTLY, "moved\n");
        if let Ok(v) = HeaderValue::from_str(&location) {
            moved.headers_mut().insert(LOCATION, v);
        }
        return Ok(moved);
    }
    let tagged = matches!(
        resp.status(),
        StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
    );
    if let Some(v) = tag
        .filter(|_| tagged)
        .and_then(|t| HeaderValue::from_str(&t).ok())
    {
        resp.headers_mut().insert(http::header::ETAG, v);
    }
    Ok(resp)
}

/// The strong entity tag of the file `path` names in `directory`, as
/// Apache's default `FileETag MTime Size` writes it (`"size-mtime"`, both in
/// hex, the time in microseconds); `None` when it names no regular file or
/// could leave the directory (ServeDir then answers as it does).
async fn entity_tag(directory: &std::path::Path, path: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    let mut file = directory.to_path_buf();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        if segment == "." || segment == ".." || segment.contains(['\\', '\0']) {
            return None;
        }
        file.push(segment);
    }
    if decoded.ends_with('/') {
        file.push("index.html");
    }
    file_tag(&file).await
}

/// The entity tag of one regular file (see [`entity_tag`]).
async fn file_tag(file: &std::path::Path) -> Option<String> {
    let meta = tokio::fs::metadata(file).await.ok()?;
    if !meta.is_file() {
        return None;
    }
    let micros = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_micros();
    Some(format!("\"{:x}-{micros:x}\"", meta.len()))
}

/// RFC 9110 §13.2.2 for the tags: an answer now (412 or 304), or `parts`
/// made ready for ServeDir (which evaluates the dates and ranges).
fn preconditions(parts: &mut http::request::Parts, tag: &str) -> Option<Response<ProxyBody>> {
    use http::header::{
        IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE, RANGE,
    };
    let h = &parts.headers;
    if h.contains_key(IF_MATCH) {
        if !list_matches(h.get_all(IF_MATCH), tag, true) {
            return Some(local_response(
                StatusCode::PRECONDITION_FAILED,
                "precondition failed\n",
            ));
        }
        // Step 2 (If-Unmodified-Since) only applies without If-Match.
        parts.headers.remove(IF_UNMODIFIED_SINCE);
    }
    let h = &parts.headers;
    if h.contains_key(IF_NONE_MATCH) {
        if list_matches(h.get_all(IF_NONE_MATCH), tag, false) {
            let safe = parts.method == http::Method::GET || parts.method == http::Method::HEAD;
            let status = if safe {
                StatusCode::NOT_MODIFIED
            } else {
                StatusCode::PRECONDITION_FAILED
            };
            let mut resp = Response::new(ProxyBody::Local(None));
            *resp.status_mut() = status;
            if let Ok(v) = HeaderValue::from_str(tag) {
                resp.headers_mut().insert(http::header::ETAG, v);
            }
            return Some(resp);
        }
        // Step 4 (If-Modified-Since) only applies without If-None-Match.
        parts.headers.remove(IF_MODIFIED_SINCE);
    }
    // If-Range with an entity tag: the range only if it is this one
    // (strong comparison); a date is left to ServeDir.
    if let Some(v) = parts.headers.get(IF_RANGE).and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if v.starts_with('"') || v.starts_with("W/") {
            if v == tag {
                parts.headers.remove(IF_RANGE);
            } else {
                parts.headers.remove(IF_RANGE);
                parts.headers.remove(RANGE);
            }
        }
    }
    None
}

/// Whether an `If-Match` / `If-None-Match` list names `tag` (`*` names any):
/// `strong` comparison for `If-Match`, weak for `If-None-Match` (RFC 9110
/// §8.8.3.2). `tag` is strong, so a weak tag in the list never matches
/// strongly.
fn list_matches<'a>(
    values: http::header::GetAll<'a, HeaderValue>,
    tag: &str,
    strong: bool,
) -> bool {
    values
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| {
            t == "*"
                || t == tag
                || (!strong && t.strip_prefix("W/").is_some_and(|weak| weak == tag))
        })
}
