//! `hold`: N concurrent idle connections, each echoing once when opened and once more after the
//! hold, and the server's resident bytes per connection.
//!
//! Clients spread over `127.0.0.1 ..= 127.0.0.<sources>` so the ephemeral port range is not the
//! limit. With client and server in one process every connection costs two fds, so N is clamped
//! to half of what RLIMIT_NOFILE leaves; `--server-process` runs the server in a child process
//! and lets the client use (almost) the whole limit — ~19,990 where the hard limit is 20,000.
//! When the kernel stops the opening (`EMFILE`, `EADDRNOTAVAIL`, a connect timeout because the
//! backlog is full) the result says so instead of failing.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{at_least, count_error, on_client_thread, timed_out, Ctx};
use crate::net;
use crate::report::TargetResult;
use crate::server::Server;
use crate::stats;
use crate::target::EchoServerOpts;

/// Connections unless `--connections` says otherwise.
pub(crate) const DEFAULT_CONNECTIONS: usize = 10_000;
/// Connects in flight while opening.
const OPEN_CONCURRENCY: usize = 256;
/// fds kept free beyond those open at the start (runtime, pipes, /proc reads).
const FD_MARGIN: u64 = 8;
/// A connect or echo slower than this counts as a timeout.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const MESSAGE: [u8; 8] = *b"hold-on!";

/// How many connections fit under `hard` fds when `open_now` are in use: each one costs two
/// fds when the server shares the process, one otherwise.
pub(crate) fn fd_budget(hard: u64, open_now: u64, server_in_process: bool) -> u64 {
    let free = hard.saturating_sub(open_now + FD_MARGIN);
    if server_in_process {
        free / 2
    } else {
        free
    }
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(16, |d| d.count() as u64)
}

async fn echo_once(stream: &mut TcpStream) -> io::Result<()> {
    tokio::time::timeout(IO_TIMEOUT, async {
        stream.write_all(&MESSAGE).await?;
        let mut buf = [0u8; MESSAGE.len()];
        stream.read_exact(&mut buf).await?;
        Ok(())
    })
    .await
    .map_err(|_| timed_out("echo"))?
}

pub(super) fn run(ctx: &Ctx<'_>) -> io::Result<TargetResult> {
    if ctx.config.processes > 1 {
        let asked = ctx.config.connections.unwrap_or(DEFAULT_CONNECTIONS);
        return crate::spread::run(
            ctx.kind,
            asked,
            ctx.config.processes,
            ctx.config.sources,
            ctx.duration(),
        );
    }
    let separate = ctx.config.server_process;
    let opts = EchoServerOpts::default();
    let server = if separate {
        Server::child_process(ctx.kind, &opts)?
    } else {
        Server::in_process(&ctx.target, &opts)?
    };
    ctx.metrics.set_alive_source(server.alive_source());
    let asked = ctx.config.connections.unwrap_or(DEFAULT_CONNECTIONS) as u64;
    let budget = fd_budget(ctx.nofile_hard, open_fds(), !separate);
    let n = asked.min(budget) as usize;
    let mut r = TargetResult::new(ctx.target.name());
    if (n as u64) < asked {
        r.notes.push(format!(
            "asked for {asked} connections, clamped to {n}: RLIMIT_NOFILE hard limit is {}{}",
            ctx.nofile_hard,
            if separate {
                ""
            } else {
                " and client + server in one process use 2 fds per connection; \
                 --server-process lets the client use the whole limit"
            }
        ));
    }
    let rss_before = server.rss().unwrap_or(0);
    let deadline = Instant::now() + ctx.duration();
    let sources = ctx.config.sources;
    let addr = server.addr();
    let metrics = ctx.metrics.clone();
    let errors = Arc::new(Mutex::new(BTreeMap::new()));
    let limit = Arc::new(Mutex::new(None::<&'static str>));
    let (errors2, limit2) = (errors.clone(), limit.clone());
    let server_rss = {
        // Read from the client thread right after opening; in-process that is this process.
        let pid = match &server {
            Server::Child { child, .. } => Some(child.id()),
            Server::InProcess { .. } => None,
        };
        move || match pid {
            Some(pid) => crate::rss::pid_rss(pid),
            None => crate::rss::self_rss(),
        }
    };

    let outcome = on_client_thread(move || async move {
        metrics.set_phase("opening");
        let stop = AtomicBool::new(false);
        let t0 = Instant::now();
        let mut held: Vec<TcpStream> = stream::iter(0..n)
            .map(|i| {
                let (metrics, errors, limit, stop) = (&metrics, &errors2, &limit2, &stop);
                async move {
                    if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
                        return None;
                    }
                    let res = async {
                        let connect = net::connect_from(net::source_addr(i, sources), addr);
                        let mut s = tokio::time::timeout(IO_TIMEOUT, connect)
                            .await
                            .map_err(|_| timed_out("connect"))??;
                        echo_once(&mut s).await?;
                        Ok::<_, io::Error>(s)
                    }
                    .await;
                    match res {
                        Ok(s) => {
                            metrics.conn_opened();
                            metrics.ops_done(1);
                            Some(s)
                        }
                        Err(e) => {
                            metrics.error();
                            count_error(errors, &e);
                            if let Some(why) = net::kernel_limit(&e) {
                                stop.store(true, Ordering::Relaxed);
                                limit
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .get_or_insert(why);
                            }
                            None
                        }
                    }
                }
            })
            .buffer_unordered(OPEN_CONCURRENCY)
            .filter_map(|s| async move { s })
            .collect()
            .await;
        let open_time = t0.elapsed();
        let timed_out_opening = held.len() < n && Instant::now() >= deadline;
        let rss_after = server_rss().unwrap_or(0);

        metrics.set_phase("holding");
        tokio::time::sleep_until(deadline.into()).await;

        metrics.set_phase("checking");
        let check_deadline = at_least(deadline, Duration::from_secs(30));
        let echoing = stream::iter(held.iter_mut())
            .map(|s| async move { Instant::now() < check_deadline && echo_once(s).await.is_ok() })
            .buffer_unordered(OPEN_CONCURRENCY)
            .filter(|ok| std::future::ready(*ok))
            .count()
            .await;
        let opened = held.len();
        for s in held.drain(..) {
            net::set_linger_zero(&s);
            drop(s);
            metrics.conn_closed();
        }
        (opened, echoing, open_time, rss_after, timed_out_opening)
    })?;
    drop(server);

    let (opened, echoing, open_time, rss_after, timed_out_opening) = outcome;
    let delta = rss_after.saturating_sub(rss_before);
    r.figure(
        "server_bytes_per_conn",
        if opened > 0 {
            delta as f64 / opened as f64
        } else {
            0.0
        },
        "B/conn",
    );
    r.figure("held", opened as f64, "conn");
    r.figure("echoing_after_hold", echoing as f64, "conn");
    r.figure("requested", n as f64, "conn");
    r.figure("open_secs", open_time.as_secs_f64(), "s");
    r.figure(
        "opens_per_s",
        stats::rate(opened as u64, open_time),
        "conn/s",
    );
    r.figure("server_rss_delta", delta as f64, "B");
    r.errors = errors.lock().unwrap_or_else(|p| p.into_inner()).clone();
    r.limit = limit
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .map(str::to_owned);
    if timed_out_opening {
        r.notes
            .push("the time bound ran out while opening: give more seconds".into());
    }
    if echoing < opened {
        r.notes.push(format!(
            "{} held connections no longer echoed after the hold",
            opened - echoing
        ));
    }
    r.notes.push(if separate {
        "RSS delta of the server process alone".into()
    } else {
        "RSS delta of this process: server and client sides together \
         (--server-process measures the server alone)"
            .into()
    });
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_gets_half_the_fds_a_separate_server_leaves() {
        assert_eq!(fd_budget(20_000, 12, true), (20_000 - 12 - FD_MARGIN) / 2);
        assert_eq!(fd_budget(20_000, 12, false), 20_000 - 12 - FD_MARGIN);
        assert_eq!(fd_budget(10, 12, false), 0);
    }
}
