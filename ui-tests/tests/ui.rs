//! Compile-fail and compile-pass cases for the attribute macros.
//!
//! Each `ui/fail/*.rs` file is one error family with several cases; its `.stderr` is written
//! only by `TRYBUILD=overwrite cargo test -p githubapp-ui-tests` and reviewed like code (the
//! error must land on the offending token). `ui/pass/*.rs` must compile and run.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/fail/*.rs");
    cases.pass("ui/pass/*.rs");
}
