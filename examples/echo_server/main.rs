//! An echo server: every connection is its own RUSM process under a supervised listener.
//!
//! ```text
//! cargo run --example echo_server -- --addr 127.0.0.1:7000 --max-connections 10000 --acceptors 2
//! ```
//!
//! Prints `listening on HOST:PORT` once bound. SIGINT/SIGTERM: stop accepting at once, give
//! open connections a few seconds, exit 0. SIGUSR1: print the supervision tree.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rusm::prelude::*;

/// RUSM echo server.
#[derive(Parser, Debug)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = EchoListener::ADDR)]
    addr: String,
    /// Connection processes alive at most; more clients wait in the backlog
    /// (default: the listener's, 16384).
    #[arg(long)]
    max_connections: Option<usize>,
    /// Acceptor processes (default: the listener's, 2).
    #[arg(long)]
    acceptors: Option<usize>,
}

/// Echoes every byte; on half-close, echoes what came, then closes.
#[rusm::connection]
async fn echo(_ctx: Ctx, mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return stream.shutdown().await;
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// The echo listener: every connection is an `echo` process under it.
#[rusm::listener(
    addr = "127.0.0.1:7000",
    handler = echo,
    acceptors = 2,
    max_connections = 16_384,
    drain_timeout_ms = 5_000
)]
struct EchoListener;

#[rusm::main]
async fn main(rt: Runtime) -> ExitCode {
    let args = Args::parse();
    let listener = EchoListener::builder()
        .addr(args.addr)
        .configure(|mut c| {
            c.max_connections = args.max_connections.unwrap_or(c.max_connections);
            c.acceptors = args.acceptors.unwrap_or(c.acceptors);
            c
        })
        .start(&rt)
        .await;
    let (addr, listener) = match listener {
        Ok(x) => x,
        Err(e) => {
            eprintln!("echo_server: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {addr}");
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut usr1)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::user_defined1()),
    ) else {
        eprintln!("echo_server: cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = usr1.recv() => print!("{}", rt.tree()),
        }
    }
    // Refuse new connections at once; open ones get a few seconds to finish.
    listener
        .drain(Duration::from_secs(5), |left| {
            if left > 0 {
                eprintln!("echo_server: draining, {left} connections left");
            }
        })
        .await;
    ExitCode::SUCCESS
}
