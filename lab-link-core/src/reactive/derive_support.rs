//! Runtime support for the code `#[derive(Reactive)]` generates. Not a
//! public API: the derive reaches it through the facade's hidden
//! `__private` module, and it may change in any release.

use std::fmt::{Debug, Display};
use std::marker::PhantomData;
use std::ops::RangeBounds;

pub use super::{Ctx, Leaf, MutationError, MutationErrorKind, Reactive};
pub use crate::schema::{
    assert_history_value, assert_numeric, keyword, leaf_path, property, range_keywords,
    segment_text, Defs, Segment,
};
/// The bound generated impls put on type parameters of `#[reactive(leaf)]`
/// fields, and on generic state types themselves.
pub use serde::Serialize;
pub use serde_json::{Map, Value};
pub use std::result::Result;

/// A `#[reactive(range = …)]` that fits a field of type `T`: a range
/// with bounds of type `T`. Only here to say the fix when it does not fit.
#[diagnostic::on_unimplemented(
    message = "`range` needs bounds of the field's own type: `{Self}` is not a range of `{T}`",
    label = "not a range of `{T}`",
    note = "write the bounds in the field's type (`range = 0.0..=10.0` for an `f64`, \
            `range = 1..=64` for a `u32`); a `{T}` field without such an order is checked \
            with `validate = path::to::check` instead, a `fn(&{T}) -> Result<(), E>` with \
            `E: Display`"
)]
pub trait FieldRange<T> {
    /// Whether `value` lies in the range.
    fn holds(&self, value: &T) -> bool;
}

impl<T: PartialOrd, R: RangeBounds<T>> FieldRange<T> for R {
    fn holds(&self, value: &T) -> bool {
        self.contains(value)
    }
}

/// Checks a value against a range declared with `#[reactive(range = …)]`.
/// `range_text` is the range as written in the attribute, for the message.
pub fn check_range<T, R>(value: &T, range: R, range_text: &str) -> Result<(), MutationErrorKind>
where
    T: PartialOrd + Debug,
    R: FieldRange<T>,
{
    // A value not equal to itself is a NaN: say so rather than "out of
    // range".
    if value.partial_cmp(value).is_none() {
        return Err(MutationErrorKind::NonFinite);
    }
    if range.holds(value) {
        Ok(())
    } else {
        Err(MutationErrorKind::OutOfRange {
            value: format!("{value:?}"),
            range: range_text.to_owned(),
        })
    }
}

/// Runs a validator declared with `#[reactive(validate = path)]`: any
/// `fn(&T) -> Result<(), E>` with `E: Display`.
pub fn check_with<T, E: Display>(
    value: &T,
    validator: impl FnOnce(&T) -> Result<(), E>,
) -> Result<(), MutationErrorKind> {
    validator(value).map_err(|e| MutationErrorKind::Invalid {
        message: e.to_string(),
    })
}

/// Reports a failed field check at `path` + `/key`.
pub fn field_error(path: &str, key: &str, kind: MutationErrorKind) -> MutationError {
    let mut at = path.to_owned();
    at.push('/');
    at.push_str(&crate::pointer::escape(key));
    MutationError::new(at, kind)
}

/// Validates a field of a `Reactive` type at `path` + `/key`.
pub fn validate_field<T: Reactive + ?Sized>(
    value: &T,
    path: &mut String,
    key: &str,
) -> Result<(), MutationError> {
    let len = path.len();
    path.push('/');
    path.push_str(&crate::pointer::escape(key));
    let result = value.validate(path);
    path.truncate(len);
    result
}

/// Validates a `#[reactive(leaf)]` field (finite floats only) at `path` +
/// `/key`.
pub fn validate_leaf<T: Serialize + ?Sized>(
    value: &T,
    path: &str,
    key: &str,
) -> Result<(), MutationError> {
    super::json::check_finite(value).map_err(|kind| field_error(path, key, kind))
}

/// Checks a whole value for non-finite floats, reporting at `path`: the
/// default [`Reactive::validate`], for `#[reactive(leaf)]` types that also
/// declare field constraints and so override `validate`.
pub fn validate_finite<T: Serialize + ?Sized>(value: &T, path: &str) -> Result<(), MutationError> {
    super::json::check_finite(value).map_err(|kind| MutationError::new(path, kind))
}

/// Checks that a field type is `Reactive`, so that the error points at the
/// field: generated per field inside `const _: () = { … }`.
pub fn assert_reactive<T: Reactive + ?Sized>() {}

/// The setter and `validate` operations of a field of type `T`, called as
/// `(&FieldOps::<T>::new()).set_field(…)` with [`ReactiveField`] and
/// [`NotReactiveField`] in scope.
///
/// Why the indirection: a field type that is not `Reactive` must be
/// reported once, at the field (by the getter's signature or by
/// [`assert_reactive`]), not a second and third time by the setter and
/// `validate`. Method resolution picks [`ReactiveField`] (implemented on
/// `FieldOps<T>`, found without autoref) whenever `T: Reactive` holds, and
/// falls back to [`NotReactiveField`] (implemented on `&FieldOps<T>`, found
/// with autoref) only when it does not. In that case the program does not
/// compile: under the same bounds as the setter, the generated code also
/// names `<T as Reactive>` (in the field's getter, or in an
/// [`assert_reactive`] call for a field without one), so the fallback's
/// methods can never run.
#[derive(Debug)]
pub struct FieldOps<T: ?Sized>(PhantomData<fn(&T)>);

impl<T: ?Sized> FieldOps<T> {
    /// The operations of a field of type `T`.
    pub fn new() -> Self {
        FieldOps(PhantomData)
    }
}

impl<T: ?Sized> Default for FieldOps<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The operations of a `Reactive` field: see [`FieldOps`].
pub trait ReactiveField<T> {
    /// [`validate_field`].
    ///
    /// # Errors
    ///
    /// The first refused value.
    fn validate_field(&self, value: &T, path: &mut String, key: &str) -> Result<(), MutationError>;

    /// [`Ctx::set_field`].
    ///
    /// # Errors
    ///
    /// A refused value: nothing changes.
    fn set_field(
        &self,
        ctx: &mut Ctx<'_>,
        key: &str,
        slot: &mut T,
        value: T,
    ) -> Result<(), MutationError>;

    /// [`Reactive::annotate_schema`].
    fn annotate_field(&self, schema: &mut Value, defs: &mut Defs);

    /// [`Reactive::check_path`].
    ///
    /// # Errors
    ///
    /// As [`Reactive::check_path`].
    fn check_field_path(&self, segments: &[Segment]) -> Result<(), String>;

    /// [`Reactive::history_paths`].
    fn field_history_paths(&self, path: &mut String, out: &mut Vec<String>);
}

impl<T: Reactive> ReactiveField<T> for FieldOps<T> {
    fn validate_field(&self, value: &T, path: &mut String, key: &str) -> Result<(), MutationError> {
        validate_field(value, path, key)
    }

    fn set_field(
        &self,
        ctx: &mut Ctx<'_>,
        key: &str,
        slot: &mut T,
        value: T,
    ) -> Result<(), MutationError> {
        ctx.set_field(key, slot, value)
    }

    fn annotate_field(&self, schema: &mut Value, defs: &mut Defs) {
        T::annotate_schema(schema, defs);
    }

    fn check_field_path(&self, segments: &[Segment]) -> Result<(), String> {
        T::check_path(segments)
    }

    fn field_history_paths(&self, path: &mut String, out: &mut Vec<String>) {
        T::history_paths(path, out);
    }
}

/// The fallback of [`ReactiveField`] for a field type that is not
/// `Reactive`, chosen only in code that cannot compile: see [`FieldOps`].
pub trait NotReactiveField<T> {
    /// Never runs.
    ///
    /// # Errors
    ///
    /// Never returns.
    fn validate_field(&self, value: &T, path: &mut String, key: &str) -> Result<(), MutationError>;

    /// Never runs.
    ///
    /// # Errors
    ///
    /// Never returns.
    fn set_field(
        &self,
        ctx: &mut Ctx<'_>,
        key: &str,
        slot: &mut T,
        value: T,
    ) -> Result<(), MutationError>;

    /// Never runs.
    fn annotate_field(&self, schema: &mut Value, defs: &mut Defs);

    /// Never runs.
    ///
    /// # Errors
    ///
    /// Never returns.
    fn check_field_path(&self, segments: &[Segment]) -> Result<(), String>;

    /// Never runs.
    fn field_history_paths(&self, path: &mut String, out: &mut Vec<String>);
}

impl<T> NotReactiveField<T> for &FieldOps<T> {
    fn validate_field(&self, _: &T, _: &mut String, _: &str) -> Result<(), MutationError> {
        unreachable!("`assert_reactive` rejects a program that calls this")
    }

    fn set_field(&self, _: &mut Ctx<'_>, _: &str, _: &mut T, _: T) -> Result<(), MutationError> {
        unreachable!("`assert_reactive` rejects a program that calls this")
    }

    fn annotate_field(&self, _: &mut Value, _: &mut Defs) {
        unreachable!("`assert_reactive` rejects a program that calls this")
    }

    fn check_field_path(&self, _: &[Segment]) -> Result<(), String> {
        unreachable!("`assert_reactive` rejects a program that calls this")
    }

    fn field_history_paths(&self, _: &mut String, _: &mut Vec<String>) {
        unreachable!("`assert_reactive` rejects a program that calls this")
    }
}
