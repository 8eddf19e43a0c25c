//! `cargo xtask docs`: builds the book in docs/ with mdBook, installing
//! mdBook first if it is missing.

use crate::cmd::Cmd;
use crate::setup::{self, MDBOOK};
use crate::Result;

/// `cargo xtask docs`.
pub(crate) fn run() -> Result {
    setup::ensure(&MDBOOK)?;
    Cmd::new("mdbook")
        .args(["build", "docs"])
        .on_failure("the book in docs/ does not build: see mdBook's message above")
        .run()?;
    // The output directory is set in docs/book.toml.
    println!("the book is at target/book/index.html");
    Ok(())
}
