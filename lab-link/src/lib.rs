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
//! # What exists now
//!
//! - [`engine`]: the sans-IO engine (`lab-link-core`): JSON Pointers, atomic
//!   JSON Patch application, [`diff`](engine::diff), and the versioned
//!   [`Store`](engine::Store) with its patch log and snapshots.
//!
//! The reactive state (`#[derive(Reactive)]`, `LabSync`), the server,
//! commands, streams and the testkit land with later issues, and will be
//! re-exported here.
//!
//! # Example
//!
//! The store commits the difference between the document it mirrors and
//! the next state, one version per patch:
//!
//! ```
//! use lab_link::engine::{diff, PatchMeta, Store};
//! use serde_json::json;
//!
//! let mut store = Store::new(json!({"enabled": false, "channels": []}));
//! let next = json!({"enabled": true, "channels": [{"bias_voltage": 1.25}]});
//! store.commit(diff(store.document(), &next), &PatchMeta::default())?;
//! assert_eq!(store.version(), 1);
//! assert_eq!(store.document(), &next);
//! # Ok::<(), lab_link::engine::PatchError>(())
//! ```
#![doc(test(attr(deny(warnings))))]

/// The sans-IO engine: JSON Pointer, JSON Patch apply and diff, the versioned
/// store (`lab-link-core`).
pub use lab_link_core as engine;

pub use lab_link_core::reactive::{self, MutationError, MutationErrorKind, Reactive};
pub use lab_link_core::{Batch, LabSync, LoadError, StateRef, Subscription};
/// Derives [`Reactive`](trait@Reactive) for a struct: a setter per field, a
/// tracked getter per `Reactive` field, paths that follow serde's renames.
pub use lab_link_derive::Reactive;

/// Support for generated code. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use lab_link_core::reactive::derive_support::*;
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

    #[doc = include_str!("../../docs/src/state.md")]
    struct State;

    #[doc = include_str!("../../docs/src/json-patch.md")]
    struct JsonPatch;
}
