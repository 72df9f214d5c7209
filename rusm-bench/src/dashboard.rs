//! The live dashboard: one page served from the binary, fed by server-sent events.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | the page (`dashboard/page.html`: our own canvas charts, no CDN) |
//! | `GET /events` | server-sent events, one JSON [`Sample`](crate::Sample) per 250 ms |
//! | `POST /run?scenario=…&seconds=…[&target=rusm\|tokio][&baseline=tokio\|none]` | starts a scenario |
//! | `GET /report` | the last finished run as JSON (`null` before) |
//! | `GET /tree` | the supervision tree of the runtime under test, as JSON |
//! | `GET /hold?ms=N` | an empty image sent after N ms (≤ 10 s): `/?hold=N` uses it to delay the page's load event, so headless `--dump-dom` snapshots live data |
//!
//! The tree comes from the target being measured ([`Target::tree_json`](crate::Target)) while a
//! scenario runs, and from the [`TreeProvider`] otherwise. The RUSM runtime will provide
//! `Runtime::tree().to_json()`; until then [`placeholder_tree`] stands in.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::stream::{self, Stream};
use serde::Deserialize;

use crate::config::{Baseline, RunConfig};
use crate::engine;
use crate::metrics::Metrics;
use crate::scenario::Scenario;
use crate::target::TargetKind;

/// The page, compiled into the binary.
const PAGE: &str = include_str!("dashboard/page.html");

/// Longest delay `GET /hold` grants.
const MAX_HOLD: Duration = Duration::from_secs(10);

/// Longest scenario the page may start.
const MAX_SECONDS: f64 = 600.0;

/// Returns the supervision tree as JSON: `{"name", "restarts", "children": [...]}`.
pub type TreeProvider = Arc<dyn Fn() -> String + Send + Sync>;

/// The tree shown when no runtime is attached.
pub fn placeholder_tree() -> String {
    r#"{"name":"(no runtime)","children":[]}"#.to_owned()
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    tree: TreeProvider,
    busy: Arc<AtomicBool>,
    last_report: Arc<Mutex<Option<String>>>,
}

/// A bound dashboard, ready to serve.
pub struct Dashboard {
    listener: tokio::net::TcpListener,
    router: Router,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl Dashboard {
    /// Binds the dashboard to `addr` (use `127.0.0.1`); scenarios started from the page publish
    /// on `metrics`.
    ///
    /// # Errors
    ///
    /// Binding failed.
    pub async fn bind(
        addr: SocketAddr,
        metrics: Arc<Metrics>,
        tree: TreeProvider,
    ) -> io::Result<Dashboard> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let state = AppState {
            metrics,
            tree,
            busy: Arc::new(AtomicBool::new(false)),
            last_report: Arc::new(Mutex::new(None)),
        };
        let router = Router::new()
            .route("/", get(page))
            .route("/events", get(events))
            .route("/run", post(start_run))
            .route("/report", get(report))
            .route("/tree", get(tree_json))
            .route("/hold", get(hold))
            .with_state(state);
        Ok(Dashboard { listener, router })
    }

    /// Where the dashboard listens.
    ///
    /// # Errors
    ///
    /// The socket's address could not be read.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the task is dropped.
    ///
    /// # Errors
    ///
    /// The server failed.
    pub async fn serve(self) -> io::Result<()> {
        axum::serve(self.listener, self.router).await
    }
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut rx = state.metrics.subscribe();
    rx.mark_changed(); // send the latest sample at once
    let stream = stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        let sample = rx.borrow_and_update().clone();
        let data = serde_json::to_string(&sample).unwrap_or_default();
        Some((Ok(Event::default().data(data)), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
}

/// Query of `POST /run`.
#[derive(Debug, Deserialize)]
struct RunQuery {
    scenario: String,
    seconds: f64,
    target: Option<String>,
    baseline: Option<String>,
}

async fn start_run(State(state): State<AppState>, Query(q): Query<RunQuery>) -> Response {
    let Some(scenario) = Scenario::from_name(&q.scenario) else {
        return (
            StatusCode::BAD_REQUEST,
            format!("unknown scenario `{}`", q.scenario),
        )
            .into_response();
    };
    if !(q.seconds > 0.0 && q.seconds <= MAX_SECONDS) {
        return (
            StatusCode::BAD_REQUEST,
            format!("seconds must be in (0, {MAX_SECONDS}]"),
        )
            .into_response();
    }
    let mut config = RunConfig::new(scenario, q.seconds);
    config.target = match q.target.as_deref() {
        Some("tokio") => TargetKind::Tokio,
        _ => TargetKind::Rusm,
    };
    config.baseline = match q.baseline.as_deref() {
        Some("tokio") => Baseline::Tokio,
        _ => Baseline::None,
    };
    if state.busy.swap(true, Ordering::AcqRel) {
        return (StatusCode::CONFLICT, "a scenario is already running").into_response();
    }
    let name = scenario.name();
    let busy = state.busy.clone();
    let spawned = std::thread::Builder::new()
        .name("scenario".into())
        .spawn(move || {
            let text = match engine::run(&config, &state.metrics) {
                Ok(report) => report.to_json().to_string(),
                Err(e) => serde_json::json!({ "error": e.to_string() }).to_string(),
            };
            *state.last_report.lock().unwrap_or_else(|p| p.into_inner()) = Some(text);
            state.busy.store(false, Ordering::Release);
        });
    match spawned {
        Ok(_) => (
            StatusCode::ACCEPTED,
            format!("started {name} for {} s", q.seconds),
        )
            .into_response(),
        Err(e) => {
            busy.store(false, Ordering::Release);
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}

/// Query of `GET /hold`.
#[derive(Debug, Deserialize)]
struct HoldQuery {
    ms: u64,
}

async fn hold(Query(q): Query<HoldQuery>) -> Response {
    tokio::time::sleep(Duration::from_millis(q.ms).min(MAX_HOLD)).await;
    (
        [(header::CONTENT_TYPE, "image/svg+xml")],
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>"#,
    )
        .into_response()
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn report(State(state): State<AppState>) -> Response {
    let last = state
        .last_report
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    json(last.unwrap_or_else(|| "null".to_owned()))
}

async fn tree_json(State(state): State<AppState>) -> Response {
    json(state.metrics.tree_json().unwrap_or_else(|| (state.tree)()))
}
