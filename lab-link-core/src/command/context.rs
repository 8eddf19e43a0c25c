//! What a command handler knows about the request it serves.

use std::collections::BTreeSet;

/// Who sent a command, once access control identifies clients: a name and
/// the capabilities (`control`, `manage_access`, `read_state`, …) it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    name: String,
    capabilities: BTreeSet<String>,
}

impl Principal {
    /// A principal with these capabilities.
    pub fn new<I, C>(name: impl Into<String>, capabilities: I) -> Self
    where
        I: IntoIterator<Item = C>,
        C: Into<String>,
    {
        Self {
            name: name.into(),
            capabilities: capabilities.into_iter().map(Into::into).collect(),
        }
    }

    /// The principal's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it holds `capability`, or the wildcard `*`.
    ///
    /// ```
    /// use lab_link_core::command::Principal;
    ///
    /// assert!(Principal::new("local", ["*"]).can("manage_access"));
    /// assert!(!Principal::new("viewer", ["read_state"]).can("control"));
    /// ```
    pub fn can(&self, capability: &str) -> bool {
        self.capabilities.contains("*") || self.capabilities.contains(capability)
    }
}

/// The request a command handler serves. Declare a parameter of this type
/// in a `#[command]` function to receive it: the sending connection's id,
/// the `requestId`, the command's name and, with access control on, the
/// principal.
///
/// ```
/// use lab_link_core::command::{CommandContext, Principal};
///
/// // In a unit test of a handler, build one by hand.
/// let ctx = CommandContext::new("client-1", Some("r7".into()), "set_channel")
///     .with_principal(Principal::new("operator", ["control"]));
/// assert_eq!(ctx.client_id(), "client-1");
/// assert_eq!(ctx.request_id(), Some("r7"));
/// assert_eq!(ctx.command(), "set_channel");
/// assert!(ctx.principal().is_some_and(|principal| principal.can("control")));
/// // What the command's patches carry as `originClientId`, `requestId`
/// // and `command`.
/// assert_eq!(ctx.patch_meta().origin_client_id.as_deref(), Some("client-1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandContext {
    client_id: String,
    request_id: Option<String>,
    command: String,
    principal: Option<Principal>,
}

impl CommandContext {
    /// A context for `command` sent by `client_id`.
    pub fn new(
        client_id: impl Into<String>,
        request_id: Option<String>,
        command: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            request_id,
            command: command.into(),
            principal: None,
        }
    }

    /// The same context, sent by `principal`.
    #[must_use]
    pub fn with_principal(mut self, principal: Principal) -> Self {
        self.principal = Some(principal);
        self
    }

    /// The id of the connection that sent the command (its snapshot's
    /// `clientId`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The `requestId` the client sent, if any, as text (a number the
    /// client sent is given in its JSON form). Without one the command
    /// runs, but no ack or error is sent.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The command's name.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Who sent it, when access control is on.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// The metadata the command's patches carry.
    pub fn patch_meta(&self) -> crate::PatchMeta {
        crate::PatchMeta {
            origin_client_id: Some(self.client_id.clone()),
            request_id: self.request_id.clone(),
            command: Some(self.command.clone()),
        }
    }
}
