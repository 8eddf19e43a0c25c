//! Test helpers for lab-link instrument servers.
//!
//! Integration tests of an instrument server want the real thing: the
//! server on a socket, a client with a replica, commands over the wire.
//! This crate sets that up in a few lines:
//!
//! - [`TestServer::start`] serves a [`LabSync`](lab_link_core::LabSync) on
//!   `127.0.0.1` with an ephemeral port, and shuts it down when dropped;
//! - [`TestServer::client`] connects a [`TestClient`]: a
//!   [`lab_link_client::Client`] with test helpers that wait with a
//!   timeout and fail with a readable message ([`TestClient::next_patch`],
//!   [`TestClient::wait_for`], [`TestClient::command`],
//!   [`TestClient::expect_error`]);
//! - [`assert_consistent`] checks that a client's replica equals the
//!   server's document and that the client never had to resynchronise;
//!   [`assert_oracle`] checks the server's mirror against the typed state;
//! - [`float32_samples`] and [`float64_samples`] give the samples where a
//!   float formatting mistake shows (zeros of both signs, subnormals,
//!   every exponent), and [`assert_snapshot_matches_frame`] checks that a
//!   float stream's `stream_snapshot` reads back as its binary frame;
//! - [`NatsServer::start`] runs a real `nats-server` with JetStream on
//!   `127.0.0.1` and a temporary store, for tests of `lab-link-nats`, and
//!   kills it when dropped.
//!
//! Failures panic (they are assertions) with the JSON Patch from one
//! document to the other, one operation a line, and both versions.
//!
//! # Example
//!
//! ```
//! use lab_link::{command, CommandError, LabSync, Reactive};
//! use lab_link_testkit::{assert_consistent, assert_oracle, TestServer};
//! use serde::Serialize;
//! use serde_json::json;
//!
//! #[derive(Reactive, Serialize, Default)]
//! struct Supply {
//!     #[reactive(range = 0.0..=30.0)]
//!     setpoint: f64,
//! }
//!
//! /// Set the output voltage.
//! #[command]
//! fn set_setpoint(sync: LabSync<Supply>, value: f64) -> Result<(), CommandError> {
//!     sync.try_mutate(|s| s.set_setpoint(value))?;
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let sync = LabSync::new(Supply::default());
//! sync.command(set_setpoint);
//! let server = TestServer::start(sync).await;
//! let client = server.client().await;
//!
//! client.command("set_setpoint", json!({"value": 12.0})).await;
//! assert_eq!(client.replica()["setpoint"], json!(12.0));
//!
//! let failure = client.expect_error("set_setpoint", json!({"value": 99.0}), "invalid_value").await;
//! assert_eq!(failure.path.as_deref(), Some("/setpoint"));
//!
//! assert_consistent(&client, &server).await;
//! assert_oracle(server.sync());
//! server.shutdown().await;
//! # }
//! ```
#![doc(test(attr(deny(warnings))))]

mod assert;
mod client;
mod nats;
mod samples;
mod server;

pub use assert::{assert_consistent, assert_oracle, describe_difference};
pub use client::{Patch, TestClient, DEFAULT_TIMEOUT};
pub use nats::NatsServer;
pub use samples::{
    assert_same_samples, assert_snapshot_matches_frame, float32_samples, float64_samples,
};
pub use server::TestServer;

/// The client's types, re-exported for tests: [`CommandFailure`] is what
/// [`TestClient::expect_error`] returns.
pub use lab_link_client::{
    Client, ClientError, CommandFailure, CommandReply, ControlLock, Event, Presence,
};
