//! UI tests of `#[derive(Reactive)]` and `#[command]`: every error message
//! a macro can emit, as `tests/ui/<macro>/fail/<the-mistake>.rs` with the
//! compiler's output recorded beside it in a `.stderr` file, and the
//! accepted shapes in `tests/ui/<macro>/pass/`, which also run.
//!
//! Refresh the `.stderr` files after a change of message (or of the
//! toolchain) with
//! `TRYBUILD=overwrite cargo test -j 2 -p lab-link-derive --test ui`, then
//! read the diff.

#[test]
fn reactive() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/reactive/fail/*.rs");
    cases.pass("tests/ui/reactive/pass/*.rs");
}

#[test]
fn command() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/command/fail/*.rs");
    cases.pass("tests/ui/command/pass/*.rs");
}
