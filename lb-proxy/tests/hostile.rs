//! The hostile-request corpus (`tests/hostile/*.cases`, format in
//! `tests/hostile/README.md`) against had's proxy: every case on a fresh
//! connection to a fresh proxy (default settings, path `/`,
//! `preserve_host` as in the seed's Apache) in front of a fresh recording
//! member, asserting the client's status lines, whether the connection is
//! closed, an answer within a second, and exactly what the member received.
//! One test per class, so a failure names its class; `cargo xtask hostile`
//! plays the same files through had, HAProxy, nginx and Apache.

mod common;
#[path = "common/hostile_cases.rs"]
mod hostile_cases;

use std::path::{Path, PathBuf};
use std::time::Duration;

// `hostile_cases` reaches the recording member as `super::recording`.
use common::recording::{self, Framing, Received, Recording};
use common::{config, start};
use hostile_cases::{
    Case, ExpectedRequest, decode, diff, load_class, mark, play, render_expected, render_got,
    settle, since,
};
use lb_proxy::{MemberConfig, ProxyConfig};

/// Largest body the proxy reads ahead whole, and so frames with `Content-Length`.
const READ_AHEAD: usize = 16 * 1024;

/// Fields that never reach a member (RFC 9110 §7.6.1 and the non-standard
/// ones), besides `Connection` and `Upgrade`, which do on an upgrade.
const HOP_BY_HOP: [&str; 6] = [
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "expect",
];

/// The case files.
fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

/// Breaks of the rules had applies to every request it forwards, whatever
/// the case (rendered as extra lines of the case's diff).
fn forwarding_rule_breaks(requests: &[Received]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        let n = i + 1;
        for name in ["x-forwarded-for", "x-forwarded-proto"] {
            if r.all(name).len() != 1 {
                out.push(format!(
                    "had rule: request {n} has {:?} {name}",
                    r.all(name)
                ));
            }
        }
        for name in HOP_BY_HOP {
            if !r.all(name).is_empty() {
                out.push(format!("had rule: request {n} carries hop-by-hop {name}"));
            }
        }
        // On an upgrade the member needs `Connection: upgrade` and `Upgrade`.
        let upgrading = r
            .one("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("upgrade"))
            && r.one("upgrade").is_some();
        let plain = r.all("connection").is_empty() && r.all("upgrade").is_empty();
        if !upgrading && !plain {
            out.push(format!(
                "had rule: request {n} carries connection {:?} / upgrade {:?}",
                r.all("connection"),
                r.all("upgrade")
            ));
        }
        let whole = Framing::Length(r.body.len() as u64);
        if !r.body.is_empty() && r.body.len() <= READ_AHEAD && r.framing != whole {
            out.push(format!(
                "had rule: request {n}'s {}-byte body, read ahead whole, is framed {:?}",
                r.body.len(),
                r.framing
            ));
        }
    }
    out
}

/// Plays one case against a fresh member and proxy; the diff when it fails.
async fn run_case(case: &Case) -> Result<(), String> {
    let member = Recording::start(Duration::ZERO).await;
    let proxy = start(ProxyConfig {
        members: vec![MemberConfig::new(member.url())],
        preserve_host: true,
        workers: Some(1),
        ..config(&[])
    });
    let before = mark(&member);
    let answer = play(proxy.local_addrs()[0], case)
        .await
        .map_err(|e| format!("cannot play the case: {e}"))?;
    settle(&member).await;
    let view = since(&member, &before);
    let expected = render_expected(&case.expected);
    let mut got = render_got(&case.expected, &answer, &view);
    got.extend(forwarding_rule_breaks(&view.requests));
    if got == expected {
        Ok(())
    } else {
        Err(diff(&expected, &got))
    }
}

/// Runs every case of `class`; fails listing each case that did not go as
/// its file says, with the diff (`-` expected, `+` got).
async fn run_class(class: &str) {
    let cases = load_class(&corpus(), class).unwrap_or_else(|e| panic!("{e}"));
    assert!(!cases.is_empty(), "{class}: no cases");
    let mut failures = Vec::new();
    for case in &cases {
        let outcome = run_case(case).await;
        match (&case.had_differs, outcome) {
            (None, Ok(())) => {}
            (None, Err(d)) => failures.push(format!(
                "{} ({}) [{}]\n{d}",
                case.name, case.class, case.origin
            )),
            (Some(known), Err(d)) => eprintln!(
                "known difference, {} ({}): had {known}; the rule's expectation is kept:\n{d}",
                case.name, case.class
            ),
            (Some(known), Ok(())) => failures.push(format!(
                "{} ({}) [{}]: now meets its expectation; delete its `had-differs: {known}` line",
                case.name, case.class, case.origin
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {class} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// One test per case file; `every_case_file_has_a_test` keeps the list whole.
macro_rules! classes {
    ($($test:ident => $class:literal),* $(,)?) => {
        const CLASSES: &[&str] = &[$($class),*];
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                run_class($class).await;
            }
        )*
    };
}

classes! {
    malformed_chunked_bodies => "chunked",
    bodies_cut_by_a_half_close => "body-cut",
    content_length_with_transfer_encoding => "cl-te",
    transfer_encoding_values => "transfer-encoding",
    content_length_values => "content-length",
    header_syntax => "header-syntax",
    request_lines => "request-line",
    canonical_paths => "path",
    host_rules => "host",
    size_limits => "limits",
    expectations => "expect",
    pipelined_requests => "pipelining",
    upgrades => "upgrade",
    clean_controls => "control",
}

#[test]
fn every_case_file_has_a_test() {
    let mut ours: Vec<String> = CLASSES.iter().map(|c| (*c).to_owned()).collect();
    ours.sort();
    assert_eq!(hostile_cases::classes(&corpus()), ours);
    for class in CLASSES {
        let cases = load_class(&corpus(), class).unwrap_or_else(|e| panic!("{e}"));
        assert!(!cases.is_empty(), "{class}: no cases");
    }
}

#[test]
fn case_file_escapes_and_repeats() {
    assert_eq!(
        decode(r"a\r\n\t\0\\\x7f").as_deref(),
        Ok(&b"a\r\n\t\0\\\x7f"[..])
    );
    assert_eq!(decode("{ab*3}c").as_deref(), Ok(&b"abababc"[..]));
    assert_eq!(
        decode(r"{x{y*2}\r\n*2}").as_deref(),
        Ok(&b"xyy\r\nxyy\r\n"[..])
    );
    assert_eq!(decode(r"{a*b*2}").as_deref(), Ok(&b"a*ba*b"[..]));
    assert_eq!(
        decode(r"\{not a repeat\}").as_deref(),
        Ok(&b"{not a repeat}"[..])
    );
    assert!(decode("{unclosed").is_err());
    assert!(decode(r"\q").is_err());
    let cases = hostile_cases::parse_cases(
        "t",
        "inline",
        "=== one\nsend: GET / HTTP/1.1\\r\\n\nsend: Host: h\\r\\n\\r\\n\nstatus: 200\nclose: no\nmember: GET /\n  host: h\n  lacks: te\n",
    )
    .expect("parses");
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].bytes(), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(
        cases[0].expected.member,
        vec![ExpectedRequest {
            method: "GET".into(),
            target: "/".into(),
            host: Some("h".into()),
            has: Vec::new(),
            lacks: vec!["te".into()],
            body: Vec::new(),
        }]
    );
    assert!(
        hostile_cases::parse_cases(
            "t",
            "inline",
            "=== no status\nsend: x\nclose: no\nmember: nothing\n"
        )
        .is_err()
    );
}
