//! Type and const parameters: a command needs concrete types.
use lab_link::command;

#[command]
fn set<T: serde::de::DeserializeOwned, const N: usize>(value: T) {}

fn main() {}
