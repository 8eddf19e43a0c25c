//! [`CommandRun`]: a command sent with
//! [`Client::command_with_progress`](crate::Client::command_with_progress),
//! as the stream of its progress reports and then its outcome.

use lab_link_core::command::Progress;
use tokio::sync::{mpsc, oneshot};

use crate::connection::Request;
use crate::{ClientError, CommandReply};

/// One item of a [`CommandRun`]: exhaustive, so a `match` needs no
/// catch-all.
#[derive(Debug)]
pub enum CommandUpdate {
    /// A progress report (`command_progress`), in the order sent.
    Progress(Progress),
    /// The answer: the ack, or the error (`cancelled`, `timeout`, `busy`,
    /// or the handler's own). The last item.
    Outcome(Result<CommandReply, ClientError>),
}

/// A running command: [`next`](Self::next) yields its progress reports,
/// then its outcome, then `None`. Reports the server sent before the
/// answer all come before the outcome.
#[derive(Debug)]
pub struct CommandRun {
    request_id: String,
    reports: mpsc::UnboundedReceiver<Progress>,
    answer: Option<oneshot::Receiver<Result<CommandReply, ClientError>>>,
    requests: mpsc::Sender<Request>,
}

impl CommandRun {
    pub(crate) fn new(
        request_id: String,
        reports: mpsc::UnboundedReceiver<Progress>,
        answer: oneshot::Receiver<Result<CommandReply, ClientError>>,
        requests: mpsc::Sender<Request>,
    ) -> Self {
        Self {
            request_id,
            reports,
            answer: Some(answer),
            requests,
        }
    }

    /// The next progress report, or the outcome once every report is
    /// taken; `None` after the outcome.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: an item not returned stays for the next call.
    pub async fn next(&mut self) -> Option<CommandUpdate> {
        let answer = self.answer.as_mut()?;
        tokio::select! {
            // Reports first: the connection queues each report before it
            // takes the answer, so none is left behind the outcome.
            biased;
            Some(progress) = self.reports.recv() => Some(CommandUpdate::Progress(progress)),
            outcome = answer => {
                self.answer = None;
                // Reports that came in just before the answer still go
                // first.
                if let Ok(progress) = self.reports.try_recv() {
                    self.answer = Some(resolved(outcome));
                    return Some(CommandUpdate::Progress(progress));
                }
                Some(CommandUpdate::Outcome(outcome.unwrap_or(Err(ClientError::Closed))))
            }
        }
    }

    /// Waits for the outcome, skipping the progress reports.
    ///
    /// # Errors
    ///
    /// The command's error, or what ended the connection.
    ///
    /// # Cancel safety
    ///
    /// Cancelling stops the wait, not the command.
    pub async fn outcome(mut self) -> Result<CommandReply, ClientError> {
        while let Some(update) = self.next().await {
            if let CommandUpdate::Outcome(outcome) = update {
                return outcome;
            }
        }
        Err(ClientError::Closed)
    }

    /// Asks the server to cancel the command (level 2): it answers
    /// `cancelled` once the handler has stopped.
    ///
    /// # Errors
    ///
    /// [`ClientError::Closed`] when the client is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the request was either queued or not.
    pub async fn cancel(&self) -> Result<(), ClientError> {
        let request = Request::Cancel {
            request_id: self.request_id.clone(),
        };
        self.requests
            .send(request)
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// The command's `requestId`.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }
}

/// A receiver that yields `outcome` at once.
fn resolved(
    outcome: Result<Result<CommandReply, ClientError>, oneshot::error::RecvError>,
) -> oneshot::Receiver<Result<CommandReply, ClientError>> {
    let (sender, receiver) = oneshot::channel();
    let _ = sender.send(outcome.unwrap_or(Err(ClientError::Closed)));
    receiver
}
