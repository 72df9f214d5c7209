//! A chat server: rooms are servers under a dynamic supervisor, the nick registry is a
//! server, and every connection is a process with a mailbox that rooms deliver lines to.
//!
//! ```text
//! cargo run --example chat_server -- [--addr HOST:PORT] [--max-connections N] [--outbox N]
//!     [--idle-timeout SECS] [--debug-commands] [--observer ADDR]
//! ```
//!
//! Line protocol (UTF-8, `\n` or `\r\n`, at most 4096 bytes a line), client → server:
//! `NICK <name>`, `JOIN <room>`, `PART <room>`, `MSG <room> <text>`, `WHO <room>`, `QUIT`;
//! names are `[A-Za-z0-9_-]{1,32}`. Server → client: `OK`, `ERR <reason>`,
//! `MSG <room> <nick> <text>`, `* <nick> joined <room>`, `* <nick> left <room>`,
//! `WHO <room> <nick>…`, `BYE`; with `--debug-commands`, `PANIC` and `CRASH <room>` (then
//! `* <room> closed`).
//!
//! The tree (SIGUSR1 prints it):
//!
//! ```text
//! nicks      server, registered "nicks"
//! rooms      dynamic supervisor → one server per room, registered "room:<name>"
//! directory  server: opens rooms on first JOIN, waits out a crashed room's restart
//! listener   → connections (one process each, in process group "connections"), acceptors
//! ```
//!
//! SIGTERM/SIGINT: stop accepting, `BYE` to every connection, exit 0 within 5 s; a second
//! signal exits at once with status 130.

#[path = "../common/daemon.rs"]
mod daemon;

mod connection;
mod nicks;
mod protocol;
mod room;
mod rooms;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use rusm::prelude::*;
use rusm::{DynamicSupervisorSpec, ListenerBuilder};

use connection::{serve, Chat, ConnMsg, CONNECTIONS};

/// How long connections get to finish on SIGTERM.
const DRAIN: Duration = Duration::from_secs(5);

/// RUSM chat server.
#[derive(Parser, Debug)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7001")]
    addr: String,
    /// Connections alive at most; more clients wait in the backlog.
    #[arg(long, default_value_t = 16_384)]
    max_connections: usize,
    /// Undelivered lines a client may have queued before it is disconnected as too slow.
    #[arg(long, default_value_t = 1024)]
    outbox: usize,
    /// Disconnect a client that sends nothing for this many seconds; 0 = never. The default,
    /// 300 s, frees the descriptors of dead peers whose FIN never came, and is long enough for
    /// a person reading a room; a client that only listens sends `WHO <room>` now and then.
    #[arg(long, default_value_t = 300)]
    idle_timeout: u64,
    /// Accept `PANIC` and `CRASH <room>`, to watch supervision at work.
    #[arg(long)]
    debug_commands: bool,
    /// Serve the observer (supervision tree, processes, listeners, Prometheus `/metrics`) on
    /// this loopback address, e.g. 127.0.0.1:9000.
    #[arg(long, value_name = "ADDR")]
    observer: Option<String>,
}

#[rusm::main]
async fn main(rt: Runtime) -> ExitCode {
    let args = Args::parse();
    daemon::init_tracing();
    if args.outbox == 0 {
        eprintln!("chat_server: --outbox must be at least 1");
        return ExitCode::FAILURE;
    }
    // Signal handlers first: `listening on` means ready, signals included.
    let mut signals = match daemon::Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("chat_server: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = async {
        let nicks = rt.start_server_named::<nicks::Nicks>("nicks", ()).await?;
        let rooms_sup = rt
            .start_dynamic_supervisor(
                DynamicSupervisorSpec::new()
                    .intensity(100, Duration::from_secs(5))
                    .name("rooms"),
            )
            .await?;
        let rooms = rt
            .start_server_named::<rooms::Rooms>("directory", (rooms_sup, args.outbox))
            .await?;
        let state = Arc::new(Chat {
            nicks,
            rooms,
            debug: args.debug_commands,
        });
        let idle = (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout));
        ListenerBuilder::new(serve(), rusm::ListenerConfig::new(args.addr.clone()))
            .configure(|c| {
                c.max_connections(args.max_connections)
                    .idle_timeout(idle)
                    .drain_timeout(DRAIN)
            })
            .state(state)
            .start(&rt)
            .await
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error>)
    };
    let (addr, listener) = match started.await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("chat_server: {e}");
            return ExitCode::FAILURE;
        }
    };
    daemon::say(&format!("listening on {addr}"));
    let _observer = match daemon::observer(&rt, args.observer.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("chat_server: {e}");
            return ExitCode::FAILURE;
        }
    };
    signals.until_stop(&rt).await;
    // Stop accepting, say BYE to everyone, and give them the drain timeout to go.
    listener.suspend();
    let told = rt.pg().send(CONNECTIONS, ConnMsg::Bye);
    tracing::info!(connections = told, "shutting down");
    let progress = daemon::every_second(|left| {
        tracing::info!(connections = left, "draining");
    });
    tokio::select! {
        _ = listener.drain(DRAIN, progress) => ExitCode::SUCCESS,
        _ = signals.next_stop() => {
            eprintln!("chat_server: second signal: exiting without waiting for connections");
            ExitCode::from(daemon::FORCED_EXIT)
        }
    }
}
