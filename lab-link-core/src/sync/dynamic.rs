//! Dynamic access to a [`LabSync`]: read and write the state by JSON
//! Pointer and JSON Patch, for generic tools that do not know the state
//! type.
//!
//! Every write works on a clone of the mirror: the operations are applied
//! to the clone (all or nothing), the result is deserialised into `S` and
//! validated, and must keep every object member written (serde drops a
//! member that is not a field without a word); only then does the typed
//! state change and the difference between the old mirror and the new
//! state's JSON get committed as one patch message.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{pointer_of, to_document, LabSync};
use crate::command::current_meta;
use crate::reactive::{MutationError, Reactive};
use crate::{
    apply_owned, diff, JsonPointer, PatchError, PatchOp, PointerSyntaxError, ResolveError,
};

/// Why a dynamic read or write ([`LabSync::get`], [`LabSync::set`],
/// [`LabSync::apply_patch`], [`LabSync::transaction`]) was refused. A
/// refused write changes nothing: state, mirror and version are as before.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DynamicError {
    /// The pointer is not valid RFC 6901 syntax.
    #[error(transparent)]
    Pointer(#[from] PointerSyntaxError),
    /// [`get`](LabSync::get): nothing at the path.
    #[error("nothing at {path:?}: {source}")]
    NotFound {
        /// The escaped pointer asked for.
        path: String,
        /// Where and why the walk stopped.
        source: ResolveError,
    },
    /// An operation failed (a `test` included); the error names its index
    /// and path.
    #[error(transparent)]
    Patch(#[from] PatchError),
    /// The patched document does not deserialise into the state type.
    #[error("the patched document does not fit the state type at {path:?}: {message}")]
    Deserialize {
        /// The escaped JSON Pointer of the offending value (`""` for the
        /// root).
        path: String,
        /// serde's message.
        message: String,
    },
    /// The patched document has an object member that the state type does
    /// not keep: not a field (a serde-renamed field is written under its
    /// JSON name, not its Rust name), or a field serde skips.
    #[error(
        "the state type has no field at {path:?}: the value written there would be lost \
         (a renamed field is written under its JSON name)"
    )]
    NotAField {
        /// The escaped JSON Pointer of the member.
        path: String,
    },
    /// The patched state breaks a constraint.
    #[error(transparent)]
    Invalid(#[from] MutationError),
}

/// The working copy of a [`LabSync::transaction`]: every call changes the
/// copy, and the transaction commits the result as one message.
#[derive(Debug)]
pub struct Transaction<'a> {
    doc: &'a mut Value,
}

impl Transaction<'_> {
    /// The value at `pointer` in the working copy.
    ///
    /// # Errors
    ///
    /// As [`LabSync::get`].
    pub fn get(&self, pointer: &str) -> Result<&Value, DynamicError> {
        resolve(self.doc, pointer)
    }

    /// As [`LabSync::set`], on the working copy.
    ///
    /// # Errors
    ///
    /// A pointer syntax error or a failing operation (the working copy is
    /// then unchanged).
    pub fn set(&mut self, pointer: &str, value: impl Into<Value>) -> Result<(), DynamicError> {
        let op = set_op(self.doc, pointer, value.into())?;
        apply_owned(self.doc, vec![op])?;
        Ok(())
    }

    /// As [`LabSync::apply_patch`], on the working copy.
    ///
    /// # Errors
    ///
    /// The failing operation (the working copy is then unchanged).
    pub fn apply_patch(&mut self, ops: Vec<PatchOp>) -> Result<(), DynamicError> {
        apply_owned(self.doc, ops)?;
        Ok(())
    }
}

fn resolve<'v>(doc: &'v Value, pointer: &str) -> Result<&'v Value, DynamicError> {
    let parsed = JsonPointer::parse(pointer)?;
    parsed
        .resolve(doc)
        .map_err(|source| DynamicError::NotFound {
            path: pointer.to_owned(),
            source,
        })
}

/// The operation [`LabSync::set`] applies: `add` for a new object member or
/// the array end `-`, else `replace`.
fn set_op(doc: &Value, pointer: &str, value: Value) -> Result<PatchOp, DynamicError> {
    let path = JsonPointer::parse(pointer)?;
    let add = match path.split_last() {
        None => false,
        Some((parent, last)) => match parent.resolve(doc) {
            Ok(Value::Object(members)) => !members.contains_key(last.as_ref()),
            Ok(Value::Array(_)) => last == "-",
            _ => false,
        },
    };
    Ok(if add {
        PatchOp::Add { path, value }
    } else {
        PatchOp::Replace { path, value }
    })
}

/// The first object member of `written` that the state's own JSON `kept`
/// lacks. Other differences are serde's normal reshaping (`1` read into an
/// `f64` comes back `1.0`, a set drops a duplicate element) and pass.
fn dropped_member(written: &Value, kept: &Value) -> Option<String> {
    diff(written, kept).into_iter().find_map(|op| match op {
        PatchOp::Remove { path } => {
            let (parent, _) = path.split_last()?;
            matches!(parent.resolve(written), Ok(Value::Object(_)))
                .then(|| path.as_str().to_owned())
        }
        _ => None,
    })
}

/// Dynamic access: see the [module](self) and the book's chapter "State".
impl<S: Reactive + Send + 'static> LabSync<S> {
    /// The value at `pointer` in the mirror (the last committed version:
    /// inside an open [`batch`](LabSync::batch), pending writes are not
    /// seen).
    ///
    /// # Errors
    ///
    /// [`DynamicError::Pointer`] for a syntax error,
    /// [`DynamicError::NotFound`] when nothing is at the path.
    pub fn get(&self, pointer: &str) -> Result<Value, DynamicError> {
        resolve(self.lock().store.document(), pointer).cloned()
    }

    /// Writes `value` at `pointer`: a `replace`, or an `add` when the last
    /// token is a new object member or the array end `-`. Returns the
    /// version after the call; an equal value commits nothing.
    ///
    /// # Errors
    ///
    /// As [`apply_patch`](LabSync::apply_patch).
    pub fn set(&self, pointer: &str, value: impl Into<Value>) -> Result<u64, DynamicError>
    where
        S: DeserializeOwned,
    {
        let value = value.into();
        self.transaction(|tx| tx.set(pointer, value))
    }

    /// Applies a JSON Patch (all six operations) to the state, all or
    /// nothing, and commits the difference as one message. Returns the
    /// version after the call.
    ///
    /// # Errors
    ///
    /// A failing operation ([`DynamicError::Patch`], naming its index and
    /// path), a result that does not deserialise into `S`
    /// ([`DynamicError::Deserialize`], naming the path), writes a member
    /// that is not a field ([`DynamicError::NotAField`], naming the path)
    /// or breaks a constraint ([`DynamicError::Invalid`]). Nothing changes
    /// then.
    pub fn apply_patch(&self, ops: Vec<PatchOp>) -> Result<u64, DynamicError>
    where
        S: DeserializeOwned,
    {
        self.transaction(|tx| tx.apply_patch(ops))
    }

    /// Runs `write` on a working copy of the mirror and commits the result
    /// as one message, all or nothing. Returns the version after the call.
    ///
    /// `write` runs under the state's lock: it must not call back into this
    /// `LabSync`.
    ///
    /// # Errors
    ///
    /// The error of `write`, or as [`apply_patch`](LabSync::apply_patch).
    ///
    /// # Panics
    ///
    /// When called from inside a `mutate` closure or a subscriber on the
    /// same thread.
    pub fn transaction(
        &self,
        write: impl FnOnce(&mut Transaction<'_>) -> Result<(), DynamicError>,
    ) -> Result<u64, DynamicError>
    where
        S: DeserializeOwned,
    {
        let mut guard = self.lock();
        let inner = &mut *guard;
        inner.flush();
        let mut doc = inner.store.document().clone();
        write(&mut Transaction { doc: &mut doc })?;
        let state: S =
            serde_path_to_error::deserialize(&doc).map_err(|e| DynamicError::Deserialize {
                path: pointer_of(e.path()),
                message: e.inner().to_string(),
            })?;
        let json = to_document(&state)?;
        if let Some(path) = dropped_member(&doc, &json) {
            return Err(DynamicError::NotAField { path });
        }
        let ops = diff(inner.store.document(), &json);
        if !ops.is_empty() {
            inner.state = state;
            inner.pending_meta = current_meta();
            inner.commit(ops);
        }
        Ok(inner.store.version())
    }
}
