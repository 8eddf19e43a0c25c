//! Updaters: periodic background work registered on a [`LabSync`], kept as
//! data.
//!
//! The core never spawns a task: [`LabSync::updater`] and
//! [`LabSync::updater_async`] only record the period and the closure. A
//! transport asks [`SyncSource::updaters`](crate::SyncSource::updaters) for
//! them, type-erased and bound to the `LabSync`, and runs them (the server
//! crate's `Background` runner does).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::reactive::Reactive;
use crate::LabSync;

/// The future of one tick: `Err` carries the failure's text, for the log.
pub type TickFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// What an updater closure may return: `()` or `Result<(), E>` with a
/// displayable error. An `Err` is logged and the updater goes on.
pub trait TickResult {
    /// `Ok` or the error's text.
    ///
    /// # Errors
    ///
    /// The error's `Display` text.
    fn into_tick_result(self) -> Result<(), String>;
}

impl TickResult for () {
    fn into_tick_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Display> TickResult for Result<(), E> {
    fn into_tick_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// A registered updater bound to its `LabSync`: a period and the tick to
/// run once per period. Obtained from
/// [`SyncSource::updaters`](crate::SyncSource::updaters).
#[derive(Clone)]
pub struct Updater {
    period: Duration,
    tick: Arc<dyn Fn() -> TickFuture + Send + Sync>,
}

impl Updater {
    /// The period between ticks (never zero).
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Starts one tick. A synchronous updater runs when the returned future
    /// is first polled, so a panic surfaces there.
    pub fn tick(&self) -> TickFuture {
        (self.tick)()
    }
}

impl fmt::Debug for Updater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Updater")
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

/// An updater as registered, typed by the state: held by the `LabSync`
/// without a clone of it (which would be a reference cycle).
pub(crate) struct TypedUpdater<S> {
    period: Duration,
    tick: TypedTick<S>,
}

type TypedTick<S> = Arc<dyn Fn(&LabSync<S>) -> TickFuture + Send + Sync>;

impl<S> Clone for TypedUpdater<S> {
    fn clone(&self) -> Self {
        Self {
            period: self.period,
            tick: self.tick.clone(),
        }
    }
}

impl<S: Reactive + Send + 'static> TypedUpdater<S> {
    /// Binds the updater to `sync`.
    pub(crate) fn bind(&self, sync: &LabSync<S>) -> Updater {
        let tick = self.tick.clone();
        let sync = sync.clone();
        Updater {
            period: self.period,
            tick: Arc::new(move || tick(&sync)),
        }
    }
}

fn check_period(period: Duration) {
    assert!(
        !period.is_zero(),
        "the period of an updater must not be zero"
    );
}

impl<S: Reactive + Send + 'static> LabSync<S> {
    /// Registers `update` to run every `period` while the state is served:
    /// the server starts it when serving starts and stops it on shutdown.
    /// The first tick runs one period after the start.
    ///
    /// `update` may return `()` or `Result<(), E>`; an `Err` or a panic is
    /// logged and the next tick runs as planned. Its patches carry no
    /// command metadata. It runs on the server's runtime: keep it short and
    /// non-blocking; use [`updater_async`](LabSync::updater_async) for work
    /// that waits.
    ///
    /// # Panics
    ///
    /// When `period` is zero.
    pub fn updater<R, F>(&self, period: Duration, update: F) -> &Self
    where
        F: Fn(&LabSync<S>) -> R + Send + Sync + 'static,
        R: TickResult + 'static,
    {
        check_period(period);
        let update = Arc::new(update);
        let tick = move |sync: &LabSync<S>| -> TickFuture {
            let update = update.clone();
            let sync = sync.clone();
            Box::pin(async move { update(&sync).into_tick_result() })
        };
        self.register_updater(TypedUpdater {
            period,
            tick: Arc::new(tick),
        });
        self
    }

    /// As [`updater`](LabSync::updater), for an async closure: it gets a
    /// clone of the `LabSync` (cheap) so the future can own it. The next
    /// tick waits until this one has finished.
    ///
    /// # Panics
    ///
    /// When `period` is zero.
    pub fn updater_async<R, F, Fut>(&self, period: Duration, update: F) -> &Self
    where
        F: Fn(LabSync<S>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: TickResult + 'static,
    {
        check_period(period);
        let update = Arc::new(update);
        let tick = move |sync: &LabSync<S>| -> TickFuture {
            let update = update.clone();
            let sync = sync.clone();
            // Called inside the future, so a panic before the first await
            // surfaces where the runner catches it.
            Box::pin(async move { update(sync).await.into_tick_result() })
        };
        self.register_updater(TypedUpdater {
            period,
            tick: Arc::new(tick),
        });
        self
    }
}
