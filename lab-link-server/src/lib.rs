//! Transport of lab-link: the wire protocol over hyper and
//! tokio-tungstenite.
//!
//! - `GET {prefix}/state`: the current document (`application/json`),
//!   served from the per-version snapshot cache.
//! - `WS {prefix}/ws`: a `snapshot` (with the level-2 `clientId`) on
//!   connect, then every patch message in version order with no gap; level
//!   2 adds `{"type":"resync"}`, resume with `?since=N`, `bad_message`
//!   errors that keep the connection open, a frame size limit (close 1009),
//!   a connection limit, and ping/pong keepalive with an idle timeout.
//! - `GET {prefix}/history` (with [`ServerConfig::history`]): the recorded
//!   changes of one value, raw or decimated for a plot.
//! - `GET /`: the generated control panel ([`Panel`]), rendered in the
//!   browser from `GET {prefix}/schema`, unless turned off
//!   ([`ServerConfig::panel`]) or replaced by a fallback.
//!
//! Three ways in:
//!
//! 1. the pre-wired server: [`serve`], or [`Server::builder`] for the
//!    prefix, the limits and the shutdown signal;
//! 2. the endpoints as a hyper service beside your own routes: [`Routes`]
//!    ([`Routes::handle`] gives back requests for paths that are not its
//!    own);
//! 3. the WebSocket handler alone on a route of your own hyper or axum app:
//!    [`Routes::upgrade`].
//!
//! The server never knows the state's type: it holds an
//! `Arc<dyn SyncSource>`. Each patch message is serialised once by the
//! core and shared by every client; each client has one writer task with a
//! bounded queue (see [`ServerConfig::queue_depth`]); a client that falls
//! behind is resynchronised with a fresh snapshot instead of growing memory
//! or slowing anyone else. No lock is held across an `.await`.
#![doc(test(attr(deny(warnings))))]

mod access;
mod background;
mod commands;
mod config;
mod connection;
mod control;
mod frame;
mod history;
mod lifespan;
mod panel;
mod persist;
mod presence;
mod queue;
mod rewind;
mod routes;
mod running;
mod server;
mod shared;

pub use access::PeerAddr;
pub use background::{Background, BackgroundHandle};
pub use config::ServerConfig;
#[doc(hidden)]
pub use history::fill_history_file;
pub use history::{HistoryError, HistoryQuery, Point, Series};
/// The transport's interface to a `LabSync`, from the core.
pub use lab_link_core::{Start, SyncSource};
pub use lifespan::Lifespan;
pub use panel::{fill_prefix, static_asset, Panel};
pub use routes::{IntoSource, Routes};
pub use server::{serve, terminate_signal, Builder, Server};
pub use shared::{Body, ClientStats, Resyncs};
