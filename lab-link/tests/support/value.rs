//! The one-value state of the presence and control-lock tests, with the
//! command that sets it.

use lab_link::{command, CommandError, LabSync, Reactive};
use serde::Serialize;

#[derive(Reactive, Serialize, Default)]
pub(crate) struct State {
    pub(crate) value: i64,
}

/// Sets the value (needs `control`, the default).
#[command]
pub(crate) fn set_value(sync: LabSync<State>, value: i64) -> Result<(), CommandError> {
    sync.try_mutate(|s| s.set_value(value))?;
    Ok(())
}
