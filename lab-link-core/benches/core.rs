//! Benchmarks lab-link-core (apply, diff, snapshot, commit) side by side with the `json_patch` crate.
//!
//! Every input is generated in code from a fixed seed, once, before any
//! timing starts (see `main`, which also checks the input sizes and that
//! both libraries produce the same documents). The groups:
//!
//! - `replace_depth_4`: one `replace` at `/channels/2/settings/bias_voltage`
//!   on a ~4 KB instrument state: [`apply`], [`apply_owned`],
//!   `json_patch::patch`.
//! - `apply_100_ops`: one patch of 100 mixed operations on a ~100 KB state,
//!   applied to a fresh clone per iteration (the clone is not timed).
//! - `diff_1mb`: [`diff`] vs `json_patch::diff` of two ~1 MB states that
//!   differ in a few hundred places.
//! - `snapshot_1mb`: what [`Store::snapshot`] costs on a cache miss
//!   (`serde_json::to_string`, and a miss on a fresh store) and on a hit.
//! - `store_commit`: [`Store::commit`] of one depth-4 `replace` including the
//!   serialised patch message, vs the same work done with `json_patch`.
//!
//! Run with `cargo bench -p lab-link-core --bench core -j 2`.

use std::hint::black_box;
use std::sync::{Arc, LazyLock};

use divan::Bencher;
use lab_link_core::{apply, apply_owned, diff, PatchMeta, PatchOp, Store};
use serde::Serialize;
use serde_json::{json, Value};

fn main() {
    setup_report();
    divan::main();
}

// ---------------------------------------------------------------------------
// Deterministic inputs
// ---------------------------------------------------------------------------

/// SplitMix64: a tiny deterministic generator, so the inputs are the same
/// on every run without a `rand` dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A float in `[lo, hi)`, rounded to 4 decimals like an instrument
    /// reading.
    fn float(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((lo + unit * (hi - lo)) * 1e4).round() / 1e4
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

const RANGES: [&str; 6] = ["auto", "1mV", "10mV", "100mV", "1V", "10V"];
const GAINS: [u64; 7] = [1, 2, 5, 10, 20, 50, 100];
const EVENTS: [&str; 5] = [
    "sweep started",
    "sweep finished",
    "bias changed",
    "range changed",
    "interlock ok",
];

fn channel(index: usize, rng: &mut Rng) -> Value {
    json!({
        "id": index,
        "label": format!("ch{index:03}"),
        "active": rng.chance(80),
        "settings": {
            "bias_voltage": rng.float(-1.0, 1.0),
            "gain": rng.pick(&GAINS),
            "range": rng.pick(&RANGES),
            "offset_mv": rng.float(-5.0, 5.0),
            "coupling": if rng.chance(70) { "dc" } else { "ac" },
            "filter": {
                "kind": "lowpass",
                "cutoff_hz": rng.float(10.0, 10_000.0),
                "order": 2
            }
        },
        "readings": {
            "last": rng.float(-1.0, 1.0),
            "min": rng.float(-1.0, 0.0),
            "max": rng.float(0.0, 1.0),
            "unit": "V",
            "timestamp": format!("2024-05-{:02}T12:{:02}:{:02}Z", 1 + rng.below(28), rng.below(60), rng.below(60))
        },
        "labels": {
            "location": format!("rack-{}", index / 8),
            "sensor": format!("SN{:06}", rng.below(1_000_000))
        },
        "calibration": {
            "date": format!("2024-0{}-15", 1 + rng.below(9)),
            "coefficients": [rng.float(-0.01, 0.01), rng.float(0.99, 1.01), rng.float(-1e-3, 1e-3)]
        }
    })
}

/// A realistic instrument state: `channels` channel objects, a `history` of
/// log events and a long `samples` array of readings.
fn instrument(channels: usize, history: usize, samples: usize, seed: u64) -> Value {
    let mut rng = Rng(seed);
    json!({
        "name": "cryostat-3",
        "serial": "LL-2024-0042",
        "firmware": "2.7.1",
        "enabled": true,
        "mode": "sweep",
        "status": "idle",
        "temperature_k": 4.2,
        "sweep": {"start_v": -1.0, "stop_v": 1.0, "steps": 201, "dwell_ms": 50, "direction": "up"},
        "channels": (0..channels).map(|i| channel(i, &mut rng)).collect::<Vec<_>>(),
        "presets": {},
        "history": (0..history)
            .map(|i| json!({"seq": i, "event": rng.pick(&EVENTS), "value": rng.float(-1.0, 1.0)}))
            .collect::<Vec<_>>(),
        "archive": [],
        "samples": (0..samples).map(|_| rng.float(-10.0, 10.0)).collect::<Vec<_>>(),
    })
}

/// The same patch, parsed once by each library from one JSON text.
struct Patches {
    json: Value,
    ours: Vec<PatchOp>,
    theirs: json_patch::Patch,
}

impl Patches {
    fn new(json: Value) -> Self {
        Self {
            ours: serde_json::from_value(json.clone()).expect("lab-link parses the patch"),
            theirs: serde_json::from_value(json.clone()).expect("json_patch parses the patch"),
            json,
        }
    }
}

const REPLACE_PATH: &str = "/channels/2/settings/bias_voltage";

/// ~4 KB: six channels and a short history.
static SMALL: LazyLock<Value> = LazyLock::new(|| instrument(8, 4, 0, 1));
/// ~100 KB.
static MEDIUM: LazyLock<Value> = LazyLock::new(|| instrument(185, 250, 1_000, 2));
/// ~1 MB, and the same with a few hundred scattered changes.
static LARGE_FROM: LazyLock<Value> = LazyLock::new(|| instrument(1_800, 1_000, 28_000, 3));
static LARGE_TO: LazyLock<Value> = LazyLock::new(|| scatter_changes(&LARGE_FROM, 4));

static REPLACE: LazyLock<Patches> = LazyLock::new(|| {
    Patches::new(json!([{"op": "replace", "path": REPLACE_PATH, "value": 0.125}]))
});
static MIXED: LazyLock<Patches> = LazyLock::new(|| Patches::new(mixed_patch(&MEDIUM, 5)));
/// A two-operation patch that moves the ~600 KB `channels` subtree of the
/// 1 MB state: the undo log must not copy what it moves.
static MOVE_LARGE: LazyLock<Patches> = LazyLock::new(|| {
    Patches::new(json!([
        {"op": "move", "from": "/channels", "path": "/archive/-"},
        {"op": "test", "path": "/status", "value": "idle"}
    ]))
});

/// The operation mix of [`mixed_patch`], per 100 operations: what a running
/// instrument produces (mostly `replace`, some `test`, `add` and `remove`,
/// a few `copy` and `move`).
const MIX: [(&str, usize); 6] = [
    ("replace", 50),
    ("test", 15),
    ("add", 15),
    ("remove", 10),
    ("copy", 5),
    ("move", 5),
];

/// A patch of 100 operations in the [`MIX`] proportions, in a seeded random
/// order, each valid on `doc` after the ones before it.
fn mixed_patch(doc: &Value, seed: u64) -> Value {
    let mut rng = Rng(seed);
    let mut kinds: Vec<&str> = MIX
        .iter()
        .flat_map(|&(kind, n)| std::iter::repeat_n(kind, n))
        .collect();
    for i in (1..kinds.len()).rev() {
        kinds.swap(i, rng.below(i + 1));
    }
    let mut scratch = doc.clone();
    let mut ops = Vec::with_capacity(kinds.len());
    let mut serial = 0;
    for kind in kinds {
        // Retry with other channels until the operation is valid at this
        // point of the patch (e.g. a label already removed is not removed
        // again).
        loop {
            serial += 1;
            let op = random_op(kind, &scratch, serial, &mut rng);
            let parsed: PatchOp = serde_json::from_value(op.clone()).expect("well-formed op");
            if apply(&mut scratch, &[parsed]).is_ok() {
                ops.push(op);
                break;
            }
        }
    }
    Value::Array(ops)
}

fn random_op(kind: &str, doc: &Value, serial: usize, rng: &mut Rng) -> Value {
    let c = rng.below(doc["channels"].as_array().map_or(1, Vec::len));
    match kind {
        "replace" => {
            let (leaf, value) = match rng.below(5) {
                0 => ("settings/bias_voltage", json!(rng.float(-1.0, 1.0))),
                1 => ("settings/gain", json!(rng.pick(&GAINS))),
                2 => ("active", json!(rng.chance(50))),
                3 => ("readings/last", json!(rng.float(-1.0, 1.0))),
                _ => ("settings/filter/cutoff_hz", json!(rng.float(10.0, 1e4))),
            };
            json!({"op": "replace", "path": format!("/channels/{c}/{leaf}"), "value": value})
        }
        "test" => {
            let path = match rng.below(3) {
                0 => format!("/channels/{c}/settings/gain"),
                1 => format!("/channels/{c}/label"),
                _ => "/status".to_owned(),
            };
            let value = doc.pointer(&path).cloned().unwrap_or(Value::Null);
            json!({"op": "test", "path": path, "value": value})
        }
        "add" => match rng.below(3) {
            0 => json!({"op": "add", "path": "/history/-", "value": {
                "seq": 10_000 + serial, "event": rng.pick(&EVENTS), "value": rng.float(-1.0, 1.0)
            }}),
            1 => json!({"op": "add", "path": format!("/channels/{c}/labels/note_{serial}"),
                "value": format!("checked by op {serial}")}),
            _ => json!({"op": "add", "path": format!("/channels/{c}/calibration/coefficients/1"),
                "value": rng.float(-1e-3, 1e-3)}),
        },
        "remove" => match rng.below(2) {
            0 => json!({"op": "remove", "path": "/history/0"}),
            _ => json!({"op": "remove", "path": format!("/channels/{c}/labels/sensor")}),
        },
        "copy" => json!({"op": "copy", "from": format!("/channels/{c}/settings"),
            "path": format!("/presets/p{serial}")}),
        "move" => match rng.below(2) {
            0 => json!({"op": "move", "from": "/history/0", "path": "/archive/-"}),
            _ => json!({"op": "move", "from": format!("/channels/{c}/labels/location"),
                "path": format!("/channels/{c}/labels/site")}),
        },
        other => unreachable!("no operation {other}"),
    }
}

/// A copy of `from` with a few hundred scattered changes: replaced values,
/// added and removed members, and one insertion in the middle of the long
/// `samples` array.
fn scatter_changes(from: &Value, seed: u64) -> Value {
    let mut rng = Rng(seed);
    let mut to = from.clone();
    let channels = to["channels"].as_array_mut().expect("channels");
    let n = channels.len();
    for _ in 0..250 {
        let ch = &mut channels[rng.below(n)];
        match rng.below(4) {
            0 => ch["settings"]["bias_voltage"] = json!(rng.float(-1.0, 1.0)),
            1 => ch["readings"]["last"] = json!(rng.float(-1.0, 1.0)),
            2 => ch["active"] = json!(rng.chance(50)),
            _ => ch["settings"]["range"] = json!(rng.pick(&RANGES)),
        }
    }
    for i in 0..50 {
        let ch = &mut channels[rng.below(n)];
        ch["labels"]
            .as_object_mut()
            .expect("labels")
            .insert(format!("note_{i}"), json!("recalibrated"));
    }
    for _ in 0..50 {
        let ch = &mut channels[rng.below(n)];
        ch["readings"]
            .as_object_mut()
            .expect("readings")
            .shift_remove("timestamp");
    }
    to["status"] = json!("running");
    let samples = to["samples"].as_array_mut().expect("samples");
    samples.insert(samples.len() / 2, json!(0.5));
    to
}

fn json_len(value: &impl Serialize) -> usize {
    serde_json::to_string(value).expect("serialises").len()
}

/// Builds every input before timing starts, checks sizes and equivalence,
/// and prints what the benchmarks run on.
fn setup_report() {
    let small = json_len(&*SMALL);
    let medium = json_len(&*MEDIUM);
    let (from, to) = (json_len(&*LARGE_FROM), json_len(&*LARGE_TO));
    println!(
        "inputs: state {small} B, mixed-patch state {medium} B, diff from {from} B / to {to} B"
    );
    for (name, len) in [("diff/snapshot from", from), ("diff to", to)] {
        assert!(
            (900_000..=1_200_000).contains(&len),
            "{name} document is {len} bytes, not ~1 MB"
        );
    }

    // replace_depth_4: both libraries give the same document.
    let mut ours = SMALL.clone();
    apply(&mut ours, &REPLACE.ours).expect("ours applies the replace");
    let mut theirs = SMALL.clone();
    json_patch::patch(&mut theirs, &REPLACE.theirs).expect("json_patch applies the replace");
    assert_eq!(ours, theirs);
    assert_eq!(ours.pointer(REPLACE_PATH), Some(&json!(0.125)));

    // move_large_subtree: both libraries move the channels the same way.
    let mut ours = LARGE_FROM.clone();
    apply(&mut ours, &MOVE_LARGE.ours).expect("ours applies the move");
    let mut theirs = LARGE_FROM.clone();
    json_patch::patch(&mut theirs, &MOVE_LARGE.theirs).expect("json_patch applies the move");
    assert_eq!(ours, theirs);
    assert_eq!(ours["archive"][0], LARGE_FROM["channels"]);

    // apply_100_ops: the mix, and both libraries agree on the result.
    let mut mix = std::collections::BTreeMap::new();
    for op in MIXED.json.as_array().expect("array") {
        *mix.entry(op["op"].as_str().expect("op")).or_insert(0) += 1;
    }
    let mut ours = MEDIUM.clone();
    apply(&mut ours, &MIXED.ours).expect("ours applies the mixed patch");
    let mut owned = MEDIUM.clone();
    apply_owned(&mut owned, MIXED.ours.clone()).expect("ours applies the mixed patch (owned)");
    let mut theirs = MEDIUM.clone();
    json_patch::patch(&mut theirs, &MIXED.theirs).expect("json_patch applies the mixed patch");
    assert_eq!(ours, owned);
    assert_eq!(ours, theirs);
    println!("mixed patch: {} ops {mix:?}", MIXED.ours.len());

    // diff_1mb: both patches turn `from` into `to`.
    let ours_patch = diff(&LARGE_FROM, &LARGE_TO);
    let mut ours = LARGE_FROM.clone();
    apply(&mut ours, &ours_patch).expect("our diff applies");
    assert!(ours == *LARGE_TO, "our diff does not give the target");
    let theirs_patch = json_patch::diff(&LARGE_FROM, &LARGE_TO);
    let mut theirs = LARGE_FROM.clone();
    json_patch::patch(&mut theirs, &theirs_patch).expect("json_patch's diff applies");
    assert!(
        theirs == *LARGE_TO,
        "json_patch's diff does not give the target"
    );
    println!(
        "diff: ours {} ops ({} B), json_patch {} ops ({} B)",
        ours_patch.len(),
        json_len(&ours_patch),
        theirs_patch.0.len(),
        json_len(&theirs_patch),
    );

    // store_commit: the hand-made json_patch message is byte-identical.
    let meta = commit_meta();
    let mut store = Store::new(SMALL.clone());
    let committed = store
        .commit(REPLACE.ours.clone(), &meta)
        .expect("commit")
        .expect("non-empty");
    let message = json_patch_message(&REPLACE.theirs, 1, &meta);
    assert_eq!(committed.message(), message);
    println!("commit message: {} B", message.len());
}

// ---------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------

/// One `replace` at depth 4 on the ~4 KB state (the document is reused:
/// replacing the same value again leaves it the same).
#[divan::bench_group(sample_count = 1000, sample_size = 64, max_time = 10)]
mod replace_depth_4 {
    use super::*;

    #[divan::bench]
    fn ours_apply(bencher: Bencher) {
        let mut doc = SMALL.clone();
        let ops = &REPLACE.ours;
        bencher.bench_local(|| apply(black_box(&mut doc), black_box(ops)).is_ok());
    }

    /// The per-iteration clone of the operation vector is not timed.
    #[divan::bench]
    fn ours_apply_owned(bencher: Bencher) {
        let mut doc = SMALL.clone();
        bencher
            .with_inputs(|| REPLACE.ours.clone())
            .bench_local_values(|ops| apply_owned(black_box(&mut doc), ops).is_ok());
    }

    #[divan::bench]
    fn json_patch(bencher: Bencher) {
        let mut doc = SMALL.clone();
        let patch = &REPLACE.theirs.0;
        bencher.bench_local(|| ::json_patch::patch(black_box(&mut doc), black_box(patch)).is_ok());
    }
}

/// 100 mixed operations on a fresh clone of the ~100 KB state (the clone is
/// made, and the result dropped, outside the timing).
#[divan::bench_group(sample_count = 1000, max_time = 10)]
mod apply_100_ops {
    use super::*;

    #[divan::bench]
    fn ours_apply(bencher: Bencher) {
        let ops = &MIXED.ours;
        bencher
            .with_inputs(|| MEDIUM.clone())
            .bench_local_refs(|doc| apply(doc, black_box(ops)).is_ok());
    }

    #[divan::bench]
    fn ours_apply_owned(bencher: Bencher) {
        bencher
            .with_inputs(|| (MEDIUM.clone(), MIXED.ours.clone()))
            .bench_local_refs(|(doc, ops)| apply_owned(doc, std::mem::take(ops)).is_ok());
    }

    #[divan::bench]
    fn json_patch(bencher: Bencher) {
        let patch = &MIXED.theirs.0;
        bencher
            .with_inputs(|| MEDIUM.clone())
            .bench_local_refs(|doc| ::json_patch::patch(doc, black_box(patch)).is_ok());
    }
}

/// A `move` of a large subtree inside a two-operation patch, on a fresh
/// clone of the ~1 MB state (clone and drop outside the timing).
#[divan::bench_group(sample_count = 300, max_time = 10)]
mod move_large_subtree {
    use super::*;

    #[divan::bench]
    fn ours_apply(bencher: Bencher) {
        let ops = &MOVE_LARGE.ours;
        bencher
            .with_inputs(|| LARGE_FROM.clone())
            .bench_local_refs(|doc| apply(doc, black_box(ops)).is_ok());
    }

    #[divan::bench]
    fn json_patch(bencher: Bencher) {
        let patch = &MOVE_LARGE.theirs.0;
        bencher
            .with_inputs(|| LARGE_FROM.clone())
            .bench_local_refs(|doc| ::json_patch::patch(doc, black_box(patch)).is_ok());
    }
}

/// Diff of two ~1 MB states differing in a few hundred places.
#[divan::bench_group(sample_count = 300, max_time = 10)]
mod diff_1mb {
    use super::*;

    #[divan::bench]
    fn ours(bencher: Bencher) {
        let (from, to) = (&*LARGE_FROM, &*LARGE_TO);
        bencher.bench_local(|| diff(black_box(from), black_box(to)));
    }

    #[divan::bench]
    fn json_patch(bencher: Bencher) {
        let (from, to) = (&*LARGE_FROM, &*LARGE_TO);
        bencher.bench_local(|| ::json_patch::diff(black_box(from), black_box(to)));
    }
}

/// What the snapshot cache saves on the ~1 MB state.
#[divan::bench_group(sample_count = 300, max_time = 10)]
mod snapshot_1mb {
    use super::*;

    /// What `Store::snapshot` does on a cache miss.
    #[divan::bench]
    fn serde_json_to_string(bencher: Bencher) {
        let doc = &*LARGE_FROM;
        bencher.bench_local(|| serde_json::to_string(black_box(doc)).expect("serialises"));
    }

    /// `Store::snapshot` on a fresh store (a miss; the store is made
    /// outside the timing).
    #[divan::bench]
    fn store_miss(bencher: Bencher) {
        bencher
            .with_inputs(|| Store::new(LARGE_FROM.clone()))
            .bench_local_refs(|store| store.snapshot());
    }

    /// `Store::snapshot` when the version's snapshot is cached.
    #[divan::bench(sample_count = 1000)]
    fn store_hit(bencher: Bencher) {
        let store = Store::new(LARGE_FROM.clone());
        drop(store.snapshot());
        bencher.bench_local(|| black_box(&store).snapshot());
    }
}

fn commit_meta() -> PatchMeta {
    PatchMeta {
        origin_client_id: Some("3f0c9a7e".into()),
        request_id: Some("r1742".into()),
        command: Some("set_bias_voltage".into()),
    }
}

/// The `patch` wire message built around a `json_patch` patch, byte for
/// byte what `Store::commit` sends.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonPatchMessage<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    patch: &'a json_patch::Patch,
    version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin_client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a str>,
}

fn json_patch_message(patch: &json_patch::Patch, version: u64, meta: &PatchMeta) -> String {
    serde_json::to_string(&JsonPatchMessage {
        kind: "patch",
        patch,
        version,
        origin_client_id: meta.origin_client_id.as_deref(),
        request_id: meta.request_id.as_deref(),
        command: meta.command.as_deref(),
    })
    .expect("serialises")
}

fn state(name: &str) -> &'static Value {
    match name {
        "state_4kb" => &SMALL,
        "state_1mb" => &LARGE_FROM,
        other => unreachable!("no state {other}"),
    }
}

/// The per-mutation hot path: one depth-4 `replace` committed, message
/// serialised (the operation vector is cloned outside the timing).
#[divan::bench_group(sample_count = 1000, sample_size = 64, max_time = 10)]
mod store_commit {
    use super::*;

    #[divan::bench(args = ["state_4kb", "state_1mb"])]
    fn ours(bencher: Bencher, doc: &str) {
        let mut store = Store::new(state(doc).clone());
        let meta = commit_meta();
        bencher
            .with_inputs(|| REPLACE.ours.clone())
            .bench_local_values(|ops| store.commit(ops, black_box(&meta)).ok());
    }

    /// The same work with `json_patch`: serialise the identical message
    /// into a shared `Arc<str>`, then `json_patch::patch` (no patch log).
    #[divan::bench(args = ["state_4kb", "state_1mb"])]
    fn json_patch(bencher: Bencher, doc: &str) {
        let mut doc = state(doc).clone();
        let meta = commit_meta();
        let mut version = 0;
        bencher
            .with_inputs(|| REPLACE.theirs.clone())
            .bench_local_values(|patch| {
                version += 1;
                let message: Arc<str> = json_patch_message(&patch, version, &meta).into();
                ::json_patch::patch(&mut doc, &patch.0)
                    .ok()
                    .map(|()| message)
            });
    }
}
