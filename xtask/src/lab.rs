//! `cargo xtask lab up|down`: a network-namespace lab for manual use.
//!
//! `up` builds a lab with `vip_netlink::lab`, prints its nodes and how to
//! enter them, and records its namespace prefix in `target/had-lab.json`;
//! the lab stays until `down` deletes every namespace with that prefix.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use vip_netlink::lab::{self, Lab};

/// Arguments of `cargo xtask lab`.
#[derive(Args)]
pub struct LabArgs {
    #[command(subcommand)]
    action: LabAction,
}

/// What to do with the manual lab.
#[derive(Subcommand)]
enum LabAction {
    /// Build a lab and keep it until `cargo xtask lab down`.
    Up {
        /// Number of nodes (1 to 200).
        #[arg(long, default_value_t = 2)]
        nodes: usize,
    },
    /// Delete the lab recorded by `up`.
    Down {
        /// Also delete namespaces left by test labs whose process died before
        /// its cleanup (any `hl-<pid>-…` whose process no longer exists).
        #[arg(long)]
        stale: bool,
    },
}

/// Runs `cargo xtask lab …`.
pub fn run(args: LabArgs) -> anyhow::Result<()> {
    match args.action {
        LabAction::Up { nodes } => up(nodes),
        LabAction::Down { stale } => down(stale),
    }
}

/// The state file: in the workspace's own target directory, so `up` and
/// `down` agree whatever CARGO_TARGET_DIR says.
fn state_file() -> PathBuf {
    let xtask_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask_dir
        .parent()
        .unwrap_or(xtask_dir)
        .join("target")
        .join("had-lab.json")
}

fn up(nodes: usize) -> anyhow::Result<()> {
    if let Some(reason) = lab::unavailable_reason() {
        bail!("cannot build a lab here: {reason}");
    }
    let path = state_file();
    if path.exists() {
        bail!(
            "a lab is already recorded in {}; run `cargo xtask lab down` first",
            path.display()
        );
    }
    let lab = Lab::new_manual(nodes).context("building the lab")?;
    let node_list: Vec<serde_json::Value> = lab
        .nodes()
        .iter()
        .map(|n| {
            serde_json::json!({
                "ns": n.ns, "ifname": n.ifname,
                "ipv4": format!("{}/{}", n.ipv4, n.ipv4_prefix),
                "ipv6": format!("{}/{}", n.ipv6, n.ipv6_prefix),
                "link_local": n.ipv6_link_local.to_string(),
            })
        })
        .collect();
    let state = serde_json::json!({
        "prefix": lab.prefix(),
        "bridge_ns": lab.bridge_ns(),
        "nodes": node_list,
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, serde_json::to_string_pretty(&state)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("lab up: bridge namespace {}", lab.bridge_ns());
    for n in lab.nodes() {
        println!(
            "  node {}: ns {}  {} {}/{} {}/{}  link-local {}",
            n.index,
            n.ns,
            n.ifname,
            n.ipv4,
            n.ipv4_prefix,
            n.ipv6,
            n.ipv6_prefix,
            n.ipv6_link_local
        );
    }
    if let Some(first) = lab.nodes().first() {
        println!("enter a node:   ip netns exec {} bash", first.ns);
        println!(
            "capture:        ip netns exec {} tcpdump -ni eth0",
            first.ns
        );
    }
    println!("tear down:      cargo xtask lab down");
    lab.keep();
    Ok(())
}

fn down(stale: bool) -> anyhow::Result<()> {
    let path = state_file();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let state: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a lab state file", path.display()))?;
            let Some(prefix) = state.get("prefix").and_then(serde_json::Value::as_str) else {
                bail!("{}: no \"prefix\" string", path.display());
            };
            if !prefix.starts_with(lab::MANUAL_PREFIX) {
                bail!(
                    "{}: prefix {prefix:?} is not a manual lab prefix ({}…)",
                    path.display(),
                    lab::MANUAL_PREFIX
                );
            }
            let deleted = lab::delete_namespaces_with_prefix(prefix)?;
            println!(
                "deleted {} namespaces: {}",
                deleted.len(),
                deleted.join(" ")
            );
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !stale {
                println!("no lab recorded in {}", path.display());
            }
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    if stale {
        let removed = lab::delete_stale_namespaces()?;
        println!(
            "deleted {} stale namespaces: {}",
            removed.len(),
            removed.join(" ")
        );
    }
    Ok(())
}
