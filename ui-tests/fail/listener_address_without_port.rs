use rusm::prelude::*;

#[rusm::connection]
async fn echo(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(addr = "127.0.0.1", handler = echo)]
struct EchoListener;

fn main() {}
