use rusm::prelude::*;

#[rusm::connection]
async fn echo(_ctx: Ctx) {}

fn main() {}
