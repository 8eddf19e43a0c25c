//! The sans-IO engine of lab-link.
//!
//! lab-link keeps one authoritative JSON document in the process that owns
//! the hardware and ships every change to read-only replicas as an
//! RFC 6902 JSON Patch with a version number. This crate is the engine
//! under that, without any I/O: it never opens a socket or spawns a task.
//!
//! - [`JsonPointer`] (RFC 6901): parse, escape, build and resolve the paths
//!   every operation is addressed by.
//! - [`PatchOp`], [`apply`] and [`apply_owned`] (RFC 6902): all six
//!   operations, applied atomically; a failure names the operation's index,
//!   its path and the reason, and leaves the document byte-identical.
//! - [`diff`]: the patch between two documents.
//! - [`Store`]: the mirror document, a version that grows by one per
//!   committed patch, the serialised patch message (made once, shared by
//!   every client), a bounded [`PatchLog`] for resuming clients, and a
//!   snapshot serialised once per version.
//!
//! # Example
//!
//! ```
//! use lab_link_core::{diff, PatchMeta, Since, Store};
//! use serde_json::json;
//!
//! let mut store = Store::new(json!({"enabled": false, "channels": []}));
//!
//! // The next state, as the application sees it.
//! let next = json!({"enabled": true, "channels": [{"bias_voltage": 1.25}]});
//! let committed = store
//!     .commit(diff(store.document(), &next), &PatchMeta::default())?
//!     .expect("the documents differ");
//! assert_eq!(committed.version(), 1);
//! assert_eq!(store.document(), &next);
//!
//! // A replica at version 0 catches up from the log.
//! let Since::Patches(missed) = store.since(0) else { unreachable!() };
//! assert_eq!(missed.len(), 1);
//! # Ok::<(), lab_link_core::PatchError>(())
//! ```
//!
//! # Document key order
//!
//! The crate enables `serde_json`'s `preserve_order`, so a document keeps
//! the field order of the Rust struct it was serialised from (as the Python
//! reference keeps its model's field order), and removing a member keeps
//! the order of the others. Because Cargo unifies features, this also turns
//! `preserve_order` on for every other user of `serde_json` in the same
//! build.
#![doc(test(attr(deny(warnings))))]

pub mod command;
mod diff;
mod epoch;
pub mod patch;
mod patch_log;
pub mod pointer;
pub mod protocol;
pub mod reactive;
pub mod schema;
mod store;
pub mod stream;
mod sync;
mod updater;

pub use command::{Command, CommandContext, CommandError};
pub use diff::diff;
pub use epoch::{Epoch, EpochError, MAX_EPOCH_LEN};
pub use patch::{apply, apply_owned, PatchError, PatchErrorKind, PatchOp};
pub use patch_log::{PatchLog, Since};
pub use pointer::{JsonPointer, PointerSyntaxError, ResolveError, ResolveErrorKind};
pub use protocol::PatchMeta;
pub use reactive::{MutationError, MutationErrorKind, Reactive};
pub use store::{Committed, Snapshot, Store, StoreConfig};
pub use sync::{
    Batch, DynamicError, LabSync, LoadError, Replica, ReplicaError, Start, StateRef, Subscription,
    SyncSource, Transaction,
};
pub use updater::{TickFuture, TickResult, Updater};
