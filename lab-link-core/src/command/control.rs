//! Long-running commands: a command's policy (exclusive group, timeout,
//! cancel on disconnect), its progress reports and its cancellation.
//!
//! The transport creates one [`CommandControl`] per command it runs and
//! hands it to the handler inside the [`CommandContext`]; the handler
//! reports progress and watches for cancellation through the context, the
//! transport takes the latest progress and cancels through the control.
//! Nothing here spawns a task or reads a clock: the timeout is a timer of
//! the transport.
//!
//! [`CommandContext`]: super::CommandContext

use std::borrow::Cow;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::CommandError;

/// How a command runs beside others, as `#[command(exclusive = "…",
/// queue, timeout = "…", cancel_on_disconnect)]` declares it. The
/// default: no group, no timeout, and the command runs on when its client
/// leaves.
///
/// It is part of the command's entry in the schema document, in the
/// fields `exclusive`, `queue`, `timeoutMs` and `cancelOnDisconnect`
/// (each only when set).
///
/// ```
/// use std::time::Duration;
/// use lab_link_core::command::CommandPolicy;
///
/// let policy = CommandPolicy::default()
///     .with_exclusive("magnet")
///     .with_queue(true)
///     .with_timeout(Duration::from_secs(30))
///     .with_cancel_on_disconnect(true);
/// assert_eq!(policy.exclusive(), Some("magnet"));
/// assert!(policy.queue());
/// assert_eq!(policy.timeout(), Some(Duration::from_secs(30)));
/// assert!(policy.cancel_on_disconnect());
/// assert_eq!(
///     serde_json::to_value(&policy)?,
///     serde_json::json!({"exclusive": "magnet", "queue": true, "timeoutMs": 30000,
///                        "cancelOnDisconnect": true}),
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommandPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    exclusive: Option<Cow<'static, str>>,
    #[serde(skip_serializing_if = "is_false")]
    queue: bool,
    #[serde(
        rename = "timeoutMs",
        skip_serializing_if = "Option::is_none",
        serialize_with = "millis"
    )]
    timeout: Option<Duration>,
    #[serde(rename = "cancelOnDisconnect", skip_serializing_if = "is_false")]
    cancel_on_disconnect: bool,
}

fn is_false(flag: &bool) -> bool {
    !flag
}

/// A timeout as whole milliseconds.
fn millis<S: serde::Serializer>(
    timeout: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let millis = timeout.map(|timeout| u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
    millis.serialize(serializer)
}

impl CommandPolicy {
    /// At most one command of group `group` runs at a time, across all
    /// clients: another one is answered `busy`. `{param}` in the name is
    /// replaced by that param's value (`"ramp:{channel}"`: one group per
    /// channel).
    #[must_use]
    pub fn with_exclusive(mut self, group: impl Into<Cow<'static, str>>) -> Self {
        self.exclusive = Some(group.into());
        self
    }

    /// With an exclusive group: a command that finds its group taken
    /// waits for its turn (first come, first served) instead of being
    /// answered `busy`. While it waits it is listed among the running
    /// commands with a progress message naming what it waits for, and it
    /// can be cancelled (then it never runs). Without a group it changes
    /// nothing.
    #[must_use]
    pub fn with_queue(mut self, queue: bool) -> Self {
        self.queue = queue;
        self
    }

    /// The command is cancelled once `timeout` has passed since the
    /// transport received it (time spent waiting in its exclusive
    /// group's queue included), and answered `timeout`.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The command is cancelled when the client that sent it disconnects.
    #[must_use]
    pub fn with_cancel_on_disconnect(mut self, cancel: bool) -> Self {
        self.cancel_on_disconnect = cancel;
        self
    }

    /// The exclusive group, if any.
    pub fn exclusive(&self) -> Option<&str> {
        self.exclusive.as_deref()
    }

    /// Whether a command that finds its exclusive group taken waits for
    /// its turn rather than being answered `busy`.
    pub fn queue(&self) -> bool {
        self.queue
    }

    /// The timeout, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether the client's disconnect cancels the command.
    pub fn cancel_on_disconnect(&self) -> bool {
        self.cancel_on_disconnect
    }
}

/// Why a command was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelReason {
    /// Its client sent `cancel`.
    Requested,
    /// It ran past its timeout.
    Timeout,
    /// Its client disconnected (with `cancel_on_disconnect`).
    Disconnected,
}

impl CancelReason {
    /// The `command_error` a command cancelled for this reason answers
    /// with: `cancelled`, or `timeout`.
    ///
    /// ```
    /// use lab_link_core::command::CancelReason;
    ///
    /// assert_eq!(CancelReason::Requested.error(None).code(), "cancelled");
    /// assert_eq!(CancelReason::Timeout.error(Some(std::time::Duration::from_secs(2))).code(), "timeout");
    /// ```
    pub fn error(self, timeout: Option<Duration>) -> CommandError {
        match self {
            Self::Requested => CommandError::cancelled("The command was cancelled."),
            Self::Disconnected => CommandError::cancelled(
                "The command was cancelled: the client that sent it disconnected.",
            ),
            Self::Timeout => CommandError::timeout(timeout.unwrap_or_default()),
        }
    }

    fn code(self) -> u8 {
        match self {
            Self::Requested => 1,
            Self::Timeout => 2,
            Self::Disconnected => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Requested),
            2 => Some(Self::Timeout),
            3 => Some(Self::Disconnected),
            _ => None,
        }
    }
}

/// A progress report of a running command: the `command_progress`
/// message's fields but the `requestId`.
///
/// ```
/// use lab_link_core::command::Progress;
///
/// let progress = Progress::new(0.25)
///     .with_message("ramping ch0")
///     .with_current(1.25)
///     .with_target(5.0)
///     .with_unit("V")
///     .with_eta_s(7.5);
/// assert_eq!(
///     serde_json::to_value(&progress)?,
///     serde_json::json!({"fraction": 0.25, "message": "ramping ch0", "current": 1.25,
///                        "target": 5.0, "unit": "V", "eta_s": 7.5}),
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// How much is done, in [0, 1].
    pub fraction: f64,
    /// What is happening, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The current value of what moves (a voltage, a field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<f64>,
    /// The value it moves to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    /// The unit of `current` and `target`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The estimated time remaining, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_s: Option<f64>,
}

impl Progress {
    /// A report of `fraction` done, without details.
    pub fn new(fraction: f64) -> Self {
        Self {
            fraction,
            message: None,
            current: None,
            target: None,
            unit: None,
            eta_s: None,
        }
    }

    /// With a message for people.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// With the current value of what moves.
    #[must_use]
    pub fn with_current(mut self, current: f64) -> Self {
        self.current = Some(current);
        self
    }

    /// With the value it moves to.
    #[must_use]
    pub fn with_target(mut self, target: f64) -> Self {
        self.target = Some(target);
        self
    }

    /// With the unit of `current` and `target`.
    #[must_use]
    pub fn with_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// With the estimated time remaining, in seconds.
    #[must_use]
    pub fn with_eta_s(mut self, eta_s: f64) -> Self {
        self.eta_s = Some(eta_s);
        self
    }

    /// The report as it may go on the wire: `fraction` clamped to [0, 1]
    /// (a NaN becomes 0), non-finite numbers and negative `eta_s`
    /// dropped; each fix logged at debug level.
    pub(crate) fn sanitised(mut self, command: &str) -> Self {
        if self.fraction.is_nan() {
            tracing::debug!(command, "progress fraction NaN reported as 0");
            self.fraction = 0.0;
        } else if !(0.0..=1.0).contains(&self.fraction) {
            let clamped = self.fraction.clamp(0.0, 1.0);
            tracing::debug!(
                command,
                fraction = self.fraction,
                "progress fraction clamped to {clamped}"
            );
            self.fraction = clamped;
        }
        for (name, slot) in [("current", &mut self.current), ("target", &mut self.target)] {
            if slot.is_some_and(|value| !value.is_finite()) {
                tracing::debug!(command, "non-finite progress {name} left out");
                *slot = None;
            }
        }
        if self.eta_s.is_some_and(|eta| !eta.is_finite() || eta < 0.0) {
            tracing::debug!(command, "progress eta_s that is not a finite time left out");
            self.eta_s = None;
        }
        self
    }
}

/// The transport's handle on one running command: it cancels the command
/// and takes its latest progress report. The handler sees the same control
/// through its [`CommandContext`](super::CommandContext).
///
/// Progress is a slot, not a queue: a report replaces one the transport
/// has not taken yet (latest wins), so a handler reporting in a tight loop
/// costs one pending report, whatever the client's speed.
///
/// ```
/// use std::sync::Arc;
/// use lab_link_core::command::{CancelReason, CommandContext, CommandControl};
///
/// let control = Arc::new(CommandControl::default());
/// let ctx = CommandContext::new("client-1", Some("r7".into()), "ramp").with_control(control.clone());
/// ctx.progress(0.25, "a quarter");
/// ctx.progress(1.5, "over the top"); // replaces the first; clamped to 1
/// assert_eq!(control.take_progress().map(|p| p.fraction), Some(1.0));
/// assert_eq!(control.take_progress(), None);
///
/// assert!(control.cancel(CancelReason::Requested));
/// assert!(ctx.is_cancelled());
/// assert!(!control.cancel(CancelReason::Timeout)); // the first reason stays
/// assert_eq!(control.cancel_reason(), Some(CancelReason::Requested));
/// ```
#[derive(Debug, Default)]
pub struct CommandControl {
    /// 0 while running on; else the [`CancelReason`]'s code.
    cancelled: AtomicU8,
    cancel_notify: Notify,
    progress: Mutex<Option<Progress>>,
    progress_notify: Notify,
    /// The command's policy, set when dispatch found a command with one.
    policy: OnceLock<CommandPolicy>,
}

impl CommandControl {
    /// Asks the command to stop, for `reason`. Returns `false` when it had
    /// been asked already (the first reason stays).
    pub fn cancel(&self, reason: CancelReason) -> bool {
        let first = self
            .cancelled
            .compare_exchange(0, reason.code(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if first {
            self.cancel_notify.notify_waiters();
        }
        first
    }

    /// Why the command was asked to stop, if it was.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        CancelReason::from_code(self.cancelled.load(Ordering::Acquire))
    }

    /// The command's policy, once dispatch found the command and it
    /// declares one (`None`: the default policy).
    pub fn policy(&self) -> Option<&CommandPolicy> {
        self.policy.get()
    }

    /// Records the policy of the command this control runs.
    pub(crate) fn set_policy(&self, policy: CommandPolicy) {
        let _ = self.policy.set(policy);
    }

    /// Takes the latest progress report not taken yet.
    pub fn take_progress(&self) -> Option<Progress> {
        lock(&self.progress).take()
    }

    /// Completes when a progress report is waiting (at once if one is).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a report that arrives meanwhile stays in the slot and
    /// wakes the next call.
    pub async fn progress_ready(&self) {
        self.progress_notify.notified().await;
    }

    /// Completes once the command is asked to stop, with the reason.
    pub(crate) async fn cancelled(&self) -> CancelReason {
        loop {
            let notified = self.cancel_notify.notified();
            tokio::pin!(notified);
            // Registered before the flag is read: a cancel between the two
            // still wakes this waiter.
            notified.as_mut().enable();
            if let Some(reason) = self.cancel_reason() {
                return reason;
            }
            notified.await;
        }
    }

    /// Stores a report, replacing one not taken yet.
    pub(crate) fn report(&self, progress: Progress) {
        let replaced = lock(&self.progress).replace(progress);
        if replaced.is_none() {
            self.progress_notify.notify_one();
        }
    }
}

/// Locks a mutex of the command module, poisoned or not: what it guards
/// (a progress report, the exclusive groups' holders) is replaced whole,
/// so a panic elsewhere cannot leave it half-written.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::Progress;

    #[track_caller]
    fn check(progress: Progress, expect: serde_json::Value) {
        assert_eq!(
            serde_json::to_value(progress.sanitised("test")).unwrap(),
            expect
        );
    }

    #[test]
    fn reports_are_clamped_and_never_carry_nan() {
        check(Progress::new(-0.5), serde_json::json!({"fraction": 0.0}));
        check(Progress::new(2.0), serde_json::json!({"fraction": 1.0}));
        check(
            Progress::new(f64::NAN),
            serde_json::json!({"fraction": 0.0}),
        );
        check(
            Progress::new(f64::INFINITY),
            serde_json::json!({"fraction": 1.0}),
        );
        check(
            Progress::new(0.5)
                .with_current(f64::NAN)
                .with_target(f64::INFINITY)
                .with_eta_s(-1.0),
            serde_json::json!({"fraction": 0.5}),
        );
        check(
            Progress::new(0.5).with_current(1.0).with_eta_s(0.0),
            serde_json::json!({"fraction": 0.5, "current": 1.0, "eta_s": 0.0}),
        );
    }
}
