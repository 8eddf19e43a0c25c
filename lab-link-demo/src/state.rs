//! The demo's state (DEMO.md, "State"): four channels of a bias source,
//! free-form labels and the acquisition block.

use std::ops::Bound::{Excluded, Included};

use indexmap::IndexMap;
use lab_link::Reactive;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The largest bias magnitude the simulated source accepts, in volts.
pub const MAX_BIAS_V: f64 = 10.0;

/// The highest acquisition rate, in hertz.
pub const MAX_RATE_HZ: f64 = 1000.0;

/// The whole document served at `GET /sync/state`.
///
/// ```
/// let state = lab_link_demo::state::DemoState::initial();
/// assert_eq!(state.channels.len(), 4);
/// assert_eq!(state.channels[3].name, "ch3");
/// assert!(!state.acquisition.running);
/// ```
#[derive(Reactive, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct DemoState {
    /// The output switch of the whole source.
    #[reactive(title = "Output", group = "Source", order = 0)]
    pub enabled: bool,
    /// The bias channels, in order.
    pub channels: Vec<Channel>,
    /// Free-form labels; any string is a key (`/` and `~` included).
    #[reactive(title = "Labels", group = "Labels", order = 0)]
    pub labels: IndexMap<String, String>,
    /// The photon counter's acquisition.
    pub acquisition: Acquisition,
}

/// One bias channel.
#[derive(Reactive, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Channel {
    /// Shown in the UI.
    #[reactive(title = "Name", order = 0, read_only)]
    pub name: String,
    /// Volts, within ±[`MAX_BIAS_V`], rounded to millivolts.
    #[reactive(range = -MAX_BIAS_V..=MAX_BIAS_V, unit = "V", precision = 3)]
    #[reactive(title = "Bias voltage", order = 1)]
    pub bias_voltage: f64,
    /// Whether the channel contributes to the counter.
    #[reactive(title = "Active", order = 2)]
    pub active: bool,
}

impl Channel {
    /// A new channel: 0 V, inactive.
    ///
    /// ```
    /// let channel = lab_link_demo::state::Channel::new("probe");
    /// assert_eq!(channel.bias_voltage, 0.0);
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            bias_voltage: 0.0,
            active: false,
        }
    }
}

/// The acquisition block: while `running`, the streams tick at `rate_hz`
/// and `count` counts the ticks.
#[derive(Reactive, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Acquisition {
    /// Whether the streams tick.
    #[reactive(title = "Running", group = "Acquisition", order = 0)]
    pub running: bool,
    /// Ticks per second, in (0, [`MAX_RATE_HZ`]].
    #[reactive(range = (Excluded(0.0), Included(MAX_RATE_HZ)), unit = "Hz", precision = 1)]
    #[reactive(title = "Rate", group = "Acquisition", order = 1)]
    pub rate_hz: f64,
    /// Ticks so far.
    #[reactive(title = "Ticks", group = "Acquisition", order = 2, read_only)]
    pub count: u64,
}

impl DemoState {
    /// The state at start and after `reset` (DEMO.md).
    pub fn initial() -> Self {
        Self {
            enabled: false,
            channels: (0..4).map(|i| Channel::new(format!("ch{i}"))).collect(),
            labels: IndexMap::new(),
            acquisition: Acquisition {
                running: false,
                rate_hz: 10.0,
                count: 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::DemoState;

    #[test]
    fn initial_state_is_the_contract_byte_for_byte() {
        let expected = json!({
            "enabled": false,
            "channels": [
                {"name": "ch0", "bias_voltage": 0.0, "active": false},
                {"name": "ch1", "bias_voltage": 0.0, "active": false},
                {"name": "ch2", "bias_voltage": 0.0, "active": false},
                {"name": "ch3", "bias_voltage": 0.0, "active": false}
            ],
            "labels": {},
            "acquisition": {"running": false, "rate_hz": 10.0, "count": 0}
        });
        assert_eq!(
            serde_json::to_string(&DemoState::initial()).unwrap(),
            expected.to_string()
        );
    }
}
