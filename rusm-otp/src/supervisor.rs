//! Supervisors with OTP's semantics (<https://www.erlang.org/doc/apps/stdlib/supervisor>).
//!
//! A supervisor is a process that traps exits, starts its children in order, restarts them by
//! its [`Strategy`] and each child's [`Restart`] type, and stops them in reverse order.
//!
//! - **Start.** Children start left to right; each start function returns before the next
//!   begins. If one fails, the children already started are stopped in reverse order and the
//!   start returns [`StartError::FailedToStartChild`](crate::StartError::FailedToStartChild).
//! - **Restart intensity.** More than `intensity` restarts within `period` (default 1 in 5 s,
//!   OTP's) and the supervisor stops all its children and exits with `Shutdown`, which its own
//!   supervisor sees as a child exit (escalation). Each restart decision counts once: a group
//!   restart is one; a restart whose start fails is retried and counts again.
//! - **A child's normal exit never stops its supervisor**: a permanent child is restarted, a
//!   transient or temporary one is left stopped. Only [`AutoShutdown`] with significant
//!   children ends a supervisor because a child ended.
//! - **Names.** A child with [`ChildSpec::name`] is registered at every start, after the old
//!   incarnation has exited and released the name.
//! - **Mailboxes.** A restarted child is a new process with a new pid and an empty mailbox, as
//!   in OTP; messages queued to the old incarnation are dropped with it.
//! - **Calls.** Every request — [`SupervisorRef::start_child`], `which_children`,
//!   `count_children`, `get_childspec`, … — is a message the supervisor answers between its
//!   other work, after the child exits it has already been told of (exit signals come before
//!   requests), as OTP's `gen_server` calls. [`Runtime::tree`](crate::Runtime::tree), [`SupervisorRef::child_pid`]
//!   and the handles found from a row ([`SupervisorRef::child_addr`],
//!   [`SupervisorRef::child_supervisor`]) read the table instead: they never wait for a busy
//!   supervisor, and may show it mid-step.
//! - **Orderly stops.** A child stopped on purpose from outside — a drained listener
//!   ([`Listener::drain`](crate::Listener::drain)) — is left stopped, as after
//!   `terminate_child`, whatever its restart type; OTP has no such stop (see
//!   `child_exited` in the source).
//! - **Scale.** Starting and stopping a child costs the same with ten siblings or 100,000
//!   (`examples/supervisor_scale.rs` times OTP's `scale_start_stop_many_children`).
//!
//! # Examples
//!
//! ```
//! use rusm_otp::{Runtime, SupervisorSpec, ChildSpec, Strategy, Ctx};
//!
//! let rt = Runtime::new().unwrap();
//! rt.block_on(async {
//!     let sup = rt
//!         .start_supervisor(
//!             SupervisorSpec::new(Strategy::OneForOne)
//!                 .child(ChildSpec::worker("a", |mut ctx: Ctx<()>| async move {
//!                     ctx.recv().await;
//!                 }))
//!                 .child(ChildSpec::worker("b", |mut ctx: Ctx<()>| async move {
//!                     ctx.recv().await;
//!                 })),
//!         )
//!         .await
//!         .unwrap();
//!     assert_eq!(sup.count_children().await.unwrap().active, 2);
//!     println!("{}", rt.tree());
//!     sup.stop().await;
//! });
//! ```

mod dynamic;
mod handle;
mod shutdown;
mod skeleton;
pub(crate) mod spec;
mod start;
mod static_loop;
mod stop_hook;
mod strategy;
mod supervisor_spec;
mod table;

pub(crate) use dynamic::start_dynamic;
pub use dynamic::{DynamicSupervisorRef, DynamicSupervisorSpec};
pub use handle::SupervisorRef;
pub use spec::{
    Backoff, ChildSpec, ChildType, InitAck, Restart, Shutdown, Started, StartedChild, Starter,
    DEFAULT_WORKER_SHUTDOWN,
};
pub(crate) use start::start_supervisor;
pub(crate) use stop_hook::StopHook;
pub use strategy::{AutoShutdown, Strategy, DEFAULT_INTENSITY, DEFAULT_PERIOD};
pub use supervisor_spec::{check_childspecs, SupervisorSpec};
pub(crate) use table::{Child, ChildState, ChildTable, SupervisorShared};
pub use table::{ChildCounts, ChildInfo};
