//! A room: a server that knows its members and delivers their messages to each of them.
//!
//! Delivery never waits: a line goes into the member's mailbox, and a member whose mailbox
//! already holds `outbox` undelivered lines (a slow reader) is disconnected instead. The room
//! monitors every member, so a member that quits, disconnects or crashes leaves at once.

use std::collections::HashMap;
use std::sync::Arc;

use rusm::prelude::*;
use rusm::{MonitorRef, ServerRef};

use crate::connection::ConnMsg;
use crate::rooms::{Opened, Rooms};

/// What a room is started with, at every (re)start.
#[derive(Clone)]
pub(crate) struct RoomArgs {
    pub(crate) name: String,
    pub(crate) outbox: usize,
    pub(crate) directory: ServerRef<Rooms>,
}

struct Member {
    nick: String,
    addr: Addr<ConnMsg>,
    monitor: MonitorRef,
}

pub(crate) struct Room {
    name: String,
    outbox: usize,
    members: HashMap<Pid, Member>,
}

impl Room {
    /// Sends `line` to every member, in one order for all; drops the slow ones.
    fn deliver(&mut self, line: &str, ctx: &ServerCtx<Self>) {
        let line: Arc<str> = Arc::from(line);
        let mut slow = Vec::new();
        for (pid, m) in &self.members {
            if m.addr.message_queue_len() >= self.outbox {
                slow.push(*pid);
            } else {
                let _ = m.addr.send(ConnMsg::Line(line.clone()));
            }
        }
        for pid in slow {
            if let Some(m) = self.members.remove(&pid) {
                tracing::info!(room = %self.name, nick = %m.nick, outbox = self.outbox, "disconnecting a slow reader");
                ctx.demonitor(m.monitor);
                m.addr.exit(ExitReason::error(
                    "outbox full: the client reads too slowly",
                ));
                self.deliver(&format!("* {} left {}\n", m.nick, self.name), ctx);
            }
        }
    }
}

impl Server for Room {
    type Args = RoomArgs;
    type Info = ();

    async fn init(args: RoomArgs, ctx: &mut ServerCtx<Self>) -> Init<Self> {
        // Every incarnation tells the directory it is up: a restart after a crash included.
        let _ = args.directory.cast(Opened {
            name: args.name.clone(),
            room: ctx.me(),
        });
        Init::Ok(Room {
            name: args.name,
            outbox: args.outbox,
            members: HashMap::new(),
        })
    }

    async fn handle_info(&mut self, msg: Msg<()>, ctx: &mut ServerCtx<Self>) -> Next {
        if let Msg::Down(down) = msg {
            if let Some(m) = self.members.remove(&down.pid) {
                self.deliver(&format!("* {} left {}\n", m.nick, self.name), ctx);
            }
        }
        Next::Noreply
    }
}

/// Join as `nick`; the member's own address receives the room's lines.
pub(crate) struct Join {
    pub(crate) nick: String,
    pub(crate) addr: Addr<ConnMsg>,
}

impl Call<Join> for Room {
    type Reply = ();

    async fn handle_call(
        &mut self,
        j: Join,
        _: &Caller<()>,
        ctx: &mut ServerCtx<Self>,
    ) -> Reply<()> {
        let pid = j.addr.pid();
        if let Some(m) = self.members.get_mut(&pid) {
            m.nick = j.nick;
            return Reply::Reply(());
        }
        self.deliver(&format!("* {} joined {}\n", j.nick, self.name), ctx);
        let monitor = ctx.monitor(j.addr.handle());
        self.members.insert(
            pid,
            Member {
                nick: j.nick,
                addr: j.addr,
                monitor,
            },
        );
        Reply::Reply(())
    }
}

/// Leave; replies whether `0` was a member.
pub(crate) struct Part(pub Pid);

impl Call<Part> for Room {
    type Reply = bool;

    async fn handle_call(
        &mut self,
        Part(pid): Part,
        _: &Caller<bool>,
        ctx: &mut ServerCtx<Self>,
    ) -> Reply<bool> {
        let Some(m) = self.members.remove(&pid) else {
            return Reply::Reply(false);
        };
        ctx.demonitor(m.monitor);
        self.deliver(&format!("* {} left {}\n", m.nick, self.name), ctx);
        Reply::Reply(true)
    }
}

/// A message from member `from`; replies whether it was a member.
pub(crate) struct Say {
    pub(crate) from: Pid,
    pub(crate) text: String,
}

impl Call<Say> for Room {
    type Reply = bool;

    async fn handle_call(
        &mut self,
        say: Say,
        _: &Caller<bool>,
        ctx: &mut ServerCtx<Self>,
    ) -> Reply<bool> {
        let Some(m) = self.members.get(&say.from) else {
            return Reply::Reply(false);
        };
        let line = format!("MSG {} {} {}\n", self.name, m.nick, say.text);
        self.deliver(&line, ctx);
        Reply::Reply(true)
    }
}

/// The members' nicks, sorted.
pub(crate) struct Who;

impl Call<Who> for Room {
    type Reply = Vec<String>;

    async fn handle_call(
        &mut self,
        _: Who,
        _: &Caller<Vec<String>>,
        _: &mut ServerCtx<Self>,
    ) -> Reply<Vec<String>> {
        let mut nicks: Vec<String> = self.members.values().map(|m| m.nick.clone()).collect();
        nicks.sort();
        Reply::Reply(nicks)
    }
}

/// `CRASH <room>` (`--debug-commands`): the room process panics.
pub(crate) struct Crash;

impl Cast<Crash> for Room {
    async fn handle_cast(&mut self, _: Crash, _: &mut ServerCtx<Self>) -> Next {
        panic!("room {} asked to crash", self.name);
    }
}
