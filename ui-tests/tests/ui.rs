//! Compile-time behaviour of RUSM's macros: every documented form compiles (and runs where
//! cheap, `pass/`); every misuse fails with the reviewed message in its `.stderr` (`fail/`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("pass/*.rs");
    t.compile_fail("fail/*.rs");
}
