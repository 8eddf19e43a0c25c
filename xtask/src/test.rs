//! `cargo xtask test`: every check of the project in one command, stopping
//! at the first failure.
//!
//! The steps, in order: setup (install the tools the tests need), `cargo
//! fmt --check`, `cargo clippy` denying warnings, `cargo test` (unit,
//! integration and doctests; the doctests include README.md and the book's
//! chapters through the facade crate, and xtask's own tests include the
//! tidy checks), the browser runtime's checks (`tsc` over `lab-link-js`'s
//! JSDoc types, then its tests under `node --test`, which start the demo
//! built by `cargo test` and run its conformance suite in Chromium too),
//! and the book build. Cheap checks come first, so
//! that a formatting slip fails in seconds rather than after the test build.
//! `--quick` skips fmt and clippy for local iteration; CI runs everything.

use std::time::Instant;

use crate::cmd::{Cmd, JOBS};
use crate::flags::Test;
use crate::{setup, Result};

/// `cargo xtask test`.
pub(crate) fn run(flags: &Test) -> Result {
    let started = Instant::now();
    let steps = steps(flags);
    let total = steps.len() + 1;

    header(1, total, "setup: the tools the tests need");
    setup::run()?;
    let mut counts = Counts::default();
    for (index, step) in steps.iter().enumerate() {
        header(index + 2, total, &step.to_string());
        let step_started = Instant::now();
        let result = step.run_observing(|line| counts.add_line(line));
        if result.is_err() && counts.any() {
            println!("\n{}", counts.summary());
        }
        result?;
        println!("(took {:.1} s)", step_started.elapsed().as_secs_f64());
    }

    println!(
        "\ncargo xtask test: all {total} steps passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The closing line totals every libtest summary above, so that a reader
    // of the log (CI included) sees how many tests ran, not only the last
    // crate's count.
    println!("{}", counts.summary());
    if flags.quick {
        println!("(--quick skipped cargo fmt and cargo clippy: run without it before committing)");
    }
    Ok(())
}

/// The steps after setup.
fn steps(flags: &Test) -> Vec<Cmd> {
    let mut steps = Vec::new();
    if !flags.quick {
        steps.push(
            Cmd::cargo()
                .args(["fmt", "--all", "--", "--check"])
                .on_failure("the code is not formatted: run `cargo fmt --all`"),
        );
        steps.push(
            Cmd::cargo()
                .args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--all-features",
                    "-j",
                    JOBS,
                ])
                .args(["--", "-D", "warnings"])
                .on_failure("clippy found problems: fix the warnings above"),
        );
    }
    steps.push(
        Cmd::cargo()
            .args(["test", "--workspace", "--all-features", "-j", JOBS])
            .on_failure("a test failed: see its output above"),
    );
    steps.extend(js_steps());
    // The output directory is set in docs/book.toml: target/book.
    steps.push(
        Cmd::new("mdbook")
            .args(["build", "docs"])
            .if_missing("run `cargo xtask setup`, which installs it")
            .on_failure("the book in docs/ does not build: see mdBook's message above"),
    );
    steps
}

/// The folder of the browser runtime.
const JS_DIR: &str = "lab-link-js";
/// The longest a single Node test may run, in milliseconds: the tests
/// that start the demo or run codegen-ts build them with cargo first,
/// which is quick after `cargo test` but not on a cold target/.
const NODE_TEST_TIMEOUT_MS: &str = "600000";

/// `tsc` over `lab-link-js`, then its Node tests, file by file as found.
fn js_steps() -> Vec<Cmd> {
    let install = "install Node.js 20 or later and npm (Debian: `apt-get install nodejs npm`), \
                   or run `cargo xtask setup`, which does";
    let tsc = Cmd::new("node")
        .arg(format!("{JS_DIR}/node_modules/typescript/bin/tsc"))
        .args(["--noEmit", "-p", JS_DIR])
        .if_missing(install)
        .on_failure("lab-link-js does not type-check: see tsc's messages above");
    // One test file at a time: several start the demo or cargo, and the
    // machines have two cores.
    let tests = Cmd::new("node")
        .args(["--test", "--test-reporter=spec", "--test-concurrency=1"])
        .arg(format!("--test-timeout={NODE_TEST_TIMEOUT_MS}"))
        .args(js_test_files())
        .if_missing(install)
        .on_failure("a lab-link-js test failed: see its output above");
    vec![tsc, tests]
}

/// `lab-link-js/test/*.test.js`, sorted, relative to the workspace root.
fn js_test_files() -> Vec<String> {
    let dir = crate::project_root().join(JS_DIR).join("test");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.js"))
        .map(|name| format!("{JS_DIR}/test/{name}"))
        .collect();
    files.sort();
    files
}

/// Totals of the `test result:` lines libtest prints per test binary, and
/// of the `ℹ pass N` lines of Node's test runner.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
    binaries: u64,
}

impl Counts {
    /// Adds a line like `test result: ok. 31 passed; 0 failed; 4 ignored; …`.
    fn add_line(&mut self, line: &str) {
        if let Some(rest) = line.trim().strip_prefix("ℹ ") {
            self.add_node_line(rest);
            return;
        }
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        self.binaries += 1;
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(number)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<u64>() else {
                continue;
            };
            match label {
                "passed" => self.passed += number,
                "failed" => self.failed += number,
                "ignored" => self.ignored += number,
                _ => {}
            }
        }
    }

    /// A summary line of Node's spec reporter, without its `ℹ `: `pass 12`.
    fn add_node_line(&mut self, rest: &str) {
        let Some((label, number)) = rest.split_once(' ') else {
            return;
        };
        let Ok(number) = number.trim().parse::<u64>() else {
            return;
        };
        match label {
            "tests" => self.binaries += 1,
            "pass" => self.passed += number,
            "fail" => self.failed += number,
            "skipped" | "todo" => self.ignored += number,
            _ => {}
        }
    }

    fn any(&self) -> bool {
        self.binaries > 0
    }

    fn summary(&self) -> String {
        format!(
            "tests: {} passed, {} failed, {} skipped",
            self.passed, self.failed, self.ignored
        )
    }
}

fn header(number: usize, total: usize, title: &str) {
    println!("\n==> [{number}/{total}] {title}");
}

#[cfg(test)]
mod tests {
    use super::{js_test_files, steps, Counts};
    use crate::flags::Test;

    #[track_caller]
    fn check(flags: Test, expect: &[&str]) {
        let node_tests = format!(
            "node --test --test-reporter=spec --test-concurrency=1 --test-timeout=600000 {}",
            js_test_files().join(" ")
        );
        let expect: Vec<&str> = expect
            .iter()
            .map(|&step| {
                if step == "NODE TESTS" {
                    node_tests.as_str()
                } else {
                    step
                }
            })
            .collect();
        let steps: Vec<String> = steps(&flags).iter().map(ToString::to_string).collect();
        assert_eq!(steps, expect);
    }

    #[test]
    fn runs_every_js_test_file() {
        let files = js_test_files();
        for file in ["chromium", "client", "interop", "patch", "reference"] {
            assert!(
                files.contains(&format!("lab-link-js/test/{file}.test.js")),
                "{files:?}"
            );
        }
    }

    #[test]
    fn runs_every_check_by_default() {
        check(
            Test { quick: false },
            &[
                "cargo fmt --all -- --check",
                "cargo clippy --workspace --all-targets --all-features -j 2 -- -D warnings",
                "cargo test --workspace --all-features -j 2",
                "node lab-link-js/node_modules/typescript/bin/tsc --noEmit -p lab-link-js",
                "NODE TESTS",
                "mdbook build docs",
            ],
        );
    }

    #[test]
    fn quick_skips_fmt_and_clippy() {
        check(
            Test { quick: true },
            &[
                "cargo test --workspace --all-features -j 2",
                "node lab-link-js/node_modules/typescript/bin/tsc --noEmit -p lab-link-js",
                "NODE TESTS",
                "mdbook build docs",
            ],
        );
    }

    #[test]
    fn totals_every_libtest_summary() {
        let mut counts = Counts::default();
        for line in [
            "running 31 tests",
            "test result: ok. 31 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "test result: ok. 111 passed; 0 failed; 4 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "test result: FAILED. 3 passed; 4 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.57s",
            "test pointer::tests::x ... ok",
            "ℹ tests 12",
            "ℹ pass 10",
            "ℹ fail 1",
            "ℹ skipped 1",
            "ℹ duration_ms 5681.1",
        ] {
            counts.add_line(line);
        }
        assert_eq!(
            counts,
            Counts {
                passed: 155,
                failed: 5,
                ignored: 5,
                binaries: 4
            }
        );
        assert_eq!(counts.summary(), "tests: 155 passed, 5 failed, 5 skipped");
    }
}
