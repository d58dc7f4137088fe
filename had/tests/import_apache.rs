//! Apache reverse-proxy import: the seed's vhost, a fuller example, errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use had::config::{LbMethod, parse_str};
use had::import::apache::{InMemory, Options, import_file, import_text};
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
    // `Timeout` is also how long Apache waits to send to a client.
    assert_eq!(p.send_timeout, Some(Duration::from_secs(90)));
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

// ------------------------------------------------------------------- TLS

/// The TLS site of tests/data/apache_tls*.conf where Debian and certbot
/// keep it: the main file, sites-enabled/ (port 80, Debian's
/// default-ssl.conf, a certbot vhost) and certbot's options file.
fn tls_files() -> InMemory {
    let read =
        |name: &str| std::fs::read_to_string(data(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    InMemory::new()
        .with(
            "/etc/apache2/sites-enabled/000-default.conf",
            read("apache_tls_000-default.conf"),
        )
        .with(
            "/etc/apache2/sites-enabled/api.example.com-le-ssl.conf",
            read("apache_tls_api-le-ssl.conf"),
        )
        .with(
            "/etc/apache2/sites-enabled/default-ssl.conf",
            read("apache_tls_default-ssl.conf"),
        )
        .with(
            "/etc/letsencrypt/options-ssl-apache.conf",
            read("apache_tls_options-ssl-apache.conf"),
        )
}

/// Imports `main` as /etc/apache2/apache2.conf beside `files`.
fn import_tls(main: &str, files: &InMemory) -> Result<Imported, ImportError> {
    import_text(
        main,
        "/etc/apache2/apache2.conf",
        &Options::default(),
        files,
    )
}

/// The test PEM files (tests/data/tls).
fn pem(name: &str) -> String {
    data("tls").join(name).display().to_string()
}

/// The imported TOML, validated as `had --check` validates it: validation
/// reads the certificates, so the files named where Apache keeps them are
/// replaced by the test ones first.
fn validated(imported: &Imported) -> had::config::Config {
    let map = [
        (
            "/etc/apache2/ssl/www.example.com.pem",
            "www.example.com.pem",
        ),
        (
            "/etc/apache2/ssl/www.example.com.key",
            "www.example.com.key",
        ),
        ("/etc/apache2/ssl/ca.pem", "ca.pem"),
        ("/etc/apache2/ssl/members-ca.pem", "ca.pem"),
        (
            "/etc/letsencrypt/live/api.example.com/fullchain.pem",
            "api.example.com.pem",
        ),
        (
            "/etc/letsencrypt/live/api.example.com/privkey.pem",
            "api.example.com.pem",
        ),
    ];
    let mut text = imported.toml();
    for (from, to) in map {
        text = text.replace(&format!("{from:?}"), &format!("{:?}", pem(to)));
    }
    parse_str(&text, "imported.toml")
        .unwrap_or_else(|e| panic!("invalid: {e}\n{text}"))
        .config
}

/// `file:line: directive` of each note, the file by its name.
fn note_lines(imported: &[had::import::Note]) -> Vec<String> {
    imported
        .iter()
        .map(|n| {
            let file =
                n.at.file
                    .file_name()
                    .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
            format!("{file}:{}: {}", n.at.line, n.directive)
        })
        .collect()
}

/// The message of the note at `file:line`.
fn note_at<'a>(notes: &'a [had::import::Note], file: &str, line: usize) -> &'a str {
    notes
        .iter()
        .find(|n| n.at.file.ends_with(file) && n.at.line == line)
        .map_or_else(
            || panic!("no note at {file}:{line}: {notes:#?}"),
            |n| n.message.as_str(),
        )
}

/// The notes of an import, whether it succeeded or not.
fn notes_of(result: Result<Imported, ImportError>) -> Vec<had::import::Note> {
    match result {
        Ok(i) => i.notes,
        Err(ImportError::Invalid { notes, .. }) => notes,
        Err(e) => panic!("{e}"),
    }
}

/// `line: message` of each problem.
fn problems(result: Result<Imported, ImportError>) -> (Vec<String>, Vec<had::import::Note>) {
    match result {
        Err(ImportError::Invalid { problems, notes }) => (
            problems
                .iter()
                .map(|p| format!("{}: {}", p.at.line, p.message))
                .collect(),
            notes,
        ),
        Ok(i) => panic!("should be refused:\n{}", i.toml()),
        Err(e) => panic!("{e}"),
    }
}

/// Imports one file of Apache configuration (no includes).
fn import_site(site: &str) -> Result<Imported, ImportError> {
    import_text(
        site,
        "/etc/apache2/site.conf",
        &Options::default(),
        &InMemory::new(),
    )
}

/// Imports `site`, which must import and validate (its certificate files
/// are the test ones).
fn import_site_ok(site: &str) -> (Imported, had::config::Config) {
    let imported = import_site(site).unwrap_or_else(|e| panic!("{e}\n{site}"));
    let config = parse_str(&imported.toml(), "imported.toml")
        .unwrap_or_else(|e| panic!("invalid: {e}\n{}", imported.toml()))
        .config;
    (imported, config)
}

/// A TLS virtual host on *:443 with the test certificate for
/// www.example.com (lines 1-6) and `extra` from line 7, proxying to an
/// http:// member.
fn tls_vhost(extra: &str) -> String {
    format!(
        "Listen 443\n\
         <VirtualHost *:443>\n\
         ServerName www.example.com\n\
         SSLEngine on\n\
         SSLCertificateFile {}\n\
         SSLCertificateKeyFile {}\n\
         {extra}\
         ProxyPass / http://198.18.0.21:8080/\n\
         </VirtualHost>\n",
        pem("www.example.com.pem"),
        pem("www.example.com.key"),
    )
}

/// Debian's default-ssl.conf with `<IfModule mod_ssl.c>`, a certbot vhost
/// whose `SSLEngine` and `SSLProtocol` come from certbot's included
/// options file, certificate paths relative to ServerRoot and quoted, two
/// TLS virtual hosts with their names on one *:443 address, and the
/// http:// virtual hosts on port 80 that send each name to https://.
#[test]
fn tls_site_imports_each_virtual_host_with_its_certificate() {
    let main = std::fs::read_to_string(data("apache_tls.conf")).expect("apache_tls.conf");
    let imported = import_tls(&main, &tls_files()).unwrap_or_else(|e| panic!("{e}"));
    let config = validated(&imported);
    let p = &imported.config.proxy;
    let https: std::net::SocketAddr = "0.0.0.0:443".parse().expect("addr");
    let http: std::net::SocketAddr = "0.0.0.0:80".parse().expect("addr");

    // Debian's default-ssl.conf: the files under ServerRoot, as written
    // with double quotes, single quotes and none.
    let www = &p["app"];
    assert_eq!(www.listen, [https]);
    assert_eq!(www.server_name.as_deref(), Some("www.example.com"));
    let tls = www.tls.as_ref().expect("www.example.com serves TLS");
    assert_eq!(tls.cert, Path::new("/etc/apache2/ssl/www.example.com.pem"));
    assert_eq!(tls.key, Path::new("/etc/apache2/ssl/www.example.com.key"));
    assert_eq!(
        tls.chain.as_deref(),
        Some(Path::new("/etc/apache2/ssl/ca.pem"))
    );
    assert!(!tls.strict_sni);
    assert_eq!(tls.handshake_timeout, None);
    // SSLProxyCACertificateFile and SSLProxyVerify require.
    assert_eq!(
        www.member_ca_file.as_deref(),
        Some(Path::new("/etc/apache2/ssl/members-ca.pem"))
    );
    assert!(www.member_verify);
    let members: Vec<&str> = imported.config.balancer["app"]
        .members
        .iter()
        .map(|m| m.url.as_str())
        .collect();
    assert_eq!(
        members,
        ["https://198.18.0.21:8443", "https://198.18.0.22:8443"]
    );

    // certbot's vhost: SSLEngine on from the included options file; first
    // on *:443 (sites-enabled/ in order), so its certificate is the one a
    // client without SNI gets, in Apache as in had.
    let api = &p["api_example_com_2"];
    assert_eq!(api.listen, [https]);
    assert_eq!(api.server_name.as_deref(), Some("api.example.com"));
    let tls = api.tls.as_ref().expect("api.example.com serves TLS");
    assert_eq!(
        tls.cert,
        Path::new("/etc/letsencrypt/live/api.example.com/fullchain.pem")
    );
    assert_eq!(
        tls.key,
        Path::new("/etc/letsencrypt/live/api.example.com/privkey.pem")
    );
    assert_eq!(tls.chain, None);
    // The member settings are the address's: api sends to http:// only and
    // takes www's.
    assert_eq!(api.member_ca_file, www.member_ca_file);
    assert!(api.member_verify);
    let on_443: Vec<&str> = config
        .proxy
        .iter()
        .filter(|(_, v)| v.listen == [https])
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(on_443.len(), 2, "{on_443:?}");

    // Port 80: no TLS; each name redirected to https:// with the path and
    // query (Redirect; certbot's RewriteRule; the guides' RewriteRule).
    for (name, to) in [
        ("www_example_com", "https://www.example.com/"),
        ("api_example_com", "https://api.example.com/"),
        ("shop_example_com", "https://shop.example.com/"),
    ] {
        let v = &p[name];
        assert_eq!(v.listen, [http], "{name}");
        assert_eq!(v.tls, None, "{name}");
        assert_eq!(v.routes.len(), 1, "{name}");
        let r = &v.routes[0];
        assert_eq!(
            (r.path.as_deref(), r.redirect.as_deref(), r.status),
            (Some("/"), Some(to), Some(301)),
            "{name}"
        );
    }

    // Silently used: every SSLEngine, SSLCertificate*, both SSLProtocol
    // (-all +TLSv1.2 +TLSv1.3; certbot's all -SSLv2 -SSLv3 -TLSv1
    // -TLSv1.1), Protocols h2 http/1.1, SSLProxyEngine, SSLProxyVerify,
    // SSLProxyCACertificateFile, the RewriteRules and their conditions.
    assert_eq!(
        note_lines(&imported.notes),
        [
            "apache2.conf:10: SSLRandomSeed startup builtin",
            "apache2.conf:11: SSLRandomSeed connect builtin",
            "apache2.conf:12: SSLPassPhraseDialog exec:/usr/share/apache2/ask-for-passphrase",
            "apache2.conf:13: SSLSessionCache shmcb:/var/run/apache2/ssl_scache(512000)",
            "apache2.conf:14: SSLSessionCacheTimeout 300",
            "apache2.conf:15: SSLCipherSuite HIGH:!aNULL",
            "000-default.conf:5: ServerAdmin webmaster@localhost",
            "000-default.conf:7: ErrorLog /var/log/apache2/error.log",
            "000-default.conf:12: CustomLog",
            "000-default.conf:20: CustomLog",
            "options-ssl-apache.conf:8: SSLCipherSuite ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
            "options-ssl-apache.conf:9: SSLHonorCipherOrder off",
            "options-ssl-apache.conf:10: SSLSessionTickets off",
            "options-ssl-apache.conf:12: SSLOptions +StrictRequire",
            "options-ssl-apache.conf:15: LogFormat \"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"\" vhost_combined",
            "options-ssl-apache.conf:16: LogFormat \"%v %h %l %u %t \"%r\" %>s %b\" vhost_common",
            "default-ssl.conf:3: ServerAdmin webmaster@localhost",
            "default-ssl.conf:6: DocumentRoot /var/www/html",
            "default-ssl.conf:8: ErrorLog /var/log/apache2/error.log",
            "default-ssl.conf:9: CustomLog",
            "default-ssl.conf:34: <FilesMatch \\.(?:cgi|shtml|phtml|php)$>",
            "default-ssl.conf:37: <Directory /usr/lib/cgi-bin>",
            "default-ssl.conf:41: Header always set Strict-Transport-Security max-age=63072000",
        ],
        "{:#?}",
        imported.notes
    );
    let n = &imported.notes;
    assert_eq!(
        note_at(n, "apache2.conf", 15),
        "had uses rustls's default cipher suites, which are all AEAD (AES-GCM, ChaCha20-Poly1305) with forward secrecy (ECDHE); they are not configurable: not carried over"
    );
    assert_eq!(
        note_at(n, "apache2.conf", 12),
        "had reads key files as they are and asks for no pass phrase: an encrypted key must be decrypted first (openssl pkey -in KEY -out PLAIN.key): not carried over"
    );
    assert_eq!(
        note_at(n, "options-ssl-apache.conf", 9),
        "the client picks among had's cipher suites (rustls's defaults, all AEAD with forward secrecy, none weak); the order is not configurable: not carried over"
    );
    // certbot's SSLSessionTickets off: had issues none without ticket_keys.
    assert_eq!(
        note_at(n, "options-ssl-apache.conf", 10),
        "had issues session tickets only with tls.ticket_keys (a key file the nodes of a pair share); without it, sessions resume from its in-memory cache: not carried over"
    );
    assert!(
        note_at(n, "options-ssl-apache.conf", 12).starts_with(
            "exports TLS details (SSL_* variables, certificates) to Apache's modules and CGI scripts: had has none"
        )
    );
}

/// `SSLProtocol` as mod_ssl evaluates it: from nothing, `+` adds, `-`
/// removes, a protocol without either replaces; `all` is SSLv3 and TLSv1
/// to TLSv1.3. Anything older than TLS 1.2 enabled is refused at the line
/// (the user decides whether those clients may go); one of TLS 1.2 and
/// 1.3 alone is noted (had serves both).
#[test]
fn ssl_protocol_is_evaluated_as_mod_ssl_does() {
    let refused = |line: &str| problems(import_site(&tls_vhost(&format!("{line}\n")))).0;
    let fix = "had serves only TLS 1.2 and 1.3, so a client that speaks nothing newer could no longer connect (every current browser and TLS library speaks TLS 1.2). Decide whether that is acceptable; if it is, write `SSLProtocol -all +TLSv1.2 +TLSv1.3` and import again";
    let all = "(Apache 2.4's `all` is SSLv3, where OpenSSL still has it, and TLSv1 to TLSv1.3)";
    // Debian's ssl.conf: still TLSv1 and TLSv1.1 on Apache 2.4.
    assert_eq!(
        refused("SSLProtocol all -SSLv3"),
        [format!(
            "7: SSLProtocol all -SSLv3 enables TLSv1 and TLSv1.1 {all}: {fix}"
        )]
    );
    assert_eq!(
        refused("SSLProtocol all"),
        [format!(
            "7: SSLProtocol all enables SSLv3, TLSv1 and TLSv1.1 {all}: {fix}"
        )]
    );
    assert_eq!(
        refused("SSLProtocol +TLSv1.1 +TLSv1.2 +TLSv1.3"),
        [format!(
            "7: SSLProtocol +TLSv1.1 +TLSv1.2 +TLSv1.3 enables TLSv1.1: {fix}"
        )]
    );
    assert_eq!(
        refused("SSLProtocol -all"),
        [
            "7: SSLProtocol -all enables no protocol (Apache refuses to start): write `SSLProtocol -all +TLSv1.2 +TLSv1.3`"
        ]
    );
    assert_eq!(
        refused("SSLProtocol +SSLv2 +TLSv1.2"),
        ["7: SSLProtocol: SSLv2 is no longer supported (Apache refuses to start)"]
    );

    // Exactly TLS 1.2 and 1.3: used, nothing said.
    for line in [
        "SSLProtocol -all +TLSv1.2 +TLSv1.3",
        "SSLProtocol all -SSLv3 -TLSv1 -TLSv1.1",
        "SSLProtocol all -SSLv2 -SSLv3 -TLSv1 -TLSv1.1",
        "sslprotocol -ALL +tlsv1.2 +TLSv1.3",
    ] {
        let (imported, _) = import_site_ok(&tls_vhost(&format!("{line}\n")));
        assert_eq!(note_lines(&imported.notes), Vec::<String>::new(), "{line}");
    }
    // One of them: had serves both, noted.
    for (line, why) in [
        (
            "SSLProtocol -all +TLSv1.2",
            "enables TLSv1.2 only; had serves both TLS 1.2 and 1.3 (not configurable): not carried over",
        ),
        (
            "SSLProtocol TLSv1.2",
            "enables TLSv1.2 only; had serves both TLS 1.2 and 1.3 (not configurable): not carried over",
        ),
        (
            // Without + or -, TLSv1.3 replaces TLSv1.2 (mod_ssl warns so).
            "SSLProtocol TLSv1.2 TLSv1.3",
            "enables TLSv1.3 only (a protocol written without + or - replaces the ones before it); had serves both TLS 1.2 and 1.3 (not configurable): not carried over",
        ),
    ] {
        let (imported, config) = import_site_ok(&tls_vhost(&format!("{line}\n")));
        assert_eq!(
            note_lines(&imported.notes),
            [format!("site.conf:7: {line}")]
        );
        assert_eq!(imported.notes[0].message, why);
        assert!(config.proxy["www_example_com"].tls.is_some());
    }
    // None at all: Apache's default is all -SSLv3; said at SSLEngine.
    let (imported, _) = import_site_ok(&tls_vhost(""));
    assert_eq!(note_lines(&imported.notes), ["site.conf:4: SSLEngine on"]);
    assert!(
        imported.notes[0].message.starts_with(
            "no SSLProtocol: Apache's default (all -SSLv3) also accepts TLSv1 and TLSv1.1"
        ),
        "{}",
        imported.notes[0].message
    );

    // Debian's mods-enabled/ssl.conf at server level, inherited by two
    // virtual hosts: refused once, at its line.
    let site = format!(
        "SSLProtocol all -SSLv3\n{}<VirtualHost *:443>\nServerName api.example.com\nSSLEngine on\nSSLCertificateFile {}\nProxyPass / http://198.18.0.22:8080/\n</VirtualHost>\n",
        tls_vhost(""),
        pem("api.example.com.pem")
    );
    assert_eq!(
        problems(import_site(&site)).0,
        [format!(
            "1: SSLProtocol all -SSLv3 enables TLSv1 and TLSv1.1 {all}: {fix}"
        )]
    );
}

/// Client certificates import as Apache checks them: `SSLVerifyClient
/// require|optional` with `SSLCACertificateFile` and `SSLVerifyDepth`
/// (default 1) are `tls.client_ca`, `verify_client` and `verify_depth`.
/// Wherever had would let in a client Apache refuses, the import is
/// refused at the line: `optional_no_ca`, a CA directory, revocation
/// checks, depth 0, no CA at all, a per-path requirement, and virtual
/// hosts of one address that ask differently.
#[test]
fn client_certificates_import_as_apache_checks_them() {
    let (imported, config) = import_site_ok(&tls_vhost(
        "SSLProtocol -all +TLSv1.2 +TLSv1.3\nSSLCACertificateFile /etc/ssl/clients-ca.pem\nSSLVerifyClient require\nSSLVerifyDepth 2\nSSLCARevocationCheck none\n",
    ));
    let tls = config.proxy["www_example_com"].tls.clone().expect("tls");
    assert_eq!(
        tls.client_ca.as_deref(),
        Some(Path::new("/etc/ssl/clients-ca.pem"))
    );
    assert_eq!(tls.verify_client, Some(had::config::VerifyClient::Required));
    assert_eq!(tls.verify_depth, Some(2));
    let notes: Vec<String> = imported.notes.iter().map(ToString::to_string).collect();
    assert!(notes.is_empty(), "nothing dropped: {notes:#?}");

    // optional, with Apache's default depth; the CA inherited from the
    // server level.
    let (_, config) = import_site_ok(&format!(
        "SSLCACertificateFile /etc/ssl/clients-ca.pem\n{}",
        tls_vhost("SSLProtocol -all +TLSv1.2 +TLSv1.3\nSSLVerifyClient optional\n")
    ));
    let tls = config.proxy["www_example_com"].tls.clone().expect("tls");
    assert_eq!(
        tls.client_ca.as_deref(),
        Some(Path::new("/etc/ssl/clients-ca.pem"))
    );
    assert_eq!(tls.verify_client, Some(had::config::VerifyClient::Optional));
    assert_eq!(tls.verify_depth, None, "had's default is Apache's 1");

    let refused = |extra: &str| problems(import_site(&tls_vhost(extra))).0;
    assert_eq!(
        refused("SSLVerifyClient require\n"),
        [
            "7: SSLVerifyClient require: needs SSLCACertificateFile, the CAs client certificates must chain to"
        ]
    );
    assert_eq!(
        refused("SSLCACertificatePath /etc/ssl/clients/\nSSLVerifyClient require\n"),
        [
            "8: SSLVerifyClient require: had reads client CAs from one file (tls.client_ca), not a directory (SSLCACertificatePath /etc/ssl/clients/): concatenate its certificates into one file and name it in SSLCACertificateFile"
        ]
    );
    let no_ca = refused("SSLCACertificateFile /etc/ssl/ca.pem\nSSLVerifyClient optional_no_ca\n");
    assert_eq!(no_ca.len(), 1);
    assert!(
        no_ca[0].starts_with("8: SSLVerifyClient optional_no_ca: Apache lets in a client whose certificate it cannot verify"),
        "{no_ca:?}"
    );
    for revocation in [
        "SSLCARevocationFile /etc/ssl/crl.pem",
        "SSLCARevocationPath /etc/ssl/crl/",
        "SSLCARevocationCheck chain",
        "SSLOCSPEnable on",
    ] {
        let r = refused(&format!(
            "SSLCACertificateFile /etc/ssl/ca.pem\nSSLVerifyClient require\n{revocation}\n"
        ));
        assert_eq!(r.len(), 1, "{revocation}: {r:?}");
        assert!(
            r[0].starts_with(&format!("9: {revocation}: had does not check client certificates against revocation lists or OCSP")),
            "{r:?}"
        );
    }
    assert!(
        refused(
            "SSLCACertificateFile /etc/ssl/ca.pem\nSSLVerifyClient require\nSSLVerifyDepth 0\n"
        )[0]
        .starts_with("9: SSLVerifyDepth 0: only self-signed client certificates")
    );
    assert_eq!(
        refused(
            "SSLCACertificateFile /etc/ssl/ca.pem\nSSLVerifyClient require\nSSLVerifyDepth deep\n"
        ),
        ["9: SSLVerifyDepth deep: needs a number from 1 to 255"]
    );
    assert_eq!(
        refused("SSLVerifyClient sometimes\n"),
        ["7: SSLVerifyClient takes none, optional, require or optional_no_ca"]
    );
    // Per path: refused where a route serves it.
    assert_eq!(
        refused("<Location /admin>\n    SSLVerifyClient require\n</Location>\n"),
        [
            "8: SSLVerifyClient require: had asks for client certificates per address (tls.client_ca), not per path, and `ProxyPass / http://198.18.0.21:8080/` (/etc/apache2/site.conf:10) would serve this path to every client: remove the rule from the file to import it, or keep the path off had"
        ]
    );

    // Two virtual hosts of one address: had asks every client of the
    // address alike, so they must ask alike.
    let second = |extra: &str| {
        format!(
            "<VirtualHost *:443>\nServerName api.example.com\nSSLEngine on\nSSLCertificateFile {}\n{extra}ProxyPass / http://198.18.0.22:8080/\n</VirtualHost>\n",
            pem("api.example.com.pem")
        )
    };
    let first = tls_vhost(
        "SSLProtocol -all +TLSv1.2 +TLSv1.3\nSSLCACertificateFile /etc/ssl/ca.pem\nSSLVerifyClient require\n",
    );
    let (refused, _) = problems(import_site(&format!(
        "{first}{}",
        second("SSLProtocol -all +TLSv1.2 +TLSv1.3\n")
    )));
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].contains("had applies one tls.client_ca/verify_client/verify_depth to every virtual host on an address"),
        "{refused:?}"
    );
    let (_, config) = import_site_ok(&format!(
        "{first}{}",
        second(
            "SSLProtocol -all +TLSv1.2 +TLSv1.3\nSSLCACertificateFile /etc/ssl/ca.pem\nSSLVerifyClient require\nSSLVerifyDepth 1\n"
        )
    ));
    for (name, p) in &config.proxy {
        let tls = p.tls.as_ref().expect("tls");
        assert_eq!(
            tls.client_ca.as_deref(),
            Some(Path::new("/etc/ssl/ca.pem")),
            "{name}"
        );
    }

    // none is the default; a CA file without SSLVerifyClient is dropped.
    let (imported, config) = import_site_ok(&tls_vhost(
        "SSLProtocol -all +TLSv1.2 +TLSv1.3\nSSLVerifyClient none\nSSLCACertificateFile /etc/ssl/ca.pem\n",
    ));
    assert_eq!(
        note_lines(&imported.notes),
        [
            "site.conf:8: SSLVerifyClient none",
            "site.conf:9: SSLCACertificateFile /etc/ssl/ca.pem"
        ]
    );
    assert_eq!(
        imported.notes[0].message,
        "the default: had asks no client for a certificate: not needed"
    );
    assert!(
        imported.notes[1]
            .message
            .starts_with("used only with client certificates")
    );
    let tls = config.proxy["www_example_com"].tls.clone().expect("tls");
    assert_eq!(tls.client_ca, None);
}

/// `SSLEngine on` needs a certificate (the key is the certificate's file
/// when no SSLCertificateKeyFile is given); the main server's settings are
/// a virtual host's defaults, its certificate list added after the host's.
#[test]
fn ssl_engine_takes_one_certificate_and_its_key() {
    let (refused, _) = problems(import_site(
        "Listen 443\n<VirtualHost *:443>\nServerName www.example.com\nSSLEngine on\nProxyPass / http://198.18.0.21:8080/\n</VirtualHost>\n",
    ));
    assert_eq!(
        refused,
        [
            "4: SSLEngine on, but no SSLCertificateFile is given for the <VirtualHost> at /etc/apache2/site.conf:2 (Apache refuses to start without one): give the virtual host its certificate with SSLCertificateFile, and SSLCertificateKeyFile unless the key is in the same file"
        ]
    );
    // The key inside the certificate's file.
    let api = pem("api.example.com.pem");
    let (_, config) = import_site_ok(&format!(
        "Listen 443\n<VirtualHost *:443>\nServerName api.example.com\nSSLEngine On\nSSLProtocol -all +TLSv1.2 +TLSv1.3\nSSLCertificateFile \"{api}\"\nProxyPass / http://198.18.0.21:8080/\n</VirtualHost>\n"
    ));
    let tls = config.proxy["api_example_com"].tls.as_ref().expect("tls");
    assert_eq!(
        (tls.cert.clone(), tls.key.clone()),
        (api.clone().into(), api.clone().into())
    );
    // SSLEngine on and the certificate at server level, inherited.
    let (_, config) = import_site_ok(&format!(
        "SSLEngine on\nSSLCertificateFile {api}\nSSLProtocol -all +TLSv1.2 +TLSv1.3\nListen 443\n<VirtualHost *:443>\nServerName api.example.com\nProxyPass / http://198.18.0.21:8080/\n</VirtualHost>\n"
    ));
    let tls = config.proxy["api_example_com"].tls.as_ref().expect("tls");
    assert_eq!(tls.cert, Path::new(&api));
    // A host's own certificate and the main server's: Apache loads both
    // (and pairs the host's certificate with the main server's key).
    let (refused, _) = problems(import_site(&format!(
        "SSLCertificateFile {api}\n{}",
        tls_vhost("")
    )));
    assert_eq!(
        refused,
        [format!(
            "1: SSLCertificateFile {api}: a second certificate for the <VirtualHost> at /etc/apache2/site.conf:3 (the first is at /etc/apache2/site.conf:6): had serves one certificate per virtual host (Apache can hold an RSA and an ECDSA one); keep one SSLCertificateFile and its SSLCertificateKeyFile"
        )]
    );
    // A relative file with no ServerRoot in the files: kept, noted.
    let imported = import_site(
        "Listen 443\n<VirtualHost *:443>\nSSLEngine on\nSSLCertificateFile ssl/www.pem\nProxyPass / http://198.18.0.21:8080/\n</VirtualHost>\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let tls = imported.config.proxy["vhost1"].tls.as_ref().expect("tls");
    assert_eq!(
        (tls.cert.as_path(), tls.key.as_path()),
        (Path::new("ssl/www.pem"), Path::new("ssl/www.pem"))
    );
    let notes = imported.notes;
    assert_eq!(
        note_at(&notes, "site.conf", 4),
        "a relative file is under Apache's ServerRoot, which these files do not set: kept as written (relative to had's working directory)"
    );
}

/// Without `SSLEngine on` a virtual host is plain HTTP in Apache, even on
/// port 443: so it is in had, its SSL lines noted.
#[test]
fn ssl_lines_without_ssl_engine_on_are_noted_and_the_host_stays_plain() {
    for engine in ["", "SSLEngine off\n"] {
        let site = format!(
            "Listen 443\n<VirtualHost *:443>\nServerName www.example.com\n{engine}SSLCertificateFile /etc/ssl/www.pem\nSSLCertificateKeyFile /etc/ssl/www.key\nSSLProtocol all\nSSLCipherSuite HIGH\nProxyPass / http://198.18.0.21:8080/\n</VirtualHost>\n"
        );
        let (imported, config) = import_site_ok(&site);
        let www = &config.proxy["www_example_com"];
        assert_eq!(www.tls, None);
        assert_eq!(
            www.listen,
            ["0.0.0.0:443".parse::<std::net::SocketAddr>().expect("addr")]
        );
        let at = if engine.is_empty() { 4 } else { 5 };
        assert_eq!(
            note_lines(&imported.notes),
            [
                format!("site.conf:{at}: SSLCertificateFile /etc/ssl/www.pem"),
                format!(
                    "site.conf:{}: SSLCertificateKeyFile /etc/ssl/www.key",
                    at + 1
                ),
                format!("site.conf:{}: SSLProtocol all", at + 2),
                format!("site.conf:{}: SSLCipherSuite HIGH", at + 3),
            ],
            "{engine}"
        );
        assert_eq!(
            imported.notes[0].message,
            "without SSLEngine on, Apache serves the <VirtualHost> at /etc/apache2/site.conf:2 without TLS, and so will had: not carried over"
        );
    }
}

/// `SSLProxy*`: `SSLProxyCACertificateFile` is `member_ca_file`,
/// `SSLProxyVerify none` is `member_verify = false`; had cannot skip the
/// name or date check alone.
#[test]
fn member_tls_directives_map_to_member_ca_file_and_member_verify() {
    let ca = pem("ca.pem");
    let site = |extra: &str| {
        format!(
            "Listen 80\n<VirtualHost *:80>\nServerName www.example.com\nSSLProxyEngine on\n{extra}ProxyPass / https://198.18.0.21:8443/\n</VirtualHost>\n"
        )
    };
    let (imported, config) = import_site_ok(&site(&format!(
        "SSLProxyVerify require\nSSLProxyCACertificateFile \"{ca}\"\n"
    )));
    let www = &config.proxy["www_example_com"];
    assert_eq!(www.member_ca_file.as_deref(), Some(Path::new(&ca)));
    assert!(www.member_verify);
    assert_eq!(www.tls, None);
    assert_eq!(note_lines(&imported.notes), Vec::<String>::new());

    // SSLProxyVerify none with the name and date checks off: exactly had's
    // member_verify = false.
    let (imported, config) = import_site_ok(&site(
        "SSLProxyVerify none\nSSLProxyCheckPeerName off\nSSLProxyCheckPeerCN off\nSSLProxyCheckPeerExpire off\n",
    ));
    assert!(!config.proxy["www_example_com"].member_verify);
    assert_eq!(
        note_lines(&imported.notes),
        ["site.conf:5: SSLProxyVerify none"]
    );
    assert_eq!(
        imported.notes[0].message,
        "had accepts any certificate from this host's https:// and wss:// members (member_verify = false), and warns about it at start"
    );
    // SSLProxyVerify none alone: Apache still checked names and dates.
    let (imported, config) = import_site_ok(&site("SSLProxyVerify none\n"));
    assert!(!config.proxy["www_example_com"].member_verify);
    assert_eq!(
        imported.notes[0].message,
        "had accepts any certificate from this host's https:// and wss:// members (member_verify = false), and warns about it at start; Apache still checked their names and dates (SSLProxyCheckPeerName and SSLProxyCheckPeerExpire are on unless turned off), had checks nothing"
    );
    // No SSLProxyVerify: Apache verifies no chain, had does.
    let (imported, config) = import_site_ok(&site(""));
    assert!(config.proxy["www_example_com"].member_verify);
    assert_eq!(
        note_lines(&imported.notes),
        ["site.conf:5: https://198.18.0.21:8443/"]
    );
    assert!(
        imported.notes[0]
            .message
            .starts_with("Apache does not verify a member's certificate chain unless SSLProxyVerify require is set"),
        "{}",
        imported.notes[0].message
    );

    // Only the name (or only the dates) unchecked: had cannot.
    let name = "had verifies a member's certificate chain and its name together and cannot skip only the name check; write `SSLProxyVerify none` to turn both off (had then warns at start), or delete this line";
    assert_eq!(
        problems(import_site(&site(
            "SSLProxyVerify require\nSSLProxyCheckPeerName off\n"
        )))
        .0,
        [format!("6: SSLProxyCheckPeerName off: {name}")]
    );
    // CheckPeerCN off turns the name check off while CheckPeerName is unset.
    assert_eq!(
        problems(import_site(&site("SSLProxyCheckPeerCN off\n"))).0,
        [format!("5: SSLProxyCheckPeerCN off: {name}")]
    );
    assert_eq!(
        problems(import_site(&site("SSLProxyCheckPeerExpire Off\n"))).0,
        [
            "5: SSLProxyCheckPeerExpire Off: had checks a member certificate's dates along with its chain and cannot skip only that check; write `SSLProxyVerify none` to turn every check off (had then warns at start), or delete this line"
        ]
    );
    assert_eq!(
        problems(import_site(&site(
            "SSLProxyVerify require\nSSLProxyCACertificatePath /etc/ssl/members/\n"
        )))
        .0,
        [
            "6: SSLProxyCACertificatePath /etc/ssl/members/: had takes the CA certificates members must chain to as one PEM file (member_ca_file), not a directory: put them in one file and name it with SSLProxyCACertificateFile"
        ]
    );
    assert_eq!(
        problems(import_site(&site(
            "SSLProxyMachineCertificateFile /etc/ssl/proxy-client.pem\n"
        )))
        .0,
        [
            "5: SSLProxyMachineCertificateFile /etc/ssl/proxy-client.pem: had presents no client certificate to members yet, so a member that asks for one would refuse had's connections"
        ]
    );

    // With no https:// member the lines do nothing.
    let (imported, config) = import_site_ok(
        "Listen 80\n<VirtualHost *:80>\nServerName www.example.com\nSSLProxyEngine on\nSSLProxyVerify none\nProxyPass / http://198.18.0.21:8080/\n</VirtualHost>\n",
    );
    assert!(config.proxy["www_example_com"].member_verify);
    assert_eq!(
        note_lines(&imported.notes),
        [
            "site.conf:4: SSLProxyEngine on",
            "site.conf:5: SSLProxyVerify none"
        ]
    );
    assert_eq!(
        imported.notes[1].message,
        "the <VirtualHost> at /etc/apache2/site.conf:2 sends to no https:// or wss:// member: not needed"
    );
}

/// `member_ca_file` and `member_verify` are one per address, as the other
/// connection settings: hosts that send to https:// members must agree,
/// and the others take them.
#[test]
fn member_tls_settings_are_shared_by_an_address() {
    let two = |first: &str, second: &str, second_member: &str| {
        format!(
            "Listen 80\n\
             <VirtualHost *:80>\nServerName a.example.com\n{first}ProxyPass / https://198.18.0.21:8443/\n</VirtualHost>\n\
             <VirtualHost *:80>\nServerName b.example.com\n{second}ProxyPass / {second_member}\n</VirtualHost>\n"
        )
    };
    let (refused, _) = problems(import_site(&two(
        "SSLProxyVerify none\n",
        "SSLProxyVerify require\n",
        "wss://198.18.0.22:8443/",
    )));
    assert_eq!(
        refused,
        [
            "9: SSLProxyVerify require for the <VirtualHost> at /etc/apache2/site.conf:7, none for the <VirtualHost> at /etc/apache2/site.conf:2 (line 2), which also sends to https:// members on the same address: had applies one member_verify to every virtual host on an address; give them the same SSLProxyVerify, or set it once outside the <VirtualHost>s"
        ]
    );
    // Set once at server level: the same for both.
    let (_, config) = import_site_ok(&format!(
        "SSLProxyVerify none\n{}",
        two("", "", "wss://198.18.0.22:8443/")
    ));
    assert!(config.proxy.values().all(|p| !p.member_verify));
    // b sends to http:// only: it takes a's.
    let (_, config) = import_site_ok(&two(
        "SSLProxyVerify none\n",
        "",
        "http://198.18.0.22:8080/",
    ));
    let verify: Vec<bool> = config.proxy.values().map(|p| p.member_verify).collect();
    assert_eq!(verify, [false, false]);
}

/// `Protocols`: had offers h2 and http/1.1 on every TLS listener, and
/// HTTP/1.1 without TLS (no h2c).
#[test]
fn protocols_are_what_had_offers_or_noted() {
    let modern = "SSLProtocol -all +TLSv1.2 +TLSv1.3\n";
    for line in ["Protocols h2 http/1.1", "Protocols http/1.1 h2"] {
        let (imported, _) = import_site_ok(&tls_vhost(&format!("{modern}{line}\n")));
        assert_eq!(note_lines(&imported.notes), Vec::<String>::new(), "{line}");
    }
    for (line, why) in [
        (
            "Protocols http/1.1",
            "had always offers h2 (HTTP/2) on TLS listeners, besides http/1.1: not carried over",
        ),
        (
            "Protocols h2 h2c http/1.1",
            "had does not speak h2c (HTTP/2 without TLS); clients use HTTP/1.1 there: not carried over",
        ),
    ] {
        let (imported, _) = import_site_ok(&tls_vhost(&format!("{modern}{line}\n")));
        assert_eq!(
            note_lines(&imported.notes),
            [format!("site.conf:8: {line}")]
        );
        assert_eq!(imported.notes[0].message, why);
    }
    // Without TLS, h2 is not offered by Apache either; h2c is noted.
    let plain = |line: &str| {
        format!(
            "Listen 80\n<VirtualHost *:80>\nServerName www.example.com\n{line}\nProxyPass / http://198.18.0.21:8080/\n</VirtualHost>\n"
        )
    };
    let (imported, _) = import_site_ok(&plain("Protocols h2 http/1.1"));
    assert_eq!(note_lines(&imported.notes), Vec::<String>::new());
    let (imported, _) = import_site_ok(&plain("Protocols h2c http/1.1"));
    assert_eq!(
        note_lines(&imported.notes),
        ["site.conf:4: Protocols h2c http/1.1"]
    );
}

/// The http→https `RewriteRule` becomes a redirect route only where had's
/// redirect (one fixed target, path and query appended) does what Apache
/// does for every request: a host name written in the rule, or the
/// host's own name when every request carries it (not the first virtual
/// host of its address, no ServerAlias; %{HTTP_HOST} only on port 80,
/// where clients send no port).
#[test]
fn https_rewrite_redirects_import_only_where_exact() {
    let hosts = |first: &str, second: &str| {
        format!(
            "Listen 80\nListen 8080\n\
             <VirtualHost *:80>\nServerName www.example.com\nProxyPass / http://198.18.0.21:8080/\n</VirtualHost>\n\
             <VirtualHost *:8080>\nServerName www.example.com\nProxyPass / http://198.18.0.21:8080/\n</VirtualHost>\n\
             {first}{second}"
        )
    };
    // The hosts under test start at line 11: <VirtualHost>, ServerName,
    // `extra`, RewriteEngine, the condition, the rule.
    let vhost = |port: u16, name: &str, extra: &str, cond: &str, rule: &str| {
        format!(
            "<VirtualHost *:{port}>\nServerName {name}\n{extra}RewriteEngine On\n{cond}\n{rule}\n</VirtualHost>\n"
        )
    };
    let http_host = "RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]";
    let redirect = |config: &had::config::Config, name: &str| {
        let r = &config.proxy[name].routes[0];
        (r.path.clone(), r.redirect.clone(), r.status)
    };

    // Not the first on its address, no alias, port 80: exact.
    let (imported, config) = import_site_ok(&hosts(
        &vhost(
            80,
            "shop.example.com",
            "",
            "RewriteCond %{HTTPS} off",
            http_host,
        ),
        &vhost(
            8080,
            "api.example.com",
            "",
            "RewriteCond %{SERVER_PORT} !^443$",
            "RewriteRule ^/?(.*) https://%{SERVER_NAME}/$1 [R,L]",
        ),
    ));
    assert_eq!(
        redirect(&config, "shop_example_com"),
        (
            Some("/".into()),
            Some("https://shop.example.com/".into()),
            Some(301)
        )
    );
    // %{SERVER_NAME} has no port; [R] is 302 (no status written).
    assert_eq!(
        redirect(&config, "api_example_com"),
        (
            Some("/".into()),
            Some("https://api.example.com/".into()),
            None
        )
    );
    assert_eq!(note_lines(&imported.notes), Vec::<String>::new());

    // The first virtual host of an address answers any Host.
    let default_host = format!(
        "Listen 80\n{}",
        vhost(
            80,
            "www.example.com",
            "DocumentRoot /srv/www\n",
            "RewriteCond %{HTTPS} off",
            http_host
        )
    );
    let notes = notes_of(import_site(&default_host));
    assert_eq!(
        note_at(&notes, "site.conf", 6),
        "the condition of the rule at line 7, which is not carried over"
    );
    assert_eq!(
        note_at(&notes, "site.conf", 7),
        "%{HTTP_HOST} is the name the client asked for, and the <VirtualHost> at /etc/apache2/site.conf:2 is the first virtual host on its address, which Apache gives every Host no other virtual host names; had's redirect has one fixed target (write `Redirect permanent / https://NAME/` if one name is right for every client): not carried over"
    );
    // A name written in the rule is the same for every request.
    let (_, config) = import_site_ok(&format!(
        "Listen 80\n{}",
        vhost(
            80,
            "www.example.com",
            "",
            "RewriteCond %{HTTPS} !=on",
            "RewriteRule ^/(.*)$ https://www.example.com/$1 [R=permanent,L]"
        )
    ));
    assert_eq!(
        redirect(&config, "www_example_com"),
        (
            Some("/".into()),
            Some("https://www.example.com/".into()),
            Some(301)
        )
    );

    // A ServerAlias: %{HTTP_HOST} is any of the names.
    let notes = notes_of(import_site(&hosts(
        &vhost(
            80,
            "shop.example.com",
            "ServerAlias shop.example.net\n",
            "RewriteCond %{HTTPS} off",
            http_host,
        ),
        "",
    )));
    assert!(
        note_at(&notes, "site.conf", 16).starts_with(
            "%{HTTP_HOST} is the name the client asked for, any of the ServerName and ServerAlias names"
        ),
        "{notes:#?}"
    );
    // Port 8080: clients send Host: shop.example.com:8080.
    let notes = notes_of(import_site(&hosts(
        "",
        &vhost(
            8080,
            "shop.example.com",
            "",
            "RewriteCond %{HTTPS} off",
            http_host,
        ),
    )));
    assert_eq!(
        note_at(&notes, "site.conf", 15),
        "%{HTTP_HOST} carries the port a client writes for a port other than 80 (shop.example.com:PORT), and had's redirect has one fixed target: not carried over"
    );
    // A condition that does not always hold.
    let notes = notes_of(import_site(&hosts(
        &vhost(
            80,
            "shop.example.com",
            "",
            "RewriteCond %{REMOTE_ADDR} !^10\\.",
            http_host,
        ),
        "",
    )));
    assert!(
        note_at(&notes, "site.conf", 15).starts_with("had does not run mod_rewrite"),
        "{notes:#?}"
    );
    // On a TLS host, %{HTTPS} is on: the rule never applies.
    let (imported, _) = import_site_ok(&tls_vhost(
        "SSLProtocol -all +TLSv1.2 +TLSv1.3\nRewriteEngine On\nRewriteCond %{HTTPS} off\nRewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]\n",
    ));
    assert_eq!(
        note_at(&imported.notes, "site.conf", 10),
        "never applies: the <VirtualHost> at /etc/apache2/site.conf:2 serves TLS, where %{HTTPS} is on: not needed"
    );
}

/// Virtual hosts that share an address share its TLS: one with
/// `SSLEngine on` and one without cannot be on the same address.
#[test]
fn tls_and_plain_virtual_hosts_cannot_share_an_address() {
    let site = format!(
        "{}<VirtualHost *:443>\nServerName api.example.com\nProxyPass / http://198.18.0.22:8080/\n</VirtualHost>\n",
        tls_vhost("SSLProtocol -all +TLSv1.2 +TLSv1.3\n")
    );
    assert_eq!(
        problems(import_site(&site)).0,
        [
            "10: the <VirtualHost> at /etc/apache2/site.conf:10 serves 0.0.0.0:443 without TLS, and the <VirtualHost> at /etc/apache2/site.conf:2 (line 2), the first virtual host on it, with: had serves an address with TLS or without for all its virtual hosts, as Apache decides TLS by the first virtual host of an address; give both SSLEngine on and their certificates, or put them on different addresses"
        ]
    );
}

/// `RequestReadTimeout handshake=` is `tls.handshake_timeout`.
#[test]
fn request_read_timeout_handshake_is_the_tls_handshake_timeout() {
    let (imported, config) = import_site_ok(&tls_vhost(
        "SSLProtocol -all +TLSv1.2 +TLSv1.3\nRequestReadTimeout handshake=5 header=20\n",
    ));
    let tls = config.proxy["www_example_com"].tls.as_ref().expect("tls");
    assert_eq!(tls.handshake_timeout, Some(Duration::from_secs(5)));
    assert_eq!(note_lines(&imported.notes), Vec::<String>::new());
}

/// Files that include each other many times without a loop (five levels
/// of four files, each including the whole next level: 1,364 reads) stop
/// at 1,000 included files read, with one problem at the `Include` that
/// went past it, instead of growing without bound.
#[test]
fn includes_stop_at_a_bounded_number_of_reads() {
    let mut files = InMemory::new();
    let main = "Include /etc/apache2/l1_*.conf\n";
    files = files.with("/etc/apache2/apache2.conf", main);
    for level in 1..=5 {
        for j in 0..4 {
            let text = if level < 5 {
                format!("Include /etc/apache2/l{}_*.conf\n", level + 1)
            } else {
                "ServerName www.example.com\n".to_owned()
            };
            files = files.with(format!("/etc/apache2/l{level}_{j}.conf"), text);
        }
    }
    let (refused, _) = problems(import_text(
        main,
        "/etc/apache2/apache2.conf",
        &Options::default(),
        &files,
    ));
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].contains("more than 1000 included files read"),
        "{refused:?}"
    );
}
