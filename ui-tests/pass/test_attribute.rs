//! #[rusm::test] makes a #[test] that runs on a fresh runtime.
use rusm::prelude::*;

#[rusm::test]
async fn spawns_a_process(rt: Runtime) {
    let p = rt.spawn(|_ctx: Ctx| async {});
    assert_eq!(p.wait().await, ExitReason::Normal);
}

#[rusm::test]
async fn without_the_runtime() {
    assert_eq!(1 + 1, 2);
}

fn main() {}
