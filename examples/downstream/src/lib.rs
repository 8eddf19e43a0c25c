//! An example instrument server crate: a bench power supply, as a user of
//! lab-link would write it, tested with `lab-link-testkit` in `tests/`.
//!
//! The crate defines the state (what every client sees) and the commands
//! (the only way clients change it). A binary would serve it with
//! `lab_link::serve(power_supply(), "0.0.0.0:8000")`; the tests serve it
//! with `lab_link_testkit::TestServer` instead.

use lab_link::{command, CommandError, LabSync, Reactive};
use serde::Serialize;

/// The highest setpoint the supply accepts, in volts.
pub const MAX_SETPOINT_V: f64 = 30.0;

/// The supply's state: serialised to the JSON document clients replicate,
/// `{"output_enabled": false, "setpoint_v": 0.0}`.
#[derive(Reactive, Serialize, Default, Debug)]
pub struct PowerSupply {
    /// Whether the output is on.
    pub output_enabled: bool,
    /// The output voltage setpoint. The range is checked by the generated
    /// setter: an out-of-range value is refused and changes nothing.
    #[reactive(range = 0.0..=30.0)]
    pub setpoint_v: f64,
}

/// Sets the output voltage, in volts (0 to 30).
///
/// A value out of range fails with the code `invalid_value` at the path
/// `/setpoint_v`: `?` turns the refused write into that error.
#[command]
pub fn set_setpoint(sync: LabSync<PowerSupply>, value: f64) -> Result<f64, CommandError> {
    sync.try_mutate(|s| s.set_setpoint_v(value))?;
    Ok(value)
}

/// Switches the output on or off.
#[command]
pub fn enable_output(sync: LabSync<PowerSupply>, enabled: bool) -> Result<(), CommandError> {
    sync.try_mutate(|s| s.set_output_enabled(enabled))?;
    Ok(())
}

/// The supply's state with its commands registered: what the server (and
/// every test) serves.
pub fn power_supply() -> LabSync<PowerSupply> {
    let sync = LabSync::new(PowerSupply::default());
    sync.command(set_setpoint);
    sync.command(enable_output);
    sync
}
