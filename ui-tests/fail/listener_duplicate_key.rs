use rusm::prelude::*;

#[rusm::connection]
async fn echo(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(handler = echo, acceptors = 2, acceptors = 4)]
struct EchoListener;

fn main() {}
