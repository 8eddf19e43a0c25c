//! What a command handler knows about the request it serves, and how it
//! reports progress and sees cancellation.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::control::{CancelReason, CommandControl, Progress};

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

    /// The capabilities it holds, sorted (`*` stands for all).
    ///
    /// ```
    /// use lab_link_core::command::Principal;
    ///
    /// let principal = Principal::new("operator", ["read_state", "control"]);
    /// assert_eq!(principal.capabilities().collect::<Vec<_>>(), ["control", "read_state"]);
    /// ```
    pub fn capabilities(&self) -> impl Iterator<Item = &str> {
        self.capabilities.iter().map(String::as_str)
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
///
/// A long command reports progress ([`progress`](Self::progress),
/// [`report`](Self::report)) and stops when asked
/// ([`cancelled`](Self::cancelled), [`is_cancelled`](Self::is_cancelled)):
/// see the book's chapter "Commands", "Long-running commands".
#[derive(Debug, Clone)]
pub struct CommandContext {
    client_id: String,
    request_id: Option<String>,
    command: String,
    principal: Option<Principal>,
    /// The transport's handle, when it runs the command (none in a hand-made
    /// context: progress goes nowhere and nothing cancels).
    control: Option<Arc<CommandControl>>,
}

/// Two contexts are equal when they describe the same request (and share
/// the same control, if any).
impl PartialEq for CommandContext {
    fn eq(&self, other: &Self) -> bool {
        self.client_id == other.client_id
            && self.request_id == other.request_id
            && self.command == other.command
            && self.principal == other.principal
            && match (&self.control, &other.control) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Eq for CommandContext {}

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
            control: None,
        }
    }

    /// The same context, run under `control` (what the transport does).
    #[must_use]
    pub fn with_control(mut self, control: Arc<CommandControl>) -> Self {
        self.control = Some(control);
        self
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

    /// The transport's control of this command, if any.
    pub(crate) fn control(&self) -> Option<&Arc<CommandControl>> {
        self.control.as_ref()
    }

    /// Reports how far the command is: `fraction` in [0, 1] and a message
    /// for people. A level-2 caller receives it as `command_progress`;
    /// reports faster than the transport sends them replace each other
    /// (latest wins). A fraction outside [0, 1] is clamped, a NaN sent as
    /// 0 (both logged at debug level).
    ///
    /// ```
    /// use lab_link_core::command::CommandContext;
    ///
    /// # let ctx = CommandContext::new("client-1", Some("r1".into()), "ramp");
    /// for step in 1..=10 {
    ///     ctx.progress(f64::from(step) / 10.0, format!("step {step} of 10"));
    /// }
    /// ```
    pub fn progress(&self, fraction: f64, message: impl Into<String>) {
        if self.control.is_some() {
            self.report(Progress::new(fraction).with_message(message));
        }
    }

    /// Reports progress with the details of [`Progress`]: the current and
    /// target value, their unit and the estimated time remaining.
    ///
    /// ```
    /// use lab_link_core::command::{CommandContext, Progress};
    ///
    /// # let ctx = CommandContext::new("client-1", Some("r1".into()), "ramp");
    /// ctx.report(Progress::new(0.5).with_current(2.5).with_target(5.0).with_unit("V").with_eta_s(3.0));
    /// ```
    pub fn report(&self, progress: Progress) {
        if let Some(control) = &self.control {
            control.report(progress.sanitised(&self.command));
        }
    }

    /// Whether the command was asked to stop: a cheap check for loops
    /// that do not await.
    pub fn is_cancelled(&self) -> bool {
        self.cancel_reason().is_some()
    }

    /// Why the command was asked to stop, if it was.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.control
            .as_ref()
            .and_then(|control| control.cancel_reason())
    }

    /// Completes once the command is asked to stop (its client's `cancel`,
    /// its timeout, or its client's disconnect with
    /// `cancel_on_disconnect`), with the reason. Race it against the work
    /// with `tokio::select!`, leave the instrument safe, and return: the
    /// client is answered `cancelled` (or `timeout`) whatever the handler
    /// returns. Never completes in a context without a transport.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lab_link_core::command::{CommandContext, CommandError};
    ///
    /// async fn settle(ctx: CommandContext) -> Result<(), CommandError> {
    ///     tokio::select! {
    ///         _ = ctx.cancelled() => { /* leave the instrument safe */ }
    ///         () = tokio::time::sleep(Duration::from_secs(10)) => {}
    ///     }
    ///     Ok(())
    /// }
    /// # let _ = settle;
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping it and calling again misses nothing.
    pub async fn cancelled(&self) -> CancelReason {
        match &self.control {
            Some(control) => control.cancelled().await,
            None => std::future::pending().await,
        }
    }
}
