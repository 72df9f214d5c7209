use rusm::prelude::*;

struct State;

#[rusm::connection]
async fn echo(_ctx: Ctx, _stream: TcpStream, _state: &State) {}

fn main() {}
