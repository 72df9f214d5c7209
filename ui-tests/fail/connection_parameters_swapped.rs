use rusm::prelude::*;

#[rusm::connection]
async fn echo(_stream: TcpStream, _ctx: Ctx) {}

fn main() {}
