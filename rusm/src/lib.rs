//! RUSM: Erlang/OTP-grade processes, supervisors and supervised TCP listeners for Rust.
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
//!     let rt = Runtime::current();
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

/// What most RUSM programs use: the runtime, processes, supervisors, TCP and tokio's I/O
/// extension traits.
pub mod prelude {
    pub use rusm_otp::{
        connect, Addr, ChildSpec, Ctx, ExitReason, ListenerConfig, Msg, Pid, ProcessHandle,
        Restart, Runtime, Shutdown, Strategy, SupervisorSpec, TcpStream,
    };
    pub use tokio::io::{AsyncReadExt, AsyncWriteExt};
}
