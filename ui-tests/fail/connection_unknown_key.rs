use rusm::prelude::*;

#[rusm::connection(read_timeout = 10)]
async fn echo(_ctx: Ctx, _stream: TcpStream) {}

fn main() {}
