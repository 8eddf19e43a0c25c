//! Typed mutations that record themselves as JSON Patch operations.
//!
//! A [`Reactive`] type hands out a *tracked view* of itself
//! ([`Reactive::Tracked`]) whose every mutating method changes the value
//! and records the RFC 6902 operation that makes the same change to its
//! JSON form. The views are the only way to mutate the state inside
//! [`LabSync::mutate`](crate::LabSync::mutate), so no change can go
//! unrecorded.
//!
//! - Structs get `#[derive(Reactive)]`: a setter per field, and a tracked
//!   getter per field whose type is itself `Reactive`.
//! - [`Vec<T>`], maps with `String` keys, [`Option<T>`] and [`Box<T>`] are
//!   `Reactive` when their elements are, with views that record `add`,
//!   `remove` and `replace` ([`VecTracked`], [`MapTracked`],
//!   [`OptionTracked`]).
//! - Scalars (`bool`, numbers, `char`, `String`, `()`) and
//!   `serde_json::Value` are leaves: their view [`Leaf`] can only replace
//!   the whole value.
//!
//! A write that would change nothing in the JSON form records nothing, and
//! repeated writes to one path inside one commit keep only the last value.
//! Floats must be finite (JSON has no NaN); a refused write returns a
//! [`MutationError`] and changes nothing.
//!
//! Views borrow their parent mutably, so at any moment only the innermost
//! one can be used: a view obtained after a `remove` always records the
//! shifted index, and a view cannot outlive the `mutate` closure.

#[doc(hidden)]
pub mod derive_support;
mod error;
mod json;
mod map;
mod option;
mod recorder;
mod vec;

use std::ops::Deref;

use serde::Serialize;
use serde_json::Value;

use crate::schema::{leaf_path, Defs, Segment};

pub use error::{MutationError, MutationErrorKind};
pub use json::to_json;
pub use map::{MapTracked, TrackedMap, Visit};
pub use option::OptionTracked;
pub use recorder::{Ctx, Recorder};
pub use vec::VecTracked;

/// A type whose mutations can be recorded as JSON Patch operations.
///
/// Derive it for your structs with `#[derive(Reactive)]`; the library
/// implements it for scalars, `String`, `serde_json::Value`, `Vec`, maps with
/// `String` keys, `Option` and `Box`.
///
/// The serialised form must be what `serde_json::to_value` gives, and a
/// tracked view must record exactly the operations that turn the old JSON
/// form into the new one: that is the oracle the tests check.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be tracked by lab-link",
    label = "this type is not `Reactive`",
    note = "derive `Reactive` for your own structs and enums; maps need `String` keys",
    note = "to use a type lab-link cannot track, mark the field `#[reactive(leaf)]`: it is then only replaced whole"
)]
pub trait Reactive: Serialize {
    /// The tracked view of a value of this type.
    type Tracked<'a>
    where
        Self: 'a;

    /// The tracked view of `self`, recording into `ctx` at `ctx`'s path.
    fn tracked<'a>(&'a mut self, ctx: Ctx<'a>) -> Self::Tracked<'a>;

    /// Checks every constraint of the value: finite floats, and the
    /// constraints declared on fields with `#[reactive(...)]`. `path` is the
    /// escaped JSON Pointer of `self`, used in the error; implementations
    /// may push onto it but must leave it as they found it.
    ///
    /// # Errors
    ///
    /// The first refused value, with its path.
    fn validate(&self, path: &mut String) -> Result<(), MutationError> {
        json::check_finite(self).map_err(|kind| MutationError::new(path.clone(), kind))
    }

    /// Writes the metadata declared on this type's fields (unit, range,
    /// title, …) into `schema`, its JSON Schema as schemars made it, and
    /// into the definitions it refers to. A leaf declares none.
    fn annotate_schema(schema: &mut Value, defs: &mut Defs) {
        let _ = (schema, defs);
    }

    /// Checks that the path template `segments`, relative to a value of
    /// this type, names a value that exists in every such value's JSON
    /// form (a `{param}` standing for an index or a map key). A leaf ends
    /// every path.
    ///
    /// # Errors
    ///
    /// Why the path does not exist, for the registration error.
    fn check_path(segments: &[Segment]) -> Result<(), String> {
        leaf_path(segments)
    }

    /// Appends to `out` the JSON Pointer patterns of the values below
    /// `path` (the escaped pointer of a value of this type) marked
    /// `#[reactive(history)]`, with `*` for any index or key: what the
    /// server records. Implementations may push onto `path` but must
    /// leave it as they found it. A leaf marks nothing.
    fn history_paths(path: &mut String, out: &mut Vec<String>) {
        let _ = (path, out);
    }
}

/// How deep [`Reactive::history_paths`] follows a type: a recursive type
/// (a tree of nodes) would otherwise be followed forever.
pub const HISTORY_DEPTH: usize = 32;

/// [`Reactive::history_paths`] of a list or map's items: `path/*`, unless
/// the walk is already [`HISTORY_DEPTH`] segments deep.
pub(crate) fn items_history_paths<T: Reactive + ?Sized>(path: &mut String, out: &mut Vec<String>) {
    if path.matches('/').count() >= HISTORY_DEPTH {
        return;
    }
    let len = path.len();
    path.push_str("/*");
    T::history_paths(path, out);
    path.truncate(len);
}

/// The tracked view of a leaf value: it can only be replaced whole.
///
/// Reading goes through `Deref`.
///
/// ```
/// use lab_link_core::reactive::{Reactive, Recorder};
///
/// let mut recorder = Recorder::new();
/// let mut voltage = 0.5_f64;
/// let mut view = voltage.tracked(recorder.root());
/// assert_eq!(*view, 0.5);
/// view.set(1.25)?;
/// view.set(1.25)?; // equal: nothing more is recorded
/// assert!(view.set(f64::NAN).is_err());
/// assert_eq!(serde_json::to_string(&recorder.take_ops())?,
///            r#"[{"op":"replace","path":"","value":1.25}]"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Leaf<'a, T> {
    value: &'a mut T,
    ctx: Ctx<'a>,
}

impl<'a, T: Reactive> Leaf<'a, T> {
    /// A view of `value` at `ctx`'s path.
    pub fn new(value: &'a mut T, ctx: Ctx<'a>) -> Self {
        Self { value, ctx }
    }

    /// Replaces the value; records `replace` unless the JSON form is
    /// unchanged.
    ///
    /// # Errors
    ///
    /// A non-finite float or a failing `Serialize`: nothing changes.
    pub fn set(&mut self, value: T) -> Result<(), MutationError> {
        self.ctx.set(self.value, value)
    }
}

impl<T> Deref for Leaf<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value
    }
}

macro_rules! leaves {
    ($($ty:ty),* $(,)?) => {
        $(impl Reactive for $ty {
            type Tracked<'a> = Leaf<'a, $ty>;

            fn tracked<'a>(&'a mut self, ctx: Ctx<'a>) -> Leaf<'a, $ty> {
                Leaf::new(self, ctx)
            }
        })*
    };
}

leaves!(
    bool,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    f32,
    f64,
    char,
    String,
    (),
    Value,
);

/// A `Box` is transparent: its view is the view of its contents.
impl<T: Reactive> Reactive for Box<T> {
    type Tracked<'a>
        = T::Tracked<'a>
    where
        T: 'a;

    fn tracked<'a>(&'a mut self, ctx: Ctx<'a>) -> T::Tracked<'a> {
        (**self).tracked(ctx)
    }

    fn validate(&self, path: &mut String) -> Result<(), MutationError> {
        (**self).validate(path)
    }

    fn annotate_schema(schema: &mut Value, defs: &mut Defs) {
        T::annotate_schema(schema, defs);
    }

    fn check_path(segments: &[Segment]) -> Result<(), String> {
        T::check_path(segments)
    }

    fn history_paths(path: &mut String, out: &mut Vec<String>) {
        T::history_paths(path, out);
    }
}
