//! RUSM's load engine and live dashboard.
//!
//! Every scenario drives a *system under test* through the [`Target`] trait and, unless
//! `--baseline none` is given, the same load against raw tokio ([`TokioTarget`]) in the same
//! run, then prints both and the ratio rusm/tokio. The figures the issue asks for (connections/s,
//! latency percentiles, bytes per connection or process, …) are computed by the engine, not by the
//! targets, so both sides are measured by the same code.
//!
//! ```text
//! main.rs ── cli.rs ──► engine.rs ──► scenario/*.rs ──► dyn Target ──► TokioTarget (target/raw_tokio.rs)
//!                           │                                    └──► RusmTarget  (target/rusm.rs, later)
//!                           └──► metrics.rs (atomics) ──► progress line (stderr) / dashboard SSE
//! ```
//!
//! The load generator only ever talks to `127.0.0.0/8`, and every load loop is bounded both in
//! count and in time.

pub mod cli;
pub mod config;
pub mod dashboard;
pub mod engine;
pub mod metrics;
pub mod net;
pub mod progress;
pub mod report;
pub mod rss;
pub mod scenario;
pub mod server;
pub mod spread;
pub mod stats;
pub mod target;
pub mod tls;

pub use config::RunConfig;
pub use engine::run;
pub use metrics::{Metrics, Sample};
pub use report::RunReport;
pub use scenario::Scenario;
pub use target::{Target, TargetKind, TokioTarget};
