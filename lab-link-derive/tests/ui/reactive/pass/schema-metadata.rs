//! Schema metadata: units, precision, labels, groups, order, read-only and
//! ranges land in the published schema, nested types and `Option`s
//! included; `edits` paths are checked against the fields.
use std::ops::Bound::{Excluded, Unbounded};

use lab_link::server::SyncSource;
use lab_link::{command, LabSync, Reactive};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;

const MAX: f64 = 10.0;

#[derive(Reactive, Serialize, JsonSchema)]
struct State {
    #[reactive(title = "Channels", group = "Bias")]
    channels: Vec<Channel>,
    #[reactive(unit = "K", precision = 2, read_only)]
    temperature: Option<f64>,
    spare: Option<Channel>,
    #[reactive(leaf, unit = "s", order = -1)]
    samples: Vec<f64>,
}

#[derive(Reactive, Serialize, JsonSchema)]
struct Channel {
    #[reactive(range = -MAX..=MAX, unit = "V", precision = 3, order = 1)]
    bias_voltage: f64,
    #[reactive(range = (Excluded(0_u32), Unbounded))]
    gain: u32,
}

#[command(edits = "/channels/{channel}/bias_voltage", value = value)]
fn set_channel(_sync: LabSync<State>, channel: usize, value: f64) {
    let _ = (channel, value);
}

fn main() {
    let sync = LabSync::new(State {
        channels: Vec::new(),
        temperature: None,
        spare: None,
        samples: Vec::new(),
    })
    .with_state_schema();
    sync.command(set_channel);
    let schema = sync.state_schema().unwrap();
    let properties = &schema["properties"];
    assert_eq!(properties["channels"]["title"], "Channels");
    assert_eq!(properties["channels"]["group"], "Bias");
    assert_eq!(properties["temperature"]["unit"], "K");
    assert_eq!(properties["temperature"]["precision"], 2);
    assert_eq!(properties["temperature"]["readOnly"], true);
    assert_eq!(properties["samples"]["unit"], "s");
    assert_eq!(properties["samples"]["order"], -1);
    let channel = &schema["$defs"]["Channel"]["properties"];
    assert_eq!(channel["bias_voltage"]["minimum"], json!(-10.0));
    assert_eq!(channel["bias_voltage"]["maximum"], json!(10.0));
    assert_eq!(channel["bias_voltage"]["unit"], "V");
    assert_eq!(channel["gain"]["exclusiveMinimum"], json!(0));
    assert!(channel["gain"].get("maximum").is_none());
    let document = sync.schema();
    assert_eq!(
        document["commands"]["set_channel"]["edits"],
        json!([{"path": "/channels/{channel}/bias_voltage", "value": "value"}])
    );
}
