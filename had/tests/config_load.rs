//! Loading valid configurations: defaults, duration forms, the shipped
//! example, and that a loaded configuration serializes back to itself.

use std::path::Path;
use std::time::Duration;

use had::config::{Config, InitialState, LbMethod, LoadOptions, load_with, parse_str};

fn manifest(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn example_config_is_valid_and_mirrors_the_seed() {
    let loaded = load_with(manifest("examples/had.toml"), &LoadOptions { env: false })
        .expect("example is valid");
    let c = &loaded.config;
    assert_eq!(c.global.router_id.as_deref(), Some("ha1"));
    assert_eq!(c.global.metrics_listen, "127.0.0.1:9273".parse().ok());
    let vi = &c.vrrp_instance["VI_1"];
    assert_eq!(
        (vi.vrid(), vi.priority(), vi.state),
        (51, 100, InitialState::Master)
    );
    assert_eq!(vi.virtual_ipaddress[0].to_string(), "198.18.0.200/24");
    let check = &c.track_proxy["chk_proxy"];
    assert_eq!(
        (check.proxy.as_str(), check.min_up, check.weight),
        ("mycluster", 1, -20)
    );
    let proxy = &c.proxy["mycluster"];
    assert_eq!(proxy.members.len(), 2);
    assert_eq!(proxy.lbmethod, LbMethod::Byrequests);
    assert!(proxy.preserve_host && proxy.pass_reverse);
    // PASS auth is legal but risky: one warning, and nothing else.
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
}

#[test]
fn durations_accept_seconds_fractions_and_units() {
    let cases: &[(&str, Duration)] = &[
        ("2", Duration::from_secs(2)),
        ("1.5", Duration::from_millis(1500)),
        ("\"500ms\"", Duration::from_millis(500)),
        ("\"1m 30s\"", Duration::from_secs(90)),
        ("\"2\"", Duration::from_secs(2)),
    ];
    for (written, want) in cases {
        let text = format!("[vrrp_script.c]\nscript = \"/bin/true\"\ninterval = {written}\n");
        let loaded = parse_str(&text, "had.toml").unwrap_or_else(|e| panic!("{written}: {e}"));
        assert_eq!(loaded.config.vrrp_script["c"].interval, *want, "{written}");
    }
    let err = parse_str(
        "[vrrp_script.c]\nscript = \"/bin/true\"\ninterval = -1\n",
        "had.toml",
    )
    .expect_err("negative");
    assert_eq!(
        err.errors(),
        ["had.toml:3: vrrp_script.c.interval: -1 is not a duration: seconds must be >= 0"]
    );
}

#[test]
fn defaults_are_keepalived_defaults() {
    let loaded = parse_str(
        "[vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 51\nvirtual_ipaddress = [\"198.18.0.200\"]\n\
         [vrrp_script.s]\nscript = \"/bin/true\"\n",
        "had.toml",
    )
    .expect("valid");
    let c = &loaded.config;
    let vi = &c.vrrp_instance["VI_1"];
    assert_eq!(vi.priority(), 100);
    assert_eq!(vi.advert_int, Duration::from_secs(1));
    assert_eq!(vi.effective_version(&c.global), 2);
    assert_eq!(vi.state, InitialState::Backup);
    assert!(vi.preempts());
    // Without a prefix a VIP is a host address, as in keepalived.
    assert_eq!(vi.virtual_ipaddress[0].prefix_len, 32);
    let s = &c.vrrp_script["s"];
    assert_eq!(
        (s.weight, s.rise, s.fall, s.interval),
        (0, 1, 1, Duration::from_secs(1))
    );
    assert_eq!(s.effective_timeout(), Duration::from_secs(1));
    assert_eq!(c.global.control_socket, Path::new("/run/had/had.sock"));
}

#[test]
fn track_refs_and_addresses_take_every_documented_form() {
    let loaded = parse_str(
        r#"
[vrrp_script.a]
script = "/bin/true"
weight = 2
[vrrp_instance.VI_1]
interface = "eth0"
virtual_router_id = 51
version = 3
virtual_ipaddress = [
  "198.18.0.200/24 dev eth1 label eth1:vip",
  { address = "198.18.0.201", dev = "eth2" },
]
track_script = ["a", { name = "a", weight = -30 }]
track_interface = [{ name = "eth1", weight = -10 }, "eth0"]
"#,
        "had.toml",
    )
    .expect("valid");
    let vi = &loaded.config.vrrp_instance["VI_1"];
    let v0 = &vi.virtual_ipaddress[0];
    assert_eq!(
        (v0.prefix_len, v0.dev.as_deref(), v0.label.as_deref()),
        (24, Some("eth1"), Some("eth1:vip"))
    );
    assert_eq!(
        vi.virtual_ipaddress[1].to_string(),
        "198.18.0.201/32 dev eth2"
    );
    assert_eq!(vi.track_script[1].weight, Some(-30));
    assert_eq!(vi.track_interface[0].weight, Some(-10));
    assert_eq!(vi.track_interface[1].weight, None);
}

#[test]
fn a_loaded_config_serializes_back_to_an_equal_config() {
    let original = load_with(manifest("examples/had.toml"), &LoadOptions { env: false })
        .expect("valid")
        .config;
    let text = toml::to_string(&original).expect("serializes");
    let again: Config = parse_str(&text, "again.toml").expect("still valid").config;
    assert_eq!(again, original);
}

#[test]
fn member_status_flags() {
    let loaded = parse_str(
        "[proxy.p]\nlisten = [\"198.18.0.200:80\"]\nmembers = [\
         { url = \"http://198.18.0.21\" }, { url = \"http://198.18.0.22\", status = \"+H\" },\
         { url = \"http://198.18.0.23\", status = \"+D-H\" }]\n",
        "had.toml",
    )
    .expect("valid");
    let m = &loaded.config.proxy["p"].members;
    assert!(!m[0].hot_standby() && !m[0].disabled());
    assert!(m[1].hot_standby() && !m[1].disabled());
    assert!(!m[2].hot_standby() && m[2].disabled());
}

#[test]
fn nodes_with_one_name_are_told_apart_in_the_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut paths = Vec::new();
    for (node, prio) in [("ha1", 100), ("ha2", 90)] {
        let sub = dir.path().join(node);
        std::fs::create_dir(&sub).expect("mkdir");
        let path = sub.join("had.toml");
        std::fs::write(
            &path,
            format!("[vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 51\npriority = {prio}\nvirtual_ipaddress = [\"198.18.0.200\"]\n"),
        )
        .expect("write");
        paths.push(path);
    }
    let report = had::check::check_files_with(&paths, &LoadOptions { env: false });
    assert!(report.is_valid());
    let failover = report.failover.as_ref().expect("two nodes");
    assert_eq!(
        failover.instances[0].master,
        format!("had ({})", paths[0].display())
    );
    assert_eq!(report.exit_code(), 0);
}
