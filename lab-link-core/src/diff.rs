//! Diff of two JSON documents into a JSON Patch.
//!
//! Used by `publish()`, the dump-and-diff escape hatch: normally the
//! recorder produces operations directly and the diff is empty. The patch
//! is small rather than minimal:
//!
//! - objects: `remove` for vanished members, recursion into common members,
//!   `add` for new members (in the order of the new document);
//! - arrays: the common prefix and suffix are skipped (so one insertion or
//!   removal anywhere is one operation), the rest is compared element by
//!   element, then trailing elements are removed (last first) or added;
//! - anything else that differs, including a change of JSON type: one
//!   `replace`.
//!
//! Values are compared exactly as `serde_json::Value` compares them
//! (`1` differs from `1.0`), so that the patched document equals the target
//! byte for byte in its values, which the store's oracle relies on.

use serde_json::{Map, Value};

use crate::{JsonPointer, PatchOp};

/// Returns a patch that turns `from` into `to`.
///
/// Applying the result to `from` gives a document equal to `to`.
///
/// ```
/// use lab_link_core::{apply, diff};
/// use serde_json::json;
///
/// let before = json!({"enabled": false, "channels": ["a", "b", "c"], "old": 1});
/// let after = json!({"enabled": true, "channels": ["a", "x", "b", "c"], "new": 2});
/// let patch = diff(&before, &after);
/// assert_eq!(serde_json::to_value(&patch)?, json!([
///     {"op": "replace", "path": "/enabled", "value": true},
///     {"op": "add", "path": "/channels/1", "value": "x"},
///     {"op": "remove", "path": "/old"},
///     {"op": "add", "path": "/new", "value": 2},
/// ]));
///
/// let mut doc = before.clone();
/// apply(&mut doc, &patch)?;
/// assert_eq!(doc, after);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn diff(from: &Value, to: &Value) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    let mut path = JsonPointer::root();
    diff_value(from, to, &mut path, &mut ops);
    ops
}

fn diff_value(from: &Value, to: &Value, path: &mut JsonPointer, ops: &mut Vec<PatchOp>) {
    match (from, to) {
        (Value::Object(from), Value::Object(to)) => diff_object(from, to, path, ops),
        (Value::Array(from), Value::Array(to)) => diff_array(from, to, path, ops),
        _ if from == to => {}
        _ => ops.push(PatchOp::Replace {
            path: path.clone(),
            value: to.clone(),
        }),
    }
}

fn diff_object(
    from: &Map<String, Value>,
    to: &Map<String, Value>,
    path: &mut JsonPointer,
    ops: &mut Vec<PatchOp>,
) {
    let base = path.as_str().len();
    // Fast path: documents serialised from the same struct have the same
    // keys in the same order, so members pair up by position and no key is
    // hashed.
    if from.len() == to.len() && from.keys().zip(to.keys()).all(|(a, b)| a == b) {
        for ((key, old), new) in from.iter().zip(to.values()) {
            path.push(key);
            diff_value(old, new, path, ops);
            path.truncate(base);
        }
        return;
    }
    let mut kept = 0;
    for (key, old) in from {
        path.push(key);
        match to.get(key) {
            Some(new) => {
                kept += 1;
                diff_value(old, new, path, ops);
            }
            None => ops.push(PatchOp::Remove { path: path.clone() }),
        }
        path.truncate(base);
    }
    if kept == to.len() {
        return;
    }
    for (key, new) in to {
        if !from.contains_key(key) {
            ops.push(PatchOp::Add {
                path: path.join(key),
                value: new.clone(),
            });
        }
    }
}

fn diff_array(from: &[Value], to: &[Value], path: &mut JsonPointer, ops: &mut Vec<PatchOp>) {
    let prefix = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    let suffix = from[prefix..]
        .iter()
        .rev()
        .zip(to[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let old = &from[prefix..from.len() - suffix];
    let new = &to[prefix..to.len() - suffix];
    let common = old.len().min(new.len());
    let base = path.as_str().len();
    for (offset, (a, b)) in old.iter().zip(new).enumerate() {
        path.push_index(prefix + offset);
        diff_value(a, b, path, ops);
        path.truncate(base);
    }
    // Surplus old elements go last first, so every index names an element
    // that still exists; new elements go in order before the suffix.
    for index in (prefix + common..prefix + old.len()).rev() {
        path.push_index(index);
        ops.push(PatchOp::Remove { path: path.clone() });
        path.truncate(base);
    }
    for (offset, value) in new[common..].iter().enumerate() {
        path.push_index(prefix + common + offset);
        ops.push(PatchOp::Add {
            path: path.clone(),
            value: value.clone(),
        });
        path.truncate(base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply;
    use serde_json::json;

    #[track_caller]
    fn check(from: Value, to: Value, expect: Value) {
        let patch = diff(&from, &to);
        assert_eq!(serde_json::to_value(&patch).unwrap(), expect);
        let mut doc = from;
        apply(&mut doc, &patch).unwrap();
        assert_eq!(doc, to);
    }

    #[test]
    fn equal_documents_give_an_empty_patch() {
        check(
            json!({"a": [1, {"b": null}]}),
            json!({"a": [1, {"b": null}]}),
            json!([]),
        );
    }

    #[test]
    fn type_changes_and_root_replace() {
        check(
            json!(1),
            json!("1"),
            json!([{"op": "replace", "path": "", "value": "1"}]),
        );
        check(
            json!({"a": [1]}),
            json!({"a": {"0": 1}}),
            json!([{"op": "replace", "path": "/a", "value": {"0": 1}}]),
        );
        check(
            json!({"n": 1}),
            json!({"n": 1.0}),
            json!([{"op": "replace", "path": "/n", "value": 1.0}]),
        );
    }

    #[test]
    fn arrays_skip_common_prefix_and_suffix() {
        check(
            json!([1, 2, 3, 4]),
            json!([1, 3, 4]),
            json!([{"op": "remove", "path": "/1"}]),
        );
        check(
            json!([1, 2]),
            json!([0, 1, 2]),
            json!([{"op": "add", "path": "/0", "value": 0}]),
        );
        check(
            json!([1, 2, 3, 4, 5]),
            json!([1, 5]),
            json!([
                {"op": "remove", "path": "/3"},
                {"op": "remove", "path": "/2"},
                {"op": "remove", "path": "/1"}
            ]),
        );
        check(
            json!([{"v": 1}, {"v": 2}]),
            json!([{"v": 1}, {"v": 3}, 7, 8]),
            json!([
                {"op": "replace", "path": "/1/v", "value": 3},
                {"op": "add", "path": "/2", "value": 7},
                {"op": "add", "path": "/3", "value": 8}
            ]),
        );
        check(
            json!([1, 1, 1]),
            json!([1, 1]),
            json!([{"op": "remove", "path": "/2"}]),
        );
    }

    #[test]
    fn keys_are_escaped() {
        check(
            json!({"labels": {}}),
            json!({"labels": {"a/b": "x", "~": "y"}}),
            json!([
                {"op": "add", "path": "/labels/a~1b", "value": "x"},
                {"op": "add", "path": "/labels/~0", "value": "y"}
            ]),
        );
    }
}
