//! Command line: `run <scenario> <seconds>`, `list`, `dashboard`, and the hidden `serve` used
//! by `--server-process`.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

use crate::config::{Baseline, RunConfig};
use crate::scenario::Scenario;
use crate::target::{EchoServerOpts, TargetKind};

/// RUSM's load engine: measures RUSM against raw tokio in the same run.
#[derive(Debug, Parser)]
#[command(name = "rusm-bench", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario for a number of seconds and print the figures.
    Run(RunArgs),
    /// List the scenarios.
    List,
    /// Serve the live dashboard on 127.0.0.1.
    Dashboard {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Run an echo server until stdin closes (used by `--server-process`).
    #[command(hide = true)]
    Serve(ServeArgs),
    /// Hold connections for `hold --processes` (see `spread`).
    #[command(hide = true)]
    HoldClient(crate::spread::HoldClientArgs),
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario (see `list`).
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Time bound in seconds.
    pub seconds: f64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Compare with raw tokio in the same run, or not.
    #[arg(long, value_enum, default_value_t = Baseline::Tokio)]
    pub baseline: Baseline,
    /// The system under test.
    #[arg(long, value_enum, default_value_t = TargetKind::Rusm)]
    pub target: TargetKind,
    /// Connector loops (connection-storm, default 16), senders (fan-in, default 100) or calls
    /// in flight per client (server-call, default 16).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Connections (hold: 10000, echo-throughput: 64) or group members (broadcast: 10000).
    #[arg(long)]
    pub connections: Option<usize>,
    /// Request size in bytes (echo-throughput, default 64) or frame size (broadcast, 64).
    #[arg(long)]
    pub size: Option<usize>,
    /// Count for process scenarios (spawns, round trips, idle processes, messages per sender,
    /// max restarts, calls per client, broadcasts).
    #[arg(long)]
    pub count: Option<u64>,
    /// Client source addresses: 127.0.0.1 ..= 127.0.0.N.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u8).range(1..))]
    pub sources: u8,
    /// Run the TCP server in a child process (each side then gets the whole fd limit).
    #[arg(long)]
    pub server_process: bool,
    /// Acceptors per listening socket (connection-storm; RUSM default 2, tokio 1).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub acceptors: Option<u16>,
    /// hold: spread the connections over this many server processes sharing the port with
    /// SO_REUSEPORT, and as many client processes (each process has its own fd limit).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=32))]
    pub processes: u8,
    /// Listening sockets sharing the port with SO_REUSEPORT (connection-storm, default 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub listeners: u16,
    /// Run every target this many times, interleaved, and report medians with min–max
    /// (default 5 for the process scenarios but restart-storm, server-call, broadcast and
    /// the tls-* scenarios, 1 for the others).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub runs: Option<u16>,
}

impl RunArgs {
    /// The engine's view of these arguments.
    pub fn config(&self) -> RunConfig {
        RunConfig {
            scenario: self.scenario,
            seconds: self.seconds,
            target: self.target,
            baseline: self.baseline,
            concurrency: self.concurrency,
            connections: self.connections,
            size: self.size,
            count: self.count,
            sources: self.sources,
            server_process: self.server_process,
            acceptors: self.acceptors.map(usize::from),
            listeners: usize::from(self.listeners),
            processes: usize::from(self.processes),
            runs: self.runs.map(usize::from),
        }
    }
}

/// Arguments of the hidden `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Whose echo server.
    #[arg(long, value_enum, default_value_t = TargetKind::Tokio)]
    pub target: TargetKind,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// Listen backlog.
    #[arg(long, default_value_t = 1024)]
    pub backlog: u32,
    /// Per-connection buffer size.
    #[arg(long, default_value_t = 4096)]
    pub buf_size: usize,
    /// Set SO_REUSEPORT.
    #[arg(long)]
    pub reuse_port: bool,
}

impl ServeArgs {
    /// The server options.
    pub fn opts(&self) -> EchoServerOpts {
        EchoServerOpts {
            addr: self.addr,
            backlog: self.backlog,
            buf_size: self.buf_size,
            reuse_port: self.reuse_port,
            ..EchoServerOpts::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("rusm-bench").chain(args.iter().copied()))
    }

    #[test]
    fn short_form_run_connection_storm_5() {
        let Command::Run(run) = parse(&["run", "connection-storm", "5"]).unwrap().command else {
            panic!("expected run");
        };
        let c = run.config();
        assert_eq!(c, RunConfig::new(Scenario::ConnectionStorm, 5.0));
        assert!(!run.json);
    }

    #[test]
    fn every_flag_reaches_the_config() {
        let Command::Run(run) = parse(&[
            "run",
            "echo-throughput",
            "2.5",
            "--json",
            "--baseline",
            "none",
            "--target",
            "tokio",
            "--concurrency",
            "8",
            "--connections",
            "32",
            "--size",
            "4096",
            "--count",
            "7",
            "--sources",
            "4",
            "--server-process",
            "--runs",
            "3",
        ])
        .unwrap()
        .command
        else {
            panic!("expected run");
        };
        assert!(run.json);
        let c = run.config();
        assert_eq!(c.seconds, 2.5);
        assert_eq!(c.baseline, Baseline::None);
        assert_eq!(c.target, TargetKind::Tokio);
        assert_eq!(
            (c.concurrency, c.connections, c.size, c.count, c.sources),
            (Some(8), Some(32), Some(4096), Some(7), 4)
        );
        assert!(c.server_process);
        assert_eq!(c.runs, Some(3));
    }

    #[test]
    fn unknown_scenario_and_zero_sources_are_rejected() {
        assert!(parse(&["run", "storm", "5"]).is_err());
        assert!(parse(&["run", "hold", "5", "--sources", "0"]).is_err());
        assert!(parse(&["run", "hold"]).is_err());
    }

    #[test]
    fn dashboard_port_and_list() {
        let Command::Dashboard { port } = parse(&["dashboard", "--port", "0"]).unwrap().command
        else {
            panic!("expected dashboard");
        };
        assert_eq!(port, 0);
        assert!(matches!(parse(&["list"]).unwrap().command, Command::List));
    }
}
