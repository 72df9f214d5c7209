//! The nick registry: a server that gives each nick to one connection at a time, and takes
//! it back when the connection exits (it monitors every holder).

use std::collections::HashMap;

use rusm::prelude::*;
use rusm::MonitorRef;

#[derive(Default)]
pub(crate) struct Nicks {
    by_nick: HashMap<String, (Pid, MonitorRef)>,
}

impl Server for Nicks {
    type Args = ();
    type Info = ();

    async fn init(_: (), _ctx: &mut ServerCtx<Self>) -> Init<Self> {
        Init::Ok(Nicks::default())
    }

    async fn handle_info(&mut self, msg: Msg<()>, _ctx: &mut ServerCtx<Self>) -> Next {
        if let Msg::Down(down) = msg {
            // The holder exited, however it ended: its nicks are free again.
            self.by_nick.retain(|_, (_, m)| *m != down.monitor);
        }
        Next::Noreply
    }
}

/// Take `nick` for `holder`, giving up `old` (its previous nick) when it succeeds.
pub(crate) struct Claim {
    pub(crate) nick: String,
    pub(crate) old: Option<String>,
    pub(crate) holder: ProcessHandle,
}

/// The nick is held by another connection.
#[derive(Debug)]
pub(crate) struct Taken;

impl Call<Claim> for Nicks {
    type Reply = Result<(), Taken>;

    async fn handle_call(
        &mut self,
        claim: Claim,
        _: &Caller<Self::Reply>,
        ctx: &mut ServerCtx<Self>,
    ) -> Reply<Self::Reply> {
        let pid = claim.holder.pid();
        match self.by_nick.get(&claim.nick) {
            Some((holder, _)) if *holder == pid => return Reply::Reply(Ok(())),
            Some(_) => return Reply::Reply(Err(Taken)),
            None => {}
        }
        let mref = match claim.old.and_then(|old| self.by_nick.remove(&old)) {
            Some((_, mref)) => mref,
            None => ctx.monitor(&claim.holder),
        };
        self.by_nick.insert(claim.nick, (pid, mref));
        Reply::Reply(Ok(()))
    }
}
