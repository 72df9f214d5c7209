//! `echo-throughput`: C connections each doing request/response of S bytes back to back.
//!
//! All connections are opened first; the measured window runs from when the last one echoed
//! once until the deadline.
//!
//! `tls-echo` is the same over TLS: the connections' handshakes are done before the window.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{count_error, on_client_thread, timed_out, Ctx};
use crate::net;
use crate::report::TargetResult;
use crate::server::Server;
use crate::stats;
use crate::target::EchoServerOpts;

/// Connections unless `--connections` says otherwise.
pub(crate) const DEFAULT_CONNECTIONS: usize = 64;
/// Request size unless `--size` says otherwise.
pub(crate) const DEFAULT_SIZE: usize = 64;
/// Upper bound on requests per connection: the time bound normally ends the loop first.
const MAX_PER_CONN: u64 = 1_000_000_000;
/// A connect, or the last request, slower than this (past the deadline) is a timeout error.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) fn run(ctx: &Ctx<'_>, tls: bool) -> io::Result<TargetResult> {
    let size = ctx.config.size.unwrap_or(DEFAULT_SIZE).max(1);
    let tls = tls.then(crate::tls::pair);
    let opts = EchoServerOpts {
        // The server reads whole requests at once, as a real protocol handler would.
        buf_size: EchoServerOpts::default().buf_size.max(size),
        tls: tls.map(|t| t.server.clone()),
        ..EchoServerOpts::default()
    };
    let connector = tls.map(|t| t.client.clone());
    let server = if ctx.config.server_process {
        if tls.is_some() {
            return Err(super::tls_in_process_only());
        }
        Server::child_process(ctx.kind, &opts)?
    } else {
        Server::in_process(&ctx.target, &opts)?
    };
    ctx.metrics.set_alive_source(server.alive_source());
    let conns = ctx.config.connections.unwrap_or(DEFAULT_CONNECTIONS).max(1);
    let sources = ctx.config.sources;
    let deadline = Instant::now() + ctx.duration();
    let addr = server.addr();
    let metrics = ctx.metrics.clone();
    let errors = Arc::new(Mutex::new(BTreeMap::new()));
    let errors2 = errors.clone();

    let (opened, window) = on_client_thread(move || async move {
        metrics.set_phase("opening");
        let mut streams = Vec::with_capacity(conns);
        for i in 0..conns {
            let connect = async {
                let tcp = net::connect_from(net::source_addr(i, sources), addr).await?;
                match &connector {
                    None => Ok(Conn::Plain(tcp)),
                    Some(c) => c
                        .connect(crate::tls::server_name(), tcp)
                        .await
                        .map(|s| Conn::Tls(Box::new(s))),
                }
            };
            match tokio::time::timeout(IO_TIMEOUT, connect).await {
                Ok(Ok(s)) => {
                    metrics.conn_opened();
                    streams.push(s);
                }
                Ok(Err(e)) => count_error(&errors2, &e),
                Err(_) => count_error(&errors2, &timed_out("connect")),
            }
        }
        let opened = streams.len();
        metrics.restart_latency_total();
        metrics.set_phase("measuring");
        let ops_before = metrics.ops();
        let t0 = Instant::now();
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|stream| {
                let (metrics, errors) = (metrics.clone(), errors2.clone());
                tokio::spawn(async move {
                    // One loop per transport, each monomorphic, as each side's would be.
                    let (looped, tcp) = match stream {
                        Conn::Plain(s) => request_loop(s, size, deadline, &metrics).await,
                        Conn::Tls(s) => {
                            let (looped, s) = request_loop(*s, size, deadline, &metrics).await;
                            (looped, s.into_inner().0)
                        }
                    };
                    if let Err(e) = looped {
                        metrics.error();
                        count_error(&errors, &e);
                    }
                    net::set_linger_zero(&tcp);
                    drop(tcp);
                    metrics.conn_closed();
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
        (opened, (metrics.ops() - ops_before, t0.elapsed()))
    })?;
    drop(server);

    let (requests, elapsed) = window;
    let latency = ctx.metrics.latency_total().summary();
    let req_per_s = stats::rate(requests, elapsed);
    let mut r = TargetResult::new(ctx.target.name());
    r.figure("requests_per_s", req_per_s, "req/s");
    r.figure("mb_per_s", req_per_s * size as f64 / 1e6, "MB/s each way");
    r.figure("latency_p50_us", latency.p50_us, "µs");
    r.figure("latency_p99_us", latency.p99_us, "µs");
    r.figure("latency_max_us", latency.max_us, "µs");
    r.figure("connections", opened as f64, "conn");
    r.figure("size", size as f64, "B");
    r.errors = errors.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if opened < conns {
        r.notes
            .push(format!("only {opened} of {conns} connections opened"));
    }
    Ok(r)
}

/// A client connection over either transport.
enum Conn {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

/// Request/response of `size` bytes back to back until `deadline`; gives the stream back.
async fn request_loop<S>(
    mut stream: S,
    size: usize,
    deadline: Instant,
    metrics: &crate::metrics::Metrics,
) -> (io::Result<()>, S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // One timer for the whole loop, not one per request: the client thread is the scarce
    // resource, and a stuck server still ends the loop.
    let looped = tokio::time::timeout_at((deadline + IO_TIMEOUT).into(), async {
        let request = vec![0x5a_u8; size];
        let mut response = vec![0u8; size];
        let mut n = 0;
        while n < MAX_PER_CONN && Instant::now() < deadline {
            let t = Instant::now();
            stream.write_all(&request).await?;
            stream.read_exact(&mut response).await?;
            metrics.request_done(t.elapsed());
            n += 1;
        }
        Ok::<_, io::Error>(())
    })
    .await
    .map_err(|_| timed_out("echo"))
    .and_then(|r| r);
    (looped, stream)
}
