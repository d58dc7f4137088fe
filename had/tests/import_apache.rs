//! Apache reverse-proxy import: the seed's vhost, a fuller example, errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use had::config::{LbMethod, parse_str};
use had::import::apache::import_file;
use had::import::{ImportError, Imported};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn import_ok(name: &str) -> Imported {
    let imported = import_file(data(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    // The result passes the same validation as `had --check`.
    parse_str(&imported.toml(), "imported.toml")
        .unwrap_or_else(|e| panic!("{name}: invalid: {e}\n{}", imported.toml()));
    imported
}

#[test]
fn seed_vhost_imports() {
    let imported = import_ok("seed_apache_vhost.conf");
    let proxy = &imported.config.proxy["mycluster"];
    assert_eq!(
        proxy.listen,
        ["0.0.0.0:80".parse::<std::net::SocketAddr>().expect("addr")]
    );
    assert_eq!(proxy.path, "/");
    assert!(proxy.preserve_host, "ProxyPreserveHost On");
    assert!(
        proxy.pass_reverse,
        "ProxyPassReverse / balancer://mycluster/"
    );
    assert_eq!(proxy.lbmethod, LbMethod::Byrequests);
    let urls: Vec<&str> = proxy.members.iter().map(|m| m.url.as_str()).collect();
    assert_eq!(urls, ["http://backend1.local", "http://backend2.local"]);
    // ${APACHE_LOG_DIR} is Debian's /var/log/apache2.
    assert_eq!(
        proxy.access_log.as_deref(),
        Some(Path::new("/var/log/apache2/proxy_access.log"))
    );
    // ServerName and ErrorLog are not carried over, and say so at their
    // lines; ErrorLog with the reason `had --check` gives for `error_log`.
    let notes: Vec<(usize, &str)> = imported
        .notes
        .iter()
        .map(|n| (n.at.line, n.directive.as_str()))
        .collect();
    assert_eq!(
        notes,
        [
            (2, "ServerName 192.168.1.200"),
            (15, "ErrorLog /var/log/apache2/proxy_error.log")
        ]
    );
    assert_eq!(
        imported.notes[1].message,
        "had keeps no per-proxy error log, proxy errors go to the daemon's log (stderr, journald); dropped"
    );
    assert!(
        !imported.toml().contains("error_log"),
        "{}",
        imported.toml()
    );
}

#[test]
fn full_example_imports_every_supported_directive() {
    let imported = import_ok("apache_full.conf");
    let app = &imported.config.proxy["app"];
    assert_eq!(
        app.listen,
        ["0.0.0.0:8080"
            .parse::<std::net::SocketAddr>()
            .expect("addr")]
    );
    assert_eq!(app.path, "/app/");
    assert!(app.preserve_host && app.pass_reverse);
    assert_eq!(app.lbmethod, LbMethod::Bybusyness);
    assert_eq!(app.timeout, Duration::from_secs(30));
    assert_eq!(app.maxattempts, Some(2));
    let m = &app.members;
    assert_eq!(
        (m[0].loadfactor, m[0].retry),
        (3, Some(Duration::from_secs(30)))
    );
    // A continuation line carries retry=5.
    assert_eq!(
        (m[1].loadfactor, m[1].timeout, m[1].retry),
        (
            1,
            Some(Duration::from_secs(10)),
            Some(Duration::from_secs(5))
        )
    );
    assert!(m[2].hot_standby(), "status=+H");
    let direct = &imported.config.proxy["proxy2"];
    assert_eq!(
        direct.listen,
        ["198.18.0.200:8443"
            .parse::<std::net::SocketAddr>()
            .expect("addr")]
    );
    assert_eq!(direct.members[0].url, "http://198.18.0.30:9000/");
    assert!(!direct.pass_reverse);
    // Line 24 is the ErrorLog: dropped, had keeps no per-proxy error log.
    let notes: Vec<usize> = imported.notes.iter().map(|n| n.at.line).collect();
    assert_eq!(notes, [6, 14, 18, 19, 24], "{:#?}", imported.notes);
}

#[test]
fn section_errors_name_their_lines() {
    let problems = match import_file(data("apache_bad/sections.conf")) {
        Err(ImportError::Invalid { problems, .. }) => problems
            .iter()
            .map(|p| format!("{}: {}", p.at.line, p.message))
            .collect::<Vec<_>>(),
        other => panic!("should fail: {other:?}"),
    };
    assert_eq!(
        problems,
        [
            "1: <virtualhost> is never closed",
            "3: loadfactor=many: needs a number 1-100",
            "4: lbmethod=heartbeat is not supported (allowed: byrequests, bybusyness)",
            "5: </virtualhost> closes <proxy> opened at line 2; expected </proxy>",
            "7: <location> is never closed",
        ]
    );
}

#[test]
fn missing_file_is_a_read_error() {
    assert!(matches!(
        import_file(data("nope.conf")),
        Err(ImportError::Read { .. })
    ));
}

#[test]
fn server_level_settings_are_defaults_for_virtual_hosts() {
    let imported = import_ok("apache_server_level.conf");
    let p = &imported.config.proxy["proxy1"];
    assert!(p.preserve_host);
    assert_eq!(
        p.timeout,
        Duration::from_secs(7),
        "the vhost's ProxyTimeout wins"
    );
    assert_eq!(p.limit_request_field_size, Some(16380));
    assert_eq!(p.limit_request_fields, Some(50));
    assert_eq!(p.header_read_timeout, Some(Duration::from_secs(20)));
    // Line 7 is the server-level ErrorLog: dropped, not inherited.
    let notes: Vec<usize> = imported.notes.iter().map(|n| n.at.line).collect();
    assert_eq!(notes, [6, 7], "{:#?}", imported.notes);
}
