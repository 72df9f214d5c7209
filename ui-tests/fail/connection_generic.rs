use rusm::prelude::*;

#[rusm::connection]
async fn echo<S: Send>(_ctx: Ctx, _stream: TcpStream, _state: Arc<S>) {}

fn main() {}
