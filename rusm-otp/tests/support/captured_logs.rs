//! Log lines captured for a whole test binary (the subscriber is global), read per listener:
//! each test looks only at the lines naming its own listener's address.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (warnings and above) on first use.
pub fn install() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .init();
        logs
    })
}

/// The captured lines that name `listener`.
pub fn lines_of(listener: SocketAddr) -> Vec<String> {
    let needle = format!("listener={listener}");
    let all = String::from_utf8_lossy(&install().0.lock().unwrap()).into_owned();
    all.lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

/// Waits (10 s at most) until a line about `listener` containing `text` is logged.
pub async fn logged(listener: SocketAddr, text: &str) -> String {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(l) = lines_of(listener).into_iter().find(|l| l.contains(text)) {
                return l;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    match found {
        Ok(l) => l,
        Err(_) => panic!(
            "timed out waiting for a log line with {text:?}; lines: {:#?}",
            lines_of(listener)
        ),
    }
}
