use rusm::prelude::*;

#[rusm::connection]
async fn echo(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(handler = echo, max_conns = 10)]
struct EchoListener;

fn main() {}
