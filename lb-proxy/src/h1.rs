//! The member side's HTTP/1.1 codec, without I/O: bytes in, values out, and
//! values in, bytes out (RFC 9112). [`crate::member_conn`] drives it over a
//! connection; the fuzz target (`lb-proxy/fuzz`, `h1_response`) and the
//! property tests drive it over bytes alone.
//!
//! - requests: [`encode_request_head`] (the framing is ours to choose:
//!   `Content-Length` or `chunked`), [`encode_chunk`] and [`LAST_CHUNK`];
//! - responses: [`parse_response_head`] (hop-by-hop fields consumed here,
//!   the one place a member's response loses them), then
//!   [`ResponseHead::body_framing`] (RFC 9112 §6.3's order) and, for a
//!   chunked body, [`step_chunked`], a state machine over buffered bytes.

use std::fmt::Write as _;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

use crate::fields::is_hop_by_hop;

/// Most fields in a response head.
pub const MAX_HEADERS: usize = 100;
/// Largest response head (and trailer section).
pub const MAX_HEAD: usize = 64 * 1024;
/// Longest chunk-size line.
pub const MAX_CHUNK_LINE: usize = 4096;

/// What the codec refuses in a member's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// httparse refused the head.
    #[error("invalid response head from member: {0}")]
    Head(httparse::Error),
    /// The status code is not one (`HTTP/1.1 99 x`).
    #[error("invalid status {0}")]
    Status(u16),
    /// A field name http does not accept.
    #[error("invalid header name {0:?} from member")]
    FieldName(String),
    /// A field value http does not accept.
    #[error("invalid value of header {0} from member")]
    FieldValue(HeaderName),
    /// A `Content-Length` that is not a number.
    #[error("invalid Content-Length {0:?} from member")]
    ContentLength(String),
    /// Two `Content-Length` values that differ.
    #[error("conflicting Content-Length values from member")]
    ConflictingLength,
    /// `Content-Length` with no value.
    #[error("empty Content-Length from member")]
    EmptyLength,
    /// A chunk-size line longer than [`MAX_CHUNK_LINE`].
    #[error("chunk-size line too long")]
    ChunkLineTooLong,
    /// A chunk size that is not hexadecimal digits.
    #[error("invalid chunk size {0:?}")]
    ChunkSize(String),
    /// Chunk data not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    ChunkDataEnd,
    /// A trailer section longer than [`MAX_HEAD`].
    #[error("trailer section too long")]
    TrailersTooLong,
}

// ---------------------------------------------------------------- requests

/// How a request body is framed towards the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFraming {
    /// No body.
    None,
    /// `Content-Length: N`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The end of a chunked body, without trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Writes a request line and its fields, with `framing` as the body's.
/// Any `Content-Length` or `Transfer-Encoding` in `headers` is left out:
/// the framing is the codec's to write.
pub fn encode_request_head(
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    framing: RequestFraming,
    out: &mut BytesMut,
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.extend_from_slice(b" ");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        RequestFraming::Length(n) => {
            let _ = write!(out, "content-length: {n}\r\n");
        }
        RequestFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        RequestFraming::None => {
            // RFC 9110 §8.6: a POST/PUT without a body still says so.
            if matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
                out.extend_from_slice(b"content-length: 0\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes one chunk of a chunked body (`data` not empty: an empty chunk is
/// the last one, [`LAST_CHUNK`]).
pub fn encode_chunk(out: &mut BytesMut, data: &[u8]) {
    let _ = write!(out, "{:x}\r\n", data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

// ---------------------------------------------------------------- responses

/// A parsed response head, with what its connection-level fields said.
#[derive(Debug)]
pub struct ResponseHead {
    /// The status.
    pub status: StatusCode,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// End-to-end fields only; a 101 keeps `Upgrade`, with `Connection:
    /// upgrade`, which the tunnel and the client still need.
    pub headers: HeaderMap,
    /// `Connection: close`.
    pub close: bool,
    /// `Connection: keep-alive` (what keeps an HTTP/1.0 answer open).
    pub keep_alive: bool,
    /// `Transfer-Encoding` was present; `Some(true)` when its last coding is
    /// `chunked`.
    pub chunked: Option<bool>,
    /// The agreed `Content-Length`, if any.
    pub content_length: Option<u64>,
}

/// Comma-separated list elements of a field value, trimmed, empty ones left out.
fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// Parses one response head off the front of `buf`; `Ok(None)`: incomplete
/// (the caller reads more, up to [`MAX_HEAD`]).
///
/// # Errors
/// [`CodecError`] for a head that is not HTTP/1.x, fields http refuses, or
/// `Content-Length` values that are not one number.
pub fn parse_response_head(buf: &mut BytesMut) -> Result<Option<ResponseHead>, CodecError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut fields);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(CodecError::Head(e)),
    };
    // httparse gives a complete head a code.
    let code = parsed.code.unwrap_or(0);
    let status = StatusCode::from_u16(code).map_err(|_| CodecError::Status(code))?;
    let version = if parsed.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    // A 101 keeps its `Upgrade` (and gets `Connection: upgrade` back
    // below): the tunnel and the client need them (RFC 9110 §7.8).
    let switching = status == StatusCode::SWITCHING_PROTOCOLS;
    let mut head = ResponseHead {
        status,
        version,
        headers: HeaderMap::with_capacity(parsed.headers.len()),
        close: false,
        keep_alive: false,
        chunked: None,
        content_length: None,
    };
    // Names listed in `Connection` besides its keywords: rare, removed last.
    let mut listed: Vec<HeaderName> = Vec::new();
    // Offsets into `buf` so the values can share the frozen head's memory.
    let base = buf.as_ptr() as usize;
    let mut kept: Vec<(HeaderName, usize, usize)> = Vec::with_capacity(parsed.headers.len());
    for field in parsed.headers.iter() {
        let name = field.name.as_bytes();
        let value = field.value;
        if name.eq_ignore_ascii_case(b"content-length") {
            for part in list(value) {
                let n = std::str::from_utf8(part)
                    .ok()
                    .and_then(|t| t.parse::<u64>().ok())
                    .ok_or_else(|| {
                        CodecError::ContentLength(String::from_utf8_lossy(part).into_owned())
                    })?;
                if head.content_length.is_some_and(|f| f != n) {
                    return Err(CodecError::ConflictingLength);
                }
                head.content_length = Some(n);
            }
            if head.content_length.is_none() {
                return Err(CodecError::EmptyLength);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if let Some(last) = list(value).last() {
                head.chunked = Some(last.eq_ignore_ascii_case(b"chunked"));
            } else if head.chunked.is_none() {
                // Present but empty: an unknown coding (read until close).
                head.chunked = Some(false);
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in list(value) {
                if token.eq_ignore_ascii_case(b"close") {
                    head.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    head.keep_alive = true;
                } else if !is_hop_by_hop(token)
                    && let Ok(n) = HeaderName::from_bytes(token)
                {
                    listed.push(n);
                }
            }
        }
        if is_hop_by_hop(name) && !(switching && name.eq_ignore_ascii_case(b"upgrade")) {
            continue;
        }
        let name = HeaderName::from_bytes(name)
            .map_err(|_| CodecError::FieldName(field.name.to_owned()))?;
        let start = value.as_ptr() as usize - base;
        kept.push((name, start, start + value.len()));
    }
    let bytes = buf.split_to(len).freeze();
    for (name, start, end) in kept {
        let value = HeaderValue::from_maybe_shared(bytes.slice(start..end))
            .map_err(|_| CodecError::FieldValue(name.clone()))?;
        head.headers.append(name, value);
    }
    for name in listed {
        head.headers.remove(name);
    }
    if switching && head.headers.contains_key(http::header::UPGRADE) {
        head.headers.insert(
            http::header::CONNECTION,
            HeaderValue::from_static("upgrade"),
        );
    }
    Ok(Some(head))
}

/// How a member's response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// This many bytes still to come.
    Length(u64),
    /// Chunked, in this decoder state.
    Chunked(ChunkState),
    /// Until the member closes.
    Close,
    /// Ended.
    Done,
}

impl ResponseHead {
    /// The body's framing by RFC 9112 §6.3, in its order, and whether the
    /// connection may carry another request after it. `head_only`: the
    /// request was `HEAD`. A `Content-Length` beside `Transfer-Encoding`
    /// is removed (the latter wins, and the connection is not reused).
    pub fn body_framing(&mut self, head_only: bool) -> (BodyFraming, bool) {
        let mut keep_alive = match self.version {
            Version::HTTP_10 => self.keep_alive && !self.close,
            _ => !self.close,
        };
        let framing = if head_only
            || self.status == StatusCode::NO_CONTENT
            || self.status == StatusCode::NOT_MODIFIED
        {
            BodyFraming::Length(0)
        } else if let Some(chunked) = self.chunked {
            if self.content_length.is_some() {
                self.headers.remove(CONTENT_LENGTH);
                keep_alive = false;
            }
            if chunked {
                BodyFraming::Chunked(ChunkState::Size)
            } else {
                keep_alive = false;
                BodyFraming::Close
            }
        } else if let Some(n) = self.content_length {
            BodyFraming::Length(n)
        } else {
            keep_alive = false;
            BodyFraming::Close
        };
        (framing, keep_alive)
    }
}

/// States of the chunked decoder (RFC 9112 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkState {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// After chunk data, expecting CRLF.
    DataEnd,
    /// After the last chunk: trailer lines up to an empty line.
    Trailers,
}

/// One step of the chunked decoder.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkStep {
    /// Moved to this state, consuming framing bytes.
    State(ChunkState),
    /// Body bytes, and the state after them.
    Data(Bytes, ChunkState),
    /// The body ended (trailer fields are dropped).
    End,
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// Steps the chunked decoder over the bytes at the front of `buf`,
/// consuming what it used; `Ok(None)`: it needs more bytes.
///
/// # Errors
/// [`CodecError`] for a chunk-size line that is too long or not hex, chunk
/// data not followed by CRLF, or a trailer section over [`MAX_HEAD`].
pub fn step_chunked(
    state: ChunkState,
    buf: &mut BytesMut,
) -> Result<Option<ChunkStep>, CodecError> {
    match state {
        ChunkState::Size => {
            let Some(line_end) = find_crlf(buf) else {
                if buf.len() > MAX_CHUNK_LINE {
                    return Err(CodecError::ChunkLineTooLong);
                }
                return Ok(None);
            };
            if line_end > MAX_CHUNK_LINE {
                return Err(CodecError::ChunkLineTooLong);
            }
            let line = buf.get(..line_end).unwrap_or_default();
            let size_part = line.split(|&b| b == b';').next().unwrap_or_default();
            let size_text = size_part.trim_ascii();
            let size = std::str::from_utf8(size_text)
                .ok()
                .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|t| u64::from_str_radix(t, 16).ok())
                .ok_or_else(|| {
                    CodecError::ChunkSize(String::from_utf8_lossy(size_text).into_owned())
                })?;
            buf.advance(line_end + 2);
            Ok(Some(ChunkStep::State(if size == 0 {
                ChunkState::Trailers
            } else {
                ChunkState::Data(size)
            })))
        }
        ChunkState::Data(left) => {
            if buf.is_empty() {
                return Ok(None);
            }
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
            let data = buf.split_to(n).freeze();
            let left = left - n as u64;
            Ok(Some(ChunkStep::Data(
                data,
                if left == 0 {
                    ChunkState::DataEnd
                } else {
                    ChunkState::Data(left)
                },
            )))
        }
        ChunkState::DataEnd => {
            if buf.len() < 2 {
                return Ok(None);
            }
            if buf.get(..2) != Some(b"\r\n") {
                return Err(CodecError::ChunkDataEnd);
            }
            buf.advance(2);
            Ok(Some(ChunkStep::State(ChunkState::Size)))
        }
        ChunkState::Trailers => {
            let Some(line_end) = find_crlf(buf) else {
                if buf.len() > MAX_HEAD {
                    return Err(CodecError::TrailersTooLong);
                }
                return Ok(None);
            };
            buf.advance(line_end + 2);
            // An empty line ends the message; trailer fields are dropped.
            Ok(Some(if line_end == 0 {
                ChunkStep::End
            } else {
                ChunkStep::State(ChunkState::Trailers)
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn head(text: &str) -> ResponseHead {
        let mut buf = BytesMut::from(text.as_bytes());
        match parse_response_head(&mut buf) {
            Ok(Some(h)) => h,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    fn names(h: &ResponseHead) -> Vec<&str> {
        let mut n: Vec<&str> = h.headers.keys().map(HeaderName::as_str).collect();
        n.sort_unstable();
        n
    }

    /// The one place a member's response loses its hop-by-hop fields: the
    /// fixed set and what `Connection` lists, whatever their case.
    #[test]
    fn a_response_keeps_its_end_to_end_fields_only() {
        let h = head(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Internal\r\nKeep-Alive: timeout=5\r\nX-Internal: 1\r\nTransfer-Encoding: chunked\r\nProxy-Connection: x\r\nTrailer: x-sum\r\nUpgrade: h2c\r\nX-Kept: 1\r\nContent-Type: text/plain\r\n\r\n",
        );
        assert_eq!(names(&h), ["content-type", "x-kept"]);
        assert!(h.keep_alive);
        assert_eq!(h.chunked, Some(true));
    }

    /// A 101 keeps `Upgrade` and gets `Connection: upgrade`, whatever else
    /// the member's `Connection` said; the rest goes as for any response.
    #[test]
    fn a_101_keeps_what_the_tunnel_needs() {
        let h = head(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade, X-Internal\r\nUpgrade: websocket\r\nX-Internal: 1\r\nKeep-Alive: timeout=5\r\nSec-WebSocket-Accept: abc\r\n\r\n",
        );
        assert_eq!(names(&h), ["connection", "sec-websocket-accept", "upgrade"]);
        assert_eq!(h.headers[http::header::CONNECTION], "upgrade");
        assert_eq!(h.headers[http::header::UPGRADE], "websocket");
        // Without Upgrade, a 101 gets no Connection either.
        let h = head("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\n");
        assert!(names(&h).is_empty());
    }

    #[test]
    fn body_framing_in_rfc_9112_order() {
        let mut h =
            head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(
            h.body_framing(false),
            (BodyFraming::Chunked(ChunkState::Size), false)
        );
        assert!(
            !h.headers.contains_key(CONTENT_LENGTH),
            "Transfer-Encoding wins"
        );
        let mut h = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(h.body_framing(false), (BodyFraming::Length(5), true));
        assert_eq!(h.body_framing(true), (BodyFraming::Length(0), true));
        let mut h = head("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(h.body_framing(false), (BodyFraming::Length(0), true));
        let mut h = head("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(h.body_framing(false), (BodyFraming::Length(5), false));
        let mut h = head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(h.body_framing(false), (BodyFraming::Length(5), true));
        let mut h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
        assert_eq!(h.body_framing(false), (BodyFraming::Close, false));
        let mut h = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(h.body_framing(false), (BodyFraming::Close, false));
    }

    #[test]
    fn malformed_heads_and_chunks_are_refused_by_kind() {
        let parse =
            |t: &str| parse_response_head(&mut BytesMut::from(t.as_bytes())).map(|h| h.is_some());
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n").err(),
            Some(CodecError::ConflictingLength)
        );
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").err(),
            Some(CodecError::ContentLength("x".into()))
        );
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\nContent-Length: ,\r\n\r\n").err(),
            Some(CodecError::EmptyLength)
        );
        assert!(matches!(
            parse("HTTP/1.1 2000 OK\r\n\r\n"),
            Err(CodecError::Head(_))
        ));
        assert_eq!(parse("HTTP/1.1 200 OK\r\nContent-"), Ok(false));
        let step = |s: ChunkState, t: &str| step_chunked(s, &mut BytesMut::from(t.as_bytes()));
        assert_eq!(
            step(ChunkState::Size, "+5\r\n"),
            Err(CodecError::ChunkSize("+5".into()))
        );
        assert_eq!(
            step(ChunkState::Size, "\r\n"),
            Err(CodecError::ChunkSize(String::new()))
        );
        assert_eq!(
            step(ChunkState::Size, "5;ext=1\r\n"),
            Ok(Some(ChunkStep::State(ChunkState::Data(5))))
        );
        assert_eq!(
            step(ChunkState::DataEnd, "xx"),
            Err(CodecError::ChunkDataEnd)
        );
        assert_eq!(
            step(ChunkState::Size, &"1".repeat(MAX_CHUNK_LINE + 1)),
            Err(CodecError::ChunkLineTooLong)
        );
        assert_eq!(step(ChunkState::Size, "1"), Ok(None));
    }

    /// Decodes a chunked body fed in pieces of `split` bytes: the body and
    /// the bytes left after its end, or the error.
    fn decode_chunked(wire: &[u8], split: usize) -> Result<(Vec<u8>, Vec<u8>), CodecError> {
        let mut buf = BytesMut::new();
        let mut state = ChunkState::Size;
        let mut body = Vec::new();
        let mut fed = 0;
        loop {
            match step_chunked(state, &mut buf)? {
                Some(ChunkStep::State(s)) => state = s,
                Some(ChunkStep::Data(d, s)) => {
                    body.extend_from_slice(&d);
                    state = s;
                }
                Some(ChunkStep::End) => {
                    let mut rest = buf.to_vec();
                    rest.extend_from_slice(&wire[fed..]);
                    return Ok((body, rest));
                }
                None => {
                    let end = (fed + split.max(1)).min(wire.len());
                    if fed == end {
                        return Err(CodecError::ChunkDataEnd);
                    }
                    buf.extend_from_slice(&wire[fed..end]);
                    fed = end;
                }
            }
        }
    }

    proptest! {
        /// What the encoder frames, the decoder reads back: the same body,
        /// ending where the encoder stopped, however the bytes arrive.
        #[test]
        fn chunked_bodies_round_trip(
            chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 0..8),
            split in 1usize..64,
            after in prop::collection::vec(any::<u8>(), 0..16),
        ) {
            let mut wire = BytesMut::new();
            for c in &chunks {
                encode_chunk(&mut wire, c);
            }
            wire.extend_from_slice(LAST_CHUNK);
            wire.extend_from_slice(&after);
            let (body, rest) = decode_chunked(&wire, split).expect("decodes");
            prop_assert_eq!(body, chunks.concat());
            prop_assert_eq!(rest, after);
        }

        /// A request head the encoder writes is one httparse reads back
        /// with the same method, target and fields, and exactly the framing
        /// chosen (the caller's own Content-Length/Transfer-Encoding gone).
        #[test]
        fn request_heads_parse_back(
            method in prop::sample::select(vec!["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
            target in "/[a-z0-9/._~%-]{0,30}(\\?[a-z0-9=&]{0,20})?",
            fields in prop::collection::vec(("x-[a-z]{1,10}", "[ -~]{0,20}"), 0..6),
            framing in prop_oneof![
                Just(RequestFraming::None),
                Just(RequestFraming::Chunked),
                (0u64..1_000_000).prop_map(RequestFraming::Length),
            ],
        ) {
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let mut headers = HeaderMap::new();
            for (name, value) in &fields {
                let value = value.trim();
                headers.append(
                    HeaderName::from_bytes(name.as_bytes()).expect("name"),
                    HeaderValue::from_str(value).expect("value"),
                );
            }
            headers.insert(CONTENT_LENGTH, HeaderValue::from_static("999"));
            let mut out = BytesMut::new();
            encode_request_head(&method, &target, &headers, framing, &mut out);
            let mut parsed_fields = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut parsed_fields);
            let status = req.parse(&out).expect("parses");
            prop_assert_eq!(status, httparse::Status::Complete(out.len()));
            prop_assert_eq!(req.method, Some(method.as_str()));
            prop_assert_eq!(req.path, Some(target.as_str()));
            let got: Vec<(String, String)> = req
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
                .collect();
            let mut want: Vec<(String, String)> = fields
                .iter()
                .map(|(n, v)| (n.clone(), v.trim().to_owned()))
                .collect();
            // HeaderMap groups a name's values; order by name, then value order.
            want.sort_by(|a, b| a.0.cmp(&b.0));
            let mut got_fields: Vec<(String, String)> = got
                .iter()
                .filter(|(n, _)| n != "content-length" && n != "transfer-encoding")
                .cloned()
                .collect();
            got_fields.sort_by(|a, b| a.0.cmp(&b.0));
            prop_assert_eq!(got_fields, want);
            let framing_fields: Vec<(String, String)> = got
                .into_iter()
                .filter(|(n, _)| n == "content-length" || n == "transfer-encoding")
                .collect();
            let expected: Vec<(String, String)> = match framing {
                RequestFraming::Length(n) => vec![("content-length".into(), n.to_string())],
                RequestFraming::Chunked => vec![("transfer-encoding".into(), "chunked".into())],
                RequestFraming::None if matches!(method, Method::POST | Method::PUT | Method::PATCH) => {
                    vec![("content-length".into(), "0".into())]
                }
                RequestFraming::None => vec![],
            };
            prop_assert_eq!(framing_fields, expected);
        }
    }
}
