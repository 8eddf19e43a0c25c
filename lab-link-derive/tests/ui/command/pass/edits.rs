//! `edits` bindings and `#[param]` metadata: the bindings are listed in
//! the command's info and the metadata in its params schema; a raw
//! identifier's param is named without `r#`.
use lab_link::command::{Command, Edit};
use lab_link::{command, LabSync, Reactive};
use serde::Serialize;
use serde_json::json;

#[derive(Reactive, Serialize)]
struct State {
    labels: std::collections::BTreeMap<String, String>,
    channels: Vec<Channel>,
}

#[derive(Reactive, Serialize)]
struct Channel {
    r#type: String,
}

/// Set a label.
#[command(edits = "/labels/{key}", value = "text")]
fn set_label(
    _sync: LabSync<State>,
    /// The key.
    #[param(title = "Key", order = 0)]
    key: String,
    #[param(title = "Text", order = 1)] text: String,
) {
    let _ = (key, text);
}

#[command(edits = "/channels/{channel}/type", value = r#type)]
fn set_type(_sync: LabSync<State>, r#channel: usize, r#type: String) {
    let _ = (r#channel, r#type);
}

#[command]
async fn scale(
    #[param(unit = "V", precision = 3, range = -10.0..10.0, read_only)] volts: f64,
    #[param(range = 1..=8)] times: u8,
) -> f64 {
    volts * f64::from(times)
}

fn main() {
    let info = Command::<State>::info(&set_label);
    assert_eq!(info.edits, [Edit::new("/labels/{key}", "text")]);
    assert_eq!(info.params["properties"]["key"]["title"], "Key");
    assert_eq!(info.params["properties"]["text"]["order"], 1);
    let info = Command::<State>::info(&set_type);
    assert_eq!(info.edits, [Edit::new("/channels/{channel}/type", "type")]);
    let info = Command::<State>::info(&scale);
    assert!(info.edits.is_empty());
    assert_eq!(
        info.params["properties"]["volts"],
        json!({
            "type": "number",
            "format": "double",
            "unit": "V",
            "precision": 3,
            "readOnly": true,
            "minimum": -10.0,
            "exclusiveMaximum": 10.0,
        })
    );
    assert_eq!(info.params["properties"]["times"]["maximum"], 8);
    let sync = LabSync::new(State {
        labels: Default::default(),
        channels: Vec::new(),
    });
    sync.command(set_label).command(set_type);
}
