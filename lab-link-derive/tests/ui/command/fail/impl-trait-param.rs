//! `impl Trait` parameters: JSON needs one concrete type.
use lab_link::command;

#[command]
fn set(label: impl Into<String>, values: Vec<impl Copy>) {}

fn main() {}
