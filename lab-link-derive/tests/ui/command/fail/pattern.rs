//! A JSON param needs a plain name: it is the field's name.
use lab_link::command;

#[command]
fn set((channel, value): (usize, f64), _: bool, ref label: String) {}

fn main() {}
