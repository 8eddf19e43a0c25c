//! Commands on a [`LabSync`]: registration and the published state
//! schema. Running them is the transport's
//! ([`SyncSource::dispatch`](super::SyncSource::dispatch)).

use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::LabSync;
use crate::command::{Command, RegisterError};
use crate::reactive::Reactive;

impl<S: Reactive + Send + 'static> LabSync<S> {
    /// Registers a command (a function marked `#[command]`) under its name.
    ///
    /// # Panics
    ///
    /// When a command of the same name is already registered: that is a
    /// bug in the program. [`try_command`](LabSync::try_command) returns
    /// the error instead.
    pub fn command(&self, command: impl Command<S>) -> &Self {
        if let Err(e) = self.try_command(command) {
            panic!("{e}");
        }
        self
    }

    /// Registers a command, refusing a duplicate name.
    ///
    /// # Errors
    ///
    /// [`RegisterError::Duplicate`] when the name is taken.
    pub fn try_command(&self, command: impl Command<S>) -> Result<(), RegisterError> {
        let name = command.info().name;
        let mut commands = write(&self.shared.commands);
        if commands.contains_key(&name) {
            return Err(RegisterError::Duplicate(name));
        }
        commands.insert(name, Arc::new(command));
        Ok(())
    }

    /// Publishes the JSON Schema of the state type, which the transport
    /// serves at `GET {prefix}/schema` next to the commands' schemas.
    #[must_use]
    pub fn with_state_schema(self) -> Self
    where
        S: schemars::JsonSchema,
    {
        let schema = serde_json::to_value(schemars::schema_for!(S)).unwrap_or(Value::Null);
        let _ = self.shared.state_schema.set(schema);
        self
    }
}

pub(super) fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // The command table is only ever replaced whole under the lock.
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
