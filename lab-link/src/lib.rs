//! lab-link: one authoritative, typed state; read-only replicas kept
//! current by versioned JSON Patch messages.
pub use lab_link_core as core;
