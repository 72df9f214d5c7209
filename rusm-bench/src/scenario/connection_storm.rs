//! `connection-storm`: a steady ramp of connector loops, then hold.
//!
//! Each loop connects from its own `127.0.0.x`, sends 16 bytes, reads the echo and closes with
//! `SO_LINGER(0)` (RST, so `TIME_WAIT` never piles up), then starts over. Loop `i` of `N` starts
//! at `i/N` of the ramp (the first 20 % of the run); the sustained rate is measured over the
//! hold window after it. Low concurrency by default: flooding only inflates latency.
//!
//! `tls-handshake-storm` is the same loop over TLS: connect, a full TLS handshake (the client
//! never resumes), 16 bytes echoed, close.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{count_error, on_client_thread, timed_out, Ctx};
use crate::metrics::Metrics;
use crate::net;
use crate::report::TargetResult;
use crate::server::Server;
use crate::stats;
use crate::target::EchoServerOpts;

/// Connector loops unless `--concurrency` says otherwise.
pub(crate) const DEFAULT_LOOPS: usize = 16;
/// Share of the run spent ramping up.
const RAMP_SHARE: f64 = 0.2;
/// Bytes sent per connection.
const MESSAGE: [u8; 16] = *b"rusm-bench storm";
/// Upper bound on connections per loop: the time bound normally ends the loop first.
const MAX_PER_LOOP: u64 = 50_000_000;
/// A connect or an echo slower than this counts as a timeout error.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after an error, so a loop facing `EMFILE` does not spin.
const ERROR_BACKOFF: Duration = Duration::from_millis(1);

pub(super) fn run(ctx: &Ctx<'_>, tls: bool) -> io::Result<TargetResult> {
    let tls = tls.then(crate::tls::pair);
    let opts = EchoServerOpts {
        acceptors: ctx.config.acceptors,
        listeners: ctx.config.listeners.max(1),
        reuse_port: ctx.config.listeners > 1,
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
    let loops = ctx.config.concurrency.unwrap_or(DEFAULT_LOOPS).max(1);
    let sources = ctx.config.sources;
    let duration = ctx.duration();
    let ramp = duration.mul_f64(RAMP_SHARE);
    let metrics = ctx.metrics.clone();
    let addr = server.addr();
    let errors = Arc::new(Mutex::new(BTreeMap::new()));
    let errors2 = errors.clone();

    let window = on_client_thread(move || async move {
        let start = Instant::now();
        let end = start + duration;
        metrics.set_phase("ramp");
        let mut tasks = Vec::with_capacity(loops);
        for i in 0..loops {
            let begin = start + ramp.mul_f64(i as f64 / loops as f64);
            let source = net::source_addr(i, sources);
            let (metrics, errors) = (metrics.clone(), errors2.clone());
            let connector = connector.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(begin.into()).await;
                let mut n = 0;
                while n < MAX_PER_LOOP && Instant::now() < end {
                    match one_connection(source, addr, &metrics, connector.as_ref()).await {
                        Ok(latency) => metrics.connection_done(latency),
                        Err(e) => {
                            metrics.error();
                            count_error(&errors, &e);
                            tokio::time::sleep(ERROR_BACKOFF).await;
                        }
                    }
                    n += 1;
                }
            }));
        }
        // The hold window starts when the last loop has started.
        tokio::time::sleep_until((start + ramp).into()).await;
        let hold_start = (Instant::now(), metrics.completed());
        metrics.restart_latency_total();
        metrics.set_phase("hold");
        for t in tasks {
            let _ = t.await;
        }
        let hold_end = (Instant::now(), metrics.completed());
        (hold_start, hold_end)
    })?;
    drop(server);

    let ((t0, c0), (t1, c1)) = window;
    let latency = ctx.metrics.latency_total().summary();
    let mut r = TargetResult::new(ctx.target.name());
    r.figure("conns_per_s", stats::rate(c1 - c0, t1 - t0), "conn/s");
    r.figure("conns_in_hold", (c1 - c0) as f64, "conn");
    r.figure("conns_total", ctx.metrics.completed() as f64, "conn");
    r.figure("latency_p50_us", latency.p50_us, "µs");
    r.figure("latency_p99_us", latency.p99_us, "µs");
    r.figure("latency_max_us", latency.max_us, "µs");
    r.figure("peak_concurrent", ctx.metrics.peak_open() as f64, "conn");
    r.figure("loops", loops as f64, "");
    r.errors = errors.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if r.errors.keys().any(|k| k.starts_with("EADDRNOTAVAIL")) {
        r.limit = Some("client out of local ports (EADDRNOTAVAIL): a client limit".into());
    }
    r.notes.push(format!(
        "hold window {:.2} s after a {:.2} s ramp; latency is connect-to-echo over the hold \
         window; server {}",
        (t1 - t0).as_secs_f64(),
        ramp.as_secs_f64(),
        if ctx.config.server_process {
            "in a child process"
        } else {
            "on a 2-worker runtime in this process, client on a 1-thread runtime"
        }
    ));
    Ok(r)
}

/// connect → (TLS handshake) → send 16 B → read the echo → close with `SO_LINGER(0)`;
/// returns connect-to-echo latency.
async fn one_connection(
    source: std::net::Ipv4Addr,
    addr: SocketAddr,
    metrics: &Metrics,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> io::Result<Duration> {
    let t0 = Instant::now();
    // One timer per connection covers connect and echo: the client thread is the scarce
    // resource.
    let mut open = false;
    let res = tokio::time::timeout(IO_TIMEOUT, async {
        let stream = net::connect_from(source, addr).await?;
        metrics.conn_opened();
        open = true;
        let echoed = match tls {
            None => {
                let (echoed, stream) = echo(stream).await;
                let latency = t0.elapsed();
                net::set_linger_zero(&stream);
                echoed.map(|_| latency)
            }
            Some(connector) => match connector.connect(crate::tls::server_name(), stream).await {
                Ok(tls) => {
                    let (echoed, stream) = echo(tls).await;
                    let latency = t0.elapsed();
                    net::set_linger_zero(stream.get_ref().0);
                    echoed.map(|_| latency)
                }
                // The handshake failed; the stream went with it.
                Err(e) => Err(e),
            },
        };
        metrics.conn_closed();
        open = false;
        echoed
    })
    .await;
    if open {
        // Timed out between connect and close: the stream was dropped with the future.
        metrics.conn_closed();
    }
    res.map_err(|_| timed_out("connect or echo"))?
}

/// Sends [`MESSAGE`] and reads its echo; gives the stream back for closing.
async fn echo<S>(mut stream: S) -> (io::Result<()>, S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let res = async {
        stream.write_all(&MESSAGE).await?;
        let mut buf = [0u8; MESSAGE.len()];
        stream.read_exact(&mut buf).await.map(|_| ())
    }
    .await;
    (res, stream)
}
