//! Integration tests of `LabSync` through its public API, on states built
//! from the container types (maps with `String` keys, `Vec`, `Option`,
//! `Box`, leaves): one message and one version per recording `mutate`,
//! refused writes, batches (nested, joined mid-batch, spanning threads),
//! panics and re-entrant calls, concurrent writers, `load_state`,
//! `publish`, subscribers and the patch log.
//!
//! Most tests drive a [`Replica`]: a subscriber that replays every patch
//! onto its own copy of the document, as a client does, and checks after
//! each step that it equals the state's JSON form.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;

use lab_link_core::{
    apply, Committed, LabSync, LoadError, MutationError, MutationErrorKind, PatchMeta, Reactive,
    Since, StoreConfig,
};
use serde_json::{json, Value};

/// Bias voltages per channel name.
type Channels = BTreeMap<String, Vec<f64>>;
/// Slots that may hold a boxed map.
type Slots = Vec<Option<Box<BTreeMap<String, i64>>>>;

/// A write through the tracked view of `S`.
type Write<S> = for<'a, 'b> fn(&'b mut <S as Reactive>::Tracked<'a>) -> Result<(), MutationError>;

/// The panic message of the re-entrancy guard.
const REENTRANT: &str =
    "LabSync used from inside a mutate closure or a patch listener on the same thread";

fn channels() -> Channels {
    [("bias".to_owned(), vec![0.0, 0.5])].into()
}

/// A client of a `LabSync`: replays every patch onto its own document.
struct Replica<S> {
    sync: LabSync<S>,
    patches: Receiver<Committed>,
    document: Value,
    version: u64,
    /// Every message received, in order.
    messages: Vec<Arc<str>>,
}

impl<S: Reactive + Send + 'static> Replica<S> {
    fn new(state: S) -> Self {
        Self::of(LabSync::new(state))
    }

    fn of(sync: LabSync<S>) -> Self {
        let (snapshot, patches) = sync.subscribe_channel();
        Self {
            document: serde_json::from_str(snapshot.document_json()).unwrap(),
            version: snapshot.version(),
            sync,
            patches,
            messages: Vec::new(),
        }
    }

    /// Applies every message committed since the last call and returns
    /// their operations; then checks that the replica, the mirror
    /// (`verify_mirror`) and the snapshot all equal the state's JSON form.
    ///
    /// `verify_mirror` commits the pending operations of an open batch:
    /// call [`assert_quiet`](Replica::assert_quiet) instead inside one.
    #[track_caller]
    fn take(&mut self) -> Vec<Value> {
        let mut taken = Vec::new();
        while let Ok(committed) = self.patches.try_recv() {
            check_message(&committed, self.version + 1);
            apply(&mut self.document, committed.ops()).unwrap();
            self.version = committed.version();
            self.messages.push(committed.message_shared());
            taken.push(serde_json::to_value(committed.ops()).unwrap());
        }
        assert_eq!(self.sync.verify_mirror(), Ok(()));
        assert_eq!(self.sync.version(), self.version, "a commit was not sent");
        assert_eq!(self.document, state_json(&self.sync));
        let snapshot = self.sync.snapshot();
        assert_eq!(snapshot.version(), self.version);
        let snapshot: Value = serde_json::from_str(snapshot.document_json()).unwrap();
        assert_eq!(snapshot, self.document);
        taken
    }

    /// Nothing was committed since the last [`take`](Replica::take).
    #[track_caller]
    fn assert_quiet(&self) {
        assert!(self.patches.try_recv().is_err(), "unexpected commit");
        assert_eq!(self.sync.version(), self.version);
    }
}

/// One patch message of `version`: the wire text is exactly the type, the
/// operations and the version, with no metadata (commands come later).
#[track_caller]
fn check_message(committed: &Committed, version: u64) {
    assert_eq!(committed.version(), version, "versions are contiguous");
    assert!(!committed.ops().is_empty(), "an empty patch was committed");
    assert_eq!(committed.meta(), &PatchMeta::default());
    let message: Value = serde_json::from_str(committed.message()).unwrap();
    assert_eq!(
        message,
        json!({"type": "patch", "patch": committed.ops(), "version": version})
    );
}

fn state_json<S: Reactive + Send + 'static>(sync: &LabSync<S>) -> Value {
    serde_json::to_value(&*sync.read()).unwrap()
}

/// The messages `ops` stands for: none for `[]`, else one.
fn messages_of(ops: &Value) -> Vec<Value> {
    if ops == &json!([]) {
        Vec::new()
    } else {
        vec![ops.clone()]
    }
}

/// The text of a panic payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<not a string>")
}

// One `mutate`, one message, one version.

/// Runs each write with `try_mutate`: it commits exactly the expected
/// operations as one message (none for `[]`).
#[track_caller]
fn check_writes<S: Reactive + Send + 'static>(initial: S, steps: &[(&str, Write<S>, Value)]) {
    let mut replica = Replica::new(initial);
    for (name, write, ops) in steps {
        replica.sync.try_mutate(*write).unwrap();
        assert_eq!(replica.take(), messages_of(ops), "{name}");
    }
}

#[test]
fn each_recording_mutate_of_a_map_of_lists_is_one_message() {
    check_writes::<Channels>(
        channels(),
        &[
            (
                "set an element",
                |c| c.at("bias")?.set(0, 1.25),
                json!([{"op": "replace", "path": "/bias/0", "value": 1.25}]),
            ),
            (
                "an equal write records nothing",
                |c| c.at("bias")?.set(0, 1.25),
                json!([]),
            ),
            (
                "reading records nothing",
                |c| {
                    assert_eq!(c["bias"], [1.25, 0.5]);
                    Ok(())
                },
                json!([]),
            ),
            (
                "a new key is escaped",
                |c| c.insert("gain/db".into(), vec![3.0]).map(drop),
                json!([{"op": "add", "path": "/gain~1db", "value": [3.0]}]),
            ),
            (
                "several writes, one message",
                |c| {
                    let mut bias = c.at("bias")?;
                    bias.push(2.0)?;
                    bias.remove(0)?;
                    c.remove("gain/db");
                    Ok(())
                },
                json!([
                    {"op": "add", "path": "/bias/2", "value": 2.0},
                    {"op": "remove", "path": "/bias/0"},
                    {"op": "remove", "path": "/gain~1db"}
                ]),
            ),
            (
                "a whole-list change",
                |c| {
                    c.at("bias")?.reverse();
                    Ok(())
                },
                json!([{"op": "replace", "path": "/bias", "value": [2.0, 0.5]}]),
            ),
            (
                "clear",
                |c| {
                    c.clear();
                    Ok(())
                },
                json!([{"op": "replace", "path": "", "value": {}}]),
            ),
        ],
    );
}

#[test]
fn each_recording_mutate_of_nested_options_and_boxes_is_one_message() {
    check_writes::<Slots>(
        Vec::new(),
        &[
            (
                "push None",
                |s| s.push(None),
                json!([{"op": "add", "path": "/0", "value": null}]),
            ),
            (
                "push a boxed map",
                |s| s.push(Some(Box::new([("k".to_owned(), 1)].into()))),
                json!([{"op": "add", "path": "/1", "value": {"k": 1}}]),
            ),
            (
                "fill the empty slot",
                |s| s.at(0)?.insert(Box::default()),
                json!([{"op": "replace", "path": "/0", "value": {}}]),
            ),
            (
                "through the Option and the Box",
                |s| s.at(1)?.at()?.insert("k".into(), 2).map(drop),
                json!([{"op": "replace", "path": "/1/k", "value": 2}]),
            ),
            (
                "take",
                |s| {
                    s.at(1)?.take();
                    Ok(())
                },
                json!([{"op": "replace", "path": "/1", "value": null}]),
            ),
            (
                "setting None again records nothing",
                |s| s.at(1)?.set(None),
                json!([]),
            ),
            (
                "a key with a tilde",
                |s| s.at(0)?.at()?.insert("x~y".into(), 5).map(drop),
                json!([{"op": "add", "path": "/0/x~0y", "value": 5}]),
            ),
            (
                "swap",
                |s| s.swap(0, 1),
                json!([
                    {"op": "replace", "path": "/0", "value": null},
                    {"op": "replace", "path": "/1", "value": {"x~y": 5}}
                ]),
            ),
        ],
    );
}

#[test]
fn mutate_returns_the_closure_value() {
    let mut replica = Replica::new(channels());
    let len = replica.sync.mutate(|c| {
        c.at("bias").unwrap().push(1.0).unwrap();
        c["bias"].len()
    });
    assert_eq!(len, 3);
    assert_eq!(
        replica.take(),
        [json!([{"op": "add", "path": "/bias/2", "value": 1.0}])]
    );
}

// Refused writes.

/// A refused write ends the closure through `?`.
struct Refusal {
    name: &'static str,
    write: Write<Channels>,
    path: &'static str,
    kind: MutationErrorKind,
    /// What the writes before the refused one committed.
    committed: Value,
}

#[test]
fn a_refused_write_keeps_the_writes_before_it_and_nothing_of_itself() {
    let refusals = [
        Refusal {
            name: "NaN after a set",
            write: |c| {
                c.at("bias")?.set(0, 1.0)?;
                c.at("bias")?.push(f64::NAN)?;
                c.insert("never".into(), Vec::new())?;
                Ok(())
            },
            path: "/bias/2",
            kind: MutationErrorKind::NonFinite,
            committed: json!([{"op": "replace", "path": "/bias/0", "value": 1.0}]),
        },
        Refusal {
            name: "infinity inside a new entry",
            write: |c| {
                c.at("bias")?.pop();
                c.insert("offset".into(), vec![0.0, f64::INFINITY])?;
                Ok(())
            },
            path: "/offset/1",
            kind: MutationErrorKind::NonFinite,
            committed: json!([{"op": "remove", "path": "/bias/1"}]),
        },
        Refusal {
            name: "set past the end",
            write: |c| {
                c.insert("gain".into(), vec![1.0])?;
                c.at("bias")?.set(5, 1.0)?;
                Ok(())
            },
            path: "/bias/5",
            kind: MutationErrorKind::IndexOutOfRange { index: 5, len: 2 },
            committed: json!([{"op": "add", "path": "/gain", "value": [1.0]}]),
        },
        Refusal {
            name: "insert past the end",
            write: |c| c.at("bias")?.insert(3, 1.0),
            path: "/bias/3",
            kind: MutationErrorKind::IndexOutOfRange { index: 3, len: 2 },
            committed: json!([]),
        },
        Refusal {
            name: "a missing key",
            write: |c| c.at("a/b")?.push(1.0),
            path: "/a~1b",
            kind: MutationErrorKind::NoSuchKey { key: "a/b".into() },
            committed: json!([]),
        },
    ];
    for refusal in refusals {
        let mut replica = Replica::new(channels());
        let err = replica.sync.try_mutate(refusal.write).unwrap_err();
        assert_eq!(
            (err.path(), err.kind()),
            (refusal.path, &refusal.kind),
            "{}",
            refusal.name
        );
        assert_eq!(
            replica.take(),
            messages_of(&refusal.committed),
            "{}",
            refusal.name
        );
    }
}

#[test]
fn a_none_on_the_way_is_refused_at_its_path() {
    let mut replica = Replica::new(vec![Some(Box::default()), None] as Slots);
    let err = replica
        .sync
        .try_mutate(|s| {
            s.at(0)?.at()?.insert("k".into(), 1)?;
            s.at(1)?.at()?.insert("k".into(), 1)?;
            Ok(())
        })
        .unwrap_err();
    assert_eq!((err.path(), err.kind()), ("/1", &MutationErrorKind::IsNone));
    assert_eq!(
        replica.take(),
        [json!([{"op": "add", "path": "/0/k", "value": 1}])]
    );
}

// Batches.

#[test]
fn a_batch_commits_its_mutations_as_one_message_on_drop() {
    let mut replica = Replica::new(channels());
    let batch = replica.sync.batch();
    replica
        .sync
        .try_mutate(|c| c.at("bias")?.set(0, 1.0))
        .unwrap();
    replica.sync.mutate(|_| ()); // records nothing
    replica
        .sync
        .try_mutate(|c| c.insert("gain".into(), vec![2.0]).map(drop))
        .unwrap();
    replica
        .sync
        .try_mutate(|c| c.at("bias")?.set(0, 1.5))
        .unwrap();
    replica.assert_quiet();
    // The state already holds the changes; only the message waits.
    assert_eq!(replica.sync.read()["bias"], [1.5, 0.5]);
    drop(batch);
    assert_eq!(
        replica.take(),
        [json!([
            {"op": "replace", "path": "/bias/0", "value": 1.0},
            {"op": "add", "path": "/gain", "value": [2.0]},
            {"op": "replace", "path": "/bias/0", "value": 1.5}
        ])]
    );
    // An empty batch commits nothing.
    drop(replica.sync.batch());
    assert_eq!(replica.take(), Vec::<Value>::new());
}

#[test]
fn nested_batches_commit_at_the_outermost_drop() {
    let mut replica = Replica::new(channels());
    let outer = replica.sync.batch();
    replica
        .sync
        .try_mutate(|c| c.at("bias")?.push(1.0))
        .unwrap();
    {
        let _inner = replica.sync.batch();
        replica
            .sync
            .try_mutate(|c| c.at("bias")?.push(2.0))
            .unwrap();
        let _innermost = replica.sync.batch();
        replica
            .sync
            .try_mutate(|c| c.at("bias")?.push(3.0))
            .unwrap();
    }
    replica.assert_quiet();
    replica
        .sync
        .try_mutate(|c| c.at("bias")?.push(4.0))
        .unwrap();
    replica.assert_quiet();
    drop(outer);
    assert_eq!(
        replica.take(),
        [json!([
            {"op": "add", "path": "/bias/2", "value": 1.0},
            {"op": "add", "path": "/bias/3", "value": 2.0},
            {"op": "add", "path": "/bias/4", "value": 3.0},
            {"op": "add", "path": "/bias/5", "value": 4.0}
        ])]
    );
    // After the batch, each mutate is its own message again.
    replica
        .sync
        .try_mutate(|c| c.at("bias")?.set(0, 9.0))
        .unwrap();
    assert_eq!(replica.take().len(), 1);
}

#[test]
fn a_joiner_during_a_batch_gets_the_last_commit_then_the_batch() {
    let mut replica = Replica::new(channels());
    replica
        .sync
        .try_mutate(|c| c.at("bias")?.set(1, 1.0))
        .unwrap();
    replica.take();
    let committed = replica.document.clone();

    let batch = replica.sync.batch();
    replica
        .sync
        .try_mutate(|c| c.at("bias")?.set(0, 2.0))
        .unwrap();
    let (snapshot, patches) = replica.sync.subscribe_channel();
    replica
        .sync
        .try_mutate(|c| c.insert("gain".into(), vec![3.0]).map(drop))
        .unwrap();
    // The joiner starts from version 1, without the pending changes.
    assert_eq!(snapshot.version(), 1);
    let mut joiner: Value = serde_json::from_str(snapshot.document_json()).unwrap();
    assert_eq!(joiner, committed);
    drop(batch);

    // Then the whole batch as version 2: no gap, no repeat.
    let received: Vec<Committed> = patches.try_iter().collect();
    assert_eq!(received.len(), 1);
    check_message(&received[0], 2);
    apply(&mut joiner, received[0].ops()).unwrap();
    assert_eq!(joiner, state_json(&replica.sync));
    assert_eq!(replica.take().len(), 1);
}

#[test]
fn a_batch_joins_the_mutations_of_every_thread() {
    // `LabSync` has no async runtime here (tokio is no dependency of the
    // core), so threads stand in for tasks: a batch held across an
    // `.await` is a batch open while other code mutates, and a task
    // resumed on another worker drops the guard on another thread. The
    // batch belongs to the `LabSync`, not to a thread: the other thread's
    // mutation joins it, and all of it lands in one message when the guard
    // drops, wherever that is.
    let mut replica = Replica::new(channels());
    let batch = replica.sync.batch();
    replica
        .sync
        .try_mutate(|c| c.at("bias")?.set(0, 1.0))
        .unwrap();

    let (mutated, wait_mutated) = mpsc::channel();
    let (release, wait_release) = mpsc::channel::<()>();
    let sync = replica.sync.clone();
    let worker = thread::spawn(move || {
        sync.try_mutate(|c| c.insert("gain".into(), vec![2.0]).map(drop))
            .unwrap();
        mutated.send(()).unwrap();
        wait_release.recv().unwrap();
        drop(batch);
    });

    wait_mutated.recv().unwrap();
    replica.assert_quiet();
    replica
        .sync
        .try_mutate(|c| c.at("bias")?.set(1, 3.0))
        .unwrap();
    replica.assert_quiet();
    release.send(()).unwrap();
    worker.join().unwrap();
    assert_eq!(
        replica.take(),
        [json!([
            {"op": "replace", "path": "/bias/0", "value": 1.0},
            {"op": "add", "path": "/gain", "value": [2.0]},
            {"op": "replace", "path": "/bias/1", "value": 3.0}
        ])]
    );
}

#[test]
fn a_batch_guard_moved_into_a_mutate_closure_ends_with_it() {
    let mut replica = Replica::new(channels());
    let batch = replica.sync.batch();
    replica
        .sync
        .try_mutate(|c| c.at("bias")?.push(1.0))
        .unwrap();
    replica
        .sync
        .try_mutate(move |c| {
            let _batch = batch;
            c.at("bias")?.push(2.0)
        })
        .unwrap();
    assert_eq!(
        replica.take(),
        [json!([
            {"op": "add", "path": "/bias/2", "value": 1.0},
            {"op": "add", "path": "/bias/3", "value": 2.0}
        ])]
    );
    replica
        .sync
        .try_mutate(|c| c.at("bias")?.push(3.0))
        .unwrap();
    assert_eq!(replica.take().len(), 1, "the batch is over");
}

// Panics.

/// Runs a write that panics with "boom": the panic reaches the caller,
/// what it recorded before is committed (or, in a batch, at the batch's
/// end), and the `LabSync` goes on working.
#[track_caller]
fn check_panic(name: &str, write: Write<Channels>, committed: Value) {
    for in_batch in [false, true] {
        let mut replica = Replica::new(channels());
        let batch = in_batch.then(|| replica.sync.batch());
        let payload = catch_unwind(AssertUnwindSafe(|| replica.sync.try_mutate(write)))
            .expect_err("the panic reaches the caller");
        assert_eq!(panic_text(&*payload), "boom", "{name}");
        if batch.is_some() {
            replica.assert_quiet();
        }
        drop(batch);
        assert_eq!(replica.take(), messages_of(&committed), "{name}");
        // Not poisoned: the next mutation commits normally.
        replica
            .sync
            .try_mutate(|c| c.insert("after".into(), vec![1.0]).map(drop))
            .unwrap();
        assert_eq!(
            replica.take(),
            [json!([{"op": "add", "path": "/after", "value": [1.0]}])],
            "{name}"
        );
    }
}

#[test]
fn a_panicking_closure_commits_what_it_recorded() {
    check_panic(
        "after two writes",
        |c| {
            c.at("bias")?.set(0, 2.0)?;
            c.insert("gain".into(), vec![1.0])?;
            panic!("boom")
        },
        json!([
            {"op": "replace", "path": "/bias/0", "value": 2.0},
            {"op": "add", "path": "/gain", "value": [1.0]}
        ]),
    );
    check_panic("before any write", |_| panic!("boom"), json!([]));
    check_panic(
        "in a sort comparator",
        |c| {
            c.at("bias")?.push(-1.0)?;
            c.at("bias")?.sort_by(|_, _| panic!("boom"));
            Ok(())
        },
        // The list is replaced whole with whatever order the sort left;
        // the push before it is inside that replace, so it is dropped.
        json!([
            {"op": "replace", "path": "/bias", "value": [0.0, 0.5, -1.0]}
        ]),
    );
}

// Re-entrant calls.

/// A call into a `LabSync`.
type Call = fn(&LabSync<Channels>);

#[test]
fn calling_back_into_the_same_sync_panics_instead_of_deadlocking() {
    let calls: [(&str, Call); 11] = [
        ("read", |s| drop(s.read())),
        ("mutate", |s| s.mutate(|_| ())),
        ("try_mutate", |s| drop(s.try_mutate(|_| Ok(())))),
        ("batch", |s| drop(s.batch())),
        ("version", |s| {
            let _ = s.version();
        }),
        ("snapshot", |s| drop(s.snapshot())),
        ("since", |s| drop(s.since(0))),
        ("publish", |s| {
            let _ = s.publish();
        }),
        ("verify_mirror", |s| drop(s.verify_mirror())),
        ("load_state", |s| drop(s.load_state(json!({})))),
        ("subscribe", |s| drop(s.subscribe(|_| ()))),
    ];
    let mut replica = Replica::new(channels());
    for (n, (name, call)) in calls.into_iter().enumerate() {
        let sync = replica.sync.clone();
        let value = n as f64;
        let payload = catch_unwind(AssertUnwindSafe(|| {
            replica.sync.try_mutate(|c| {
                c.at("bias")?.set(0, value)?;
                call(&sync);
                c.at("bias")?.set(1, value)
            })
        }))
        .expect_err(name);
        assert!(panic_text(&*payload).starts_with(REENTRANT), "{name}");
        // The write before the call is committed, the one after never ran.
        let expected = if n == 0 {
            vec![]
        } else {
            vec![json!([{"op": "replace", "path": "/bias/0", "value": value}])]
        };
        assert_eq!(replica.take(), expected, "{name}");
    }
    // Still usable.
    replica
        .sync
        .try_mutate(|c| c.at("bias")?.set(1, 7.0))
        .unwrap();
    assert_eq!(replica.take().len(), 1);
    assert_eq!(replica.sync.read()["bias"], [10.0, 7.0]);
}

#[test]
fn a_listener_calling_back_is_removed_instead_of_deadlocking() {
    let mut replica = Replica::new(channels());
    let sync = replica.sync.clone();
    let calls = Arc::new(Mutex::new(0));
    let counted = calls.clone();
    let (_, subscription) = replica.sync.subscribe(move |_| {
        *counted.lock().unwrap() += 1;
        sync.version();
    });
    for value in [1.0, 2.0] {
        replica
            .sync
            .try_mutate(|c| c.at("bias")?.set(0, value))
            .unwrap();
        assert_eq!(replica.take().len(), 1);
    }
    assert_eq!(*calls.lock().unwrap(), 1);
    drop(subscription);
}

#[test]
fn another_sync_can_be_used_inside_a_mutate_closure() {
    let mut a = Replica::new(channels());
    let mut b = Replica::new(Slots::new());
    a.sync
        .try_mutate(|c| {
            c.at("bias")?.set(0, 3.0)?;
            b.sync.try_mutate(|s| s.push(None))?;
            assert_eq!(b.sync.read().len(), 1);
            assert_eq!(b.sync.version(), 1);
            b.sync.try_mutate(|s| s.push(None))
        })
        .unwrap();
    assert_eq!(
        a.take(),
        [json!([{"op": "replace", "path": "/bias/0", "value": 3.0}])]
    );
    assert_eq!(
        b.take(),
        [
            json!([{"op": "add", "path": "/0", "value": null}]),
            json!([{"op": "add", "path": "/1", "value": null}])
        ]
    );
}

// Concurrent writers.

#[test]
fn concurrent_writers_lose_nothing_and_subscribers_see_every_version_once() {
    const THREADS: usize = 4;
    const WRITES: usize = 250;
    const TOTAL: u64 = (THREADS * WRITES) as u64;
    let initial: Channels = [
        ("shared".to_owned(), Vec::new()),
        ("own".to_owned(), vec![-1.0; THREADS]),
    ]
    .into();
    let initial_json = serde_json::to_value(&initial).unwrap();
    let sync = LabSync::new(initial);
    let (snapshot, patches) = sync.subscribe_channel();
    assert_eq!(snapshot.version(), 0);

    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let sync = sync.clone();
            thread::spawn(move || {
                for i in 0..WRITES {
                    let value = (t * WRITES + i) as f64;
                    sync.try_mutate(|c| {
                        c.at("shared")?.push(value)?;
                        c.at("own")?.set(t, i as f64)?;
                        c.insert(format!("t{t}/{i}"), vec![value]).map(drop)
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    // A client joining mid-stream starts right after its snapshot.
    while sync.version() < TOTAL / 2 {
        thread::yield_now();
    }
    let (joined, joiner_patches) = sync.subscribe_channel();
    for writer in writers {
        writer.join().unwrap();
    }

    let state = sync.read().clone();
    let mut shared = state["shared"].clone();
    shared.sort_by(f64::total_cmp);
    let all: Vec<f64> = (0..THREADS * WRITES).map(|n| n as f64).collect();
    assert_eq!(shared, all, "no lost push");
    assert_eq!(state["own"], [(WRITES - 1) as f64; THREADS]);
    for t in 0..THREADS {
        for i in 0..WRITES {
            assert_eq!(state[&format!("t{t}/{i}")], [(t * WRITES + i) as f64]);
        }
    }
    assert_eq!(sync.version(), TOTAL);
    assert_eq!(sync.verify_mirror(), Ok(()));
    let final_json = serde_json::to_value(&state).unwrap();

    let mut document = initial_json;
    let mut messages = Vec::new();
    for (committed, version) in patches.try_iter().zip(1..) {
        check_message(&committed, version);
        assert_eq!(committed.ops().len(), 3);
        apply(&mut document, committed.ops()).unwrap();
        messages.push(committed.message_shared());
    }
    assert_eq!(messages.len() as u64, TOTAL, "every version exactly once");
    assert_eq!(document, final_json);
    assert_eq!(sync.since(0), Since::Patches(messages));

    let mut document: Value = serde_json::from_str(joined.document_json()).unwrap();
    for (committed, version) in joiner_patches.try_iter().zip(joined.version() + 1..) {
        check_message(&committed, version);
        apply(&mut document, committed.ops()).unwrap();
    }
    assert_eq!(document, final_json, "the joiner has no gap");
}

// `load_state`.

#[test]
fn load_state_commits_one_replace_of_the_whole_document() {
    let loads = [
        json!({"bias": [1.5], "gain/db": [2.0, 3.0]}),
        json!({}),
        // The same document again is still a reset: one more version.
        json!({}),
        // The message carries the state's JSON form: 1 is an f64 here.
        json!({"z": [1], "a": []}),
    ];
    let expected = [
        json!({"bias": [1.5], "gain/db": [2.0, 3.0]}),
        json!({}),
        json!({}),
        json!({"a": [], "z": [1.0]}),
    ];
    let mut replica = Replica::new(channels());
    for (document, value) in loads.into_iter().zip(expected) {
        let version = replica.sync.load_state(document).unwrap();
        assert_eq!(version, replica.version + 1);
        assert_eq!(
            replica.take(),
            [json!([{"op": "replace", "path": "", "value": value}])]
        );
        assert_eq!(state_json(&replica.sync), value);
    }
}

/// Loads each document: refused with the JSON Pointer of the bad value and
/// serde's message; the state, the version and the subscribers untouched.
#[track_caller]
fn check_load_errors<S>(state: S, cases: &[(Value, &str, &str)])
where
    S: Reactive + serde::de::DeserializeOwned + Send + 'static,
{
    let mut replica = Replica::new(state);
    let before = state_json(&replica.sync);
    for (document, path, message) in cases {
        match replica.sync.load_state(document.clone()) {
            Err(LoadError::Deserialize {
                path: got_path,
                message: got_message,
            }) => assert_eq!((&*got_path, &*got_message), (*path, *message)),
            other => panic!("{document} was not refused: {other:?}"),
        }
        assert_eq!(replica.take(), Vec::<Value>::new(), "{document}");
        assert_eq!(replica.version, 0);
        assert_eq!(state_json(&replica.sync), before);
    }
}

#[test]
fn load_state_refuses_a_misfit_document_at_its_path() {
    // `LoadError::Invalid` (a constraint) needs the derive: JSON has no NaN,
    // and ranges are declared on struct fields. It is tested there.
    check_load_errors(
        channels(),
        &[
            (
                json!({"bias": [1.0, "x"]}),
                "/bias/1",
                "invalid type: string \"x\", expected f64",
            ),
            (
                json!({"bias": [], "a~b/c": [1.0, 2.0, true]}),
                "/a~0b~1c/2",
                "invalid type: boolean `true`, expected f64",
            ),
            (
                json!({"bias": 1.0}),
                "/bias",
                "invalid type: floating point `1.0`, expected a sequence",
            ),
            (json!([1.0]), "", "invalid type: sequence, expected a map"),
        ],
    );
    check_load_errors(
        vec![None] as Slots,
        &[
            (
                json!([null, {"k": 1.5}]),
                "/1/k",
                "invalid type: floating point `1.5`, expected i64",
            ),
            (
                json!([{"k": 1}, "x"]),
                "/1",
                "invalid type: string \"x\", expected a map",
            ),
        ],
    );
}

#[test]
fn load_state_inside_a_batch_commits_the_pending_operations_first() {
    let mut replica = Replica::new(channels());
    let batch = replica.sync.batch();
    replica
        .sync
        .try_mutate(|c| c.at("bias")?.set(0, 1.0))
        .unwrap();
    replica.sync.load_state(json!({"bias": [2.0]})).unwrap();
    replica
        .sync
        .try_mutate(|c| c.at("bias")?.push(3.0))
        .unwrap();
    drop(batch);
    assert_eq!(
        replica.take(),
        [
            json!([{"op": "replace", "path": "/bias/0", "value": 1.0}]),
            json!([{"op": "replace", "path": "", "value": {"bias": [2.0]}}]),
            json!([{"op": "add", "path": "/bias/1", "value": 3.0}])
        ]
    );
}

// `publish`.

#[test]
fn publish_commits_nothing_when_the_mirror_is_in_sync() {
    let mut replica = Replica::new(channels());
    assert_eq!(replica.sync.publish(), 0);
    let steps: [Write<Channels>; 3] = [
        |c| c.at("bias")?.push(1.0),
        |c| c.insert("gain".into(), vec![2.0]).map(drop),
        |c| {
            c.clear();
            Ok(())
        },
    ];
    for step in steps {
        replica.sync.try_mutate(step).unwrap();
        assert_eq!(replica.take().len(), 1);
        assert_eq!(replica.sync.publish(), replica.version);
        assert_eq!(replica.take(), Vec::<Value>::new());
    }
    replica.sync.load_state(json!({"bias": [4.0]})).unwrap();
    replica.take();
    assert_eq!(replica.sync.publish(), 4);
    assert_eq!(replica.take(), Vec::<Value>::new());
}

// Subscribers and the patch log.

/// A listener that keeps the versions it was handed.
fn recording_listener() -> (Arc<Mutex<Vec<u64>>>, impl FnMut(&Committed) + Send) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    (seen, move |c: &Committed| {
        log.lock().unwrap().push(c.version())
    })
}

fn set_bias(sync: &LabSync<Channels>, value: f64) {
    sync.try_mutate(|c| c.at("bias")?.set(0, value)).unwrap();
}

#[test]
fn a_subscriber_starts_right_after_its_snapshot() {
    let sync = LabSync::new(channels());
    for value in [1.0, 2.0, 3.0] {
        set_bias(&sync, value);
    }
    let (seen, listener) = recording_listener();
    let (snapshot, _subscription) = sync.subscribe(listener);
    assert_eq!(snapshot.version(), 3);
    let document: Value = serde_json::from_str(snapshot.document_json()).unwrap();
    assert_eq!(document, state_json(&sync));
    set_bias(&sync, 4.0);
    set_bias(&sync, 5.0);
    assert_eq!(*seen.lock().unwrap(), [4, 5]);
}

#[test]
fn dropping_the_subscription_stops_delivery() {
    let sync = LabSync::new(channels());
    let (seen, listener) = recording_listener();
    let (_, subscription) = sync.subscribe(listener);
    set_bias(&sync, 1.0);
    drop(subscription);
    set_bias(&sync, 2.0);
    assert_eq!(*seen.lock().unwrap(), [1]);

    // A subscription that outlives its `LabSync` drops quietly.
    let (_, subscription) = LabSync::new(channels()).subscribe(|_| ());
    drop(subscription);
}

#[test]
fn a_panicking_listener_is_removed_and_the_others_still_receive() {
    let sync = LabSync::new(channels());
    let (first, listener) = recording_listener();
    let (_, _first) = sync.subscribe(listener);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let log = calls.clone();
    let (_, _panicking) = sync.subscribe(move |c| {
        log.lock().unwrap().push(c.version());
        assert!(c.version() < 2, "listener fails at version 2");
    });
    let (last, listener) = recording_listener();
    let (_, _last) = sync.subscribe(listener);
    for value in [1.0, 2.0, 3.0] {
        set_bias(&sync, value);
    }
    assert_eq!(*calls.lock().unwrap(), [1, 2]);
    assert_eq!(*first.lock().unwrap(), [1, 2, 3]);
    assert_eq!(*last.lock().unwrap(), [1, 2, 3]);
    assert_eq!(sync.verify_mirror(), Ok(()));
}

#[test]
fn since_returns_the_logged_messages() {
    let mut replica = Replica::new(channels());
    for value in [1.0, 2.0, 3.0, 4.0] {
        set_bias(&replica.sync, value);
        replica.take();
    }
    for version in 0..=4 {
        assert_eq!(
            replica.sync.since(version),
            Since::Patches(replica.messages[version as usize..].to_vec())
        );
    }
    assert_eq!(replica.sync.since(5), Since::SnapshotNeeded);

    // A bounded log answers what it holds, and a snapshot before that.
    let config = StoreConfig::default().log_messages(2);
    let mut replica = Replica::of(LabSync::with_config(channels(), config).unwrap());
    for value in [1.0, 2.0, 3.0, 4.0] {
        set_bias(&replica.sync, value);
        replica.take();
    }
    assert_eq!(replica.sync.since(1), Since::SnapshotNeeded);
    assert_eq!(
        replica.sync.since(2),
        Since::Patches(replica.messages[2..].to_vec())
    );
}

// Metadata.

#[test]
fn patches_carry_empty_metadata() {
    let sync = LabSync::new(channels());
    let (_, patches) = sync.subscribe_channel();
    set_bias(&sync, 1.0);
    {
        let _batch = sync.batch();
        set_bias(&sync, 2.0);
        set_bias(&sync, 3.0);
    }
    sync.load_state(json!({"bias": [4.0]})).unwrap();
    let received: Vec<Committed> = patches.try_iter().collect();
    assert_eq!(received.len(), 3);
    for committed in &received {
        assert!(committed.meta().is_empty());
        let message: Value = serde_json::from_str(committed.message()).unwrap();
        for key in ["originClientId", "requestId", "command"] {
            assert!(message.get(key).is_none(), "{key} in {message}");
        }
    }
}

// Construction.

#[test]
fn a_non_finite_initial_state_is_refused_at_its_path() {
    let state: Channels = [("bias".to_owned(), vec![0.0, f64::NAN])].into();
    let err = LabSync::try_new(state).unwrap_err();
    assert_eq!(
        (err.path(), err.kind()),
        ("/bias/1", &MutationErrorKind::NonFinite)
    );
    let payload = catch_unwind(|| LabSync::new(vec![f64::INFINITY])).unwrap_err();
    assert!(panic_text(&*payload).starts_with("the initial state of LabSync is invalid"));
}
