//! Servers: OTP's `gen_server` behaviour, with typed requests and replies.
//!
//! A server is a process that owns a state and handles, one at a time:
//! - **calls** ([`ServerRef::call`]): a request that gets a reply, typed by
//!   [`Call<Req>`](Call) — `store.call(Get(key)).await?` returns `Get`'s reply type, checked at
//!   compile time;
//! - **casts** ([`ServerRef::cast`]): a request without reply, typed by [`Cast<Msg>`](Cast);
//! - **info** ([`Server::handle_info`]): everything else the process receives — its plain
//!   messages ([`ServerRef::send`], timers from [`ServerCtx::send_after`]), trapped exit
//!   signals and `Down` messages.
//!
//! The callbacks and their results follow `gen_server`
//! (<https://www.erlang.org/doc/apps/stdlib/gen_server>):
//!
//! | OTP | RUSM |
//! |---|---|
//! | `init/1` → `{ok, S}`, `{ok, S, {continue, C}}`, `ignore`, `{stop, R}` | [`Server::init`] → [`Init`] |
//! | `handle_call/3` → `{reply, R, S}`, `{noreply, S}`, `{stop, Reason, R, S}` | [`Call::handle_call`] → [`Reply`] |
//! | `From` + `gen_server:reply/2` (deferred reply) | [`Caller`] + [`Caller::reply`] |
//! | `handle_cast/2`, `handle_info/2` → `{noreply, S}`, `{stop, R, S}` | [`Cast::handle_cast`], [`Server::handle_info`] → [`Next`] |
//! | `handle_continue/2` | [`Server::handle_continue`], asked for by `Init::Continue`, `Reply::Continue`, `Next::Continue` |
//! | `terminate/2` | [`Server::terminate`] |
//! | `start/3`, `start_link/3`, `{local, Name}` | [`Runtime::start_server`], [`Ctx::start_server_link`], [`Runtime::start_server_named`] |
//! | child spec `{M, start_link, Args}` | [`ChildSpec::server`] |
//! | `gen_server:stop/2` | [`ServerRef::stop`] |
//!
//! `terminate` is called when OTP calls it: after a callback returns a stop, after a callback
//! panics, when the server is stopped with [`ServerRef::stop`], and when its parent (the
//! supervisor or the process that linked it) sends an exit signal while the server traps exits
//! (a supervisor's shutdown). It is not called on `kill`, nor when a non-trapping server is
//! stopped by an exit signal.
//!
//! A call waits [`DEFAULT_CALL_TIMEOUT`](crate::DEFAULT_CALL_TIMEOUT) (5 s, OTP's default); a
//! call to a dead server returns [`CallError::NoProc`](crate::CallError::NoProc) with the
//! request, and one to a server that dies before replying returns
//! [`CallError::Exited`](crate::CallError::Exited) with its reason, at once.
//!
//! # Examples
//!
//! ```
//! use std::collections::HashMap;
//! use rusm_otp::server::{Call, Caller, Cast, Init, Next, Reply, Server, ServerCtx};
//! use rusm_otp::{ExitReason, Runtime};
//!
//! #[derive(Default)]
//! struct Store(HashMap<String, String>);
//!
//! impl Server for Store {
//!     type Args = ();
//!     type Info = ();
//!     async fn init(_: (), _ctx: &mut ServerCtx<Self>) -> Init<Self> {
//!         Init::Ok(Store::default())
//!     }
//! }
//!
//! struct Get(String);
//! impl Call<Get> for Store {
//!     type Reply = Option<String>;
//!     async fn handle_call(&mut self, Get(k): Get, _: &Caller<Self::Reply>, _: &mut ServerCtx<Self>) -> Reply<Self::Reply> {
//!         Reply::Reply(self.0.get(&k).cloned())
//!     }
//! }
//!
//! struct Put(String, String);
//! impl Cast<Put> for Store {
//!     async fn handle_cast(&mut self, Put(k, v): Put, _: &mut ServerCtx<Self>) -> Next {
//!         self.0.insert(k, v);
//!         Next::Noreply
//!     }
//! }
//!
//! let rt = Runtime::new().unwrap();
//! rt.block_on(async {
//!     let store = rt.start_server_named::<Store>("kv", ()).await.unwrap();
//!     store.cast(Put("k".into(), "v".into())).unwrap();
//!     let found = rt.whereis_server::<Store>("kv").unwrap();
//!     assert_eq!(found.call(Get("k".into())).await.unwrap(), Some("v".to_string()));
//!     assert_eq!(store.stop(ExitReason::Normal).await, ExitReason::Normal);
//! });
//! ```

mod behaviour;
mod caller;
mod dispatch;
mod run;
mod server_ref;

pub use behaviour::{Call, Cast, Envelope, Init, Next, Reply, Server, ServerCtx, ServerRef};
pub use caller::Caller;

#[allow(unused_imports)] // doc links
use crate::{ChildSpec, Ctx, Runtime};
