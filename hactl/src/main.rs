//! `hactl`: command-line client for the had daemon.
//!
//! Offline commands work on files: `check` validates configurations (and,
//! given one per node, works out the failover arithmetic), `import` turns a
//! keepalived.conf or an Apache vhost into had.toml, `completions` and `man`
//! print shell completions and the manual page. Online commands (`status`,
//! `demote`, `cert reload`, ...) talk to a running daemon over its control
//! socket.
//!
//! Exit codes: 0 ok, 1 invalid input or refused request, 2 cannot reach the daemon.

mod online;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Command-line client for the had high-availability daemon.
#[derive(Debug, Parser)]
#[command(name = "hactl", version, about, long_about = None)]
struct Cli {
    /// Control socket of the daemon (default: /run/had/had.sock).
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Every hactl command.
#[derive(Debug, Subcommand)]
enum Command {
    /// Validate had.toml files (exit 0 valid, 1 invalid); with one file per
    /// node, report whether each tracked failure moves the VIP.
    Check {
        /// One had.toml per node.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print an equivalent had.toml on stdout; what is not carried over is listed on stderr.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    Man,
    #[command(flatten)]
    Online(online::OnlineCommand),
}

/// What to import from.
#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// A keepalived.conf (global_defs, vrrp_script, vrrp_instance, vrrp_sync_group, include).
    Keepalived {
        /// Read keepalived's `@ID` conditional lines as `keepalived -i ID` would.
        #[arg(long, value_name = "ID")]
        config_id: Option<String>,
        /// The keepalived.conf.
        file: PathBuf,
    },
    /// An Apache vhost using mod_proxy_balancer.
    Apache {
        /// The Apache configuration file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    // A usage error is invalid input (exit 1): exit 2 means "daemon unreachable".
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Check { files } => check(&files),
        Command::Import(ImportCommand::Keepalived { file, config_id }) => {
            let options = had::import::keepalived::Options { config_id };
            import(
                &file,
                had::import::keepalived::import_file_with(&file, &options),
            )
        }
        Command::Import(ImportCommand::Apache { file }) => {
            import(&file, had::import::apache::import_file(&file))
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "hactl", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man => {
            let mut out = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut out) {
                Ok(()) => {
                    let _ = std::io::stdout().write_all(&out);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("hactl: cannot render the manual: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Online(command) => online::run(cli.socket.as_deref(), command),
    }
}

fn check(files: &[PathBuf]) -> ExitCode {
    let report = had::check::check_files(files);
    let text = report.render();
    if report.is_valid() {
        print!("{text}");
        ExitCode::SUCCESS
    } else {
        eprint!("{text}");
        ExitCode::from(1)
    }
}

fn import(
    file: &Path,
    result: Result<had::import::Imported, had::import::ImportError>,
) -> ExitCode {
    let imported = match result {
        Ok(i) => i,
        Err(e) => {
            if let had::import::ImportError::Invalid { notes, .. } = &e {
                for n in notes {
                    eprintln!("not imported: {n}");
                }
            }
            eprintln!("{e}");
            eprintln!("{}: cannot import", file.display());
            return ExitCode::from(1);
        }
    };
    for n in &imported.notes {
        eprintln!("not imported: {n}");
    }
    let text = format!(
        "# had.toml imported from {}\n{}",
        file.display(),
        imported.toml()
    );
    print!("{text}");
    // The result must pass the same validation as `had --check`.
    match had::config::parse_str(&text, "(imported had.toml)") {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            eprintln!(
                "{}: imported, but the result is not valid: fix the lines above",
                file.display()
            );
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_reload_is_an_online_command() {
        let cli = Cli::try_parse_from(["hactl", "--socket", "/tmp/x.sock", "cert", "reload"])
            .expect("parses");
        assert!(
            matches!(
                cli.command,
                Command::Online(online::OnlineCommand::Cert(online::CertCommand::Reload))
            ),
            "{cli:?}"
        );
        // `cert` needs its action: a usage error (exit 1).
        let e = Cli::try_parse_from(["hactl", "cert"]).expect_err("usage error");
        assert!(e.use_stderr());
    }
}
