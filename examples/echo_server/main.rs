//! An echo server: every connection is its own RUSM process under a supervised listener.
//!
//! ```text
//! cargo run --example echo_server -- --addr 127.0.0.1:7000 --max-connections 10000 --acceptors 2
//! cargo run --example echo_server -- --tls-cert cert.pem --tls-key key.pem --proxy-protocol
//! cargo run --example echo_server -- --observer 127.0.0.1:9000
//! ```
//!
//! With `--tls-cert`/`--tls-key` every connection is TLS (its process does the handshake);
//! with `--proxy-protocol` each must begin with a PROXY protocol v1 or v2 header, as HAProxy
//! or nginx send with `send-proxy`/`proxy_protocol on` (header first, then TLS).
//!
//! Prints `listening on HOST:PORT` once bound and its signal handlers are installed; with
//! `--observer ADDR`, then `observer on http://HOST:PORT/` (docs/OBSERVER.md).
//! SIGINT/SIGTERM: stop accepting at once, give open connections 5 s, exit 0; a second signal
//! exits at once with status 130. SIGUSR1: print the supervision tree. Warnings and crash
//! reports go to stderr (`RUST_LOG`, default `info`).

#[path = "../common/daemon.rs"]
mod daemon;

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
    /// Disconnect a peer that sends nothing for this many seconds; 0 = never. The default,
    /// 60 s, is Thousand Island's read timeout: long enough for any interactive client, short
    /// enough that silent peers (dead, or trickling to hold a slot) give their descriptor and
    /// their place under --max-connections back within a minute.
    #[arg(long, default_value_t = 60)]
    idle_timeout: u64,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Share the port with other echo_server processes (SO_REUSEPORT): the kernel spreads
    /// new connections over them.
    #[arg(long)]
    reuse_port: bool,
    /// Expect a PROXY protocol (v1 or v2) header first on every connection.
    #[arg(long)]
    proxy_protocol: bool,
    /// Seconds a connection has for its PROXY header and TLS handshake.
    #[arg(long, default_value_t = 10)]
    handshake_timeout: u64,
    /// Serve the observer (supervision tree, processes, listeners, Prometheus `/metrics`) on
    /// this loopback address, e.g. 127.0.0.1:9000.
    #[arg(long, value_name = "ADDR")]
    observer: Option<String>,
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
    daemon::init_tracing();
    let mut signals = match daemon::Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("echo_server: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let idle = (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout));
    let mut builder = EchoListener::builder()
        .addr(args.addr)
        .proxy_protocol(args.proxy_protocol)
        .configure(|c| {
            let max = args.max_connections.unwrap_or(c.get_max_connections());
            let acceptors = args.acceptors.unwrap_or(c.get_acceptors());
            c.max_connections(max)
                .acceptors(acceptors)
                .idle_timeout(idle)
                .reuse_port(args.reuse_port)
                .handshake_timeout(Duration::from_secs(args.handshake_timeout.max(1)))
        });
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        builder = builder.tls(rusm::TlsConfig::pem_files(cert, key));
    }
    // A missing certificate or key file fails here, naming it.
    let listener = builder.start(&rt).await;
    let (addr, listener) = match listener {
        Ok(x) => x,
        Err(e) => {
            eprintln!("echo_server: {e}");
            return ExitCode::FAILURE;
        }
    };
    daemon::say(&format!("listening on {addr}"));
    let _observer = match daemon::observer(&rt, args.observer.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("echo_server: {e}");
            return ExitCode::FAILURE;
        }
    };
    signals.until_stop(&rt).await;
    // Refuse new connections at once; open ones get a few seconds to finish. A second signal
    // does not wait for them.
    let progress = daemon::every_second(|left| {
        tracing::info!(connections = left, "draining");
    });
    tokio::select! {
        _ = listener.drain(Duration::from_secs(5), progress) => ExitCode::SUCCESS,
        _ = signals.next_stop() => {
            eprintln!("echo_server: second signal: exiting without waiting for connections");
            ExitCode::from(daemon::FORCED_EXIT)
        }
    }
}
