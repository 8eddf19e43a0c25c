//! Property tests of the JSON Patch engine: `diff` round-trips, atomic
//! rollback of failing patches, JSON Pointer round-trips, and a differential
//! check of `apply` against the `json-patch` crate.
//!
//! The number of cases per property is proptest's default (256), or
//! `PROPTEST_CASES`.
//!
//! # Where RFC 6902 and `json-patch` disagree
//!
//! The differential checks allow exactly two differences, both cases where
//! lab-link follows the RFC and `json-patch` 5 does not (see
//! [`known_disagreement`]):
//!
//! - `test` compares numbers by value (RFC 6902 section 4.6: "numbers are
//!   considered equal if their values are numerically equal"), so `1`
//!   equals `1.0`; `json-patch` compares `serde_json::Value`s with `==`, for
//!   which they differ, and fails the `test`.
//! - `move` from `""` to `""`: lab-link treats a move onto its own location
//!   as a no-op once the location exists (as it does for every other
//!   path, `tests.json` "Move to same location has no effect"); `json-patch`
//!   removes the root first and fails.
//!
//! Key order is not compared with `json-patch`: it removes object members
//! with `swap_remove`, which reorders the remaining keys, while lab-link
//! keeps their order.

use std::cell::Cell;

use lab_link_core::patch::json_equal;
use lab_link_core::{apply, apply_owned, diff, JsonPointer, PatchError, PatchOp};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{Number, Value};

proptest! {
    #![proptest_config(config())]

    /// `diff(a, b)` turns `a` into `b`, by reference and by value.
    #[test]
    fn diff_then_apply_gives_the_target((a, b) in doc_pair()) {
        let patch = diff(&a, &b);
        let mut by_ref = a.clone();
        apply(&mut by_ref, &patch).map_err(fail)?;
        prop_assert_eq!(&by_ref, &b);
        let mut owned = a.clone();
        apply_owned(&mut owned, patch).map_err(fail)?;
        prop_assert_eq!(&owned, &b);
    }

    /// `json-patch` applies `diff(a, b)` to the same document as lab-link.
    #[test]
    fn diff_applies_the_same_with_json_patch((a, b) in doc_pair()) {
        let patch = diff(&a, &b);
        let mut ours = a.clone();
        apply(&mut ours, &patch).map_err(fail)?;
        let mut theirs = a.clone();
        json_patch::patch(&mut theirs, &to_json_patch(&patch))
            .map_err(|e| TestCaseError::fail(format!("json-patch failed: {e}")))?;
        prop_assert_eq!(&ours, &theirs);
        prop_assert_eq!(&ours, &b);
    }

    /// Escaping and unescaping are inverse: tokens survive a pointer, and a
    /// pointer survives its text.
    #[test]
    fn pointer_tokens_round_trip(tokens in vec(key(), 0..6)) {
        let pointer = JsonPointer::from_tokens(&tokens);
        let back: Vec<String> = pointer.tokens().map(|t| t.into_owned()).collect();
        prop_assert_eq!(&back, &tokens);
        prop_assert_eq!(pointer.len(), tokens.len());
        prop_assert_eq!(JsonPointer::parse(pointer.as_str()), Ok(pointer.clone()));
    }

    /// A string that parses is kept as written and rebuilt from its tokens.
    #[test]
    fn parsed_pointers_keep_their_text(text in "(/([ab0~/-]|~0|~1){0,3}){0,4}|\\PC{0,8}") {
        if let Ok(pointer) = JsonPointer::parse(&text) {
            prop_assert_eq!(pointer.as_str(), text.as_str());
            prop_assert_eq!(JsonPointer::from_tokens(pointer.tokens()), pointer);
        }
    }

    /// Every path of a document resolves to what `serde_json` finds there.
    #[test]
    fn pointers_resolve_like_serde_json(doc in json_value()) {
        for (pointer, value) in locations(&doc) {
            prop_assert_eq!(pointer.resolve(&doc).ok(), Some(value));
            prop_assert_eq!(doc.pointer(pointer.as_str()), Some(value));
        }
    }
}

/// Random patches over a document's own paths: a failing patch leaves the
/// document byte-identical (key order included), and `apply`, `apply_owned`
/// and `json-patch` agree on the outcome.
///
/// Run by hand rather than through `proptest!` so that it can count how
/// often the rollback really undid earlier operations.
#[test]
fn failing_patches_roll_back_and_agree_with_json_patch() {
    let mut runner = TestRunner::new(config());
    let stats = Stats::default();
    let result = runner.run(&doc_and_patch(), |(doc, ops)| {
        check_random_patch(&doc, &ops, &stats)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (cases, rolled_back, succeeded) = (
        stats.cases.get(),
        stats.rolled_back.get(),
        stats.succeeded.get(),
    );
    eprintln!(
        "{cases} patches: {succeeded} applied, {rolled_back} failed after earlier operations \
         had changed the document; json-patch disagreed on {} numeric tests and {} root moves",
        stats.numbers_by_value.get(),
        stats.move_root_onto_itself.get(),
    );
    // The rollback path must be exercised by a good share of the cases
    // (about a third of them in practice), and some patches must apply so that
    // successes are compared too (about one in eight). With very few cases
    // (PROPTEST_CASES=1) the shares mean nothing.
    if cases >= 64 {
        assert!(
            rolled_back * 8 >= cases,
            "only {rolled_back} of {cases} patches failed after changing the document"
        );
    }
    if cases >= 128 {
        assert!(succeeded > 0, "none of {cases} patches applied");
    }
}

/// Proptest's defaults (256 cases, or `PROPTEST_CASES`), with failing
/// inputs saved under `lab-link-core/proptest-regressions/`: the default
/// lookup of a `lib.rs` beside the test file does not work for `tests/`.
fn config() -> Config {
    Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/properties.txt",
        ))),
        ..Config::default()
    }
}

#[derive(Default)]
struct Stats {
    cases: Cell<usize>,
    /// Failed patches whose earlier operations had changed the document.
    rolled_back: Cell<usize>,
    succeeded: Cell<usize>,
    numbers_by_value: Cell<usize>,
    move_root_onto_itself: Cell<usize>,
}

fn check_random_patch(doc: &Value, ops: &[PatchOp], stats: &Stats) -> Result<(), TestCaseError> {
    stats.cases.set(stats.cases.get() + 1);
    let before = to_string(doc);

    let mut ours = doc.clone();
    let result = apply(&mut ours, ops);
    let mut owned = doc.clone();
    let owned_result = apply_owned(&mut owned, ops.to_vec());
    prop_assert_eq!(&result, &owned_result, "apply and apply_owned disagree");

    match &result {
        Ok(()) => {
            stats.succeeded.set(stats.succeeded.get() + 1);
            prop_assert_eq!(&ours, &owned);
        }
        Err(err) => {
            prop_assert!(
                err.index() < ops.len(),
                "{err} for {} operations",
                ops.len()
            );
            prop_assert_eq!(
                &to_string(&ours),
                &before,
                "apply did not roll back: {}",
                err
            );
            prop_assert_eq!(
                &to_string(&owned),
                &before,
                "apply_owned did not roll back: {}",
                err
            );
            // The operations before the failing one apply on their own, and
            // the failing one then fails alone the same way.
            let mut prefix = doc.clone();
            apply(&mut prefix, &ops[..err.index()]).map_err(fail)?;
            if to_string(&prefix) != before {
                stats.rolled_back.set(stats.rolled_back.get() + 1);
            }
            let alone = apply(&mut prefix, &ops[err.index()..=err.index()]);
            prop_assert_eq!(alone.map_err(|e| e.kind().clone()), Err(err.kind().clone()));
        }
    }

    // Differential check against json-patch. Its `patch_unsafe` skips its
    // rollback, which is not what is compared here and which panics after
    // a `move` whose `add` failed (json-patch does not undo the removal
    // half of such a move).
    let mut theirs = doc.clone();
    let their_result = json_patch::patch_unsafe(&mut theirs, &to_json_patch(ops));
    let our_failure = result.as_ref().err().map(PatchError::index);
    let their_failure = their_result.as_ref().err().map(|e| e.operation);
    match (our_failure, their_failure) {
        (None, None) => prop_assert_eq!(&ours, &theirs),
        (Some(ours), Some(theirs)) if ours == theirs => {}
        // json-patch stopped first: that operation must be one where the
        // RFC and json-patch disagree, after which nothing can be compared.
        (ours, Some(theirs)) if ours.is_none_or(|ours| ours > theirs) => {
            let mut state = doc.clone();
            apply(&mut state, &ops[..theirs]).map_err(fail)?;
            let Some(disagreement) = known_disagreement(&state, &ops[theirs]) else {
                return Err(TestCaseError::fail(format!(
                    "json-patch failed operation {theirs} ({:?}) that lab-link applied: {}",
                    ops[theirs],
                    their_result.unwrap_err()
                )));
            };
            let counter = match disagreement {
                Disagreement::NumbersByValue => &stats.numbers_by_value,
                Disagreement::MoveRootOntoItself => &stats.move_root_onto_itself,
            };
            counter.set(counter.get() + 1);
        }
        (ours, theirs) => {
            return Err(TestCaseError::fail(format!(
                "lab-link failed at {ours:?} ({:?}), json-patch at {theirs:?} ({:?})",
                result.err(),
                their_result.err()
            )))
        }
    }
    Ok(())
}

/// The two documented cases where lab-link (following RFC 6902) succeeds
/// and `json-patch` fails.
#[derive(Debug, Clone, Copy)]
enum Disagreement {
    /// A `test` whose numbers are equal by value, not as `Value`s.
    NumbersByValue,
    /// A `move` from `""` to `""`.
    MoveRootOntoItself,
}

/// Whether `op`, applied to `doc`, is one of the [`Disagreement`]s.
fn known_disagreement(doc: &Value, op: &PatchOp) -> Option<Disagreement> {
    match op {
        PatchOp::Test { path, value } => path
            .resolve(doc)
            .is_ok_and(|actual| actual != value && json_equal(actual, value))
            .then_some(Disagreement::NumbersByValue),
        PatchOp::Move { from, path } => {
            (from.is_root() && path.is_root()).then_some(Disagreement::MoveRootOntoItself)
        }
        _ => None,
    }
}

// Strategies.

/// Object keys, rich in the characters pointers must escape.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(&["", "/", "~", "~0", "~1", "~01", "a/b", "0", "1", "-", "01", "é", "ключ", "🦀"][..])
            .prop_map(str::to_owned),
        // A small alphabet, so that two random documents share keys.
        3 => "[ab]{1,2}",
        1 => "\\PC{0,6}",
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-3i64..=3).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Integral floats, which `test` equates with integers and `diff`
        // does not.
        (-3i32..=3).prop_map(|n| Value::from(f64::from(n))),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        key().prop_map(Value::String),
    ]
}

/// Any JSON value, nested up to four levels.
fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((key(), inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// A document that is an object or array at the root more often than not.
fn document() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => json_value(),
        3 => vec((key(), json_value()), 1..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        1 => vec(json_value(), 1..5).prop_map(Value::Array),
    ]
}

/// Two documents: unrelated, or the second an edit of the first (so the
/// diff is more than one root `replace`).
fn doc_pair() -> impl Strategy<Value = (Value, Value)> {
    prop_oneof![
        1 => (document(), document()),
        3 => (document(), vec(edit(), 1..6)).prop_map(|(a, edits)| {
            let b = edit_all(&a, &edits);
            (a, b)
        }),
    ]
}

/// One random edit: where, what kind, and the key and value it may use.
type Edit = (Index, u8, String, Value);

fn edit() -> impl Strategy<Value = Edit> {
    (any::<Index>(), 0u8..4, key(), json_value())
}

/// Applies edits with `serde_json` alone, independently of the engine.
fn edit_all(doc: &Value, edits: &[Edit]) -> Value {
    let mut doc = doc.clone();
    for (at, kind, key, value) in edits {
        let targets = locations(&doc);
        let (pointer, _) = at.get(&targets);
        let mut tokens: Vec<String> = pointer.tokens().map(|t| t.into_owned()).collect();
        match kind {
            // Replace the value there.
            0 => *lookup(&mut doc, &tokens) = value.clone(),
            // Remove it from its parent.
            1 => match tokens.pop() {
                None => doc = value.clone(),
                Some(last) => match lookup(&mut doc, &tokens) {
                    Value::Object(map) => {
                        map.shift_remove(&last);
                    }
                    Value::Array(items) => {
                        items.remove(last.parse::<usize>().expect("an index"));
                    }
                    _ => unreachable!("a parent is a container"),
                },
            },
            // Insert a member or an element into it.
            2 => match lookup(&mut doc, &tokens) {
                Value::Object(map) => {
                    map.insert(key.clone(), value.clone());
                }
                Value::Array(items) => {
                    let index = at.index(items.len() + 1);
                    items.insert(index, value.clone());
                }
                other => *other = value.clone(),
            },
            // Reorder it.
            _ => match lookup(&mut doc, &tokens) {
                Value::Object(map) => *map = std::mem::take(map).into_iter().rev().collect(),
                Value::Array(items) => items.reverse(),
                other => *other = value.clone(),
            },
        }
    }
    doc
}

fn lookup<'v>(doc: &'v mut Value, tokens: &[String]) -> &'v mut Value {
    tokens.iter().fold(doc, |value, token| match value {
        Value::Object(map) => map.get_mut(token).expect("an existing key"),
        Value::Array(items) => &mut items[token.parse::<usize>().expect("an index")],
        _ => unreachable!("a parent is a container"),
    })
}

/// A document and a patch of random operations over its paths (and some
/// paths it lacks).
///
/// A third of the patches are a single operation, half of whose pointers
/// name nothing: a lone `move` whose `add` fails after its `remove`
/// succeeded must be rolled back too. Half of the longer patches end with
/// an operation that always fails, so that earlier operations that
/// succeeded must be rolled back.
fn doc_and_patch() -> impl Strategy<Value = (Value, Vec<PatchOp>)> {
    let single = document().prop_flat_map(|doc| {
        // `move` three times as often as the others.
        let op = operation(&doc, &[0, 1, 2, 3, 3, 3, 4, 5], 1);
        (Just(doc), vec(op, 1..=1))
    });
    let longer = (document(), 0u8..4)
        .prop_flat_map(|(doc, ending)| {
            let ops = vec(operation(&doc, &[0, 1, 2, 3, 4, 5], 3), 2..6);
            (Just(doc), ops, Just(ending))
        })
        .prop_map(|(doc, mut ops, ending)| {
            match ending {
                // No container holds this key, and no value this string.
                0 => ops.push(PatchOp::Remove {
                    path: JsonPointer::from_tokens(["\u{1}never"]),
                }),
                1 => ops.push(PatchOp::Test {
                    path: JsonPointer::root(),
                    value: Value::String("\u{1}never".to_owned()),
                }),
                _ => {}
            }
            (doc, ops)
        });
    prop_oneof![1 => single, 2 => longer]
}

/// One operation on `doc` of a kind drawn from `kinds` (0 `add`, 1
/// `remove`, 2 `replace`, 3 `move`, 4 `copy`, 5 `test`), whose pointers
/// exist in `doc` `existing` times as often as not.
fn operation(doc: &Value, kinds: &[u8], existing: u32) -> impl Strategy<Value = PatchOp> {
    let paths: Vec<JsonPointer> = locations(doc).into_iter().map(|(p, _)| p).collect();
    let missing = missing_paths(doc);
    let pointer = prop_oneof![existing => select(paths), 1 => select(missing)];
    let doc = doc.clone();
    let kind = select(kinds.to_vec());
    let expect = prop_oneof![
        Just(Expect::Random),
        Just(Expect::Found),
        Just(Expect::FoundAsFloats)
    ];
    (kind, pointer.clone(), pointer, json_value(), expect).prop_map(
        move |(kind, path, from, value, expect)| match kind {
            0 => PatchOp::Add { path, value },
            1 => PatchOp::Remove { path },
            2 => PatchOp::Replace { path, value },
            3 => PatchOp::Move { from, path },
            4 => PatchOp::Copy { from, path },
            _ => {
                // Most tests expect what the original document holds, so
                // that they can pass.
                let value = match (doc.pointer(path.as_str()), expect) {
                    (Some(found), Expect::Found) => found.clone(),
                    (Some(found), Expect::FoundAsFloats) => integers_as_floats(found),
                    _ => value,
                };
                PatchOp::Test { path, value }
            }
        },
    )
}

/// What a generated `test` expects.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Random,
    /// The value the original document holds.
    Found,
    /// That value with its integers written as floats (`1` as `1.0`):
    /// equal by RFC 6902, not as a `serde_json::Value`.
    FoundAsFloats,
}

fn integers_as_floats(value: &Value) -> Value {
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(i) if i.unsigned_abs() <= 1 << 53 => Value::from(i as f64),
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(integers_as_floats).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), integers_as_floats(v)))
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// Pointers that name nothing in `doc`, or that only `add` may use: a key
/// a container lacks, an index at or past the end, `-`, a leading zero,
/// a token under a scalar.
fn missing_paths(doc: &Value) -> Vec<JsonPointer> {
    let mut missing = vec![JsonPointer::from_tokens(["no", "such"])];
    for (pointer, value) in locations(doc) {
        match value {
            Value::Object(_) => missing.push(pointer.join("missing")),
            Value::Array(items) => {
                for index in [items.len(), items.len() + 1] {
                    let mut past = pointer.clone();
                    past.push_index(index);
                    missing.push(past);
                }
                missing.push(pointer.join("-"));
                missing.push(pointer.join("01"));
            }
            _ => missing.push(pointer.join("x")),
        }
    }
    missing
}

/// Every location in `doc`, the root first, with the value there.
fn locations(doc: &Value) -> Vec<(JsonPointer, &Value)> {
    fn walk<'v>(pointer: JsonPointer, value: &'v Value, out: &mut Vec<(JsonPointer, &'v Value)>) {
        out.push((pointer.clone(), value));
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    walk(pointer.join(key), child, out);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    let mut child_pointer = pointer.clone();
                    child_pointer.push_index(index);
                    walk(child_pointer, child, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(JsonPointer::root(), doc, &mut out);
    out
}

// Helpers.

/// The same operations as a `json-patch` patch, through their wire form.
fn to_json_patch(ops: &[PatchOp]) -> json_patch::Patch {
    let wire = serde_json::to_value(ops).expect("operations serialise");
    serde_json::from_value(wire).expect("json-patch reads the RFC wire form")
}

fn to_string(value: &Value) -> String {
    serde_json::to_string(value).expect("a JSON value always serialises")
}

fn fail(err: PatchError) -> TestCaseError {
    TestCaseError::fail(err.to_string())
}
