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

fn notes_at(imported: &Imported) -> Vec<usize> {
    imported.notes.iter().map(|n| n.at.line).collect()
}

#[test]
fn seed_vhost_imports() {
    let imported = import_ok("seed_apache_vhost.conf");
    let proxy = &imported.config.proxy["mycluster"];
    assert_eq!(
        proxy.listen,
        ["0.0.0.0:80".parse::<std::net::SocketAddr>().expect("addr")]
    );
    // ServerName is the virtual host's name (a host matched on Host).
    assert_eq!(proxy.server_name.as_deref(), Some("192.168.1.200"));
    assert!(proxy.preserve_host, "ProxyPreserveHost On");
    assert!(proxy.members.is_empty(), "routes, not the shorthand");
    assert_eq!(proxy.routes.len(), 1);
    let r = &proxy.routes[0];
    assert_eq!(r.path.as_deref(), Some("/"));
    assert_eq!(r.balancer.as_deref(), Some("mycluster"));
    assert_eq!(r.to.as_deref(), Some("/"));
    assert!(r.pass_reverse, "ProxyPassReverse / balancer://mycluster/");
    let b = &imported.config.balancer["mycluster"];
    assert_eq!(b.lbmethod, LbMethod::Byrequests);
    assert_eq!(b.stickysession, None);
    let urls: Vec<&str> = b.members.iter().map(|m| m.url.as_str()).collect();
    assert_eq!(urls, ["http://backend1.local", "http://backend2.local"]);
    // ${APACHE_LOG_DIR} is Debian's /var/log/apache2.
    assert_eq!(
        proxy.access_log.as_deref(),
        Some(Path::new("/var/log/apache2/proxy_access.log"))
    );
    // ErrorLog is not carried over and says so at its line, with the
    // reason `had --check` gives for `error_log`.
    let notes: Vec<(usize, &str)> = imported
        .notes
        .iter()
        .map(|n| (n.at.line, n.directive.as_str()))
        .collect();
    assert_eq!(notes, [(15, "ErrorLog /var/log/apache2/proxy_error.log")]);
    assert_eq!(
        imported.notes[0].message,
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
    // Lower-case directives and On are Apache's too.
    assert_eq!(app.server_name.as_deref(), Some("www.example.invalid"));
    assert!(app.preserve_host);
    assert_eq!(app.timeout, Duration::from_secs(30));
    assert_eq!(app.routes.len(), 1);
    let r = &app.routes[0];
    assert_eq!(
        (r.path.as_deref(), r.balancer.as_deref(), r.to.as_deref()),
        (Some("/app/"), Some("app"), Some("/"))
    );
    assert!(r.pass_reverse);
    // CustomLog ... common: the log is kept (in combined format, noted).
    assert_eq!(
        app.access_log.as_deref(),
        Some(Path::new("/var/log/www/access.log"))
    );
    let b = &imported.config.balancer["app"];
    assert_eq!(b.lbmethod, LbMethod::Bybusyness);
    assert_eq!(b.maxattempts, Some(2));
    // stickysession= with no member route=: Apache never sticks, so it is
    // dropped with a note rather than refused by had's validation.
    assert_eq!(b.stickysession, None);
    let m = &b.members;
    assert_eq!(m.len(), 3);
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
    // The second vhost has no ServerName: named by its place in the file.
    let direct = &imported.config.proxy["vhost2"];
    assert_eq!(
        direct.listen,
        ["198.18.0.200:8443"
            .parse::<std::net::SocketAddr>()
            .expect("addr")]
    );
    assert_eq!(direct.server_name, None);
    let r = &direct.routes[0];
    assert_eq!(
        (r.path.as_deref(), r.url.as_deref(), r.pass_reverse),
        (Some("/"), Some("http://198.18.0.30:9000/"), false)
    );
    // 14 stickysession (no route=), 18 Header set, 19 CustomLog common
    // (kept, combined), 24 ErrorLog.
    assert_eq!(
        notes_at(&imported),
        [14, 18, 19, 24],
        "{:#?}",
        imported.notes
    );
    let sticky = &imported.notes[0];
    assert_eq!(sticky.directive, "stickysession=ROUTEID");
    assert!(
        sticky
            .message
            .contains("no BalancerMember of this balancer has route="),
        "{}",
        sticky.message
    );
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
            "1: <VirtualHost> is never closed",
            "3: loadfactor=many: needs a number 1-100",
            "4: lbmethod=heartbeat is not supported (allowed: byrequests, bybusyness, bytraffic)",
            "5: </VirtualHost> closes <Proxy> opened at line 2; expected </Proxy>",
            "6: balancer://nowhere is not defined: no <Proxy balancer://nowhere> or BalancerMember names it",
            "7: <Location> is never closed",
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
    let p = &imported.config.proxy["vhost1"];
    assert!(p.preserve_host);
    assert_eq!(
        p.timeout,
        Duration::from_secs(7),
        "the vhost's ProxyTimeout wins"
    );
    assert_eq!(p.limit_request_field_size, Some(16380));
    assert_eq!(p.limit_request_fields, Some(50));
    assert_eq!(p.header_read_timeout, Some(Duration::from_secs(20)));
    assert_eq!(p.routes[0].url.as_deref(), Some("http://198.18.0.21:8080/"));
    // Line 6: the header timeout's range and MinRate are not carried over;
    // line 7 is the server-level ErrorLog: dropped, not inherited.
    assert_eq!(notes_at(&imported), [6, 7], "{:#?}", imported.notes);
}

/// The README's worked example: the Apache site (two name-based vhosts,
/// exclusions, a Redirect behind `ProxyPass !`, a regex, three balancers
/// defined at server level and shared, a sticky `Header` in a `<Proxy>`)
/// imports to had/examples/routes.toml, host by host and balancer by
/// balancer. Connection settings are not compared: the import writes
/// Apache's values (retry 60), the example keeps had's defaults.
#[test]
fn the_readme_site_imports_to_the_routing_example() {
    let imported = import_file(data("apache_routes.conf")).unwrap_or_else(|e| panic!("{e}"));
    let notes: Vec<String> = imported.notes.iter().map(ToString::to_string).collect();
    assert!(notes.is_empty(), "{notes:#?}");
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/routes.toml"))
            .expect("routes.toml");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let example = parse_str(&example.replace("/srv/www/static", &d), "routes.toml")
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let text = imported.toml().replace("/srv/www/static", &d);
    let got = parse_str(&text, "imported.toml")
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .config;
    assert_eq!(got.proxy.len(), example.proxy.len());
    for ((gname, g), (ename, e)) in got.proxy.iter().zip(&example.proxy) {
        let at = format!("{gname} (example: {ename})");
        assert_eq!(g.listen, e.listen, "{at}");
        assert_eq!(g.server_name, e.server_name, "{at}");
        assert_eq!(g.server_alias, e.server_alias, "{at}");
        assert_eq!(g.preserve_host, e.preserve_host, "{at}");
        assert_eq!(g.routes, e.routes, "{at}");
    }
    assert_eq!(got.balancer, example.balancer);
}

/// What `ProxyPass PATH !` leaves to mod_alias and the core: a file under
/// `DocumentRoot` is `document_root` (the whole path looked up, so a
/// file such as robots.txt works), an `Alias` to one file is that file,
/// and a `RedirectMatch` whose every match is inside the exclusion is
/// placed before it (one that is not stays unreachable behind `/`).
#[test]
fn exclusions_keep_document_root_alias_files_and_redirect_matches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display();
    std::fs::write(dir.path().join("favicon.ico"), "icon").expect("write");
    let site = format!(
        "<VirtualHost 198.18.0.200:80>\n\
         ServerName www.example.com\n\
         DocumentRoot \"{d}\"\n\
         Alias /favicon.ico {d}/favicon.ico\n\
         ProxyPass /favicon.ico !\n\
         ProxyPass /robots.txt !\n\
         ProxyPass /promo !\n\
         RedirectMatch 301 ^/promo/(.*)$ https://promo.example.com/$1\n\
         RedirectMatch ^/promotion(.*)$ https://promo.example.com/$1\n\
         ProxyPass / http://198.18.0.21:8080/\n\
         </VirtualHost>\n"
    );
    let imported =
        had::import::apache::import_str(&site, "site.conf").unwrap_or_else(|e| panic!("{e}"));
    let config = parse_str(&imported.toml(), "imported.toml")
        .unwrap_or_else(|e| panic!("{e}\n{}", imported.toml()))
        .config;
    let routes = &config.proxy["www_example_com"].routes;
    let summary: Vec<String> = routes
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.path.clone().or(r.path_regex.clone()).unwrap_or_default(),
                match (&r.directory, &r.document_root, &r.redirect, &r.url) {
                    (Some(dir), _, _, _) => format!("alias {}", dir.display()),
                    (_, Some(root), _, _) => format!("root {}", root.display()),
                    (_, _, Some(to), _) => format!("redirect {} {to}", r.status.unwrap_or(302)),
                    (_, _, _, Some(url)) => format!("url {url}"),
                    _ => "404".into(),
                }
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            format!("/favicon.ico alias {d}/favicon.ico"),
            format!("/robots.txt root {d}"),
            "^/promo/(.*)$ redirect 301 https://promo.example.com/$1".into(),
            format!("/promo root {d}"),
            "/ url http://198.18.0.21:8080/".into(),
        ]
    );
    // `^/promotion(.*)$` also matches paths outside `/promo`: Apache never
    // reaches it, and the note says so.
    let notes: Vec<String> = imported.notes.iter().map(ToString::to_string).collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("site.conf:9:") && n.contains("never reached")),
        "{notes:#?}"
    );
}
