//! Running one connection's commands: in order while they do not await,
//! concurrently once they do; progress, cancellation and timeouts.
//!
//! The rule (the book's chapter "Commands", "Order and concurrency"):
//! the connection's command task takes the commands in the order they
//! arrived and runs each until it completes or first waits. A command that
//! completes without waiting is answered at once, so commands that do not
//! await are answered in order. A command that waits moves to a task of
//! its own and the next command starts; its ack or error comes when it
//! ends. Either way the ack follows every patch the command committed:
//! the subscription's listener queued them during each commit.
//!
//! A command that waits is listed in the running commands (see
//! [`crate::running`]), can be cancelled by its `requestId`, reports
//! progress to its caller at most every [`PROGRESS_INTERVAL`] (latest
//! wins), and is cancelled at its timeout. Cancellation asks the handler
//! to stop (`CommandContext::cancelled`); the handler decides when. Its
//! answer is then `cancelled` (or `timeout`) whatever it returns, and its
//! exclusive group is held until it has returned.

use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use lab_link_core::command::{CancelReason, CommandContext, CommandControl, CommandError};
use lab_link_core::protocol::ServerMessage;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::connection::{lock, Link};
use crate::control::Gate;
use crate::running::Starter;
use crate::shared::unix_millis;

/// How many commands of one connection may wait for their turn.
pub(crate) const COMMAND_QUEUE: usize = 64;

/// The shortest time between two progress messages of one command: a
/// handler reporting faster has its reports replaced (latest wins).
pub(crate) const PROGRESS_INTERVAL: Duration = Duration::from_millis(50);

/// How long a handler may go on after its timeout cancelled it before it
/// is reported in the log as ignoring cancellation.
pub(crate) const OVERDUE_GRACE: Duration = Duration::from_secs(1);

/// What the reader hands to the connection's command task, in arrival
/// order.
pub(crate) enum Work {
    /// A command to run.
    Command(Box<PendingCommand>),
    /// A `cancel`: in the same queue as the commands, so it finds a
    /// command sent before it running (or finished), never not started.
    Cancel(Value),
}

/// A command read from the socket, waiting for its turn.
pub(crate) struct PendingCommand {
    pub(crate) ctx: CommandContext,
    /// The params, or the `invalid_params` error that answers them
    /// without running the command.
    pub(crate) params: Result<Map<String, Value>, CommandError>,
    /// The `requestId` as the client sent it, for the reply.
    pub(crate) request_id: Option<Value>,
}

/// The running commands of one connection that can be cancelled, by the
/// text of their `requestId`.
pub(crate) type Cancellable = HashMap<String, Arc<CommandControl>>;

/// A command's outcome, or the panic that ended it.
type Outcome = std::thread::Result<Result<Option<Value>, CommandError>>;

/// Runs the connection's commands (see the module's rule) and its cancels.
pub(crate) async fn command_loop(link: Arc<Link>, mut work: mpsc::Receiver<Work>) {
    while let Some(item) = work.recv().await {
        match item {
            Work::Command(pending) => run(&link, *pending).await,
            Work::Cancel(request_id) => cancel(&link, &request_id).await,
        }
    }
}

/// Runs one command until it completes (and answers it) or first waits
/// (and moves it to a task of its own).
async fn run(link: &Arc<Link>, pending: PendingCommand) {
    let PendingCommand {
        ctx,
        params,
        request_id,
    } = pending;
    let control = Arc::new(CommandControl::default());
    let ctx = ctx.with_control(control.clone());
    let command = ctx.command().to_owned();
    link.shared().presence_updated(link.client_id(), |entry| {
        entry.last_command_at = Some(unix_millis());
    });
    let future = match params {
        Ok(params) => match link.shared().control_gate(link, &ctx) {
            Gate::Pass => link.shared().source.dispatch(ctx, params),
            Gate::Answered(outcome) => Box::pin(std::future::ready(outcome)),
            Gate::Refused(error) => Box::pin(std::future::ready(Err(error))),
        },
        Err(error) => Box::pin(std::future::ready(Err(error))),
    };
    let mut future = AssertUnwindSafe(future).catch_unwind();
    // The first step, polled here: a command that does not wait is done
    // after it and answered in order, with no task and no timer.
    if let Some(outcome) = (&mut future).now_or_never() {
        answer(link, &command, request_id, outcome, &control).await;
        return;
    }
    // It waits: the task polls it again at once, so no wake-up is lost.
    let key = request_id.as_ref().map(request_key);
    if let Some(key) = &key {
        lock(link.cancellable()).insert(key.clone(), control.clone());
    }
    let long = Long {
        link: link.clone(),
        command,
        request_id,
        key,
        control,
    };
    link.shared().tracker.spawn(long.run(future));
}

/// A command that waited, running in a task of its own.
struct Long {
    link: Arc<Link>,
    command: String,
    request_id: Option<Value>,
    /// Its key in the connection's cancellable commands.
    key: Option<String>,
    control: Arc<CommandControl>,
}

impl Long {
    async fn run<F>(self, future: F)
    where
        F: std::future::Future<Output = Outcome> + Send,
    {
        let shared = self.link.shared().clone();
        let id = shared.running_started(Starter {
            command: &self.command,
            client_id: self.link.client_id(),
            request_id: self.request_id.as_ref(),
            client: self.link.client_info(),
        });
        let timeout = self.control.policy().and_then(|policy| policy.timeout());
        let far = Duration::from_secs(86_400 * 365);
        let deadline = tokio::time::sleep(timeout.unwrap_or(far));
        let overdue = tokio::time::sleep(far);
        let mut gate = Box::pin(progress_gate(self.control.clone(), Instant::now()));
        let mut timed_out = false;
        let mut reported_overdue = false;
        let mut shutting_down = false;
        tokio::pin!(future, deadline, overdue);
        let outcome = loop {
            tokio::select! {
                biased;
                outcome = &mut future => break outcome,
                () = &mut gate => {
                    self.send_progress(id);
                    gate.set(progress_gate(self.control.clone(), Instant::now() + PROGRESS_INTERVAL));
                }
                () = &mut deadline, if timeout.is_some() && !timed_out => {
                    timed_out = true;
                    self.control.cancel(CancelReason::Timeout);
                    overdue.as_mut().reset(Instant::now() + OVERDUE_GRACE);
                }
                () = &mut overdue, if timed_out && !reported_overdue => {
                    reported_overdue = true;
                    tracing::warn!(
                        command = %self.command,
                        client = %self.link.client_id(),
                        "command {} ignores cancellation: still running {OVERDUE_GRACE:?} after its \
                         timeout of {:?}; it keeps its exclusive group until it ends",
                        self.command,
                        timeout.unwrap_or_default(),
                    );
                }
                () = shared.shutdown.cancelled(), if !shutting_down => {
                    shutting_down = true;
                    self.control.cancel(CancelReason::Disconnected);
                }
            }
        };
        // The last report the interval held back still goes, before the
        // answer.
        self.send_progress(id);
        if let Some(key) = &self.key {
            let mut cancellable = lock(self.link.cancellable());
            if cancellable
                .get(key)
                .is_some_and(|control| Arc::ptr_eq(control, &self.control))
            {
                cancellable.remove(key);
            }
        }
        let code = answer(
            &self.link,
            &self.command,
            self.request_id,
            outcome,
            &self.control,
        )
        .await;
        shared.running_finished(id, &code);
    }

    /// Sends the latest progress report, if any: to the caller at level 2
    /// (when it sent a `requestId`), and to the running list.
    fn send_progress(&self, id: u64) {
        let Some(progress) = self.control.take_progress() else {
            return;
        };
        if let Some(request_id) = &self.request_id {
            if self.link.is_level2() {
                let text = ServerMessage::CommandProgress {
                    request_id: Cow::Borrowed(request_id),
                    progress: Cow::Borrowed(&progress),
                }
                .to_text();
                self.link.try_send(text);
            }
        }
        self.link.shared().running_progress(id, &progress);
    }
}

/// Completes when a report is waiting, no earlier than `not_before`.
async fn progress_gate(control: Arc<CommandControl>, not_before: Instant) {
    tokio::time::sleep_until(not_before).await;
    control.progress_ready().await;
}

/// Answers a finished command (when it has a `requestId`) and returns its
/// outcome for the running list: `ok` or the error's code.
async fn answer(
    link: &Link,
    command: &str,
    request_id: Option<Value>,
    outcome: Outcome,
    control: &CommandControl,
) -> String {
    let mut outcome = match outcome {
        Ok(outcome) => outcome,
        Err(panic) => {
            let message = panic_message(&*panic);
            tracing::error!(client = %link.client_id(), %command, "command panicked: {message}");
            Err(CommandError::command_failed(format!(
                "the command failed: {message}"
            )))
        }
    };
    if let Some(reason) = control.cancel_reason() {
        // Asked to stop: the answer says so, whatever the handler made of
        // it.
        let timeout = control.policy().and_then(|policy| policy.timeout());
        outcome = Err(reason.error(timeout));
    }
    if let Err(error) = &outcome {
        if error.code() == "command_failed" {
            tracing::warn!(client = %link.client_id(), %command, "command failed: {error}");
        }
    }
    let code = match &outcome {
        Ok(_) => "ok".to_owned(),
        Err(error) => error.code().to_owned(),
    };
    let Some(request_id) = request_id else {
        return code;
    };
    let version = link.shared().source.version();
    let reply = match outcome {
        Ok(result) => ServerMessage::CommandAck {
            command: command.into(),
            request_id: Cow::Owned(request_id),
            version,
            result,
        },
        Err(error) => ServerMessage::CommandError {
            command: command.into(),
            request_id: Cow::Owned(request_id),
            error: Cow::Owned(error),
            origin_client_id: Some(Cow::Borrowed(link.client_id())),
            version,
        },
    };
    link.reply(reply.to_text()).await;
    code
}

/// Cancels the running command of this connection with that `requestId`,
/// or answers an `error` naming it.
async fn cancel(link: &Link, request_id: &Value) {
    let control = lock(link.cancellable())
        .get(&request_key(request_id))
        .cloned();
    match control {
        Some(control) => {
            control.cancel(CancelReason::Requested);
        }
        None => {
            let message = format!(
                "no running command of this connection has requestId {request_id}: \
                 it is unknown or has finished"
            );
            let text = ServerMessage::Error {
                code: Cow::Borrowed("unknown_request"),
                message: Cow::Owned(message),
            }
            .to_text();
            link.reply(text).await;
        }
    }
}

/// Cancels the connection's running commands that declare
/// `cancel_on_disconnect`: its client has gone.
pub(crate) fn cancel_on_disconnect(link: &Link) {
    for control in lock(link.cancellable()).values() {
        if control
            .policy()
            .is_some_and(|policy| policy.cancel_on_disconnect())
        {
            control.cancel(CancelReason::Disconnected);
        }
    }
}

/// The key of a `requestId`: its text (a string as is, anything else as
/// JSON), as the handler sees it.
pub(crate) fn request_key(request_id: &Value) -> String {
    match request_id {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The text of a panic payload.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "panicked".to_owned()
    }
}
