//! RUSM's core: Erlang/OTP processes and supervisors on tokio.
//!
//! - A **process** ([`Runtime::spawn`]) is a tokio task with a [`Pid`], a typed mailbox
//!   ([`Addr`]), a system mailbox for exit signals and `Down` messages, links, monitors and
//!   `trap_exit`; its body gets a [`Ctx`]. A panic ends only that process, with reason
//!   [`ExitReason::Panic`].
//! - A **supervisor** ([`Runtime::start_supervisor`]) restarts children by OTP's strategies,
//!   restart types, intensity and shutdown specs; [`Runtime::tree`] shows the whole tree.
//!
//! ```
//! use rusm_otp::{Runtime, Msg, ExitReason};
//!
//! let rt = Runtime::new().unwrap();
//! rt.block_on(async {
//!     let worker = rt.spawn(|mut ctx| async move {
//!         match ctx.recv().await {
//!             Msg::User("crash") => panic!("asked to crash"),
//!             _ => {}
//!         }
//!     });
//!     worker.send("crash").unwrap();
//!     assert_eq!(worker.wait().await, ExitReason::Panic("asked to crash".into()));
//! });
//! ```
//!
//! # Tracing events
//!
//! | event | level | fields |
//! |---|---|---|
//! | `process spawned` | debug | `pid`, `name` |
//! | `process exited` (normal, shutdown) | debug | `pid`, `reason` |
//! | `process exited abnormally` | warn | `pid`, `reason` |
//! | `child started` | debug | `supervisor`, `child`, `pid` |
//! | `child terminated` (abnormal) | error | `supervisor`, `child`, `pid`, `reason` |
//! | `restarting child` | info | `supervisor`, `child`, `strategy`, `delay_ms` |
//! | `child restart failed; retrying` | error | `supervisor`, `child`, `error` |
//! | `restart intensity exceeded; shutting down` | error | `supervisor`, `child`, `intensity`, `period_secs` |
//! | `child shutdown error` | error | `supervisor`, `pid`, `reason` |
//! | `supervisor start failed` | error | `supervisor`, `error` |
//! | `RLIMIT_NOFILE soft limit raised` | info | `nofile` |
//! | `listening` | info | `addr`, `pid`, `root` |
//! | `listener suspended` / `listener resumed` / `listener draining` | info | `addr` |
//! | `acceptor reducing accept rate: out of resources` (at most once a second) | warn | `acceptor`, `error` |
//! | `accept failed for one connection` | debug | `acceptor`, `error` |
//! | `unexpected accept error` | warn | `acceptor`, `error` |
//! | `connection idle timeout` | debug | `timeout_ms` |

mod call;
mod error;
mod exit;
mod inspect;
mod link;
mod lock;
mod monitor;
mod panics;
mod pg;
pub mod process;
mod registry;
mod runtime;
pub mod server;
pub mod supervisor;
mod tcp;

pub use call::{ReplyTo, TimerRef, DEFAULT_CALL_TIMEOUT};
pub use error::{
    CallError, HandshakeError, HandshakeStage, LinkError, ParsePidError, RegisterError, SendError,
    StartError, SupervisorError,
};
pub use exit::{ExitCounts, ExitError, ExitReason, IntoExitReason};
pub use inspect::{Node, NodeKind, NodeStatus, TreeSnapshot};
pub use link::ExitSignal;
pub use monitor::{Down, MonitorRef};
pub use panics::report_process_panics;
pub use pg::{Pg, PgError};
pub use process::{
    current_pid, Addr, Ctx, Msg, Pid, ProcessHandle, ProcessInfo, ProcessRow, ProcessStatus, TopBy,
    TopEntry,
};
pub use runtime::{raise_fd_limit, Runtime, DEFAULT_SHUTDOWN_TIMEOUT};
pub use server::ServerRef;
pub use supervisor::{
    AutoShutdown, Backoff, ChildCounts, ChildInfo, ChildSpec, ChildType, DynamicSupervisorRef,
    DynamicSupervisorSpec, InitAck, Restart, Shutdown, Started, StartedChild, Starter, Strategy,
    SupervisorRef, SupervisorSpec,
};
#[cfg(feature = "tls")]
pub use tcp::TlsConfig;
pub use tcp::{
    connect, AcceptErrors, Handler, HandlerOptions, Listener, ListenerBuilder, ListenerConfig,
    ListenerInfo, ProxyCommand, ProxyHeader, TcpStream, DEFAULT_HANDSHAKE_TIMEOUT,
};
