//! Runtime support for the code `#[command]` generates. Not a public API.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

pub use super::{Command, CommandContext, CommandError, CommandFuture, CommandInfo};
pub use schemars;
pub use serde;
pub use serde_json;

/// Deserialises the params object into the generated params struct; a
/// mismatch is `invalid_params` naming the offending field.
pub fn parse_params<P: DeserializeOwned>(params: Map<String, Value>) -> Result<P, CommandError> {
    serde_path_to_error::deserialize(Value::Object(params)).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { String::new() } else { field };
        CommandError::invalid_params(&field, e.inner())
    })
}

/// A handler's successful output as the ack's `result` (`null` means none).
pub fn result_value<T: Serialize>(output: T) -> Result<Option<Value>, CommandError> {
    match serde_json::to_value(output) {
        Ok(Value::Null) => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(e) => Err(CommandError::command_failed(format!(
            "the command's result does not serialise: {e}"
        ))),
    }
}

/// A handler's `Result` output: the error converts into a `CommandError`.
pub fn result_of<T: Serialize, E: Into<CommandError>>(
    output: Result<T, E>,
) -> Result<Option<Value>, CommandError> {
    output.map_err(Into::into).and_then(result_value)
}

/// The JSON Schema of `T` as a JSON value.
pub fn schema_of<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null)
}
