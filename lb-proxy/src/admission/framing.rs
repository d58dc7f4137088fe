//! Refuses requests whose framing is ambiguous or not ours to decode (RFC
//! 9112 §6.1, §6.3): both `Content-Length` and `Transfer-Encoding`, several
//! differing `Content-Length`s, or a `Transfer-Encoding` that is not one
//! final `chunked` — 400 when `chunked` is missing, not last or repeated,
//! 501 when another coding (`gzip, chunked`) comes before it: the proxy
//! decodes chunked itself and would otherwise hand the member a body with
//! its coding silently lost. hyper's parser already resolves the wire cases
//! safely (it drops `Content-Length` when `Transfer-Encoding` is present);
//! this layer makes the rule explicit for any front end feeding the stack,
//! so a member never sees two framings it might read differently from us.

use http::HeaderMap;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};

/// What is wrong with a request's framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingProblem {
    /// Several `Content-Length` values that differ: 400.
    ConflictingLengths,
    /// `Content-Length` and `Transfer-Encoding` together: 400.
    LengthAndCoding,
    /// A `Transfer-Encoding` value that is not text: 400.
    CodingNotText,
    /// `Transfer-Encoding` whose last coding is not `chunked`: 400.
    ChunkedNotLast,
    /// `chunked` more than once: 400.
    ChunkedTwice,
    /// A coding besides `chunked` (`gzip, chunked`): 501.
    OtherCoding,
}

impl FramingProblem {
    /// Why, for the client and the log.
    pub fn text(self) -> &'static str {
        match self {
            Self::ConflictingLengths => "conflicting Content-Length headers\n",
            Self::LengthAndCoding => "both Content-Length and Transfer-Encoding\n",
            Self::CodingNotText => "Transfer-Encoding is not text\n",
            Self::ChunkedNotLast => "Transfer-Encoding must end with chunked\n",
            Self::ChunkedTwice => "chunked applied more than once\n",
            Self::OtherCoding => "only the chunked transfer coding is supported\n",
        }
    }
}

/// Checks the framing fields of a request.
///
/// # Errors
/// What is wrong with them.
pub fn check(headers: &HeaderMap) -> Result<(), FramingProblem> {
    let mut lengths = headers.get_all(CONTENT_LENGTH).iter();
    let first_len = lengths.next();
    if let Some(first) = first_len
        && lengths.any(|v| v != first)
    {
        return Err(FramingProblem::ConflictingLengths);
    }
    let mut fields = headers.get_all(TRANSFER_ENCODING).iter().peekable();
    // No Transfer-Encoding: the lengths (if any) agree.
    if fields.peek().is_none() {
        return Ok(());
    }
    if first_len.is_some() {
        return Err(FramingProblem::LengthAndCoding);
    }
    let (mut codings, mut chunked, mut last_chunked) = (0usize, 0usize, false);
    for field in fields {
        let Ok(text) = field.to_str() else {
            return Err(FramingProblem::CodingNotText);
        };
        for coding in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            codings += 1;
            // A coding may carry parameters (`gzip;q=1` is not one, but
            // `chunked;x=y` would still be chunked to a lax parser).
            last_chunked = coding.eq_ignore_ascii_case("chunked");
            chunked += usize::from(last_chunked);
        }
    }
    if !last_chunked {
        return Err(FramingProblem::ChunkedNotLast);
    }
    if chunked > 1 {
        return Err(FramingProblem::ChunkedTwice);
    }
    if codings > 1 {
        return Err(FramingProblem::OtherCoding);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn check_of(fields: &[(&str, &str)]) -> Result<(), FramingProblem> {
        let mut h = HeaderMap::new();
        for (k, v) in fields {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        check(&h)
    }

    #[test]
    fn cl_and_te_together_are_refused() {
        assert_eq!(
            check_of(&[("content-length", "6"), ("transfer-encoding", "chunked")]),
            Err(FramingProblem::LengthAndCoding)
        );
    }

    #[test]
    fn differing_lengths_are_refused() {
        assert_eq!(
            check_of(&[("content-length", "6"), ("content-length", "7")]),
            Err(FramingProblem::ConflictingLengths)
        );
    }

    #[test]
    fn te_not_ending_in_chunked_is_refused() {
        for te in ["chunked, gzip", "", " , ", "identity"] {
            assert_eq!(
                check_of(&[("transfer-encoding", te)]),
                Err(FramingProblem::ChunkedNotLast),
                "{te:?}"
            );
        }
    }

    #[test]
    fn chunked_twice_is_refused() {
        for te in [
            &[("transfer-encoding", "chunked, chunked")][..],
            &[
                ("transfer-encoding", "chunked"),
                ("transfer-encoding", "chunked"),
            ],
        ] {
            assert_eq!(check_of(te), Err(FramingProblem::ChunkedTwice));
        }
    }

    #[test]
    fn codings_other_than_chunked_are_not_implemented() {
        for te in [
            &[("transfer-encoding", "gzip, chunked")][..],
            &[
                ("transfer-encoding", "gzip"),
                ("transfer-encoding", "chunked"),
            ],
        ] {
            assert_eq!(check_of(te), Err(FramingProblem::OtherCoding));
        }
    }

    #[test]
    fn clean_framing_passes() {
        assert_eq!(check_of(&[("content-length", "6")]), Ok(()));
        assert_eq!(
            check_of(&[("content-length", "6"), ("content-length", "6")]),
            Ok(())
        );
        assert_eq!(check_of(&[("transfer-encoding", "Chunked")]), Ok(()));
        assert_eq!(check_of(&[]), Ok(()));
    }
}
