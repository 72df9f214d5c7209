use rusm::prelude::*;

#[rusm::connection(close_with_reset)]
async fn echo(_ctx: Ctx, _stream: TcpStream) {}

fn main() {}
