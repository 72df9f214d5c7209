//! A live web observer any application can mount, as OTP's `observer`: the supervision tree,
//! a process table, each process's detail, the listeners, and Prometheus metrics.
//!
//! Enabled by the `observer` feature (off by default: an application that does not mount it
//! builds no HTTP server). [`serve`] binds the address and serves from a thread of its own,
//! with its own single-threaded tokio runtime, so rendering a table of 10,000 processes
//! never takes a worker thread from the application; everything it shows is read without
//! asking a process (counters and short bookkeeping locks, as [`Runtime::process_rows`] and
//! [`Runtime::tree`] read them).
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | the page: tabs for the tree, processes, a process, listeners (`docs/OBSERVER.md`) |
//! | `GET /api/summary` | processes alive and spawned, exits by reason class |
//! | `GET /api/tree` | [`Runtime::tree`] as JSON ([`TreeSnapshot::to_json`](crate::TreeSnapshot::to_json)) |
//! | `GET /api/processes?sort=memory\|mailbox\|reductions&limit=N` | the top `N` (default 100, at most 100,000) |
//! | `GET /api/process/{pid}` | [`Runtime::process_info`]; 404 when it is not alive |
//! | `POST /api/process/{pid}/kill` | kills it (a supervised child is then restarted as its restart type says) |
//! | `GET /api/listeners` | every listener's [`ListenerInfo`](crate::ListenerInfo) |
//! | `POST /api/listener/{pid}/suspend`, `…/resume`, `…/max_connections?value=N` | [`Listener`](crate::Listener) controls |
//! | `GET /metrics` | Prometheus text exposition (OpenMetrics) |
//!
//! A pid in a path is its number, `12`, or its printed form URL-encoded, `%3C0.12.0%3E`.
//!
//! # Access
//!
//! It binds loopback addresses only, unless [`ObserverOptions::allow_remote`] says
//! otherwise; then it logs a warning that anyone who reaches the port can kill processes.
//! [`ObserverOptions::token`] makes every request carry a token (`?token=` on the page's URL,
//! which the page sends on as a header): a shared secret, sent in clear over HTTP.
//!
//! # Examples
//!
//! ```no_run
//! use rusm::prelude::*;
//!
//! #[rusm::main]
//! async fn main(rt: Runtime) {
//!     let observer = rusm::observer::serve(&rt, "127.0.0.1:9000").expect("bind the observer");
//!     println!("observer on http://{}/", observer.local_addr());
//!     // … start the application; the observer serves until `observer` is dropped.
//! #   drop(observer);
//! }
//! ```

mod metrics;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::{Pid, ProcessStatus, Runtime, TopBy};

/// The page, compiled into the binary.
const PAGE: &str = include_str!("observer/page.html");

/// Rows `/api/processes` returns when the request names no limit.
const DEFAULT_ROWS: usize = 100;

/// Most rows `/api/processes` returns.
const MAX_ROWS: usize = 100_000;

/// How long one process table is served again before it is built anew: however many pages
/// are open, the observer builds at most a few tables a second.
const TABLE_REUSE: Duration = Duration::from_millis(250);

/// How an observer is served: who may reach it.
///
/// # Examples
///
/// ```no_run
/// use rusm::observer::ObserverOptions;
/// # let rt = rusm::Runtime::new().unwrap();
///
/// // Reachable from other hosts: logs a warning; requests need the token.
/// let observer = ObserverOptions::new()
///     .allow_remote(true)
///     .token("s3cret")
///     .serve(&rt, "0.0.0.0:9000")?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ObserverOptions {
    allow_remote: bool,
    token: Option<Arc<str>>,
}

impl ObserverOptions {
    /// Loopback only, no token.
    pub fn new() -> Self {
        ObserverOptions::default()
    }

    /// Whether a non-loopback address may be bound. The observer has no authentication but
    /// the optional [`token`](Self::token): whoever reaches it can read every process and
    /// kill any of them, so binding one logs a warning.
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.allow_remote = allow;
        self
    }

    /// Requires `token` on every request: `?token=…` in the URL (the page passes it on) or
    /// an `Authorization: Bearer …` header.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(Arc::from(token.into()));
        self
    }

    /// Binds `addr` and serves the observer of `rt` from a thread of its own until the
    /// returned [`Observer`] is dropped.
    ///
    /// The observer holds a handle that does not keep `rt` from shutting down
    /// ([`Runtime::unowned`]); once the runtime is shut down it shows it empty.
    ///
    /// # Errors
    ///
    /// - `InvalidInput` when `addr` does not resolve, or resolves to a non-loopback address
    ///   and [`allow_remote`](Self::allow_remote) was not given;
    /// - the error of binding the address, or of starting the thread.
    pub fn serve(self, rt: &Runtime, addr: impl ToSocketAddrs) -> io::Result<Observer> {
        let addr = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "observer address resolves to nothing",
            )
        })?;
        if !addr.ip().is_loopback() {
            if !self.allow_remote {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "observer address {addr} is not loopback: the observer has no \
                         authentication; pass ObserverOptions::allow_remote(true) to serve it \
                         to the network anyway"
                    ),
                ));
            }
            let guard = if self.token.is_some() {
                "only a token sent in clear"
            } else {
                "no authentication"
            };
            let text = format!(
                "observer listening on {addr}, beyond loopback, with {guard}: anyone who \
                 reaches it can read every process and kill any of them"
            );
            if tracing::enabled!(tracing::Level::WARN) {
                tracing::warn!(%addr, "{text}");
            } else {
                eprintln!("warning: {text}");
            }
        }
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let state = AppState {
            rt: rt.unowned(),
            token: self.token,
            table: Default::default(),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("rusm-observer".into())
            .spawn(move || run(listener, state, stopped))?;
        Ok(Observer {
            addr: local,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// Serves the observer of `rt` on `addr`, a loopback address (`"127.0.0.1:9000"`; port 0
/// picks a free one), until the returned [`Observer`] is dropped. See [`ObserverOptions`]
/// for any other address.
///
/// # Errors
///
/// As [`ObserverOptions::serve`]: a non-loopback address, or binding failed.
///
/// # Examples
///
/// ```
/// # let rt = rusm::Runtime::new().unwrap();
/// let observer = rusm::observer::serve(&rt, "127.0.0.1:0").unwrap();
/// assert!(observer.local_addr().ip().is_loopback());
/// assert!(rusm::observer::serve(&rt, "0.0.0.0:0").is_err(), "loopback unless allowed");
/// ```
pub fn serve(rt: &Runtime, addr: impl ToSocketAddrs) -> io::Result<Observer> {
    ObserverOptions::new().serve(rt, addr)
}

/// A running observer; dropping it stops the server and joins its thread.
#[must_use = "the observer stops when this handle is dropped"]
#[derive(Debug)]
pub struct Observer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Observer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Clone)]
struct AppState {
    rt: Runtime,
    token: Option<Arc<str>>,
    table: Arc<std::sync::Mutex<Option<CachedTable>>>,
}

/// The last process table built: its ranking, its limit, when, and its JSON.
type CachedTable = (TopBy, usize, std::time::Instant, Bytes);

/// The observer thread: a current-thread tokio runtime serving until `stopped`.
fn run(
    listener: std::net::TcpListener,
    state: AppState,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let tokio_rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "observer: cannot start its runtime");
            return;
        }
    };
    tokio_rt.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "observer: cannot use its socket");
                return;
            }
        };
        let served = axum::serve(listener, router(state))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "observer stopped");
        }
    });
    // Connections still open (a page's pending request) are dropped with the runtime.
    tokio_rt.shutdown_timeout(Duration::from_millis(100));
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/summary", get(summary))
        .route("/api/tree", get(tree))
        .route("/api/processes", get(processes))
        .route("/api/process/{pid}", get(process))
        .route("/api/process/{pid}/kill", post(kill))
        .route("/api/listeners", get(listeners))
        .route("/api/listener/{pid}/{action}", post(listener_action))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(state.clone(), check_token))
        .with_state(state)
}

/// Refuses requests without the token, when one is set.
async fn check_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = state.token.as_deref() else {
        return next.run(req).await;
    };
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let query = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="));
    if bearer == Some(token) || query == Some(token) {
        next.run(req).await
    } else {
        (StatusCode::UNAUTHORIZED, "observer token missing or wrong").into_response()
    }
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

fn json_response(v: Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

fn not_found(what: String) -> Response {
    (StatusCode::NOT_FOUND, what).into_response()
}

async fn summary(State(state): State<AppState>) -> Response {
    let rt = &state.rt;
    let exits = rt.exit_counts();
    let by_class: serde_json::Map<String, Value> = crate::ExitCounts::CLASSES
        .iter()
        .zip(exits.by_class())
        .map(|(c, n)| (c.to_string(), json!(n)))
        .collect();
    json_response(json!({
        "alive": rt.alive_processes(),
        "spawned": rt.spawned_processes(),
        "exits": by_class,
        "listeners": rt.listeners().len(),
    }))
}

async fn tree(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.rt.tree().to_json(),
    )
        .into_response()
}

/// Query of `GET /api/processes`.
#[derive(Debug, serde::Deserialize)]
struct TableQuery {
    sort: Option<String>,
    limit: Option<usize>,
}

fn status_str(s: ProcessStatus) -> &'static str {
    match s {
        ProcessStatus::Running => "running",
        ProcessStatus::Waiting => "waiting",
        ProcessStatus::Exiting => "exiting",
    }
}

async fn processes(State(state): State<AppState>, Query(q): Query<TableQuery>) -> Response {
    let by = match q.sort.as_deref() {
        None | Some("memory") => TopBy::Memory,
        Some("mailbox") => TopBy::MessageQueueLen,
        Some("reductions") => TopBy::Reductions,
        Some(other) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("unknown sort `{other}`; expected memory, mailbox or reductions"),
            )
                .into_response()
        }
    };
    let limit = q.limit.unwrap_or(DEFAULT_ROWS).min(MAX_ROWS);
    // Handlers run one at a time on the observer's thread: the lock is never contended.
    let mut cached = state.table.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((b, l, at, body)) = &*cached {
        if (*b, *l) == (by, limit) && at.elapsed() < TABLE_REUSE {
            return ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response();
        }
    }
    let rows = state.rt.process_rows(by, limit);
    let table = Table {
        alive: state.rt.alive_processes(),
        sort: match by {
            TopBy::Memory => "memory",
            TopBy::MessageQueueLen => "mailbox",
            TopBy::Reductions => "reductions",
        },
        rows: rows
            .iter()
            .map(|r| TableRow {
                pid: r.pid.to_string(),
                id: r.pid.id(),
                name: r.registered_name.as_deref(),
                initial_call: r.initial_call,
                status: status_str(r.status),
                mailbox: r.message_queue_len,
                memory: r.memory,
                reductions: r.reductions,
                uptime_ms: r.uptime.as_millis() as u64,
            })
            .collect(),
    };
    // Serialized straight from the rows (no `Value` tree): a table of 10,000 processes is
    // the observer's largest answer.
    match serde_json::to_vec(&table) {
        Ok(body) => {
            let body = Bytes::from(body);
            *cached = Some((by, limit, std::time::Instant::now(), body.clone()));
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The answer of `GET /api/processes`.
#[derive(serde::Serialize)]
struct Table<'a> {
    alive: usize,
    sort: &'static str,
    rows: Vec<TableRow<'a>>,
}

#[derive(serde::Serialize)]
struct TableRow<'a> {
    pid: String,
    id: u64,
    name: Option<&'a str>,
    initial_call: &'static str,
    status: &'static str,
    mailbox: usize,
    memory: usize,
    reductions: u64,
    uptime_ms: u64,
}

fn pid_list(pids: &[Pid]) -> Value {
    Value::Array(
        pids.iter()
            .map(|p| json!({ "pid": p.to_string(), "id": p.id() }))
            .collect(),
    )
}

async fn process(State(state): State<AppState>, Path(pid): Path<String>) -> Response {
    let Ok(pid) = pid.parse::<Pid>() else {
        return (StatusCode::BAD_REQUEST, format!("not a pid: {pid}")).into_response();
    };
    let Some(info) = state.rt.process_info(pid) else {
        return not_found(format!("{pid} is not alive"));
    };
    json_response(json!({
        "pid": info.pid.to_string(),
        "id": info.pid.id(),
        "status": status_str(info.status),
        "registered_name": info.registered_name,
        "initial_call": info.initial_call,
        "message_queue_len": info.message_queue_len,
        "signal_queue_len": info.signal_queue_len,
        "memory": info.memory,
        "reductions": info.reductions,
        "trap_exit": info.trap_exit,
        "uptime_ms": info.uptime.as_millis() as u64,
        "groups": info.groups,
        "parent": info.parent.map(|p| json!({ "pid": p.to_string(), "id": p.id() })),
        "ancestors": pid_list(&info.ancestors),
        "links": pid_list(&info.links),
        "monitors": pid_list(&info.monitors),
        "monitored_by": pid_list(&info.monitored_by),
    }))
}

async fn kill(State(state): State<AppState>, Path(pid): Path<String>) -> Response {
    let Ok(pid) = pid.parse::<Pid>() else {
        return (StatusCode::BAD_REQUEST, format!("not a pid: {pid}")).into_response();
    };
    match state.rt.process(pid) {
        Some(h) => {
            tracing::info!(pid = %pid, "observer: process killed from the page");
            h.kill();
            format!("killed {pid}").into_response()
        }
        None => not_found(format!("{pid} is not alive")),
    }
}

async fn listeners(State(state): State<AppState>) -> Response {
    let list: Vec<Value> = state
        .rt
        .listeners()
        .iter()
        .map(|l| {
            let info = l.info();
            let e = info.accept_errors;
            json!({
                "pid": l.pid().to_string(),
                "id": l.pid().id(),
                "addr": info.addr.to_string(),
                "acceptors": info.acceptors,
                "connections": info.connections,
                "accepted": info.accepted,
                "max_connections": info.max_connections,
                "accepting": info.accepting,
                "accept_errors": {
                    "per_connection": e.per_connection,
                    "resource": e.resource,
                    "listener_dead": e.listener_dead,
                    "unknown": e.unknown,
                },
            })
        })
        .collect();
    json_response(Value::Array(list))
}

/// Query of `POST /api/listener/{pid}/max_connections`.
#[derive(Debug, serde::Deserialize)]
struct MaxQuery {
    value: Option<usize>,
}

async fn listener_action(
    State(state): State<AppState>,
    Path((pid, action)): Path<(String, String)>,
    Query(q): Query<MaxQuery>,
) -> Response {
    let Ok(pid) = pid.parse::<Pid>() else {
        return (StatusCode::BAD_REQUEST, format!("not a pid: {pid}")).into_response();
    };
    let Some(l) = state.rt.listeners().into_iter().find(|l| l.pid() == pid) else {
        return not_found(format!("no listener {pid}"));
    };
    let addr = l.local_addr();
    match action.as_str() {
        "suspend" => {
            l.suspend();
            format!("{addr} suspended").into_response()
        }
        "resume" => match l.resume() {
            Ok(()) => format!("{addr} resumed").into_response(),
            Err(e) => {
                (StatusCode::CONFLICT, format!("{addr} stays suspended: {e}")).into_response()
            }
        },
        "max_connections" => match q.value {
            Some(n) if n > 0 => {
                l.set_max_connections(n);
                format!("{addr}: max connections {n}").into_response()
            }
            _ => (
                StatusCode::BAD_REQUEST,
                "max_connections needs ?value=N with N ≥ 1",
            )
                .into_response(),
        },
        other => (
            StatusCode::BAD_REQUEST,
            format!("unknown action `{other}`; expected suspend, resume or max_connections"),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    match metrics::render(&state.rt) {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
