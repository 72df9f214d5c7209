//! Ensures what an operator reads is right: an orderly shutdown logs no warning, a peer's
//! reset is not a warning, a crashing connection gives one report naming its peer and its
//! listener, and the tree shows each pid once with registered names.
//!
//! One test in this file: the capturing subscriber is global to the test binary.
#[path = "support/lib.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusm_otp::{ChildSpec, Ctx, ListenerConfig, Runtime, Strategy, SupervisorSpec};
use support::within;
use tokio::io::AsyncReadExt;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The lines logged since the last call.
    fn take(&self) -> Vec<String> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap());
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn warnings(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.contains("WARN")).collect()
}

#[test]
fn what_the_operator_reads() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .init();
    rusm_otp::report_process_panics();
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        // 1. An orderly shutdown: acceptors are brutal-killed by their supervisor, which is
        //    their shutdown spec, not a crash.
        let (addr, listener) = rt
            .listen("127.0.0.1:0", |_ctx, mut s| async move {
                let mut b = [0u8; 1];
                let _ = s.read(&mut b).await;
            })
            .await
            .unwrap();
        listener.drain(Duration::from_secs(1), |_| {}).await;
        let lines = logs.take();
        assert!(warnings(&lines).is_empty(), "{lines:#?}");
        assert!(
            lines.iter().any(|l| l.contains("reason=killed")),
            "{lines:#?}"
        );
        let _ = addr;

        // 2. A peer that resets its connection: the handler's error is the peer's doing.
        let (addr, listener) = rt
            .listen("127.0.0.1:0", |_ctx, mut s| async move {
                let mut b = [0u8; 16];
                loop {
                    if s.read(&mut b).await? == 0 {
                        return Ok::<(), std::io::Error>(());
                    }
                }
            })
            .await
            .unwrap();
        for _ in 0..5 {
            let c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all_and_reset();
        }
        within("the connections to end", async {
            while listener.connections() > 0 || !logs.peek_contains("closed by the peer", 5) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let lines = logs.take();
        assert!(warnings(&lines).is_empty(), "{lines:#?}");
        listener.drain(Duration::from_secs(1), |_| {}).await;

        // 3. A connection that panics: one report, with its peer and listener and where.
        let (addr, listener) = rt
            .listen("127.0.0.1:0", |_ctx, mut s| async move {
                let mut b = [0u8; 1];
                if s.read(&mut b).await.is_ok() {
                    panic!("bad frame");
                }
            })
            .await
            .unwrap();
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        let me = c.local_addr().unwrap();
        c.write_all(b"x").unwrap();
        within("the crash report", async {
            while !logs.peek_contains("connection crashed", 1) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        // Let the process finish its exit, which must not warn a second time.
        within("the connection to end", async {
            while listener.connections() > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let lines = logs.take();
        let warns = warnings(&lines);
        assert_eq!(warns.len(), 1, "{lines:#?}");
        let report = warns[0];
        assert!(report.contains(&format!("peer={me}")), "{report}");
        assert!(report.contains(&format!("listener={addr}")), "{report}");
        assert!(report.contains("bad frame"), "{report}");
        assert!(
            report.contains("at=") && report.contains("logging.rs"),
            "{report}"
        );
        listener.drain(Duration::from_secs(1), |_| {}).await;
        assert!(warnings(&logs.take()).is_empty());

        // 4. The tree: a connection's pid once, registered names shown.
        let sup = rt
            .start_supervisor(
                SupervisorSpec::new(Strategy::OneForOne).name("app").child(
                    ChildSpec::worker("cache", |mut ctx: Ctx| async move {
                        ctx.recv().await;
                    })
                    .name("the_cache"),
                ),
            )
            .await
            .unwrap();
        let web = ListenerConfig::new("127.0.0.1:0").child_spec("web", |_ctx, mut s| async move {
            let mut b = [0u8; 1];
            let _ = s.read(&mut b).await;
        });
        let _c = sup.start_child(web).await.unwrap();
        let web_addr = rt.listeners().last().unwrap().local_addr();
        let mut client = std::net::TcpStream::connect(web_addr).unwrap();
        client.write_all(b"").unwrap();
        within("the connection process", async {
            while rt.listener(web_addr).unwrap().connections() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let tree = rt.tree().to_string();
        let conn_line = tree
            .lines()
            .find(|l| l.contains(&client.local_addr().unwrap().to_string()))
            .unwrap_or_else(|| panic!("{tree}"));
        assert_eq!(conn_line.matches("<0.").count(), 1, "{conn_line}");
        let cache_line = tree.lines().find(|l| l.contains("cache")).unwrap();
        assert!(cache_line.contains("registered=the_cache"), "{cache_line}");
        assert!(rt.tree().to_json().contains("\"name\":\"the_cache\""));
        sup.stop().await;
    });
}

trait Reset {
    fn write_all_and_reset(self);
}

impl Reset for std::net::TcpStream {
    /// Sends a byte, then closes with RST (SO_LINGER 0).
    fn write_all_and_reset(mut self) {
        self.write_all(b"x").unwrap();
        socket2::SockRef::from(&self)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(self);
    }
}

impl Captured {
    /// Whether at least `n` lines logged so far contain `needle` (without taking them).
    fn peek_contains(&self, needle: &str, n: usize) -> bool {
        let bytes = self.0.lock().unwrap();
        String::from_utf8_lossy(&bytes).matches(needle).count() >= n
    }
}
