struct Echo;

#[rusm::listener(handler = Echo)]
struct EchoListener;

fn main() {}
