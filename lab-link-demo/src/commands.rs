//! The demo's commands: the contract's eleven (DEMO.md, "Commands"), with
//! their results and errors, and the long-running `ramp_channel`, an
//! addition to the contract (the book's chapter "Getting started").
//!
//! Every check that depends on the state (does channel N exist?) runs
//! inside the same `mutate` as the write, so two clients racing an
//! `add_channel` against a `set_channel` can never see a half-checked
//! command.

use std::ops::Bound::{Excluded, Included};
use std::time::Duration;

use lab_link::command::{DisplayHint, Progress};
use lab_link::{command, CommandContext, CommandError, LabSync};
use schemars::JsonSchema;
use serde::Serialize;

use crate::state::{Channel, DemoState, MAX_BIAS_V, MAX_RATE_HZ};

/// `set_enabled`'s result.
#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct Enabled {
    /// The new switch position.
    pub enabled: bool,
}

/// `set_channel`'s and `ramp_channel`'s result.
#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct ChannelValue {
    /// The channel's index.
    pub channel: i64,
    /// The bias set, rounded to millivolts.
    pub value: f64,
}

/// `set_active`'s result.
#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct ChannelActive {
    /// The channel's index.
    pub channel: i64,
    /// The new switch position.
    pub active: bool,
}

/// `add_channel`'s result.
#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct Added {
    /// The new channel's index.
    pub index: usize,
}

/// `remove_channel`'s result.
#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct Removed {
    /// The removed channel's name.
    pub removed: String,
}

/// `set_all`'s result.
#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct SetAll {
    /// How many channels were set.
    pub count: usize,
}

/// `start_acquisition`'s result.
#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct Started {
    /// The rate the streams tick at.
    pub rate_hz: f64,
}

/// Switch the source's output on or off.
#[command(edits = "/enabled", value = enabled)]
pub fn set_enabled(sync: LabSync<DemoState>, enabled: bool) -> Result<Enabled, CommandError> {
    sync.try_mutate(|s| s.set_enabled(enabled))?;
    Ok(Enabled { enabled })
}

/// Set one channel's bias voltage (volts, within ±10 V), rounded to
/// millivolts.
#[command(edits = "/channels/{channel}/bias_voltage", value = value)]
pub fn set_channel(
    sync: LabSync<DemoState>,
    /// The channel's index.
    #[param(range = 0.., title = "Channel")]
    channel: i64,
    /// The bias voltage.
    #[param(range = -MAX_BIAS_V..=MAX_BIAS_V, unit = "V", precision = 3, title = "Bias voltage")]
    value: f64,
) -> Result<ChannelValue, CommandError> {
    let rounded = checked_bias(value, || format!("/channels/{channel}/bias_voltage"));
    sync.mutate(|s| {
        let index = existing(channel, s.channels.len())?;
        let rounded = rounded?;
        s.channels().at(index)?.set_bias_voltage(rounded)?;
        Ok(ChannelValue {
            channel,
            value: rounded,
        })
    })
}

/// Switch one channel on or off.
#[command(edits = "/channels/{channel}/active", value = active)]
pub fn set_active(
    sync: LabSync<DemoState>,
    /// The channel's index.
    #[param(range = 0.., title = "Channel")]
    channel: i64,
    /// Whether the channel contributes to the counter.
    #[param(title = "Active")]
    active: bool,
) -> Result<ChannelActive, CommandError> {
    sync.mutate(|s| {
        let index = existing(channel, s.channels.len())?;
        s.channels().at(index)?.set_active(active)?;
        Ok(ChannelActive { channel, active })
    })
}

/// Append a channel named `name` (0 V, inactive).
#[command]
pub fn add_channel(sync: LabSync<DemoState>, name: String) -> Result<Added, CommandError> {
    sync.mutate(|s| {
        let index = s.channels.len();
        s.channels().push(Channel::new(name))?;
        Ok(Added { index })
    })
}

/// Remove one channel; the later channels move up by one.
#[command]
pub fn remove_channel(
    sync: LabSync<DemoState>,
    /// The channel's index.
    #[param(range = 0.., title = "Channel")]
    channel: i64,
) -> Result<Removed, CommandError> {
    sync.mutate(|s| {
        let index = existing(channel, s.channels.len())?;
        let removed = s.channels().remove(index)?;
        Ok(Removed {
            removed: removed.name,
        })
    })
}

/// Set the label `key` to `value`, or remove it with `null`. Any string is
/// a key, `/` and `~` included.
#[command(edits = "/labels/{key}", value = value)]
pub fn set_label(
    sync: LabSync<DemoState>,
    /// The label's key.
    #[param(title = "Key")]
    key: String,
    /// The label's text; `null` removes the label.
    #[param(title = "Text")]
    value: Option<String>,
) -> Result<(), CommandError> {
    sync.mutate(|s| {
        match value {
            Some(value) => {
                s.labels().insert(key, value)?;
            }
            None => {
                s.labels().remove(&key);
            }
        }
        Ok(())
    })
}

/// Set every channel's bias voltage (one patch message), rounded to
/// millivolts.
#[command]
pub fn set_all(
    sync: LabSync<DemoState>,
    /// The bias voltage.
    #[param(range = -MAX_BIAS_V..=MAX_BIAS_V, unit = "V", precision = 3, title = "Bias voltage")]
    value: f64,
) -> Result<SetAll, CommandError> {
    let rounded = checked_bias(value, || "/channels".to_owned())?;
    sync.mutate(|s| {
        let count = s.channels.len();
        let mut channels = s.channels();
        for index in 0..count {
            channels.at(index)?.set_bias_voltage(rounded)?;
        }
        Ok(SetAll { count })
    })
}

/// Start the acquisition: the streams tick `rate_hz` times per second
/// (above 0, at most 1000).
#[command(edits = "/acquisition/rate_hz", value = rate_hz)]
pub fn start_acquisition(
    sync: LabSync<DemoState>,
    /// Ticks per second.
    #[param(range = (Excluded(0.0), Included(MAX_RATE_HZ)), unit = "Hz", precision = 1)]
    #[param(title = "Rate")]
    rate_hz: f64,
) -> Result<Started, CommandError> {
    if !(rate_hz.is_finite() && rate_hz > 0.0 && rate_hz <= MAX_RATE_HZ) {
        return Err(CommandError::new(
            "out_of_range",
            "Rate must be above 0 Hz and at most 1000 Hz.",
        )
        .display(DisplayHint::Inline)
        .path("/acquisition/rate_hz"));
    }
    sync.try_mutate(|s| {
        let mut acquisition = s.acquisition();
        acquisition.set_rate_hz(rate_hz)?;
        acquisition.set_running(true)
    })?;
    Ok(Started { rate_hz })
}

/// Stop the acquisition; the streams keep their contents.
#[command]
pub fn stop_acquisition(sync: LabSync<DemoState>) -> Result<(), CommandError> {
    sync.try_mutate(|s| s.acquisition().set_running(false))?;
    Ok(())
}

/// Pretend the voltage source stopped answering: always fails with
/// `hardware_timeout`, shown as a banner.
#[command]
pub fn simulate_timeout() -> Result<(), CommandError> {
    Err(CommandError::new(
        "hardware_timeout",
        "The voltage source did not respond before the timeout.",
    )
    .detail("UDP timeout after 5.0 s")
    .display(DisplayHint::Banner))
}

/// Restore the initial state (one whole-document replace); the streams
/// keep their contents.
#[command]
pub fn reset(sync: LabSync<DemoState>) -> Result<(), CommandError> {
    // Invariant: the initial state serialises (plain fields).
    let initial = serde_json::to_value(DemoState::initial()).expect("the initial state serialises");
    sync.load_state(initial)
        .map_err(|e| CommandError::new("reset_failed", e.to_string()))?;
    Ok(())
}

/// The fastest ramp, in volts per second.
pub const MAX_RAMP_V_PER_S: f64 = 100.0;

/// How often a ramp steps the bias.
pub const RAMP_STEP: Duration = Duration::from_millis(50);

/// Ramp one channel's bias to `target` at `rate_v_per_s`, in steps of
/// 50 ms, reporting progress; stops where it is when cancelled. One ramp
/// per channel at a time.
#[command(exclusive = "ramp:{channel}")]
pub async fn ramp_channel(
    sync: LabSync<DemoState>,
    ctx: CommandContext,
    /// The channel's index.
    #[param(range = 0.., title = "Channel")]
    channel: i64,
    /// The bias voltage to reach.
    #[param(range = -MAX_BIAS_V..=MAX_BIAS_V, unit = "V", precision = 3, title = "Target")]
    target: f64,
    /// How fast the bias moves.
    #[param(range = (Excluded(0.0), Included(MAX_RAMP_V_PER_S)), unit = "V/s", title = "Rate")]
    rate_v_per_s: f64,
) -> Result<ChannelValue, CommandError> {
    let target = checked_bias(target, || "/target".to_owned())?;
    if !(rate_v_per_s.is_finite() && rate_v_per_s > 0.0 && rate_v_per_s <= MAX_RAMP_V_PER_S) {
        return Err(CommandError::new(
            "out_of_range",
            "Rate must be above 0 V/s and at most 100 V/s.",
        )
        .display(DisplayHint::Inline)
        .path("/rate_v_per_s"));
    }
    let start = sync.mutate(|s| {
        let index = existing(channel, s.channels.len())?;
        Ok::<_, CommandError>(s.channels[index].bias_voltage)
    })?;
    let distance = (target - start).abs();
    // At least a millivolt, the bias's resolution, so that the ramp moves.
    let step = (rate_v_per_s * RAMP_STEP.as_secs_f64()).max(0.001);
    let mut value = start;
    while value != target {
        tokio::select! {
            // Stop where the ramp is: the last step stays.
            _ = ctx.cancelled() => break,
            () = tokio::time::sleep(RAMP_STEP) => {}
        }
        value = if (target - value).abs() <= step {
            target
        } else {
            round_millis(value + step.copysign(target - value))
        };
        sync.mutate(|s| {
            let index = existing(channel, s.channels.len())?;
            s.channels().at(index)?.set_bias_voltage(value)?;
            Ok::<_, CommandError>(())
        })?;
        let left = (target - value).abs();
        ctx.report(
            Progress::new(1.0 - left / distance)
                .with_message(format!("ramping channel {channel}"))
                .with_current(value)
                .with_target(target)
                .with_unit("V")
                .with_eta_s(left / rate_v_per_s),
        );
    }
    Ok(ChannelValue { channel, value })
}

/// Registers the demo's commands on `sync`: the contract's eleven and
/// `ramp_channel`.
///
/// ```
/// use lab_link::server::SyncSource; // the transport's view of a LabSync
///
/// let sync = lab_link::LabSync::new(lab_link_demo::state::DemoState::initial());
/// lab_link_demo::commands::register(&sync);
/// assert_eq!(sync.command_infos().len(), 12);
/// ```
pub fn register(sync: &LabSync<DemoState>) {
    sync.command(set_enabled)
        .command(set_channel)
        .command(set_active)
        .command(add_channel)
        .command(remove_channel)
        .command(set_label)
        .command(set_all)
        .command(start_acquisition)
        .command(stop_acquisition)
        .command(simulate_timeout)
        .command(reset)
        .command(ramp_channel);
}

/// `round(value, 3)` as Python computes it: the exact binary value rounded
/// to three decimals (ties to even), through Rust's exact formatting.
///
/// ```
/// use lab_link_demo::commands::round_millis;
/// assert_eq!(round_millis(1.23456), 1.235);
/// // 1.0005 is stored as 1.000499999…: it rounds down, as in Python.
/// assert_eq!(round_millis(1.0005), 1.0);
/// ```
pub fn round_millis(value: f64) -> f64 {
    // Invariant: a finite f64 formats as a decimal that parses back.
    format!("{value:.3}")
        .parse()
        .expect("a formatted float parses")
}

/// The index of channel `channel` if it exists, else `invalid_channel`.
fn existing(channel: i64, len: usize) -> Result<usize, CommandError> {
    usize::try_from(channel)
        .ok()
        .filter(|&index| index < len)
        .ok_or_else(|| {
            CommandError::new(
                "invalid_channel",
                format!("Channel {channel} does not exist."),
            )
            .display(DisplayHint::Inline)
            .path(format!("/channels/{channel}"))
        })
}

/// `value` rounded to millivolts, or `out_of_range` (NaN and infinities
/// included) pointing at `path`.
fn checked_bias(value: f64, path: impl FnOnce() -> String) -> Result<f64, CommandError> {
    if value.is_finite() && value.abs() <= MAX_BIAS_V {
        Ok(round_millis(value))
    } else {
        Err(CommandError::new(
            "out_of_range",
            "Bias voltage must be between -10 V and 10 V.",
        )
        .display(DisplayHint::Inline)
        .path(path()))
    }
}

#[cfg(test)]
mod tests {
    use super::round_millis;

    #[test]
    fn rounding_follows_python_round() {
        // Values printed by Python 3.11's round(value, 3).
        let cases = [
            (1.0005, 1.0),
            (2.6755, 2.675),
            (0.0005, 0.001),
            (-1.2345, -1.234),
            (9.9999, 10.0),
            (-0.0001, -0.0),
            (4.56789, 4.568),
        ];
        for (value, expected) in cases {
            let rounded = round_millis(value);
            assert_eq!(rounded, expected, "round({value}, 3)");
            assert_eq!(rounded.is_sign_negative(), expected.is_sign_negative());
        }
    }
}
