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
    /// TLS certificates of the running proxies.
    #[command(subcommand)]
    Cert(CertCommand),
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

/// `hactl cert ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum CertCommand {
    /// Read every TLS proxy's certificate and key files again.
    ///
    /// For certificates renewed in place; the configuration is not
    /// reloaded. A proxy whose files cannot be used keeps serving its old
    /// certificates, and the command exits 1 naming the file.
    Reload,
}

/// Run an online command against the daemon at `socket` (default
/// [`DEFAULT_SOCKET`]).
pub fn run(socket: Option<&Path>, command: OnlineCommand) -> ExitCode {
    run_with(
        socket,
        command,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// [`run`], printing to `out` and `err` instead of stdout and stderr.
fn run_with(
    socket: Option<&Path>,
    command: OnlineCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    let socket: PathBuf = socket.map_or_else(|| PathBuf::from(DEFAULT_SOCKET), Path::to_path_buf);
    match execute(&socket, command, out, err) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "hactl: {e}");
            if e.is_unreachable() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn execute(
    socket: &Path,
    command: OnlineCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, ClientError> {
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
                    print(out, &text);
                    ExitCode::SUCCESS
                }
                (_, _) => {
                    let _ = writeln!(
                        err,
                        "hactl: {}",
                        response.error.as_deref().unwrap_or("no status in answer")
                    );
                    ExitCode::from(1)
                }
            });
        }
        OnlineCommand::Events { follow, json } => {
            if !follow {
                let _ = writeln!(
                    err,
                    "hactl: events are live only; use `hactl events --follow`"
                );
                return Ok(ExitCode::from(1));
            }
            client.follow(|ev| {
                let line = if json {
                    serde_json::to_string(ev).unwrap_or_default()
                } else {
                    format!("{} {ev}", format_unix_ms(ev.unix_ms))
                };
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
        OnlineCommand::Cert(CertCommand::Reload) => Request::CertReload,
    };
    Ok(report(&client.call(&request)?, out, err))
}

/// Exit 0 printing the message on `out`, or 1 printing why on `err`.
fn report(response: &Response, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    if response.ok {
        if let Some(m) = &response.message {
            print(out, &format!("{m}\n"));
        }
        ExitCode::SUCCESS
    } else {
        print(err, &refusal(response));
        ExitCode::from(1)
    }
}

/// `hactl: refused: REASON`; a reason of several lines (one per proxy, for
/// `cert reload`) starts on the next line, each indented.
fn refusal(response: &Response) -> String {
    let reason = response.error.as_deref().unwrap_or("no reason given");
    if reason.contains('\n') {
        let lines: String = reason.lines().map(|l| format!("  {l}\n")).collect();
        format!("hactl: refused:\n{lines}")
    } else {
        format!("hactl: refused: {reason}\n")
    }
}

fn print(to: &mut dyn Write, text: &str) {
    let _ = to.write_all(text.as_bytes()).and_then(|()| to.flush());
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

    /// `(exit code, stdout, stderr)` of an online command.
    fn call(socket: &Path, command: OnlineCommand) -> (ExitCode, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_with(Some(socket), command, &mut out, &mut err);
        let text = |b: Vec<u8>| String::from_utf8(b).expect("UTF-8");
        (code, text(out), text(err))
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port()
    }

    /// A self-signed P-256 certificate for `name`, valid 30 days, made by
    /// the openssl CLI: `(cert, key)`.
    fn openssl_cert(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        let status = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "30", "-subj", &format!("/CN={name}")])
            .args(["-addext", &format!("subjectAltName=DNS:{name}")])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the openssl CLI runs");
        assert!(status.success(), "openssl req failed");
        (cert, key)
    }

    /// A daemon running `proxies` from `dir/had.toml`, stopped on drop.
    struct Daemon {
        socket: PathBuf,
        stop: had::runtime::StopHandle,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Daemon {
        fn start(dir: &Path, proxies: &str) -> Daemon {
            let socket = dir.join("had.sock");
            let config = dir.join("had.toml");
            let text = format!(
                "[global]\ncontrol_socket = \"{}\"\n\n{proxies}",
                socket.display()
            );
            std::fs::write(&config, text).expect("write config");
            let source: std::sync::Arc<dyn had::runtime::Source> =
                std::sync::Arc::new(had::runtime::source::FileSource::new(config));
            let (tx, rx) = std::sync::mpsc::channel();
            let thread = std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().expect("runtime");
                rt.block_on(async move {
                    let d = had::runtime::Daemon::start(source)
                        .await
                        .expect("daemon starts");
                    tx.send(d.stop_handle()).expect("send");
                    d.run().await.expect("daemon runs");
                });
            });
            let stop = rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("daemon started");
            Daemon {
                socket,
                stop,
                thread: Some(thread),
            }
        }
    }

    impl Drop for Daemon {
        fn drop(&mut self) {
            self.stop.stop();
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn proxy(name: &str, tls: Option<&(PathBuf, PathBuf)>) -> String {
        let tls = tls.map_or_else(String::new, |(cert, key)| {
            format!(
                "tls = {{ cert = \"{}\", key = \"{}\" }}\n",
                cert.display(),
                key.display()
            )
        });
        format!(
            "[proxy.{name}]\nlisten = [\"127.0.0.1:{}\"]\n{tls}\
             members = [{{ url = \"http://127.0.0.1:9\" }}]\n\n",
            free_port()
        )
    }

    /// `hactl cert reload`: one line per TLS proxy and exit 0; a bad key
    /// file is named, the old certificates keep serving, exit 1.
    /// `hactl status` shows the certificates.
    #[test]
    fn cert_reload_and_status_against_a_daemon() {
        let dir = tempfile::tempdir().expect("tempdir");
        let api = openssl_cert(dir.path(), "api.example.com");
        let www = openssl_cert(dir.path(), "www.example.com");
        let daemon = Daemon::start(
            dir.path(),
            &format!(
                "{}{}{}",
                proxy("www", Some(&www)),
                proxy("api", Some(&api)),
                proxy("plain", None)
            ),
        );
        let reload = || call(&daemon.socket, OnlineCommand::Cert(CertCommand::Reload));

        let (code, out, err) = reload();
        assert_eq!(code, ExitCode::SUCCESS, "{err}");
        assert_eq!(
            out,
            "proxy api: reloaded 1 certificate\nproxy www: reloaded 1 certificate\n"
        );
        assert_eq!(err, "");

        let (code, out, _) = call(&daemon.socket, OnlineCommand::Status { json: false });
        assert_eq!(code, ExitCode::SUCCESS);
        let line = out
            .lines()
            .find(|l| l.contains(&www.0.display().to_string()))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(out.contains("\nCERTIFICATES\n"), "{out}");
        assert!(line.contains("  www.example.com  until "), "{line}");
        assert!(
            line.ends_with("(29 days)") || line.ends_with("(30 days)"),
            "{line}"
        );
        let (_, out, _) = call(&daemon.socket, OnlineCommand::Status { json: true });
        let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        let www_status = v["proxies"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "www"))
            .expect("www");
        let c = &www_status["certificates"][0];
        assert_eq!(c["names"][0], "www.example.com", "{c}");
        assert!(c["not_after_unix"].is_i64(), "{c}");

        std::fs::write(&www.1, "garbage\n").expect("write");
        let (code, out, err) = reload();
        assert_eq!(code, ExitCode::from(1));
        assert_eq!(out, "");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 3, "{err}");
        assert_eq!(lines[0], "hactl: refused:");
        assert_eq!(lines[1], "  proxy api: reloaded 1 certificate");
        assert!(
            lines[2].starts_with(&format!("  proxy www: tls: {}: ", www.1.display()))
                && lines[2].ends_with("; its certificates in force keep serving"),
            "{err}"
        );
    }

    #[test]
    fn cert_reload_without_tls_exits_1() {
        let dir = tempfile::tempdir().expect("tempdir");
        let daemon = Daemon::start(dir.path(), &proxy("plain", None));
        let (code, out, err) = call(&daemon.socket, OnlineCommand::Cert(CertCommand::Reload));
        assert_eq!(code, ExitCode::from(1));
        assert_eq!(out, "");
        assert_eq!(
            err,
            "hactl: refused: no proxy serves TLS: there is no certificate to reload\n"
        );
        let (code, _, err) = call(
            &dir.path().join("absent.sock"),
            OnlineCommand::Cert(CertCommand::Reload),
        );
        assert_eq!(code, ExitCode::from(2), "{err}");
    }

    #[test]
    fn timestamps_are_utc_clock_times() {
        assert_eq!(format_unix_ms(3_723_004), "01:02:03.004");
    }
}
