//! Property test of the oracle: random sequences of every tracked operation
//! on a nested, renamed state keep the mirror equal to the state's JSON after
//! every commit, and the emitted patches replayed on the initial JSON give
//! the final JSON.

use std::collections::BTreeMap;

use lab_link::engine::apply;
use lab_link::{LabSync, MutationError, Reactive};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Reactive, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Root {
    enabled: bool,
    #[serde(rename = "chans")]
    channels: Vec<Chan>,
    by_name: BTreeMap<String, Chan>,
    limit: Option<Limit>,
    boxed: Box<Limit>,
    samples: Vec<f64>,
    #[serde(skip)]
    cache: u32,
}

#[derive(Reactive, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Chan {
    bias_voltage: f64,
    active: bool,
    tags: Vec<String>,
}

#[derive(Reactive, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Limit {
    max: i64,
    #[serde(rename = "the label")]
    label: String,
}

/// One tracked operation.
#[derive(Debug, Clone)]
enum Op {
    SetEnabled(bool),
    PushChan(Chan),
    InsertChan(usize, Chan),
    RemoveChan(usize),
    PopChan,
    SetChan(usize, Chan),
    SetChanBias(usize, f64),
    SetChanActive(usize, bool),
    PushTag(usize, String),
    SwapChans(usize, usize),
    SortChansByBias,
    RetainActive,
    TruncateChans(usize),
    ClearChans,
    ExtendChans(Vec<Chan>),
    SetChannels(Vec<Chan>),
    MapInsert(String, Chan),
    MapRemove(String),
    MapSetBias(String, f64),
    MapPushTag(String, String),
    MapClear,
    MapRetainActive,
    LimitSet(Option<Limit>),
    LimitTake,
    LimitSetMax(i64),
    BoxedSetMax(i64),
    BoxedSetLabel(String),
    SetBoxed(Limit),
    SamplesPush(f64),
    SamplesSet(usize, f64),
    SamplesReverse,
    SetCache(u32),
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -10.0..10.0_f64,
        1 => Just(0.0),
        1 => prop_oneof![Just(f64::NAN), Just(f64::INFINITY)],
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("a/b".to_owned()),
        Just("~".to_owned()),
        Just("~1".to_owned()),
        Just(String::new()),
        "[a-c]{1,2}",
    ]
}

fn chan() -> impl Strategy<Value = Chan> {
    (
        float(),
        any::<bool>(),
        prop::collection::vec("[xy]{0,2}", 0..3),
    )
        .prop_map(|(bias_voltage, active, tags)| Chan {
            bias_voltage,
            active,
            tags,
        })
}

fn limit() -> impl Strategy<Value = Limit> {
    (-5_i64..5, "[pq]{0,2}").prop_map(|(max, label)| Limit { max, label })
}

fn index() -> impl Strategy<Value = usize> {
    0_usize..6
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => any::<bool>().prop_map(Op::SetEnabled),
        1 => chan().prop_map(Op::PushChan),
        3 => (index(), chan()).prop_map(|(i, c)| Op::InsertChan(i, c)),
        3 => index().prop_map(Op::RemoveChan),
        1 => Just(Op::PopChan),
        1 => (index(), chan()).prop_map(|(i, c)| Op::SetChan(i, c)),
        // Writes inside list elements, interleaved with inserts and
        // removes, are where coalescing could go wrong: weigh them up.
        4 => (index(), float()).prop_map(|(i, v)| Op::SetChanBias(i, v)),
        2 => (index(), any::<bool>()).prop_map(|(i, v)| Op::SetChanActive(i, v)),
        2 => (index(), "[xy]{0,2}").prop_map(|(i, t)| Op::PushTag(i, t)),
        1 => (index(), index()).prop_map(|(a, b)| Op::SwapChans(a, b)),
        1 => Just(Op::SortChansByBias),
        1 => Just(Op::RetainActive),
        1 => index().prop_map(Op::TruncateChans),
        1 => Just(Op::ClearChans),
        1 => prop::collection::vec(chan(), 0..3).prop_map(Op::ExtendChans),
        1 => prop::collection::vec(chan(), 0..3).prop_map(Op::SetChannels),
        1 => (key(), chan()).prop_map(|(k, c)| Op::MapInsert(k, c)),
        1 => key().prop_map(Op::MapRemove),
        1 => (key(), float()).prop_map(|(k, v)| Op::MapSetBias(k, v)),
        1 => (key(), "[xy]{0,2}").prop_map(|(k, t)| Op::MapPushTag(k, t)),
        1 => Just(Op::MapClear),
        1 => Just(Op::MapRetainActive),
        1 => proptest::option::of(limit()).prop_map(Op::LimitSet),
        1 => Just(Op::LimitTake),
        1 => (-5_i64..5).prop_map(Op::LimitSetMax),
        1 => (-5_i64..5).prop_map(Op::BoxedSetMax),
        1 => "[pq]{0,2}".prop_map(Op::BoxedSetLabel),
        1 => limit().prop_map(Op::SetBoxed),
        1 => float().prop_map(Op::SamplesPush),
        1 => (index(), float()).prop_map(|(i, v)| Op::SamplesSet(i, v)),
        1 => Just(Op::SamplesReverse),
        1 => any::<u32>().prop_map(Op::SetCache),
    ]
}

/// Runs one operation on the root view; refused writes (out of range,
/// missing key, NaN) are part of the test and change nothing.
fn run(s: &mut RootTracked<'_>, op: Op) -> Result<(), MutationError> {
    match op {
        Op::SetEnabled(v) => s.set_enabled(v),
        Op::PushChan(c) => s.channels().push(c),
        Op::InsertChan(i, c) => s.channels().insert(i, c),
        Op::RemoveChan(i) => s.channels().remove(i).map(drop),
        Op::PopChan => {
            s.channels().pop();
            Ok(())
        }
        Op::SetChan(i, c) => s.channels().set(i, c),
        Op::SetChanBias(i, v) => s.channels().at(i)?.set_bias_voltage(v),
        Op::SetChanActive(i, v) => s.channels().at(i)?.set_active(v),
        Op::PushTag(i, t) => s.channels().at(i)?.tags().push(t),
        Op::SwapChans(a, b) => s.channels().swap(a, b),
        Op::SortChansByBias => {
            s.channels()
                .sort_by(|a, b| a.bias_voltage.total_cmp(&b.bias_voltage));
            Ok(())
        }
        Op::RetainActive => {
            s.channels().retain(|c| c.active);
            Ok(())
        }
        Op::TruncateChans(n) => {
            s.channels().truncate(n);
            Ok(())
        }
        Op::ClearChans => {
            s.channels().clear();
            Ok(())
        }
        Op::ExtendChans(cs) => s.channels().extend(cs),
        Op::SetChannels(cs) => s.set_channels(cs),
        Op::MapInsert(k, c) => s.by_name().insert(k, c).map(drop),
        Op::MapRemove(k) => {
            s.by_name().remove(&k);
            Ok(())
        }
        Op::MapSetBias(k, v) => s.by_name().at(&k)?.set_bias_voltage(v),
        Op::MapPushTag(k, t) => s.by_name().at(&k)?.tags().push(t),
        Op::MapClear => {
            s.by_name().clear();
            Ok(())
        }
        Op::MapRetainActive => {
            s.by_name().retain(|_, c| c.active);
            Ok(())
        }
        Op::LimitSet(l) => s.limit().set(l),
        Op::LimitTake => {
            s.limit().take();
            Ok(())
        }
        Op::LimitSetMax(m) => s.limit().at()?.set_max(m),
        Op::BoxedSetMax(m) => s.boxed().set_max(m),
        Op::BoxedSetLabel(l) => s.boxed().set_label(l),
        Op::SetBoxed(l) => s.set_boxed(Box::new(l)),
        Op::SamplesPush(v) => s.samples().push(v),
        Op::SamplesSet(i, v) => s.samples().set(i, v),
        Op::SamplesReverse => {
            s.samples().reverse();
            Ok(())
        }
        Op::SetCache(v) => {
            s.set_cache(v);
            Ok(())
        }
    }
}

fn initial() -> Root {
    let chan = |bias_voltage, active| Chan {
        bias_voltage,
        active,
        tags: vec!["x".to_owned()],
    };
    Root {
        enabled: false,
        channels: vec![
            chan(0.0, true),
            chan(1.0, false),
            chan(2.0, true),
            chan(3.0, false),
        ],
        by_name: [
            ("a".to_owned(), chan(0.5, true)),
            ("a/b".to_owned(), chan(1.5, false)),
        ]
        .into(),
        limit: None,
        boxed: Box::new(Limit {
            max: 0,
            label: String::new(),
        }),
        samples: vec![],
        cache: 0,
    }
}

// 256 cases by default; set PROPTEST_CASES for a longer run.
proptest! {
    #[test]
    fn mirror_follows_the_state(
        // Short commits, and long ones past the recorder's linear-scan
        // limit (32 operations), where coalescing goes through its index.
        commits in prop::collection::vec(
            (
                prop_oneof![
                    4 => prop::collection::vec(op(), 1..6),
                    1 => prop::collection::vec(op(), 30..80),
                ],
                any::<bool>(),
            ),
            1..12,
        )
    ) {
        let sync = LabSync::new(initial());
        let (snapshot, patches) = sync.subscribe_channel();
        let initial_json: serde_json::Value = serde_json::from_str(snapshot.document_json()).unwrap();
        for (ops, batched) in commits {
            if batched {
                // The same operations, one mutate each, inside one batch.
                let _batch = sync.batch();
                for op in ops {
                    let _ = sync.mutate(|s| run(s, op));
                }
            } else {
                sync.mutate(|s| {
                    for op in ops {
                        let _ = run(s, op);
                    }
                });
            }
            let mismatch = sync.verify_mirror();
            prop_assert!(mismatch.is_ok(), "mirror differs from the state: {:?}", mismatch);
        }
        // Replaying every message on the initial JSON gives the final JSON,
        // and the versions are contiguous.
        let mut replica = initial_json;
        let mut version = snapshot.version();
        for patch in patches.try_iter() {
            prop_assert_eq!(patch.version(), version + 1);
            version = patch.version();
            apply(&mut replica, patch.ops()).expect("every message applies to the replica");
        }
        prop_assert_eq!(version, sync.version());
        let state_json = serde_json::to_value(&*sync.read()).unwrap();
        prop_assert_eq!(replica, state_json);
    }
}
