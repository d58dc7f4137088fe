//! The shared corpus of real-world Apache reverse-proxy vhosts
//! (`../shared/corpus/apache`, beside the checkout; never copied here):
//! what `hactl import apache` does with each, and the corpus's own `EXPECT`
//! lines (what Apache really does) checked against the imported TOML.
//!
//! Each file either imports, and then its TOML passes `had --check`'s
//! validation and carries the hosts, routes, balancers and certificates
//! asserted below, or is refused at a line with a reason a user can act
//! on: ajp:// and uwsgi:// members are not HTTP (a balancer whose every
//! member is refused so is not also called empty), an empty balancer has
//! its members added at run time by balancer-manager. An `SSLEngine on` vhost
//! imports with its certificate files as `tls`; they are not on this
//! machine, so validation reads the test certificates in their place.

use std::path::{Path, PathBuf};

use had::config::{ProxyTls, parse_str};
use had::import::ImportError;
use had::import::apache::import_file;

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if dir.join("apache").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{}: the shared corpus is missing under CI=true",
        dir.display()
    );
    eprintln!("skipped: no shared corpus at {}", dir.display());
    None
}

/// What one corpus file imports to.
enum Expect {
    /// Imports: (`[proxy]` name, `server_name`, route paths in order) per
    /// host, and the balancers' names.
    Imports(
        &'static [(&'static str, Option<&'static str>, &'static [&'static str])],
        &'static [&'static str],
    ),
    /// Refused: the first problem's line and a part of its message.
    Refused(usize, &'static str),
}

use Expect::{Imports, Refused};

const FILES: &[(&str, Expect)] = &[
    (
        "01-iem-ssl-location-hotstandby.conf",
        Imports(
            &[(
                "fcluster",
                Some("iem-web-services.agron.iastate.edu"),
                &["/"],
            )],
            &["fcluster"],
        ),
    ),
    (
        "02-reductus-uwsgi-ssl-redirect.conf",
        Refused(2, "uwsgi:// is not supported"),
    ),
    (
        "03-cadmium-ajp-sticky.conf",
        Refused(20, "ajp:// is not supported"),
    ),
    (
        "04-infrahttp-two-balancers-sticky.conf",
        Imports(
            &[("demo_res_ch", Some("demo.res.ch"), &["/api/animals/", "/"])],
            &["dynamic", "static"],
        ),
    ),
    (
        "05-heigvd-balancer-manager-exclusion.conf",
        Imports(
            &[(
                "demo_res_ch",
                Some("demo.res.ch"),
                &["/balancer-manager", "/api/animals/", "/"],
            )],
            &["dynamic_app", "static_app"],
        ),
    ),
    (
        "06-heckenmann-reverse-mismatch.conf",
        Imports(&[("google", None, &["/google"])], &["google"]),
    ),
    (
        "07-lona-websocket-rewrite-p.conf",
        Refused(33, "makes it conditional"),
    ),
    (
        "08-fedicom3-multi-balancer-location.conf",
        Refused(1, "nothing to import"),
    ),
    (
        "09-netnea-rewrite-proxy-flag.conf",
        Refused(1, "nothing to import"),
    ),
    (
        "10-docker-lb-sticky-route.conf",
        Imports(&[("mycluster", None, &["/"])], &["mycluster"]),
    ),
    (
        "11-ansible-ws-ajp-trailing-slash.conf",
        Refused(11, "ajp:// is not supported"),
    ),
    (
        "12-journeys-empty-balancers.conf",
        Refused(6, "has no BalancerMember"),
    ),
    (
        "13-tomcat-ajp-full-httpd.conf",
        Refused(58, "the path \"/manager \" contains ' '"),
    ),
    ("14-takima-full-httpd.conf", Refused(561, "cannot read")),
    (
        "15-flask-ssl-byrequests-preservehost.conf",
        Imports(
            &[("flaskcluster", Some("proxy.lab.net"), &["/"])],
            &["flaskcluster"],
        ),
    ),
    (
        "16-pazpar2-sticky-param.conf",
        Imports(
            &[("pz2cluster", Some("satay.index"), &["/pazpar2/search.pz2"])],
            &["pz2cluster"],
        ),
    ),
    (
        "17-ranger-failonstatus-sticky.conf",
        Imports(
            &[("rangercluster", None, &["/balancer-manager", "/"])],
            &["rangercluster"],
        ),
    ),
    (
        "18-steghub-bytraffic-loadfactor-timeout.conf",
        Imports(&[("mycluster", None, &["/"])], &["mycluster"]),
    ),
    (
        "19-nixos-proxy-test-retry0.conf",
        Imports(
            &[("cluster", Some("localhost"), &["/server-status", "/"])],
            &["cluster"],
        ),
    ),
    (
        "20-reductus-uwsgi-rpc2-path.conf",
        Refused(2, "uwsgi:// is not supported"),
    ),
];

/// The `tls` of each `[proxy]` of an imported file that has one: (file,
/// `[proxy]`, cert, key, chain), from `SSLCertificateFile`,
/// `SSLCertificateKeyFile` and `SSLCertificateChainFile`. Every other
/// imported `[proxy]` has none.
const TLS: &[(&str, &str, &str, &str, Option<&str>)] = &[
    (
        "01-iem-ssl-location-hotstandby.conf",
        "fcluster",
        "/etc/pki/tls/iem-web-services.cert",
        "/etc/pki/tls/iem-web-services.key",
        Some("/etc/pki/tls/iem-web-services.chain"),
    ),
    (
        "15-flask-ssl-byrequests-preservehost.conf",
        "flaskcluster",
        "/root/myCA/server.crt",
        "/root/myCA/server.key",
        Some("/root/myCA/myCA.pem"),
    ),
];

/// The imported TOML with each certificate file replaced by a test one
/// (validation reads certificates, and the corpus's are not here).
fn with_test_certificates(toml: &str, tls: &[&ProxyTls]) -> String {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
    let quoted = |p: &Path| format!("{:?}", p.display().to_string());
    let mut out = toml.to_owned();
    for t in tls {
        let (cert, key) = if t.cert == t.key {
            let both = data.join("api.example.com.pem");
            (both.clone(), both)
        } else {
            (
                data.join("www.example.com.pem"),
                data.join("www.example.com.key"),
            )
        };
        out = out
            .replace(&quoted(&t.cert), &quoted(&cert))
            .replace(&quoted(&t.key), &quoted(&key));
        if let Some(chain) = &t.chain {
            out = out.replace(&quoted(chain), &quoted(&data.join("ca.pem")));
        }
    }
    out
}

/// `EXPECT` lines for `apache/`: (file, must match, regex, why).
fn expectations(corpus: &Path) -> Vec<(String, bool, regex::Regex, String)> {
    let text = std::fs::read_to_string(corpus.join("EXPECT")).expect("EXPECT");
    text.lines()
        .filter(|l| l.starts_with("apache/"))
        .map(|l| {
            let parts: Vec<&str> = l.split(" ;; ").collect();
            let [file, op, re, why] = parts.as_slice() else {
                panic!("EXPECT line not in four parts: {l}");
            };
            let file = file.trim_start_matches("apache/").to_owned();
            let re = regex::RegexBuilder::new(re)
                .multi_line(true)
                .build()
                .unwrap_or_else(|e| panic!("{l}: {e}"));
            (file, *op == "=~", re, (*why).to_owned())
        })
        .collect()
}

#[test]
fn every_corpus_vhost_imports_or_is_refused_with_its_reason() {
    let Some(corpus) = corpus() else { return };
    let mut names: Vec<String> = std::fs::read_dir(corpus.join("apache"))
        .expect("corpus/apache")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".conf"))
        .collect();
    names.sort();
    let listed: Vec<&str> = FILES.iter().map(|(f, _)| *f).collect();
    assert_eq!(names, listed, "the table names every corpus file");
    let expect = expectations(&corpus);
    let mut imported = 0;
    let mut checked = 0;
    for (file, want) in FILES {
        let path = corpus.join("apache").join(file);
        let got = import_file(&path);
        match (want, got) {
            (Imports(hosts, balancers), Ok(imported_file)) => {
                imported += 1;
                let toml = imported_file.toml();
                let got_tls: Vec<(&str, &str, &str, Option<&str>)> = imported_file
                    .config
                    .proxy
                    .iter()
                    .filter_map(|(name, p)| {
                        let t = p.tls.as_ref()?;
                        Some((
                            name.as_str(),
                            t.cert.to_str()?,
                            t.key.to_str()?,
                            t.chain.as_deref().and_then(Path::to_str),
                        ))
                    })
                    .collect();
                let want_tls: Vec<(&str, &str, &str, Option<&str>)> = TLS
                    .iter()
                    .filter(|t| t.0 == *file)
                    .map(|t| (t.1, t.2, t.3, t.4))
                    .collect();
                assert_eq!(got_tls, want_tls, "{file}\n{toml}");
                let certificates: Vec<&ProxyTls> = imported_file
                    .config
                    .proxy
                    .values()
                    .filter_map(|p| p.tls.as_ref())
                    .collect();
                let checked_toml = with_test_certificates(&toml, &certificates);
                let loaded = parse_str(&checked_toml, "imported.toml").unwrap_or_else(|e| {
                    panic!("{file}: imported TOML is invalid: {e}\n{checked_toml}")
                });
                let config = loaded.config;
                let got_hosts: Vec<(String, Option<String>, Vec<String>)> = config
                    .proxy
                    .iter()
                    .map(|(name, p)| {
                        let paths = p
                            .routes
                            .iter()
                            .map(|r| r.path.clone().or(r.path_regex.clone()).unwrap_or_default())
                            .collect();
                        (name.clone(), p.server_name.clone(), paths)
                    })
                    .collect();
                let want_hosts: Vec<(String, Option<String>, Vec<String>)> = hosts
                    .iter()
                    .map(|(n, s, paths)| {
                        (
                            (*n).to_owned(),
                            s.map(str::to_owned),
                            paths.iter().map(|p| (*p).to_owned()).collect(),
                        )
                    })
                    .collect();
                assert_eq!(got_hosts, want_hosts, "{file}\n{toml}");
                let got_balancers: Vec<&str> = config.balancer.keys().map(String::as_str).collect();
                assert_eq!(got_balancers, *balancers, "{file}");
                for (f, must, re, why) in expect.iter().filter(|(f, ..)| f == file) {
                    checked += 1;
                    assert_eq!(re.is_match(&toml), *must, "{f}: {why}: /{re}/\n{toml}");
                }
            }
            (Refused(line, part), Err(ImportError::Invalid { problems, .. })) => {
                let first = problems.first().expect("at least one problem");
                assert_eq!(
                    (first.at.line, first.message.contains(part)),
                    (*line, true),
                    "{file}: {first}"
                );
                assert!(first.at.file.ends_with(file), "{file}: {first}");
            }
            (Refused(line, part), Err(e @ ImportError::Read { .. })) => {
                // An Include that names no file: fatal in Apache too.
                let text = e.to_string();
                assert!(text.contains(part), "{file}: {text}");
                let _ = line;
            }
            (Imports(..), Err(e)) => panic!("{file} should import: {e}"),
            (Refused(..), Ok(i)) => panic!("{file} should be refused:\n{}", i.toml()),
        }
    }
    assert_eq!(imported, 10, "files that import");
    // Every EXPECT line whose file imports was checked.
    let importing: Vec<&str> = FILES
        .iter()
        .filter(|(_, w)| matches!(w, Imports(..)))
        .map(|(f, _)| *f)
        .collect();
    let due = expect
        .iter()
        .filter(|(f, ..)| importing.contains(&f.as_str()))
        .count();
    assert_eq!(checked, due);
}
