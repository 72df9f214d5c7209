//! `hold --processes K`: more connections than one process has descriptors for, spread over K
//! server processes sharing one port with `SO_REUSEPORT` and K client processes
//! (`rusm-bench hold-client`), each holding its share.
//!
//! A client child opens its connections, echoes once on each, prints `held N`, and waits: on
//! the line `check` it echoes once more on each and prints `echoing N`; when its stdin closes it
//! resets every connection and exits.

use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::net;
use crate::report::TargetResult;
use crate::server::Server;
use crate::target::{EchoServerOpts, TargetKind};

/// Connects in flight per client process.
const OPEN_CONCURRENCY: usize = 256;
/// A connect or echo slower than this fails.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const MESSAGE: [u8; 8] = *b"spread!!";

/// Arguments of the hidden `hold-client` subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct HoldClientArgs {
    /// The server address.
    #[arg(long)]
    pub addr: SocketAddr,
    /// Connections to hold.
    #[arg(long)]
    pub connections: usize,
    /// Source addresses 127.0.0.1 ..= 127.0.0.N.
    #[arg(long, default_value_t = 16)]
    pub sources: u8,
}

async fn echo_once(s: &mut TcpStream) -> io::Result<()> {
    tokio::time::timeout(IO_TIMEOUT, async {
        s.write_all(&MESSAGE).await?;
        let mut buf = [0u8; MESSAGE.len()];
        s.read_exact(&mut buf).await?;
        Ok(())
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "echo timed out"))?
}

/// The `hold-client` subcommand (see the module docs).
///
/// # Errors
///
/// The runtime could not start, or stdout closed.
pub fn hold_client(args: &HoldClientArgs) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (addr, sources) = (args.addr, args.sources);
        let mut held: Vec<TcpStream> = stream::iter(0..args.connections)
            .map(|i| async move {
                let connect = net::connect_from(net::source_addr(i, sources), addr);
                let mut s = tokio::time::timeout(IO_TIMEOUT, connect).await.ok()?.ok()?;
                echo_once(&mut s).await.ok()?;
                Some(s)
            })
            .buffer_unordered(OPEN_CONCURRENCY)
            .filter_map(|s| async move { s })
            .collect()
            .await;
        say(&format!("held {}", held.len()))?;
        let mut stdin = BufReader::new(io::stdin());
        let mut line = String::new();
        while stdin.read_line(&mut line)? > 0 {
            if line.trim() == "check" {
                let echoing = stream::iter(held.iter_mut())
                    .map(|s| async move { echo_once(s).await.is_ok() })
                    .buffer_unordered(OPEN_CONCURRENCY)
                    .filter(|ok| std::future::ready(*ok))
                    .count()
                    .await;
                say(&format!("echoing {echoing}"))?;
            }
            line.clear();
        }
        for s in held.drain(..) {
            net::set_linger_zero(&s);
        }
        Ok(())
    })
}

fn say(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// A client child: its stdin (the commands) and its stdout (the answers).
struct ClientChild {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl ClientChild {
    fn start(addr: SocketAddr, connections: usize, sources: u8) -> io::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["hold-client", "--addr", &addr.to_string()])
            .args(["--connections", &connections.to_string()])
            .args(["--sources", &sources.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        Ok(ClientChild {
            child,
            stdin,
            stdout,
        })
    }

    /// Reads the answer `<word> N`.
    fn read(&mut self, word: &str) -> io::Result<usize> {
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        line.trim()
            .strip_prefix(word)
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("client process said {line:?}, expected `{word} N`"),
                )
            })
    }

    fn send(&mut self, line: &str) -> io::Result<()> {
        let stdin = self.stdin.as_mut().expect("stdin is open until drop");
        writeln!(stdin, "{line}")?;
        stdin.flush()
    }
}

impl Drop for ClientChild {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Holds `n` connections against `kind`'s echo server run as `k` processes on one port, for
/// `hold` from the start of the opening.
///
/// # Errors
///
/// A server or client process could not start or answered nonsense.
pub(crate) fn run(
    kind: TargetKind,
    n: usize,
    k: usize,
    sources: u8,
    hold: Duration,
) -> io::Result<TargetResult> {
    let k = k.max(1);
    let opts = EchoServerOpts {
        reuse_port: true,
        ..EchoServerOpts::default()
    };
    let first = Server::child_process(kind, &opts)?;
    let addr = first.addr();
    let mut servers = vec![first];
    for _ in 1..k {
        servers.push(Server::child_process(
            kind,
            &EchoServerOpts {
                addr,
                ..opts.clone()
            },
        )?);
    }
    let before: Vec<u64> = servers.iter().map(|s| s.rss().unwrap_or(0)).collect();
    let t0 = Instant::now();
    let mut clients = (0..k)
        .map(|i| ClientChild::start(addr, n / k + usize::from(i < n % k), sources))
        .collect::<io::Result<Vec<_>>>()?;
    // Every client opens its share at once; collect their answers in turn.
    let held: usize = clients
        .iter_mut()
        .map(|c| c.read("held"))
        .sum::<io::Result<usize>>()?;
    let open_time = t0.elapsed();
    let after: Vec<u64> = servers.iter().map(|s| s.rss().unwrap_or(0)).collect();
    // Hold them idle for the rest of the scenario's time, then check each still echoes.
    std::thread::sleep(hold.saturating_sub(t0.elapsed()));
    for c in &mut clients {
        c.send("check")?;
    }
    let echoing: usize = clients
        .iter_mut()
        .map(|c| c.read("echoing"))
        .sum::<io::Result<usize>>()?;
    drop(clients);
    drop(servers);
    let delta: u64 = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.saturating_sub(*b))
        .sum();
    let mut r = TargetResult::new(&kind.to_string());
    r.figure(
        "server_bytes_per_conn",
        if held > 0 {
            delta as f64 / held as f64
        } else {
            0.0
        },
        "B/conn",
    );
    r.figure("held", held as f64, "conn");
    r.figure("echoing_after_hold", echoing as f64, "conn");
    r.figure("requested", n as f64, "conn");
    r.figure("processes", k as f64, "");
    r.figure("open_secs", open_time.as_secs_f64(), "s");
    r.figure("server_rss_delta", delta as f64, "B");
    r.notes.push(format!(
        "{k} server processes sharing {addr} with SO_REUSEPORT, {k} client processes; \
         RSS delta of the server processes together"
    ));
    Ok(r)
}
