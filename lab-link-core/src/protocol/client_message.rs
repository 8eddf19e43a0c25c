//! [`ClientMessage`]: what a client sends, and its strict parser.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{kind_of, ClientInfo, ProtocolError, RejectedCommand};

/// A message from a client to the server (PROTOCOL.md, "Client ->
/// server").
///
/// ```
/// use lab_link_core::protocol::ClientMessage;
/// use serde_json::json;
///
/// let command = ClientMessage::Command {
///     command: "set_channel".into(),
///     params: json!({"channel": 0}).as_object().cloned().unwrap_or_default(),
///     request_id: Some(json!("r7")),
/// };
/// let text = command.to_text();
/// assert_eq!(text, r#"{"type":"command","command":"set_channel","params":{"channel":0},"requestId":"r7"}"#);
/// assert_eq!(ClientMessage::parse(&text)?, command);
/// # Ok::<(), lab_link_core::protocol::ProtocolError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage<'a> {
    /// Run a command: `{"type":"command","command":…,"params":{…},"requestId":…}`.
    Command {
        /// The command's name.
        command: Cow<'a, str>,
        /// Its parameters (absent or `null` on the wire means `{}`).
        params: Map<String, Value>,
        /// Echoed as sent in the ack or error (a string, or any JSON value
        /// a level-1 client chose); `None` (absent, `null` or `""`, as the
        /// reference treats them) means no ack and no error are sent.
        #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
    },
    /// `{"type":"stream_resync","id":…}`: answered with that stream's
    /// `stream_snapshot`, to this client only.
    StreamResync {
        /// The stream's id.
        id: Cow<'a, str>,
    },
    /// Level 2, `{"type":"resync"}`: answered with a fresh snapshot.
    Resync,
    /// Level 2, part 2: `{"type":"hello","level":2,"client":{"kind":…,"name":…}}`,
    /// the first frame after the snapshot: opts in to level 2 (like
    /// `?level=2`) and describes the client. The parser checks the level,
    /// the strings' lengths ([`ClientInfo::MAX_KIND`],
    /// [`ClientInfo::MAX_NAME`]) and drops control characters.
    Hello {
        /// The level asked for: 2.
        level: u64,
        /// What the client says of itself.
        #[serde(skip_serializing_if = "Option::is_none")]
        client: Option<ClientInfo>,
    },
    /// Level 2, part 2: `{"type":"cancel","requestId":…}` asks the
    /// server to cancel a running command this connection sent.
    Cancel {
        /// The command's `requestId`, as sent with the command.
        #[serde(rename = "requestId")]
        request_id: Value,
    },
}

impl ClientMessage<'_> {
    /// The message's text frame.
    ///
    /// ```
    /// use lab_link_core::protocol::ClientMessage;
    ///
    /// assert_eq!(ClientMessage::Resync.to_text(), r#"{"type":"resync"}"#);
    /// ```
    pub fn to_text(&self) -> String {
        // Invariant: strings and JSON values always serialise.
        serde_json::to_string(self).expect("a client message always serialises")
    }
}

impl ClientMessage<'static> {
    /// Parses one text frame strictly: unknown fields are ignored, but a
    /// field of the wrong type is an error naming it.
    ///
    /// # Errors
    ///
    /// A frame that is not JSON, not an object, without a string `type`,
    /// of an unknown type, or with a missing or mistyped field; the
    /// message says which. A command whose `params` is not an object is
    /// still a command: see [`ProtocolError::rejected_command`].
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ProtocolError::new(format!("the frame is not valid JSON: {e}")))?;
        let Value::Object(mut object) = value else {
            return Err(ProtocolError::new(format!(
                "a message must be a JSON object, not {}",
                kind_of(&value)
            )));
        };
        let kind = match object.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            Some(other) => {
                return Err(ProtocolError::new(format!(
                    "\"type\" must be a string, not {}",
                    kind_of(other)
                )))
            }
            None => return Err(ProtocolError::new("the message has no \"type\"")),
        };
        match kind.as_str() {
            "command" => {
                let command = match object.remove("command") {
                    Some(Value::String(command)) => command,
                    Some(other) => {
                        return Err(ProtocolError::new(format!(
                            "\"command\" must be a string, not {}",
                            kind_of(&other)
                        )))
                    }
                    None => return Err(ProtocolError::new("a command message needs \"command\"")),
                };
                let request_id = match object.remove("requestId") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(id)) if id.is_empty() => None,
                    Some(request_id) => Some(request_id),
                };
                let params = match object.remove("params") {
                    None | Some(Value::Null) => Map::new(),
                    Some(Value::Object(params)) => params,
                    Some(other) => {
                        let message = format!(
                            "\"params\" must be an object of named parameters, not {}",
                            kind_of(&other)
                        );
                        let command = RejectedCommand {
                            command,
                            request_id,
                        };
                        return Err(ProtocolError::rejected(message, command));
                    }
                };
                Ok(ClientMessage::Command {
                    command: command.into(),
                    params,
                    request_id,
                })
            }
            "stream_resync" => match object.remove("id") {
                Some(Value::String(id)) => Ok(ClientMessage::StreamResync { id: id.into() }),
                Some(other) => Err(ProtocolError::new(format!(
                    "\"id\" must be a string, not {}",
                    kind_of(&other)
                ))),
                None => Err(ProtocolError::new("a stream_resync message needs \"id\"")),
            },
            "resync" => Ok(ClientMessage::Resync),
            "hello" => parse_hello(object),
            "cancel" => match object.remove("requestId") {
                None | Some(Value::Null) => {
                    Err(ProtocolError::new("a cancel message needs \"requestId\""))
                }
                Some(Value::String(id)) if id.is_empty() => Err(ProtocolError::new(
                    "a cancel message needs a non-empty \"requestId\"",
                )),
                Some(request_id) => Ok(ClientMessage::Cancel { request_id }),
            },
            other => Err(ProtocolError::unknown_type(other)),
        }
    }
}

/// The fields of a `hello`: level 2, and optional strings that fit their
/// limits, with control characters dropped.
fn parse_hello(mut object: Map<String, Value>) -> Result<ClientMessage<'static>, ProtocolError> {
    let level = match object.remove("level") {
        Some(Value::Number(level)) if level.as_u64() == Some(2) => 2,
        Some(other) => {
            return Err(ProtocolError::new(format!(
                "\"level\" of a hello must be 2, not {other}"
            )))
        }
        None => return Err(ProtocolError::new("a hello message needs \"level\": 2")),
    };
    let client = match object.remove("client") {
        None | Some(Value::Null) => None,
        Some(Value::Object(mut client)) => Some(ClientInfo {
            kind: hello_string(&mut client, "kind", ClientInfo::MAX_KIND)?,
            name: hello_string(&mut client, "name", ClientInfo::MAX_NAME)?,
        }),
        Some(other) => {
            return Err(ProtocolError::new(format!(
                "\"client\" of a hello must be an object, not {}",
                kind_of(&other)
            )))
        }
    };
    Ok(ClientMessage::Hello { level, client })
}

/// One string of a hello's `client`: at most `max` characters, control
/// characters dropped, absent when empty.
fn hello_string(
    client: &mut Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Option<String>, ProtocolError> {
    match client.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            let length = text.chars().count();
            if length > max {
                return Err(ProtocolError::new(format!(
                    "\"client.{field}\" of a hello is {length} characters long; at most {max} are allowed"
                )));
            }
            let clean: String = text.chars().filter(|c| !c.is_control()).collect();
            let clean = clean.trim();
            Ok((!clean.is_empty()).then(|| clean.to_owned()))
        }
        Some(other) => Err(ProtocolError::new(format!(
            "\"client.{field}\" of a hello must be a string, not {}",
            kind_of(&other)
        ))),
    }
}
