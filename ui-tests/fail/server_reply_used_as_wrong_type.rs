use rusm::prelude::*;

struct Counter(u64);
impl Server for Counter {
    type Args = ();
    type Info = ();
    async fn init(_: (), _: &mut ServerCtx<Self>) -> Init<Self> {
        Init::Ok(Counter(0))
    }
}

struct Get;
impl Call<Get> for Counter {
    type Reply = u64;
    async fn handle_call(&mut self, _: Get, _: &Caller<u64>, _: &mut ServerCtx<Self>) -> Reply<u64> {
        Reply::Reply(self.0)
    }
}

async fn ask(counter: ServerRef<Counter>) {
    let _name: String = counter.call(Get).await.unwrap();
}

fn main() {}
