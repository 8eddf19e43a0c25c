//! `AuthPrincipal`: who a request or a socket is (AUTH.md section 3).

use std::collections::BTreeSet;

use serde_json::{json, Value};

/// The kind of a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// A trusted loopback client (id `local`).
    Local,
    /// A browser session (cookie).
    Session,
    /// An API token (`Authorization: Bearer ll_…`).
    ApiToken,
}

impl PrincipalKind {
    /// The wire name: `local`, `session`, `api_token`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Session => "session",
            Self::ApiToken => "api_token",
        }
    }
}

/// An identified client: id, kind, label, capabilities, and the session id
/// for sessions.
///
/// ```
/// use lab_link_auth::{AuthPrincipal, PrincipalKind};
///
/// let token = AuthPrincipal::new("0123abcd", PrincipalKind::ApiToken, "logger", ["read_state"]);
/// assert!(token.can("read_state"));
/// assert!(!token.can("control"));
/// assert_eq!(token.to_json()["kind"], "api_token");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPrincipal {
    /// `local`, the session id or the token id.
    pub id: String,
    /// What kind of credential.
    pub kind: PrincipalKind,
    /// `Local host`, the device name, or the token's label.
    pub label: String,
    /// What it may do; `*` is every capability.
    pub capabilities: BTreeSet<String>,
}

impl AuthPrincipal {
    /// A principal.
    pub fn new<I, C>(
        id: impl Into<String>,
        kind: PrincipalKind,
        label: impl Into<String>,
        capabilities: I,
    ) -> Self
    where
        I: IntoIterator<Item = C>,
        C: Into<String>,
    {
        Self {
            id: id.into(),
            kind,
            label: label.into(),
            capabilities: capabilities.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether it holds `capability` (or `*`).
    pub fn can(&self, capability: &str) -> bool {
        self.capabilities.contains("*") || self.capabilities.contains(capability)
    }

    /// The session id, for sessions.
    pub fn session_id(&self) -> Option<&str> {
        (self.kind == PrincipalKind::Session).then_some(self.id.as_str())
    }

    /// The JSON form of `/auth/status`: `{"id", "kind", "label",
    /// "capabilities" (sorted), "sessionId"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "kind": self.kind.as_str(),
            "label": self.label,
            "capabilities": self.capabilities.iter().collect::<Vec<_>>(),
            "sessionId": self.session_id(),
        })
    }

    /// The command-dispatch view (`CommandContext::principal`).
    pub fn to_command_principal(&self) -> lab_link_core::command::Principal {
        lab_link_core::command::Principal::new(self.id.clone(), self.capabilities.iter().cloned())
    }
}
