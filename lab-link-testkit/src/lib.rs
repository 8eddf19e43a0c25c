//! Test helpers for lab-link instrument servers.
//!
//! This crate will give downstream integration tests a `TestServer` on an
//! ephemeral 127.0.0.1 port, a `TestClient` that keeps a replica, and
//! assertions that the replica and the server agree.
//!
//! Nothing is here yet: the testkit lands with the testkit issue, once the
//! server exists.
