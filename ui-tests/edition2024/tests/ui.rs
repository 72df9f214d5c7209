//! The documented forms compile, and run, as edition-2024 user code: there an endless `loop`
//! has type `!`, which is not an exit reason, so receive loops are written
//! `while let Some(msg) = ctx.next().await`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("pass/*.rs");
}
