//! Runs the chat_server example from outside, as a user would, and holds it to its contract:
//! every command and reply, the `ERR` cases (the connection stays open after each), `\r\n`,
//! byte-exact text, sorted `WHO`, join and leave notices (part, quit, disconnect, crash),
//! per-sender order, the line limit, nicks freed by their holder's exit, a crashed room
//! restarted empty, a slow reader dropped at `--outbox` while the others keep receiving, the
//! idle timeout, `--max-connections`, `BYE` on SIGTERM, the tree on SIGUSR1, and clean
//! failures on a bad address or a port in use.
//!
//! Every read has a deadline, every wait for the server is a wait for a line (or an EOF),
//! and every server started here is killed when its test ends, passed or failed.
//!
//! The binary is target/<profile>/examples/chat_server: a plain `cargo test -p rusm` builds
//! it before running the tests; `cargo test --test chat_server_example` alone does not build
//! examples, so run `cargo build -p rusm --example chat_server` first, or it tests a stale
//! (or missing) binary.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long any one expected line (or EOF), or one write, may take.
const READ: Duration = Duration::from_secs(5);

fn example() -> PathBuf {
    // target/<profile>/deps/<test> → target/<profile>/examples/chat_server
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("chat_server")
}

/// A running chat_server; killed (by pid) on drop unless it has exited. Its stderr (its log)
/// is kept, and shown when the test fails.
struct Server {
    child: Child,
    addr: String,
    stdout: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts the example on `127.0.0.1:0` with `args` and waits for `listening on`.
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(example())
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the chat_server example (`cargo build -p rusm --example chat_server`)");
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = BufReader::new(child.stderr.take().unwrap());
        let log = stderr.clone();
        thread::spawn(move || {
            for line in err.lines() {
                let Ok(line) = line else { break };
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, stdout) = mpsc::channel();
        thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // The guard exists before the first wait: a server that never says it listens is
        // killed too.
        let mut server = Server {
            child,
            addr: String::new(),
            stdout,
            stderr,
        };
        let first = server
            .stdout
            .recv_timeout(READ)
            .expect("no `listening on` line within the deadline");
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_string();
        let parsed: SocketAddr = addr.parse().unwrap_or_else(|e| panic!("{addr:?}: {e}"));
        assert_eq!(parsed.ip().to_string(), "127.0.0.1", "{addr}");
        assert_ne!(
            parsed.port(),
            0,
            "the real port, not the requested 0: {addr}"
        );
        server.addr = addr;
        server
    }

    fn connect(&self) -> Client {
        Client::connect(&self.addr)
    }

    /// A client with nick `nick`, a member of each of `rooms` (their notices consumed by
    /// the caller).
    fn member(&self, nick: &str, rooms: &[&str]) -> Client {
        let mut c = self.connect();
        c.send(&format!("NICK {nick}"));
        c.expect("OK");
        for room in rooms {
            c.send(&format!("JOIN {room}"));
            c.expect("OK");
        }
        c
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// Waits for the process to exit, at most `limit`.
    fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {limit:?}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if thread::panicking() {
            let log = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
            eprintln!("chat_server {} stderr:\n{log}", self.addr);
        }
    }
}

/// One client connection; every read has a deadline.
struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    fn connect(addr: &str) -> Client {
        let w = TcpStream::connect(addr).unwrap();
        w.set_read_timeout(Some(READ)).unwrap();
        // A write blocks only while the server stops reading: fail, never hang.
        w.set_write_timeout(Some(READ)).unwrap();
        Client {
            r: BufReader::new(w.try_clone().unwrap()),
            w,
        }
    }

    /// Sends `line` and `\n`.
    fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).unwrap();
    }

    /// The next line, without its `\n`; fails on EOF, a reset or the deadline.
    fn line(&mut self) -> String {
        let mut buf = Vec::new();
        match self.r.read_until(b'\n', &mut buf) {
            Ok(_) if buf.ends_with(b"\n") => {}
            Ok(_) => panic!(
                "connection closed; partial line {:?}",
                String::from_utf8_lossy(&buf)
            ),
            Err(e) => panic!(
                "no line within the deadline ({e}); partial {:?}",
                String::from_utf8_lossy(&buf)
            ),
        }
        buf.pop();
        String::from_utf8(buf).expect("the server sends UTF-8")
    }

    /// The next line is exactly `want`.
    fn expect(&mut self, want: &str) {
        let got = self.line();
        assert_eq!(got, want);
    }

    /// The server closes the connection next: EOF (or a reset) with no more data.
    fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.r.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("not closed within the deadline: {e}"),
        }
        assert!(
            rest.is_empty(),
            "data before the close: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }

    /// Nothing arrives within `d` (the connection is open and silent).
    fn expect_silence(&mut self, d: Duration) {
        self.w.set_read_timeout(Some(d)).unwrap();
        let mut buf = Vec::new();
        match self.r.read_until(b'\n', &mut buf) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            other => panic!(
                "expected silence, got {other:?} {:?}",
                String::from_utf8_lossy(&buf)
            ),
        }
        assert!(buf.is_empty(), "{:?}", String::from_utf8_lossy(&buf));
        self.w.set_read_timeout(Some(READ)).unwrap();
    }

    /// Sends `NICK nick` until the registry gives it (its previous holder's exit is seen by
    /// the registry a moment after the holder's socket closes).
    fn claim_nick(&mut self, nick: &str) {
        let deadline = Instant::now() + READ;
        loop {
            self.send(&format!("NICK {nick}"));
            match self.line().as_str() {
                "OK" => return,
                "ERR nick taken" => {}
                other => panic!("NICK {nick}: {other:?}"),
            }
            assert!(Instant::now() < deadline, "{nick} never freed");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn listening_on_is_printed_with_the_real_port() {
    let server = Server::start(&[]);
    let mut c = server.connect();
    c.send("QUIT");
    c.expect("BYE");
    c.expect_closed();
}

#[test]
fn help_documents_the_options_and_defaults() {
    let out = Command::new(example()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    // Each option's paragraph, up to the next option.
    let option = |name: &str| -> String {
        let at = help
            .find(&format!("--{name}"))
            .unwrap_or_else(|| panic!("--{name} missing from --help:\n{help}"));
        let rest = &help[at + 2..];
        rest[..rest.find("--").unwrap_or(rest.len())].to_string()
    };
    assert!(
        option("addr").contains("[default: 127.0.0.1:7001]"),
        "{help}"
    );
    assert!(option("outbox").contains("[default: 1024]"), "{help}");
    assert!(option("idle-timeout").contains("0 = never"), "{help}");
    let _ = option("max-connections");
    let _ = option("debug-commands");
}

#[test]
fn commands_replies_and_errors_keep_the_connection_open() {
    let server = Server::start(&[]);
    let mut c = server.connect();
    // Every command but NICK and QUIT needs a nick.
    for line in ["JOIN lobby", "PART lobby", "MSG lobby hi", "WHO lobby"] {
        c.send(line);
        c.expect("ERR nick first");
    }
    // Unknown commands; the debug commands are unknown without --debug-commands.
    for line in [
        "HELLO",
        "nick alice",
        "",
        " NICK alice",
        "PANIC",
        "CRASH lobby",
    ] {
        c.send(line);
        c.expect("ERR unknown command");
    }
    // Bad names.
    let long = "n".repeat(33);
    for line in [
        "NICK",
        "NICK ",
        "NICK bad!name",
        "NICK two words",
        "NICK héllo",
        &format!("NICK {long}"),
    ] {
        c.send(line);
        c.expect("ERR bad name");
    }
    c.send_raw(b"NICK \xff\xfe\n");
    c.expect("ERR invalid UTF-8");
    c.send_raw(b"MSG lobby caf\xc3\n");
    c.expect("ERR invalid UTF-8");

    // The longest name, of every allowed character class.
    let nick32 = "Az09_-".repeat(6)[..32].to_string();
    c.send(&format!("NICK {nick32}"));
    c.expect("OK");
    c.send("NICK alice");
    c.expect("OK");
    c.send("NICK alice");
    c.expect("OK");

    c.send("JOIN bad.room");
    c.expect("ERR bad name");
    c.send(&format!("JOIN {long}"));
    c.expect("ERR bad name");
    c.send("PART lobby");
    c.expect("ERR not a member");
    c.send("MSG lobby hi");
    c.expect("ERR not a member");

    c.send("JOIN lobby");
    c.expect("OK");
    c.send("MSG lobby hi");
    c.expect("MSG lobby alice hi");
    // `\r\n` is a terminator too; the `\r` is not part of the text.
    c.send_raw(b"WHO lobby\r\n");
    c.expect("WHO lobby alice");
    c.send_raw(b"MSG lobby crlf\r\n");
    c.expect("MSG lobby alice crlf");
    c.send_raw(b"JOIN other\r\nPART other\r\n");
    c.expect("OK");
    c.expect("OK");
    c.send("PART other");
    c.expect("ERR not a member");
    c.send("PART lobby");
    c.expect("OK");
    c.send("MSG lobby gone");
    c.expect("ERR not a member");

    c.send("QUIT");
    c.expect("BYE");
    c.expect_closed();
}

#[test]
fn messages_are_byte_exact_who_is_sorted_and_notices_go_to_members() {
    let server = Server::start(&[]);
    let mut carol = server.member("carol", &["lobby"]);
    let mut alice = server.member("alice", &["lobby"]);
    carol.expect("* alice joined lobby");
    let mut bob = server.member("bob", &["lobby"]);
    carol.expect("* bob joined lobby");
    alice.expect("* bob joined lobby");

    bob.send("WHO lobby");
    bob.expect("WHO lobby alice bob carol");
    // Unknown, and known but empty.
    bob.send("WHO nowhere");
    bob.expect("WHO nowhere");
    bob.send("JOIN empty");
    bob.expect("OK");
    bob.send("PART empty");
    bob.expect("OK");
    bob.send("WHO empty");
    bob.expect("WHO empty");

    // Text is the rest of the line, byte for byte, to every member, the sender included;
    // the members already there saw nobody's join but the later ones (bob's next line is
    // his own message).
    let texts = [
        "plain",
        "  two  leading,  double  inner and trailing  ",
        "tab\there",
        "héllo wörld ✓ 日本語 🎉",
        "MSG lobby not a command",
    ];
    for text in texts {
        alice.send(&format!("MSG lobby {text}"));
        let want = format!("MSG lobby alice {text}");
        for c in [&mut alice, &mut bob, &mut carol] {
            c.expect(&want);
        }
    }

    // PART: the others see it, the parted one is no member.
    bob.send("PART lobby");
    bob.expect("OK");
    alice.expect("* bob left lobby");
    carol.expect("* bob left lobby");
    bob.send("MSG lobby still here?");
    bob.expect("ERR not a member");

    // QUIT.
    carol.send("QUIT");
    carol.expect("BYE");
    carol.expect_closed();
    alice.expect("* carol left lobby");

    // Disconnect: the client closes its socket.
    let mut dave = server.member("dave", &["lobby"]);
    alice.expect("* dave joined lobby");
    dave.send("WHO lobby");
    dave.expect("WHO lobby alice dave");
    drop(dave);
    alice.expect("* dave left lobby");

    alice.send("WHO lobby");
    alice.expect("WHO lobby alice");
    // bob, no member, got nothing of all that.
    bob.send("WHO lobby");
    bob.expect("WHO lobby alice");
}

#[test]
fn a_nick_is_taken_until_its_holder_disconnects() {
    let server = Server::start(&[]);
    let mut first = server.member("sam", &[]);
    let mut second = server.connect();
    second.send("NICK sam");
    second.expect("ERR nick taken");
    // Still open, still without a nick.
    second.send("JOIN lobby");
    second.expect("ERR nick first");
    // The holder may claim it again.
    first.send("NICK sam");
    first.expect("OK");
    drop(first);
    second.claim_nick("sam");
    second.send("JOIN lobby");
    second.expect("OK");
    // And a nick given up for another is free at once.
    second.send("NICK samuel");
    second.expect("OK");
    let mut third = server.connect();
    third.send("NICK sam");
    third.expect("OK");
    third.send("NICK samuel");
    third.expect("ERR nick taken");
}

/// Reads room `room`'s messages on `c` until `n` have come from each of `senders`; each
/// sender's arrive numbered 0, 1, 2… in that order.
fn read_in_order(mut c: Client, room: &str, senders: &[&str], n: usize) -> Client {
    let mut next = vec![0usize; senders.len()];
    let deadline = Instant::now() + Duration::from_secs(15);
    while next.iter().any(|&k| k < n) {
        assert!(Instant::now() < deadline, "timed out at {next:?}");
        let line = c.line();
        let rest = line
            .strip_prefix(&format!("MSG {room} "))
            .unwrap_or_else(|| panic!("unexpected {line:?}"));
        let (nick, num) = rest.split_once(' ').unwrap();
        let i = senders.iter().position(|s| *s == nick).unwrap();
        let num: usize = num.parse().unwrap();
        assert_eq!(num, next[i], "{nick}'s messages out of order");
        next[i] += 1;
    }
    c
}

#[test]
fn each_senders_messages_arrive_in_the_order_sent() {
    const N: usize = 2000;
    let server = Server::start(&[]);
    let mut a = server.member("a", &["r"]);
    let mut b = server.member("b", &["r"]);
    a.expect("* b joined r");
    let c = server.member("c", &["r"]);
    a.expect("* c joined r");
    b.expect("* c joined r");

    // Two senders write at once, in bursts of lines (as a paste would); all three members
    // read at once.
    let writers: Vec<_> = [&a, &b]
        .into_iter()
        .map(|client| {
            let mut w = client.w.try_clone().unwrap();
            thread::spawn(move || {
                for burst in (0..N).collect::<Vec<_>>().chunks(50) {
                    let lines: String = burst.iter().map(|i| format!("MSG r {i}\n")).collect();
                    w.write_all(lines.as_bytes()).unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = [a, b, c]
        .into_iter()
        .map(|client| thread::spawn(move || read_in_order(client, "r", &["a", "b"], N)))
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let mut clients: Vec<Client> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    // Nobody was dropped on the way.
    clients[2].send("WHO r");
    clients[2].expect("WHO r a b c");
}

#[test]
fn line_limit_is_4096_bytes() {
    let server = Server::start(&[]);
    let mut c = server.member("max", &["r"]);
    // Exactly 4096 bytes, with `\n` and with `\r\n`.
    let prefix = "MSG r ";
    let text = "x".repeat(4096 - prefix.len());
    c.send(&format!("{prefix}{text}"));
    c.expect(&format!("MSG r max {text}"));
    c.send_raw(format!("{prefix}{text}\r\n").as_bytes());
    c.expect(&format!("MSG r max {text}"));
    // 4097 bytes: refused, then closed.
    c.send(&format!("{prefix}{text}y"));
    c.expect("ERR line too long");
    c.expect_closed();

    // 4097 bytes before a `\r\n`.
    let mut c = server.member("crlf", &[]);
    c.send_raw(format!("{prefix}{text}y\r\n").as_bytes());
    c.expect("ERR line too long");
    c.expect_closed();

    // A line that never ends is refused without waiting for its end.
    let mut c = server.connect();
    c.send_raw(&[b'z'; 6000]);
    c.expect("ERR line too long");
    c.expect_closed();
}

#[test]
fn panic_ends_one_connection_and_a_crashed_room_restarts_empty() {
    let server = Server::start(&["--debug-commands"]);
    let mut a = server.member("a", &["lobby", "side"]);
    let mut b = server.member("b", &["lobby", "side"]);
    a.expect("* b joined lobby");
    a.expect("* b joined side");
    let mut c = server.member("c", &["lobby"]);
    a.expect("* c joined lobby");
    b.expect("* c joined lobby");

    // PANIC: the connection's process ends, alone.
    c.send("PANIC");
    c.expect_closed();
    a.expect("* c left lobby");
    b.expect("* c left lobby");
    a.send("WHO lobby");
    a.expect("WHO lobby a b");
    let mut c = server.connect();
    c.claim_nick("c");
    c.send("JOIN lobby");
    c.expect("OK");
    a.expect("* c joined lobby");
    b.expect("* c joined lobby");

    // CRASH: every member is told, and is a member no more.
    a.send("CRASH lobby");
    for m in [&mut a, &mut b, &mut c] {
        m.expect("* lobby closed");
    }
    for m in [&mut a, &mut b, &mut c] {
        m.send("MSG lobby anyone?");
        m.expect("ERR not a member");
        m.send("PART lobby");
        m.expect("ERR not a member");
    }
    // The other room lives on.
    b.send("MSG side still here");
    a.expect("MSG side b still here");
    b.expect("MSG side b still here");

    // Restarted empty: JOIN works again, WHO shows only the new joiners.
    b.send("JOIN lobby");
    b.expect("OK");
    b.send("WHO lobby");
    b.expect("WHO lobby b");
    a.send("JOIN lobby");
    a.expect("OK");
    b.expect("* a joined lobby");
    a.send("WHO lobby");
    a.expect("WHO lobby a b");
    a.send("MSG lobby back");
    a.expect("MSG lobby a back");
    b.expect("MSG lobby a back");
    // c never rejoined: it gets nothing but its own replies.
    c.send("WHO lobby");
    c.expect("WHO lobby a b");

    // And it can crash again.
    b.send("CRASH lobby");
    a.expect("* lobby closed");
    b.expect("* lobby closed");
    c.send("JOIN lobby");
    c.expect("OK");
    c.send("WHO lobby");
    c.expect("WHO lobby c");
}

#[test]
fn a_slow_reader_is_dropped_and_nobody_waits_for_it() {
    /// Lines in flight to the readers at most: well under the outbox, so only the member
    /// that never reads can fill its outbox. (Unpaced, a reading member that the scheduler
    /// of a loaded machine holds back for 16 lines is, by the contract, slow too.)
    const WINDOW: usize = 4;
    const MAX_LINES: usize = 20_000;
    let server = Server::start(&["--outbox", "16"]);
    let slow = server.member("slow", &["room"]);
    let mut fast = server.member("fast", &["room"]);
    let flood = server.member("flood", &["room"]);
    fast.expect("* flood joined room");

    let left = Arc::new(AtomicUsize::new(0));
    let seen = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
    let mut w = flood.w.try_clone().unwrap();
    // Each reader: the flood's lines in order, `* slow left room` once, then `after`.
    let readers: Vec<_> = [fast, flood]
        .into_iter()
        .zip(seen.clone())
        .map(|(mut c, seen)| {
            let left = left.clone();
            thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(20);
                let mut saw_left = false;
                loop {
                    assert!(Instant::now() < deadline);
                    let line = c.line();
                    if line == "* slow left room" {
                        assert!(!saw_left);
                        saw_left = true;
                        left.fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    let rest = line
                        .strip_prefix("MSG room flood ")
                        .unwrap_or_else(|| panic!("unexpected {line:.60?}"));
                    if rest == "after" {
                        assert!(saw_left);
                        return c;
                    }
                    let (num, _) = rest.split_once(' ').unwrap();
                    assert_eq!(num.parse::<usize>().unwrap(), seen.load(Ordering::SeqCst));
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    // Large lines, enough to fill the slow member's socket buffers, until it is dropped.
    let pad = "p".repeat(4000);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut sent = 0;
    while left.load(Ordering::SeqCst) < 2 {
        if readers.iter().any(|r| r.is_finished()) {
            // A reader failed (or saw `after` early): its panic tells why.
            break;
        }
        assert!(sent < MAX_LINES, "slow never dropped after {sent} lines");
        assert!(
            Instant::now() < deadline,
            "slow never dropped ({sent} lines)"
        );
        let behind = sent - seen.iter().map(|s| s.load(Ordering::SeqCst)).min().unwrap();
        if behind >= WINDOW {
            // A reader lags: a dead one trips the deadline.
            thread::yield_now();
            continue;
        }
        w.write_all(format!("MSG room {sent} {pad}\n").as_bytes())
            .unwrap();
        sent += 1;
    }
    // The fast member keeps receiving after the drop.
    w.write_all(b"MSG room after\n").unwrap();
    let mut clients: Vec<Client> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert_eq!(left.load(Ordering::SeqCst), 2);
    assert!(seen.iter().all(|s| s.load(Ordering::SeqCst) == sent));
    clients[0].send("WHO room");
    clients[0].expect("WHO room fast flood");

    // The slow member's connection is closed: whatever its buffers held, then EOF.
    let mut r = slow.r;
    let deadline = Instant::now() + READ;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        assert!(Instant::now() < deadline, "slow never closed");
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("slow not closed: {e}"),
        }
    }
}

#[test]
fn idle_timeout_disconnects_a_silent_client() {
    let server = Server::start(&["--idle-timeout", "1"]);
    let mut c = server.member("quiet", &[]);
    let since = Instant::now();
    c.expect_closed();
    let after = since.elapsed();
    assert!(
        after >= Duration::from_millis(800),
        "closed after {after:?}"
    );
}

#[test]
fn max_connections_one_serves_the_second_client_after_the_first_leaves() {
    let server = Server::start(&["--max-connections", "1"]);
    let mut first = server.member("first", &[]);
    let mut second = server.connect();
    second.send("NICK second");
    second.expect_silence(Duration::from_millis(500));
    // Still served alone.
    first.send("WHO x");
    first.expect("WHO x");
    first.send("QUIT");
    first.expect("BYE");
    first.expect_closed();
    second.expect("OK");
}

#[test]
fn sigterm_says_bye_to_everyone_and_exits_0() {
    let mut server = Server::start(&[]);
    let mut a = server.member("a", &["lobby"]);
    let mut b = server.member("b", &[]);
    let mut c = server.connect();
    a.send("WHO lobby");
    a.expect("WHO lobby a");
    c.send("WHO lobby");
    c.expect("ERR nick first");
    let since = Instant::now();
    server.signal("TERM");
    for m in [&mut a, &mut b, &mut c] {
        m.expect("BYE");
        m.expect_closed();
    }
    let status = server.wait_exit(Duration::from_secs(5).saturating_sub(since.elapsed()));
    assert!(status.success(), "{status}");
    assert!(TcpStream::connect(&server.addr).is_err());
}

#[test]
fn sigusr1_prints_the_tree() {
    let server = Server::start(&[]);
    let mut a = server.member("a", &["lobby"]);
    server.signal("USR1");
    let deadline = Instant::now() + READ;
    let (mut room, mut listener) = (false, false);
    let mut tree = Vec::new();
    while !(room && listener) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = server
            .stdout
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no full tree; so far {tree:#?}"));
        room |= line.contains("room lobby");
        listener |= line.contains(&format!("listener {}", server.addr));
        tree.push(line);
    }
    // Still serving.
    a.send("WHO lobby");
    a.expect("WHO lobby a");
}

#[test]
fn bad_address_and_port_in_use_fail_with_one_line() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    for addr in ["nonsense", "127.0.0.1:99999", busy_addr.as_str()] {
        let out = Command::new(example())
            .args(["--addr", addr])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{addr}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{addr}: {err}");
        assert!(err.starts_with("chat_server: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty(), "{addr}: printed {:?}", out.stdout);
    }
}
