//! Runtime support for the code `#[derive(Reactive)]` generates. Not a
//! public API: the derive reaches it through the facade's hidden
//! `__private` module, and it may change in any release.

use std::fmt::{Debug, Display};
use std::ops::RangeBounds;

use serde::Serialize;

pub use super::{Ctx, Leaf, MutationError, MutationErrorKind, Reactive};
pub use std::result::Result;

/// Checks a value against a range declared with `#[reactive(range = …)]`.
/// `range_text` is the range as written in the attribute, for the message.
pub fn check_range<T, R>(value: &T, range: R, range_text: &str) -> Result<(), MutationErrorKind>
where
    T: PartialOrd + Debug,
    R: RangeBounds<T>,
{
    // A value not equal to itself is a NaN: say so rather than "out of
    // range".
    if value.partial_cmp(value).is_none() {
        return Err(MutationErrorKind::NonFinite);
    }
    if range.contains(value) {
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

/// Checks that a field type is `Reactive`, so that the error points at the
/// field: generated per field inside `const _: () = { … }`.
pub fn assert_reactive<T: Reactive + ?Sized>() {}
