//! The room directory: a server that opens rooms under the rooms supervisor on first `JOIN`
//! and knows which incarnation of each is running.
//!
//! A room that crashes is restarted by its supervisor; until the new incarnation reports in
//! ([`Opened`]), requests to open that room wait with a deferred reply ([`Caller`]), so a
//! room is never started twice.

use std::collections::HashMap;

use rusm::prelude::*;
use rusm::{DynamicSupervisorRef, ServerRef};

use crate::room::{Room, RoomArgs};

enum Entry {
    Running(ServerRef<Room>),
    /// Crashed; its supervisor is restarting it. The callers waiting for it.
    Restarting(Vec<Caller<Option<ServerRef<Room>>>>),
}

pub(crate) struct Rooms {
    sup: DynamicSupervisorRef,
    outbox: usize,
    rooms: HashMap<String, Entry>,
}

impl Server for Rooms {
    type Args = (DynamicSupervisorRef, usize);
    type Info = ();

    async fn init((sup, outbox): Self::Args, _ctx: &mut ServerCtx<Self>) -> Init<Self> {
        Init::Ok(Rooms {
            sup,
            outbox,
            rooms: HashMap::new(),
        })
    }

    async fn handle_info(&mut self, msg: Msg<()>, _ctx: &mut ServerCtx<Self>) -> Next {
        let Msg::Down(down) = msg else {
            return Next::Noreply;
        };
        // Which room was it? Only the incarnation we know counts (a newer one may be up).
        let Some(name) = self.rooms.iter().find_map(|(name, e)| match e {
            Entry::Running(r) if r.pid() == down.pid => Some(name.clone()),
            _ => None,
        }) else {
            return Next::Noreply;
        };
        if down.reason.is_normal() {
            self.rooms.remove(&name);
        } else {
            self.rooms.insert(name, Entry::Restarting(Vec::new()));
        }
        Next::Noreply
    }
}

/// The running room called `0`, opened if need be.
pub(crate) struct Open(pub String);

impl Call<Open> for Rooms {
    type Reply = Option<ServerRef<Room>>;

    async fn handle_call(
        &mut self,
        Open(name): Open,
        caller: &Caller<Self::Reply>,
        ctx: &mut ServerCtx<Self>,
    ) -> Reply<Self::Reply> {
        match self.rooms.get_mut(&name) {
            Some(Entry::Running(r)) => return Reply::Reply(Some(r.clone())),
            Some(Entry::Restarting(waiting)) => {
                waiting.push(caller.clone());
                return Reply::Noreply;
            }
            None => {}
        }
        let args = RoomArgs {
            name: name.clone(),
            outbox: self.outbox,
            directory: ctx.me(),
        };
        let spec = ChildSpec::server::<Room>(format!("room {name}"), args)
            .name(format!("room:{name}"))
            .restart(Restart::Transient);
        if let Err(e) = self.sup.start_child(spec).await {
            tracing::error!(room = %name, error = %e, "cannot open room");
            return Reply::Reply(None);
        }
        // Registered before it ran: the typed lookup finds this incarnation.
        let room = ctx
            .runtime()
            .whereis_server::<Room>(&format!("room:{name}"));
        if let Some(r) = &room {
            ctx.monitor(r);
            self.rooms.insert(name, Entry::Running(r.clone()));
        }
        Reply::Reply(room)
    }
}

/// The running room called `0`, if there is one; never opens it.
pub(crate) struct Find(pub String);

impl Call<Find> for Rooms {
    type Reply = Option<ServerRef<Room>>;

    async fn handle_call(
        &mut self,
        Find(name): Find,
        _: &Caller<Self::Reply>,
        _: &mut ServerCtx<Self>,
    ) -> Reply<Self::Reply> {
        Reply::Reply(match self.rooms.get(&name) {
            Some(Entry::Running(r)) => Some(r.clone()),
            _ => None,
        })
    }
}

/// A room incarnation is up (sent by every room's `init`).
pub(crate) struct Opened {
    pub(crate) name: String,
    pub(crate) room: ServerRef<Room>,
}

impl Cast<Opened> for Rooms {
    async fn handle_cast(&mut self, o: Opened, ctx: &mut ServerCtx<Self>) -> Next {
        match self.rooms.get(&o.name) {
            Some(Entry::Running(r)) if r.pid() == o.room.pid() => return Next::Noreply,
            // The first incarnation reports in while `Open` is still starting it: `Open`
            // records it.
            None => return Next::Noreply,
            _ => {}
        }
        ctx.monitor(&o.room);
        if let Some(Entry::Restarting(waiting)) =
            self.rooms.insert(o.name, Entry::Running(o.room.clone()))
        {
            for caller in waiting {
                caller.reply(Some(o.room.clone()));
            }
        }
        Next::Noreply
    }
}
