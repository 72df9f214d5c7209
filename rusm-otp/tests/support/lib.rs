//! Small fixtures shared by the integration tests: processes named for one behaviour and a
//! bounded wait that names what it waited for.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusm_otp::{Addr, ChildSpec, ChildType, Ctx, ExitReason, InitAck, Msg, Started, Starter};
use tokio::sync::mpsc;

/// Awaits `f`, failing the test with `what` if it takes more than 10 s.
pub async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(10), f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Commands a [`worker`] obeys.
#[derive(Debug)]
pub enum Cmd {
    Exit(ExitReason),
    Panic,
}

/// What fixtures report.
#[derive(Debug)]
pub enum Event {
    Started(String, Addr<Cmd>),
    Stopped(String, ExitReason),
}

#[derive(Clone)]
pub struct Events {
    tx: mpsc::UnboundedSender<Event>,
    log: Arc<Mutex<Vec<String>>>,
}

pub struct EventRx {
    rx: mpsc::UnboundedReceiver<Event>,
    log: Arc<Mutex<Vec<String>>>,
}

pub fn events() -> (Events, EventRx) {
    let (tx, rx) = mpsc::unbounded_channel();
    let log = Arc::new(Mutex::new(Vec::new()));
    (
        Events {
            tx,
            log: log.clone(),
        },
        EventRx { rx, log },
    )
}

impl Events {
    fn send(&self, e: Event) {
        let line = match &e {
            Event::Started(id, _) => format!("start {id}"),
            Event::Stopped(id, _) => format!("stop {id}"),
        };
        self.log.lock().unwrap().push(line);
        let _ = self.tx.send(e);
    }
}

impl EventRx {
    pub async fn next(&mut self) -> Event {
        within("a fixture event", self.rx.recv())
            .await
            .expect("events channel open")
    }

    /// The next `Started` event, skipping nothing: fails on any other event.
    pub async fn started(&mut self, id: &str) -> Addr<Cmd> {
        match self.next().await {
            Event::Started(got, addr) if got == id => addr,
            other => panic!("expected start of {id}, got {other:?}"),
        }
    }

    pub async fn stopped(&mut self, id: &str) -> ExitReason {
        match self.next().await {
            Event::Stopped(got, r) if got == id => r,
            other => panic!("expected stop of {id}, got {other:?}"),
        }
    }

    /// The start/stop lines so far, in order.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }

    pub fn try_next(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }
}

/// The body of a worker: reports its start, then obeys commands. With `trap`, it traps exits
/// and reports its stop (so tests see shutdown order).
pub async fn worker_body(
    id: String,
    ev: Events,
    trap: bool,
    mut ctx: Ctx<Cmd>,
    ack: Option<InitAck>,
) -> ExitReason {
    if trap {
        ctx.trap_exit(true);
    }
    ev.send(Event::Started(id.clone(), ctx.myself()));
    if let Some(ack) = ack {
        ack.ok();
    }
    loop {
        match ctx.recv().await {
            Msg::User(Cmd::Exit(r)) => return r,
            Msg::User(Cmd::Panic) => {
                quiet_panics();
                panic!("worker {id} asked to panic")
            }
            Msg::Exit(sig) if trap => {
                ev.send(Event::Stopped(id.clone(), sig.reason.clone()));
                return sig.reason;
            }
            _ => {}
        }
    }
}

/// A worker child spec (see [`worker_body`]); its start returns once it reported its start,
/// so children report in start order.
pub fn worker(id: &str, ev: &Events) -> ChildSpec {
    spec_of(id, ev, false)
}

/// A worker that traps exits and reports its stop.
pub fn trapping_worker(id: &str, ev: &Events) -> ChildSpec {
    spec_of(id, ev, true)
}

fn spec_of(id: &str, ev: &Events, trap: bool) -> ChildSpec {
    let (id2, ev) = (id.to_string(), ev.clone());
    ChildSpec::from_start(id, ChildType::Worker, move |starter: Starter| {
        let (id, ev) = (id2.clone(), ev.clone());
        async move {
            starter
                .spawn_init(move |ctx: Ctx<Cmd>, ack| worker_body(id, ev, trap, ctx, Some(ack)))
                .await
                .map(Started::from)
        }
    })
}

/// A process that never yields to exit signals: it traps exits and ignores them.
pub async fn stubborn(mut ctx: Ctx<()>) {
    ctx.trap_exit(true);
    while !matches!(ctx.recv().await, Msg::User(())) {}
}

/// Panics with `msg`; a function returning `()`, so bodies that call it have a normal type.
pub fn crash(msg: &str) {
    quiet_panics();
    panic!("{msg}")
}

/// Tests that panic on purpose, often, print each panic's message without a backtrace:
/// with `RUST_BACKTRACE` set, resolving one costs long enough to starve timing-bounded waits.
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    });
}

/// Polls `cond` every 5 ms until it holds, failing the test with `what` after 10 s.
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// Open sockets of this test process (entries of `/proc/self/fd` that are sockets). Sockets,
/// not all descriptors: the test harness opens and closes runtimes (epoll, eventfd) for the
/// tests that start meanwhile.
pub fn open_sockets() -> usize {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

/// Resident memory of this test process in bytes (`VmRSS` of `/proc/self/status`).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Held by every test of a binary that reads process-wide figures (open descriptors, memory,
/// CPU), so that no other test of that binary opens sockets meanwhile.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The pid of the tree node whose detail is `detail` (a connection's peer address).
pub fn pid_by_detail(rt: &rusm_otp::Runtime, detail: &str) -> Option<rusm_otp::Pid> {
    fn find(n: &rusm_otp::Node, detail: &str) -> Option<rusm_otp::Pid> {
        if n.detail.as_deref() == Some(detail) {
            return n.pid;
        }
        n.children.iter().find_map(|c| find(c, detail))
    }
    rt.tree().roots.iter().find_map(|r| find(r, detail))
}

/// The handle of the connection process serving the client whose local address is `client`,
/// waiting until it shows in the tree.
pub async fn connection_process(
    rt: &rusm_otp::Runtime,
    client: std::net::SocketAddr,
) -> rusm_otp::ProcessHandle {
    let detail = client.to_string();
    within("the connection process in the tree", async {
        loop {
            if let Some(h) = pid_by_detail(rt, &detail).and_then(|pid| rt.process(pid)) {
                return h;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
}

/// Reads until EOF or an error, at most 10 s: what a client sees when the server closes.
/// `Ok(n)` is a clean end after `n` more bytes; `Err` is usually a reset.
pub async fn read_until_closed<R: tokio::io::AsyncRead + Unpin>(
    r: &mut R,
) -> std::io::Result<usize> {
    use tokio::io::AsyncReadExt;
    within("the peer to close", async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0;
        loop {
            match r.read(&mut buf).await {
                Ok(0) => return Ok(total),
                Ok(n) => total += n,
                Err(e) => return Err(e),
            }
        }
    })
    .await
}

/// An echo handler: every byte back, until the peer closes.
pub async fn echo(_ctx: Ctx, mut s: rusm_otp::TcpStream) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        s.write_all(&buf[..n]).await?;
    }
}

/// One round trip of `msg` on `c`, checked, at most 10 s.
pub async fn echoes<S>(c: &mut S, msg: &[u8])
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    within("an echo", async {
        c.write_all(msg).await.unwrap();
        let mut got = vec![0u8; msg.len()];
        c.read_exact(&mut got).await.unwrap();
        assert_eq!(got, msg);
    })
    .await
}
