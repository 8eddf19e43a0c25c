//! Tidy checks: project conventions that the compiler does not enforce,
//! run as plain tests by `cargo test` (as in rust-analyzer's xtask).
//!
//! Each failure names the file and says what to do.

use std::fs;
use std::path::{Path, PathBuf};

use crate::project_root;

/// The facade crate's root, whose `#[cfg(doctest)]` module includes the
/// README and every book chapter so that their Rust blocks run as doctests.
const DOCTEST_ROOT: &str = "lab-link/src/lib.rs";

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let root = project_root();
    let failures: Vec<String> = files_with_extension(&root, "rs")
        .into_iter()
        .filter(|path| !read(path).starts_with("//!"))
        .map(|path| {
            format!(
                "{}: the first line must be a `//!` comment saying what the file is for",
                relative(&root, &path)
            )
        })
        .collect();
    assert_no_failures(&failures);
}

#[test]
fn every_book_chapter_is_in_the_summary_and_doctested() {
    let root = project_root();
    let src = root.join("docs/src");
    let summary = read(&src.join("SUMMARY.md"));
    let doctests = read(&root.join(DOCTEST_ROOT));
    let mut failures = Vec::new();
    for path in files_with_extension(&src, "md") {
        let chapter = relative(&src, &path);
        if chapter == "SUMMARY.md" {
            continue;
        }
        if !summary.contains(&format!("]({chapter})")) {
            failures.push(format!(
                "docs/src/{chapter}: not in the book: add `- [Title]({chapter})` to docs/src/SUMMARY.md"
            ));
        }
        let include = format!("include_str!(\"../../docs/src/{chapter}\")");
        if !doctests.contains(&include) {
            failures.push(format!(
                "docs/src/{chapter}: its Rust blocks are not tested: add an item with \
                 `#[doc = {include}]` to the `#[cfg(doctest)]` module of {DOCTEST_ROOT}"
            ));
        }
    }
    if !doctests.contains("include_str!(\"../../README.md\")") {
        failures.push(format!(
            "README.md: its Rust blocks are not tested: add an item with \
             `#[doc = include_str!(\"../../README.md\")]` to the `#[cfg(doctest)]` module of \
             {DOCTEST_ROOT}"
        ));
    }
    assert_no_failures(&failures);
}

#[test]
fn code_blocks_in_the_readme_and_the_book_name_their_language() {
    // rustdoc compiles a block without a language as Rust, so a shell or
    // JSON block left untagged breaks the doctests.
    let root = project_root();
    let mut documents = vec![root.join("README.md")];
    documents.extend(files_with_extension(&root.join("docs/src"), "md"));
    let mut failures = Vec::new();
    for path in documents {
        let mut open = false;
        for (index, line) in read(&path).lines().enumerate() {
            let Some(info) = line.trim_start().strip_prefix("```") else {
                continue;
            };
            if !open && info.trim().is_empty() {
                failures.push(format!(
                    "{}:{}: a code block without a language: tag it ```rust, ```sh, \
                     ```text, ```json, ...",
                    relative(&root, &path),
                    index + 1
                ));
            }
            open = !open;
        }
    }
    assert_no_failures(&failures);
}

#[test]
fn readme_and_ci_run_the_documented_commands() {
    let root = project_root();
    let readme = read(&root.join("README.md"));
    let mut failures = Vec::new();
    for command in ["cargo xtask serve-demo", "cargo xtask test"] {
        if !readme.contains(command) {
            failures.push(format!(
                "README.md: must show `{command}` (one of the two commands that work from a fresh clone)"
            ));
        }
    }
    let ci = root.join(".ci/run");
    let ci_script = fs::read_to_string(&ci).unwrap_or_default();
    if !ci_script
        .lines()
        .any(|line| line.trim() == "cargo xtask test")
    {
        failures.push(
            ".ci/run: must run `cargo xtask test` on a line of its own, the command the README documents"
                .to_owned(),
        );
    }
    if !is_executable(&ci) {
        failures.push(".ci/run: must be executable: run `chmod +x .ci/run`".to_owned());
    }
    assert_no_failures(&failures);
}

#[track_caller]
fn assert_no_failures(failures: &[String]) {
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n"));
}

/// Every file under `dir` with the extension, skipping build output,
/// dependencies and hidden directories (`.git`, `.venv`).
fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
                .path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if path.is_dir() {
                if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|ext| ext == extension) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn read(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// `path` relative to `base`, with `/` separators, as SUMMARY.md links it.
fn relative(base: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(base).unwrap_or(path);
    relative
        .components()
        .map(|component| component.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    true
}
