//! `rusm-bench`: see `rusm-bench --help`, and the library docs for how targets plug in.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use rusm_bench::cli::{Cli, Command};
use rusm_bench::dashboard::{placeholder_tree, Dashboard};
use rusm_bench::progress::Progress;
use rusm_bench::{engine, server, Metrics, Scenario};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(
        cli.command,
        Command::Serve(_) | Command::HoldClient(_) | Command::List
    );
    match engine::raise_nofile() {
        Ok(soft) if !quiet => {
            let (_, hard) = engine::nofile_limits();
            eprintln!("RLIMIT_NOFILE raised to {soft} (hard limit {hard})");
        }
        Ok(_) => {}
        Err(e) => eprintln!("warning: could not raise RLIMIT_NOFILE: {e}"),
    }
    let result = match cli.command {
        Command::List => {
            for s in Scenario::ALL {
                println!("{:18} {}", s.name(), s.describe());
            }
            Ok(())
        }
        Command::Run(args) => {
            let config = args.config();
            let metrics = Metrics::new();
            let progress = Progress::start(metrics.clone());
            let report = engine::run(&config, &metrics);
            drop(progress);
            report.map(|report| {
                if args.json {
                    println!("{}", report.to_json());
                } else {
                    print!("{report}");
                }
            })
        }
        Command::Dashboard { port } => dashboard(port),
        Command::Serve(args) => server::serve(args.target, &args.opts()),
        Command::HoldClient(args) => rusm_bench::spread::hold_client(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rusm-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn dashboard(port: u16) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let metrics = Metrics::new();
        let _progress = Progress::start(metrics.clone());
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let dashboard = Dashboard::bind(addr, metrics, Arc::new(placeholder_tree)).await?;
        println!("dashboard listening on http://{}/", dashboard.local_addr()?);
        tokio::select! {
            res = dashboard.serve() => res,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
