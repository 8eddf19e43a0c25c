//! lab-link: one authoritative, typed state; read-only replicas kept
//! current by versioned JSON Patch messages.
//!
//! Lab control software has one process that owns the hardware and many
//! viewers: browser GUIs, scripts, a second laptop across the lab. lab-link
//! keeps the one authoritative copy of the state in the owning process; the
//! state serialises to one JSON document, every change goes out to the
//! viewers as an RFC 6902 JSON Patch with a version number, and viewers
//! change things only through named commands that the owner executes. It
//! speaks the wire protocol of the Python reference package `lab-link`
//! 0.5.0.
//!
//! This crate is the facade: the one dependency an application adds. It
//! re-exports the parts of lab-link under stable paths.
//!
//! # A tour
//!
//! - **State.** Your state is a struct tree deriving [`Reactive`](derive@Reactive)
//!   (with serde's `Serialize`). [`LabSync`] owns it.
//! - **Mutations.** [`LabSync::mutate`] hands a closure the *tracked view* of
//!   the state: setters and container methods that change the value and
//!   record the JSON Patch operations of the change. One `mutate` is one
//!   patch message, one version; [`LabSync::batch`] groups several.
//! - **Patches.** [`LabSync::subscribe`] delivers every committed patch
//!   message in version order, starting right after the snapshot it returns:
//!   what the transport fans out to replicas.
//! - **Commands.** Clients change the state only by calling commands:
//!   functions marked [`#[command]`](macro@command), registered with
//!   [`LabSync::command`]; see [Commands](#commands).
//! - **Engine.** [`engine`] is the sans-IO engine underneath: JSON Pointer,
//!   atomic JSON Patch apply, diff, the versioned store, and the wire
//!   protocol as typed messages ([`engine::protocol`]).
//! - **Serving.** [`serve`], [`Server`] and [`Routes`] put the state on the
//!   wire: `GET /sync/state` and the `/sync/ws` sync socket, pre-wired or
//!   mounted in your own hyper or axum app (the book's chapter "Serving");
//!   commands are answered over the socket with acks and structured errors
//!   (the chapter "Commands"), and the messages are listed in the chapter
//!   "Wire protocol".
//! - **Streams and background work.** Typed stream handles
//!   ([`LabSync::append_stream`] and friends), updaters
//!   ([`LabSync::updater`]) and opt-in SQLite persistence
//!   ([`ServerConfig::persist`]).
//! - **Client.** With the `client` feature, `lab_link::client` is a Rust client that
//!   keeps a checked replica.
//! - **Access control.** [`auth`]: the LAN passphrase model of lab-link
//!   0.5.0, off until [`ServerConfig::auth`] turns it on (the chapter
//!   "Access control").
//! - **Testing.** `lab-link-testkit` (a separate dev-dependency) serves the
//!   state on an ephemeral port for integration tests (the chapter
//!   "Testing your instrument server").
//!
//! # Example
//!
//! ```
//! use lab_link::{LabSync, MutationError, Reactive};
//! use serde::Serialize;
//!
//! #[derive(Reactive, Serialize, Default)]
//! struct Channel {
//!     #[reactive(range = -10.0..=10.0)]
//!     bias_voltage: f64,
//!     active: bool,
//! }
//!
//! #[derive(Reactive, Serialize, Default)]
//! struct AppState {
//!     enabled: bool,
//!     channels: Vec<Channel>,
//! }
//!
//! let sync = LabSync::new(AppState::default());
//! let (snapshot, patches) = sync.subscribe_channel();
//! sync.try_mutate(|s| {
//!     s.set_enabled(true)?;
//!     s.channels().push(Channel::default())?;
//!     s.channels().at(0)?.set_bias_voltage(1.25)?;
//!     Ok::<_, MutationError>(())
//! })?;
//!
//! let patch = patches.try_recv()?;
//! assert_eq!(patch.version(), snapshot.version() + 1);
//! assert_eq!(
//!     patch.message(),
//!     r#"{"type":"patch","patch":[{"op":"replace","path":"/enabled","value":true},{"op":"add","path":"/channels/0","value":{"bias_voltage":1.25,"active":false}}],"version":1}"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! (The write to the new channel's voltage folded into its `add`: repeated
//! writes inside one commit keep only the last value.)
//!
//! # Commands
//!
//! A command is a plain `fn` or `async fn` marked
//! [`#[command]`](macro@command). A parameter of type `LabSync<S>` receives
//! the state, one of type [`CommandContext`] the request (client, request
//! id, principal); every other parameter is a field of the JSON `params`
//! object the client sends, checked against a generated JSON Schema before
//! the function runs. The doc comment is the command's description; the
//! returned value is the ack's `result`, an `Err` a structured
//! [`CommandError`]. Every patch the command's mutations commit carries
//! the client's id, the request id and the command's name.
//!
//! ```
//! use lab_link::{command, CommandContext, CommandError, LabSync, Reactive};
//! use serde::Serialize;
//! use serde_json::json;
//!
//! #[derive(Reactive, Serialize, Default)]
//! struct AppState {
//!     voltages: Vec<f64>,
//! }
//!
//! /// Set one channel's voltage.
//! #[command]
//! async fn set_voltage(
//!     sync: LabSync<AppState>,
//!     channel: usize,
//!     value: f64,
//! ) -> Result<f64, CommandError> {
//!     // A channel out of range is a `MutationError`: `?` makes it an
//!     // `invalid_value` error for the client, at the offending path.
//!     sync.try_mutate(|s| s.voltages().set(channel, value))?;
//!     Ok(value)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sync = LabSync::new(AppState { voltages: vec![0.0; 2] });
//! sync.command(set_voltage);
//! let (_, patches) = sync.subscribe_channel();
//!
//! // What the transport does with a client's
//! // {"type": "command", "command": "set_voltage", "params": {...}, "requestId": "r7"},
//! // through `SyncSource`, its interface to the state:
//! use lab_link::server::SyncSource;
//! let ctx = CommandContext::new("client-1", Some("r7".into()), "set_voltage");
//! let params = json!({"channel": 1, "value": 1.25});
//! let serde_json::Value::Object(params) = params else { unreachable!() };
//! assert_eq!(sync.dispatch(ctx, params).await?, Some(json!(1.25)));
//! assert_eq!(patches.try_recv()?.meta().request_id.as_deref(), Some("r7"));
//!
//! // A mismatch with the schema never reaches the function.
//! let ctx = CommandContext::new("client-1", Some("r8".into()), "set_voltage");
//! let params = json!({"channel": 1});
//! let serde_json::Value::Object(params) = params else { unreachable!() };
//! let error = sync.dispatch(ctx, params).await.unwrap_err();
//! assert_eq!(error.code(), "invalid_params");
//! assert_eq!(error.path_str(), Some("/value"));
//!
//! // The function can still be called directly, in a unit test say.
//! assert_eq!(set_voltage(sync.clone(), 0, 0.5).await?, 0.5);
//! # Ok(())
//! # }
//! ```
//!
//! [`SyncSource::command_infos`](server::SyncSource::command_infos) (the
//! transport's interface to a `LabSync`, which applications do not need)
//! lists every registered command with the JSON Schemas of its params and
//! result; [`SyncSource::schema`](server::SyncSource::schema) is the whole
//! document `GET /sync/schema` serves, with the state's units, ranges and
//! labels (`#[reactive(unit = "V")]`), each command's `edits` binding and
//! the streams (book chapter "Schema").
//!
//! # Features
//!
//! All are off by default; everything else above is always there.
//!
//! | feature | what it adds |
//! |---|---|
//! | `client` | `lab_link::client`: the Rust client (`lab-link-client`), a checked replica over the sync socket |
//! | `nats` | `lab_link::nats`: publish the patch stream to NATS JetStream and follow it from elsewhere (`lab-link-nats`, book chapter "Scaling out") |
//! | `indexmap` | `IndexMap<String, V>` fields get the tracked map view |
//!
//! Param and result types of your own commands implement
//! `schemars::JsonSchema` of schemars 1, which this crate does not
//! re-export: add `schemars = "1"` to your dependencies.
#![doc(test(attr(deny(warnings))))]

/// The sans-IO engine: JSON Pointer, JSON Patch apply and diff, the versioned
/// store (`lab-link-core`).
pub use lab_link_core as engine;

pub use lab_link_core::reactive::{self, MutationError, MutationErrorKind, Reactive};
/// Streams: high-rate series beside the document (append, replace, int_delta).
pub use lab_link_core::stream::{self, AppendStream, IntDeltaStream, ReplaceStream};
pub use lab_link_core::{
    Batch, DynamicError, Epoch, EpochError, LabSync, LoadError, StateRef, Subscription, Transaction,
};

/// Commands: the handlers clients call by name, their errors and context.
pub use lab_link_core::command;
pub use lab_link_core::command::{CommandContext, CommandError};
/// Turns a `fn` or an `async fn` into a command that clients call by name:
/// `sync.command(name)` registers it.
pub use lab_link_derive::command;
/// Derives [`Reactive`](trait@Reactive) for a struct: a setter per field, a
/// tracked getter per `Reactive` field, paths that follow serde's renames.
pub use lab_link_derive::Reactive;

pub use lab_link_server::{serve, Background, BackgroundHandle, Routes, Server, ServerConfig};

/// Access control (`lab-link-auth`): the LAN passphrase model of lab-link
/// 0.5.0, turned on with [`ServerConfig::auth`].
///
/// What an application uses: [`Auth`](auth::Auth) built from an
/// [`AuthConfig`](auth::AuthConfig); the principals it resolves; the
/// invitations, tokens and events it mints and reports; and the request
/// and response values for gating an application's own routes
/// ([`Auth::http_authorized`](auth::Auth::http_authorized)). The
/// machinery behind them (the store, the rate limiter, the hasher, the
/// trust decision) stays in `lab-link-auth`.
pub mod auth {
    pub use lab_link_auth::{
        validate_passphrase, Auth, AuthConfig, AuthError, AuthPrincipal, AuthRequest, AuthResponse,
        Invite, InviteEvent, InviteStatus, NewToken, PrincipalKind, Watch, MIN_PASSPHRASE_CHARS,
    };
}

/// The transport (`lab-link-server`): the builder, the hyper service and
/// the WebSocket handler.
pub mod server {
    pub use lab_link_server::*;
}

/// The Rust client (`lab-link-client`): a replica kept current over the
/// sync socket, and commands. Needs the `client` feature.
#[cfg(feature = "client")]
pub mod client {
    pub use lab_link_client::*;
}

/// Scaling out over NATS JetStream (`lab-link-nats`): a primary's
/// [`Publisher`](nats::Publisher) and
/// [`CommandResponder`](nats::CommandResponder), a
/// [`Follower`](nats::Follower) that keeps a replica from the stream
/// elsewhere, and [`request_command`](nats::request_command) to run a
/// command on the primary. Needs the `nats` feature.
#[cfg(feature = "nats")]
pub mod nats {
    pub use lab_link_nats::{
        async_nats, request_command, CommandAnswer, CommandResponder, Error, FollowEvent, Follower,
        Instrument, Published, Publisher, PublisherConfig, ResetReason, COMMAND_QUEUE_GROUP,
        EPOCH_HEADER, SNAPSHOT_BUCKET, UNAVAILABLE,
    };
}

/// Support for generated code. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use lab_link_core::reactive::derive_support::*;

    /// Support for the code `#[command]` generates.
    pub use lab_link_core::command::support as command;
}

/// The README and the book's chapters, compiled and run by `cargo test` as
/// doctests, so their Rust examples cannot drift from the code: one item
/// per file, named after it. A tidy test in xtask checks that every chapter
/// is listed here.
#[cfg(doctest)]
mod documents {
    #[doc = include_str!("../../README.md")]
    struct Readme;

    #[doc = include_str!("../../docs/src/introduction.md")]
    struct Introduction;

    #[doc = include_str!("../../docs/src/getting-started.md")]
    struct GettingStarted;

    #[doc = include_str!("../../docs/src/state.md")]
    struct State;

    #[doc = include_str!("../../docs/src/json-patch.md")]
    struct JsonPatch;

    #[doc = include_str!("../../docs/src/serving.md")]
    struct Serving;

    #[doc = include_str!("../../docs/src/commands.md")]
    struct Commands;

    #[doc = include_str!("../../docs/src/streams.md")]
    struct Streams;

    #[doc = include_str!("../../docs/src/schema.md")]
    struct Schema;

    #[doc = include_str!("../../docs/src/background.md")]
    struct Background;

    #[doc = include_str!("../../docs/src/history.md")]
    struct History;

    #[doc = include_str!("../../docs/src/access-control.md")]
    struct AccessControl;

    #[doc = include_str!("../../docs/src/presence.md")]
    struct Presence;

    #[doc = include_str!("../../docs/src/testing.md")]
    struct Testing;

    #[doc = include_str!("../../docs/src/scripting.md")]
    struct Scripting;

    #[doc = include_str!("../../docs/src/browser-clients.md")]
    struct BrowserClients;

    #[doc = include_str!("../../docs/src/panel.md")]
    struct Panel;

    #[doc = include_str!("../../docs/src/protocol.md")]
    struct Protocol;

    #[doc = include_str!("../../docs/src/scaling-out.md")]
    struct ScalingOut;

    #[doc = include_str!("../../docs/src/performance.md")]
    struct Performance;
}
