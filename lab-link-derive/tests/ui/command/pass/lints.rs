//! The generated items are documented, `Debug`, and raise no lint in a
//! crate that denies the workspace's lints.
#![deny(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    unused_qualifications,
    warnings
)]

/// A public module.
pub mod public {
    // In scope, so that a generated path naming them in full would be an
    // unused qualification.
    #[allow(unused_imports)]
    use std::{boxed::Box, ops::Deref, option::Option, string::String, vec::Vec};

    use lab_link::{command, CommandContext, CommandError, LabSync};

    /// A public command.
    #[command]
    pub async fn set(
        sync: LabSync<u32>,
        ctx: CommandContext,
        value: u32,
    ) -> Result<(), CommandError> {
        let _ = ctx;
        sync.mutate(|state| state.set(value))?;
        Ok(())
    }

    /// A public command returning nothing, called as a statement.
    #[command]
    pub fn reset(sync: LabSync<u32>) {
        sync.mutate(|state| state.set(0)).unwrap();
    }

    /// Calls `reset` as a statement, which clippy must not take for a
    /// struct literal.
    pub fn call_reset(sync: LabSync<u32>) {
        reset(sync);
    }
}

mod private {
    use lab_link::command;

    #[command]
    pub(crate) fn hidden(value: u8) -> u8 {
        value
    }
}

fn main() {
    let sync = lab_link::LabSync::new(0_u32);
    sync.command(public::set)
        .command(public::reset)
        .command(private::hidden);
    public::call_reset(sync);
    assert_eq!(format!("{:?}", public::reset), "reset");
}
