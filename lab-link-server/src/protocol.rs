//! Client messages in, server messages out: the parts of the wire protocol
//! the transport handles itself.
//!
//! Malformed client frames (not JSON, not an object, unknown `type`, fields
//! of the wrong type) are answered with a level-2 `error` message with code
//! `bad_message`; the connection stays open. A command whose `params` is
//! not an object is still a command: it is answered with an
//! `invalid_params` `command_error` echoing its `requestId`, so the client
//! waiting for it learns why at once.

use serde::Serialize;
use serde_json::{Map, Value};

/// A well-formed client message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ClientMessage {
    /// `{"type":"command","command":…,"params":{…},"requestId":…}`.
    Command {
        command: String,
        /// The params object (absent or `null` is `{}`), or why `params`
        /// is not one.
        params: Result<Map<String, Value>, String>,
        /// Echoed back as sent in the ack or error (a string, or any JSON
        /// value a level-1 client chose); `None` (absent, `null` or `""`, as
        /// the reference treats them) means no ack and no error are sent.
        request_id: Option<Value>,
    },
    /// `{"type":"stream_resync","id":…}`.
    StreamResync { id: String },
    /// `{"type":"resync"}` (level 2): answer with a fresh snapshot.
    Resync,
}

/// Parses one text frame; the error is the `message` of a `bad_message`
/// reply.
pub(crate) fn parse(text: &str) -> Result<ClientMessage, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("the frame is not valid JSON: {e}"))?;
    let Value::Object(mut object) = value else {
        return Err(format!(
            "a message must be a JSON object, not {}",
            kind_of(&value)
        ));
    };
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(other) => return Err(format!("\"type\" must be a string, not {}", kind_of(other))),
        None => return Err("the message has no \"type\"".to_owned()),
    };
    match kind.as_str() {
        "command" => {
            let command = match object.remove("command") {
                Some(Value::String(command)) => command,
                Some(other) => {
                    return Err(format!(
                        "\"command\" must be a string, not {}",
                        kind_of(&other)
                    ))
                }
                None => return Err("a command message needs \"command\"".to_owned()),
            };
            let params = match object.remove("params") {
                None | Some(Value::Null) => Ok(Map::new()),
                Some(Value::Object(params)) => Ok(params),
                Some(other) => Err(format!(
                    "\"params\" must be an object of named parameters, not {}",
                    kind_of(&other)
                )),
            };
            let request_id = match object.remove("requestId") {
                None | Some(Value::Null) => None,
                Some(Value::String(id)) if id.is_empty() => None,
                Some(request_id) => Some(request_id),
            };
            Ok(ClientMessage::Command {
                command,
                params,
                request_id,
            })
        }
        "stream_resync" => match object.remove("id") {
            Some(Value::String(id)) => Ok(ClientMessage::StreamResync { id }),
            Some(other) => Err(format!("\"id\" must be a string, not {}", kind_of(&other))),
            None => Err("a stream_resync message needs \"id\"".to_owned()),
        },
        "resync" => Ok(ClientMessage::Resync),
        other => Err(format!("unknown message type {other:?}")),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `{"type":"error","code":…,"message":…}` (level 2).
pub(crate) fn error_message(code: &str, message: &str) -> String {
    #[derive(Serialize)]
    struct ErrorMessage<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        code: &'a str,
        message: &'a str,
    }
    to_json(&ErrorMessage {
        kind: "error",
        code,
        message,
    })
}

/// `{"type":"resume","version":N}` (level 2): the patches after N follow.
pub(crate) fn resume_message(version: u64) -> String {
    format!(r#"{{"type":"resume","version":{version}}}"#)
}

/// `{"type":"command_ack",…}`: sent after every patch the command caused;
/// `version` is the version after the command, `result` omitted when the
/// handler returned nothing.
pub(crate) fn command_ack(
    command: &str,
    request_id: &Value,
    version: u64,
    result: Option<&Value>,
) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct CommandAck<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        command: &'a str,
        request_id: &'a Value,
        version: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        result: Option<&'a Value>,
    }
    to_json(&CommandAck {
        kind: "command_ack",
        command,
        request_id,
        version,
        result,
    })
}

fn to_json(message: &impl Serialize) -> String {
    // Invariant: these messages hold only strings, numbers, booleans and
    // JSON values, which always serialise.
    serde_json::to_string(message).expect("a server message always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn check(frame: &str, expect: Result<ClientMessage, &str>) {
        assert_eq!(parse(frame), expect.map_err(str::to_owned));
    }

    #[test]
    fn well_formed_messages() {
        check(
            r#"{"type":"command","command":"set_channel","params":{"channel":0},"requestId":"r7"}"#,
            Ok(ClientMessage::Command {
                command: "set_channel".into(),
                params: Ok(json!({"channel": 0}).as_object().unwrap().clone()),
                request_id: Some(json!("r7")),
            }),
        );
        check(
            r#"{"type":"command","command":"reset"}"#,
            Ok(ClientMessage::Command {
                command: "reset".into(),
                params: Ok(Map::new()),
                request_id: None,
            }),
        );
        check(
            r#"{"type":"stream_resync","id":"counts","extra":1}"#,
            Ok(ClientMessage::StreamResync {
                id: "counts".into(),
            }),
        );
        check(r#"{"type":"resync"}"#, Ok(ClientMessage::Resync));
    }

    /// Params that are not an object still make a command, which keeps its
    /// `requestId` for the `invalid_params` answer.
    #[test]
    fn params_that_are_not_an_object_are_kept_as_the_commands_problem() {
        for (params, kind) in [
            ("[1]", "an array"),
            ("7", "a number"),
            ("\"x\"", "a string"),
        ] {
            check(
                &format!(r#"{{"type":"command","command":"x","params":{params},"requestId":"r"}}"#),
                Ok(ClientMessage::Command {
                    command: "x".into(),
                    params: Err(format!(
                        "\"params\" must be an object of named parameters, not {kind}"
                    )),
                    request_id: Some(json!("r")),
                }),
            );
        }
    }

    #[test]
    fn malformed_messages_say_what_is_wrong() {
        check(
            "{",
            Err("the frame is not valid JSON: EOF while parsing an object at line 1 column 1"),
        );
        check("[1]", Err("a message must be a JSON object, not an array"));
        check("{}", Err("the message has no \"type\""));
        check(
            r#"{"type":7}"#,
            Err("\"type\" must be a string, not a number"),
        );
        check(r#"{"type":"hello"}"#, Err("unknown message type \"hello\""));
        check(
            r#"{"type":"command"}"#,
            Err("a command message needs \"command\""),
        );
        check(
            r#"{"type":"command","command":1}"#,
            Err("\"command\" must be a string, not a number"),
        );
        check(
            r#"{"type":"stream_resync"}"#,
            Err("a stream_resync message needs \"id\""),
        );
        check(
            r#"{"type":"stream_resync","id":null}"#,
            Err("\"id\" must be a string, not null"),
        );
    }

    #[test]
    fn server_messages() {
        assert_eq!(
            serde_json::from_str::<Value>(&error_message("bad_message", "x")).unwrap(),
            json!({"type": "error", "code": "bad_message", "message": "x"})
        );
        assert_eq!(resume_message(4), r#"{"type":"resume","version":4}"#);
        assert_eq!(
            command_ack(
                "set_channel",
                &json!("r7"),
                43,
                Some(&json!({"channel": 0}))
            ),
            r#"{"type":"command_ack","command":"set_channel","requestId":"r7","version":43,"result":{"channel":0}}"#
        );
        assert_eq!(
            command_ack("reset", &json!(8), 44, None),
            r#"{"type":"command_ack","command":"reset","requestId":8,"version":44}"#
        );
    }
}
