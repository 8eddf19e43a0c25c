//! The tracked view of a `Vec<T>`.

use std::ops::Deref;

use super::{Ctx, MutationError, MutationErrorKind, Reactive};
use crate::schema::{segment_text, Defs, Segment};

/// A list: `add`, `remove` and `replace` by index.
impl<T: Reactive> Reactive for Vec<T> {
    type Tracked<'a>
        = VecTracked<'a, T>
    where
        T: 'a;

    fn tracked<'a>(&'a mut self, ctx: Ctx<'a>) -> VecTracked<'a, T> {
        VecTracked { value: self, ctx }
    }

    fn validate(&self, path: &mut String) -> Result<(), MutationError> {
        let len = path.len();
        for (index, item) in self.iter().enumerate() {
            use std::fmt::Write;
            let _ = write!(path, "/{index}");
            let result = item.validate(path);
            path.truncate(len);
            result?;
        }
        Ok(())
    }

    fn annotate_schema(schema: &mut serde_json::Value, defs: &mut Defs) {
        if let Some(items) = schema.get_mut("items") {
            T::annotate_schema(items, defs);
        }
    }

    fn check_path(segments: &[Segment]) -> Result<(), String> {
        match segments.split_first() {
            None => Ok(()),
            Some((Segment::Param(_), rest)) => T::check_path(rest),
            Some((Segment::Literal(index), rest))
                if matches!(
                    crate::pointer::parse_index(index),
                    Ok(crate::pointer::ArrayPosition::Index(_))
                ) =>
            {
                T::check_path(rest)
            }
            Some((segment, _)) => Err(format!(
                "{} is not an index of a list: write a `{{param}}` or a number",
                segment_text(segment)
            )),
        }
    }

    fn history_paths(path: &mut String, out: &mut Vec<String>) {
        super::items_history_paths::<T>(path, out);
    }
}

/// The tracked view of a `Vec<T>`.
///
/// | method | operations recorded |
/// |---|---|
/// | [`push`](VecTracked::push), [`insert`](VecTracked::insert) | one `add` |
/// | [`extend`](VecTracked::extend) | one `add` per item |
/// | [`pop`](VecTracked::pop), [`remove`](VecTracked::remove) | one `remove` (later indices shift) |
/// | [`set`](VecTracked::set) | one `replace` (none if equal) |
/// | [`swap`](VecTracked::swap) | two `replace`s |
/// | [`clear`](VecTracked::clear), [`truncate`](VecTracked::truncate), [`retain`](VecTracked::retain), [`sort_by`](VecTracked::sort_by) and the other reorderings | one `replace` of the whole list, if it changed |
///
/// [`at`](VecTracked::at) gives the tracked view of one element. Reading
/// goes through `Deref<Target = Vec<T>>`.
///
/// ```
/// use lab_link_core::reactive::{Reactive, Recorder};
///
/// let mut recorder = Recorder::new();
/// let mut values = vec![3, 1, 2];
/// let mut view = values.tracked(recorder.root());
/// view.set(0, 5)?;
/// view.sort();
/// assert_eq!(view.len(), 3);
/// assert!(view.at(7).is_err());
/// assert_eq!(values, [1, 2, 5]);
/// assert_eq!(
///     serde_json::to_string(&recorder.take_ops())?,
///     r#"[{"op":"replace","path":"","value":[1,2,5]}]"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct VecTracked<'a, T> {
    value: &'a mut Vec<T>,
    ctx: Ctx<'a>,
}

impl<'a, T: Reactive> VecTracked<'a, T> {
    /// The tracked view of element `index`.
    ///
    /// # Errors
    ///
    /// [`MutationErrorKind::IndexOutOfRange`] past the end.
    pub fn at(&mut self, index: usize) -> Result<T::Tracked<'_>, MutationError> {
        let len = self.value.len();
        match self.value.get_mut(index) {
            Some(item) => Ok(item.tracked(self.ctx.child_index(index))),
            None => Err(self
                .ctx
                .error_at_index(index, MutationErrorKind::IndexOutOfRange { index, len })),
        }
    }

    /// Appends `item`: `add` at index `len`.
    ///
    /// # Errors
    ///
    /// A refused value (non-finite float, failed constraint): nothing
    /// changes.
    pub fn push(&mut self, item: T) -> Result<(), MutationError> {
        let index = self.value.len();
        let json = self.ctx.child_index(index).to_json(&item)?;
        self.value.push(item);
        self.ctx.record_add_index(index, json);
        Ok(())
    }

    /// Inserts `item` at `index`, shifting later elements: `add` at
    /// `index`.
    ///
    /// # Errors
    ///
    /// An index past `len`, or a refused value: nothing changes.
    pub fn insert(&mut self, index: usize, item: T) -> Result<(), MutationError> {
        let len = self.value.len();
        if index > len {
            return Err(self
                .ctx
                .error_at_index(index, MutationErrorKind::IndexOutOfRange { index, len }));
        }
        let json = self.ctx.child_index(index).to_json(&item)?;
        self.value.insert(index, item);
        self.ctx.record_add_index(index, json);
        Ok(())
    }

    /// Appends every item: one `add` per item. Stops at the first refused
    /// item; the items before it stay appended.
    ///
    /// # Errors
    ///
    /// The first refused item.
    pub fn extend(&mut self, items: impl IntoIterator<Item = T>) -> Result<(), MutationError> {
        items.into_iter().try_for_each(|item| self.push(item))
    }

    /// Removes and returns the last element: `remove` of it.
    pub fn pop(&mut self) -> Option<T> {
        let item = self.value.pop()?;
        self.ctx.record_remove_index(self.value.len());
        Some(item)
    }

    /// Removes and returns element `index`, shifting later elements down:
    /// `remove` at `index`.
    ///
    /// # Errors
    ///
    /// [`MutationErrorKind::IndexOutOfRange`] past the end.
    pub fn remove(&mut self, index: usize) -> Result<T, MutationError> {
        let len = self.value.len();
        if index >= len {
            return Err(self
                .ctx
                .error_at_index(index, MutationErrorKind::IndexOutOfRange { index, len }));
        }
        let item = self.value.remove(index);
        self.ctx.record_remove_index(index);
        Ok(item)
    }

    /// Replaces element `index`: `replace` unless the JSON form is
    /// unchanged.
    ///
    /// # Errors
    ///
    /// An index past the end, or a refused value: nothing changes.
    pub fn set(&mut self, index: usize, item: T) -> Result<(), MutationError> {
        let len = self.value.len();
        match self.value.get_mut(index) {
            Some(slot) => self.ctx.child_index(index).set(slot, item),
            None => Err(self
                .ctx
                .error_at_index(index, MutationErrorKind::IndexOutOfRange { index, len })),
        }
    }

    /// Swaps elements `a` and `b`: two `replace`s (none when equal).
    ///
    /// # Errors
    ///
    /// An index past the end: nothing changes.
    pub fn swap(&mut self, a: usize, b: usize) -> Result<(), MutationError> {
        let len = self.value.len();
        for index in [a, b] {
            if index >= len {
                return Err(self
                    .ctx
                    .error_at_index(index, MutationErrorKind::IndexOutOfRange { index, len }));
            }
        }
        if a == b {
            return Ok(());
        }
        let json_a = self.element_json(a)?;
        let json_b = self.element_json(b)?;
        if json_a == json_b {
            self.value.swap(a, b);
            return Ok(());
        }
        self.value.swap(a, b);
        self.ctx.child_index(a).record_replace(json_b);
        self.ctx.child_index(b).record_replace(json_a);
        Ok(())
    }

    /// Removes every element: one `replace` with `[]`, if it was not empty.
    pub fn clear(&mut self) {
        if !self.value.is_empty() {
            self.value.clear();
            self.ctx
                .record_replace(serde_json::Value::Array(Vec::new()));
        }
    }

    /// Keeps the first `len` elements: one `replace` of the list, if it
    /// was longer.
    pub fn truncate(&mut self, len: usize) {
        if len < self.value.len() {
            self.value.truncate(len);
            self.record_whole();
        }
    }

    /// Keeps the elements `keep` returns `true` for: one `replace` of the
    /// list, if any was removed.
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        let before = self.value.len();
        let guard = WholeGuard::new(self, |view| view.value.len() != before);
        guard.view.value.retain(keep);
    }

    /// Reverses the order: one `replace` of the list.
    pub fn reverse(&mut self) {
        if self.value.len() > 1 {
            self.value.reverse();
            self.record_whole();
        }
    }

    /// Sorts with `compare` (stable): one `replace` of the list.
    ///
    /// If `compare` panics the list may be partly sorted; the `replace` is
    /// still recorded, so the replicas see what the list holds.
    pub fn sort_by(&mut self, compare: impl FnMut(&T, &T) -> std::cmp::Ordering) {
        let guard = WholeGuard::new(self, |view| view.value.len() > 1);
        guard.view.value.sort_by(compare);
    }

    /// Sorts by the key `key` extracts (stable): one `replace` of the list.
    pub fn sort_by_key<K: Ord>(&mut self, mut key: impl FnMut(&T) -> K) {
        self.sort_by(|a, b| key(a).cmp(&key(b)));
    }

    /// Sorts (stable): one `replace` of the list.
    pub fn sort(&mut self)
    where
        T: Ord,
    {
        self.sort_by(T::cmp);
    }

    /// Removes consecutive equal elements: one `replace` of the list, if
    /// any was removed.
    pub fn dedup(&mut self)
    where
        T: PartialEq,
    {
        let before = self.value.len();
        self.value.dedup();
        if self.value.len() != before {
            self.record_whole();
        }
    }

    /// Replaces the whole list: one `replace` (none if the JSON form is
    /// unchanged).
    ///
    /// # Errors
    ///
    /// A refused element: nothing changes.
    pub fn set_all(&mut self, items: Vec<T>) -> Result<(), MutationError> {
        self.ctx.set(self.value, items)
    }

    fn element_json(&mut self, index: usize) -> Result<serde_json::Value, MutationError> {
        let item = &self.value[index];
        serde_json::to_value(item).map_err(|e| {
            self.ctx.error_at_index(
                index,
                MutationErrorKind::Serialize {
                    message: e.to_string(),
                },
            )
        })
    }

    /// Records a `replace` of the whole list with its current contents.
    fn record_whole(&mut self) {
        // Invariant: the elements serialised when they entered the list
        // (every path in checks them), and serialising does not change.
        let json = serde_json::to_value(&*self.value)
            .expect("list elements were serialised when they were added");
        self.ctx.record_replace(json);
    }
}

/// Records a whole-list `replace` when dropped, so that an in-place change
/// that calls user code (a comparator, a predicate) is recorded even if that
/// code panics half-way.
struct WholeGuard<'v, 'a, T: Reactive, F: FnOnce(&VecTracked<'a, T>) -> bool> {
    view: &'v mut VecTracked<'a, T>,
    changed: Option<F>,
}

impl<'v, 'a, T: Reactive, F: FnOnce(&VecTracked<'a, T>) -> bool> WholeGuard<'v, 'a, T, F> {
    fn new(view: &'v mut VecTracked<'a, T>, changed: F) -> Self {
        Self {
            view,
            changed: Some(changed),
        }
    }
}

impl<'a, T: Reactive, F: FnOnce(&VecTracked<'a, T>) -> bool> Drop for WholeGuard<'_, 'a, T, F> {
    fn drop(&mut self) {
        let changed = self
            .changed
            .take()
            .is_some_and(|changed| changed(self.view));
        if changed {
            self.view.record_whole();
        }
    }
}

impl<T> Deref for VecTracked<'_, T> {
    type Target = Vec<T>;

    fn deref(&self) -> &Vec<T> {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::super::Recorder;
    use super::*;
    use serde_json::{json, Value};

    #[track_caller]
    fn check(
        start: Vec<i64>,
        mutate: impl FnOnce(&mut VecTracked<'_, i64>),
        end: &[i64],
        ops: Value,
    ) {
        let mut recorder = Recorder::new();
        let mut list = start;
        let before = serde_json::to_value(&list).unwrap();
        mutate(&mut list.tracked(recorder.root()));
        assert_eq!(list, end);
        let recorded = recorder.take_ops();
        assert_eq!(serde_json::to_value(&recorded).unwrap(), ops);
        // The oracle: the ops turn the old JSON into the new JSON.
        let mut doc = before;
        crate::apply(&mut doc, &recorded).unwrap();
        assert_eq!(doc, serde_json::to_value(&list).unwrap());
    }

    #[test]
    fn push_insert_extend_add() {
        check(
            vec![1],
            |v| v.push(2).unwrap(),
            &[1, 2],
            json!([{"op": "add", "path": "/1", "value": 2}]),
        );
        check(
            vec![1],
            |v| v.insert(0, 0).unwrap(),
            &[0, 1],
            json!([{"op": "add", "path": "/0", "value": 0}]),
        );
        check(
            vec![],
            |v| v.extend([7, 8]).unwrap(),
            &[7, 8],
            json!([{"op": "add", "path": "/0", "value": 7}, {"op": "add", "path": "/1", "value": 8}]),
        );
    }

    #[test]
    fn remove_and_pop_shift_later_indices() {
        check(
            vec![1, 2, 3],
            |v| {
                assert_eq!(v.remove(0).unwrap(), 1);
                // The element that was at 2 is now at 1.
                v.at(1).unwrap().set(30).unwrap();
                assert_eq!(v.pop(), Some(30));
                assert_eq!(v.pop(), Some(2));
                assert_eq!(v.pop(), None);
            },
            &[],
            json!([
                {"op": "remove", "path": "/0"},
                {"op": "replace", "path": "/1", "value": 30},
                {"op": "remove", "path": "/1"},
                {"op": "remove", "path": "/0"}
            ]),
        );
    }

    #[test]
    fn set_swap_and_equal_writes() {
        check(
            vec![1, 2],
            |v| {
                v.set(0, 1).unwrap();
                v.swap(0, 1).unwrap();
                v.swap(1, 1).unwrap();
            },
            &[2, 1],
            json!([
                {"op": "replace", "path": "/0", "value": 2},
                {"op": "replace", "path": "/1", "value": 1}
            ]),
        );
    }

    #[test]
    fn whole_list_changes_are_one_replace() {
        check(
            vec![3, 1, 2],
            |v| v.sort(),
            &[1, 2, 3],
            json!([{"op": "replace", "path": "", "value": [1, 2, 3]}]),
        );
        check(
            vec![3, 1, 2],
            |v| v.reverse(),
            &[2, 1, 3],
            json!([{"op": "replace", "path": "", "value": [2, 1, 3]}]),
        );
        check(
            vec![3, 1, 2],
            |v| v.retain(|x| *x > 1),
            &[3, 2],
            json!([{"op": "replace", "path": "", "value": [3, 2]}]),
        );
        check(vec![3, 1, 2], |v| v.retain(|_| true), &[3, 1, 2], json!([]));
        check(
            vec![3, 1, 2],
            |v| v.truncate(1),
            &[3],
            json!([{"op": "replace", "path": "", "value": [3]}]),
        );
        check(vec![3, 1, 2], |v| v.truncate(5), &[3, 1, 2], json!([]));
        check(
            vec![3, 1, 2],
            |v| v.clear(),
            &[],
            json!([{"op": "replace", "path": "", "value": []}]),
        );
        check(vec![], |v| v.clear(), &[], json!([]));
        check(
            vec![1, 1, 2],
            |v| v.dedup(),
            &[1, 2],
            json!([{"op": "replace", "path": "", "value": [1, 2]}]),
        );
        check(vec![1], |v| v.set_all(vec![1]).unwrap(), &[1], json!([]));
    }

    #[test]
    fn out_of_range_is_an_error_and_changes_nothing() {
        check(
            vec![1],
            |v| {
                assert_eq!(
                    v.at(1).unwrap_err().to_string(),
                    "refused write to \"/1\": index 1 is out of range for a list of length 1"
                );
                assert!(v.remove(1).is_err());
                assert!(v.set(1, 0).is_err());
                assert!(v.insert(2, 0).is_err());
                assert!(v.swap(0, 1).is_err());
            },
            &[1],
            json!([]),
        );
    }

    #[test]
    fn a_panicking_comparator_still_records_the_list() {
        let mut recorder = Recorder::new();
        let mut list = vec![3, 1, 2];
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            list.tracked(recorder.root())
                .sort_by(|_, _| panic!("comparator failed"));
        }));
        assert!(result.is_err());
        let ops = recorder.take_ops();
        let mut doc = json!([3, 1, 2]);
        crate::apply(&mut doc, &ops).unwrap();
        assert_eq!(doc, serde_json::to_value(&list).unwrap());
    }

    #[test]
    fn non_finite_floats_are_refused() {
        let mut recorder = Recorder::new();
        let mut list = vec![1.0_f64];
        let mut view = list.tracked(recorder.root());
        let err = view.push(f64::NAN).unwrap_err();
        assert_eq!(err.path(), "/1");
        assert_eq!(*err.kind(), MutationErrorKind::NonFinite);
        assert!(view.set(0, f64::INFINITY).is_err());
        assert_eq!(list, [1.0]);
        assert!(recorder.is_empty());
    }
}
