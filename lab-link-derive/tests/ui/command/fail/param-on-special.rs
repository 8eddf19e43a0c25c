//! `#[param]` describes a JSON param: the server fills in the special ones.
use lab_link::{command, CommandContext, LabSync};

#[command]
fn set(#[param(title = "State")] sync: LabSync<u32>, #[param(unit = "s")] ctx: CommandContext) {
    let _ = (sync, ctx);
}

fn main() {}
