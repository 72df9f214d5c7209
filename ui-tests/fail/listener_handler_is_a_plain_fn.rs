use rusm::prelude::*;

async fn echo(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(handler = echo)]
struct EchoListener;

fn main() {}
