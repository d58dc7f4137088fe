//! TLS sessions across a failover, in the network lab: two had nodes
//! (VRRPv3, advert 0.1 s) serve HTTPS on the VIP in front of one nginx
//! member; a client in its own node (OpenSSL's `s_client`, a real TLS
//! client other than rustls) makes a session on the master, the master is
//! killed, and the client comes back to the VIP, now on the backup, with
//! its saved session.
//!
//! With different `ticket_keys` files on the two nodes the client gets a
//! full handshake (`New`); once the backup has the master's keys (written
//! to its file and reloaded with SIGHUP) the same move is a resumption
//! (`Reused`). Root is needed (skipped with a message otherwise, a failure
//! under CI=true).

mod e2e_support;
mod lab_support;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use e2e_support::Member;
use had::status::State;
use lab_support::{HadNode, holders, wait_until};
use vip_netlink::lab::Lab;

const VIP: &str = "198.18.0.200";
const HAD: [usize; 2] = [0, 1];
const MEMBER: usize = 2;
const CLIENT: usize = 3;

fn vip() -> IpAddr {
    VIP.parse().expect("VIP")
}

/// 80 bytes of key material, base64, distinct per `seed`.
fn key_line(seed: u8) -> String {
    use base64::Engine as _;
    let bytes: Vec<u8> = (0..80u8)
        .map(|i| i.wrapping_mul(7).wrapping_add(seed))
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn node_toml(dir: &Path, i: usize, priority: u8, member: &str) -> String {
    let d = dir.display();
    lab_support::had_toml(
        dir,
        i,
        &format!(
            "[vrrp_instance.VI_1]\nstate = \"BACKUP\"\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
             priority = {priority}\nadvert_int = 0.1\nversion = 3\n\
             virtual_ipaddress = [\"{VIP}/24\"]\n\n\
             [proxy.web]\nlisten = [\"{VIP}:443\"]\nserver_name = \"www.example.com\"\n\
             tls = {{ cert = \"{d}/www.pem\", key = \"{d}/www.key\", ticket_keys = \"{d}/n{i}.keys\" }}\n\
             members = [{{ url = \"{member}\" }}]\n"
        ),
    )
}

/// One HTTPS request from the client node with OpenSSL, saving the session
/// to `session` (and offering it first when `resume`): whether the
/// handshake was `New` or `Reused`, and the answer.
fn visit(lab: &Lab, dir: &Path, resume: bool) -> String {
    let session = dir.join("client.session");
    let s = session.display();
    let offer = if resume {
        format!("-sess_in {s} ")
    } else {
        String::new()
    };
    let script = format!(
        "printf 'GET / HTTP/1.1\\r\\nHost: www.example.com\\r\\nConnection: close\\r\\n\\r\\n' | \
         timeout 5 openssl s_client -connect {VIP}:443 -servername www.example.com \
         {offer}-sess_out {s} -ign_eof 2>&1"
    );
    lab.exec(CLIENT, &["sh", "-c", &script])
        .unwrap_or_else(|e| panic!("openssl s_client: {e}"))
}

fn handshake(out: &str) -> &'static str {
    if out.contains("\nReused, ") {
        "Reused"
    } else if out.contains("\nNew, ") {
        "New"
    } else {
        panic!("no handshake in the output:\n{out}")
    }
}

#[test]
fn a_tls_session_resumes_on_the_new_master_with_shared_ticket_keys() {
    if !e2e_support::tool_available("nginx", "nginx")
        || !e2e_support::tool_available("openssl", "openssl")
    {
        return;
    }
    let Some(lab) = Lab::for_test("tlsfo", 4) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    // The certificate both nodes serve.
    lab.exec(
        CLIENT,
        &[
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=www.example.com",
            "-addext",
            "subjectAltName=DNS:www.example.com",
            "-keyout",
            &d.join("www.key").display().to_string(),
            "-out",
            &d.join("www.pem").display().to_string(),
        ],
    )
    .expect("certificate");
    std::fs::write(d.join("n0.keys"), format!("{}\n", key_line(1))).expect("keys");
    std::fs::write(d.join("n1.keys"), format!("{}\n", key_line(2))).expect("keys");
    let member = Member::start(&lab, d, MEMBER);
    let mut n0 = Some(HadNode::start(
        &lab,
        d,
        0,
        &node_toml(d, 0, 100, &member.url()),
    ));
    let n1 = HadNode::start(&lab, d, 1, &node_toml(d, 1, 90, &member.url()));
    let logs = |n0: &Option<HadNode>, n1: &HadNode| {
        format!(
            "--- n0 ---\n{}\n--- n1 ---\n{}",
            n0.as_ref().map(HadNode::log_text).unwrap_or_default(),
            n1.log_text()
        )
    };
    let settled = |m: usize| {
        wait_until(Duration::from_secs(5), || {
            holders(&lab, &HAD, vip()) == vec![m]
        })
    };
    assert!(settled(0).is_some(), "no election:\n{}", logs(&n0, &n1));

    // Different keys: the session made on n0 is not resumed on n1.
    let first = visit(&lab, d, false);
    assert_eq!(handshake(&first), "New");
    assert!(first.contains("HTTP/1.1 200"), "{first}");
    if let Some(mut n) = n0.take() {
        n.kill();
    }
    assert!(
        wait_until(Duration::from_secs(5), || n1.state("VI_1")
            == Some(State::Master))
        .is_some(),
        "n1 did not take over:\n{}",
        logs(&n0, &n1)
    );
    let after = visit(&lab, d, true);
    assert_eq!(
        handshake(&after),
        "New",
        "other keys: a full handshake\n{after}"
    );
    assert!(after.contains("HTTP/1.1 200"), "{after}");

    // n1 gets n0's keys (its file rewritten, SIGHUP), n0 comes back and
    // takes the VIP again (higher priority); a session made on it now
    // survives the same failover.
    std::fs::write(d.join("n1.keys"), format!("{}\n", key_line(1))).expect("keys");
    n1.hup();
    std::thread::sleep(Duration::from_millis(500));
    n0 = Some(HadNode::start(
        &lab,
        d,
        0,
        &node_toml(d, 0, 100, &member.url()),
    ));
    assert!(
        settled(0).is_some(),
        "n0 did not take the VIP back:\n{}",
        logs(&n0, &n1)
    );
    let first = visit(&lab, d, false);
    assert_eq!(handshake(&first), "New");
    if let Some(mut n) = n0.take() {
        n.kill();
    }
    assert!(
        wait_until(Duration::from_secs(5), || n1.state("VI_1")
            == Some(State::Master))
        .is_some(),
        "n1 did not take over:\n{}",
        logs(&n0, &n1)
    );
    let after = visit(&lab, d, true);
    assert_eq!(
        handshake(&after),
        "Reused",
        "shared keys: the session resumes on the new master\n{after}\n{}",
        logs(&n0, &n1)
    );
    assert!(after.contains("HTTP/1.1 200"), "{after}");
}
