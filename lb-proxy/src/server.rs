//! Listeners, worker threads and the [`ProxyHandle`] the daemon drives.
//!
//! Each worker is an OS thread running a single-threaded tokio runtime that
//! accepts on (a duplicate of) every listener and serves the connections it
//! accepted, with its own pool of member connections: no work crosses threads
//! on the request path. The worker count defaults to the CPUs this process may
//! run on (so `taskset -c 0` gives one worker).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{HealthCheckConfig, ProxyConfig};
use crate::layer::access_log::AccessLogWriter;
use crate::member::{Member, MemberStats, MemberStatus};
use crate::send_watch::{Stalled, Watched, WatchedExec};
use crate::settings::{Front, Settings};
use crate::sites::Sites;
use crate::timer::ConnTimer;
use crate::tls::{CertificateInfo, Certificates};
use crate::{Error, stack};

/// hyper's own limit of header fields when none is configured.
const HYPER_MAX_HEADERS: usize = 100;

/// State shared by all workers of one proxy.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) sites: Arc<ArcSwap<Sites>>,
    pub(crate) settings: ArcSwap<Settings>,
    pub(crate) access_log: Option<Arc<AccessLogWriter>>,
    /// TLS on every listener: the certificates, and the server side using
    /// them (rebuilt on reload, for the client CA).
    tls: Option<(Arc<Certificates>, ArcSwap<rustls::ServerConfig>)>,
    workers: usize,
    active: AtomicUsize,
    accepted: AtomicUsize,
    connection_slots: Arc<Semaphore>,
}

impl Shared {
    /// What the request stack of a connection needs of it.
    fn stack_parts(&self) -> stack::Parts<'_> {
        stack::Parts {
            sites: &self.sites,
            access_log: self.access_log.as_ref(),
        }
    }
}

/// Counts a client connection as active until dropped.
struct Active<'a>(&'a AtomicUsize);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One balancer's members, for `hactl status` and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct BalancerStats {
    /// Its name (`balancer://NAME`; the shorthand's is `default`).
    pub name: String,
    /// Per-member state and counters, in configuration order.
    pub members: Vec<MemberStats>,
}

/// Everything `hactl status` and metrics show about one proxy.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyStats {
    /// Every member of every balancer, balancer by balancer, in
    /// configuration order.
    pub members: Vec<MemberStats>,
    /// The same members by balancer.
    pub balancers: Vec<BalancerStats>,
    /// Client connections open now.
    pub active_connections: usize,
    /// Client connections accepted since start.
    pub accepted_connections: usize,
    /// Access log lines dropped because the disk could not keep up.
    pub access_log_dropped: u64,
}

/// What a drain achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    /// Client connections still open at the deadline (closed abruptly).
    pub unfinished_connections: usize,
}

struct Worker {
    thread: Option<std::thread::JoinHandle<()>>,
    stopped: Option<oneshot::Receiver<()>>,
}

/// A running proxy. Dropping it stops the workers at once; call
/// [`drain`](Self::drain) for a graceful stop.
pub struct ProxyHandle {
    shared: Arc<Shared>,
    listen: Vec<SocketAddr>,
    local_addrs: Vec<SocketAddr>,
    drain_tx: watch::Sender<bool>,
    stop_tx: watch::Sender<bool>,
    workers: Vec<Worker>,
    runtime: tokio::runtime::Handle,
    health: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for ProxyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyHandle")
            .field("local_addrs", &self.local_addrs)
            .finish_non_exhaustive()
    }
}

/// Binds `addr` with IP_FREEBIND, so an address this node does not hold yet
/// (a VIP while BACKUP) can be bound and serves the moment it arrives.
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
        socket.set_freebind_v6(true)?;
    } else {
        socket.set_freebind_v4(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

impl ProxyHandle {
    /// Validates `config`, binds its listeners and starts the workers.
    ///
    /// # Errors
    /// An invalid config, a listener that cannot be bound, an access log that
    /// cannot be opened, or a worker thread that cannot start.
    pub fn start(config: ProxyConfig) -> Result<Self, Error> {
        config.validate_settings()?;
        let workers = config.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        });
        let mut listeners = Vec::with_capacity(config.listen.len());
        for addr in &config.listen {
            listeners.push(bind(*addr).map_err(|source| Error::Listen {
                addr: *addr,
                source,
            })?);
        }
        let local_addrs = listeners
            .iter()
            .map(std::net::TcpListener::local_addr)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| Error::Listen {
                addr: config
                    .listen
                    .first()
                    .copied()
                    .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
                source,
            })?;
        let access_log = match &config.access_log {
            Some(path) => Some(
                AccessLogWriter::open(path).map_err(|source| Error::AccessLog {
                    path: path.clone(),
                    source,
                })?,
            ),
            None => None,
        };
        let tls = match &config.tls {
            Some(t) => {
                let certs = Arc::new(Certificates::load(t)?);
                let server = crate::tls::server_config(certs.clone(), t)?;
                Some((certs, ArcSwap::new(server)))
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            sites: Arc::new(ArcSwap::from_pointee(Sites::build(&config, workers, None)?)),
            settings: ArcSwap::from_pointee(Settings::of(&config)),
            access_log,
            tls,
            workers,
            active: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            connection_slots: Arc::new(Semaphore::new(
                config.max_connections.min(Semaphore::MAX_PERMITS),
            )),
        });
        let (drain_tx, _) = watch::channel(false);
        let (stop_tx, _) = watch::channel(false);
        let mut worker_handles = Vec::with_capacity(workers);
        let mut runtime = None;
        for index in 0..workers {
            let mine = listeners
                .iter()
                .map(std::net::TcpListener::try_clone)
                .collect::<Result<Vec<_>, _>>()
                .map_err(Error::Runtime)?;
            let (rt_tx, rt_rx) = std::sync::mpsc::sync_channel(1);
            let (stopped_tx, stopped_rx) = oneshot::channel();
            let shared = shared.clone();
            let drain = drain_tx.subscribe();
            let stop = stop_tx.subscribe();
            let thread = std::thread::Builder::new()
                .name(format!("lb-proxy-{index}"))
                .spawn(move || {
                    crate::pool::set_worker(index);
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            let _ = rt_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = rt_tx.send(Ok(rt.handle().clone()));
                    rt.block_on(worker(mine, shared, drain, stop));
                    drop(rt);
                    let _ = stopped_tx.send(());
                })
                .map_err(Error::Runtime)?;
            let handle = rt_rx
                .recv()
                .map_err(|_| Error::Runtime(std::io::Error::other("worker thread exited early")))?
                .map_err(Error::Runtime)?;
            runtime.get_or_insert(handle);
            worker_handles.push(Worker {
                thread: Some(thread),
                stopped: Some(stopped_rx),
            });
        }
        let runtime = runtime.ok_or_else(|| Error::Runtime(std::io::Error::other("no worker")))?;
        let handle = Self {
            shared,
            listen: config.listen.clone(),
            local_addrs,
            drain_tx,
            stop_tx,
            workers: worker_handles,
            runtime,
            health: std::sync::Mutex::new(Vec::new()),
        };
        handle.start_health_checks(config.health_check.as_ref());
        tracing::info!(listen = ?handle.local_addrs, workers, "proxy started");
        Ok(handle)
    }

    fn start_health_checks(&self, cfg: Option<&HealthCheckConfig>) {
        let mut tasks = self
            .health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for t in tasks.drain(..) {
            t.abort();
        }
        let sites = self.shared.sites.load();
        let members = sites.balancers().iter().flat_map(|b| b.list());
        match cfg {
            Some(cfg) => {
                let cfg = Arc::new(cfg.clone());
                for m in members {
                    tasks.push(
                        self.runtime
                            .spawn(crate::health::run(m.clone(), cfg.clone())),
                    );
                }
            }
            None => {
                for m in members {
                    m.set_health(true);
                }
            }
        }
    }

    /// The bound addresses (useful with port 0).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Applies a new config without closing listeners or connections: the
    /// member list is swapped atomically (members keeping their URL keep
    /// their counters, state and pooled connections); other settings apply to
    /// connections accepted from now on.
    ///
    /// # Errors
    /// An invalid config, or one whose `listen`, `access_log`, `workers` or
    /// `max_connections` differ (those need a restart: [`Error::NeedsRestart`]).
    pub fn reload(&self, config: &ProxyConfig) -> Result<(), Error> {
        config.validate_settings()?;
        if config.listen != self.listen {
            return Err(Error::NeedsRestart { field: "listen" });
        }
        if config.access_log.as_deref() != self.shared.access_log.as_ref().map(|w| w.path()) {
            return Err(Error::NeedsRestart {
                field: "access_log",
            });
        }
        if config.workers.is_some_and(|w| w != self.shared.workers) {
            return Err(Error::NeedsRestart { field: "workers" });
        }
        if self.shared.tls.is_some() != config.tls.is_some() {
            return Err(Error::NeedsRestart { field: "tls" });
        }
        let settings = Settings::of(config);
        let old = self.shared.sites.load_full();
        let new = Sites::build(config, self.shared.workers, Some(&old))?;
        // New handshakes use the new files. This is the last step that can
        // fail: a bad certificate keeps the old set and fails the whole
        // reload before anything else changed.
        if let (Some((certs, server)), Some(t)) = (&self.shared.tls, &config.tls) {
            let new = crate::tls::server_config(certs.clone(), t)?;
            certs.reload(Some(t))?;
            server.store(new);
        }
        let kept = |m: &Arc<Member>| {
            new.balancers()
                .iter()
                .any(|b| b.list().iter().any(|n| Arc::ptr_eq(n, m)))
        };
        for gone in old
            .balancers()
            .iter()
            .flat_map(|b| b.list())
            .filter(|m| !kept(m))
        {
            gone.pool.clear();
        }
        self.shared.sites.store(Arc::new(new));
        self.shared.settings.store(Arc::new(settings));
        self.start_health_checks(config.health_check.as_ref());
        tracing::info!("proxy reloaded");
        Ok(())
    }

    /// `hactl cert reload`: reads the certificate files in force again.
    /// Open connections keep their session; new handshakes use the new
    /// certificates.
    ///
    /// # Errors
    /// The first certificate that cannot be used, naming its file; the
    /// certificates in force stay. `Ok(false)` when the proxy has no TLS.
    pub fn reload_certificates(&self) -> Result<bool, Error> {
        match &self.shared.tls {
            Some((certs, _)) => {
                certs.reload(None)?;
                tracing::info!(listen = ?self.local_addrs, "certificates reloaded");
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The certificates in force (empty without TLS).
    pub fn certificates(&self) -> Vec<CertificateInfo> {
        self.shared
            .tls
            .as_ref()
            .map(|(certs, _)| certs.info())
            .unwrap_or_default()
    }

    /// `hactl member enable|disable URL`: the member with that URL in every
    /// balancer that has one.
    ///
    /// # Errors
    /// [`Error::UnknownMember`] when no member has that URL.
    pub fn set_member_enabled(&self, url: &str, enabled: bool) -> Result<(), Error> {
        let sites = self.shared.sites.load();
        let mut found = false;
        for m in sites.balancers().iter().filter_map(|b| b.get(url)) {
            m.set_enabled(enabled);
            found = true;
        }
        if found {
            Ok(())
        } else {
            Err(Error::UnknownMember(url.to_owned()))
        }
    }

    /// Members usable now, over every balancer (for health checks of the
    /// proxy itself).
    pub fn members_up(&self) -> usize {
        self.shared
            .sites
            .load()
            .balancers()
            .iter()
            .flat_map(|b| b.list())
            .filter(|m| m.status() == MemberStatus::Up)
            .count()
    }

    /// Members usable now in the balancers virtual host `vhost` sends to;
    /// `None` when no host has that name (`track_proxy` of one `[proxy]` in
    /// a listener group).
    pub fn members_up_of(&self, vhost: &str) -> Option<usize> {
        let sites = self.shared.sites.load();
        let balancers = sites.balancers_of(vhost);
        if balancers.is_empty() && !sites.has_host(vhost) {
            return None;
        }
        Some(
            balancers
                .iter()
                .flat_map(|b| b.list())
                .filter(|m| m.status() == MemberStatus::Up)
                .count(),
        )
    }

    /// A snapshot of counters and states.
    pub fn stats(&self) -> ProxyStats {
        let sites = self.shared.sites.load();
        let balancers: Vec<BalancerStats> = sites
            .balancers()
            .iter()
            .map(|b| BalancerStats {
                name: b.name.clone(),
                members: b.list().iter().map(|m| m.stats()).collect(),
            })
            .collect();
        ProxyStats {
            members: balancers.iter().flat_map(|b| b.members.clone()).collect(),
            balancers,
            active_connections: self.shared.active.load(Ordering::Relaxed),
            accepted_connections: self.shared.accepted.load(Ordering::Relaxed),
            access_log_dropped: self.shared.access_log.as_ref().map_or(0, |w| w.dropped()),
        }
    }

    /// Graceful stop: close the listeners, let in-flight requests finish
    /// (idle keep-alive connections close at once), and after `deadline`
    /// close whatever is left.
    pub async fn drain(mut self, deadline: Duration) -> DrainReport {
        let _ = self.drain_tx.send(true);
        let until = Instant::now() + deadline;
        while self.shared.active.load(Ordering::Relaxed) > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let unfinished = self.shared.active.load(Ordering::Relaxed);
        let _ = self.stop_tx.send(true);
        for w in &mut self.workers {
            if let Some(rx) = w.stopped.take() {
                let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
            }
            if let Some(t) = w.thread.take_if(|t| t.is_finished()) {
                let _ = t.join();
            }
        }
        if let Some(log) = &self.shared.access_log {
            log.close();
        }
        tracing::info!(unfinished, "proxy drained");
        DrainReport {
            unfinished_connections: unfinished,
        }
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        for t in self
            .health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
        {
            t.abort();
        }
        let _ = self.drain_tx.send(true);
        let _ = self.stop_tx.send(true);
        if let Some(log) = &self.shared.access_log {
            log.flush();
        }
    }
}

async fn worker(
    listeners: Vec<std::net::TcpListener>,
    shared: Arc<Shared>,
    drain: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    for (index, l) in listeners.into_iter().enumerate() {
        match tokio::net::TcpListener::from_std(l) {
            Ok(l) => {
                tokio::spawn(accept_loop(l, index, shared.clone(), drain.clone()));
            }
            Err(e) => tracing::error!(error = %e, "cannot register listener"),
        }
    }
    let _ = stop.wait_for(|s| *s).await;
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    index: usize,
    shared: Arc<Shared>,
    mut drain: watch::Receiver<bool>,
) {
    loop {
        let permit = tokio::select! {
            biased;
            _ = drain.wait_for(|d| *d) => return,
            p = shared.connection_slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        let accepted = tokio::select! {
            biased;
            _ = drain.wait_for(|d| *d) => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        shared.active.fetch_add(1, Ordering::Relaxed);
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        let shared = shared.clone();
        let drain = drain.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _active = Active(&shared.active);
            serve(stream, peer, index, &shared, drain).await;
        });
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    listener: usize,
    shared: &Shared,
    mut drain: watch::Receiver<bool>,
) {
    let port = stream.local_addr().map_or(0, |a| a.port());
    let Some((certs, acceptor)) = &shared.tls else {
        if !first_bytes(&stream, shared, &mut drain).await {
            return;
        }
        let front = Front {
            tls: false,
            port,
            client_subject: None,
        };
        return serve_http1(stream, peer, listener, front, shared, drain).await;
    };
    // A client that stops mid-handshake (or never starts) holds its slot
    // only this long.
    let acceptor = tokio_rustls::TlsAcceptor::from(acceptor.load_full());
    let handshake = tokio::time::timeout(certs.handshake_timeout(), acceptor.accept(stream));
    let stream = tokio::select! {
        r = handshake => match r {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(client = %peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(client = %peer, "TLS handshake timed out");
                return;
            }
        },
        _ = drain.wait_for(|d| *d) => return,
    };
    // Plaintext that came with the handshake is already buffered in
    // rustls; otherwise wait for the first request's bytes.
    if stream.get_ref().1.wants_read() && !first_bytes(stream.get_ref().0, shared, &mut drain).await
    {
        return;
    }
    let front = Front {
        tls: true,
        port,
        client_subject: crate::tls::client_subject(stream.get_ref().1)
            .and_then(|s| http::HeaderValue::from_str(&s).ok()),
    };
    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        serve_http2(stream, peer, listener, front, shared, drain).await;
    } else {
        serve_http1(stream, peer, listener, front, shared, drain).await;
    }
}

/// Waits until the client has sent something, before any HTTP state (and
/// hyper's 16 KiB of buffers) exists for its connection: an idle client
/// costs its socket and little else. Bounded by `header_read_timeout`, as
/// hyper bounds the wait for a head; false when it expired or the proxy is
/// draining.
async fn first_bytes(
    stream: &tokio::net::TcpStream,
    shared: &Shared,
    drain: &mut watch::Receiver<bool>,
) -> bool {
    let limit = shared.settings.load().header_read_timeout;
    tokio::select! {
        r = tokio::time::timeout(limit, stream.readable()) => matches!(r, Ok(Ok(()))),
        _ = drain.wait_for(|d| *d) => false,
    }
}

async fn serve_http1<T>(
    stream: T,
    peer: SocketAddr,
    listener: usize,
    front: Front,
    shared: &Shared,
    mut drain: watch::Receiver<bool>,
) where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let settings = shared.settings.load();
    let service = TowerToHyperService::new(stack::build(
        shared.stack_parts(),
        &settings,
        listener,
        peer,
        front,
    ));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        // The connection's own timer, re-armed per request (crate::timer).
        .timer(ConnTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .writev(false)
        // A client may shut down its sending side once its request is out
        // (`printf ... | nc`, some health checkers): it still gets its answer,
        // as from Apache and HAProxy (hyper's default, like nginx's 499,
        // would drop the request in flight).
        .half_close(true)
        .keep_alive(true);
    // `LimitRequestFields` for heads and trailer sections alike: hyper
    // answers 431 past it. Only set when it differs from hyper's own 100:
    // with a limit set, hyper fills its header arrays element by element on
    // every request (1.3k instructions under callgrind) instead of using
    // its inline default.
    if settings.limits.fields != HYPER_MAX_HEADERS {
        builder.max_headers(settings.limits.fields);
    }
    let send_timeout = settings.send_timeout;
    drop(settings);
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    // A response the client does not take for send_timeout closes it.
    let conn = Watched::new(conn, send_timeout);
    tokio::pin!(conn);
    // On drain: finish the request in flight, then close (idle ones close now).
    let result = until_drained(conn, &mut drain, |c| c.inner().graceful_shutdown()).await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::debug!(client = %peer, error = %e, "client connection ended with an error");
        }
        // Logged where it is decided (send_watch); the connection closes.
        Err(Stalled) => {}
    }
}

/// HTTP/2 from a client (ALPN `h2`): each stream is one request through the
/// same stack as HTTP/1.1, forwarded to members over HTTP/1.1.
async fn serve_http2<T>(
    stream: T,
    peer: SocketAddr,
    listener: usize,
    front: Front,
    shared: &Shared,
    mut drain: watch::Receiver<bool>,
) where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let settings = shared.settings.load();
    let service = TowerToHyperService::new(stack::build(
        shared.stack_parts(),
        &settings,
        listener,
        peer,
        front,
    ));
    // Each stream on its own task, reset alone when its client takes none
    // of its response for send_timeout.
    let mut builder = hyper::server::conn::http2::Builder::new(WatchedExec {
        limit: settings.send_timeout,
    });
    // The whole head as LimitRequestFields × LimitRequestFieldSize allow;
    // admission checks each field as for HTTP/1.1.
    let head = settings
        .limits
        .fields
        .saturating_mul(settings.limits.field_size)
        .saturating_add(settings.limits.line);
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .max_concurrent_streams(100)
        .max_header_list_size(u32::try_from(head).unwrap_or(u32::MAX))
        .keep_alive_interval(Some(settings.header_read_timeout))
        .keep_alive_timeout(settings.header_read_timeout);
    drop(settings);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    // On drain, GOAWAY: streams in flight finish, no new ones start.
    let result = until_drained(
        conn,
        &mut drain,
        hyper::server::conn::http2::Connection::graceful_shutdown,
    )
    .await;
    if let Err(e) = result {
        tracing::debug!(client = %peer, error = %e, "HTTP/2 client connection ended with an error");
    }
}

/// Runs a client connection to its end; when the proxy drains first,
/// `graceful` asks it to finish what is in flight, and it runs until it has.
async fn until_drained<F: std::future::Future>(
    mut conn: std::pin::Pin<&mut F>,
    drain: &mut watch::Receiver<bool>,
    graceful: impl FnOnce(std::pin::Pin<&mut F>),
) -> F::Output {
    tokio::select! {
        r = conn.as_mut() => return r,
        _ = drain.wait_for(|d| *d) => {}
    }
    graceful(conn.as_mut());
    conn.await
}
