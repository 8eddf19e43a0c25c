//! `LabSync` and `CommandContext` are taken by value.
use lab_link::{command, CommandContext, LabSync};

#[command]
fn set(sync: &LabSync<u8>, ctx: &CommandContext) {}

fn main() {}
