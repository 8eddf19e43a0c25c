//! The server-to-client messages the store produces, in their wire form.
//!
//! Field names and shapes follow the wire protocol (level 1, byte
//! compatible with lab-link 0.5.0 clients). Each message is serialised once
//! and the same text is shared by every client.

use serde::Serialize;

use crate::PatchOp;

/// What caused a patch: the command that was running when its mutations
/// were recorded. All fields absent means the patch came from the server
/// itself (an updater, `load_state`, …).
///
/// ```
/// use lab_link_core::PatchMeta;
///
/// let meta = PatchMeta {
///     origin_client_id: Some("3f0c".into()),
///     request_id: Some("r7".into()),
///     command: Some("set_enabled".into()),
/// };
/// assert!(!meta.is_empty());
/// assert!(PatchMeta::default().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchMeta {
    /// The id of the connection whose command caused the patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_client_id: Option<String>,
    /// The `requestId` of that command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The command's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

impl PatchMeta {
    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.origin_client_id.is_none() && self.request_id.is_none() && self.command.is_none()
    }
}

#[derive(Serialize)]
struct PatchMessage<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    patch: &'a [PatchOp],
    version: u64,
    #[serde(flatten)]
    meta: &'a PatchMeta,
}

/// Serialises a `patch` message:
/// `{"type":"patch","patch":[…],"version":N,…metadata}`.
pub(crate) fn patch_message(ops: &[PatchOp], version: u64, meta: &PatchMeta) -> String {
    let message = PatchMessage {
        kind: "patch",
        patch: ops,
        version,
        meta,
    };
    // Invariant: JSON values, pointers and strings always serialise (a
    // `serde_json::Value` cannot hold a non-finite float or a non-string
    // key).
    serde_json::to_string(&message).expect("a patch message always serialises")
}

/// Builds a `snapshot` message around an already serialised document,
/// without serialising the document again.
///
/// `client_id` is the level-2 `clientId` field; level-1 clients ignore it.
///
/// ```
/// use lab_link_core::message::snapshot_message;
///
/// assert_eq!(
///     snapshot_message(r#"{"enabled":false}"#, 41, Some("3f0c")),
///     r#"{"type":"snapshot","data":{"enabled":false},"version":41,"clientId":"3f0c"}"#
/// );
/// assert_eq!(
///     snapshot_message("[]", 0, None),
///     r#"{"type":"snapshot","data":[],"version":0}"#
/// );
/// ```
pub fn snapshot_message(document_json: &str, version: u64, client_id: Option<&str>) -> String {
    let mut message = String::with_capacity(document_json.len() + 96);
    message.push_str(r#"{"type":"snapshot","data":"#);
    message.push_str(document_json);
    message.push_str(r#","version":"#);
    message.push_str(&version.to_string());
    if let Some(client_id) = client_id {
        message.push_str(r#","clientId":"#);
        // Invariant: a string always serialises.
        message.push_str(&serde_json::to_string(client_id).expect("a string always serialises"));
    }
    message.push('}');
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_message_matches_the_protocol() {
        let ops = vec![PatchOp::Replace {
            path: "/enabled".parse().unwrap(),
            value: json!(true),
        }];
        assert_eq!(
            patch_message(&ops, 42, &PatchMeta::default()),
            r#"{"type":"patch","patch":[{"op":"replace","path":"/enabled","value":true}],"version":42}"#
        );
        let meta = PatchMeta {
            origin_client_id: Some("3f0c".into()),
            request_id: Some("r7".into()),
            command: Some("set_enabled".into()),
        };
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&patch_message(&ops, 42, &meta)).unwrap(),
            json!({"type": "patch", "patch": [{"op": "replace", "path": "/enabled", "value": true}],
                   "version": 42, "originClientId": "3f0c", "requestId": "r7", "command": "set_enabled"})
        );
    }

    #[test]
    fn snapshot_client_id_is_escaped() {
        let text = snapshot_message("{}", 1, Some("a\"b"));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["clientId"], json!("a\"b"));
    }
}
