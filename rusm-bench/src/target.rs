//! The system under test, as the engine sees it.
//!
//! A [`Target`] is a runtime that can run an echo server and the core process scenarios. The
//! engine owns the clock, the load, the tokio runtimes and the measurement; a target only
//! starts servers and runs process programs on the tokio runtime it is polled on.
//!
//! | implementation | file | status |
//! | --- | --- | --- |
//! | [`TokioTarget`] | `target/raw_tokio.rs` | raw tokio: the baseline every scenario compares with |
//! | [`RusmTarget`] | `target/rusm.rs` | RUSM: a supervised listener, processes and supervisors |
//!
//! The rest of this module's files: `target/interface.rs`, what the engine and a target
//! exchange ([`Target`], [`EchoServerOpts`], the bounds and outcomes of each scenario);
//! `target/raw_tokio_process.rs`, raw tokio's process-scenario programs; `target/load.rs` and
//! `target/countdown.rs`, what both targets' programs share. This file only declares them and
//! names the targets ([`TargetKind`]).
//!
//! Some scenarios also measure a second, bare-tokio baseline that is not the same program as
//! RUSM's but the physical limit of what is measured (`server-call`: tasks sharing an
//! `Arc<Mutex<HashMap>>`, [`TokioTarget::server_call_shared_map`]; `spawn-storm`: a bare
//! `tokio::spawn`, [`TokioTarget::spawn_storm_bare`]; `idle-memory`, `ping-pong`, `fan-in`:
//! the other `*_bare` methods); the engine runs it after the like-for-like one and labels each.
//! `spawn-storm` and `idle-memory` add a third, the floor of any process others can reach on
//! tokio: a bare task plus one shared allocation the size of RUSM's cell
//! (`target/raw_tokio_floor.rs`, [`TokioTarget::spawn_storm_floor`]), which tells what of the
//! distance to bare tokio is that second allocation and what is RUSM's own work.
//!
//! To add RUSM: make `rusm-bench` depend on `rusm`, uncomment `mod rusm;` below, implement
//! [`Target`] in `target/rusm.rs`, and return it from [`TargetKind::build`] for
//! [`TargetKind::Rusm`]. No scenario code changes.

use std::fmt;
use std::sync::Arc;

mod countdown;
mod interface;
mod load;
mod raw_tokio;
mod raw_tokio_floor;
mod raw_tokio_process;
mod rusm;

pub use self::interface::{
    BoxFuture, BroadcastRun, CallsOutcome, EchoServerOpts, IdleSet, ProcessOutcome, ProcessRun,
    ServerCallRun, ServerGuard, Target,
};
pub use self::raw_tokio::TokioTarget;
pub use self::rusm::RusmTarget;

/// Which runtime a scenario measures (`--target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The RUSM runtime (`rusm` crate).
    Rusm,
    /// Raw tokio: the baseline.
    Tokio,
}

impl TargetKind {
    /// Builds the target, or says why it cannot be built in this binary.
    ///
    /// # Errors
    ///
    /// [`TargetKind::Rusm`] fails until the RUSM target is compiled in.
    pub fn build(self) -> Result<Arc<dyn Target>, String> {
        match self {
            TargetKind::Tokio => Ok(Arc::new(TokioTarget::new())),
            TargetKind::Rusm => Ok(Arc::new(RusmTarget::new())),
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetKind::Rusm => "rusm",
            TargetKind::Tokio => "tokio",
        })
    }
}
