//! `#[derive(Reactive)]` through `LabSync`: the exact operations every
//! tracked write commits, the paths serde's attributes give them, and the
//! writes that are refused. Scenarios are tables of (mutation, expected
//! operations); after each one the mirror must equal the state's JSON.

use std::collections::BTreeMap;

use lab_link::{LabSync, MutationError, MutationErrorKind, Reactive};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Reactive, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct State {
    enabled: bool,
    channels: Vec<Channel>,
    labels: BTreeMap<String, String>,
    limit: Option<Limit>,
    boxed: Box<Limit>,
    values: Vec<i64>,
    #[serde(rename = "the/name")]
    name: String,
    #[serde(skip)]
    cache: u32,
}

#[derive(Reactive, Serialize, Clone, Debug, PartialEq, Default)]
struct Channel {
    #[reactive(range = -10.0..=10.0)]
    bias_voltage: f64,
    active: bool,
    #[reactive(validate = short_label)]
    label: String,
}

#[derive(Reactive, Serialize, Clone, Debug, PartialEq)]
struct Limit {
    max: i64,
}

fn short_label(label: &String) -> Result<(), String> {
    if label.len() <= 8 {
        Ok(())
    } else {
        Err(format!("label {label:?} is longer than 8 bytes"))
    }
}

fn state() -> State {
    State {
        enabled: false,
        channels: vec![Channel::default(), Channel::default()],
        labels: [("x".to_owned(), "1".to_owned())].into(),
        limit: None,
        boxed: Box::new(Limit { max: 1 }),
        values: vec![3, 1, 2],
        name: "a".to_owned(),
        cache: 0,
    }
}

/// A mutation of the state, as a table entry.
type Mutation = fn(&mut StateTracked<'_>) -> Result<(), MutationError>;

/// Runs `mutate` in one `try_mutate` and checks the operations it commits
/// (`[]`: nothing committed, no new version) and the oracle.
#[track_caller]
fn check(mutate: Mutation, expected: Value) -> LabSync<State> {
    let sync = LabSync::new(state());
    let (_, patches) = sync.subscribe_channel();
    sync.try_mutate(mutate).expect("the mutation is accepted");
    let committed: Vec<_> = patches.try_iter().collect();
    let ops = match committed.as_slice() {
        [] => json!([]),
        [one] => {
            assert_eq!(one.version(), 1);
            serde_json::to_value(one.ops()).unwrap()
        }
        more => panic!("one mutate committed {} patches", more.len()),
    };
    assert_eq!(ops, expected);
    assert_eq!(sync.version(), u64::from(!committed.is_empty()));
    sync.verify_mirror()
        .expect("the mirror equals the state's JSON");
    sync
}

/// Checks that `mutate` is refused with an error at `path` of `kind`, and
/// that nothing changed: not the state, not the version, no patch.
#[track_caller]
fn check_refused(mutate: Mutation, path: &str, kind: MutationErrorKind) {
    let sync = LabSync::new(state());
    let (_, patches) = sync.subscribe_channel();
    let err = sync.try_mutate(mutate).expect_err("the write is refused");
    assert_eq!(err.path(), path);
    assert_eq!(err.kind(), &kind);
    assert_eq!(*sync.read(), state());
    assert_eq!(sync.version(), 0);
    assert!(patches.try_recv().is_err());
    sync.verify_mirror()
        .expect("the mirror equals the state's JSON");
}

#[test]
fn setters_record_one_replace_at_the_serde_path() {
    check(
        |s| s.set_enabled(true),
        json!([{"op": "replace", "path": "/enabled", "value": true}]),
    );
    check(
        |s| s.set_name("b".into()),
        json!([{"op": "replace", "path": "/the~1name", "value": "b"}]),
    );
    check(
        |s| s.set_channels(Vec::new()),
        json!([{"op": "replace", "path": "/channels", "value": []}]),
    );
    check(
        |s| s.set_limit(Some(Limit { max: 5 })),
        json!([{"op": "replace", "path": "/limit", "value": {"max": 5}}]),
    );
}

#[test]
fn getters_record_at_the_nested_path() {
    check(
        |s| s.channels().at(1)?.set_active(true),
        json!([{"op": "replace", "path": "/channels/1/active", "value": true}]),
    );
    check(
        |s| s.channels().at(0)?.set_bias_voltage(1.25),
        json!([{"op": "replace", "path": "/channels/0/bias_voltage", "value": 1.25}]),
    );
    check(
        |s| s.enabled().set(true),
        json!([{"op": "replace", "path": "/enabled", "value": true}]),
    );
}

#[test]
fn vec_operations_through_a_field() {
    let table: [(Mutation, Value); 11] = [
        (
            |s| s.values().push(4),
            json!([{"op": "add", "path": "/values/3", "value": 4}]),
        ),
        (
            |s| s.values().insert(0, 9),
            json!([{"op": "add", "path": "/values/0", "value": 9}]),
        ),
        (
            |s| s.values().remove(1).map(drop),
            json!([{"op": "remove", "path": "/values/1"}]),
        ),
        (
            |s| {
                s.values().pop();
                Ok(())
            },
            json!([{"op": "remove", "path": "/values/2"}]),
        ),
        (
            |s| s.values().set(2, 7),
            json!([{"op": "replace", "path": "/values/2", "value": 7}]),
        ),
        (
            |s| s.values().swap(0, 2),
            json!([
                {"op": "replace", "path": "/values/0", "value": 2},
                {"op": "replace", "path": "/values/2", "value": 3}
            ]),
        ),
        (
            |s| {
                s.values().clear();
                Ok(())
            },
            json!([{"op": "replace", "path": "/values", "value": []}]),
        ),
        (
            |s| {
                s.values().sort();
                Ok(())
            },
            json!([{"op": "replace", "path": "/values", "value": [1, 2, 3]}]),
        ),
        (
            |s| {
                s.values().retain(|v| *v != 1);
                Ok(())
            },
            json!([{"op": "replace", "path": "/values", "value": [3, 2]}]),
        ),
        (
            |s| s.values().extend([5, 6]),
            json!([
                {"op": "add", "path": "/values/3", "value": 5},
                {"op": "add", "path": "/values/4", "value": 6}
            ]),
        ),
        (
            |s| s.channels().push(Channel::default()),
            json!([{"op": "add", "path": "/channels/2", "value":
                {"bias_voltage": 0.0, "active": false, "label": ""}}]),
        ),
    ];
    for (mutate, expected) in table {
        check(mutate, expected);
    }
}

#[test]
fn map_insert_is_add_then_replace_and_keys_are_escaped() {
    check(
        |s| s.labels().insert("a/b".into(), "v".into()).map(drop),
        json!([{"op": "add", "path": "/labels/a~1b", "value": "v"}]),
    );
    check(
        |s| s.labels().insert("x".into(), "2".into()).map(drop),
        json!([{"op": "replace", "path": "/labels/x", "value": "2"}]),
    );
    check(
        |s| {
            s.labels().insert("~t".into(), "v".into())?;
            assert_eq!(s.labels().remove("~t"), Some("v".into()));
            Ok(())
        },
        json!([
            {"op": "add", "path": "/labels/~0t", "value": "v"},
            {"op": "remove", "path": "/labels/~0t"}
        ]),
    );
    check(
        |s| {
            s.labels().remove("x");
            Ok(())
        },
        json!([{"op": "remove", "path": "/labels/x"}]),
    );
}

#[test]
fn option_set_take_and_at() {
    check(
        |s| s.limit().insert(Limit { max: 3 }),
        json!([{"op": "replace", "path": "/limit", "value": {"max": 3}}]),
    );
    check(
        |s| {
            s.limit().set(Some(Limit { max: 3 }))?;
            s.limit().at()?.set_max(4)
        },
        // The write inside the value just set folds into it.
        json!([{"op": "replace", "path": "/limit", "value": {"max": 4}}]),
    );
    // `take` replaces the whole value with `null`, which makes the earlier
    // writes inside it dead: they are dropped from the commit.
    check(
        |s| {
            s.limit().set(Some(Limit { max: 3 }))?;
            s.limit().at()?.set_max(4)?;
            assert_eq!(s.limit().take(), Some(Limit { max: 4 }));
            Ok(())
        },
        json!([{"op": "replace", "path": "/limit", "value": null}]),
    );
    check_refused(
        |s| s.limit().at()?.set_max(1),
        "/limit",
        MutationErrorKind::IsNone,
    );
}

#[test]
fn box_is_transparent() {
    check(
        |s| s.boxed().set_max(2),
        json!([{"op": "replace", "path": "/boxed/max", "value": 2}]),
    );
    check(
        |s| s.set_boxed(Box::new(Limit { max: 3 })),
        json!([{"op": "replace", "path": "/boxed", "value": {"max": 3}}]),
    );
}

#[test]
fn skipped_fields_change_the_state_and_record_nothing() {
    let sync = check(
        |s| {
            s.set_cache(7);
            Ok(())
        },
        json!([]),
    );
    assert_eq!(sync.read().cache, 7);
}

#[test]
fn equal_writes_record_nothing() {
    check(|s| s.set_enabled(false), json!([]));
    check(|s| s.channels().at(0)?.set_label(String::new()), json!([]));
    check(
        |s| s.labels().insert("x".into(), "1".into()).map(drop),
        json!([]),
    );
}

#[test]
fn repeated_writes_coalesce_to_the_last_value() {
    check(
        |s| {
            s.set_enabled(true)?;
            s.channels().at(0)?.set_bias_voltage(1.0)?;
            s.set_enabled(false)?;
            s.set_enabled(true)?;
            s.channels().at(0)?.set_bias_voltage(2.0)
        },
        json!([
            {"op": "replace", "path": "/enabled", "value": true},
            {"op": "replace", "path": "/channels/0/bias_voltage", "value": 2.0}
        ]),
    );
}

#[test]
fn refused_writes_change_nothing() {
    check_refused(
        |s| s.channels().at(1)?.set_bias_voltage(10.5),
        "/channels/1/bias_voltage",
        MutationErrorKind::OutOfRange {
            value: "10.5".into(),
            range: "-10.0..=10.0".into(),
        },
    );
    check_refused(
        |s| s.channels().at(0)?.set_bias_voltage(f64::NAN),
        "/channels/0/bias_voltage",
        MutationErrorKind::NonFinite,
    );
    check_refused(
        |s| s.channels().at(0)?.set_label("much too long".into()),
        "/channels/0/label",
        MutationErrorKind::Invalid {
            message: "label \"much too long\" is longer than 8 bytes".into(),
        },
    );
    // A whole struct is checked against its fields' constraints too.
    check_refused(
        |s| {
            let bad = Channel {
                bias_voltage: -11.0,
                ..Channel::default()
            };
            s.channels().set(1, bad)
        },
        "/channels/1/bias_voltage",
        MutationErrorKind::OutOfRange {
            value: "-11.0".into(),
            range: "-10.0..=10.0".into(),
        },
    );
    check_refused(
        |s| {
            s.channels().push(Channel {
                label: "way too long".into(),
                ..Channel::default()
            })
        },
        "/channels/2/label",
        MutationErrorKind::Invalid {
            message: "label \"way too long\" is longer than 8 bytes".into(),
        },
    );
}

#[test]
fn the_initial_state_is_validated() {
    let mut bad = state();
    bad.channels[1].bias_voltage = 20.0;
    let err = LabSync::try_new(bad).expect_err("out of range");
    assert_eq!(err.path(), "/channels/1/bias_voltage");
}

#[test]
fn views_read_through_deref() {
    let sync = LabSync::new(state());
    sync.mutate(|s| {
        assert!(!s.enabled);
        assert_eq!(s.channels().len(), 2);
        let mut channels = s.channels();
        let mut channel = channels.at(0).expect("two channels");
        assert_eq!(channel.bias_voltage, 0.0);
        assert_eq!(format!("{channel:?}"), "ChannelTracked { .. }");
        channel.set_active(true).expect("a bool is accepted");
        assert!(channel.active);
    });
    sync.verify_mirror()
        .expect("the mirror equals the state's JSON");
}
