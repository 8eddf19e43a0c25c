//! `#[reactive(crate = "...")]` names the facade when it is re-exported
//! under another path.
mod reexport {
    pub use lab_link as inner;
}

use lab_link::{LabSync, MutationError};
use serde::Serialize;

#[derive(lab_link::Reactive, Serialize)]
#[reactive(crate = "crate::reexport::inner")]
struct State {
    enabled: bool,
}

#[derive(lab_link::Reactive, Serialize)]
#[reactive(crate = "::lab_link", leaf)]
enum Mode {
    Off,
}

fn main() -> Result<(), MutationError> {
    let sync = LabSync::new(State { enabled: false });
    sync.try_mutate(|state| state.set_enabled(true))?;
    assert!(sync.read().enabled);
    let mode = LabSync::new(Mode::Off);
    mode.try_mutate(|mode| mode.set(Mode::Off))?;
    Ok(())
}
