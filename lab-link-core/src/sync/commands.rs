//! Commands on a [`LabSync`]: the command table's lock and the published
//! state schema. Registering is in `mod.rs` (so that a compiler error about
//! a command names `LabSync::<S>::command`); running them is the
//! transport's ([`SyncSource::dispatch`](super::SyncSource::dispatch)).

use std::sync::RwLock;

use serde_json::Value;

use super::LabSync;
use crate::reactive::Reactive;

impl<S: Reactive + Send + 'static> LabSync<S> {
    /// Publishes the JSON Schema of the state type, annotated with the
    /// metadata its `#[reactive(...)]` options declare (units, ranges,
    /// labels: see [`crate::schema`]), which the transport serves at
    /// `GET {prefix}/schema` next to the commands and the streams.
    #[must_use]
    pub fn with_state_schema(self) -> Self
    where
        S: schemars::JsonSchema,
    {
        let _ = self
            .shared
            .state_schema
            .set(crate::schema::state_schema::<S>());
        self
    }

    /// The schema document `GET {prefix}/schema` serves: the
    /// [published](LabSync::with_state_schema) state schema, every
    /// command (params, result, `edits` bindings), every stream, and the
    /// `schemaHash` (see [`crate::schema`]). For a client generator or a
    /// test that keeps the schema under review.
    ///
    /// ```
    /// let sync = lab_link_core::LabSync::new(0_u32);
    /// let _trace = sync.replace_stream_f32("trace").with_unit("V");
    /// let schema = sync.schema();
    /// assert_eq!(schema["streams"][0]["unit"], "V");
    /// assert!(schema["schemaHash"].is_string());
    /// ```
    pub fn schema(&self) -> Value {
        crate::sync::SyncSource::schema(self)
    }
}

pub(super) fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // The command table is only ever replaced whole under the lock.
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(super) fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
