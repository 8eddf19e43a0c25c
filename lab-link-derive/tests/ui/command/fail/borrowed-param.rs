//! A param must own its data: the client's JSON is gone when it runs.
use lab_link::command;

#[command]
fn set(label: &'static str, other: std::borrow::Cow<'_, str>) {}

fn main() {}
