//! The server side of the TCP scenarios: an echo server of the target under test, either on its
//! own 2-worker tokio runtime in this process, or in a child process (`rusm-bench serve`), so
//! that client and server each get the whole `RLIMIT_NOFILE`.
//!
//! The child prints `listening on <addr>` on stdout once it accepts, and exits when its stdin
//! closes: the parent holds the pipe, so the child cannot outlive it.

use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::metrics::AliveSource;
use crate::target::{EchoServerOpts, ServerGuard, Target, TargetKind};

/// Worker threads of the server runtime: the layout for a 2-core machine, client on a
/// third (current-thread) runtime.
pub const SERVER_WORKERS: usize = 2;

/// How long a child server may take to print its address.
const CHILD_START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running echo server; dropping it stops the server.
#[derive(Debug)]
pub enum Server {
    /// On a runtime of this process.
    InProcess {
        /// The runtime the server runs on (taken when dropping).
        runtime: Option<Runtime>,
        /// Keeps the server accepting.
        guard: Option<ServerGuard>,
        /// Where it listens.
        addr: SocketAddr,
    },
    /// In a child `rusm-bench serve` process.
    Child {
        /// The child process.
        child: Child,
        /// Its stdin: closing it tells the child to exit.
        stdin: Option<ChildStdin>,
        /// Where it listens.
        addr: SocketAddr,
    },
}

impl Server {
    /// Starts `target`'s echo server in this process, on a new [`SERVER_WORKERS`]-thread
    /// runtime.
    ///
    /// # Errors
    ///
    /// Building the runtime or binding the listener failed.
    pub fn in_process(target: &Arc<dyn Target>, opts: &EchoServerOpts) -> io::Result<Server> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(SERVER_WORKERS)
            .thread_name("server")
            .enable_all()
            .build()?;
        let (addr, guard) = runtime.block_on(target.start_echo_server(opts))?;
        Ok(Server::InProcess {
            runtime: Some(runtime),
            guard: Some(guard),
            addr,
        })
    }

    /// Starts `kind`'s echo server in a child process running this same binary.
    ///
    /// # Errors
    ///
    /// The child could not start, or did not print its address within 10 s.
    pub fn child_process(kind: TargetKind, opts: &EchoServerOpts) -> io::Result<Server> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(["serve", "--target", &kind.to_string()])
            .args(["--addr", &opts.addr.to_string()])
            .args(["--backlog", &opts.backlog.to_string()])
            .args(["--buf-size", &opts.buf_size.to_string()])
            .args(if opts.reuse_port {
                &["--reuse-port"][..]
            } else {
                &[]
            })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        // Read the first line on a thread so a silent child cannot hang us past the timeout.
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut reader = BufReader::new(stdout);
            let res = reader.read_line(&mut line).map(|_| line);
            let _ = tx.send(res);
            // Keep draining so the child never blocks on a full pipe.
            let _ = io::copy(&mut reader.take(u64::MAX), &mut io::sink());
        });
        let line = match rx.recv_timeout(CHILD_START_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => return Err(kill(child, e)),
            Err(_) => {
                return Err(kill(
                    child,
                    io::Error::new(io::ErrorKind::TimedOut, "server process did not start"),
                ))
            }
        };
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok());
        match addr {
            Some(addr) => Ok(Server::Child { child, stdin, addr }),
            None => Err(kill(
                child,
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("server process said {line:?}"),
                ),
            )),
        }
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        match self {
            Server::InProcess { addr, .. } | Server::Child { addr, .. } => *addr,
        }
    }

    /// Whether the server runs in another process.
    pub fn is_child(&self) -> bool {
        matches!(self, Server::Child { .. })
    }

    /// Resident memory of the process the server runs in (this one when in-process).
    pub fn rss(&self) -> Option<u64> {
        match self {
            Server::InProcess { .. } => crate::rss::self_rss(),
            Server::Child { child, .. } => crate::rss::pid_rss(child.id()),
        }
    }

    /// Counts the server runtime's alive tasks (in-process only).
    pub fn alive_source(&self) -> Option<AliveSource> {
        match self {
            Server::InProcess {
                runtime: Some(rt), ..
            } => {
                let handle = rt.handle().clone();
                Some(Box::new(move || handle.metrics().num_alive_tasks() as u64))
            }
            _ => None,
        }
    }
}

fn kill(mut child: Child, e: io::Error) -> io::Error {
    let _ = child.kill();
    let _ = child.wait();
    e
}

impl Drop for Server {
    fn drop(&mut self) {
        match self {
            Server::InProcess { runtime, guard, .. } => {
                drop(guard.take());
                if let Some(rt) = runtime.take() {
                    rt.shutdown_timeout(Duration::from_secs(2));
                }
            }
            Server::Child { child, stdin, .. } => {
                // EOF on its stdin is the child's signal to exit.
                drop(stdin.take());
                let deadline = Instant::now() + Duration::from_secs(5);
                loop {
                    match child.try_wait() {
                        Ok(Some(_)) => return,
                        Ok(None) if Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        _ => {
                            let _ = child.kill();
                            let _ = child.wait();
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// The `serve` subcommand: runs `kind`'s echo server until stdin closes. Prints
/// `listening on <addr>` on stdout once it accepts.
///
/// # Errors
///
/// The target is not available, or the server could not start.
pub fn serve(kind: TargetKind, opts: &EchoServerOpts) -> io::Result<()> {
    let target = kind.build().map_err(io::Error::other)?;
    let server = Server::in_process(&target, opts)?;
    println!("listening on {}", server.addr());
    io::Write::flush(&mut io::stdout())?;
    // Blocks until the parent closes the pipe (or dies).
    let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
    drop(server);
    Ok(())
}
