//! The demo instrument of `DEMO.md`: a simulated four-channel bias source
//! with a photon counter, served with a web UI by `cargo xtask serve-demo`.
//!
//! Benchmarks, the end-to-end tests and outside tools drive it, so its
//! state, commands, results, errors and streams are a contract. This crate
//! is also the worked example of a complete lab-link application:
//!
//! - [`state`]: the `#[derive(Reactive)]` state;
//! - [`commands`]: the eleven `#[command]`s with structured errors;
//! - [`acquisition`]: the streams and the simulated detector, ticking as an
//!   updater of the server's background runner;
//! - [`ui`]: the embedded web page, served as the server's fallback;
//! - [`bind`]: all of it on one socket, with persistence when asked.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let options = lab_link_demo::Options::default();
//! let server = lab_link_demo::bind(&options).await?;
//! println!("lab-link demo listening on http://{}", server.local_addr());
//! server.run().await;
//! # Ok(())
//! # }
//! # let _ = demo;
//! ```

use std::io;
use std::path::PathBuf;

use lab_link::auth::{Auth, AuthConfig};
use lab_link::server::Panel;
use lab_link::{LabSync, Server, ServerConfig};

pub mod acquisition;
pub mod commands;
pub mod state;
pub mod ui;

use crate::state::DemoState;

/// The demo's state with its commands, streams and acquisition loop
/// registered, and its schema and loader published (for `GET
/// /sync/schema` and persistence).
///
/// ```
/// use lab_link::server::SyncSource; // the transport's view of a LabSync
///
/// let sync = lab_link_demo::instrument();
/// assert_eq!(sync.read().channels.len(), 4);
/// assert_eq!(sync.command_infos().len(), 12);
/// ```
pub fn instrument() -> LabSync<DemoState> {
    instrument_with_channels(4)
}

/// [`instrument`] starting with `channels` channels (`ch0`, `ch1`, …)
/// instead of the contract's four (the flag `--channels`, for measuring a
/// large state). `reset` still restores the contract's initial state.
///
/// ```
/// let sync = lab_link_demo::instrument_with_channels(10);
/// assert_eq!(sync.read().channels[9].name, "ch9");
/// ```
pub fn instrument_with_channels(channels: usize) -> LabSync<DemoState> {
    let mut state = DemoState::initial();
    state.channels = (0..channels)
        .map(|i| state::Channel::new(format!("ch{i}")))
        .collect();
    let sync = LabSync::new(state).with_state_schema().with_loader();
    commands::register(&sync);
    let streams = acquisition::Streams::register(&sync);
    acquisition::register(&sync, streams);
    sync
}

/// What the demo records as history (with `--history` or `--persist`).
pub const HISTORY: [&str; 2] = ["/channels/*/bias_voltage", "/acquisition/rate_hz"];

/// The demo's connection limit.
pub const MAX_CONNECTIONS: usize = 16_384;

/// Where and how to serve the demo: the flags of `DEMO.md` that concern
/// the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Address to listen on (default `127.0.0.1`).
    pub host: String,
    /// Port to listen on; 0 picks a free one (default 8000).
    pub port: u16,
    /// Path prefix of the sync endpoints (default `/sync`).
    pub prefix: String,
    /// SQLite file that keeps the state across restarts (default none: a
    /// fresh state at every start).
    pub persist: Option<PathBuf>,
    /// SQLite file that records the channels' bias voltages and the
    /// acquisition rate over time, for the UI's history plot (default:
    /// beside `persist` when it is set, else none: no history).
    pub history: Option<PathBuf>,
    /// Access control (default none: the demo is open, as the
    /// reference's demo is).
    pub auth: Option<AuthConfig>,
    /// How clients' backlogs are bounded (default: the library's
    /// defaults). For measuring the alternatives side by side.
    pub backlog: Backlog,
    /// Channels at start (default 4, the contract's; more for measuring a
    /// large state: see [`instrument_with_channels`]).
    pub channels: usize,
    /// Publish the state to NATS JetStream and answer commands from
    /// relays (default none: see [`Nats`]).
    pub nats: Option<Nats>,
    /// The page at `/` (default the demo's own UI).
    pub page: Page,
    /// Presence and the control lock (`--presence`; default off): level-2
    /// clients see who is connected and who holds control, and may
    /// `claim_control`.
    pub presence: bool,
}

/// The demo as the primary of a NATS JetStream instrument (the flags
/// `--nats URL` and `--instrument NAME`): its patches go to the
/// instrument's stream and snapshots, and relays' commands are answered.
/// `lab-link-relay --instrument NAME --nats URL` then serves viewers the
/// same state (the book's chapter "Scaling out").
///
/// ```
/// let nats = lab_link_demo::Nats::new("nats://127.0.0.1:4222");
/// assert_eq!(nats.instrument, "demo");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nats {
    /// The NATS server's URL.
    pub url: String,
    /// The instrument's name on NATS (default `demo`).
    pub instrument: String,
}

impl Nats {
    /// Publishes as the instrument `demo` on the NATS server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            instrument: "demo".to_owned(),
        }
    }
}

/// Which page the demo serves at `/` (the flag `--panel`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Page {
    /// The demo's own UI ([`ui`]).
    #[default]
    HandMade,
    /// The control panel lab-link generates from `/schema`
    /// ([`lab_link::server::Panel`]), with the demo's own UI at `/demo/`.
    Generated,
}

/// The bounds on a client's backlog the demo serves with (the flags
/// `--queue-bytes`, `--tcp-notsent-lowat`, `--send-buffer`); the defaults
/// are [`ServerConfig`]'s.
///
/// ```
/// use lab_link::ServerConfig;
/// use lab_link_demo::Backlog;
///
/// let backlog = Backlog::default();
/// assert_eq!(backlog.queue_bytes, ServerConfig::DEFAULT_QUEUE_BYTES);
/// assert_eq!(backlog.tcp_notsent_lowat, Some(ServerConfig::DEFAULT_NOTSENT_LOWAT));
/// assert_eq!(backlog.send_buffer_bytes, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    /// [`ServerConfig::queue_bytes`].
    pub queue_bytes: usize,
    /// [`ServerConfig::tcp_notsent_lowat`].
    pub tcp_notsent_lowat: Option<u32>,
    /// [`ServerConfig::send_buffer_bytes`].
    pub send_buffer_bytes: Option<usize>,
}

impl Default for Backlog {
    fn default() -> Self {
        Self {
            queue_bytes: ServerConfig::DEFAULT_QUEUE_BYTES,
            tcp_notsent_lowat: Some(ServerConfig::DEFAULT_NOTSENT_LOWAT),
            send_buffer_bytes: None,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 8000,
            prefix: "/sync".to_owned(),
            persist: None,
            history: None,
            auth: None,
            backlog: Backlog::default(),
            channels: 4,
            nats: None,
            page: Page::HandMade,
            presence: false,
        }
    }
}

/// Binds the demo's server: the sync endpoints under `options.prefix`, the
/// web UI at `/`, persistence if asked, and a clean stop on SIGINT or
/// SIGTERM. [`Server::run`] serves it.
///
/// # Errors
///
/// A prefix that is not empty and does not start with `/`
/// (`InvalidInput`), an access-control store that cannot be opened, or an
/// address that cannot be bound.
pub async fn bind(options: &Options) -> io::Result<Server> {
    if !(options.prefix.is_empty() || options.prefix.starts_with('/')) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the prefix {:?} must start with `/` (or be empty)",
                options.prefix
            ),
        ));
    }
    // The demo is also the benchmarks' workload: room for a connect storm
    // of 10,000 clients (the library's default limit is 1,024).
    let mut config = ServerConfig::default()
        .prefix(options.prefix.as_str())
        .max_connections(MAX_CONNECTIONS)
        .queue_bytes(options.backlog.queue_bytes)
        .tcp_notsent_lowat(options.backlog.tcp_notsent_lowat)
        .send_buffer_bytes(options.backlog.send_buffer_bytes)
        .presence(options.presence)
        .control_lock(options.presence);
    if let Some(path) = &options.persist {
        config = config.persist(path);
    }
    if options.history.is_some() || options.persist.is_some() {
        config = config.history(HISTORY);
        if let Some(path) = &options.history {
            config = config.history_path(path);
        }
    }
    if let Some(auth) = &options.auth {
        let auth = Auth::new(auth.clone())
            .map_err(|e| io::Error::other(format!("access control: {e}")))?;
        if !auth.is_configured() {
            tracing::warn!(
                "access control has no passphrase yet: open the web UI on this machine \
                 (a loopback address) to choose one"
            );
        }
        config = config.auth(auth);
    }
    let prefix = config.prefix_str().to_owned();
    let sync = instrument_with_channels(options.channels);
    if let Some(nats) = &options.nats {
        publish(&sync, nats).await?;
    }
    let builder = Server::builder().config(config);
    let builder = match options.page {
        Page::HandMade => builder.fallback(ui::handler(&prefix)),
        Page::Generated => {
            let panel = Panel::new(&prefix);
            let own = ui::handler_at(&prefix, "/demo");
            builder.fallback(move |request| panel.respond(request).unwrap_or_else(&own))
        }
    };
    builder
        .shutdown_signal(lab_link::server::terminate_signal())
        .bind(sync, (options.host.as_str(), options.port))
        .await
}

/// Starts publishing `sync` as `nats.instrument` and answering its
/// commands; both run for as long as the runtime does.
async fn publish(sync: &LabSync<DemoState>, nats: &Nats) -> io::Result<()> {
    use lab_link::nats::{async_nats, CommandResponder, Instrument, Publisher, PublisherConfig};
    use std::sync::Arc;

    let failed = |e: &dyn std::fmt::Display| io::Error::other(format!("NATS: {e}"));
    let instrument = Instrument::new(nats.instrument.as_str()).map_err(|e| failed(&e))?;
    let client = async_nats::connect(nats.url.as_str())
        .await
        .map_err(|e| failed(&format!("cannot connect to {}: {e}", nats.url)))?;
    let source = Arc::new(sync.clone());
    let publisher = Publisher::start(
        client.clone(),
        source.clone(),
        PublisherConfig::new(instrument.clone()),
    )
    .await
    .map_err(|e| failed(&e))?;
    let commands = CommandResponder::start(client, source, &instrument)
        .await
        .map_err(|e| failed(&e))?;
    tracing::info!(
        "publishing to NATS at {} as the instrument {instrument} (epoch {})",
        nats.url,
        publisher.epoch()
    );
    // Kept for the life of the runtime: the process serves until it stops.
    tokio::spawn(async move {
        let _running = (publisher, commands);
        std::future::pending::<()>().await;
    });
    Ok(())
}
