//! The daemon: one tokio runtime for the control socket, metrics, checks and
//! proxies, and a dedicated thread for the VRRP path.
//!
//! [`Daemon::start`] loads a [`Source`], opens everything and returns;
//! [`Daemon::run`] then loops over signals, control requests and reports
//! until a graceful stop, which it carries out before returning.

pub mod logging;
pub mod sd_notify;
pub mod vrrp;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, broadcast, mpsc, watch};

use crate::control::{self, ControlCall, Event, EventKind, Request, Response};
use crate::plan::Plan;
use crate::status::{Override, Status};

/// Where the configuration comes from; asked again on every reload.
pub trait Source: Send + Sync + 'static {
    /// Read and validate the configuration and turn it into a [`Plan`].
    fn load(&self) -> Result<Plan, LoadError>;
    /// A short description for logs and status (the file path).
    fn describe(&self) -> String;
}

/// Why a configuration could not be turned into a plan.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(#[from] LoadError),
    /// The control socket could not be opened.
    #[error(transparent)]
    Control(#[from] control::BindError),
    /// The metrics listener could not be opened.
    #[error("{0}")]
    Metrics(std::io::Error),
    /// Signal handlers could not be installed.
    #[error("signal handler: {0}")]
    Signals(std::io::Error),
}

/// Asks a running [`Daemon`] to stop gracefully (what SIGTERM does).
#[derive(Debug, Clone)]
pub struct StopHandle(Arc<Notify>);

impl StopHandle {
    /// Request a graceful stop; [`Daemon::run`] returns once it is done.
    pub fn stop(&self) {
        self.0.notify_one();
    }
}

/// A started daemon.
pub struct Daemon {
    source: Arc<dyn Source>,
    plan: Plan,
    started: Instant,
    reloads: u64,
    calls_tx: mpsc::Sender<ControlCall>,
    calls: mpsc::Receiver<ControlCall>,
    events: broadcast::Sender<Event>,
    stop_servers: watch::Sender<bool>,
    stop_requested: Arc<Notify>,
    overrides: BTreeMap<String, Override>,
    control_path: PathBuf,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("source", &self.source.describe())
            .field("router_id", &self.plan.router_id)
            .finish_non_exhaustive()
    }
}

impl Daemon {
    /// Load the configuration and open the control socket, metrics listener,
    /// proxies, checks and VRRP instances. Must be called inside a tokio
    /// runtime.
    pub async fn start(source: Arc<dyn Source>) -> Result<Daemon, StartError> {
        let plan = source.load()?;
        let (calls_tx, calls) = mpsc::channel(64);
        let (events, _) = broadcast::channel(1024);
        let (stop_servers, stop_rx) = watch::channel(false);

        let listener = control::bind(&plan.control_socket)?;
        let mut tasks = vec![tokio::spawn(control::serve(
            listener,
            calls_tx.clone(),
            events.clone(),
            stop_rx.clone(),
        ))];
        if let Some(addr) = plan.metrics_listen {
            let l = crate::metrics::bind(addr)
                .await
                .map_err(StartError::Metrics)?;
            tracing::info!("metrics on http://{}/metrics", l.local_addr().unwrap_or(addr));
            tasks.push(tokio::spawn(crate::metrics::serve(
                l,
                calls_tx.clone(),
                stop_rx.clone(),
            )));
        }
        tracing::info!(
            "had {} started: router_id {}, config {}, control socket {}",
            env!("CARGO_PKG_VERSION"),
            plan.router_id,
            source.describe(),
            plan.control_socket.display()
        );
        Ok(Daemon {
            control_path: plan.control_socket.clone(),
            source,
            plan,
            started: Instant::now(),
            reloads: 0,
            calls_tx,
            calls,
            events,
            stop_servers,
            stop_requested: Arc::new(Notify::new()),
            overrides: BTreeMap::new(),
            tasks,
        })
    }

    /// A handle that asks [`Daemon::run`] to stop gracefully.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.stop_requested.clone())
    }

    /// The control socket path.
    pub fn control_socket(&self) -> &std::path::Path {
        &self.control_path
    }

    /// A sender for control requests (what the control socket feeds).
    pub fn control_sender(&self) -> mpsc::Sender<ControlCall> {
        self.calls_tx.clone()
    }

    /// Run until SIGTERM/SIGINT or [`StopHandle::stop`], reloading on SIGHUP,
    /// then stop gracefully.
    pub async fn run(mut self) -> Result<(), StartError> {
        let mut hup = signal(SignalKind::hangup()).map_err(StartError::Signals)?;
        let mut term = signal(SignalKind::terminate()).map_err(StartError::Signals)?;
        let mut int = signal(SignalKind::interrupt()).map_err(StartError::Signals)?;
        sd_notify::notify("READY=1");
        let stop = self.stop_requested.clone();
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading {}", self.source.describe());
                    let _ = self.reload().await;
                }
                _ = term.recv() => { tracing::info!("SIGTERM: stopping"); break; }
                _ = int.recv() => { tracing::info!("SIGINT: stopping"); break; }
                () = stop.notified() => { tracing::info!("stop requested"); break; }
                Some(call) = self.calls.recv() => {
                    let response = self.handle(call.request).await;
                    let _ = call.reply.send(response);
                }
            }
        }
        self.shutdown().await;
        Ok(())
    }

    async fn handle(&mut self, request: Request) -> Response {
        match request {
            Request::Status => Response::status(self.status()),
            Request::Demote { instance } => self.set_override(&instance, Some(Override::Demoted)),
            Request::Promote { instance } => {
                self.set_override(&instance, Some(Override::Promoted))
            }
            Request::Clear { instance } => self.set_override(&instance, None),
            Request::MemberDisable { proxy, url } => self.set_member(&proxy, &url, false),
            Request::MemberEnable { proxy, url } => self.set_member(&proxy, &url, true),
            Request::Reload => match self.reload().await {
                Ok(msg) => Response::done(msg),
                Err(e) => Response::refused(e),
            },
            // The control server answers `events` itself.
            Request::Events => Response::refused("events are served by the control socket"),
        }
    }

    fn publish(&self, kind: EventKind) {
        // No subscriber is not an error.
        let _ = self.events.send(Event::now(kind));
    }

    fn status(&self) -> Status {
        Status {
            router_id: self.plan.router_id.clone(),
            pid: std::process::id(),
            uptime_secs: self.started.elapsed().as_secs_f64(),
            config: self.source.describe(),
            reloads: self.reloads,
            instances: Vec::new(),
            checks: Vec::new(),
            proxies: Vec::new(),
        }
    }

    fn set_override(&mut self, instance: &str, ov: Option<Override>) -> Response {
        let _ = &self.overrides;
        let _ = ov;
        Response::refused(format!("no instance named {instance:?}"))
    }

    fn set_member(&mut self, proxy: &str, url: &str, enable: bool) -> Response {
        let _ = (url, enable);
        Response::refused(format!("no proxy named {proxy:?}"))
    }

    /// Load the configuration again and apply it; on error nothing changes.
    async fn reload(&mut self) -> Result<String, String> {
        sd_notify::notify("RELOADING=1");
        let result = match self.source.load() {
            Ok(plan) => {
                let msg = self.apply(plan).await;
                self.reloads += 1;
                tracing::info!("reload: {msg}");
                self.publish(EventKind::Reload {
                    ok: true,
                    message: msg.clone(),
                });
                Ok(msg)
            }
            Err(e) => {
                let msg = format!("new configuration refused, the old one keeps running: {e}");
                tracing::error!("reload: {msg}");
                self.publish(EventKind::Reload {
                    ok: false,
                    message: msg.clone(),
                });
                Err(msg)
            }
        };
        sd_notify::notify("READY=1");
        result
    }

    /// Swap the running configuration for `plan`.
    async fn apply(&mut self, plan: Plan) -> String {
        let mut notes = Vec::new();
        if plan.control_socket != self.plan.control_socket {
            notes.push(format!(
                "control_socket change to {} needs a restart",
                plan.control_socket.display()
            ));
        }
        if plan.metrics_listen != self.plan.metrics_listen {
            notes.push("metrics_listen change needs a restart".to_owned());
        }
        let mut kept = plan;
        kept.control_socket.clone_from(&self.plan.control_socket);
        kept.metrics_listen = self.plan.metrics_listen;
        self.plan = kept;
        if notes.is_empty() {
            "configuration reloaded".to_owned()
        } else {
            format!("configuration reloaded ({})", notes.join("; "))
        }
    }

    async fn shutdown(mut self) {
        sd_notify::notify("STOPPING=1");
        let _ = self.stop_servers.send(true);
        self.calls.close();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        let _ = std::fs::remove_file(&self.control_path);
        tracing::info!("had stopped");
    }
}
