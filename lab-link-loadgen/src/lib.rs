//! A load generator for any server that implements the demo contract
//! (`DEMO.md`): the Rust `lab-link-demo` and the Python reference alike.
//!
//! It speaks the wire protocol (`PROTOCOL.md`, level 1 only) over raw
//! tokio-tungstenite sockets and runs the scenarios of [`scenario`]:
//! fan-out, command round trip, connect storm, slow consumer and stream
//! throughput. Each scenario measures the server from outside (its CPU time
//! and memory come from `/proc/PID`, see [`procfs`]) and checks that the
//! answers were right: every client's patch versions are gap-free and a
//! sample of clients applies every patch to a replica that must equal
//! `GET {prefix}/state` at the end. A fast wrong answer is a failure
//! ([`report::ScenarioResult::ok`]).
//!
//! # Keeping the load generator cheap
//!
//! On a two-core machine the load generator competes with the server, so
//! most clients never parse a message: [`scan`] finds the `type`, `version`
//! and `requestId` of a text frame by a byte search. A few sampled clients
//! per scenario parse every frame, apply every patch ([`client::Replica`])
//! and cross-check the scan against the parse.
//!
//! # Layout
//!
//! - [`scan`]: cheap field scans of frames, version and seq gap checks.
//! - [`stats`]: latency samples and percentiles.
//! - [`procfs`]: `/proc/PID/stat` and `status` parsing, `RLIMIT_NOFILE`.
//! - [`client`]: the target URL, connecting, `GET /state`, replicas.
//! - [`scenario`]: the scenarios and their sizes.
//! - [`report`]: results as JSON, tables, the comparison with a reference.
//!
//! Linux only: the server's CPU time and memory come from `/proc`.

pub mod client;
pub mod procfs;
pub mod report;
pub mod scan;
pub mod scenario;
pub mod stats;

/// Why a scenario could not run (as opposed to running and finding the
/// server wrong, which is a [`report::ScenarioResult`] with `ok: false`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The target URL is not `http://HOST:PORT/PREFIX`.
    #[error("bad target url {0:?}: expected http://HOST:PORT/PREFIX")]
    BadUrl(String),
    /// A socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The WebSocket handshake or a frame failed.
    #[error("{context}: {source}")]
    WebSocket {
        /// What was being done.
        context: String,
        /// The WebSocket error.
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    /// The server answered something the protocol does not allow.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The server did not answer in time.
    #[error("timed out: {0}")]
    Timeout(String),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
