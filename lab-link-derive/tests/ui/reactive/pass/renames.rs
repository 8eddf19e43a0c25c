//! Paths follow serde: `rename`, `rename_all`, raw identifiers, and names
//! that need escaping in a JSON Pointer.
use lab_link::{LabSync, MutationError, Reactive};
use serde::Serialize;
use serde_json::json;

#[derive(Reactive, Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Channel {
    bias_voltage: f64,
    #[serde(rename = "a/b~c")]
    odd_name: u32,
    r#type: String,
    sub_channel: Sub,
}

#[derive(Reactive, Serialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct Sub {
    set_point: i64,
}

fn main() -> Result<(), MutationError> {
    let sync = LabSync::new(Channel::default());
    let (_, patches) = sync.subscribe_channel();
    sync.try_mutate(|channel| {
        channel.set_bias_voltage(1.5)?;
        channel.set_odd_name(7)?;
        channel.set_type("dc".to_owned())?;
        channel.r#type().set("ac".to_owned())?;
        channel.sub_channel().set_set_point(3)
    })?;
    let ops = serde_json::to_value(patches.try_recv().unwrap().ops()).unwrap();
    assert_eq!(
        ops,
        json!([
            {"op": "replace", "path": "/biasVoltage", "value": 1.5},
            {"op": "replace", "path": "/a~1b~0c", "value": 7},
            {"op": "replace", "path": "/type", "value": "ac"},
            {"op": "replace", "path": "/subChannel/SET_POINT", "value": 3},
        ])
    );
    sync.verify_mirror().unwrap();
    Ok(())
}
