//! Ensures the observer works in a real browser: headless Chromium, driven over the DevTools
//! protocol, loads the page, sees the supervision tree update live (a restart counted without
//! a reload), restarts a child and kills a process with the page's buttons (and the runtime
//! sees them die), ranks the process table by mailbox, shows a process's links as links, and
//! suspends, resumes and resizes a listener.
//!
//! Skips, saying why, only where no Chromium is installed (`apt-get install chromium`).
#![cfg(feature = "observer")]

#[path = "observer/cdp.rs"]
mod cdp;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rusm::prelude::*;
use serde_json::Value;

/// How long the page may take to show what a step waits for.
const STEP: Duration = Duration::from_secs(15);

fn http(addr: SocketAddr, method: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the observer");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out)
        .expect("read the observer's response");
    out
}

/// Polls `cond` until it holds, or fails naming `what`.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + STEP;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Evaluates `js` in the page until it returns `true`, or fails naming `what` with what the
/// page shows.
fn page_shows(page: &mut cdp::Page, what: &str, js: &str) {
    let deadline = Instant::now() + STEP;
    loop {
        if page.eval(js) == Value::Bool(true) {
            return;
        }
        if Instant::now() > deadline {
            let text = page.eval("document.body.innerText");
            panic!("the page never showed {what}; it shows:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pid_of(rt: &Runtime, id: &str) -> Option<Pid> {
    rt.tree().find(id).and_then(|n| n.pid)
}

#[test]
fn observer_pages_update_live_and_kill_from_the_page_in_headless_chromium() {
    let Some(chromium) = cdp::find_chromium() else {
        eprintln!("skipping: no chromium in /usr/bin or PATH (apt-get install chromium)");
        return;
    };
    let rt = Runtime::new().unwrap();
    let (app, listener_addr) = rt.block_on(async {
        let web = ListenerConfig::new("127.0.0.1:0").child_spec("web", |_ctx, _s| async {});
        let app = rt
            .start_supervisor(
                SupervisorSpec::new(Strategy::OneForOne)
                    .name("app")
                    .intensity(10, Duration::from_secs(5))
                    .child(
                        ChildSpec::worker("worker", |mut ctx: Ctx| async move {
                            ctx.recv().await;
                        })
                        .name("the_worker"),
                    )
                    .child(web),
            )
            .await
            .unwrap();
        (app, rt.listeners()[0].local_addr())
    });
    // A process whose mailbox only grows: first when the table ranks by mailbox.
    let flooded = rt
        .spawn_named("flooded", |ctx: Ctx<u64>| async move {
            let _keep = ctx;
            std::future::pending::<()>().await
        })
        .unwrap();
    for n in 0..500 {
        flooded.send(n).unwrap();
    }
    let observer = rusm::observer::serve(&rt, "127.0.0.1:0").unwrap();
    let addr = observer.local_addr();

    let browser = cdp::Browser::launch(&chromium).expect("start chromium");
    let mut page = browser.page().expect("connect to chromium's page");
    page.navigate(&format!("http://{addr}/#/tree"));

    // The tree: names, restart counts, the pid once.
    let worker = pid_of(&rt, "worker").unwrap();
    page_shows(
        &mut page,
        "the tree with app, worker and the listener",
        "(() => { const t = document.getElementById('tree').innerText; \
         return t.includes('app') && t.includes('registered the_worker') && t.includes('acceptors') \
         && t.includes('restarts 0'); })()",
    );
    let worker_line = page.eval(
        "(() => { const li = document.querySelector('#tree li[data-id=\"worker\"]'); \
         return li.firstChild.textContent + li.innerText.split('\\n')[0]; })()",
    );
    let worker_line = worker_line.as_str().unwrap().to_owned();
    assert_eq!(
        worker_line.matches(&worker.to_string()).count(),
        1,
        "the worker's pid once: {worker_line}"
    );

    // Live: a restart the runtime makes shows up without a reload.
    rt.process(worker).unwrap().kill();
    page_shows(
        &mut page,
        "the worker's first restart",
        "document.querySelector('#tree li[data-id=\"worker\"]').innerText.includes('restarts 1')",
    );

    // "restart" from the page: kills the child, whose supervisor starts it again.
    let before = pid_of(&rt, "worker").unwrap();
    page.eval(
        "document.querySelector('#tree li[data-id=\"worker\"] > button.restart').click(); true",
    );
    wait_for("the worker restarted from the page", || {
        pid_of(&rt, "worker").is_some_and(|p| p != before) && rt.process(before).is_none()
    });
    page_shows(
        &mut page,
        "the restart made from the page",
        "document.querySelector('#tree li[data-id=\"worker\"]').innerText.includes('restarts 2')",
    );

    // The process table, ranked by mailbox; a process spawned later appears live.
    page.navigate(&format!("http://{addr}/#/processes"));
    page.eval("document.querySelector('th[data-rank=\"mailbox\"]').click(); true");
    page_shows(
        &mut page,
        "the flooded process first by mailbox",
        &format!(
            "(() => {{ const r = document.querySelector('#proc-rows tr'); \
             return !!r && r.dataset.pid === '{}' && r.innerText.includes('500'); }})()",
            flooded.pid()
        ),
    );
    let late = rt
        .spawn_named("latecomer", |mut ctx: Ctx| async move {
            ctx.recv().await;
        })
        .unwrap();
    let late_pid = late.pid();
    page_shows(
        &mut page,
        "the latecomer in the table",
        &format!("!!document.querySelector('#proc-rows tr[data-pid=\"{late_pid}\"]')"),
    );
    // Kill from the page.
    page.eval(&format!(
        "document.querySelector('#proc-rows tr[data-pid=\"{late_pid}\"] button.kill').click(); true"
    ));
    wait_for("the latecomer killed from the page", || {
        rt.process(late_pid).is_none()
    });
    page_shows(
        &mut page,
        "the latecomer gone from the table",
        &format!("!document.querySelector('#proc-rows tr[data-pid=\"{late_pid}\"]')"),
    );

    // A process's detail: its links are links to them.
    let worker = pid_of(&rt, "worker").unwrap();
    let sup = app.pid();
    page.navigate(&format!("http://{addr}/#/process/{}", worker.id()));
    page_shows(
        &mut page,
        "the worker's detail with a link to its supervisor",
        &format!(
            "(() => {{ const t = document.getElementById('process').innerText; \
             const a = [...document.querySelectorAll('#process a.pid')].find(a => a.textContent === '{sup}'); \
             return t.includes('the_worker') && !!a && a.getAttribute('href') === '#/process/{}'; }})()",
            sup.id()
        ),
    );

    // Listeners: suspend, resume, max connections.
    page.navigate(&format!("http://{addr}/#/listeners"));
    page_shows(
        &mut page,
        "the listener row",
        &format!("document.getElementById('listener-rows').innerText.includes('{listener_addr}')"),
    );
    let listener = rt.listeners()[0].clone();
    page.eval("[...document.querySelectorAll('#listener-rows button')].find(b => b.textContent === 'suspend').click(); true");
    wait_for("the listener suspended from the page", || {
        !listener.info().accepting
    });
    page_shows(
        &mut page,
        "the listener as not accepting",
        "document.getElementById('listener-rows').innerText.includes('not accepting')",
    );
    page.eval("[...document.querySelectorAll('#listener-rows button')].find(b => b.textContent === 'resume').click(); true");
    wait_for("the listener resumed from the page", || {
        listener.info().accepting
    });
    page_shows(
        &mut page,
        "the listener accepting again",
        "(() => { const t = document.getElementById('listener-rows').innerText; \
         return t.includes('accepting') && !t.includes('not accepting'); })()",
    );
    page.eval(
        "(() => { const i = document.querySelector('#listener-rows input'); i.value = '7'; \
         [...document.querySelectorAll('#listener-rows button')].find(b => b.textContent === 'set max').click(); \
         return true; })()",
    );
    wait_for("max connections set from the page", || {
        listener.info().max_connections == 7
    });
    // Accepted connections: the count, and a rate once the page has two samples.
    let clients: Vec<_> = (0..3)
        .map(|_| std::net::TcpStream::connect(listener_addr).unwrap())
        .collect();
    wait_for("three connections accepted", || {
        listener.info().accepted == 3
    });
    page_shows(
        &mut page,
        "the accepted count and an accept rate",
        "(() => { const c = document.querySelector('#listener-rows td.accepted'); \
         const r = document.querySelector('#listener-rows td.accept-rate'); \
         return !!c && c.textContent === '3' && !!r && /^[0-9,]+$/.test(r.textContent); })()",
    );
    drop(clients);

    drop(page);
    drop(browser);
    let metrics = http(addr, "GET", "/metrics");
    assert!(
        metrics.contains("rusm_supervisor_restarts_total{supervisor=\"app\"} 2"),
        "{metrics}"
    );
    drop(observer);
    flooded.kill();
    rt.block_on(app.stop());
}
