//! Runtime support for the code `#[command]` generates. Not a public API.

use serde::de::{Deserialize, DeserializeOwned, Deserializer};
use serde::Serialize;
use serde_json::{Map, Value};

pub use super::{
    Command, CommandContext, CommandError, CommandFuture, CommandInfo, CommandPolicy, Edit,
};
pub use crate::schema::{assert_numeric, keyword, range_keywords};
pub use crate::LabSync;
pub use schemars;
pub use serde;
pub use serde_json;

/// Deserialises the params object into the generated params struct; a
/// mismatch is `invalid_params` naming the offending parameter, with the
/// JSON Pointer of the offending value as its `path`.
///
/// serde reports a missing or an unknown field at the object itself, not
/// at a member; the field's name is then read from serde's message, whose
/// wording (`missing field `x``, `unknown field `x`, expected …`) has been
/// stable since serde 1.0 and is pinned by the tests below.
pub fn parse_params<P: DeserializeOwned>(params: Map<String, Value>) -> Result<P, CommandError> {
    serde_path_to_error::deserialize(Value::Object(params)).map_err(|e| {
        let message = e.inner().to_string();
        let path = e.path();
        let top = path.iter().next().and_then(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(key.as_str()),
            _ => None,
        });
        // Only the params object's own fields are reworded: deeper down,
        // serde's message names the nested field, which the pointer alone
        // would not.
        let object_level = path.iter().count() <= 1;
        match (top, object_level.then(|| object_error(&message)).flatten()) {
            (Some(field), Some((_, reason))) => {
                CommandError::invalid_params(field, reason).path(crate::sync::pointer_of(path))
            }
            (Some(field), None) => {
                CommandError::invalid_params(field, message).path(crate::sync::pointer_of(path))
            }
            (None, Some((field, reason))) => CommandError::invalid_params(field, reason),
            (None, None) => CommandError::invalid_params("", message),
        }
    })
}

/// Deserialises one field of a params struct.
///
/// The generated struct reads every field through this function
/// (`#[serde(deserialize_with)]`, spanned at the parameter's type), so that
/// a type that is not `Deserialize` is reported once, at the parameter,
/// instead of at every place serde's derive needs the trait.
pub fn param<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    T::deserialize(deserializer)
}

/// The field and a reworded reason of serde's object-level errors: a
/// missing or an unknown field.
fn object_error(message: &str) -> Option<(&str, String)> {
    if let Some(rest) = message.strip_prefix("missing field `") {
        let (field, _) = rest.split_once('`')?;
        return Some((field, "required, but missing".to_owned()));
    }
    let rest = message.strip_prefix("unknown field `")?;
    let (field, expected) = rest.split_once('`')?;
    let reason = match expected.strip_prefix(", ") {
        Some("there are no fields") => "unknown parameter: this command takes none".to_owned(),
        Some(expected) => format!("unknown parameter, {expected}"),
        None => "unknown parameter".to_owned(),
    };
    Some((field, reason))
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

/// A handler's error as a `CommandError`. A separate call, so that a
/// missing conversion is reported at the error type the user wrote.
pub fn into_command_error<E: Into<CommandError>>(error: E) -> CommandError {
    error.into()
}

/// A handler's `Result` output: the error converts into a `CommandError`.
pub fn result_of<T: Serialize, E: Into<CommandError>>(
    output: Result<T, E>,
) -> Result<Option<Value>, CommandError> {
    output.map_err(Into::into).and_then(result_value)
}

/// Runs `annotate` on the schema of the param `name` in a params schema.
pub fn annotate_param(params: &mut Value, name: &str, annotate: impl FnOnce(&mut Value)) {
    if let Value::Object(object) = params {
        crate::schema::property(object, name, annotate);
    }
}

/// A type a command's params or result can have: one with a JSON Schema
/// (`/sync/schema` describes every command). Only here to say the fix
/// when the schema is missing.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no JSON Schema, which every command parameter and result needs",
    label = "`{Self}` does not implement `schemars::JsonSchema`",
    note = "derive it next to `Deserialize`/`Serialize`: `#[derive(schemars::JsonSchema)]` on \
            `{Self}`, with schemars 1 in your Cargo.toml (`schemars = \"1\"`, the version \
            lab-link uses; a schemars 0.8 derive does not count)"
)]
pub trait CommandSchema: schemars::JsonSchema {}

impl<T: schemars::JsonSchema + ?Sized> CommandSchema for T {}

/// The JSON Schema of `T` as a JSON value.
pub fn schema_of<T: CommandSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null)
}

/// The schema of one field of a params struct: what schemars' derive
/// would put there (`#[schemars(schema_with)]`, spanned at the
/// parameter's type), so that a missing `JsonSchema` is reported at the
/// parameter with [`CommandSchema`]'s message.
pub fn param_schema<T: CommandSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// The state a command was registered with is the one its `LabSync`
/// parameter names. `#[command]` implements `Command<S>` for every `S:
/// SameState<Its>`, so that registering it on a `LabSync` of another state
/// says so, instead of saying the function is not a command.
#[diagnostic::on_unimplemented(
    message = "this command takes a `LabSync<{T}>`, so it cannot be registered on a `LabSync<{Self}>`",
    label = "a command of the state `{T}`, registered on a `LabSync<{Self}>`",
    note = "register it on the `LabSync<{T}>`, or change its parameter to `LabSync<{Self}>` \
            (a command without a `LabSync` parameter fits every state)"
)]
pub trait SameState<T> {
    /// The handle, as the command's own type (the identity).
    fn into_state(sync: LabSync<Self>) -> LabSync<T>
    where
        Self: Sized;
}

impl<T> SameState<T> for T {
    fn into_state(sync: LabSync<T>) -> LabSync<T> {
        sync
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::parse_params;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Params {
        channel: usize,
        points: Vec<Point>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Point {
        x: f64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct NoParams {}

    /// The error's message and path for `params`.
    #[track_caller]
    fn check<P: serde::de::DeserializeOwned + std::fmt::Debug>(
        params: serde_json::Value,
        message: &str,
        path: Option<&str>,
    ) {
        let serde_json::Value::Object(params) = params else {
            panic!("params must be an object")
        };
        let error = parse_params::<P>(params).unwrap_err();
        assert_eq!(error.code(), "invalid_params");
        assert_eq!(error.message(), message);
        assert_eq!(error.path_str(), path);
    }

    #[test]
    fn errors_name_the_parameter_and_point_at_the_value() {
        check::<Params>(
            json!({"points": []}),
            "invalid parameter `channel`: required, but missing",
            Some("/channel"),
        );
        check::<Params>(
            json!({"channel": 0, "points": [], "chanel": 1}),
            "invalid parameter `chanel`: unknown parameter, expected `channel` or `points`",
            Some("/chanel"),
        );
        check::<Params>(
            json!({"channel": "0", "points": []}),
            "invalid parameter `channel`: invalid type: string \"0\", expected usize",
            Some("/channel"),
        );
        check::<Params>(
            json!({"channel": 0, "points": [{"x": 1.0}, {"x": true}]}),
            "invalid parameter `points`: invalid type: boolean `true`, expected f64",
            Some("/points/1/x"),
        );
        check::<Params>(
            json!({"channel": 0, "points": [{}]}),
            "invalid parameter `points`: missing field `x`",
            Some("/points/0"),
        );
        check::<Params>(
            json!({"channel": 0, "points": [{"x": 1.0, "y": 2.0}]}),
            "invalid parameter `points`: unknown field `y`, expected `x`",
            Some("/points/0/y"),
        );
        check::<Params>(
            json!({"channel": 0, "points": [], "x": 1}),
            "invalid parameter `x`: unknown parameter, expected `channel` or `points`",
            Some("/x"),
        );
        check::<NoParams>(
            json!({"a/b": 1}),
            "invalid parameter `a/b`: unknown parameter: this command takes none",
            Some("/a~1b"),
        );
    }
}
