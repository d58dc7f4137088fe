//! Apache's request limits: `LimitRequestLine` (8190 bytes of method,
//! target and version; beyond it 414, RFC 9112 §3), `LimitRequestFieldSize`
//! (8190 bytes per field) and `LimitRequestFields` (100 fields); beyond
//! those, 431 (RFC 6585 §5).

use http::{Request, Uri};

/// The three limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes per field: name, `": "` and value (`LimitRequestFieldSize`).
    pub field_size: usize,
    /// Fields per request (`LimitRequestFields`).
    pub fields: usize,
    /// Bytes of request line without its CRLF (`LimitRequestLine`).
    pub line: usize,
}

/// Which limit a request exceeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitProblem {
    /// The request line: 414.
    Line,
    /// A field too long, or too many fields: 431.
    Fields,
}

/// Length of the request-target as it was on the request line.
fn target_len(uri: &Uri) -> usize {
    let pq = uri.path_and_query().map_or(0, |p| p.as_str().len());
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(a)) => scheme.len() + 3 + a.as_str().len() + pq,
        (None, Some(a)) => a.as_str().len(),
        _ => pq,
    }
}

/// Checks `req` against `limits`.
///
/// # Errors
/// The limit it exceeds.
pub fn check<B>(req: &Request<B>, limits: Limits) -> Result<(), LimitProblem> {
    // "METHOD SP target SP HTTP/1.1"
    let line = req.method().as_str().len() + 1 + target_len(req.uri()) + 9;
    if line > limits.line {
        return Err(LimitProblem::Line);
    }
    let headers = req.headers();
    if headers.len() > limits.fields
        || headers
            .iter()
            .any(|(n, v)| n.as_str().len() + 2 + v.len() > limits.field_size)
    {
        return Err(LimitProblem::Fields);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        field_size: 64,
        fields: 3,
        line: 40,
    };

    fn req(target: &str, headers: &[(&str, String)]) -> Request<()> {
        let mut b = Request::builder().uri(target);
        for (k, v) in headers {
            b = b.header(*k, v.as_str());
        }
        b.body(()).unwrap_or_default()
    }

    #[test]
    fn within_limits_passes() {
        let r = req(
            "/",
            &[("a", "1".into()), ("b", "2".into()), ("c", "3".into())],
        );
        assert_eq!(check(&r, LIMITS), Ok(()));
    }

    #[test]
    fn too_many_fields() {
        let four: Vec<_> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| (*n, "1".to_owned()))
            .collect();
        assert_eq!(check(&req("/", &four), LIMITS), Err(LimitProblem::Fields));
    }

    #[test]
    fn too_long_request_line() {
        // "GET " + target + " HTTP/1.1": 4 + 27 + 9 = 40 bytes fits.
        let fits = format!("/{}", "a".repeat(26));
        assert_eq!(check(&req(&fits, &[]), LIMITS), Ok(()));
        let over = format!("/{}", "a".repeat(27));
        assert_eq!(check(&req(&over, &[]), LIMITS), Err(LimitProblem::Line));
        let absolute = format!("http://h/{}", "a".repeat(20));
        assert_eq!(check(&req(&absolute, &[]), LIMITS), Err(LimitProblem::Line));
    }

    #[test]
    fn too_long_field() {
        // "a: " + 61 = 64 bytes fits.
        assert_eq!(check(&req("/", &[("a", "x".repeat(61))]), LIMITS), Ok(()));
        assert_eq!(
            check(&req("/", &[("a", "x".repeat(62))]), LIMITS),
            Err(LimitProblem::Fields)
        );
    }
}
