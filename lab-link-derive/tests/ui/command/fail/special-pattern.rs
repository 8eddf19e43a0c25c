//! A special parameter needs a plain name or `_`.
use lab_link::{command, CommandContext, LabSync};

#[command]
fn set(sync @ _: LabSync<u8>, ref ctx: CommandContext) {}

fn main() {}
