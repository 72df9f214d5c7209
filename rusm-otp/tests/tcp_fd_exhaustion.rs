//! Ensures running out of file descriptors neither spins nor kills the listener: a server in a
//! child process with RLIMIT_NOFILE 64 is flooded with 90 clients; established connections
//! keep echoing, the server uses little CPU while the shortage lasts, and once the clients go
//! a fresh client is served (RELIABILITY.md scenario 6).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "RUSM_FD_EXHAUSTION_CHILD";

/// Entry point of the child server; does nothing unless the parent test started this binary
/// with `RUSM_FD_EXHAUSTION_CHILD` set.
#[test]
fn child_server_entry() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    rlimit::Resource::NOFILE
        .set(64, 64)
        .expect("lower RLIMIT_NOFILE");
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rt = rusm_otp::Runtime::with_handle(tokio.handle().clone());
    tokio.block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (addr, _listener) = rt
            .listen(
                "127.0.0.1:0",
                |_ctx, mut s: rusm_otp::TcpStream| async move {
                    let mut buf = [0u8; 512];
                    loop {
                        let n = s.read(&mut buf).await?;
                        if n == 0 {
                            return Ok::<(), std::io::Error>(());
                        }
                        s.write_all(&buf[..n]).await?;
                    }
                },
            )
            .await
            .unwrap();
        println!("ADDR {addr}");
        std::io::stdout().flush().unwrap();
        std::future::pending::<()>().await;
    });
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn echo_once(c: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    c.write_all(msg)?;
    let mut got = vec![0u8; msg.len()];
    c.read_exact(&mut got)?;
    assert_eq!(got, msg);
    Ok(())
}

#[test]
fn fd_exhaustion_backs_off_without_spinning_and_recovers() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_server_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        // libtest prints the test name first, on the same line.
        if let Some(i) = line.find("ADDR ") {
            let _ = tx.send(line[i + 5..].trim().to_string());
        }
    });
    let Ok(addr) = rx.recv_timeout(Duration::from_secs(30)) else {
        let _ = child.kill();
        panic!("child server did not report its address within 30 s");
    };
    let result = std::panic::catch_unwind(|| {
        let mut steady: Vec<TcpStream> = (0..5)
            .map(|_| {
                let c = TcpStream::connect(&addr).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                c
            })
            .collect();
        for c in &mut steady {
            echo_once(c, b"before").unwrap();
        }
        // 90 more: far past the 64 descriptors; the kernel queues them, accept hits EMFILE.
        let mut flood = Vec::new();
        for _ in 0..90 {
            match TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)) {
                Ok(c) => flood.push(c),
                Err(_) => break, // backlog full: a connect timeout, as documented
            }
        }
        assert!(
            flood.len() >= 60,
            "only {} flood clients connected",
            flood.len()
        );
        let t0 = Instant::now();
        let c0 = cpu_ticks(pid);
        std::thread::sleep(Duration::from_millis(1500)); // the shortage lasts this long
        let cpu = (cpu_ticks(pid) - c0) as f64 / 100.0;
        let wall = t0.elapsed().as_secs_f64();
        assert!(
            cpu / wall < 0.25,
            "server used {cpu:.2} CPU-s in {wall:.2} s: spinning"
        );
        for c in &mut steady {
            echo_once(c, b"during").unwrap();
        }
        drop(flood);
        drop(steady);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ok = TcpStream::connect(&addr).and_then(|mut c| {
                c.set_read_timeout(Some(Duration::from_secs(2)))?;
                echo_once(&mut c, b"after")
            });
            if ok.is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "listener did not recover: {ok:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
