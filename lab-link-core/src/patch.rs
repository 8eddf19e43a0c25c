//! RFC 6902 JSON Patch: the operation types and their atomic application.
//!
//! [`apply`] and [`apply_owned`] run the operations in order on a
//! [`serde_json::Value`]. Every operation that changes the document records
//! its exact inverse (including the position of a removed object member), so
//! when a later operation fails the document is rolled back to the very
//! bytes it had before: key order included. The error names the index of
//! the failing operation, its path and the reason.
//!
//! Object members are removed with `shift_remove`, never `swap_remove`, so
//! the order of the remaining keys (the field order of the Rust struct the
//! document mirrors) is kept.

// The private step functions return `PatchErrorKind`, whose `TestFailed`
// holds two `Value`s (144 bytes with `preserve_order`) in public fields. They
// are inlined into `apply`, which boxes the error before it leaves the
// module; the public `PatchError` is one pointer wide.
#![allow(clippy::result_large_err)]

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use crate::pointer::{
    element_index, insert_index, resolve_raw, resolve_raw_mut, split_last_raw, starts_with_raw,
    type_name, unescape, JsonPointer, ResolveError, ResolveErrorKind,
};

/// One RFC 6902 operation.
///
/// Serialises exactly as the RFC writes it (`{"op":"replace","path":"/a","value":1}`);
/// members the RFC does not define are ignored when deserialising.
///
/// ```
/// use lab_link_core::PatchOp;
/// use serde_json::json;
///
/// let op = PatchOp::Replace { path: "/enabled".parse()?, value: json!(true) };
/// assert_eq!(
///     serde_json::to_string(&op)?,
///     r#"{"op":"replace","path":"/enabled","value":true}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum PatchOp {
    /// Adds a member, inserts an array element (`-` appends), or replaces
    /// the whole document at the root.
    Add {
        /// Where to add.
        path: JsonPointer,
        /// What to add.
        value: Value,
    },
    /// Removes a member or an array element (later elements shift down).
    Remove {
        /// What to remove.
        path: JsonPointer,
    },
    /// Replaces an existing value.
    Replace {
        /// What to replace; it must exist.
        path: JsonPointer,
        /// The new value.
        value: Value,
    },
    /// Removes the value at `from` and adds it at `path`.
    Move {
        /// Where the value is taken from.
        from: JsonPointer,
        /// Where it is added.
        path: JsonPointer,
    },
    /// Adds a copy of the value at `from` at `path`.
    Copy {
        /// Where the value is copied from.
        from: JsonPointer,
        /// Where the copy is added.
        path: JsonPointer,
    },
    /// Checks that the value at `path` equals `value` (numbers compare by
    /// value, so `1` equals `1.0`).
    Test {
        /// What to check.
        path: JsonPointer,
        /// The expected value.
        value: Value,
    },
}

impl PatchOp {
    /// The operation's `path` member.
    pub fn path(&self) -> &JsonPointer {
        match self {
            PatchOp::Add { path, .. }
            | PatchOp::Remove { path }
            | PatchOp::Replace { path, .. }
            | PatchOp::Move { path, .. }
            | PatchOp::Copy { path, .. }
            | PatchOp::Test { path, .. } => path,
        }
    }

    /// The operation's `op` member as written on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            PatchOp::Add { .. } => "add",
            PatchOp::Remove { .. } => "remove",
            PatchOp::Replace { .. } => "replace",
            PatchOp::Move { .. } => "move",
            PatchOp::Copy { .. } => "copy",
            PatchOp::Test { .. } => "test",
        }
    }
}

/// Applies `ops` to `doc` in order, all or nothing.
///
/// The values in `ops` are cloned into the document; use [`apply_owned`]
/// to move them instead.
///
/// # Errors
///
/// Returns the first failing operation as a [`PatchError`]; `doc` is then
/// exactly as it was before the call.
///
/// ```
/// use lab_link_core::{apply, PatchOp};
/// use serde_json::json;
///
/// let mut doc = json!({"channels": [{"v": 0}]});
/// let ops: Vec<PatchOp> = serde_json::from_value(json!([
///     {"op": "replace", "path": "/channels/0/v", "value": 1.5},
///     {"op": "add", "path": "/channels/-", "value": {"v": 0}},
/// ]))?;
/// apply(&mut doc, &ops)?;
/// assert_eq!(doc, json!({"channels": [{"v": 1.5}, {"v": 0}]}));
///
/// // The second operation fails, so the first one is rolled back.
/// let bad: Vec<PatchOp> = serde_json::from_value(json!([
///     {"op": "replace", "path": "/channels/0/v", "value": 9},
///     {"op": "remove", "path": "/channels/5"},
/// ]))?;
/// let err = apply(&mut doc, &bad).unwrap_err();
/// assert_eq!((err.index(), err.path().as_str()), (1, "/channels/5"));
/// assert_eq!(doc, json!({"channels": [{"v": 1.5}, {"v": 0}]}));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn apply(doc: &mut Value, ops: &[PatchOp]) -> Result<(), PatchError> {
    let mut undo = UndoLog::new(ops.len());
    for (index, op) in ops.iter().enumerate() {
        let result = match op {
            PatchOp::Add { path, value } => add(doc, path, value.clone(), &mut undo),
            PatchOp::Remove { path } => remove(doc, path, &mut undo),
            PatchOp::Replace { path, value } => replace(doc, path, value.clone(), &mut undo),
            PatchOp::Move { from, path } => move_value(doc, from, path, &mut undo),
            PatchOp::Copy { from, path } => copy(doc, from, path, &mut undo),
            PatchOp::Test { path, value } => test(doc, path, value),
        };
        if let Err(kind) = result {
            undo.roll_back(doc);
            return Err(PatchError::new(index, op, kind));
        }
    }
    Ok(())
}

/// Applies `ops` to `doc` in order, all or nothing, moving the values in.
///
/// This is [`apply`] without the clone of every value: the versioned store
/// uses it after it has serialised the operations for the wire.
///
/// # Errors
///
/// As [`apply`]: on error `doc` is exactly as it was before the call.
///
/// ```
/// use lab_link_core::{apply_owned, PatchOp};
/// use serde_json::json;
///
/// let mut doc = json!({"a": 1});
/// apply_owned(&mut doc, vec![PatchOp::Add { path: "/b".parse()?, value: json!([1, 2]) }])?;
/// assert_eq!(doc, json!({"a": 1, "b": [1, 2]}));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn apply_owned(doc: &mut Value, ops: Vec<PatchOp>) -> Result<(), PatchError> {
    let mut undo = UndoLog::new(ops.len());
    for (index, op) in ops.into_iter().enumerate() {
        let name = op.name();
        let (result, path, from) = match op {
            PatchOp::Add { path, value } => (add(doc, &path, value, &mut undo), path, None),
            PatchOp::Remove { path } => (remove(doc, &path, &mut undo), path, None),
            PatchOp::Replace { path, value } => (replace(doc, &path, value, &mut undo), path, None),
            PatchOp::Move { from, path } => {
                (move_value(doc, &from, &path, &mut undo), path, Some(from))
            }
            PatchOp::Copy { from, path } => (copy(doc, &from, &path, &mut undo), path, Some(from)),
            PatchOp::Test { path, value } => (test(doc, &path, &value), path, None),
        };
        if let Err(kind) = result {
            undo.roll_back(doc);
            return Err(PatchError::from_parts(index, name, path, from, kind));
        }
    }
    Ok(())
}

/// A JSON Patch operation that could not be applied.
///
/// Names the operation's index in the patch, its `op`, its `path` (and
/// `from`) and the reason. The [`Display`](fmt::Display) text says all of
/// that in one line; its exact wording is not part of the API.
///
/// ```
/// use lab_link_core::{apply, PatchErrorKind, PatchOp};
/// use serde_json::json;
///
/// let mut doc = json!({"enabled": false});
/// let ops = [PatchOp::Test { path: "/enabled".parse()?, value: json!(true) }];
/// let err = apply(&mut doc, &ops).unwrap_err();
/// assert_eq!(err.index(), 0);
/// assert_eq!(err.op(), "test");
/// assert!(matches!(err.kind(), PatchErrorKind::TestFailed { .. }));
/// assert_eq!(
///     err.to_string(),
///     "operation 0 (test \"/enabled\") failed: the value is false, not the expected true"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct PatchError {
    /// Boxed so that `Result<_, PatchError>` stays one pointer wide on the
    /// hot path of every commit.
    inner: Box<PatchErrorInner>,
}

#[derive(Debug, Clone, PartialEq)]
struct PatchErrorInner {
    index: usize,
    op: &'static str,
    path: JsonPointer,
    from: Option<JsonPointer>,
    kind: PatchErrorKind,
}

impl PatchError {
    fn new(index: usize, op: &PatchOp, kind: PatchErrorKind) -> Self {
        let from = match op {
            PatchOp::Move { from, .. } | PatchOp::Copy { from, .. } => Some(from.clone()),
            _ => None,
        };
        Self::from_parts(index, op.name(), op.path().clone(), from, kind)
    }

    fn from_parts(
        index: usize,
        op: &'static str,
        path: JsonPointer,
        from: Option<JsonPointer>,
        kind: PatchErrorKind,
    ) -> Self {
        Self {
            inner: Box::new(PatchErrorInner {
                index,
                op,
                path,
                from,
                kind,
            }),
        }
    }

    /// The zero-based index of the failing operation in the patch.
    pub fn index(&self) -> usize {
        self.inner.index
    }

    /// The failing operation's `op` (`"add"`, `"remove"`, …).
    pub fn op(&self) -> &'static str {
        self.inner.op
    }

    /// The failing operation's `path`.
    pub fn path(&self) -> &JsonPointer {
        &self.inner.path
    }

    /// The failing operation's `from`, for `move` and `copy`.
    pub fn from(&self) -> Option<&JsonPointer> {
        self.inner.from.as_ref()
    }

    /// Why the operation failed.
    pub fn kind(&self) -> &PatchErrorKind {
        &self.inner.kind
    }
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        write!(f, "operation {} ({}", inner.index, inner.op)?;
        if let Some(from) = &inner.from {
            write!(f, " from {:?}", from.as_str())?;
        }
        write!(f, " {:?}) failed: {}", inner.path.as_str(), inner.kind)
    }
}

/// Why a JSON Patch operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchErrorKind {
    /// The `path` could not be followed.
    #[error("{0}")]
    Path(ResolveError),
    /// The `from` of a `move` or `copy` could not be followed.
    #[error("from: {0}")]
    From(ResolveError),
    /// A `test` found a different value.
    #[error(
        "the value is {}, not the expected {}",
        Abbrev(actual),
        Abbrev(expected)
    )]
    TestFailed {
        /// The value the patch expected.
        expected: Value,
        /// The value found in the document.
        actual: Value,
    },
    /// A `move` whose `path` lies inside its `from`.
    #[error("cannot move a value into one of its own children")]
    MoveIntoItself,
    /// A `remove` (or a `move` from) of the whole document.
    #[error("cannot remove the whole document")]
    RemoveRoot,
}

/// Displays a JSON value cut to a readable length.
struct Abbrev<'a>(&'a Value);

impl fmt::Display for Abbrev<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LIMIT: usize = 80;
        let text = self.0.to_string();
        if text.len() <= LIMIT {
            f.write_str(&text)
        } else {
            let mut end = LIMIT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            write!(f, "{}… ({} bytes)", &text[..end], text.len())
        }
    }
}

/// Compares two JSON values as RFC 6902 `test` does: numbers by value.
///
/// ```
/// # use lab_link_core::patch::json_equal;
/// # use serde_json::json;
/// assert!(json_equal(&json!({"a": [1]}), &json!({"a": [1.0]})));
/// assert!(!json_equal(&json!(1), &json!("1")));
/// ```
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, x)| y.get(key).is_some_and(|y| json_equal(x, y)))
        }
        _ => a == b,
    }
}

fn numbers_equal(x: &Number, y: &Number) -> bool {
    match (integer(x), integer(y)) {
        (Some(x), Some(y)) => x == y,
        // An integer and a float are compared exactly: converting the
        // integer to f64 would round it (2^53 + 1 would equal 2^53).
        (Some(i), None) => y.as_f64().is_some_and(|f| float_equals_integer(f, i)),
        (None, Some(i)) => x.as_f64().is_some_and(|f| float_equals_integer(f, i)),
        (None, None) => matches!((x.as_f64(), y.as_f64()), (Some(x), Some(y)) if x == y),
    }
}

/// The value of an integer `Number` (an `i64` or a `u64`), exactly.
fn integer(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

fn float_equals_integer(f: f64, i: i128) -> bool {
    // `as` saturates beyond the i128 range, far outside the i64 and u64
    // ranges `i` comes from, and is exact for every integral f64 within it.
    f.fract() == 0.0 && f as i128 == i
}

/// Where a removed value sat, so that it can be put back exactly.
#[derive(Debug)]
enum Slot {
    /// Member `key` at `position` of the object at escaped pointer `parent`.
    Key {
        parent: String,
        position: usize,
        key: String,
    },
    /// Element `index` of the array at escaped pointer `parent`.
    Index { parent: String, index: usize },
}

/// The inverse of one primitive change, replayed in reverse on failure.
///
/// Undoing `Restore`, `RemoveKey` and `RemoveIndex` takes a value out of the
/// document; it is kept in a one-value register ("carried") for a following
/// `ReinsertCarried`, which is how a `move` is undone without ever cloning
/// the moved value.
#[derive(Debug)]
enum Undo {
    /// Put `old` back at the escaped pointer `path` (undoes a replace, an
    /// add over an existing member, or a root add).
    Restore { path: String, old: Value },
    /// Remove the member `key` that was added to the object at `parent`.
    RemoveKey { parent: String, key: String },
    /// Remove the element inserted at `index` of the array at `parent`.
    RemoveIndex { parent: String, index: usize },
    /// Put a removed value back where it was (undoes a remove).
    Reinsert { slot: Slot, value: Value },
    /// Put the carried value back where a `move` took it from.
    ReinsertCarried { slot: Slot },
}

#[derive(Debug)]
struct UndoLog {
    entries: Vec<Undo>,
    /// A single operation fails before it changes anything (a `move`
    /// restores its own value), so a one-operation patch needs no log.
    enabled: bool,
}

/// Invariant for every `expect` of a rollback: each entry is the exact
/// inverse of a change made to the document, and the entries are replayed
/// newest first, so each one finds the document exactly as its change left
/// it, and its container exists.
const INVARIANT: &str = "the undo log replays exact inverses in reverse order";

impl UndoLog {
    fn new(op_count: usize) -> Self {
        Self {
            entries: Vec::new(),
            enabled: op_count > 1,
        }
    }

    /// Records the inverse built by `make`, only if the log is enabled (so
    /// a one-operation patch allocates no undo paths).
    fn record(&mut self, make: impl FnOnce() -> Undo) {
        if self.enabled {
            self.entries.push(make());
        }
    }

    fn roll_back(&mut self, doc: &mut Value) {
        let mut carried = None;
        while let Some(undo) = self.entries.pop() {
            match undo {
                Undo::Restore { path, old } => {
                    let slot = resolve_raw_mut(doc, &path).expect(INVARIANT);
                    carried = Some(std::mem::replace(slot, old));
                }
                Undo::RemoveKey { parent, key } => {
                    let object = resolve_raw_mut(doc, &parent).expect(INVARIANT);
                    carried = object.as_object_mut().expect(INVARIANT).shift_remove(&key);
                }
                Undo::RemoveIndex { parent, index } => {
                    let array = resolve_raw_mut(doc, &parent).expect(INVARIANT);
                    carried = Some(array.as_array_mut().expect(INVARIANT).remove(index));
                }
                Undo::Reinsert { slot, value } => reinsert(doc, slot, value),
                Undo::ReinsertCarried { slot } => {
                    reinsert(doc, slot, carried.take().expect(INVARIANT));
                }
            }
        }
    }
}

/// Puts `value` back into the slot it was taken from.
fn reinsert(doc: &mut Value, slot: Slot, value: Value) {
    match slot {
        Slot::Key {
            parent,
            position,
            key,
        } => {
            let object = resolve_raw_mut(doc, &parent).expect(INVARIANT);
            object
                .as_object_mut()
                .expect(INVARIANT)
                .shift_insert(position, key, value);
        }
        Slot::Index { parent, index } => {
            let array = resolve_raw_mut(doc, &parent).expect(INVARIANT);
            array.as_array_mut().expect(INVARIANT).insert(index, value);
        }
    }
}

/// The container that holds the last token of `path`, and that token.
fn parent_mut<'v, 'p>(
    doc: &'v mut Value,
    path: &'p str,
) -> Result<(&'v mut Value, &'p str, &'p str), ResolveError> {
    let (parent, last) = split_last_raw(path).expect("caller handles the root pointer");
    Ok((resolve_raw_mut(doc, parent)?, parent, last))
}

fn path_error(path: &str, kind: ResolveErrorKind) -> PatchErrorKind {
    PatchErrorKind::Path(ResolveError::new(path.to_owned(), kind))
}

fn not_a_container(path: &str, last: &str, found: &Value) -> PatchErrorKind {
    path_error(
        path,
        ResolveErrorKind::NotAContainer {
            token: unescape(last).into_owned(),
            found: type_name(found),
        },
    )
}

fn add(
    doc: &mut Value,
    path: &JsonPointer,
    value: Value,
    undo: &mut UndoLog,
) -> Result<(), PatchErrorKind> {
    add_or_return(doc, path, value, undo).map_err(|(kind, _)| kind)
}

/// `add`, handing the value back on failure. It fails before it changes
/// anything.
fn add_or_return(
    doc: &mut Value,
    path: &JsonPointer,
    value: Value,
    undo: &mut UndoLog,
) -> Result<(), (PatchErrorKind, Value)> {
    let path = path.as_str();
    if path.is_empty() {
        let old = std::mem::replace(doc, value);
        undo.record(|| Undo::Restore {
            path: String::new(),
            old,
        });
        return Ok(());
    }
    let (container, parent, last) = match parent_mut(doc, path) {
        Ok(found) => found,
        Err(e) => return Err((PatchErrorKind::Path(e), value)),
    };
    match container {
        Value::Object(map) => {
            let key = unescape(last);
            match map.get_mut(key.as_ref()) {
                Some(slot) => {
                    let old = std::mem::replace(slot, value);
                    undo.record(|| Undo::Restore {
                        path: path.to_owned(),
                        old,
                    });
                }
                None => {
                    let key = key.into_owned();
                    undo.record(|| Undo::RemoveKey {
                        parent: parent.to_owned(),
                        key: key.clone(),
                    });
                    map.insert(key, value);
                }
            }
        }
        Value::Array(items) => match insert_index(last, items.len()) {
            Ok(index) => {
                items.insert(index, value);
                undo.record(|| Undo::RemoveIndex {
                    parent: parent.to_owned(),
                    index,
                });
            }
            Err(kind) => return Err((path_error(path, kind), value)),
        },
        other => return Err((not_a_container(path, last, other), value)),
    }
    Ok(())
}

/// Removes and returns the value at `path`, and, when `want_slot`, where it
/// sat. Records nothing: the caller knows how it will be undone.
fn take(
    doc: &mut Value,
    path: &str,
    want_slot: bool,
) -> Result<(Value, Option<Slot>), PatchErrorKind> {
    if path.is_empty() {
        return Err(PatchErrorKind::RemoveRoot);
    }
    let (container, parent, last) = parent_mut(doc, path).map_err(PatchErrorKind::Path)?;
    match container {
        Value::Object(map) => {
            let key = unescape(last);
            let no_such_key = || {
                path_error(
                    path,
                    ResolveErrorKind::NoSuchKey {
                        key: key.clone().into_owned(),
                    },
                )
            };
            if !want_slot {
                let value = map.shift_remove(key.as_ref()).ok_or_else(no_such_key)?;
                return Ok((value, None));
            }
            let position = map
                .keys()
                .position(|k| k == key.as_ref())
                .ok_or_else(no_such_key)?;
            let (key, value) = map.shift_remove_entry(key.as_ref()).expect(INVARIANT);
            let parent = parent.to_owned();
            Ok((
                value,
                Some(Slot::Key {
                    parent,
                    position,
                    key,
                }),
            ))
        }
        Value::Array(items) => {
            let index = element_index(last, items.len()).map_err(|kind| path_error(path, kind))?;
            let value = items.remove(index);
            let slot = want_slot.then(|| Slot::Index {
                parent: parent.to_owned(),
                index,
            });
            Ok((value, slot))
        }
        other => Err(not_a_container(path, last, other)),
    }
}

fn remove(doc: &mut Value, path: &JsonPointer, undo: &mut UndoLog) -> Result<(), PatchErrorKind> {
    let (value, slot) = take(doc, path.as_str(), undo.enabled)?;
    if let Some(slot) = slot {
        // The removed value moves into the log: no clone.
        undo.entries.push(Undo::Reinsert { slot, value });
    }
    Ok(())
}

fn replace(
    doc: &mut Value,
    path: &JsonPointer,
    value: Value,
    undo: &mut UndoLog,
) -> Result<(), PatchErrorKind> {
    let slot = resolve_raw_mut(doc, path.as_str()).map_err(PatchErrorKind::Path)?;
    let old = std::mem::replace(slot, value);
    undo.record(|| Undo::Restore {
        path: path.as_str().to_owned(),
        old,
    });
    Ok(())
}

fn move_value(
    doc: &mut Value,
    from: &JsonPointer,
    path: &JsonPointer,
    undo: &mut UndoLog,
) -> Result<(), PatchErrorKind> {
    if from == path {
        // RFC 6902 4.4: the location must exist; moving it onto itself
        // changes nothing.
        resolve_raw(doc, from.as_str()).map_err(PatchErrorKind::From)?;
        return Ok(());
    }
    if starts_with_raw(path.as_str(), from.as_str()) {
        return Err(PatchErrorKind::MoveIntoItself);
    }
    let (value, slot) = take(doc, from.as_str(), true).map_err(|kind| match kind {
        PatchErrorKind::Path(e) => PatchErrorKind::From(e),
        other => other,
    })?;
    let slot = slot.expect("take was asked for the slot");
    // The add's own inverse is replayed first and hands the moved value to
    // this entry, so the value is never cloned.
    let kept_slot = if undo.enabled {
        undo.entries.push(Undo::ReinsertCarried { slot });
        None
    } else {
        Some(slot)
    };
    match add_or_return(doc, path, value, undo) {
        Ok(()) => Ok(()),
        Err((kind, value)) => {
            // The add failed before changing anything, so the newest entry,
            // if logging, is ours.
            let slot = kept_slot.unwrap_or_else(|| match undo.entries.pop() {
                Some(Undo::ReinsertCarried { slot }) => slot,
                _ => unreachable!("{INVARIANT}"),
            });
            reinsert(doc, slot, value);
            Err(kind)
        }
    }
}

fn copy(
    doc: &mut Value,
    from: &JsonPointer,
    path: &JsonPointer,
    undo: &mut UndoLog,
) -> Result<(), PatchErrorKind> {
    let value = resolve_raw(doc, from.as_str())
        .map_err(PatchErrorKind::From)?
        .clone();
    add(doc, path, value, undo)
}

fn test(doc: &Value, path: &JsonPointer, expected: &Value) -> Result<(), PatchErrorKind> {
    let actual = resolve_raw(doc, path.as_str()).map_err(PatchErrorKind::Path)?;
    if json_equal(actual, expected) {
        Ok(())
    } else {
        Err(PatchErrorKind::TestFailed {
            expected: expected.clone(),
            actual: actual.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn check(doc: Value, patch: Value, expect: Result<Value, &str>) {
        let ops: Vec<PatchOp> = serde_json::from_value(patch).expect("well-formed patch");
        let before = serde_json::to_string(&doc).unwrap();
        let mut by_ref = doc.clone();
        let got = apply(&mut by_ref, &ops).map_err(|e| e.to_string());
        let mut owned = doc;
        let got_owned = apply_owned(&mut owned, ops).map_err(|e| e.to_string());
        assert_eq!(got, got_owned, "apply and apply_owned disagree");
        match expect {
            Ok(expected) => {
                assert_eq!(got, Ok(()));
                assert_eq!(by_ref, expected);
                assert_eq!(owned, expected);
            }
            Err(message) => {
                assert_eq!(got, Err(message.to_owned()));
                // Atomic: byte-identical, key order included.
                assert_eq!(serde_json::to_string(&by_ref).unwrap(), before);
                assert_eq!(serde_json::to_string(&owned).unwrap(), before);
            }
        }
    }

    #[test]
    fn errors_name_index_op_path_and_reason() {
        let doc = json!({"channels": [{"v": 0}], "enabled": false});
        check(
            doc.clone(),
            json!([{"op": "replace", "path": "/channels/1/v", "value": 1}]),
            Err("operation 0 (replace \"/channels/1/v\") failed: index 1 is out of range for an array of length 1 (at \"/channels/1\")"),
        );
        check(
            doc.clone(),
            json!([{"op": "add", "path": "/enabled/x", "value": 1}]),
            Err("operation 0 (add \"/enabled/x\") failed: cannot look up \"x\" in a boolean (at \"/enabled/x\")"),
        );
        check(
            doc.clone(),
            json!([
                {"op": "add", "path": "/x", "value": 1},
                {"op": "move", "from": "/nope", "path": "/y"}
            ]),
            Err("operation 1 (move from \"/nope\" \"/y\") failed: from: no member \"nope\" in the object (at \"/nope\")"),
        );
        check(
            doc.clone(),
            json!([{"op": "remove", "path": ""}]),
            Err("operation 0 (remove \"\") failed: cannot remove the whole document"),
        );
        check(
            doc,
            json!([{"op": "move", "from": "/channels", "path": "/channels/0/c"}]),
            Err("operation 0 (move from \"/channels\" \"/channels/0/c\") failed: cannot move a value into one of its own children"),
        );
    }

    #[test]
    fn rollback_restores_key_order_and_positions() {
        let doc = json!({"a": 1, "b": {"x": [1, 2, 3]}, "c": 3, "d": 4});
        check(
            doc,
            json!([
                {"op": "remove", "path": "/a"},
                {"op": "remove", "path": "/c"},
                {"op": "add", "path": "/a", "value": 10},
                {"op": "replace", "path": "/d", "value": [1]},
                {"op": "remove", "path": "/b/x/0"},
                {"op": "add", "path": "/b/x/-", "value": 9},
                {"op": "move", "from": "/b/x", "path": "/e"},
                {"op": "copy", "from": "/e", "path": "/b/y"},
                {"op": "add", "path": "", "value": {"whole": true}},
                {"op": "add", "path": "/whole", "value": false},
                {"op": "test", "path": "/whole", "value": true}
            ]),
            Err("operation 10 (test \"/whole\") failed: the value is false, not the expected true"),
        );
    }

    #[test]
    fn single_move_whose_add_fails_is_rolled_back() {
        check(
            json!({"a": 1, "b": 2}),
            json!([{"op": "move", "from": "/a", "path": "/missing/a"}]),
            Err("operation 0 (move from \"/a\" \"/missing/a\") failed: no member \"missing\" in the object (at \"/missing\")"),
        );
    }

    #[test]
    fn logged_move_whose_add_fails_is_rolled_back() {
        check(
            json!({"a": {"deep": [1, 2]}, "b": 2, "c": [0]}),
            json!([
                {"op": "add", "path": "/x", "value": 1},
                {"op": "move", "from": "/b", "path": "/c/0"},
                {"op": "move", "from": "/a", "path": "/missing/a"}
            ]),
            Err("operation 2 (move from \"/a\" \"/missing/a\") failed: no member \"missing\" in the object (at \"/missing\")"),
        );
        check(
            json!({"a": {"deep": [1, 2]}, "b": 2, "c": [0]}),
            json!([
                {"op": "move", "from": "/a", "path": "/b"},
                {"op": "move", "from": "/c/0", "path": "/c/-"},
                {"op": "move", "from": "/b", "path": ""},
                {"op": "test", "path": "/deep/1", "value": 3}
            ]),
            Err("operation 3 (test \"/deep/1\") failed: the value is 2, not the expected 3"),
        );
    }

    #[test]
    fn remove_keeps_the_order_of_the_other_keys() {
        check(
            json!({"a": 1, "b": 2, "c": 3}),
            json!([{"op": "remove", "path": "/a"}]),
            Ok(json!({"b": 2, "c": 3})),
        );
        let mut doc = json!({"a": 1, "b": 2, "c": 3});
        apply(
            &mut doc,
            &[PatchOp::Remove {
                path: "/a".parse().unwrap(),
            }],
        )
        .unwrap();
        assert_eq!(doc.to_string(), r#"{"b":2,"c":3}"#);
    }

    #[test]
    fn move_onto_itself_is_a_no_op_but_needs_the_value() {
        check(
            json!({"a": 1}),
            json!([{"op": "move", "from": "/a", "path": "/a"}]),
            Ok(json!({"a": 1})),
        );
        check(
            json!({"a": 1}),
            json!([{"op": "move", "from": "/b", "path": "/b"}]),
            Err("operation 0 (move from \"/b\" \"/b\") failed: from: no member \"b\" in the object (at \"/b\")"),
        );
    }

    #[test]
    fn test_compares_numbers_by_value() {
        check(
            json!({"n": 1, "f": 2.5}),
            json!([{"op": "test", "path": "/n", "value": 1.0}, {"op": "test", "path": "/f", "value": 2.5}]),
            Ok(json!({"n": 1, "f": 2.5})),
        );
        assert!(!json_equal(&json!(u64::MAX), &json!(-1)));
        assert!(json_equal(
            &json!({"a": 1, "b": 2}),
            &json!({"b": 2, "a": 1})
        ));
        assert!(!json_equal(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
    }

    #[test]
    fn test_compares_integers_and_floats_exactly() {
        // RFC 6902 4.6: numbers are equal when their values are. Rounding the
        // integer to f64 first made 2^53 + 1 equal 2^53 and u64::MAX equal
        // 2^64.
        assert!(!json_equal(
            &json!(9_007_199_254_740_993_u64),
            &json!(9_007_199_254_740_992.0)
        ));
        assert!(!json_equal(
            &json!(u64::MAX),
            &json!(18_446_744_073_709_551_615.0)
        ));
        assert!(json_equal(
            &json!(i64::MIN),
            &json!(-9_223_372_036_854_775_808.0)
        ));
        assert!(json_equal(&json!(-3), &json!(-3.0)));
        assert!(!json_equal(&json!(2), &json!(2.5)));
        check(
            json!({"n": 9_007_199_254_740_993_u64}),
            json!([{"op": "test", "path": "/n", "value": 9_007_199_254_740_992.0}]),
            Err("operation 0 (test \"/n\") failed: the value is 9007199254740993, not the expected 9007199254740992.0"),
        );
    }

    #[test]
    fn long_values_are_abbreviated_in_messages() {
        let long = "x".repeat(200);
        let kind = PatchErrorKind::TestFailed {
            expected: json!(long),
            actual: json!(1),
        };
        let text = kind.to_string();
        assert!(text.len() < 150, "{text}");
        assert!(text.ends_with("… (202 bytes)"), "{text}");
    }

    #[test]
    fn wire_form_follows_the_rfc() {
        let ops: Vec<PatchOp> = serde_json::from_value(json!([
            {"op": "move", "from": "/a", "path": "/b", "extra": "ignored"},
            {"op": "add", "path": "/c", "value": null},
        ]))
        .unwrap();
        assert_eq!(
            serde_json::to_string(&ops).unwrap(),
            r#"[{"op":"move","from":"/a","path":"/b"},{"op":"add","path":"/c","value":null}]"#
        );
        for bad in [
            json!({"op": "add", "path": "/a"}),
            json!({"op": "move", "path": "/a"}),
            json!({"op": "spam", "path": "/a"}),
            json!({"op": "add", "path": "a", "value": 1}),
        ] {
            assert!(
                serde_json::from_value::<PatchOp>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
