//! What every example server does as a daemon: a tracing subscriber for the operator,
//! signal handlers installed before it says it is ready, a tree dump on SIGUSR1 that never
//! blocks or kills the service, and a second SIGINT/SIGTERM that forces the exit.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rusm::Runtime;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Exit status of a shutdown forced by a second signal (128 + SIGINT, as shells report it).
pub(crate) const FORCED_EXIT: u8 = 130;

/// Sends `tracing` events to stderr, filtered by `RUST_LOG` (default `info`), and makes a
/// panicking process one crash report there rather than the default hook's output.
pub(crate) fn init_tracing() {
    rusm::report_process_panics();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Prints a line on stdout and flushes it; a closed stdout is reported once on stderr and
/// otherwise ignored (`print!` would panic on a broken pipe).
pub(crate) fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        tracing::warn!("stdout is closed; serving anyway");
    }
}

/// Serves the observer (`rusm::observer`: the tree, processes, listeners and `/metrics`) on
/// `addr`, a loopback address, when `--observer ADDR` was given, and says where on stdout
/// after the readiness line: `observer on http://HOST:PORT/`. Keep the handle: dropping it
/// stops the observer.
pub(crate) fn observer(
    rt: &Runtime,
    addr: Option<&str>,
) -> Result<Option<rusm::observer::Observer>, String> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let observer =
        rusm::observer::serve(rt, addr).map_err(|e| format!("--observer {addr}: {e}"))?;
    say(&format!("observer on http://{}/", observer.local_addr()));
    Ok(Some(observer))
}

/// The signals a server answers.
pub(crate) struct Signals {
    term: Signal,
    int: Signal,
    usr1: Signal,
    dumping: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers. Do it before printing the readiness line: a signal that comes
    /// right after it is then handled, not fatal.
    pub(crate) fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            usr1: signal(SignalKind::user_defined1())?,
            dumping: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Serves SIGUSR1 (print the supervision tree) until SIGTERM or SIGINT.
    pub(crate) async fn until_stop(&mut self, rt: &Runtime) {
        loop {
            tokio::select! {
                _ = self.term.recv() => return,
                _ = self.int.recv() => return,
                _ = self.usr1.recv() => self.dump_tree(rt),
            }
        }
    }

    /// The next SIGTERM or SIGINT: during a drain, the operator's way to force the exit.
    pub(crate) async fn next_stop(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }

    /// Writes the tree from a thread of its own: a slow reader of stdout blocks only that
    /// thread, a closed one only loses the dump, and a dump still being written makes the
    /// next request skip.
    fn dump_tree(&self, rt: &Runtime) {
        if self.dumping.swap(true, Ordering::AcqRel) {
            tracing::info!("a tree dump is still being written; skipped");
            return;
        }
        let tree = rt.tree().to_string();
        let dumping = self.dumping.clone();
        std::thread::spawn(move || {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(tree.as_bytes()).and_then(|()| out.flush());
            dumping.store(false, Ordering::Release);
        });
    }
}

/// Calls `report` with the connections left at most once a second.
pub(crate) fn every_second(mut report: impl FnMut(usize)) -> impl FnMut(usize) {
    let mut last: Option<std::time::Instant> = None;
    move |left| {
        if left > 0 && last.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1)) {
            last = Some(std::time::Instant::now());
            report(left);
        }
    }
}
