//! The tracked view of an `Option<T>`.

use std::ops::Deref;

use super::{Ctx, MutationError, MutationErrorKind, Reactive};
use crate::schema::{Defs, Segment};

/// An optional value: `null` in JSON when `None`, the value itself when
/// `Some` (serde's representation), at the same path.
impl<T: Reactive> Reactive for Option<T> {
    type Tracked<'a>
        = OptionTracked<'a, T>
    where
        T: 'a;

    fn tracked<'a>(&'a mut self, ctx: Ctx<'a>) -> OptionTracked<'a, T> {
        OptionTracked { value: self, ctx }
    }

    fn validate(&self, path: &mut String) -> Result<(), MutationError> {
        match self {
            Some(value) => value.validate(path),
            None => Ok(()),
        }
    }

    /// schemars writes an `Option<T>` as `anyOf` (or `oneOf`) of `T` and
    /// `null`, or, for a scalar, as `T`'s schema with `null` added.
    fn annotate_schema(schema: &mut serde_json::Value, defs: &mut Defs) {
        let branches = ["anyOf", "oneOf"]
            .into_iter()
            .find(|keyword| schema.get(keyword).is_some_and(serde_json::Value::is_array));
        let Some(keyword) = branches else {
            return T::annotate_schema(schema, defs);
        };
        if let Some(serde_json::Value::Array(branches)) = schema.get_mut(keyword) {
            let null = serde_json::json!({"type": "null"});
            for branch in branches.iter_mut().filter(|branch| **branch != null) {
                T::annotate_schema(branch, defs);
            }
        }
    }

    fn check_path(segments: &[Segment]) -> Result<(), String> {
        T::check_path(segments)
    }

    fn history_paths(path: &mut String, out: &mut Vec<String>) {
        T::history_paths(path, out);
    }
}

/// The tracked view of an `Option<T>`.
///
/// [`set`](OptionTracked::set), [`take`](OptionTracked::take) and
/// [`insert`](OptionTracked::insert) record one `replace` of the value
/// (`null` for `None`), none if the JSON form is unchanged;
/// [`at`](OptionTracked::at) gives the tracked view of the contents.
///
/// ```
/// use lab_link_core::reactive::{Reactive, Recorder};
///
/// let mut recorder = Recorder::new();
/// let mut limit: Option<Vec<u32>> = None;
/// let mut view = limit.tracked(recorder.root());
/// assert!(view.at().is_err());
/// view.insert(vec![1])?;
/// view.at()?.push(2)?;
/// assert_eq!(
///     serde_json::to_string(&recorder.take_ops())?,
///     r#"[{"op":"replace","path":"","value":[1]},{"op":"add","path":"/1","value":2}]"#
/// );
/// assert_eq!(limit.tracked(recorder.root()).take(), Some(vec![1, 2]));
/// assert_eq!(
///     serde_json::to_string(&recorder.take_ops())?,
///     r#"[{"op":"replace","path":"","value":null}]"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct OptionTracked<'a, T> {
    value: &'a mut Option<T>,
    ctx: Ctx<'a>,
}

impl<'a, T: Reactive> OptionTracked<'a, T> {
    /// The tracked view of the contents.
    ///
    /// # Errors
    ///
    /// [`MutationErrorKind::IsNone`] when there is no value.
    pub fn at(&mut self) -> Result<T::Tracked<'_>, MutationError> {
        match self.value {
            Some(value) => Ok(value.tracked(self.ctx.child_view())),
            None => Err(self.ctx.error(MutationErrorKind::IsNone)),
        }
    }

    /// Replaces the whole option: one `replace` (none if unchanged).
    ///
    /// # Errors
    ///
    /// A refused value: nothing changes.
    pub fn set(&mut self, value: Option<T>) -> Result<(), MutationError> {
        self.ctx.set(self.value, value)
    }

    /// Stores `Some(value)`: one `replace` (none if unchanged).
    ///
    /// # Errors
    ///
    /// A refused value: nothing changes.
    pub fn insert(&mut self, value: T) -> Result<(), MutationError> {
        self.set(Some(value))
    }

    /// Takes the value out, leaving `None`: one `replace` with `null` if
    /// there was a value.
    pub fn take(&mut self) -> Option<T> {
        let old = self.value.take()?;
        self.ctx.record_replace(serde_json::Value::Null);
        Some(old)
    }
}

impl<T> Deref for OptionTracked<'_, T> {
    type Target = Option<T>;

    fn deref(&self) -> &Option<T> {
        self.value
    }
}
