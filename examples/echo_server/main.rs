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
    #[arg(long, default_value = "127.0.0.1:7000")]
    addr: String,
    /// Connection processes alive at most; more clients wait in the backlog.
    #[arg(long, default_value_t = 16_384)]
    max_connections: usize,
    /// Acceptor processes.
    #[arg(long, default_value_t = 2)]
    acceptors: usize,
}

/// Echoes every byte; on half-close, echoes what came, then closes.
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

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("echo_server: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let run = rt.clone();
    rt.block_on(async move {
        let config = ListenerConfig::new(args.addr.clone())
            .max_connections(args.max_connections)
            .acceptors(args.acceptors)
            .drain_timeout(Duration::from_secs(5));
        let (addr, listener) = match run.listen_with(config, echo).await {
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
                _ = usr1.recv() => print!("{}", run.tree()),
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
    })
}
