//! The progress line: one carriage-return-updated line on stderr, read from the same samples
//! as the dashboard.

use std::io::Write;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crate::metrics::{Metrics, Sample, SAMPLE_EVERY};
use crate::report::human;

/// Prints the progress line until dropped; dropping ends the line with a newline.
#[derive(Debug)]
pub struct Progress {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts printing `metrics`' latest sample every [`SAMPLE_EVERY`].
    pub fn start(metrics: Arc<Metrics>) -> Progress {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::spawn(move || {
            let mut printed = false;
            let mut last_seq = 0;
            // Wakes every interval; a message or a closed channel means stop.
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(SAMPLE_EVERY) {
                let sample = metrics.latest();
                if sample.running && sample.seq != last_seq {
                    last_seq = sample.seq;
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r{}\x1b[K", line(&sample));
                    let _ = err.flush();
                    printed = true;
                }
            }
            if printed {
                eprintln!();
            }
        });
        Progress {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The text of the progress line for one sample.
pub fn line(s: &Sample) -> String {
    let mut out = format!("[{} {} {}] t={:.1}s", s.scenario, s.target, s.phase, s.t);
    if s.conns_per_s > 0.0 || s.completed > 0 {
        out += &format!(" conn/s={}", human(s.conns_per_s));
    }
    if s.ops_per_s > 0.0 {
        out += &format!(" ops/s={}", human(s.ops_per_s));
    }
    if s.peak_open > 0 {
        out += &format!(" open={} peak={}", s.open_conns, s.peak_open);
    }
    if s.p99_us > 0.0 {
        out += &format!(" p50={}µs p99={}µs", human(s.p50_us), human(s.p99_us));
    }
    out += &format!(
        " alive={} rss={}MB err={}",
        s.alive,
        human(s.rss_bytes as f64 / 1e6),
        s.errors
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_names_scenario_target_and_rates() {
        let s = Sample {
            running: true,
            scenario: "connection-storm".into(),
            target: "tokio".into(),
            phase: "hold".into(),
            conns_per_s: 21_000.0,
            completed: 5,
            p99_us: 1234.0,
            ..Sample::default()
        };
        let l = line(&s);
        assert!(l.starts_with("[connection-storm tokio hold]"), "{l}");
        assert!(l.contains("conn/s=21,000"), "{l}");
        assert!(l.contains("p99=1,234µs"), "{l}");
    }
}
