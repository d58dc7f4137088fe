//! Property tests: the importers and the loader never panic on arbitrary
//! input, and any configuration they accept serializes back to itself.

use proptest::prelude::*;

use had::config::parse_str;
use had::import::{apache, keepalived};

/// Words keepalived.conf and Apache files are made of, plus noise.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("vrrp_instance".to_string()),
        Just("vrrp_script".to_string()),
        Just("global_defs".to_string()),
        Just("vrrp_sync_group".to_string()),
        Just("virtual_ipaddress".to_string()),
        Just("track_script".to_string()),
        Just("authentication".to_string()),
        Just("virtual_router_id".to_string()),
        Just("priority".to_string()),
        Just("weight".to_string()),
        Just("include".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("\"".to_string()),
        Just("#".to_string()),
        Just("!".to_string()),
        Just("@x".to_string()),
        Just("\n".to_string()),
        Just("<Proxy balancer://a>".to_string()),
        Just("</proxy>".to_string()),
        Just("<VirtualHost *:80>".to_string()),
        Just("</VirtualHost>".to_string()),
        Just("BalancerMember".to_string()),
        Just("ProxyPass".to_string()),
        Just("${APACHE_LOG_DIR".to_string()),
        Just("\\".to_string()),
        "[0-9]{1,4}".prop_map(|s| s),
        "198\\.18\\.[0-9]{1,3}\\.[0-9]{1,3}(/[0-9]{1,3})?".prop_map(|s| s),
        "[a-zA-Z_=+:/.-]{1,12}".prop_map(|s| s),
    ]
}

fn document() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..80).prop_map(|t| t.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn keepalived_import_never_panics_and_accepted_output_reparses(doc in document()) {
        if let Ok(imported) = keepalived::import_str(&doc, "/nonexistent/keepalived.conf") {
            // Whatever was imported is TOML that had reads back (valid or not).
            let text = imported.toml();
            prop_assert!(toml::from_str::<toml::Table>(&text).is_ok(), "{text}");
        }
    }

    #[test]
    fn apache_import_never_panics(doc in document()) {
        let _ = apache::import_str(&doc, "apache.conf");
    }

    #[test]
    fn loader_never_panics(doc in "[\\[\\]a-z_.=\" 0-9\n{}-]{0,200}") {
        let _ = parse_str(&doc, "had.toml");
    }

    #[test]
    fn valid_instances_round_trip(
        vrid in 1u32..=255,
        priority in 1u32..=255,
        cs in 1u64..=4095,
        weight in -254i64..=254,
        nopreempt: bool,
        host in 1u8..=254,
        prefix in 0u8..=32,
    ) {
        let text = format!(
            "[vrrp_script.chk]\nscript = \"/bin/true\"\nweight = {weight}\n\
             [vrrp_instance.VI]\ninterface = \"eth0\"\nvirtual_router_id = {vrid}\npriority = {priority}\n\
             version = 3\nadvert_int = \"{}ms\"\nnopreempt = {nopreempt}\n\
             virtual_ipaddress = [\"198.18.0.{host}/{prefix}\"]\ntrack_script = [\"chk\"]\n",
            cs * 10
        );
        let loaded = parse_str(&text, "had.toml").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again = parse_str(&toml::to_string(&loaded.config).expect("serializes"), "again.toml")
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(again.config, loaded.config);
    }
}
