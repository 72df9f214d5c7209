//! RUSM: Erlang/OTP-grade processes, supervisors and supervised TCP listeners for Rust.
//!
//! Start with the guide, `docs/GUIDE.md` in the repository: from a process to a server
//! ([`server`]) to a supervised application with a listener.
//!
//! A connection is just a process: [`Runtime::listen`] accepts sockets under a supervision
//! tree shaped like ranch's, and gives each one its own process. Processes are isolated
//! (a panic ends only its process), linked, monitored and supervised with OTP's exact
//! semantics; [`Runtime::tree`] shows the tree.
//!
//! ```no_run
//! use rusm::prelude::*;
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let rt = Runtime::attach();
//!     let (addr, listener) = rt
//!         .listen("127.0.0.1:7000", |_ctx, mut stream| async move {
//!             let mut buf = [0u8; 4096];
//!             loop {
//!                 let n = stream.read(&mut buf).await?;
//!                 if n == 0 {
//!                     return Ok::<(), std::io::Error>(());
//!                 }
//!                 stream.write_all(&buf[..n]).await?;
//!             }
//!         })
//!         .await?;
//!     println!("listening on {addr}");
//!     listener.wait().await;
//!     Ok(())
//! }
//! ```

pub use rusm_otp::*;

#[cfg(feature = "observer")]
#[cfg_attr(docsrs, doc(cfg(feature = "observer")))]
pub mod observer;

/// Turns `async fn name(ctx: Ctx, stream: TcpStream)` — or with a third parameter
/// `state: Arc<YourState>` — into a connection handler: a unit struct `name` that implements
/// [`Handler`]. Returning `()` or a `Result`; an `Err` becomes the connection process's exit
/// reason.
///
/// Options: `idle_timeout_ms = N` (a peer silent for N ms is disconnected) and
/// `close_with_reset = true|false`; they override the listener's.
///
/// What is generated: a braced `struct name {}` (with the fn's docs) that implements
/// [`Handler`], the fn body as a hidden associated fn, and `fn name() -> name`, the handler
/// as a value (`ListenerBuilder::new(name(), config)`). Neither is a unit struct, so a
/// binding called `name` elsewhere (`|name| …`) is never taken for the handler.
///
/// Give the context a message type, `ctx: Ctx<M>`, and the connection's process has a
/// mailbox: `ctx.myself()` is its [`Addr<M>`](Addr); wait for socket data and messages in
/// one `tokio::select!` (see the guide, `docs/GUIDE.md`).
///
/// ```
/// use rusm::prelude::*;
///
/// #[rusm::connection(idle_timeout_ms = 30_000)]
/// async fn echo(_ctx: Ctx, mut stream: TcpStream) -> std::io::Result<()> {
///     let mut buf = [0u8; 4096];
///     loop {
///         let n = stream.read(&mut buf).await?;
///         if n == 0 {
///             return Ok(());
///         }
///         stream.write_all(&buf[..n]).await?;
///     }
/// }
/// # fn main() { let _ = echo; }
/// ```
pub use rusm_macros::connection;

/// Turns a unit struct into a supervised listener running a [`connection`] handler.
///
/// Keys (all optional but `handler`; omitted ones take [`ListenerConfig`]'s defaults):
/// `addr = "IP:PORT"` (checked at compile time; default `"127.0.0.1:0"`), `handler = fn_name`,
/// `acceptors = N`, `max_connections = N`, `backlog = N`, `nodelay = bool`,
/// `reuse_port = bool`, `close_with_reset = bool`, `idle_timeout_ms = N`, `intensity = N` and
/// `period_secs = N` (the acceptors' restart intensity), `drain_timeout_ms = N`,
/// `tls(cert = "cert.pem", key = "key.pem")` with an optional `alpn = ["h2", "http/1.1"]`
/// (TLS with rustls; the files are read, and a missing one named, when the listener starts),
/// `proxy_protocol = bool` (a PROXY protocol v1/v2 header first on every connection) and
/// `handshake_timeout_ms = N` (for the header and the TLS handshake; default 10 s).
///
/// What is generated, on the struct: `ADDR`, `config() -> ListenerConfig`,
/// `builder() -> ListenerBuilder` (override the address from flags, give shared state),
/// `start(&Runtime)`, and `child_spec() -> ChildSpec` to put it in a supervision tree (its
/// [`Listener`] handle is then found with [`Runtime::listeners`]).
///
/// ```
/// use rusm::prelude::*;
///
/// #[rusm::connection]
/// async fn hello(_ctx: Ctx, mut stream: TcpStream) -> std::io::Result<()> {
///     stream.write_all(b"hello\n").await
/// }
///
/// #[rusm::listener(addr = "127.0.0.1:0", handler = hello, acceptors = 2, max_connections = 100)]
/// struct HelloListener;
///
/// #[rusm::main]
/// async fn main(rt: Runtime) {
///     let app = rt
///         .start_supervisor(SupervisorSpec::new(Strategy::OneForOne).child(HelloListener::child_spec()))
///         .await
///         .unwrap();
///     assert!(rt.tree().find("HelloListener").is_some());
///     app.stop().await;
/// }
/// ```
pub use rusm_macros::listener;

/// Runs `async fn main` on a new RUSM runtime, as `#[tokio::main]` does on tokio; `main` may
/// take the runtime as its one parameter, `rt: Runtime`.
pub use rusm_macros::main;

/// Runs an `async fn` test on a new RUSM runtime; like [`main`](macro@main), it may take
/// `rt: Runtime`.
pub use rusm_macros::test;

/// The README's example, compiled as a doc test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExample;

/// The guide, `docs/GUIDE.md`, whose snippets run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/GUIDE.md")]
pub struct Guide;

#[doc(hidden)]
pub mod __private {
    //! Paths the macros' generated code uses. Not a public API.
    #[cfg(feature = "tls")]
    pub use rusm_otp::TlsConfig;
    pub use rusm_otp::{
        ChildSpec, Ctx, Handler, HandlerOptions, Listener, ListenerBuilder, ListenerConfig,
        Runtime, TcpStream,
    };
    pub use std::sync::Arc;
    pub use std::time::Duration;

    pub mod probe {
        //! Tells a listener's handler value apart (autoref specialization): the function
        //! `#[rusm::connection]` makes, a unit-struct handler, or anything else, which gets
        //! the `Handler` trait's "not a RUSM connection handler" error at its own span.
        use rusm_otp::Handler;
        use std::marker::PhantomData;

        #[derive(Debug)]
        pub struct Probe<T>(pub T);

        /// A handler.
        #[derive(Debug)]
        pub struct Handled;

        /// Something else: a handler only if `T` implements `Handler`.
        #[derive(Debug)]
        pub struct Unknown<T>(PhantomData<T>);

        pub trait Check {}
        impl Check for Handled {}
        impl<T: Handler> Check for Unknown<T> {}

        pub fn require<C: Check>(_: C) {}

        pub trait ViaFactory {
            fn rusm_probe(&self) -> Handled {
                Handled
            }
        }
        /// `h`, the function `#[rusm::connection] async fn h` makes.
        impl<F: Fn() -> H, H: Handler> ViaFactory for &&Probe<F> {}

        pub trait ViaValue {
            fn rusm_probe(&self) -> Handled {
                Handled
            }
        }
        /// A unit struct that implements `Handler` by hand.
        impl<H: Handler> ViaValue for &Probe<H> {}

        pub trait Fallback<T> {
            fn rusm_probe(&self) -> Unknown<T> {
                Unknown(PhantomData)
            }
        }
        impl<T> Fallback<T> for Probe<T> {}
    }
}

/// What most RUSM programs use: the runtime, processes, supervisors, TCP and tokio's I/O
/// extension traits.
pub mod prelude {
    pub use rusm_otp::server::{Call, Caller, Cast, Init, Next, Reply, Server, ServerCtx};
    #[cfg(feature = "tls")]
    pub use rusm_otp::TlsConfig;
    pub use rusm_otp::{
        connect, Addr, ChildSpec, Ctx, ExitReason, Handler, ListenerConfig, Msg, Pid,
        ProcessHandle, Restart, Runtime, ServerRef, Shutdown, Strategy, SupervisorSpec, TcpStream,
    };
    pub use std::sync::Arc;
    pub use tokio::io::{AsyncReadExt, AsyncWriteExt};
}
