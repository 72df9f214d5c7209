use rusm::prelude::*;

#[rusm::connection]
async fn echo(_ctx: Ctx, _stream: TcpStream) {}

#[rusm::listener(handler = echo)]
fn echo_listener() {}

fn main() {}
