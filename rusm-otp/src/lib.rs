//! RUSM's core: Erlang/OTP processes and supervisors on tokio.
//!
//! # Crate map
//!
//! The files by layer, bottom to top, each importing only from the files listed before it; a
//! module's own file (`process.rs`, `supervisor.rs`, …) is its table of contents, listed after
//! its files (`rust-layers.py` checks it in CI: no import cycle, no file over 500 lines
//! of code). Two links point up without an import: a process's cell holds its runtime as an
//! opaque reference that `runtime.rs` reads (`process/cell.rs`, `RuntimeRef`), and the
//! runtime keeps the supervision roots and the listeners for the layers above it without
//! knowing their types (a root's pid and opaque state; `Inner::slot`). Inside the crate a
//! name is imported from the file that defines it, not through a module's table of contents.
//!
//! | layer | file | what it holds |
//! |---|---|---|
//! | values | `pid.rs` | [`Pid`] and [`ParsePidError`] |
//! | | `exit.rs` | [`ExitReason`], Erlang's exit reasons as data; [`IntoExitReason`], [`ExitCounts`] |
//! | | `signal.rs` | what a process receives as a signal: [`ExitSignal`], [`Down`], [`MonitorRef`] |
//! | | `error.rs` | the error types, one per operation family ([`CallError`], [`StartError`], …) |
//! | | `lock.rs` | `Unpoisoned::locked`, the one way the crate takes a lock (poisoning ignored) |
//! | process | `process/call_timer.rs` | the one timer a process's calls share (its data) |
//! | | `process/cell.rs` | a process's shared cell: its state under one lock (exit, links, monitors, signals), its mailbox, its waker |
//! | | `process/current.rs` | what runs on this thread: the polled process's pid and cell ([`current_pid`]) |
//! | | `panics.rs` | [`report_process_panics`]: one `tracing` event per panicking process |
//! | | `process/queue.rs` | the user mailbox's queue and [`Msg`], what a receive returns |
//! | | `process/addr.rs` | [`ProcessHandle`] and the typed [`Addr`]: send, kill, exit, wait |
//! | | `process/mailbox.rs` | [`Ctx`]: receiving from the user queue and the system path, `trap_exit` |
//! | runtime | `runtime/table.rs` | the process table: every live process's cell by pid, in shards |
//! | | `runtime/names.rs` | the name table the registry API reads and writes |
//! | | `runtime/groups.rs` | the process groups table the `pg` API reads and writes |
//! | | `runtime/cell_pool.rs` | cells of exited processes, kept for the next spawns of the same message type |
//! | | `runtime.rs` | [`Runtime`]: a tokio runtime and its tables; the roots and slots kept for the layers above; its shutdown |
//! | process API | `process/spawn.rs` | spawning ([`Runtime::spawn`], `Ctx::spawn_link`, …) and the process task: polls, exit signals, the exit in order |
//! | | `process/info.rs` | [`Runtime::process_info`], [`Runtime::top`]: what a process does, read without asking it |
//! | | `process.rs` | the module's docs (pre-emption), its files and re-exports |
//! | | `link.rs` | links (`Ctx::link`, `unlink`) |
//! | | `monitor.rs` | monitors (`Ctx::monitor`, `demonitor`) |
//! | | `registry.rs` | the name registry: [`Runtime::register`], [`Runtime::whereis`], `Ctx::register` |
//! | | `pg.rs` | process groups ([`Pg`]), as OTP's `pg` |
//! | | `call.rs` | [`Addr::call`] (request/reply, [`ReplyTo`]), [`Addr::send_after`] ([`TimerRef`]), the shared call deadline |
//! | supervisors | `supervisor/strategy.rs` | [`Strategy`], [`AutoShutdown`], the restart-intensity window |
//! | | `supervisor/spec.rs` | [`ChildSpec`], [`Restart`], [`Shutdown`], [`Backoff`], [`Started`], [`Starter`] |
//! | | `supervisor/table.rs` | a supervisor's child table, shared with inspection; `which_children` rows |
//! | | `supervisor/skeleton.rs` | what static and dynamic supervisors share: the start, the receive loop, the intensity-exceeded shutdown, requests, the handles' common impls |
//! | | `supervisor/stop_hook.rs` | what a supervisor runs once as it starts to stop |
//! | | `supervisor/supervisor_spec.rs` | [`SupervisorSpec`] and OTP's `check_childspecs` checks |
//! | | `supervisor/shutdown.rs` | linking a child and stopping it by its shutdown spec |
//! | | `supervisor/dynamic.rs` | the dynamic supervisor: its spec, [`DynamicSupervisorRef`] and its process |
//! | | `supervisor/handle.rs` | [`SupervisorRef`]: OTP's child-management calls, table reads, lookup by name |
//! | | `supervisor/static_loop.rs` | the static supervisor's process: starts, restarts, requests, stop |
//! | | `supervisor/start.rs` | starting a static supervisor, as a root or as a child |
//! | | `supervisor.rs` | the module's docs (OTP's semantics), its files and re-exports |
//! | servers | `server/caller.rs` | a call's shared request and reply slot, and [`Caller`](server::Caller) (OTP's `From`) |
//! | | `server/behaviour.rs` | [`Server`](server::Server), [`Call`](server::Call), [`Cast`](server::Cast), what callbacks get and return, the mailbox envelope |
//! | | `server/dispatch.rs` | how a call or cast reaches the `Call`/`Cast` impl it was checked against |
//! | | `server/run.rs` | the server loop and the starts ([`Runtime::start_server`], …) |
//! | | `server/server_ref.rs` | [`ServerRef`]: call, cast, send, stop, get_state |
//! | | `server.rs` | the module's docs (`gen_server`), its files and re-exports |
//! | TCP | `tcp/tls.rs` | `TlsConfig` (feature `tls`): certificates, keys, the rustls handshake |
//! | | `tcp/config.rs` | [`ListenerConfig`]: a listener's options, their defaults and builder methods |
//! | | `tcp/socket.rs` | the listening socket, bound with the listener's options |
//! | | `tcp/proxy_protocol.rs` | the PROXY protocol v1 and v2 header ([`ProxyHeader`]) |
//! | | `tcp/stream.rs` | [`TcpStream`], the transport: plain TCP or TLS, the idle clock, the PROXY header's peer |
//! | | `tcp/connect.rs` | [`connect`]: an outbound connection |
//! | | `tcp/listener.rs` | [`Listener`] and its control block: connection slots (max connections), info, suspend/resume, drain |
//! | | `tcp/handshake.rs` | before the handler: the PROXY header, then TLS, under one timeout |
//! | | `tcp/shared.rs` | what a listener's acceptors and connections share |
//! | | `tcp/connection.rs` | a connection's process body: handshake, handler, idle watchdog, slot, exit report |
//! | | `tcp/acceptor.rs` | an acceptor process: accepts, backs off when out of descriptors |
//! | | `tcp/acceptor_pool.rs` | the acceptors supervisor: N acceptors, ranch's intensity |
//! | | `tcp/connections_sup.rs` | the connections supervisor: one temporary child per connection |
//! | | `tcp/listener_sup.rs` | the listener supervisor: [`Runtime::listen`], its `rest_for_one` subtree, the runtime's listeners |
//! | | `tcp/handler.rs` | [`Handler`] (what `#[rusm::connection]` makes) and [`ListenerBuilder`] |
//! | | `tcp.rs` | the module's docs (the listener's subtree, max connections, accept errors, handshakes), its files and re-exports |
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
mod pid;
pub mod process;
mod registry;
mod runtime;
pub mod server;
mod signal;
pub mod supervisor;
mod tcp;

pub use call::{ReplyTo, TimerRef, DEFAULT_CALL_TIMEOUT};
pub use error::{
    CallError, HandshakeError, HandshakeStage, LinkError, RegisterError, SendError, StartError,
    SupervisorError,
};
pub use exit::{ExitCounts, ExitError, ExitReason, IntoExitReason};
pub use inspect::{Node, NodeKind, NodeStatus, TreeSnapshot};
pub use panics::report_process_panics;
pub use pg::{Pg, PgError};
pub use pid::ParsePidError;
pub use process::{
    current_pid, Addr, Ctx, Msg, Pid, ProcessHandle, ProcessInfo, ProcessRow, ProcessStatus, TopBy,
    TopEntry,
};
pub use runtime::{raise_fd_limit, Runtime, DEFAULT_SHUTDOWN_TIMEOUT};
pub use server::ServerRef;
pub use signal::{Down, ExitSignal, MonitorRef};
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
