//! Transport of lab-link.
//!
//! This crate will serve the endpoints of the wire protocol,
//! `{prefix}/state` and the `{prefix}/ws` sync socket, over hyper and
//! tokio-tungstenite, with one writer task and a bounded queue per client.
//! It knows nothing about field types: it moves the frames that
//! [`lab_link_core`] produces.
//!
//! Nothing is served yet: the transport lands with the server issue.
