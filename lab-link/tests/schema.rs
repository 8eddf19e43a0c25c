//! The schema document without a transport: field metadata through nested
//! types, `edits` bindings checked against the state type at
//! registration, and the hash.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use lab_link::command::RegisterError;
use lab_link::server::SyncSource;
use lab_link::{command, LabSync, Reactive};
use serde::Serialize;
use serde_json::json;

#[derive(Reactive, Serialize, schemars::JsonSchema, Default)]
struct State {
    channels: Vec<Channel>,
    labels: BTreeMap<String, Channel>,
    spare: Option<Box<Channel>>,
    #[reactive(leaf)]
    limits: Limits,
    /// Only the server writes it.
    #[reactive(read_only, unit = "K")]
    temperature: f64,
}

#[derive(Reactive, Serialize, schemars::JsonSchema, Default)]
struct Channel {
    #[reactive(range = -10.0..=10.0, unit = "V")]
    bias_voltage: f64,
    #[serde(rename = "isActive")]
    active: bool,
}

#[derive(Serialize, schemars::JsonSchema, Default)]
struct Limits {
    high: f64,
}

#[command(edits = "/channels/{channel}/bias_voltage", value = value)]
fn set_channel(_sync: LabSync<State>, channel: usize, value: f64) {
    let _ = (channel, value);
}

#[command(edits = "/channels/{index}/bias_voltage", value = volts)]
fn set_bias(_sync: LabSync<State>, index: usize, volts: f64) {
    let _ = (index, volts);
}

#[command(edits = "/labels/{key}/isActive", value = on)]
fn set_label_active(_sync: LabSync<State>, key: String, on: bool) {
    let _ = (key, on);
}

#[command(edits = "/spare/isActive", value = on)]
fn set_spare(_sync: LabSync<State>, on: bool) {
    let _ = on;
}

#[command(edits = "/channels/{channel}/bias_voltage/{part}", value = value)]
fn set_part(_sync: LabSync<State>, channel: usize, part: String, value: f64) {
    let _ = (channel, part, value);
}

#[command(edits = "/limits/high", value = value)]
fn set_limit(_sync: LabSync<State>, value: f64) {
    let _ = value;
}

#[command(edits = "/channels/first/isActive", value = on)]
fn set_first(_sync: LabSync<State>, on: bool) {
    let _ = on;
}

#[command(edits = "/{field}", value = value)]
fn set_any(_sync: LabSync<State>, field: String, value: f64) {
    let _ = (field, value);
}

#[track_caller]
fn check_unknown(result: Result<(), RegisterError>, reason: &str) {
    match result {
        Err(RegisterError::UnknownPath { reason: found, .. }) => assert_eq!(found, reason),
        other => panic!("expected UnknownPath, got {other:?}"),
    }
}

#[test]
fn metadata_reaches_nested_types_through_lists_maps_and_options() {
    let sync = LabSync::new(State::default()).with_state_schema();
    let schema = sync.state_schema().unwrap();
    assert_eq!(
        schema["properties"]["temperature"],
        json!({
            "description": "Only the server writes it.",
            "type": "number",
            "format": "double",
            "unit": "K",
            "readOnly": true,
        })
    );
    let channel = &schema["$defs"]["Channel"]["properties"];
    assert_eq!(channel["bias_voltage"]["unit"], "V");
    assert_eq!(channel["bias_voltage"]["minimum"], json!(-10.0));
    assert_eq!(channel["bias_voltage"]["maximum"], json!(10.0));
    assert!(schema["$defs"]["Limits"]["properties"]["high"]
        .get("unit")
        .is_none());
}

#[test]
fn edits_paths_that_exist_are_registered() {
    let sync = LabSync::new(State::default());
    sync.command(set_channel)
        .command(set_label_active)
        .command(set_spare);
    let infos = sync.command_infos();
    let edits: Vec<_> = infos.iter().flat_map(|info| &info.edits).collect();
    assert_eq!(edits.len(), 3);
}

#[test]
fn edits_paths_that_do_not_exist_are_refused_naming_the_command_and_the_path() {
    let sync = LabSync::new(State::default());
    check_unknown(
        sync.try_command(set_part),
        "the path goes on (`{part}`) into a value that is replaced whole",
    );
    check_unknown(
        sync.try_command(set_limit),
        "the path goes on (\"high\") into a value that is replaced whole",
    );
    check_unknown(
        sync.try_command(set_first),
        "\"first\" is not an index of a list: write a `{param}` or a number",
    );
    check_unknown(
        sync.try_command(set_any),
        "`{field}` stands for an index or a key, but `State` is a struct: name one of its \
         fields; its fields are \"channels\", \"labels\", \"spare\", \"limits\", \"temperature\"",
    );
    assert!(sync.command_infos().is_empty());

    let panicked = catch_unwind(AssertUnwindSafe(|| {
        sync.command(set_limit);
    }));
    let message = panicked.unwrap_err();
    assert_eq!(
        message.downcast_ref::<String>().map(String::as_str),
        Some(
            "command \"set_limit\" edits \"/limits/high\", which is not a field of the state: \
             the path goes on (\"high\") into a value that is replaced whole"
        )
    );
}

#[test]
fn a_misspelt_field_is_named_with_the_fields_there_are() {
    #[command(edits = "/channels/{channel}/active", value = on)]
    fn set_active(_sync: LabSync<State>, channel: usize, on: bool) {
        let _ = (channel, on);
    }
    let sync = LabSync::new(State::default());
    check_unknown(
        sync.try_command(set_active),
        "`Channel` has no field \"active\"; its fields are \"bias_voltage\", \"isActive\"",
    );
}

#[test]
fn two_commands_cannot_edit_the_same_field() {
    let sync = LabSync::new(State::default());
    sync.command(set_channel);
    assert_eq!(
        sync.try_command(set_bias),
        Err(RegisterError::SameField {
            command: "set_bias".into(),
            path: "/channels/{index}/bias_voltage".into(),
            other: "set_channel".into(),
            other_path: "/channels/{channel}/bias_voltage".into(),
        })
    );
    assert_eq!(
        sync.try_command(set_bias).unwrap_err().to_string(),
        "commands \"set_channel\" and \"set_bias\" both edit the same field \
         (\"/channels/{channel}/bias_voltage\" and \"/channels/{index}/bias_voltage\"): a field \
         has one editing command; drop one `edits` binding"
    );
    assert_eq!(sync.command_infos().len(), 1);
}

#[test]
fn the_hash_follows_the_document() {
    let sync = LabSync::new(State::default()).with_state_schema();
    let first = sync.schema();
    assert_eq!(sync.schema(), first, "the same schema, the same hash");
    sync.command(set_channel);
    let second = sync.schema();
    assert_ne!(second["schemaHash"], first["schemaHash"]);
    let mut without = second.clone();
    without.as_object_mut().unwrap().remove("schemaHash");
    assert_eq!(
        second["schemaHash"],
        lab_link::engine::schema::hash(&without).as_str()
    );
}
