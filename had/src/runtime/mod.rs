//! The daemon: one tokio runtime for the control socket, metrics, checks and
//! proxies, and a dedicated thread for the VRRP path.
//!
//! [`Daemon::start`] loads a [`Source`], opens everything and returns;
//! [`Daemon::run`] then loops over signals, control requests and reports
//! until a graceful stop, which it carries out before returning.

pub mod kernel;
pub mod logging;
pub mod sd_notify;
pub mod source;
pub mod vrrp;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, broadcast, mpsc, oneshot, watch};

use crate::control::{self, ControlCall, Event, EventKind, Request, Response};
use crate::plan::{InstancePlan, Plan};
use crate::status::{CertificateStatus, CheckStatus, Override, ProxyStatus, State, Status};
use vrrp::{Report, VrrpThread};

/// Starts the VRRP thread for a set of instances (the production one speaks
/// through `vip-netlink`; tests pass an in-memory LAN).
pub type VrrpSpawner = Arc<
    dyn Fn(Vec<InstancePlan>, bool, mpsc::UnboundedSender<Report>) -> std::io::Result<VrrpThread>
        + Send
        + Sync,
>;

/// The running proxies, shared with `track_proxy` checks that count their members.
type Proxies = Arc<Mutex<BTreeMap<String, lb_proxy::ProxyHandle>>>;

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
    /// A health check could not be started.
    #[error("checks: {0}")]
    Checks(#[from] health::Error),
    /// A proxy could not be started.
    #[error("proxy.{name}: {source}")]
    Proxy {
        /// The proxy's name.
        name: String,
        /// The cause.
        source: lb_proxy::Error,
    },
    /// The VRRP thread could not be started.
    #[error("VRRP thread: {0}")]
    Vrrp(std::io::Error),
    /// `had --demo`: the built-in backends could not start.
    #[error("demo backends: {0}")]
    Demo(std::io::Error),
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
    calls: mpsc::Receiver<ControlCall>,
    events: broadcast::Sender<Event>,
    stop_servers: watch::Sender<bool>,
    stop_requested: Arc<Notify>,
    control_path: PathBuf,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    spawner: VrrpSpawner,
    vrrp: Option<VrrpThread>,
    reports_tx: mpsc::UnboundedSender<Report>,
    reports: mpsc::UnboundedReceiver<Report>,
    monitor: health::Monitor,
    changes: mpsc::UnboundedReceiver<health::HealthChange>,
    notifier: health::NotifyRunner,
    proxies: Proxies,
    /// Notify hooks started during shutdown (notify_stop), awaited bounded.
    /// `None` while running: hooks then run detached.
    hooks: Option<Vec<health::NotifyHandle>>,
    /// Last reported state of every instance, and of every sync group.
    states: BTreeMap<String, State>,
    group_states: BTreeMap<String, State>,
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
    /// [`Daemon::start_with`] over the kernel (`vip-netlink`).
    pub async fn start(source: Arc<dyn Source>) -> Result<Daemon, StartError> {
        Daemon::start_with(source, kernel::spawner()).await
    }

    /// Load the configuration and open the control socket, metrics listener,
    /// proxies, checks and VRRP instances (through `spawner`). Must be called
    /// inside a multi-threaded tokio runtime.
    pub async fn start_with(
        source: Arc<dyn Source>,
        spawner: VrrpSpawner,
    ) -> Result<Daemon, StartError> {
        let plan = source.load()?;
        let (calls_tx, calls) = mpsc::channel(64);
        let (events, _) = broadcast::channel(1024);
        let (stop_servers, stop_rx) = watch::channel(false);

        // Proxies first: a listener that cannot bind is a start failure the
        // operator must see before any VIP moves here.
        let proxies: Proxies = Arc::default();
        for (name, cfg) in &plan.proxies {
            let handle =
                lb_proxy::ProxyHandle::start(cfg.clone()).map_err(|source| StartError::Proxy {
                    name: name.clone(),
                    source,
                })?;
            tracing::info!(
                "proxy {name} listening on {}",
                join(handle.local_addrs().iter())
            );
            lock(&proxies).insert(name.clone(), handle);
        }
        let (monitor, changes) = health::Monitor::start(checks_for(&plan, &proxies))?;

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
            tracing::info!(
                "metrics on http://{}/metrics",
                l.local_addr().unwrap_or(addr)
            );
            tasks.push(tokio::spawn(crate::metrics::serve(
                l,
                calls_tx.clone(),
                stop_rx.clone(),
            )));
        }

        let (reports_tx, reports) = mpsc::unbounded_channel();
        let vrrp = if plan.instances.is_empty() {
            None
        } else {
            Some(
                spawner(plan.instances.clone(), plan.realtime, reports_tx.clone())
                    .map_err(StartError::Vrrp)?,
            )
        };
        tracing::info!(
            "had {} started: router_id {}, config {}, control socket {}, {} instance(s), {} check(s), {} proxy(ies)",
            env!("CARGO_PKG_VERSION"),
            plan.router_id,
            source.describe(),
            plan.control_socket.display(),
            plan.instances.len(),
            plan.checks.len() + plan.proxy_checks.len(),
            plan.proxies.len(),
        );
        Ok(Daemon {
            control_path: plan.control_socket.clone(),
            notifier: health::NotifyRunner::new(plan.notify_timeout),
            source,
            plan,
            started: Instant::now(),
            reloads: 0,
            calls,
            events,
            stop_servers,
            stop_requested: Arc::new(Notify::new()),
            tasks,
            spawner,
            vrrp,
            reports_tx,
            reports,
            monitor,
            changes,
            proxies,
            hooks: None,
            states: BTreeMap::new(),
            group_states: BTreeMap::new(),
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

    /// Where each proxy listens (actual ports when configured with port 0).
    pub fn proxy_addrs(&self) -> BTreeMap<String, Vec<std::net::SocketAddr>> {
        lock(&self.proxies)
            .iter()
            .map(|(n, p)| (n.clone(), p.local_addrs().to_vec()))
            .collect()
    }

    /// Run until SIGTERM/SIGINT or [`StopHandle::stop`], reloading on SIGHUP,
    /// then stop gracefully.
    pub async fn run(mut self) -> Result<(), StartError> {
        let mut hup = signal(SignalKind::hangup()).map_err(StartError::Signals)?;
        let mut term = signal(SignalKind::terminate()).map_err(StartError::Signals)?;
        let mut int = signal(SignalKind::interrupt()).map_err(StartError::Signals)?;
        sd_notify::notify("READY=1");
        let stop = self.stop_requested.clone();
        let mut watchdog = tokio::time::interval(Duration::from_secs(1));
        let mut failure = None;
        loop {
            tokio::select! {
                _ = watchdog.tick() => {
                    if self.vrrp.as_ref().is_some_and(|v| !v.is_running()) {
                        // Without its VRRP thread the node would hold or
                        // miss VIPs blindly: stop, and let systemd restart us.
                        tracing::error!("the VRRP thread stopped unexpectedly; stopping had");
                        failure = Some(StartError::Vrrp(std::io::Error::other(
                            "the VRRP thread stopped unexpectedly",
                        )));
                        break;
                    }
                }
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading {}", self.source.describe());
                    let _ = self.reload().await;
                }
                _ = term.recv() => { tracing::info!("SIGTERM: stopping"); break; }
                _ = int.recv() => { tracing::info!("SIGINT: stopping"); break; }
                () = stop.notified() => { tracing::info!("stop requested"); break; }
                Some(report) = self.reports.recv() => self.on_report(report),
                Some(change) = self.changes.recv() => self.on_health(change),
                Some(call) = self.calls.recv() => {
                    let response = self.handle(call.request).await;
                    let _ = call.reply.send(response);
                }
            }
        }
        self.shutdown().await;
        failure.map_or(Ok(()), Err)
    }

    async fn handle(&mut self, request: Request) -> Response {
        match request {
            Request::Status => Response::status(self.status()),
            Request::Demote { instance } => {
                self.set_override(instance, Some(Override::Demoted)).await
            }
            Request::Promote { instance } => {
                self.set_override(instance, Some(Override::Promoted)).await
            }
            Request::Clear { instance } => self.set_override(instance, None).await,
            Request::MemberDisable { proxy, url } => self.set_member(&proxy, &url, false),
            Request::MemberEnable { proxy, url } => self.set_member(&proxy, &url, true),
            Request::Reload => match self.reload().await {
                Ok(msg) => Response::done(msg),
                Err(e) => Response::refused(e),
            },
            Request::CertReload => self.reload_certificates(),
            // The control server answers `events` itself.
            Request::Events => Response::refused("events are served by the control socket"),
        }
    }

    fn publish(&self, kind: EventKind) {
        // No subscriber is not an error.
        let _ = self.events.send(Event::now(kind));
    }

    fn on_report(&mut self, report: Report) {
        match report {
            Report::State {
                instance,
                from,
                to,
                reason,
                priority,
            } => {
                let target = match to {
                    State::Master => Some(health::TargetState::Master),
                    State::Backup => Some(health::TargetState::Backup),
                    State::Fault => Some(health::TargetState::Fault),
                    State::Init => Some(health::TargetState::Stop),
                };
                if let (Some(target), Some(plan)) = (
                    target,
                    self.plan.instances.iter().find(|i| i.name == instance),
                ) {
                    // Spawned: a slow hook never blocks anything.
                    let h = self.notifier.state_changed(
                        &plan.notify,
                        health::Subject::Instance,
                        &instance,
                        target,
                        priority,
                    );
                    self.keep_hook(h);
                }
                self.states.insert(instance.clone(), to);
                self.notify_group(&instance, to, target);
                self.publish(EventKind::State {
                    instance,
                    from,
                    to,
                    reason,
                });
            }
            Report::Priority {
                instance,
                priority,
                value,
            } => self.publish(EventKind::Priority {
                instance,
                effective_priority: priority,
                r#override: value,
            }),
        }
    }

    /// Keep a hook's handle during shutdown; detach it otherwise.
    fn keep_hook(&mut self, h: health::NotifyHandle) {
        if let Some(hooks) = self.hooks.as_mut()
            && !h.is_empty()
        {
            hooks.push(h);
        }
    }

    /// keepalived's group notifications: once every member of the
    /// instance's sync group is in `to`, the group's hooks run with `GROUP`.
    fn notify_group(&mut self, instance: &str, to: State, target: Option<health::TargetState>) {
        let Some(group) = self
            .plan
            .sync_groups
            .iter()
            .find(|g| g.members.iter().any(|m| m == instance))
        else {
            return;
        };
        let all = group
            .members
            .iter()
            .all(|m| self.states.get(m) == Some(&to));
        if !all || self.group_states.get(&group.name) == Some(&to) {
            return;
        }
        self.group_states.insert(group.name.clone(), to);
        tracing::info!("sync group {}: all members {to}", group.name);
        if let Some(target) = target {
            let h = self.notifier.state_changed(
                &group.notify,
                health::Subject::Group,
                &group.name,
                target,
                0,
            );
            self.keep_hook(h);
        }
    }

    fn on_health(&mut self, change: health::HealthChange) {
        let healthy = change.status == health::Status::Ok;
        // The health crate logs the transition itself.
        if let Some(v) = &self.vrrp {
            v.send(vrrp::Command::Check {
                name: change.check.clone(),
                healthy,
                value: change.value,
            });
        }
        self.publish(EventKind::Check {
            check: change.check,
            status: if healthy { "ok" } else { "failing" }.to_owned(),
        });
    }

    fn status(&self) -> Status {
        let checks = self
            .monitor
            .snapshot()
            .into_iter()
            .map(|c| CheckStatus {
                status: match c.status {
                    health::Status::Ok => "ok",
                    health::Status::Failed => "failing",
                    health::Status::Init => "unknown",
                }
                .to_owned(),
                target: c.kind.to_owned(),
                weight: c.weight,
                successes: c.successes,
                failures: c.failures,
                last_duration_secs: c.last_duration.map_or(0.0, |d| d.as_secs_f64()),
                last_output: c.last_output.or(c.last_error).unwrap_or_default(),
                name: c.name,
            })
            .collect::<Vec<_>>();
        let mut checks = checks;
        checks.sort_by(|a, b| a.name.cmp(&b.name));
        let now = std::time::SystemTime::now();
        let proxies = lock(&self.proxies)
            .iter()
            .filter_map(|(name, p)| {
                // Every running group has its plan; one that has not (a
                // reload in between) is left out of this one document.
                let (_, config) = self.plan.proxies.iter().find(|(n, _)| n == name)?;
                let mut status = ProxyStatus::of(name, config, p.stats(), p.local_addrs());
                status.certificates = p
                    .certificates()
                    .iter()
                    .map(|c| CertificateStatus::of(c, now))
                    .collect();
                Some(status)
            })
            .collect();
        Status {
            router_id: self.plan.router_id.clone(),
            pid: std::process::id(),
            uptime_secs: self.started.elapsed().as_secs_f64(),
            config: self.source.describe(),
            reloads: self.reloads,
            instances: self
                .vrrp
                .as_ref()
                .map(VrrpThread::status)
                .unwrap_or_default(),
            checks,
            proxies,
        }
    }

    async fn set_override(&mut self, instance: String, value: Option<Override>) -> Response {
        let Some(v) = &self.vrrp else {
            return Response::refused(format!("no instance named {instance:?}"));
        };
        let (reply, answer) = oneshot::channel();
        v.send(vrrp::Command::Override {
            instance: instance.clone(),
            value,
            reply,
        });
        match answer.await {
            Ok(Ok(priority)) => {
                let what = match value {
                    Some(Override::Demoted) => "demoted",
                    Some(Override::Promoted) => "promoted",
                    None => "override cleared",
                };
                tracing::info!("{instance}: {what} by the operator, priority {priority}");
                Response::done(format!("{instance}: {what}, effective priority {priority}"))
            }
            Ok(Err(e)) => Response::refused(e),
            Err(_) => Response::refused("the VRRP thread is not running"),
        }
    }

    fn set_member(&mut self, proxy: &str, url: &str, enable: bool) -> Response {
        let proxies = lock(&self.proxies);
        // A `[proxy]` runs in its listener group's lb-proxy.
        let group = self
            .plan
            .proxy_group
            .get(proxy)
            .map_or(proxy, String::as_str);
        let Some(p) = proxies.get(group) else {
            return Response::refused(format!("no proxy named {proxy:?}"));
        };
        match p.set_member_enabled(url, enable) {
            Ok(()) => {
                let action = if enable { "enabled" } else { "disabled" };
                tracing::info!("proxy {proxy}: member {url} {action} by the operator");
                drop(proxies);
                self.publish(EventKind::Member {
                    proxy: proxy.to_owned(),
                    url: url.to_owned(),
                    action: action.to_owned(),
                });
                Response::done(format!("proxy {proxy}: {url} {action}"))
            }
            Err(e) => Response::refused(format!("proxy {proxy}: {e}")),
        }
    }

    /// `hactl cert reload`: every TLS listener group reads the certificate
    /// files in force again. One line per group; refused when any group
    /// failed (that group keeps serving the certificates it had) or when
    /// no group serves TLS.
    fn reload_certificates(&self) -> Response {
        let proxies = lock(&self.proxies);
        let mut lines = Vec::new();
        let mut failed = false;
        for (name, p) in proxies.iter() {
            match p.reload_certificates() {
                Ok(false) => {}
                Ok(true) => {
                    let n = p.certificates().len();
                    let what = if n == 1 {
                        "certificate"
                    } else {
                        "certificates"
                    };
                    tracing::info!("proxy {name}: {n} {what} reloaded by the operator");
                    lines.push(format!("proxy {name}: reloaded {n} {what}"));
                }
                Err(e) => {
                    failed = true;
                    let line = format!("proxy {name}: {e}; its certificates in force keep serving");
                    tracing::error!("certificate reload: {line}");
                    lines.push(line);
                }
            }
        }
        drop(proxies);
        if lines.is_empty() {
            Response::refused("no proxy serves TLS: there is no certificate to reload")
        } else if failed {
            Response::refused(lines.join("\n"))
        } else {
            Response::done(lines.join("\n"))
        }
    }

    /// Load the configuration again and apply it; on error nothing changes.
    async fn reload(&mut self) -> Result<String, String> {
        sd_notify::notify("RELOADING=1");
        let result = match self.source.load() {
            Ok(plan) => match self.apply(plan).await {
                Ok(msg) => {
                    self.reloads += 1;
                    tracing::info!("reload: {msg}");
                    self.publish(EventKind::Reload {
                        ok: true,
                        message: msg.clone(),
                    });
                    Ok(msg)
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e.to_string()),
        };
        let result = result.map_err(|e| {
            let msg = format!("new configuration refused, the old one keeps running: {e}");
            tracing::error!("reload: {msg}");
            self.publish(EventKind::Reload {
                ok: false,
                message: msg.clone(),
            });
            msg
        });
        sd_notify::notify("READY=1");
        result
    }

    /// Swap the running configuration for `plan`. Everything that can
    /// refuse (proxy listeners, checks) is tried before anything changes.
    async fn apply(&mut self, mut plan: Plan) -> Result<String, String> {
        let mut notes = Vec::new();
        if plan.control_socket != self.plan.control_socket {
            notes.push(format!(
                "control_socket change to {} needs a restart",
                plan.control_socket.display()
            ));
            plan.control_socket.clone_from(&self.plan.control_socket);
        }
        if plan.metrics_listen != self.plan.metrics_listen {
            notes.push("metrics_listen change needs a restart".to_owned());
            plan.metrics_listen = self.plan.metrics_listen;
        }

        // Proxies: kept ones must accept their new config (same listeners),
        // new ones must bind. Nothing is swapped until all are known good.
        let mut started = BTreeMap::new();
        {
            let running = lock(&self.proxies);
            for (name, cfg) in &plan.proxies {
                match running.get(name) {
                    Some(p) => {
                        let old = self.plan.proxies.iter().find(|(n, _)| n == name);
                        if old.is_some_and(|(_, c)| c.listen != cfg.listen) {
                            return Err(format!(
                                "proxy.{name}.listen cannot change on reload; restart had"
                            ));
                        }
                        let _ = p;
                    }
                    None => {
                        let h = lb_proxy::ProxyHandle::start(cfg.clone())
                            .map_err(|e| format!("proxy.{name}: {e}"))?;
                        started.insert(name.clone(), h);
                    }
                }
            }
        }
        if let Err(e) = self.monitor.reconfigure(checks_for(&plan, &self.proxies)) {
            return Err(format!("checks: {e}"));
        }
        let mut removed = Vec::new();
        {
            let mut running = lock(&self.proxies);
            for (name, cfg) in &plan.proxies {
                if let Some(p) = running.get(name)
                    && let Err(e) = p.reload(cfg)
                {
                    notes.push(format!("proxy.{name}: {e}"));
                }
            }
            let names: Vec<String> = running.keys().cloned().collect();
            for name in names {
                if !plan.proxies.iter().any(|(n, _)| *n == name)
                    && let Some(p) = running.remove(&name)
                {
                    removed.push((name, p));
                }
            }
            running.extend(started);
        }
        for (name, p) in removed {
            let report = p.drain(plan.drain_timeout).await;
            notes.push(format!(
                "proxy {name} removed ({} connection(s) cut at the drain deadline)",
                report.unfinished_connections
            ));
        }

        let vrrp_msg = match &self.vrrp {
            Some(v) => {
                let (reply, answer) = oneshot::channel();
                v.send(vrrp::Command::Reload {
                    instances: plan.instances.clone(),
                    reply,
                });
                answer.await.unwrap_or_else(|_| "VRRP thread gone".into())
            }
            None if !plan.instances.is_empty() => {
                match (self.spawner)(
                    plan.instances.clone(),
                    plan.realtime,
                    self.reports_tx.clone(),
                ) {
                    Ok(t) => {
                        self.vrrp = Some(t);
                        format!("VRRP: {} started", plan.instances.len())
                    }
                    Err(e) => format!("VRRP thread: {e}"),
                }
            }
            None => "VRRP: no instances".to_owned(),
        };
        self.notifier = health::NotifyRunner::new(plan.notify_timeout);
        self.plan = plan;
        // Resend every check's current result: new instances start from
        // "healthy" until told otherwise.
        if let Some(v) = &self.vrrp {
            for c in self.monitor.snapshot() {
                if c.status != health::Status::Init {
                    v.send(vrrp::Command::Check {
                        name: c.name,
                        healthy: c.status == health::Status::Ok,
                        value: c.value,
                    });
                }
            }
        }
        notes.insert(0, vrrp_msg);
        Ok(format!("configuration reloaded: {}", notes.join("; ")))
    }

    /// SIGTERM: priority-0 adverts and VIPs removed first (the peer takes
    /// over within Skew_Time), then proxies drain up to the deadline.
    async fn shutdown(mut self) {
        sd_notify::notify("STOPPING=1");
        if let Some(v) = self.vrrp.take() {
            v.shutdown().await;
            // Deliver the last state changes (notify_stop hooks, events).
            self.hooks = Some(Vec::new());
            while let Ok(r) = self.reports.try_recv() {
                self.on_report(r);
            }
            // notify_stop and the last hooks: let them finish, bounded.
            let hooks = self.hooks.take().unwrap_or_default();
            let limit = self.plan.notify_timeout.min(Duration::from_secs(10));
            let all = futures_join(hooks.into_iter().map(health::NotifyHandle::wait));
            if tokio::time::timeout(limit, all).await.is_err() {
                tracing::warn!("notify hooks still running after {limit:?} at stop");
            }
        }
        let proxies: Vec<(String, lb_proxy::ProxyHandle)> =
            std::mem::take(&mut *lock(&self.proxies))
                .into_iter()
                .collect();
        for (name, p) in proxies {
            let report = p.drain(self.plan.drain_timeout).await;
            tracing::info!(
                "proxy {name} drained ({} connection(s) cut at the deadline)",
                report.unfinished_connections
            );
        }
        let _ = self.stop_servers.send(true);
        self.calls.close();
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        let _ = std::fs::remove_file(&self.control_path);
        tracing::info!("had stopped");
    }
}

/// Await every future (sequentially: hooks already run concurrently on
/// their own tasks, so waiting in order costs nothing extra).
async fn futures_join<F: std::future::Future>(futs: impl Iterator<Item = F>) {
    for f in futs {
        f.await;
    }
}

/// Lock a std mutex, recovering the data if a panicking thread poisoned it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// The plan's checks plus its `track_proxy` checks bound to the running proxies.
fn checks_for(plan: &Plan, proxies: &Proxies) -> Vec<health::CheckConfig> {
    let mut checks = plan.checks.clone();
    for pc in &plan.proxy_checks {
        let proxies = proxies.clone();
        let vhost = pc.proxy.clone();
        // The `[proxy]` watched runs in its listener group's lb-proxy; it
        // counts the members of the balancers that host's routes use.
        let group = plan
            .proxy_group
            .get(&pc.proxy)
            .cloned()
            .unwrap_or_else(|| pc.proxy.clone());
        let members_up: health::MembersUp = Arc::new(move || {
            lock(&proxies)
                .get(&group)
                .and_then(|p| p.members_up_of(&vhost))
                .unwrap_or(0)
        });
        let mut c = health::CheckConfig::new(
            pc.name.clone(),
            health::Probe::ProxyMembers(health::ProxyMembersProbe {
                min_up: pc.min_up,
                members_up,
            }),
        );
        c.weight = pc.weight;
        c.interval = Duration::from_millis(500);
        c.timeout = Some(Duration::from_millis(500));
        checks.push(c);
    }
    checks
}
