//! The background work of a served state: its updaters and, when
//! configured, its persistence and its history recorder.
//!
//! The core keeps updaters as data and never spawns a task; this module
//! runs them. [`Server::run`](crate::Server::run) starts it before it
//! accepts the first connection and stops it after the last one closed; an
//! application that mounts [`Routes`](crate::Routes) itself calls
//! [`Background::start`] and [`BackgroundHandle::stop`].
//!
//! # Missed ticks
//!
//! Each updater runs on a `tokio::time::interval` with
//! [`MissedTickBehavior::Skip`]: ticks stay on the grid `start + n·period`,
//! so the period does not drift under load, and a tick that overruns (or a
//! stalled runtime) skips the ticks it missed instead of firing them in a
//! burst, which would only repeat the same polling back to back.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use lab_link_core::Updater;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::history::{self, History};
use crate::persist::Persistence;
use crate::routes::IntoSource;
use crate::ServerConfig;

/// Starts the background work of a state: see the [module](self).
#[derive(Debug)]
pub struct Background;

/// The running background work; [`stop`](BackgroundHandle::stop) ends it.
#[derive(Debug)]
#[must_use = "dropping the handle leaves the updaters running until the runtime ends"]
pub struct BackgroundHandle {
    token: CancellationToken,
    tracker: TaskTracker,
    persistence: Option<Arc<Persistence>>,
    history: Option<Arc<History>>,
}

impl Background {
    /// Restores the saved document when `config` has
    /// [`persist`](ServerConfig::persist) (before any client should
    /// connect), then starts every updater registered on `source` and the
    /// debounced saver.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn start(source: impl IntoSource, config: &ServerConfig) -> BackgroundHandle {
        let source = source.into_source();
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        let persistence = config
            .persist
            .as_ref()
            .and_then(|persist| Persistence::open(persist, &source))
            .map(Arc::new);
        if let Some(persistence) = &persistence {
            tracker.spawn(persistence.clone().save_loop(source.clone(), token.clone()));
        }
        let history = History::open(
            &source,
            &config.history,
            config
                .persist
                .as_ref()
                .map(|persist| persist.path.as_path()),
        );
        if let Some(history) = &history {
            tracker.spawn(history::recorder::record(
                history.clone(),
                &source,
                token.clone(),
            ));
        }
        for (index, updater) in source.updaters().into_iter().enumerate() {
            tracker.spawn(run_updater(index, updater, token.clone()));
        }
        tracker.close();
        BackgroundHandle {
            token,
            tracker,
            persistence,
            history,
        }
    }
}

impl BackgroundHandle {
    /// The history this background work records, for the routes' queries.
    pub(crate) fn history(&self) -> Option<Arc<History>> {
        self.history.clone()
    }

    /// Stops the updaters (a running async tick is dropped at its next
    /// `.await`), waits for them and for the history recorder's last batch,
    /// and saves the document one last time when persistence is on.
    pub async fn stop(self) {
        self.token.cancel();
        self.tracker.wait().await;
        if let Some(persistence) = self.persistence {
            let _ = tokio::task::spawn_blocking(move || persistence.save_now()).await;
        }
    }
}

async fn run_updater(index: usize, updater: Updater, token: CancellationToken) {
    let period = updater.period();
    let mut interval = tokio::time::interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = token.cancelled() => break,
            _ = interval.tick() => {}
        }
        let tick = AssertUnwindSafe(updater.tick()).catch_unwind();
        let result = tokio::select! {
            () = token.cancelled() => break,
            result = tick => result,
        };
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(updater = index, "updater tick failed: {e}"),
            Err(panic) => tracing::error!(
                updater = index,
                "updater tick panicked: {}",
                panic_message(&*panic)
            ),
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(message) = panic.downcast_ref::<&str>() {
        message
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message
    } else {
        "a non-string payload"
    }
}
