//! A connection: a process with a mailbox. It reads commands from its socket and lines for
//! its client from its mailbox, in one `tokio::select!`: both branches are cancel safe
//! (`read` into a buffer kept across iterations, `Ctx::recv`), so nothing is lost whichever
//! wins. After each command of a chunk it delivers what its mailbox holds, so that a chunk of
//! many commands never piles up its own echoes.

use std::collections::HashMap;
use std::sync::Arc;

use rusm::prelude::*;
use rusm::{MonitorRef, ServerRef};

use crate::nicks::{Claim, Nicks};
use crate::protocol::{parse, Command, MAX_LINE};
use crate::room::{Crash, Join, Part, Room, Say, Who};
use crate::rooms::{Find, Open, Rooms};

/// What a connection's mailbox takes.
#[derive(Debug, Clone)]
pub(crate) enum ConnMsg {
    /// A line for the client, with its `\n`.
    Line(Arc<str>),
    /// The server is shutting down: say `BYE` and close.
    Bye,
}

/// What every connection shares.
pub(crate) struct Chat {
    pub(crate) nicks: ServerRef<Nicks>,
    pub(crate) rooms: ServerRef<Rooms>,
    pub(crate) debug: bool,
}

/// The process group of every connection, for the shutdown's `BYE`.
pub(crate) const CONNECTIONS: &str = "connections";

struct Session {
    nick: Option<String>,
    rooms: HashMap<String, (ServerRef<Room>, MonitorRef)>,
}

/// What to do after a line.
enum After {
    Go,
    Close,
}

#[rusm::connection]
pub(crate) async fn serve(
    mut ctx: Ctx<ConnMsg>,
    mut stream: TcpStream,
    chat: Arc<Chat>,
) -> std::io::Result<()> {
    let _ = ctx.runtime().pg().join(CONNECTIONS, &ctx.myself());
    let mut session = Session {
        nick: None,
        rooms: HashMap::new(),
    };
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        tokio::select! {
            read = stream.read(&mut chunk) => {
                let n = read?;
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
                let mut start = 0;
                while let Some(i) = buf[start..].iter().position(|&b| b == b'\n') {
                    let mut line = &buf[start..start + i];
                    start += i + 1;
                    if line.last() == Some(&b'\r') {
                        line = &line[..line.len() - 1];
                    }
                    if line.len() > MAX_LINE {
                        return too_long(&mut stream).await;
                    }
                    let line = line.to_vec();
                    if let After::Close = handle(&line, &mut ctx, &mut stream, &mut session, &chat).await? {
                        return Ok(());
                    }
                    if let After::Close = flush(&mut ctx, &mut stream, &mut session).await? {
                        return Ok(());
                    }
                }
                buf.drain(..start);
                // A line without its end yet: `\r\n` allows one byte more.
                if buf.len() > MAX_LINE + 1 {
                    return too_long(&mut stream).await;
                }
            }
            msg = ctx.recv() => {
                if let After::Close = deliver(msg, &mut stream, &mut session).await? {
                    return Ok(());
                }
            }
        }
    }
}

/// Acts on one message from the mailbox: a line for the client, `BYE`, or a room gone.
async fn deliver(
    msg: Msg<ConnMsg>,
    stream: &mut TcpStream,
    session: &mut Session,
) -> std::io::Result<After> {
    match msg {
        Msg::User(ConnMsg::Line(line)) => stream.write_all(line.as_bytes()).await?,
        Msg::User(ConnMsg::Bye) => {
            bye(stream).await?;
            return Ok(After::Close);
        }
        Msg::Down(down) => {
            // A room this connection is in went down: it crashed (or stopped).
            let gone = session
                .rooms
                .iter()
                .find(|(_, (_, m))| *m == down.monitor)
                .map(|(n, _)| n.clone());
            if let Some(name) = gone {
                session.rooms.remove(&name);
                stream
                    .write_all(format!("* {name} closed\n").as_bytes())
                    .await?;
            }
        }
        Msg::Exit(_) => {}
    }
    Ok(After::Go)
}

/// Delivers what the mailbox holds now, without waiting for more.
///
/// Called after every command of a chunk: a client that sends many lines at once (a paste)
/// gets its rooms' lines, its own echoes included, as they come, instead of after the whole
/// chunk; else the echoes of one chunk alone could fill its outbox, and a client that reads
/// all it is sent would be dropped as a slow reader.
async fn flush(
    ctx: &mut Ctx<ConnMsg>,
    stream: &mut TcpStream,
    session: &mut Session,
) -> std::io::Result<After> {
    // A count taken now: lines that keep coming wait for the next turn, and `recv` never
    // waits, as at least that many messages are queued.
    for _ in 0..ctx.message_queue_len() {
        let msg = ctx.recv().await;
        if let After::Close = deliver(msg, stream, session).await? {
            return Ok(After::Close);
        }
    }
    Ok(After::Go)
}

async fn too_long(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(b"ERR line too long\n").await?;
    stream.shutdown().await
}

async fn bye(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(b"BYE\n").await?;
    stream.shutdown().await
}

async fn handle(
    line: &[u8],
    ctx: &mut Ctx<ConnMsg>,
    stream: &mut TcpStream,
    s: &mut Session,
    chat: &Chat,
) -> std::io::Result<After> {
    let cmd = match parse(line, chat.debug) {
        Ok(cmd) => cmd,
        Err(refusal) => {
            stream.write_all(refusal.line().as_bytes()).await?;
            return Ok(After::Go);
        }
    };
    let reply: std::borrow::Cow<'static, str> = match cmd {
        Command::Quit => {
            bye(stream).await?;
            return Ok(After::Close);
        }
        Command::Nick(nick) => {
            let claim = Claim {
                nick: nick.to_string(),
                old: s.nick.clone(),
                holder: ctx.handle().clone(),
            };
            match chat.nicks.call(claim).await {
                Ok(Ok(())) => {
                    s.nick = Some(nick.to_string());
                    for (room, _) in s.rooms.values() {
                        let join = Join {
                            nick: nick.to_string(),
                            addr: ctx.myself(),
                        };
                        let _ = room.call(join).await;
                    }
                    "OK\n".into()
                }
                Ok(Err(_)) => "ERR nick taken\n".into(),
                Err(e) => return Err(std::io::Error::other(format!("nick registry: {e}"))),
            }
        }
        _ if s.nick.is_none() => "ERR nick first\n".into(),
        Command::Join(name) if s.rooms.contains_key(name) => "OK\n".into(),
        Command::Join(name) => {
            let nick = s.nick.clone().unwrap_or_default();
            match join(name, nick, ctx, chat).await {
                Some(entry) => {
                    s.rooms.insert(name.to_string(), entry);
                    "OK\n".into()
                }
                None => {
                    return Err(std::io::Error::other(format!(
                        "room {name} is not available"
                    )))
                }
            }
        }
        Command::Part(name) => match s.rooms.remove(name) {
            Some((room, mref)) => {
                ctx.demonitor(mref);
                let _ = room.call(Part(ctx.pid())).await;
                "OK\n".into()
            }
            None => "ERR not a member\n".into(),
        },
        Command::Msg(name, text) => match s.rooms.get(name) {
            Some((room, _)) => {
                let say = Say {
                    from: ctx.pid(),
                    text: text.to_string(),
                };
                match room.call(say).await {
                    Ok(true) => return Ok(After::Go),
                    _ => "ERR not a member\n".into(),
                }
            }
            None => "ERR not a member\n".into(),
        },
        Command::Who(name) => {
            let nicks = match chat.rooms.call(Find(name.to_string())).await {
                Ok(Some(room)) => room.call(Who).await.unwrap_or_default(),
                _ => Vec::new(),
            };
            let mut line = format!("WHO {name}");
            for n in nicks {
                line.push(' ');
                line.push_str(&n);
            }
            line.push('\n');
            line.into()
        }
        Command::Panic => panic!("PANIC asked by the client"),
        Command::Crash(name) => {
            if let Ok(Some(room)) = chat.rooms.call(Find(name.to_string())).await {
                let _ = room.cast(Crash);
            }
            return Ok(After::Go);
        }
    };
    stream.write_all(reply.as_bytes()).await?;
    Ok(After::Go)
}

/// Joins room `name` (opening it if need be); the room and the monitor on it.
async fn join(
    name: &str,
    nick: String,
    ctx: &Ctx<ConnMsg>,
    chat: &Chat,
) -> Option<(ServerRef<Room>, MonitorRef)> {
    // A room that crashed between `Open` and `Join` is opened again: try twice.
    for _ in 0..2 {
        let room = chat.rooms.call(Open(name.to_string())).await.ok()??;
        let mref = ctx.monitor(&room);
        let join = Join {
            nick: nick.clone(),
            addr: ctx.myself(),
        };
        if room.call(join).await.is_ok() {
            return Some((room, mref));
        }
        ctx.demonitor(mref);
    }
    None
}
