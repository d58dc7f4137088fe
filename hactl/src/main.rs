//! `hactl`: command-line client for the had daemon.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("hactl: not built yet")
}
