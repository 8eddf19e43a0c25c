//! A Rust client of lab-link: a read-only replica of the server's state,
//! kept current over the sync socket, and commands.
//!
//! [`Client::connect`] opens the sync socket (`ws://host:port/sync/ws`)
//! and waits for the snapshot; from then on a background task applies
//! every patch the server sends to the replica ([`Client::replica`],
//! [`Client::version`]) and tells [`Client::subscribe`] receivers about it.
//! [`Client::command`] calls a command by name and waits for its
//! `command_ack` (or `command_error`); when it returns, the replica already
//! holds the command's patches.
//!
//! # Example
//!
//! ```
//! use lab_link::{command, CommandError, LabSync, Reactive, Server};
//! use lab_link_client::Client;
//! use serde::Serialize;
//! use serde_json::json;
//!
//! #[derive(Reactive, Serialize, Default)]
//! struct AppState {
//!     voltage: f64,
//! }
//!
//! /// Set the voltage.
//! #[command]
//! fn set_voltage(sync: LabSync<AppState>, value: f64) -> Result<f64, CommandError> {
//!     sync.try_mutate(|s| s.set_voltage(value))?;
//!     Ok(value)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A server in this process, on an ephemeral port.
//! let sync = LabSync::new(AppState::default());
//! sync.command(set_voltage);
//! let server = Server::builder().bind(sync.clone(), "127.0.0.1:0").await?;
//! let url = format!("ws://{}/sync/ws", server.local_addr());
//! let routes = server.routes().clone();
//! tokio::spawn(server.run());
//!
//! let client = Client::connect(&url).await?;
//! assert_eq!(client.replica(), json!({"voltage": 0.0}));
//!
//! let reply = client.command("set_voltage", json!({"value": 1.25})).await?;
//! assert_eq!(reply.result, Some(json!(1.25)));
//! // The command's patch arrived before its ack.
//! assert_eq!(client.replica(), json!({"voltage": 1.25}));
//! assert_eq!(client.version(), reply.version);
//!
//! // A command error is structured.
//! let error = client.command("set_voltage", json!({})).await.unwrap_err();
//! assert_eq!(error.command_failure().map(|f| f.code.as_str()), Some("invalid_params"));
//!
//! client.close().await;
//! routes.shutdown();
//! # Ok(())
//! # }
//! ```
//!
//! # Keeping the replica right
//!
//! Every patch must carry the replica's version + 1. A gap, a repeat or a
//! patch that does not apply is never papered over: the client sends
//! `{"type":"resync"}`, discards patches until the fresh snapshot arrives,
//! and counts it ([`Client::resyncs`]).
//!
//! # Reconnecting
//!
//! When the socket drops (not by [`Client::close`]), the client reconnects
//! with a backoff from 50 ms doubling up to 2 s, asking to resume from its
//! version (`?since=N`): the server sends the missed patches, or a fresh
//! snapshot when it no longer holds them. Commands pending at the drop, or
//! sent while reconnecting, fail with [`ClientError::Disconnected`].
//!
//! The protocol has no server identity: a *different* server that happens
//! to hold the replica's version is resumed as if it were the same one. A
//! restarted server normally starts at version 0, below the replica's, and
//! answers with a snapshot.
//!
//! # Not yet supported
//!
//! JSON stream messages arrive as raw JSON events ([`Event::StreamAppend`]
//! and friends); binary replace-stream frames arrive decoded as
//! [`Event::StreamFrame`]. The client keeps no stream buffers of its own
//! yet. TLS (`wss://`) is not enabled.
#![doc(test(attr(deny(warnings))))]

mod client;
mod connection;
mod error;
mod event;
mod presence;
mod run;
mod shared;

pub use client::{Client, ClientBuilder};
pub use error::{ClientError, CommandFailure};
pub use event::{CommandReply, Event};
pub use lab_link_core::protocol::{
    decode_binary_frame, BinaryFrame, ClientInfo, ControlLock, PresenceEntry,
};
pub use presence::Presence;
pub use run::{CommandRun, CommandUpdate};
