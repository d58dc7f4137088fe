//! hactl's offline commands and exit codes, run as the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hactl() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hactl"));
    // Tests must not pick up overrides from the environment they run in.
    for (k, _) in std::env::vars() {
        if k.starts_with("HAD_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn had_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../had")
        .join(rel)
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("hactl runs");
    (
        status.code().expect("exit code"),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[test]
fn check_valid_file_exits_0() {
    let file = had_file("examples/had.toml");
    let (code, out, _) = run(hactl().arg("check").arg(&file));
    assert_eq!(code, 0);
    assert!(out.contains(&format!("{}: valid", file.display())), "{out}");
}

#[test]
fn check_invalid_file_exits_1_and_names_line_and_key() {
    let file = had_file("tests/data/invalid/ranges.toml");
    let (code, _, err) = run(hactl().arg("check").arg(&file));
    assert_eq!(code, 1);
    let line = format!(
        "{}:8: vrrp_instance.VI_1.virtual_router_id: 300 is out of range (allowed 1-255)",
        file.display()
    );
    assert!(err.lines().any(|l| l == line), "{err}");
}

#[test]
fn check_missing_file_exits_1() {
    let (code, _, err) = run(hactl().args(["check", "/nonexistent/had.toml"]));
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/had.toml: cannot read"), "{err}");
}

#[test]
fn usage_errors_exit_1_not_2() {
    let (code, _, _) = run(hactl().arg("check"));
    assert_eq!(code, 1);
    let (code, _, _) = run(hactl().arg("frobnicate"));
    assert_eq!(code, 1);
    let (code, out, _) = run(hactl().arg("--help"));
    assert_eq!(code, 0);
    assert!(out.contains("check") && out.contains("import"), "{out}");
}

#[test]
fn environment_overrides_are_checked_and_named() {
    let file = had_file("examples/had.toml");
    let (code, _, err) = run(hactl()
        .arg("check")
        .arg(&file)
        .env("HAD_VRRP_INSTANCE__VI_1__PRIORITY", "300"));
    assert_eq!(code, 1);
    assert!(
        err.contains("environment HAD_VRRP_INSTANCE__VI_1__PRIORITY: vrrp_instance.VI_1.priority: 300 is out of range (allowed 1-255)"),
        "{err}"
    );
    // An override can also repair a file: ranges.toml's VI_2 is fixed by none,
    // so use a file whose only error is the one overridden.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("had.toml");
    std::fs::write(&path, "[vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 300\nvirtual_ipaddress = [\"198.18.0.200\"]\n")
        .expect("write");
    let (code, _, _) = run(hactl().arg("check").arg(&path));
    assert_eq!(code, 1);
    let (code, out, err) = run(hactl()
        .arg("check")
        .arg(&path)
        .env("HAD_VRRP_INSTANCE__VI_1__VIRTUAL_ROUTER_ID", "51"));
    assert_eq!(code, 0, "{out}{err}");
    // Variables without `__` are not settings (every setting is in a table).
    let (code, out, err) = run(hactl()
        .arg("check")
        .arg(&path)
        .env("HAD_VRRP_INSTANCE__VI_1__VIRTUAL_ROUTER_ID", "51")
        .env("HAD_LOG", "debug"));
    assert_eq!(code, 0, "{out}{err}");
    // A misspelt override is an unknown key, named by its variable.
    let (code, _, err) = run(hactl()
        .arg("check")
        .arg(&path)
        .env("HAD_GLOBAL__ROUTERID", "ha1"));
    assert_eq!(code, 1);
    assert!(
        err.contains("environment HAD_GLOBAL__ROUTERID: global.routerid: unknown key `routerid`; did you mean `router_id`?"),
        "{err}"
    );
}

#[test]
fn import_seed_master_as_printed_fails_at_line_4() {
    let file = had_file("tests/data/seed_keepalived_master.conf");
    let (code, out, err) = run(hactl().args(["import", "keepalived"]).arg(&file));
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(&format!("{}:4: unknown keyword `virtual` in vrrp_instance VI_1 (`virtual router id 51`); did you mean `virtual_router_id`?", file.display())),
        "{err}"
    );
}

/// The seed's whole story: import both keepalived configs, then `hactl check`
/// both nodes, which passes validation and reports the weight-2 trap.
#[test]
fn seed_imports_then_check_reports_the_trap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut nodes = Vec::new();
    for (conf, node) in [
        ("seed_keepalived_master_fixed.conf", "apache-1"),
        ("seed_keepalived_backup.conf", "apache-2"),
    ] {
        let (code, out, err) = run(hactl()
            .args(["import", "keepalived"])
            .arg(had_file(&format!("tests/data/{conf}"))));
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("only the first 8 (\"secretpa\")"), "{err}");
        let path = dir.path().join(format!("{node}.toml"));
        std::fs::write(&path, out).expect("write");
        nodes.push(path);
    }
    let (code, out, err) = run(hactl().arg("check").args(&nodes));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("VI_1: chk_apache failing on apache-1 leaves it at 100 against apache-2's 92: the VIP does NOT move"),
        "{out}"
    );
    assert!(
        out.contains("apache-1 crashes: apache-2 takes over after 3.64s"),
        "{out}"
    );
}

#[test]
fn import_lists_dropped_directives_with_lines() {
    let file = had_file("tests/data/keepalived_full.conf");
    let (code, out, err) = run(hactl().args(["import", "keepalived"]).arg(&file));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("[vrrp_instance.VI_WEB6]"), "{out}");
    assert!(
        err.contains(&format!(
            "not imported: {}:80: virtual_server 198.18.0.200 80",
            file.display()
        )),
        "{err}"
    );
}

#[test]
fn import_apache_seed_vhost() {
    let file = had_file("tests/data/seed_apache_vhost.conf");
    let (code, out, err) = run(hactl().args(["import", "apache"]).arg(&file));
    assert_eq!(code, 0, "{err}");
    let doc: toml::Table = toml::from_str(&out).expect("stdout is TOML");
    let proxy = doc
        .get("proxy")
        .and_then(|p| p.get("mycluster"))
        .expect("proxy.mycluster");
    assert_eq!(
        proxy.get("preserve_host").and_then(toml::Value::as_bool),
        Some(true)
    );
    let (code, _, _) = run(hactl().args(["import", "apache", "/nonexistent.conf"]));
    assert_eq!(code, 1);
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, out, err) = run(hactl().args(["completions", shell]));
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(
            out.contains("hactl") && out.contains("import") && out.contains("keepalived"),
            "{shell}: {out}"
        );
    }
    let (code, out, _) = run(hactl().arg("man"));
    assert_eq!(code, 0);
    assert!(out.contains(".TH hactl"), "{out}");
    assert!(
        out.contains("check") && out.contains("import") && out.contains("\\-\\-socket"),
        "{out}"
    );
}

#[test]
fn unreachable_daemon_exits_2() {
    let (code, _, err) = run(hactl().args(["--socket", "/nonexistent/had.sock", "status"]));
    assert_eq!(code, 2, "{err}");
}
