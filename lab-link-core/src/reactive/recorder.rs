//! The recorder: the operations of the current commit and the path of the
//! view that is recording.

use serde_json::Value;

use super::{MutationError, MutationErrorKind, Reactive};
use crate::pointer::{escape, starts_with_raw};
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
    /// write of the same commit when nothing in between could have moved it.
    fn replace(&mut self, value: Value) {
        let path = self.path.as_str();
        // Walk back over the trailing run of `replace`s: they change no
        // array index, so a path means the same location across all of them.
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
                PatchOp::Replace { path: p, .. } if starts_with_raw(p.as_str(), path) => {
                    // Written inside what this write replaces whole: the
                    // earlier write is dead.
                    self.ops.remove(index);
                }
                PatchOp::Replace { path: p, .. } if !starts_with_raw(path, p.as_str()) => {}
                _ => break,
            }
        }
        let path = self.pointer();
        self.ops.push(PatchOp::Replace { path, value });
    }
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
        let path = self.rec.pointer();
        self.rec.ops.push(PatchOp::Add { path, value });
    }

    /// Records `remove` of element `index` of this view's array.
    pub fn record_remove_index(&mut self, index: usize) {
        self.at_index(index);
        let path = self.rec.pointer();
        self.rec.ops.push(PatchOp::Remove { path });
    }

    /// Records `add` of `value` as the new member `key` of this view's
    /// object.
    pub fn record_add_key(&mut self, key: &str, value: Value) {
        let child = self.child(key);
        let path = child.rec.pointer();
        child.rec.ops.push(PatchOp::Add { path, value });
    }

    /// Records `replace` of the member `key` of this view's object.
    pub fn record_replace_key(&mut self, key: &str, value: Value) {
        let mut child = self.child(key);
        child.record_replace(value);
    }

    /// Records `remove` of the member `key` of this view's object.
    pub fn record_remove_key(&mut self, key: &str) {
        let child = self.child(key);
        let path = child.rec.pointer();
        child.rec.ops.push(PatchOp::Remove { path });
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
    fn a_write_inside_an_earlier_replace_is_kept() {
        let mut rec = Recorder::new();
        let mut root = rec.root();
        root.child("a").record_replace(json!({"x": 1}));
        root.child("a").child("x").record_replace(json!(2));
        assert_eq!(
            ops_json(&mut rec),
            json!([
                {"op": "replace", "path": "/a", "value": {"x": 1}},
                {"op": "replace", "path": "/a/x", "value": 2}
            ])
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
