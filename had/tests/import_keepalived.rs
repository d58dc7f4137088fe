//! keepalived.conf import: the seed's two configs, example configs, and
//! errors and dropped directives named with their lines.

use std::path::{Path, PathBuf};
use std::time::Duration;

use had::config::{AuthType, InitialState, parse_str};
use had::failover::{Node, analyze};
use had::import::keepalived::{Options, import_file, import_file_with};
use had::import::{ImportError, Imported};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn import_ok(name: &str) -> Imported {
    import_file(data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The imported text passes the same validation as `had --check`.
fn validates(imported: &Imported) -> had::config::Loaded {
    parse_str(&imported.toml(), "imported.toml")
        .unwrap_or_else(|e| panic!("imported config invalid: {e}\n{}", imported.toml()))
}

fn problems(name: &str) -> Vec<String> {
    match import_file(data(name)) {
        Err(ImportError::Invalid { problems, .. }) => problems
            .iter()
            .map(|p| {
                let at =
                    p.at.file
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default();
                format!("{at}:{}: {}", p.at.line, p.message)
            })
            .collect(),
        other => panic!("{name} should fail to import: {other:?}"),
    }
}

#[test]
fn seed_master_as_printed_is_refused_at_line_4() {
    let got = problems("seed_keepalived_master.conf");
    assert_eq!(
        got,
        [
            "seed_keepalived_master.conf:1: vrrp_instance VI_1 has no virtual_router_id",
            "seed_keepalived_master.conf:4: unknown keyword `virtual` in vrrp_instance VI_1 (`virtual router id 51`); did you mean `virtual_router_id`?",
        ]
    );
}

#[test]
fn seed_master_fixed_and_backup_import_and_validate() {
    let master = import_ok("seed_keepalived_master_fixed.conf");
    let backup = import_ok("seed_keepalived_backup.conf");
    assert!(
        master.notes.is_empty() && backup.notes.is_empty(),
        "{:?} {:?}",
        master.notes,
        backup.notes
    );
    for (imported, state, priority) in [
        (&master, InitialState::Master, 100),
        (&backup, InitialState::Backup, 90),
    ] {
        let c = &imported.config;
        let vi = &c.vrrp_instance["VI_1"];
        assert_eq!(
            (vi.state, vi.interface.as_str(), vi.vrid(), vi.priority()),
            (state, "eth0", 51, priority)
        );
        assert_eq!(vi.advert_int, Duration::from_secs(1));
        // keepalived's VIP without a prefix is a /32; the user's address is kept.
        assert_eq!(vi.virtual_ipaddress[0].to_string(), "192.168.1.200/32");
        let auth = vi.authentication.as_ref().expect("auth");
        assert_eq!(
            (auth.auth_type, auth.auth_pass.as_str()),
            (AuthType::Pass, "secretpass")
        );
        assert_eq!(vi.track_script[0].name, "chk_apache");
        let chk = &c.vrrp_script["chk_apache"];
        assert_eq!(chk.script, "/usr/bin/systemctl is-active apache2");
        assert_eq!((chk.interval, chk.weight), (Duration::from_secs(2), 2));
        let loaded = validates(imported);
        // auth_pass cut to 8 characters, PASS is no security.
        assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
    }
}

#[test]
fn seed_failover_arithmetic_reports_the_trap() {
    let master = import_ok("seed_keepalived_master_fixed.conf").config;
    let backup = import_ok("seed_keepalived_backup.conf").config;
    let report = analyze(&[
        Node::new("apache-1", &master),
        Node::new("apache-2", &backup),
    ]);
    let case = &report.instances[0].failures[0];
    assert_eq!(
        case.to_string(),
        "VI_1: chk_apache failing on apache-1 leaves it at 100 against apache-2's 92: the VIP does NOT move"
    );
}

#[test]
fn full_example_imports_with_include_and_lists_what_is_dropped() {
    let imported = import_ok("keepalived_full.conf");
    let c = &imported.config;
    assert_eq!(c.global.router_id.as_deref(), Some("ha1"));
    assert_eq!(c.global.vrrp_version, 3);
    assert!(c.global.enable_script_security);
    let web = &c.vrrp_instance["VI_WEB"];
    assert_eq!(web.advert_int, Duration::from_millis(500));
    assert!(web.nopreempt);
    assert_eq!(web.preempt_delay, Duration::from_secs(5));
    assert_eq!(
        web.unicast_peer,
        ["198.18.0.12".parse::<std::net::IpAddr>().expect("ip")]
    );
    assert_eq!(
        web.virtual_ipaddress[0].to_string(),
        "198.18.0.200/24 dev eth0 label eth0:vip"
    );
    assert_eq!(web.track_script[0].weight, Some(-60));
    assert_eq!(web.track_interface[0].weight, Some(-20));
    assert_eq!(
        c.vrrp_script["chk_proxy"].user.as_deref(),
        Some("nobody:nogroup")
    );
    let proc_haproxy = &c.track_process["proc_haproxy"];
    assert_eq!(proc_haproxy.weight, -10);
    assert_eq!(proc_haproxy.params, ["-f", "/etc/haproxy/haproxy.cfg"]);
    assert_eq!(proc_haproxy.param_match.as_deref(), Some("partial"));
    assert_eq!(proc_haproxy.delay, Some(Duration::from_secs(2)));
    assert_eq!(c.track_file["file_maint"].weight, -1);
    // From keepalived.d/ipv6.conf, through `include keepalived.d/*.conf`.
    assert_eq!(
        c.vrrp_instance["VI_WEB6"].virtual_ipaddress[1].to_string(),
        "2001:db8::200/64"
    );
    assert_eq!(c.vrrp_sync_group["VG_1"].group, ["VI_WEB", "VI_WEB6"]);
    let notes: Vec<(usize, String)> = imported
        .notes
        .iter()
        .map(|n| (n.at.line, n.directive.clone()))
        .collect();
    assert_eq!(
        notes,
        [
            (4, "notification_email".to_string()),
            (58, "198.18.0.201/24 brd 198.18.0.255".to_string()),
            (75, "smtp_alert".to_string()),
            (80, "virtual_server 198.18.0.200 80".to_string()),
        ]
    );
    validates(&imported);
}

#[test]
fn lab_vector_configs_import_and_validate() {
    for name in ["keepalived_kv2.conf", "keepalived_kv3.conf"] {
        let imported = import_ok(name);
        validates(&imported);
    }
    let kv3 = import_ok("keepalived_kv3.conf").config;
    assert_eq!(
        kv3.vrrp_instance["V3"].advert_int,
        Duration::from_millis(500)
    );
    assert!(kv3.vrrp_instance["V6"].is_ipv6());
}

#[test]
fn errors_name_their_lines() {
    assert_eq!(
        problems("keepalived_bad/unbalanced.conf"),
        ["unbalanced.conf:1: this block's `{` has no matching `}`"]
    );
    assert_eq!(
        problems("keepalived_bad/errors.conf"),
        [
            "errors.conf:2: unknown keyword `router_idd` in global_defs (`router_idd ha1`); did you mean `router_id`?",
            "errors.conf:6: `interval`: \"soon\" is not a duration (expected number at 0); write seconds (2, 0.5) or a unit (\"1s\", \"500ms\")",
            "errors.conf:9: state \"PRIMARY\" is not allowed (allowed: MASTER, BACKUP)",
            "errors.conf:12: `priority` needs a number, not \"high\"",
            "errors.conf:14: \"198.18.0.300\" is not an IPv4 or IPv6 address",
            "errors.conf:15: unexpected \"via\" in an address (allowed: ADDR[/PREFIX] [dev IFACE] [label NAME])",
            "errors.conf:18: unexpected \"weigth\" after \"chk\" (allowed: `chk weight N`)",
            "errors.conf:21: `}` closes no block",
            "errors.conf:22: unknown keyword `bogus_block` in the top level (`bogus_block`)",
        ]
    );
}

#[test]
fn conditional_lines_follow_the_config_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("keepalived.conf");
    std::fs::write(
        &path,
        "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n@ha1 priority 150\n@^ha1 priority 50\n  virtual_ipaddress {\n    198.18.0.200\n  }\n}\n",
    )
    .expect("write");
    let with = |id: Option<&str>| {
        import_file_with(
            &path,
            &Options {
                config_id: id.map(str::to_string),
            },
        )
        .expect("imports")
    };
    assert_eq!(
        with(Some("ha1")).config.vrrp_instance["VI_1"].priority(),
        150
    );
    let other = with(Some("ha2"));
    assert_eq!(other.config.vrrp_instance["VI_1"].priority(), 50);
    assert_eq!(other.notes[0].at.line, 4);
}

/// Whether an imported instance asks for IPsec AH authentication.
/// keepalived's own sample configurations, where the Debian package installed
/// them: every VRRP sample imports (or fails only on what had cannot express)
/// and what imports validates (but for IPsec AH, which had refuses).
#[test]
fn keepalived_package_samples() {
    let dir = Path::new("/usr/share/doc/keepalived/samples");
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!(
            "skipped: {} not present (Debian package keepalived not installed)",
            dir.display()
        );
        return;
    };
    let mut imported = 0;
    for entry in entries {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.starts_with("keepalived.conf") {
            continue;
        }
        match import_file(&path) {
            // had implements no IPsec AH: the import refuses it at the
            // keepalived file's own line, and nowhere else.
            Err(e) if name.ends_with("SSL_GET") => {
                let text = e.to_string();
                assert!(
                    text.contains("keepalived.conf.SSL_GET:20: auth_type AH"),
                    "{name}: {text}"
                );
                assert_eq!(text.lines().count(), 1, "{name}: {text}");
                imported += 1;
            }
            Ok(i) => {
                validates(&i);
                imported += 1;
            }
            // The conditional sample needs a config id to be complete.
            Err(e) if name.ends_with("conditional_conf") => {
                assert!(e.to_string().contains("has no `script`"), "{name}: {e}");
                let i = import_file_with(
                    &path,
                    &Options {
                        config_id: Some("high".into()),
                    },
                )
                .expect("with -i high");
                validates(&i);
                imported += 1;
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    assert!(imported >= 10, "only {imported} samples imported");
}

#[test]
fn global_defs_real_time_priority_becomes_realtime() {
    let imported = had::import::keepalived::import_str(
        "global_defs {\n  vrrp_rt_priority 50\n  vrrp_no_swap\n  routerid x\n}\n",
        "keepalived.conf",
    );
    // `routerid` is no keepalived keyword: an error, with the fix suggested.
    let Err(ImportError::Invalid { problems, notes }) = imported else {
        panic!("routerid must be refused")
    };
    assert_eq!(
        problems[0].to_string(),
        "keepalived.conf:4: unknown keyword `routerid` in global_defs (`routerid x`); did you mean `router_id`?"
    );
    assert_eq!(notes.iter().map(|n| n.at.line).collect::<Vec<_>>(), [2, 3]);
    let imported =
        had::import::keepalived::import_str("global_defs {\n  vrrp_rt_priority 50\n}\n", "k.conf")
            .expect("imports");
    assert!(imported.config.global.realtime);
}

#[test]
fn no_accept_and_ah_are_never_imported_silently() {
    let base = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  priority 100\n  virtual_ipaddress {\n    198.18.0.200/24\n  }\n";
    // no_accept: had has no equivalent, so it is listed as dropped at its line.
    let i = had::import::keepalived::import_str(&format!("{base}  no_accept\n}}\n"), "k.conf")
        .expect("imports");
    let note = i
        .notes
        .iter()
        .find(|n| n.directive == "no_accept")
        .expect("no_accept is listed as dropped");
    assert_eq!(note.at.line, 8);
    assert!(!i.toml().contains("accept"));
    // AH with VRRPv2 (keepalived's default): refused at the auth_type line.
    let ah = "  authentication {\n    auth_type AH\n    auth_pass secret\n  }\n";
    let e = had::import::keepalived::import_str(&format!("{base}{ah}}}\n"), "k.conf")
        .expect_err("AH with v2 is refused");
    assert!(e.to_string().contains("k.conf:9: auth_type AH"), "{e}");
    // AH with VRRPv3: keepalived ignores authentication, so does the import (noted).
    let i = had::import::keepalived::import_str(&format!("{base}  version 3\n{ah}}}\n"), "k.conf")
        .expect("imports");
    assert!(i.config.vrrp_instance["VI_1"].authentication.is_none());
    assert!(
        i.notes
            .iter()
            .any(|n| n.directive == "auth_type AH" && n.at.line == 10)
    );
    parse_str(&i.toml(), "imported.toml").expect("the imported file validates");
}

/// `include` read through the importer's file reader, here files held in
/// memory: a relative glob matches in sorted order and splices each file in
/// place (instances from two files, lines named in their own files); an
/// include that matches nothing is a note; a file that includes itself
/// stops at keepalived's depth; includes that include each other many
/// times stop at a bounded number of reads, each with a problem, never a
/// hang.
#[test]
fn includes_are_read_through_the_file_reader() {
    use had::import::files::InMemory;
    use had::import::keepalived::import_text;
    let instance = |name: &str, vrid: u8, ip: &str| {
        format!(
            "vrrp_instance {name} {{\n    interface eth0\n    virtual_router_id {vrid}\n    priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        {ip}/24\n    }}\n}}\n"
        )
    };
    let main =
        "global_defs {\n    router_id lb1\n}\ninclude conf.d/*.conf\ninclude missing/*.conf\n";
    let files = InMemory::new()
        .with("/etc/keepalived/keepalived.conf", main)
        .with(
            "/etc/keepalived/conf.d/20-web.conf",
            instance("VI_WEB", 52, "198.18.0.20"),
        )
        .with(
            "/etc/keepalived/conf.d/10-api.conf",
            instance("VI_API", 51, "198.18.0.10"),
        )
        .with("/etc/keepalived/conf.d/notes.txt", "this is not included\n");
    let imported = import_text(
        main,
        Path::new("/etc/keepalived/keepalived.conf"),
        &Options::default(),
        &files,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&String> = imported.config.vrrp_instance.keys().collect();
    assert_eq!(names, ["VI_API", "VI_WEB"]);
    assert_eq!(
        imported.config.vrrp_instance["VI_API"].virtual_router_id,
        51
    );
    assert_eq!(imported.config.global.router_id.as_deref(), Some("lb1"));
    let missing: Vec<String> = imported
        .notes
        .iter()
        .filter(|n| n.directive.starts_with("include missing"))
        .map(|n| format!("{}:{}: {}", n.at.file.display(), n.at.line, n.message))
        .collect();
    assert_eq!(
        missing,
        ["/etc/keepalived/keepalived.conf:5: matches no file; nothing included"]
    );

    // A file that includes itself: keepalived's depth limit, at its line.
    let looped = "include keepalived.conf\n";
    let files = InMemory::new().with("/etc/keepalived/keepalived.conf", looped);
    let err = import_text(
        looped,
        Path::new("/etc/keepalived/keepalived.conf"),
        &Options::default(),
        &files,
    )
    .expect_err("a loop is refused");
    let ImportError::Invalid { problems, .. } = err else {
        panic!("{err}");
    };
    assert!(
        problems
            .iter()
            .any(|p| p.at.line == 1 && p.message.contains("nested more than")),
        "{problems:?}"
    );

    // Four files that each include all four: without a bound, 4^8 reads.
    let fan = "include *.conf\n";
    let mut files = InMemory::new();
    for i in 0..4 {
        files = files.with(format!("/etc/keepalived/{i}.conf"), fan);
    }
    let err = import_text(
        fan,
        Path::new("/etc/keepalived/0.conf"),
        &Options::default(),
        &files,
    )
    .expect_err("refused");
    let ImportError::Invalid { problems, .. } = err else {
        panic!("{err}");
    };
    assert!(
        problems
            .iter()
            .any(|p| p.message.starts_with("more than 1000 included files read")),
        "{problems:?}"
    );
}
