//! Ensures the observer's endpoints say what the runtime knows: `/metrics` in the Prometheus
//! text format with every documented family (exits by class, restarts and intensity-exceeded
//! per supervisor, listener connections and accept errors by class), the JSON APIs, kill and
//! listener actions, loopback unless allowed, and the token.
#![cfg(feature = "observer")]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rusm::observer::ObserverOptions;
use rusm::prelude::*;

/// Status line and body of one request.
fn http(addr: SocketAddr, method: &str, path: &str, extra: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the observer");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out)
        .expect("read the observer's response");
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

fn get(addr: SocketAddr, path: &str) -> String {
    let (status, body) = http(addr, "GET", path, "");
    assert!(status.contains("200"), "GET {path}: {status} {body}");
    body
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn metrics_cover_processes_exits_supervisors_and_listeners() {
    let rt = Runtime::new().unwrap();
    let inner = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(0, Duration::from_secs(5))
        .child(ChildSpec::worker("flaky", |mut ctx: Ctx| async move {
            ctx.recv().await;
        }));
    let (app, laddr) = rt.block_on(async {
        let app = rt
            .start_supervisor(
                SupervisorSpec::new(Strategy::OneForOne)
                    .name("app")
                    .intensity(10, Duration::from_secs(5))
                    .child(ChildSpec::supervisor("inner", inner))
                    .child(
                        ListenerConfig::new("127.0.0.1:0").child_spec("web", |_ctx, _s| async {}),
                    ),
            )
            .await
            .unwrap();
        (app, rt.listeners()[0].local_addr())
    });
    // One exit of each class.
    rt.block_on(async {
        rt.spawn(|_ctx: Ctx| async {}).wait().await;
        rt.spawn(|_ctx: Ctx| async { Err::<(), _>("bad") })
            .wait()
            .await;
        rt.spawn(|_ctx: Ctx| async { panic!("boom") as () })
            .wait()
            .await;
    });
    // flaky killed: inner gives up (intensity 0) and app restarts it.
    let flaky = rt.tree().find("flaky").and_then(|n| n.pid).unwrap();
    rt.process(flaky).unwrap().kill();
    wait_for("inner's intensity exceeded", || {
        !rt.intensity_exceeded().is_empty() && rt.tree().find("flaky").and_then(|n| n.pid).is_some()
    });
    let listener = rt.listeners()[0].clone();
    listener.inject_accept_errors([std::io::Error::from_raw_os_error(103)]); // ECONNABORTED
    let _client = std::net::TcpStream::connect(laddr).unwrap();
    wait_for(
        "the accept error counted, then the connection accepted",
        || {
            let info = listener.info();
            info.accept_errors.per_connection == 1 && info.accepted == 1
        },
    );

    let observer = rusm::observer::serve(&rt, "127.0.0.1:0").unwrap();
    let addr = observer.local_addr();
    let (status, metrics) = http(addr, "GET", "/metrics", "");
    assert!(status.contains("200"), "{status}");
    for line in [
        "# TYPE rusm_processes_alive gauge",
        "# TYPE rusm_processes_spawned counter",
        "rusm_supervisor_restarts_total{supervisor=\"app\"} 1",
        "rusm_supervisor_restarts_total{supervisor=\"app/inner\"} 0",
        "rusm_supervisor_intensity_exceeded_total{supervisor=\"app/inner\"} 1",
        &format!("rusm_listener_accepting{{listener=\"{laddr}\"}} 1"),
        &format!("rusm_listener_max_connections{{listener=\"{laddr}\"}} 16384"),
        &format!(
            "rusm_listener_accept_errors_total{{listener=\"{laddr}\",class=\"per_connection\"}} 1"
        ),
        &format!("rusm_listener_accept_errors_total{{listener=\"{laddr}\",class=\"resource\"}} 0"),
        &format!("rusm_listener_connections_accepted_total{{listener=\"{laddr}\"}} 1"),
        "# EOF",
    ] {
        assert!(metrics.contains(line), "no `{line}` in\n{metrics}");
    }
    // Nothing exits meanwhile: the figures are the runtime's.
    let exits = rt.exit_counts();
    assert!(exits.normal >= 1 && exits.error >= 1 && exits.panic >= 1 && exits.killed >= 1);
    assert!(exits.shutdown >= 1, "inner's shutdown: {exits:?}");
    for (class, n) in rusm::ExitCounts::CLASSES.iter().zip(exits.by_class()) {
        let line = format!("rusm_process_exits_total{{class=\"{class}\"}} {n}");
        assert!(metrics.contains(&line), "no `{line}` in\n{metrics}");
    }
    assert!(metrics.contains(&format!(
        "rusm_listener_connections{{listener=\"{laddr}\"}}"
    )));
    let alive: usize = metrics
        .lines()
        .find_map(|l| l.strip_prefix("rusm_processes_alive "))
        .and_then(|v| v.trim().parse().ok())
        .expect("processes alive");
    assert!(alive >= 5, "{alive}");

    drop(observer);
    rt.block_on(app.stop());
}

#[test]
fn json_apis_kill_and_control_listeners() {
    let rt = Runtime::new().unwrap();
    let (addr_l, listener) = rt
        .block_on(rt.listen("127.0.0.1:0", |_ctx, _s| async {}))
        .unwrap();
    let p = rt
        .spawn_named("target", |mut ctx: Ctx| async move {
            ctx.recv().await;
        })
        .unwrap();
    let observer = rusm::observer::serve(&rt, "127.0.0.1:0").unwrap();
    let addr = observer.local_addr();

    let summary: serde_json::Value = serde_json::from_str(&get(addr, "/api/summary")).unwrap();
    assert!(summary["alive"].as_u64().unwrap() >= 2, "{summary}");
    let table: serde_json::Value =
        serde_json::from_str(&get(addr, "/api/processes?sort=reductions&limit=10000")).unwrap();
    let rows = table["rows"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["name"] == "target"), "{table}");
    let (status, _) = http(addr, "GET", "/api/processes?sort=colour", "");
    assert!(status.contains("400"), "{status}");

    let info: serde_json::Value =
        serde_json::from_str(&get(addr, &format!("/api/process/{}", p.pid().id()))).unwrap();
    assert_eq!(info["registered_name"], "target");
    let (status, _) = http(
        addr,
        "POST",
        &format!("/api/process/{}/kill", p.pid().id()),
        "",
    );
    assert!(status.contains("200"), "{status}");
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), p.wait())
            .await
            .expect("killed")
    });
    // The printed form, URL-encoded, names it too.
    let printed = format!("%3C0.{}.0%3E", p.pid().id());
    let (status, _) = http(addr, "GET", &format!("/api/process/{printed}"), "");
    assert!(status.contains("404"), "{status}");
    let (status, _) = http(
        addr,
        "POST",
        &format!("/api/process/{}/kill", p.pid().id()),
        "",
    );
    assert!(status.contains("404"), "{status}");

    let lid = listener.pid().id();
    let list: serde_json::Value = serde_json::from_str(&get(addr, "/api/listeners")).unwrap();
    assert_eq!(list[0]["addr"], addr_l.to_string());
    assert_eq!(list[0]["accepted"], 0);
    let _client = std::net::TcpStream::connect(addr_l).unwrap();
    wait_for("the connection accepted", || listener.info().accepted == 1);
    let list: serde_json::Value = serde_json::from_str(&get(addr, "/api/listeners")).unwrap();
    assert_eq!(list[0]["accepted"], 1);
    http(addr, "POST", &format!("/api/listener/{lid}/suspend"), "");
    assert!(!listener.info().accepting);
    let (status, _) = http(addr, "POST", &format!("/api/listener/{lid}/resume"), "");
    assert!(status.contains("200"), "{status}");
    assert!(listener.info().accepting);
    http(
        addr,
        "POST",
        &format!("/api/listener/{lid}/max_connections?value=3"),
        "",
    );
    assert_eq!(listener.info().max_connections, 3);
    let (status, _) = http(
        addr,
        "POST",
        &format!("/api/listener/{lid}/max_connections?value=0"),
        "",
    );
    assert!(status.contains("400"), "{status}");
    drop(observer);
}

#[test]
fn binds_loopback_unless_allowed_and_checks_the_token() {
    let rt = Runtime::new().unwrap();
    let refused = rusm::observer::serve(&rt, "0.0.0.0:0").unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
    assert!(refused.to_string().contains("allow_remote"), "{refused}");

    let observer = ObserverOptions::new()
        .token("s3cret")
        .serve(&rt, "127.0.0.1:0")
        .unwrap();
    let addr = observer.local_addr();
    let (status, _) = http(addr, "GET", "/api/summary", "");
    assert!(status.contains("401"), "{status}");
    let (status, _) = http(addr, "GET", "/api/summary?token=wrong", "");
    assert!(status.contains("401"), "{status}");
    let (status, _) = http(addr, "GET", "/?token=s3cret", "");
    assert!(status.contains("200"), "{status}");
    let (status, _) = http(addr, "GET", "/metrics", "Authorization: Bearer s3cret\r\n");
    assert!(status.contains("200"), "{status}");
}
