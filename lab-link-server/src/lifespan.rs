//! The lifespan of mounted routes: what `Server::run` does around its
//! accept loop, for applications that serve the routes themselves (the
//! analogue of passing `sync.lifespan` to Starlette in the reference).

use std::time::Duration;

use crate::{Background, BackgroundHandle, Routes};

/// The running background work of a [`Routes`]: returned by
/// [`Routes::start`]; [`stop`](Lifespan::stop) ends it.
///
/// ```
/// use lab_link_core::LabSync;
/// use lab_link_server::{Routes, ServerConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let sync = LabSync::new(vec![0_u32]);
/// sync.updater(std::time::Duration::from_millis(5), |sync| {
///     sync.try_mutate(|v| {
///         let next = v[0] + 1;
///         v.set(0, next)
///     })
/// });
/// let routes = Routes::new(sync.clone(), ServerConfig::default());
/// // Mount `routes` in your app, then:
/// let lifespan = routes.start();
/// while sync.read()[0] < 2 {
///     tokio::time::sleep(std::time::Duration::from_millis(5)).await;
/// }
/// lifespan.stop().await; // closes clients with 1001, stops the updater
/// # }
/// ```
#[derive(Debug)]
#[must_use = "the background work stops when `stop` is awaited; dropping the handle leaves it running"]
pub struct Lifespan {
    routes: Routes,
    background: BackgroundHandle,
}

impl Routes {
    /// Starts the routes' background work: restores the persisted document
    /// (with [`ServerConfig::persist`](crate::ServerConfig::persist)) and
    /// starts the updaters, the saver and the history recorder
    /// ([`ServerConfig::history`](crate::ServerConfig::history)). Call it before serving the routes
    /// in your own app; [`Server::run`](crate::Server::run) calls it itself.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn start(&self) -> Lifespan {
        let background = Background::start(self.source(), self.config());
        self.set_history(background.history());
        self.mark_started();
        Lifespan {
            routes: self.clone(),
            background,
        }
    }
}

impl Lifespan {
    /// Shuts down: every sync socket gets what is queued for it and a
    /// close frame with 1001 (within the configured grace period), then the
    /// updaters stop and the document is saved a last time, so the save
    /// holds every commit.
    pub async fn stop(self) {
        self.stop_within(None).await;
    }

    /// [`stop`](Lifespan::stop), waiting at most `wait` for the sockets
    /// before stopping the background work (the server passes its grace
    /// period plus the write timeout).
    pub(crate) async fn stop_within(self, wait: Option<Duration>) {
        self.routes.shutdown();
        let wait = wait
            .unwrap_or(self.routes.config().shutdown_grace + self.routes.config().write_timeout);
        let _ = tokio::time::timeout(wait, self.routes.closed()).await;
        self.background.stop().await;
    }
}
