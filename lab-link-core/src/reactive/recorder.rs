//! The recorder: the operations of the current commit and the path of the
//! view that is recording.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{MutationError, MutationErrorKind, Reactive};
use crate::pointer::{escape, resolve_raw_mut, starts_with_raw};
use crate::{JsonPointer, PatchOp};

/// Collects the operations recorded by tracked views until they are
/// committed.
///
/// [`LabSync`](crate::LabSync) owns one; you only meet it when implementing
/// [`Reactive`] by hand or testing a view on its own.
///
/// ```
/// use lab_link_core::reactive::{Reactive, Recorder};
///
/// let mut recorder = Recorder::new();
/// let mut list = vec![1, 2];
/// let mut view = list.tracked(recorder.root());
/// view.push(3)?;
/// view.remove(0)?;
/// assert_eq!(list, [2, 3]);
/// assert_eq!(
///     serde_json::to_string(&recorder.take_ops())?,
///     r#"[{"op":"add","path":"/2","value":3},{"op":"remove","path":"/0"}]"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct Recorder {
    ops: Vec<PatchOp>,
    /// Every path written in this commit, once the commit is long enough
    /// for a backward scan per write to cost more than an index (see
    /// [`Recorder::replace`]). Paths are never removed, so it may hold more
    /// than `ops`; that only costs a scan.
    written: Option<BTreeSet<String>>,
    /// The escaped path of the innermost view. Views borrow their parent
    /// mutably, so they form a stack; each knows the length of its own path
    /// and cuts the buffer back to it before use.
    path: String,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The context for a view of the whole document (path `""`).
    pub fn root(&mut self) -> Ctx<'_> {
        self.path.clear();
        Ctx { rec: self, len: 0 }
    }

    /// Takes the recorded operations, leaving the recorder empty.
    pub fn take_ops(&mut self) -> Vec<PatchOp> {
        self.written = None;
        std::mem::take(&mut self.ops)
    }

    /// Whether nothing has been recorded since the last
    /// [`take_ops`](Recorder::take_ops).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations recorded so far.
    pub fn ops(&self) -> &[PatchOp] {
        &self.ops
    }

    fn pointer(&self) -> JsonPointer {
        JsonPointer::from_escaped_unchecked(self.path.clone())
    }

    /// Records `replace` at the current path, folding it into an earlier
    /// write of the same commit when nothing in between could have changed
    /// what the path names, and dropping earlier operations inside the
    /// replaced value (they are overwritten).
    fn replace(&mut self, value: Value) {
        if !self.may_coalesce() {
            self.push(|path| PatchOp::Replace { path, value });
            return;
        }
        let path = self.path.as_str();
        let mut index = self.ops.len();
        while index > 0 {
            index -= 1;
            match &mut self.ops[index] {
                PatchOp::Replace { path: p, value: v } | PatchOp::Add { path: p, value: v }
                    if p.as_str() == path =>
                {
                    *v = value;
                    return;
                }
                // This write lands inside a value written earlier (a
                // channel pushed, then configured): write into that value.
                // The operations in between do not touch this path, so the
                // order does not matter.
                PatchOp::Replace { path: p, value: v } | PatchOp::Add { path: p, value: v }
                    if starts_with_raw(path, p.as_str()) =>
                {
                    match resolve_raw_mut(v, &path[p.as_str().len()..]) {
                        Ok(slot) => {
                            *slot = value;
                            return;
                        }
                        // Cannot happen (the value mirrors the state); a new
                        // operation is right anyway.
                        Err(_) => break,
                    }
                }
                // Written inside what this write replaces whole: dead.
                PatchOp::Replace { path: p, .. }
                | PatchOp::Add { path: p, .. }
                | PatchOp::Remove { path: p }
                    if starts_with_raw(p.as_str(), path) && p.as_str() != path =>
                {
                    self.ops.remove(index);
                }
                // A replace elsewhere moves nothing: look further back.
                PatchOp::Replace { path: p, .. } if !starts_with_raw(path, p.as_str()) => {}
                // An add or remove shifts the indices of its siblings (if
                // its parent is an array), so look further back only when
                // this path lies outside that parent.
                PatchOp::Add { path: p, .. } | PatchOp::Remove { path: p }
                    if !starts_with_raw(path, parent_of(p.as_str())) => {}
                _ => break,
            }
        }
        self.push(|path| PatchOp::Replace { path, value });
    }

    /// Whether an earlier operation of this commit is at the current path
    /// or inside it, so that [`Recorder::replace`] must scan back. Short
    /// commits always scan; long ones ask the index of written paths, so a
    /// commit of n writes to distinct paths costs O(n log n), not O(n²).
    fn may_coalesce(&mut self) -> bool {
        const SCAN_LIMIT: usize = 32;
        if self.ops.len() <= SCAN_LIMIT {
            return !self.ops.is_empty();
        }
        let written = self.written.get_or_insert_with(|| {
            self.ops
                .iter()
                .map(|op| op.path().as_str().to_owned())
                .collect()
        });
        let path = self.path.as_str();
        // The path itself or one of its ancestors.
        let mut prefix = path;
        loop {
            if written.contains(prefix) {
                return true;
            }
            match prefix.rfind('/') {
                Some(slash) => prefix = &prefix[..slash],
                None => break,
            }
        }
        // Descendants of `path` sort between `path/` and `path0` ('0' is
        // the character after '/').
        let start = format!("{path}/");
        let end = format!("{path}0");
        written.range(start..end).next().is_some()
    }

    /// Records the operation `make` builds at the current path.
    fn push(&mut self, make: impl FnOnce(JsonPointer) -> PatchOp) {
        if let Some(written) = &mut self.written {
            written.insert(self.path.clone());
        }
        let path = self.pointer();
        self.ops.push(make(path));
    }
}

/// The escaped parent of an escaped non-root pointer.
fn parent_of(escaped: &str) -> &str {
    escaped.rfind('/').map_or("", |slash| &escaped[..slash])
}

/// Where a tracked view records: the recorder and the view's own path.
///
/// Views create child contexts for their children with
/// [`child`](Ctx::child) and [`child_index`](Ctx::child_index), and record
/// through the `record_*` methods and [`set`](Ctx::set).
#[derive(Debug)]
pub struct Ctx<'a> {
    rec: &'a mut Recorder,
    /// Length of this view's path in `rec.path`.
    len: usize,
}

impl<'a> Ctx<'a> {
    /// The context of the member `key` of this view's object.
    pub fn child(&mut self, key: &str) -> Ctx<'_> {
        self.rec.path.truncate(self.len);
        self.rec.path.push('/');
        self.rec.path.push_str(&escape(key));
        let len = self.rec.path.len();
        Ctx {
            rec: &mut *self.rec,
            len,
        }
    }

    /// The context of element `index` of this view's array.
    pub fn child_index(&mut self, index: usize) -> Ctx<'_> {
        self.at_index(index);
        let len = self.rec.path.len();
        Ctx {
            rec: &mut *self.rec,
            len,
        }
    }

    /// A context at this view's own path, for a view of the same value
    /// under another type (the contents of an `Option` or a `Box`).
    pub fn child_view(&mut self) -> Ctx<'_> {
        self.rec.path.truncate(self.len);
        Ctx {
            rec: &mut *self.rec,
            len: self.len,
        }
    }

    /// This view's escaped path.
    pub fn path(&mut self) -> &str {
        self.rec.path.truncate(self.len);
        &self.rec.path
    }

    /// An error at this view's path.
    pub fn error(&mut self, kind: MutationErrorKind) -> MutationError {
        MutationError::new(self.path(), kind)
    }

    /// An error at the member `key` of this view.
    pub fn error_at(&mut self, key: &str, kind: MutationErrorKind) -> MutationError {
        self.child(key).error(kind)
    }

    /// An error at element `index` of this view.
    pub fn error_at_index(&mut self, index: usize, kind: MutationErrorKind) -> MutationError {
        self.child_index(index).error(kind)
    }

    /// Validates `value` (finite floats, declared constraints) and
    /// serialises it, reporting errors at this view's path.
    ///
    /// # Errors
    ///
    /// The first refused value.
    pub fn to_json<T: Reactive + ?Sized>(&mut self, value: &T) -> Result<Value, MutationError> {
        self.rec.path.truncate(self.len);
        value.validate(&mut self.rec.path)?;
        self.rec.path.truncate(self.len);
        serde_json::to_value(value).map_err(|e| {
            self.error(MutationErrorKind::Serialize {
                message: e.to_string(),
            })
        })
    }

    /// Replaces `*slot` (the value at this view's path) with `value`,
    /// recording `replace` unless the JSON form is unchanged.
    ///
    /// # Errors
    ///
    /// A refused value: nothing changes.
    pub fn set<T: Reactive>(&mut self, slot: &mut T, value: T) -> Result<(), MutationError> {
        let new = self.to_json(&value)?;
        let changed = serde_json::to_value(&*slot).map_or(true, |old| old != new);
        *slot = value;
        if changed {
            self.rec.path.truncate(self.len);
            self.rec.replace(new);
        }
        Ok(())
    }

    /// Replaces the member `key` of this view's object, as [`Ctx::set`].
    ///
    /// # Errors
    ///
    /// A refused value: nothing changes.
    pub fn set_field<T: Reactive>(
        &mut self,
        key: &str,
        slot: &mut T,
        value: T,
    ) -> Result<(), MutationError> {
        self.child(key).set(slot, value)
    }

    /// Replaces the member `key` of this view's object with a value of a
    /// type that is not `Reactive` (a `#[reactive(leaf)]` field): checked
    /// for finite floats only, otherwise as [`Ctx::set`].
    ///
    /// # Errors
    ///
    /// A refused value: nothing changes.
    pub fn set_leaf_field<T: serde::Serialize>(
        &mut self,
        key: &str,
        slot: &mut T,
        value: T,
    ) -> Result<(), MutationError> {
        let mut child = self.child(key);
        let new = super::to_json(&value).map_err(|kind| child.error(kind))?;
        let changed = serde_json::to_value(&*slot).map_or(true, |old| old != new);
        *slot = value;
        if changed {
            child.record_replace(new);
        }
        Ok(())
    }

    /// Records `replace` of this view's whole value with `value`, already
    /// serialised (used after in-place changes such as a sort).
    pub fn record_replace(&mut self, value: Value) {
        self.rec.path.truncate(self.len);
        self.rec.replace(value);
    }

    /// Records `add` of `value` at element `index` of this view's array.
    pub fn record_add_index(&mut self, index: usize, value: Value) {
        self.at_index(index);
        self.rec.push(|path| PatchOp::Add { path, value });
    }

    /// Records `remove` of element `index` of this view's array.
    pub fn record_remove_index(&mut self, index: usize) {
        self.at_index(index);
        self.rec.push(|path| PatchOp::Remove { path });
    }

    /// Records `add` of `value` as the new member `key` of this view's
    /// object.
    pub fn record_add_key(&mut self, key: &str, value: Value) {
        let child = self.child(key);
        child.rec.push(|path| PatchOp::Add { path, value });
    }

    /// Records `replace` of the member `key` of this view's object.
    pub fn record_replace_key(&mut self, key: &str, value: Value) {
        let mut child = self.child(key);
        child.record_replace(value);
    }

    /// Records `remove` of the member `key` of this view's object.
    pub fn record_remove_key(&mut self, key: &str) {
        let child = self.child(key);
        child.rec.push(|path| PatchOp::Remove { path });
    }

    /// Points the path buffer at element `index` of this view.
    fn at_index(&mut self, index: usize) {
        use std::fmt::Write;
        self.rec.path.truncate(self.len);
        // Writing into a String cannot fail.
        let _ = write!(self.rec.path, "/{index}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops_json(recorder: &mut Recorder) -> Value {
        serde_json::to_value(recorder.take_ops()).unwrap()
    }

    #[test]
    fn repeated_writes_to_one_path_coalesce() {
        let mut rec = Recorder::new();
        let mut root = rec.root();
        root.child("a").record_replace(json!(1));
        root.child("b").record_replace(json!(1));
        root.child("a").record_replace(json!(2));
        assert_eq!(
            ops_json(&mut rec),
            json!([
                {"op": "replace", "path": "/a", "value": 2},
                {"op": "replace", "path": "/b", "value": 1}
            ])
        );
    }

    #[test]
    fn coalescing_passes_structural_ops_elsewhere() {
        let mut rec = Recorder::new();
        let mut root = rec.root();
        root.child("count").record_replace(json!(1));
        root.child("tags").record_add_index(0, json!("a"));
        root.child("m").record_remove_key("k");
        root.child("count").record_replace(json!(2));
        assert_eq!(
            ops_json(&mut rec),
            json!([
                {"op": "replace", "path": "/count", "value": 2},
                {"op": "add", "path": "/tags/0", "value": "a"},
                {"op": "remove", "path": "/m/k"}
            ])
        );
    }

    #[test]
    fn a_whole_replace_drops_structural_ops_inside_it() {
        let mut rec = Recorder::new();
        let mut root = rec.root();
        root.child("tags").record_add_index(0, json!("a"));
        root.child("tags").record_remove_index(1);
        root.child("tags").record_replace(json!(["z"]));
        assert_eq!(
            ops_json(&mut rec),
            json!([{"op": "replace", "path": "/tags", "value": ["z"]}])
        );
    }

    #[test]
    fn coalescing_stops_at_structural_ops() {
        let mut rec = Recorder::new();
        let mut root = rec.root();
        root.child("list").child_index(1).record_replace(json!("x"));
        root.child("list").record_remove_index(0);
        root.child("list").child_index(1).record_replace(json!("y"));
        assert_eq!(
            ops_json(&mut rec),
            json!([
                {"op": "replace", "path": "/list/1", "value": "x"},
                {"op": "remove", "path": "/list/0"},
                {"op": "replace", "path": "/list/1", "value": "y"}
            ])
        );
    }

    #[test]
    fn a_replace_after_an_add_folds_into_the_add() {
        let mut rec = Recorder::new();
        let mut root = rec.root();
        root.child("m").record_add_key("k", json!(1));
        root.child("m").record_replace_key("k", json!(2));
        assert_eq!(
            ops_json(&mut rec),
            json!([{"op": "add", "path": "/m/k", "value": 2}])
        );
    }

    #[test]
    fn a_whole_replace_drops_earlier_writes_inside_it() {
        let mut rec = Recorder::new();
        let mut root = rec.root();
        root.child("a").child("x").record_replace(json!(1));
        root.child("b").record_replace(json!(1));
        root.child("a").record_replace(json!({"x": 2}));
        assert_eq!(
            ops_json(&mut rec),
            json!([
                {"op": "replace", "path": "/b", "value": 1},
                {"op": "replace", "path": "/a", "value": {"x": 2}}
            ])
        );
    }

    #[test]
    fn a_write_inside_an_earlier_value_folds_into_it() {
        let mut rec = Recorder::new();
        let mut root = rec.root();
        root.child("a").record_replace(json!({"x": 1, "list": []}));
        root.child("a")
            .child("list")
            .record_add_index(0, json!("t"));
        root.child("a").child("x").record_replace(json!(2));
        root.child("c").record_add_index(0, json!({"v": 0}));
        root.child("c")
            .child_index(0)
            .child("v")
            .record_replace(json!(5));
        assert_eq!(
            ops_json(&mut rec),
            json!([
                {"op": "replace", "path": "/a", "value": {"x": 2, "list": []}},
                {"op": "add", "path": "/a/list/0", "value": "t"},
                {"op": "add", "path": "/c/0", "value": {"v": 5}}
            ])
        );
    }

    #[test]
    fn a_write_after_a_shift_inside_the_value_is_kept_apart() {
        let mut rec = Recorder::new();
        let mut root = rec.root();
        root.child("a").record_replace(json!({"list": [1, 2]}));
        root.child("a").child("list").record_remove_index(0);
        root.child("a")
            .child("list")
            .child_index(0)
            .record_replace(json!(9));
        assert_eq!(
            ops_json(&mut rec),
            json!([
                {"op": "replace", "path": "/a", "value": {"list": [1, 2]}},
                {"op": "remove", "path": "/a/list/0"},
                {"op": "replace", "path": "/a/list/0", "value": 9}
            ])
        );
    }

    #[test]
    fn long_commits_coalesce_through_the_index() {
        let mut rec = Recorder::new();
        let mut root = rec.root();
        for index in 0..100 {
            root.child("list")
                .child_index(index)
                .record_replace(json!(index));
        }
        root.child("list")
            .child_index(7)
            .record_replace(json!("seven"));
        root.child("list")
            .child_index(8)
            .child("deep")
            .record_replace(json!(1));
        root.child("list")
            .child_index(8)
            .record_replace(json!("eight"));
        let ops = rec.take_ops();
        assert_eq!(ops.len(), 100);
        assert_eq!(
            serde_json::to_value(&ops[7]).unwrap(),
            json!({"op": "replace", "path": "/list/7", "value": "seven"})
        );
        assert_eq!(
            serde_json::to_value(&ops[8]).unwrap(),
            json!({"op": "replace", "path": "/list/8", "value": "eight"})
        );
    }

    #[test]
    fn keys_are_escaped() {
        let mut rec = Recorder::new();
        rec.root()
            .child("labels")
            .record_add_key("a/b~c", json!("x"));
        assert_eq!(
            ops_json(&mut rec),
            json!([{"op": "add", "path": "/labels/a~1b~0c", "value": "x"}])
        );
    }
}
