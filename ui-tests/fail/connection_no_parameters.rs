#[rusm::connection]
async fn echo() {}

fn main() {}
