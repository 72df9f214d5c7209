#[rusm::test]
async fn two(rt: rusm::Runtime, other: rusm::Runtime) {
    let _ = (rt, other);
}

fn main() {}
