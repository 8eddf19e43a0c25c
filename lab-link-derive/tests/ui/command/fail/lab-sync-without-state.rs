//! The state type must be written out: it picks `Command<S>`.
use lab_link::command;

type LabSync = lab_link::LabSync<u8>;

#[command]
fn set(sync: LabSync) {}

fn main() {}
