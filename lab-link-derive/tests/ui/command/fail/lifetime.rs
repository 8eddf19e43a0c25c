//! Lifetime parameters: a command's params are owned.
use lab_link::command;

#[command]
fn set<'a>(value: std::borrow::Cow<'a, str>) {}

fn main() {}
