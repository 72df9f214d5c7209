//! A server written as the docs show: typed calls, casts, info and a deferred reply, started
//! named and under a supervisor.
use rusm::prelude::*;
use std::time::Duration;

struct Counter {
    n: u64,
    waiting: Vec<Caller<u64>>,
}

impl Server for Counter {
    type Args = u64;
    type Info = u64;
    async fn init(start: u64, _ctx: &mut ServerCtx<Self>) -> Init<Self> {
        Init::Ok(Counter { n: start, waiting: Vec::new() })
    }
    async fn handle_info(&mut self, msg: Msg<u64>, _ctx: &mut ServerCtx<Self>) -> Next {
        if let Msg::User(v) = msg {
            self.n += v;
            for c in self.waiting.drain(..) {
                c.reply(self.n);
            }
        }
        Next::Noreply
    }
}

struct Get;
impl Call<Get> for Counter {
    type Reply = u64;
    async fn handle_call(&mut self, _: Get, _: &Caller<u64>, _: &mut ServerCtx<Self>) -> Reply<u64> {
        Reply::Reply(self.n)
    }
}

/// Answered at the next info.
struct NextChange;
impl Call<NextChange> for Counter {
    type Reply = u64;
    async fn handle_call(&mut self, _: NextChange, caller: &Caller<u64>, ctx: &mut ServerCtx<Self>) -> Reply<u64> {
        self.waiting.push(caller.clone());
        ctx.send_after(10, Duration::from_millis(1));
        Reply::Noreply
    }
}

struct Add(u64);
impl Cast<Add> for Counter {
    async fn handle_cast(&mut self, Add(v): Add, _: &mut ServerCtx<Self>) -> Next {
        self.n += v;
        Next::Noreply
    }
}

#[rusm::main]
async fn main(rt: Runtime) {
    let counter: ServerRef<Counter> = rt.start_server_named::<Counter>("counter", 1).await.unwrap();
    counter.cast(Add(2)).unwrap();
    counter.send(3).unwrap();
    let n: u64 = counter.call(Get).await.unwrap();
    assert_eq!(n, 6);
    assert_eq!(counter.call(NextChange).await.unwrap(), 16);
    let found = rt.whereis_server::<Counter>("counter").unwrap();
    assert_eq!(found.stop(ExitReason::Normal).await, ExitReason::Normal);

    let sup = rt
        .start_supervisor(
            SupervisorSpec::new(Strategy::OneForOne)
                .child(ChildSpec::server::<Counter>("counter", 0).name("counter")),
        )
        .await
        .unwrap();
    assert_eq!(rt.whereis_server::<Counter>("counter").unwrap().call(Get).await.unwrap(), 0);
    sup.stop().await;
}
