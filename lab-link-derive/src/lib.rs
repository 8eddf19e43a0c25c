//! Procedural macros of lab-link.
//!
//! This crate will hold `#[derive(Reactive)]`, which generates tracked
//! accessors that record every mutation of a typed state as JSON Patch
//! operations, and `#[command]`, which turns a plain function into a command
//! handler with a generated parameter struct and JSON Schema.
//!
//! Neither macro exists yet: they land with the reactive-state and the
//! commands issues. Use the crate through the `lab-link` facade, never
//! directly.
