//! The online commands: they talk to a running daemon over its control socket.
//!
//! Exit codes (DESIGN.md): 0 ok, 1 refused request, 2 daemon unreachable.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use had::control::{Client, ClientError, Request, Response};

/// The default control socket, as in DESIGN.md's `[global] control_socket`.
pub const DEFAULT_SOCKET: &str = "/run/had/had.sock";

/// Commands answered by a running daemon.
#[derive(Debug, Clone, Subcommand)]
pub enum OnlineCommand {
    /// Show the node's instances, checks and proxy members.
    Status {
        /// Print the status as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Force an instance's priority to 1 (peers take the VIP) until `clear`.
    Demote {
        /// Instance name.
        instance: String,
    },
    /// Force an instance's priority to 254 (it takes the VIP) until `clear`.
    Promote {
        /// Instance name.
        instance: String,
    },
    /// Drop a demote/promote override.
    Clear {
        /// Instance name.
        instance: String,
    },
    /// Enable or disable a proxy member.
    Member {
        /// `enable` or `disable`.
        #[arg(value_parser = ["enable", "disable"])]
        action: String,
        /// Proxy name (`[proxy.NAME]`).
        proxy: String,
        /// Member URL as configured.
        url: String,
    },
    /// Reload the daemon's configuration (as SIGHUP, but with an answer).
    Reload,
    /// Print state changes and other events.
    Events {
        /// Keep streaming until interrupted (otherwise print nothing and exit:
        /// events are only ever live).
        #[arg(long, short)]
        follow: bool,
        /// Print each event as a JSON line.
        #[arg(long)]
        json: bool,
    },
}

/// Run an online command against the daemon at `socket` (default
/// [`DEFAULT_SOCKET`]).
pub fn run(socket: Option<&Path>, command: OnlineCommand) -> ExitCode {
    let socket: PathBuf = socket.map_or_else(|| PathBuf::from(DEFAULT_SOCKET), Path::to_path_buf);
    match execute(&socket, command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hactl: {e}");
            if e.is_unreachable() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn execute(socket: &Path, command: OnlineCommand) -> Result<ExitCode, ClientError> {
    let mut client = Client::connect(socket)?;
    let request = match command {
        OnlineCommand::Status { json } => {
            let response = client.call(&Request::Status)?;
            return Ok(match (response.ok, response.status) {
                (true, Some(status)) => {
                    let text = if json {
                        serde_json::to_string_pretty(&status).unwrap_or_default() + "\n"
                    } else {
                        status.to_table()
                    };
                    print_stdout(&text);
                    ExitCode::SUCCESS
                }
                (_, _) => {
                    eprintln!(
                        "hactl: {}",
                        response.error.as_deref().unwrap_or("no status in answer")
                    );
                    ExitCode::from(1)
                }
            });
        }
        OnlineCommand::Events { follow, json } => {
            if !follow {
                eprintln!("hactl: events are live only; use `hactl events --follow`");
                return Ok(ExitCode::from(1));
            }
            client.follow(|ev| {
                let line = if json {
                    serde_json::to_string(ev).unwrap_or_default()
                } else {
                    format!("{} {ev}", format_unix_ms(ev.unix_ms))
                };
                let mut out = std::io::stdout().lock();
                // A closed stdout (`| head`) ends the stream.
                writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        OnlineCommand::Demote { instance } => Request::Demote { instance },
        OnlineCommand::Promote { instance } => Request::Promote { instance },
        OnlineCommand::Clear { instance } => Request::Clear { instance },
        OnlineCommand::Member { action, proxy, url } => {
            if action == "enable" {
                Request::MemberEnable { proxy, url }
            } else {
                Request::MemberDisable { proxy, url }
            }
        }
        OnlineCommand::Reload => Request::Reload,
    };
    Ok(report(&client.call(&request)?))
}

fn report(response: &Response) -> ExitCode {
    if response.ok {
        if let Some(m) = &response.message {
            print_stdout(&format!("{m}\n"));
        }
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "hactl: refused: {}",
            response.error.as_deref().unwrap_or("no reason given")
        );
        ExitCode::from(1)
    }
}

fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// `HH:MM:SS.mmm` UTC: enough to read a failover's timing at a glance.
fn format_unix_ms(ms: u64) -> String {
    let secs = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_daemon_exits_2() {
        let dir = tempfile::tempdir().unwrap();
        let code = run(
            Some(&dir.path().join("absent.sock")),
            OnlineCommand::Status { json: true },
        );
        assert_eq!(code, ExitCode::from(2));
    }

    #[test]
    fn timestamps_are_utc_clock_times() {
        assert_eq!(format_unix_ms(3_723_004), "01:02:03.004");
    }
}
