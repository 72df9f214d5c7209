//! RUSM's core: Erlang/OTP processes and supervisors on tokio.
//!
//! # Crate map
//!
//! The files by layer, bottom to top: each layer builds on the ones listed before it. That is
//! the reading order, not yet the import graph: some lower files still import upper ones
//! (`runtime.rs` keeps the supervision roots, from `supervisor/table.rs`, and the running
//! listeners, from `tcp/listener.rs`; `error.rs` names `Pid` from `process.rs`; `process/`
//! reaches into `runtime.rs`), so many files, from `error.rs` up to `tcp.rs`, form one import
//! cycle.
//!
//! | layer | file | what it holds |
//! |---|---|---|
//! | values | `lock.rs` | `Unpoisoned::locked`, the one way the crate takes a lock (poisoning ignored) |
//! | | `exit.rs` | [`ExitReason`], Erlang's exit reasons as data; [`IntoExitReason`], [`ExitCounts`] |
//! | | `error.rs` | the error types, one per operation family ([`CallError`], [`StartError`], …) |
//! | | `panics.rs` | [`report_process_panics`]: one `tracing` event per panicking process |
//! | process | `process.rs` | [`Pid`], [`ProcessHandle`], [`Addr`], spawning ([`Runtime::spawn`]) and the process task |
//! | | `process/cell.rs` | a process's shared cell: its state under one lock (exit, links, monitors, signals), its mailbox, its waker |
//! | | `process/mailbox.rs` | [`Ctx`] and [`Msg`]: receiving from the user queue and the system path |
//! | | `process/call_timer.rs` | the one timer a process's calls share |
//! | | `process/info.rs` | [`Runtime::process_info`], [`Runtime::top`]: what a process does, read without asking it |
//! | links, names, calls | `link.rs` | links and [`ExitSignal`], the exit signal a trapping process receives |
//! | | `monitor.rs` | monitors, [`MonitorRef`] and [`Down`] |
//! | | `registry.rs` | the name registry: [`Runtime::register`], [`Runtime::whereis`] |
//! | | `pg.rs` | process groups ([`Pg`]), as OTP's `pg` |
//! | | `call.rs` | [`Addr::call`] (request/reply, [`ReplyTo`]) and [`Addr::send_after`] ([`TimerRef`]) |
//! | runtime | `runtime.rs` | [`Runtime`]: a tokio runtime, its process table, names, groups, roots, listeners; its shutdown |
//! | | `runtime/table.rs` | the process table: every live process's cell by pid, in shards |
//! | servers | `server.rs` | the module's docs (`gen_server`), its files and re-exports |
//! | | `server/behaviour.rs` | [`Server`](server::Server), [`Call`](server::Call), [`Cast`](server::Cast), what callbacks get and return, the mailbox envelope |
//! | | `server/caller.rs` | a call's shared request and reply slot, and [`Caller`](server::Caller) (OTP's `From`) |
//! | | `server/dispatch.rs` | how a call or cast reaches the `Call`/`Cast` impl it was checked against |
//! | | `server/run.rs` | the server loop and the starts ([`Runtime::start_server`], …) |
//! | | `server/server_ref.rs` | [`ServerRef`]: call, cast, send, stop, get_state |
//! | supervisors | `supervisor.rs` | the module's docs (OTP's semantics), its files and re-exports |
//! | | `supervisor/spec.rs` | [`ChildSpec`], [`Restart`], [`Shutdown`], [`Backoff`], [`Started`], [`Starter`] |
//! | | `supervisor/supervisor_spec.rs` | [`SupervisorSpec`] and OTP's `check_childspecs` checks |
//! | | `supervisor/strategy.rs` | [`Strategy`], [`AutoShutdown`], the restart-intensity window |
//! | | `supervisor/table.rs` | a supervisor's child table, shared with inspection; `which_children` rows |
//! | | `supervisor/stop_hook.rs` | what a supervisor runs once as it starts to stop |
//! | | `supervisor/shutdown.rs` | linking a child and stopping it by its shutdown spec |
//! | | `supervisor/start.rs` | starting a static supervisor, as a root or as a child |
//! | | `supervisor/static_loop.rs` | the static supervisor's process: starts, restarts, requests, stop |
//! | | `supervisor/handle.rs` | [`SupervisorRef`]: OTP's child-management calls, table reads, lookup by name |
//! | | `supervisor/dynamic.rs` | the dynamic supervisor: its spec, [`DynamicSupervisorRef`] and its process |
//! | TCP | `tcp.rs` | [`ListenerConfig`], [`Runtime::listen`], the listener's subtree, [`connect`] |
//! | | `tcp/listener.rs` | [`Listener`]: info, max connections, suspend/resume, drain |
//! | | `tcp/acceptor.rs` | an acceptor process: accepts, backs off when out of descriptors |
//! | | `tcp/handshake.rs` | before the handler: the PROXY header, then TLS, under one timeout |
//! | | `tcp/proxy_protocol.rs` | the PROXY protocol v1 and v2 header ([`ProxyHeader`]) |
//! | | `tcp/tls.rs` | `TlsConfig` (feature `tls`): certificates, keys, the rustls handshake |
//! | | `tcp/connection.rs` | a connection's process body: handler, idle watchdog, slot, exit report |
//! | | `tcp/stream.rs` | [`TcpStream`]: plain TCP or TLS, the idle clock, the PROXY header's peer |
//! | | `tcp/handler.rs` | [`Handler`] (what `#[rusm::connection]` makes) and [`ListenerBuilder`] |
//! | inspection | `inspect.rs` | [`Runtime::tree`]: a [`TreeSnapshot`] of every supervision tree |
//! | crate root | `lib.rs` | these docs, the modules and the public re-exports |
//!
//! # Overview
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
