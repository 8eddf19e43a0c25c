//! Runs the standard JSON Patch conformance suite (`tests.json` and
//! `spec_tests.json`) against `apply` and `apply_owned`, one trial per case.
//!
//! The suite is carried in the repository, in `tests/data/json-patch/` of
//! this crate (its README names the origin and the licence). A missing or
//! emptied suite fails the run: it never passes with zero cases.
//!
//! Semantics of a case (RFC 6902 is the authority):
//! - `error`: the patch must fail, either when it is deserialised into
//!   `Vec<PatchOp>` or when it is applied, and the document must then be
//!   byte-identical to what it was;
//! - `expected`: the patch must apply and give exactly `expected`;
//! - neither: the patch must apply without error.
//!
//! Cases marked `"disabled": true` are reported as ignored trials; run them
//! anyway with `cargo test --test conformance -- --include-ignored`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lab_link_core::{apply, apply_owned, PatchError, PatchOp};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

/// The suite files and the fewest enabled cases each must hold, so that a
/// truncated or emptied file cannot pass.
const FILES: [(&str, usize); 2] = [("tests.json", 80), ("spec_tests.json", 15)];

/// The fewest enabled cases of all files together.
const MIN_ENABLED_TOTAL: usize = 101;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let dir = suite_dir();
    let mut trials = Vec::new();
    let mut total_enabled = 0;
    for (file, min_enabled) in FILES {
        let cases = match load(&dir, file) {
            Ok(cases) => cases,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::FAILURE;
            }
        };
        let enabled = cases.iter().filter(|case| !case.disabled).count();
        total_enabled += enabled;
        trials.push(Trial::test(
            format!("harness/{file} has at least {min_enabled} enabled cases"),
            move || at_least(enabled, min_enabled),
        ));
        trials.extend(cases.into_iter().map(Case::into_trial));
    }
    trials.push(Trial::test(
        format!("harness/at least {MIN_ENABLED_TOTAL} enabled cases in all"),
        move || at_least(total_enabled, MIN_ENABLED_TOTAL),
    ));
    libtest_mimic::run(&args, trials).exit_code()
}

/// The folder holding the suite, inside this crate.
fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/json-patch")
}

/// Reads one suite file into its cases, or says which file is missing.
fn load(dir: &Path, file: &'static str) -> Result<Vec<Case>, String> {
    let path = dir.join(file);
    let shown = path.canonicalize().unwrap_or_else(|_| path.clone());
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read the JSON Patch conformance suite file {}: {e}\n\
             The suite is part of the repository (lab-link-core/tests/data/json-patch/): \
             restore it with `git checkout -- lab-link-core/tests/data/json-patch`.",
            shown.display()
        )
    })?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not valid JSON: {e}", shown.display()))?;
    let Value::Array(entries) = value else {
        return Err(format!(
            "{} must hold a JSON array of cases",
            shown.display()
        ));
    };
    Ok(entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| Case::new(file, index, entry))
        .collect())
}

fn at_least(found: usize, min: usize) -> Result<(), Failed> {
    if found >= min {
        Ok(())
    } else {
        Err(format!("found {found} enabled cases, expected at least {min}").into())
    }
}

/// One case of a suite file.
struct Case {
    file: &'static str,
    index: usize,
    disabled: bool,
    /// The whole case as written, for failure messages and for the check.
    entry: Value,
}

impl Case {
    fn new(file: &'static str, index: usize, entry: Value) -> Self {
        let disabled = entry.get("disabled") == Some(&Value::Bool(true));
        Self {
            file,
            index,
            disabled,
            entry,
        }
    }

    /// `tests.json/042 add replaces any existing field`: the file, the
    /// zero-padded index, and the comment (or the patch, shortened).
    fn name(&self) -> String {
        let label = match self.entry.get("comment").and_then(Value::as_str) {
            Some(comment) => comment.split_whitespace().collect::<Vec<_>>().join(" "),
            None => shorten(
                &self
                    .entry
                    .get("patch")
                    .map_or_else(|| "(no patch)".to_owned(), Value::to_string),
                60,
            ),
        };
        format!("{}/{:03} {label}", self.file, self.index)
    }

    fn into_trial(self) -> Trial {
        let name = self.name();
        let disabled = self.disabled;
        Trial::test(name, move || self.check().map_err(Failed::from)).with_ignored_flag(disabled)
    }

    fn check(&self) -> Result<(), String> {
        let get = |key| self.entry.get(key);
        let (Some(doc), Some(patch)) = (get("doc"), get("patch")) else {
            return Err(self.report("malformed case: `doc` and `patch` are required", None));
        };
        match (get("error"), get("expected")) {
            (Some(_), Some(_)) => {
                Err(self.report("malformed case: it has both `error` and `expected`", None))
            }
            (Some(_), None) => self.check_fails(doc, patch),
            (None, expected) => self.check_applies(doc, patch, expected),
        }
    }

    /// The patch must be rejected, and the document left byte-identical.
    fn check_fails(&self, doc: &Value, patch: &Value) -> Result<(), String> {
        let ops = match serde_json::from_value::<Vec<PatchOp>>(patch.clone()) {
            Ok(ops) => ops,
            // Rejected before anything was applied: nothing to roll back.
            Err(_) => return Ok(()),
        };
        let before = to_string(doc);

        let mut by_ref = doc.clone();
        let err = match apply(&mut by_ref, &ops) {
            Ok(()) => {
                return Err(self.report(
                    "`apply` succeeded, the case expects an error",
                    Some(&by_ref),
                ))
            }
            Err(err) => err,
        };
        self.check_error(&err, ops.len(), "apply")?;
        if to_string(&by_ref) != before {
            return Err(self.report(
                &format!("`apply` failed ({err}) but changed the document"),
                Some(&by_ref),
            ));
        }

        let mut owned = doc.clone();
        let owned_err = match apply_owned(&mut owned, ops.clone()) {
            Ok(()) => {
                return Err(self.report(
                    "`apply_owned` succeeded, the case expects an error",
                    Some(&owned),
                ))
            }
            Err(err) => err,
        };
        self.check_error(&owned_err, ops.len(), "apply_owned")?;
        if to_string(&owned) != before {
            return Err(self.report(
                &format!("`apply_owned` failed ({owned_err}) but changed the document"),
                Some(&owned),
            ));
        }
        if owned_err != err {
            return Err(self.report(
                &format!("`apply` failed with {err}, `apply_owned` with {owned_err}"),
                None,
            ));
        }
        Ok(())
    }

    /// The error names an operation of the patch, and that operation's `op`
    /// and `path`.
    fn check_error(&self, err: &PatchError, len: usize, by: &str) -> Result<(), String> {
        let problem = if err.index() >= len {
            format!("the error names operation {} of {len}", err.index())
        } else {
            let op = &self.entry["patch"][err.index()];
            if op["op"].as_str() != Some(err.op())
                || op["path"].as_str() != Some(err.path().as_str())
            {
                format!("the error does not match operation {}: {op}", err.index())
            } else {
                return Ok(());
            }
        };
        Err(self.report(&format!("`{by}` failed ({err}) but {problem}"), None))
    }

    /// The patch must apply, and give `expected` when the case has one.
    fn check_applies(
        &self,
        doc: &Value,
        patch: &Value,
        expected: Option<&Value>,
    ) -> Result<(), String> {
        let ops = serde_json::from_value::<Vec<PatchOp>>(patch.clone())
            .map_err(|e| self.report(&format!("the patch does not deserialise: {e}"), None))?;

        let mut by_ref = doc.clone();
        apply(&mut by_ref, &ops).map_err(|e| self.report(&format!("`apply` failed: {e}"), None))?;
        let mut owned = doc.clone();
        apply_owned(&mut owned, ops)
            .map_err(|e| self.report(&format!("`apply_owned` failed: {e}"), None))?;

        if let Some(expected) = expected {
            if &by_ref != expected {
                return Err(self.report("`apply` gave another document", Some(&by_ref)));
            }
            if &owned != expected {
                return Err(self.report("`apply_owned` gave another document", Some(&owned)));
            }
        } else if by_ref != owned {
            return Err(self.report(
                &format!("`apply` and `apply_owned` disagree; `apply_owned` gave {owned}"),
                Some(&by_ref),
            ));
        }
        Ok(())
    }

    /// A failure message with everything needed to diagnose it.
    fn report(&self, problem: &str, got: Option<&Value>) -> String {
        let mut text = format!("{problem}\n");
        for key in ["comment", "doc", "patch", "expected", "error"] {
            if let Some(value) = self.entry.get(key) {
                let _ = writeln!(text, "  {key:>8}: {value}");
            }
        }
        if let Some(got) = got {
            let _ = writeln!(text, "  {:>8}: {got}", "got");
        }
        text
    }
}

fn to_string(value: &Value) -> String {
    serde_json::to_string(value).expect("a JSON value always serialises")
}

/// `text` cut to at most `max` characters, marked with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(max - 1).collect();
        short.push('…');
        short
    }
}
