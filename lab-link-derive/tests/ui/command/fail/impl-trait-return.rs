//! `impl Trait` as the return type: the result needs a named type.
use lab_link::command;

#[command]
fn get() -> impl serde::Serialize {
    1
}

fn main() {}
