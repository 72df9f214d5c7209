//! Just enough of the Chrome DevTools protocol to drive a page: headless Chromium started
//! with `--remote-debugging-port=0`, its page's WebSocket (a minimal RFC 6455 client), and
//! `Page.navigate` / `Runtime.evaluate`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Upper bound on starting Chromium and on any one protocol reply.
const TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn find_chromium() -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.exists() {
        return Some(fixed.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.exists())
}

/// A headless Chromium, killed (this child only) and its profile removed on drop.
pub(crate) struct Browser {
    child: Child,
    profile: PathBuf,
    port: u16,
}

impl Browser {
    pub(crate) fn launch(chromium: &Path) -> io::Result<Browser> {
        let profile = std::env::temp_dir().join(format!(
            "rusm-observer-chromium-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&profile);
        let child = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut browser = Browser {
            child,
            profile,
            port: 0,
        };
        // Chromium writes the port it picked to DevToolsActivePort in the profile.
        let file = browser.profile.join("DevToolsActivePort");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(port) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|t| t.lines().next()?.trim().parse().ok())
            {
                browser.port = port;
                return Ok(browser);
            }
            if let Some(status) = browser.child.try_wait()? {
                return Err(io::Error::other(format!("chromium exited with {status}")));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other("chromium gave no DevTools port in 30 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Connects to the browser's first page.
    pub(crate) fn page(&self) -> io::Result<Page> {
        let deadline = Instant::now() + TIMEOUT;
        let ws_url = loop {
            let list = http_get(self.port, "/json/list")?;
            let targets: Value = serde_json::from_str(&list).map_err(io::Error::other)?;
            let found = targets.as_array().and_then(|t| {
                t.iter()
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_owned))
            });
            match found {
                Some(url) => break url,
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                None => return Err(io::Error::other("chromium has no page target")),
            }
        };
        let path = ws_url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
            .ok_or_else(|| io::Error::other(format!("odd DevTools URL {ws_url}")))?;
        Page::connect(self.port, &path)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn http_get(port: u16, path: &str) -> io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(TIMEOUT))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")?;
    // DevTools keeps the connection open: read the headers, then Content-Length bytes.
    let mut reader = BufReader::new(s);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    String::from_utf8(body).map_err(io::Error::other)
}

/// One page's DevTools session over a WebSocket.
pub(crate) struct Page {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_id: u64,
}

impl Page {
    fn connect(port: u16, path: &str) -> io::Result<Page> {
        let writer = TcpStream::connect(("127.0.0.1", port))?;
        writer.set_read_timeout(Some(TIMEOUT))?;
        let mut reader = BufReader::new(writer.try_clone()?);
        let mut w = writer.try_clone()?;
        write!(
            w,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )?;
        let mut status = String::new();
        reader.read_line(&mut status)?;
        if !status.starts_with("HTTP/1.1 101") {
            return Err(io::Error::other(format!("no WebSocket upgrade: {status}")));
        }
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        Ok(Page {
            reader,
            writer,
            next_id: 1,
        })
    }

    /// Sends one text frame (masked, as a client must).
    fn send(&mut self, text: &str) -> io::Result<()> {
        let payload = text.as_bytes();
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.writer.write_all(&frame)
    }

    /// Reads one whole message (joining continuation frames; pings are skipped).
    fn recv(&mut self) -> io::Result<String> {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.reader.read_exact(&mut head)?;
            let fin = head[0] & 0x80 != 0;
            let opcode = head[0] & 0x0f;
            let len = match head[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.reader.read_exact(&mut b)?;
                    u64::from(u16::from_be_bytes(b))
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.reader.read_exact(&mut b)?;
                    u64::from_be_bytes(b)
                }
                n => u64::from(n),
            };
            let mut payload = vec![0u8; len as usize];
            self.reader.read_exact(&mut payload)?;
            match opcode {
                0x8 => return Err(io::Error::other("DevTools closed the WebSocket")),
                0x9 | 0xa => continue,
                _ => message.extend_from_slice(&payload),
            }
            if fin {
                return String::from_utf8(message).map_err(io::Error::other);
            }
        }
    }

    /// Sends a command and returns its result, skipping events.
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let text = json!({ "id": id, "method": method, "params": params }).to_string();
        self.send(&text).expect("send a DevTools command");
        loop {
            let reply: Value =
                serde_json::from_str(&self.recv().expect("read DevTools")).expect("DevTools JSON");
            if reply["id"] == id {
                assert!(reply["error"].is_null(), "{method} failed: {reply}");
                return reply["result"].clone();
            }
        }
    }

    pub(crate) fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value; an
    /// exception (a page still loading, an element not there yet) is `null`.
    pub(crate) fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
        );
        if !r["exceptionDetails"].is_null() {
            return Value::Null;
        }
        r["result"]["value"].clone()
    }
}
