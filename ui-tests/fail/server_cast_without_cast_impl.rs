use rusm::prelude::*;

struct Counter(u64);
impl Server for Counter {
    type Args = ();
    type Info = ();
    async fn init(_: (), _: &mut ServerCtx<Self>) -> Init<Self> {
        Init::Ok(Counter(0))
    }
}

struct Incr;
impl Cast<Incr> for Counter {
    async fn handle_cast(&mut self, _: Incr, _: &mut ServerCtx<Self>) -> Next {
        self.0 += 1;
        Next::Noreply
    }
}

struct Clear;
impl Cast<Clear> for Counter {
    async fn handle_cast(&mut self, _: Clear, _: &mut ServerCtx<Self>) -> Next {
        self.0 = 0;
        Next::Noreply
    }
}

struct Decr;

fn lower(counter: &ServerRef<Counter>) {
    let _ = counter.cast(Decr);
}

fn main() {}
