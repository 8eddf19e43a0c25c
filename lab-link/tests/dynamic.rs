//! Dynamic access by JSON Pointer and JSON Patch: `get`, `set`,
//! `apply_patch` and `transaction` on a derived state, every operation
//! kind, refused writes that change nothing, and one message per call.

use std::collections::BTreeMap;
use std::sync::mpsc::Receiver;

use lab_link::engine::{Committed, PatchOp};
use lab_link::{DynamicError, LabSync, Reactive};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Reactive, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
struct Bench {
    enabled: bool,
    channels: Vec<Channel>,
    labels: BTreeMap<String, String>,
}

#[derive(Reactive, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
struct Channel {
    #[reactive(range = -10.0..=10.0)]
    bias_voltage: f64,
    active: bool,
}

fn bench() -> (LabSync<Bench>, Receiver<Committed>) {
    let sync = LabSync::new(Bench {
        enabled: false,
        channels: vec![Channel::default(), Channel::default()],
        labels: BTreeMap::from([("a".to_owned(), "first".to_owned())]),
    });
    let (_, patches) = sync.subscribe_channel();
    (sync, patches)
}

fn ops(value: Value) -> Vec<PatchOp> {
    serde_json::from_value(value).unwrap()
}

/// The ops of every message received so far.
fn received(patches: &Receiver<Committed>) -> Vec<Value> {
    patches
        .try_iter()
        .map(|c| serde_json::to_value(c.ops()).unwrap())
        .collect()
}

/// Asserts that a refused write left everything as it was.
#[track_caller]
fn unchanged(sync: &LabSync<Bench>, before: &Bench, version: u64, patches: &Receiver<Committed>) {
    assert_eq!(&*sync.read(), before);
    assert_eq!(sync.version(), version);
    assert_eq!(sync.get("").unwrap(), serde_json::to_value(before).unwrap());
    assert_eq!(sync.verify_mirror(), Ok(()));
    assert!(received(patches).is_empty());
}

#[test]
fn get_reads_the_mirror_by_pointer() {
    let (sync, _) = bench();
    assert_eq!(sync.get("/labels/a").unwrap(), json!("first"));
    assert_eq!(sync.get("/channels/1/active").unwrap(), json!(false));
    assert_eq!(sync.get("").unwrap()["enabled"], json!(false));
    let missing = sync.get("/channels/7").unwrap_err();
    assert!(matches!(&missing, DynamicError::NotFound { path, .. } if path == "/channels/7"));
    assert!(missing.to_string().contains("/channels/7"), "{missing}");
    let syntax = sync.get("channels").unwrap_err();
    assert!(matches!(syntax, DynamicError::Pointer(_)));
    assert!(syntax.to_string().contains("channels"), "{syntax}");
}

#[test]
fn set_replaces_and_adds() {
    let (sync, patches) = bench();
    assert_eq!(sync.set("/enabled", true).unwrap(), 1);
    assert!(sync.read().enabled);
    assert_eq!(sync.set("/labels/b", "second").unwrap(), 2);
    assert_eq!(sync.read().labels["b"], "second");
    let channel = json!({"bias_voltage": 2.5, "active": true});
    assert_eq!(sync.set("/channels/-", channel).unwrap(), 3);
    assert_eq!(sync.read().channels[2].bias_voltage, 2.5);
    assert_eq!(sync.set("/channels/0/bias_voltage", -1.5).unwrap(), 4);
    assert_eq!(sync.verify_mirror(), Ok(()));
    assert_eq!(
        received(&patches),
        [
            json!([{"op": "replace", "path": "/enabled", "value": true}]),
            json!([{"op": "add", "path": "/labels/b", "value": "second"}]),
            json!([{"op": "add", "path": "/channels/2",
                    "value": {"bias_voltage": 2.5, "active": true}}]),
            json!([{"op": "replace", "path": "/channels/0/bias_voltage", "value": -1.5}]),
        ]
    );
}

#[test]
fn an_equal_set_emits_nothing() {
    let (sync, patches) = bench();
    assert_eq!(sync.set("/labels/a", "first").unwrap(), 0);
    assert_eq!(sync.set("/enabled", false).unwrap(), 0);
    // 0 and 0.0 are the same f64.
    assert_eq!(sync.set("/channels/0/bias_voltage", 0).unwrap(), 0);
    assert!(received(&patches).is_empty());
    assert_eq!(sync.verify_mirror(), Ok(()));
}

#[test]
fn apply_patch_runs_every_operation_kind() {
    let (sync, patches) = bench();
    let version = sync
        .apply_patch(ops(json!([
            {"op": "test", "path": "/enabled", "value": false},
            {"op": "add", "path": "/labels/b", "value": "second"},
            {"op": "replace", "path": "/enabled", "value": true},
            {"op": "copy", "from": "/channels/0", "path": "/channels/-"},
            {"op": "replace", "path": "/channels/2/active", "value": true},
            {"op": "move", "from": "/labels/a", "path": "/labels/c"},
            {"op": "remove", "path": "/channels/0"},
        ])))
        .unwrap();
    assert_eq!(version, 1);
    let state = sync.read().clone();
    assert!(state.enabled);
    assert_eq!(state.channels.len(), 2);
    assert!(state.channels[1].active);
    assert_eq!(
        state.labels,
        BTreeMap::from([
            ("b".to_owned(), "second".to_owned()),
            ("c".to_owned(), "first".to_owned()),
        ])
    );
    assert_eq!(received(&patches).len(), 1);
    assert_eq!(sync.verify_mirror(), Ok(()));
}

#[test]
fn refused_writes_change_nothing() {
    let (sync, patches) = bench();
    sync.set("/enabled", true).unwrap();
    let _ = received(&patches);
    let before = sync.read().clone();

    // Wrong type: named by its pointer.
    let err = sync.set("/channels/1/active", "yes").unwrap_err();
    assert!(
        matches!(&err, DynamicError::Deserialize { path, .. } if path == "/channels/1/active"),
        "{err:?}"
    );
    unchanged(&sync, &before, 1, &patches);

    // A missing path: replace of a missing array element.
    let err = sync.set("/channels/5/active", true).unwrap_err();
    assert!(matches!(&err, DynamicError::Patch(e) if e.path().as_str() == "/channels/5/active"));
    unchanged(&sync, &before, 1, &patches);

    // A syntax error.
    let err = sync.set("enabled", true).unwrap_err();
    assert!(matches!(err, DynamicError::Pointer(_)));
    unchanged(&sync, &before, 1, &patches);

    // A constraint.
    let err = sync.set("/channels/0/bias_voltage", 99.0).unwrap_err();
    assert!(matches!(err, DynamicError::Invalid(_)), "{err:?}");
    unchanged(&sync, &before, 1, &patches);

    // A member that is not a field: serde would drop it, so it is refused,
    // named by its pointer, at the top and deeper down.
    for path in ["/unknown", "/channels/1/gain"] {
        let err = sync.set(path, 1.0).unwrap_err();
        assert_eq!(err, DynamicError::NotAField { path: path.into() });
        unchanged(&sync, &before, 1, &patches);
    }

    // A failing test, after an operation that would apply: index 1.
    let err = sync
        .apply_patch(ops(json!([
            {"op": "replace", "path": "/enabled", "value": false},
            {"op": "test", "path": "/labels/a", "value": "other"},
        ])))
        .unwrap_err();
    assert!(
        matches!(&err, DynamicError::Patch(e) if e.index() == 1 && e.path().as_str() == "/labels/a")
    );
    assert!(err.to_string().contains("operation 1"), "{err}");
    unchanged(&sync, &before, 1, &patches);

    // Removing a required field.
    let err = sync
        .apply_patch(ops(json!([{"op": "remove", "path": "/channels/0/active"}])))
        .unwrap_err();
    assert!(
        matches!(&err, DynamicError::Deserialize { path, .. } if path.starts_with("/channels/0")),
        "{err:?}"
    );
    unchanged(&sync, &before, 1, &patches);
}

#[test]
fn a_transaction_is_one_message_or_nothing() {
    let (sync, patches) = bench();
    let version = sync
        .transaction(|tx| {
            tx.set("/enabled", true)?;
            tx.set("/labels/z", "last")?;
            assert_eq!(tx.get("/labels/z")?, &json!("last"));
            tx.apply_patch(ops(json!([
                {"op": "replace", "path": "/channels/1/bias_voltage", "value": 3.0},
            ])))?;
            Ok(())
        })
        .unwrap();
    assert_eq!(version, 1);
    assert_eq!(received(&patches).len(), 1);
    assert_eq!(sync.read().channels[1].bias_voltage, 3.0);
    assert_eq!(sync.verify_mirror(), Ok(()));

    let before = sync.read().clone();
    let err = sync
        .transaction(|tx| {
            tx.set("/enabled", false)?;
            tx.set("/labels/y", "more")?;
            tx.set("/channels/9/active", true)?;
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(err, DynamicError::Patch(_)));
    unchanged(&sync, &before, 1, &patches);

    // Every step applies, but the result breaks a constraint.
    let err = sync
        .transaction(|tx| {
            tx.set("/enabled", false)?;
            tx.set("/channels/0/bias_voltage", 11.0)?;
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(err, DynamicError::Invalid(_)));
    unchanged(&sync, &before, 1, &patches);
}

#[derive(Reactive, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
struct Renamed {
    bias_voltage: f64,
    #[serde(rename = "on")]
    enabled: bool,
}

/// A write under a field's Rust name instead of its JSON name is refused
/// with the path, never taken for an equal write; the JSON name works.
#[test]
fn a_write_to_a_member_that_is_not_a_field_names_the_path() {
    let sync = LabSync::new(Renamed::default());
    let (_, patches) = sync.subscribe_channel();

    let err = sync.set("/bias_voltage", 1.5).unwrap_err();
    assert_eq!(
        err,
        DynamicError::NotAField {
            path: "/bias_voltage".into()
        }
    );
    assert!(err.to_string().contains("\"/bias_voltage\""), "{err}");
    let err = sync
        .apply_patch(ops(json!([
            {"op": "replace", "path": "/on", "value": true},
            {"op": "add", "path": "/enabled", "value": true},
        ])))
        .unwrap_err();
    assert_eq!(
        err,
        DynamicError::NotAField {
            path: "/enabled".into()
        }
    );
    let err = sync
        .transaction(|tx| {
            tx.set("/biasVoltage", 2.0)
                .and(tx.set("/bias_voltage", 2.0))
        })
        .unwrap_err();
    assert_eq!(
        err,
        DynamicError::NotAField {
            path: "/bias_voltage".into()
        }
    );
    assert_eq!(sync.read().clone(), Renamed::default());
    assert_eq!(sync.version(), 0);
    assert!(received(&patches).is_empty());

    // The JSON names write; an integer read into an `f64` is no dropped
    // member.
    assert_eq!(sync.set("/biasVoltage", 2).unwrap(), 1);
    assert_eq!(sync.set("/on", true).unwrap(), 2);
    assert_eq!(
        sync.read().clone(),
        Renamed {
            bias_voltage: 2.0,
            enabled: true
        }
    );
    assert_eq!(sync.verify_mirror(), Ok(()));
}
