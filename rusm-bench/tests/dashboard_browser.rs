//! Ensures the dashboard works in a real browser: while a short connection-storm runs, headless
//! Chromium loads the page, its charts receive samples over server-sent events (with a nonzero
//! connection rate), and the tree panel renders the supervision tree from `/tree`; once the run
//! (RUSM, then raw tokio) has finished, the last result shows as a table of figures per target
//! with the RUSM/tokio ratios, not as raw JSON.
//!
//! Skips, saying why, only where no Chromium is installed (`apt-get install chromium`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusm_bench::dashboard::{placeholder_tree, Dashboard};
use rusm_bench::Metrics;

/// What the tree panel shows while the storm runs: the RUSM listener's acceptors supervisor.
const EXPECTED_TREE_TEXT: &str = "acceptors";
/// How long the page keeps loading (see `?hold=` in the dashboard docs) before the DOM dump.
const HOLD_MS: u64 = 2000;
/// Upper bound on the browser run.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

fn find_chromium() -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.exists() {
        return Some(fixed.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.exists())
}

/// A minimal HTTP/1.1 request over a fresh connection; returns the whole response.
fn http(addr: SocketAddr, method: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect to dashboard");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read dashboard response");
    out
}

/// The text inside the element with `id`, up to the element's first `<` (or its whole inner
/// HTML with tags stripped when `deep`).
fn element_text(dom: &str, id: &str, deep: bool) -> Option<String> {
    let start = dom.find(&format!("id=\"{id}\""))?;
    let inner = &dom[start + dom[start..].find('>')? + 1..];
    if !deep {
        return Some(inner[..inner.find('<')?].to_owned());
    }
    let end = inner.find("</div>").unwrap_or(inner.len());
    let mut text = String::new();
    let mut in_tag = false;
    for c in inner[..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some(text)
}

/// The page's DOM once it has loaded, `HOLD_MS` after the start (see `?hold=`).
fn dump_dom(chromium: &Path, addr: SocketAddr, pass: &str) -> String {
    let profile = std::env::temp_dir().join(format!(
        "rusm-bench-chromium-{}-{}-{pass}",
        std::process::id(),
        addr.port()
    ));
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("http://{addr}/?hold={HOLD_MS}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut dom = String::new();
        let _ = stdout.read_to_string(&mut dom);
        dom
    });
    // Chromium has no exit-with-timeout: poll its exit against a deadline, and kill only this
    // child if the deadline passes.
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&profile);
            panic!("chromium did not finish within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = reader.join().unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    assert!(status.success(), "chromium exited with {status}");
    dom
}

#[test]
fn page_charts_live_samples_and_shows_tree_in_headless_chromium() {
    let Some(chromium) = find_chromium() else {
        eprintln!("skipping: no chromium in /usr/bin or PATH (apt-get install chromium)");
        return;
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let metrics = Metrics::new();
    let dashboard = rt
        .block_on(Dashboard::bind(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics.clone(),
            Arc::new(placeholder_tree),
        ))
        .expect("bind dashboard");
    let addr = dashboard.local_addr().unwrap();
    rt.spawn(dashboard.serve());

    let started = http(
        addr,
        "POST",
        "/run?scenario=connection-storm&seconds=5&target=rusm&baseline=tokio",
    );
    assert!(started.starts_with("HTTP/1.1 202"), "POST /run: {started}");

    let dom = dump_dom(&chromium, addr, "first");

    let samples: u64 = element_text(&dom, "sample-count", false)
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample count in the DOM:\n{dom}"));
    assert!(samples > 0, "the page received no samples:\n{dom}");
    let max_rate: f64 = element_text(&dom, "max-conns-per-s", false)
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(
        max_rate > 0.0,
        "charts saw no connection rate while the storm ran ({samples} samples):\n{dom}"
    );
    let tree = element_text(&dom, "tree", true).unwrap_or_default();
    assert!(
        tree.contains(EXPECTED_TREE_TEXT),
        "tree panel shows {tree:?}, expected {EXPECTED_TREE_TEXT:?}"
    );

    // Let the scenario finish before the runtime goes: its report appears at /report.
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = loop {
        let response = http(addr, "GET", "/report");
        let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        if body.trim() != "null" && !body.is_empty() {
            break body;
        }
        assert!(Instant::now() < deadline, "no report 30 s after start");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(report.contains("conns_per_s"), "report: {report}");
    assert!(!metrics.is_running());

    // The last result, loaded with the page: a table with both targets and their ratio.
    let dom = dump_dom(&chromium, addr, "report");
    let start = dom.find("id=\"report\"").expect("a report panel");
    let panel = &dom[start..];
    let panel = &panel[..panel
        .find("</table>")
        .unwrap_or_else(|| panic!("no report table:\n{dom}"))];
    for text in [
        "<table",
        "conns_per_s",
        ">rusm<",
        ">tokio<",
        "rusm / tokio",
        "×",
    ] {
        assert!(
            panel.contains(text),
            "no {text:?} in the report table:\n{panel}"
        );
    }
    assert!(
        !panel.contains("\"figures\""),
        "raw JSON in the report panel:\n{panel}"
    );
}
