use rusm::prelude::*;

#[rusm::connection]
fn echo(_ctx: Ctx, _stream: TcpStream) {}

fn main() {}
