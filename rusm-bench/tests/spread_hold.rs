//! Ensures `hold --processes K` spreads its connections over K server processes sharing one
//! port with SO_REUSEPORT and K client processes, for both targets, and that every held
//! connection still echoes after the hold (the 100,000-connection run of docs/BENCHMARKS.md
//! with small counts).

use std::process::Command;

#[test]
fn connections_spread_over_server_processes_sharing_a_port_all_echo() {
    let out = Command::new(env!("CARGO_BIN_EXE_rusm-bench"))
        .args([
            "run",
            "hold",
            "1",
            "--connections",
            "600",
            "--processes",
            "3",
            "--json",
        ])
        .output()
        .expect("rusm-bench runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON report");
    for target in ["rusm", "tokio"] {
        let figures = &report["targets"][target]["figures"];
        assert_eq!(figures["processes"], 3.0, "{report}");
        assert_eq!(figures["held"], 600.0, "{target}: {report}");
        assert_eq!(figures["echoing_after_hold"], 600.0, "{target}: {report}");
        assert!(
            figures["server_bytes_per_conn"].as_f64().unwrap() > 0.0,
            "{report}"
        );
    }
}
