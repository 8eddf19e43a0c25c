//! An example instrument server crate: a bench power supply, as a user of
//! lab-link would write it, tested with `lab-link-testkit` in `tests/`,
//! and served by `src/main.rs` with the control panel lab-link generates
//! from its schema (the crate has no UI code of its own).
//!
//! The crate defines the state (what every client sees) and the commands
//! (the only way clients change it). Its binary serves it with
//! `lab_link::Server`; the tests serve it with
//! `lab_link_testkit::TestServer` instead.

use lab_link::{command, AppendStream, CommandError, LabSync, Reactive};
use serde::{Deserialize, Serialize};

/// The highest setpoint the supply accepts, in volts.
pub const MAX_SETPOINT_V: f64 = 30.0;

/// The over-voltage protection's limit at start, in volts: setpoints above
/// it are refused by `set_setpoint`.
pub const VOLTAGE_LIMIT_V: f64 = 24.0;

/// The supply's state: serialised to the JSON document clients replicate,
/// `{"output_enabled": false, "setpoint_v": 0.0, "mode": "constant_voltage",
/// "current_limit_a": null, "voltage_limit_v": 24.0}`. The `#[reactive]`
/// options (units, ranges, titles, groups) are what the generated panel
/// shows.
#[derive(Reactive, Serialize, schemars::JsonSchema, Debug)]
pub struct PowerSupply {
    /// Whether the output is on.
    #[reactive(title = "Output", group = "Output", order = 0)]
    pub output_enabled: bool,
    /// The output voltage setpoint. The range is checked by the generated
    /// setter: an out-of-range value is refused and changes nothing.
    #[reactive(range = 0.0..=30.0, unit = "V", precision = 2)]
    #[reactive(title = "Setpoint", group = "Output", order = 1)]
    pub setpoint_v: f64,
    /// How the supply regulates.
    #[reactive(leaf, title = "Mode", group = "Output", order = 2)]
    pub mode: Mode,
    /// The current limit; none: the supply's own 5 A.
    #[reactive(
        unit = "A",
        precision = 3,
        title = "Current limit",
        group = "Protection"
    )]
    pub current_limit_a: Option<f64>,
    /// The over-voltage protection: setpoints above it are refused.
    #[reactive(
        unit = "V",
        precision = 1,
        title = "Voltage limit",
        group = "Protection"
    )]
    #[reactive(read_only)]
    pub voltage_limit_v: f64,
}

impl Default for PowerSupply {
    fn default() -> Self {
        Self {
            output_enabled: false,
            setpoint_v: 0.0,
            mode: Mode::ConstantVoltage,
            current_limit_a: None,
            voltage_limit_v: VOLTAGE_LIMIT_V,
        }
    }
}

/// The regulation mode.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Hold the voltage, limit the current.
    ConstantVoltage,
    /// Hold the current, limit the voltage.
    ConstantCurrent,
}

/// Sets the output voltage, in volts (0 to 30, and at most the voltage
/// limit).
///
/// A value out of range fails with the code `invalid_value` at the path
/// `/setpoint_v`: `?` turns the refused write into that error. A value
/// above the protection's limit fails with `above_limit`, at the same path.
#[command(edits = "/setpoint_v", value = value)]
pub fn set_setpoint(
    sync: LabSync<PowerSupply>,
    /// The new setpoint.
    #[param(range = 0.0..=30.0, unit = "V", precision = 2)]
    value: f64,
) -> Result<f64, CommandError> {
    let limit = sync.read().voltage_limit_v;
    if value > limit && value <= MAX_SETPOINT_V {
        return Err(CommandError::new(
            "above_limit",
            format!("{value} V is above the over-voltage limit of {limit} V"),
        )
        .display(lab_link::command::DisplayHint::Inline)
        .path("/setpoint_v"));
    }
    sync.try_mutate(|s| s.set_setpoint_v(value))?;
    Ok(value)
}

/// Switches the output on or off.
#[command(edits = "/output_enabled", value = enabled)]
pub fn enable_output(sync: LabSync<PowerSupply>, enabled: bool) -> Result<(), CommandError> {
    sync.try_mutate(|s| s.set_output_enabled(enabled))?;
    Ok(())
}

/// Chooses the regulation mode, and the current limit with it (none keeps
/// the one set).
#[command]
pub fn configure(
    sync: LabSync<PowerSupply>,
    /// The regulation mode.
    mode: Mode,
    /// The current limit, above 0 A and at most 5 A.
    #[param(unit = "A", precision = 3)]
    current_limit_a: Option<f64>,
) -> Result<Mode, CommandError> {
    if let Some(limit) = current_limit_a {
        if !(limit > 0.0 && limit <= 5.0) {
            return Err(CommandError::invalid_params(
                "current_limit_a",
                "must be above 0 A and at most 5 A",
            ));
        }
    }
    sync.try_mutate(|s| {
        s.set_mode(mode)?;
        if current_limit_a.is_some() {
            s.set_current_limit_a(current_limit_a)?;
        }
        Ok(())
    })?;
    Ok(mode)
}

/// The supply's state with its commands registered: what the server (and
/// every test) serves.
pub fn power_supply() -> LabSync<PowerSupply> {
    power_supply_with_readback().0
}

/// [`power_supply`] and its `readback` stream: the measured output
/// voltage, one value per reading (the panel plots it over time).
pub fn power_supply_with_readback() -> (LabSync<PowerSupply>, AppendStream) {
    let sync = LabSync::new(PowerSupply::default()).with_state_schema();
    sync.command(set_setpoint);
    sync.command(enable_output);
    sync.command(configure);
    let readback = sync
        .append_stream("readback", 500)
        .with_description("The measured output voltage, one value per reading.")
        .with_unit("V")
        .with_axes("reading", "voltage");
    (sync, readback)
}
