//! Integration tests of the transport over real sockets: a `LabSync`
//! served on an ephemeral port of 127.0.0.1, tungstenite clients whose
//! replicas apply every message and check that versions are gap-free, raw
//! sockets for what a well-behaved client never does, and raw HTTP/1.1.
//!
//! Every await on the network is bounded by a timeout and every loop by a
//! count, so a bug fails a test instead of hanging it. Nothing asserts on
//! elapsed time except the idle timeout, whose whole point is time.

mod client;
mod connections;
mod level2;
mod ordering;
mod slow;
