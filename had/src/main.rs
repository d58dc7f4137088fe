//! `had`: the high-availability daemon.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("had: the daemon is not built yet")
}
