//! `#[reactive(leaf)]` types (enums, tuple, unit and transparent structs,
//! serde shapes a tracked struct refuses) and leaf fields are replaced
//! whole.
use std::collections::BTreeMap;

use lab_link::{LabSync, MutationError, Reactive};
use serde::Serialize;
use serde_json::json;

#[derive(Reactive, Serialize, Clone, PartialEq, Debug)]
#[reactive(leaf)]
#[serde(tag = "kind")]
enum Mode {
    Off,
    Constant { volts: f64 },
}

#[derive(Reactive, Serialize, Clone, Copy)]
#[reactive(leaf)]
struct Point(f64, f64);

#[derive(Reactive, Serialize)]
#[reactive(leaf)]
struct Marker;

/// A transparent newtype checked whole: errors name the leaf's own path.
#[derive(Reactive, Serialize, Clone, Copy)]
#[reactive(leaf)]
#[serde(transparent)]
struct Volts(#[reactive(range = -10.0..=10.0)] f64);

#[derive(Reactive, Serialize, Clone)]
#[reactive(leaf)]
struct Extras {
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    #[serde(flatten)]
    more: BTreeMap<String, u32>,
}

#[derive(Reactive, Serialize)]
struct Device {
    mode: Mode,
    point: Point,
    marker: Marker,
    volts: Volts,
    extras: Extras,
    #[reactive(leaf)]
    by_number: BTreeMap<u32, f64>,
}

fn main() -> Result<(), MutationError> {
    let sync = LabSync::new(Device {
        mode: Mode::Off,
        point: Point(0.0, 0.0),
        marker: Marker,
        volts: Volts(0.0),
        extras: Extras {
            note: None,
            more: BTreeMap::new(),
        },
        by_number: BTreeMap::new(),
    });
    let (_, patches) = sync.subscribe_channel();
    sync.try_mutate(|device| {
        device.set_mode(Mode::Constant { volts: 1.0 })?;
        device.point().set(Point(1.0, 2.0))?;
        device.volts().set(Volts(2.5))?;
        device.set_by_number([(1, 0.5)].into())?;
        device.set_extras(Extras {
            note: Some("x".into()),
            more: [("k".to_owned(), 1)].into(),
        })
    })?;
    let ops = serde_json::to_value(patches.try_recv().unwrap().ops()).unwrap();
    assert_eq!(
        ops,
        json!([
            {"op": "replace", "path": "/mode", "value": {"kind": "Constant", "volts": 1.0}},
            {"op": "replace", "path": "/point", "value": [1.0, 2.0]},
            {"op": "replace", "path": "/volts", "value": 2.5},
            {"op": "replace", "path": "/by_number", "value": {"1": 0.5}},
            {"op": "replace", "path": "/extras", "value": {"note": "x", "k": 1}},
        ])
    );
    let err = sync
        .try_mutate(|device| device.volts().set(Volts(11.0)))
        .unwrap_err();
    assert_eq!(err.path(), "/volts");
    let err = sync
        .try_mutate(|device| device.point().set(Point(f64::NAN, 0.0)))
        .unwrap_err();
    assert_eq!(err.path(), "/point");
    assert_eq!(sync.read().mode, Mode::Constant { volts: 1.0 });
    sync.verify_mirror().unwrap();
    Ok(())
}
