use rusm::prelude::*;

#[rusm::connection]
async fn echo(_ctx: Ctx, mut stream: TcpStream) {
    let local = std::rc::Rc::new(0u8);
    let _ = stream.write_all(b"x").await;
    drop(local);
}

fn main() {}
