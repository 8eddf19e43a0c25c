//! The assertions: a replica agrees with its server
//! ([`assert_consistent`]), the server's mirror agrees with its typed state
//! ([`assert_oracle`]).

use std::fmt::Write as _;

use lab_link_core::{diff, LabSync, PatchOp, Reactive};
use serde_json::Value;
use tokio::time::Instant;

use crate::{TestClient, TestServer};

/// Asserts that `client`'s replica equals `server`'s document and that the
/// client never had to resynchronise ([`TestClient::resyncs`] is zero:
/// every patch carried the next version and applied cleanly).
///
/// Patches may still be on their way (another client's command, a change
/// on the server side), so it first waits, up to the client's timeout, for
/// the replica to reach the server's version, then compares the documents.
/// Call it when the server is quiet: a server that keeps changing may
/// outrun the check.
///
/// ```
/// use lab_link::LabSync;
/// use lab_link_testkit::{assert_consistent, TestServer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::start(LabSync::new(vec![1_i64, 2])).await;
/// let (a, b) = (server.client().await, server.client().await);
/// server.sync().try_mutate(|s| s.push(3)).unwrap();
/// assert_consistent(&a, &server).await;
/// assert_consistent(&b, &server).await;
/// # }
/// ```
///
/// # Panics
///
/// When the replica does not reach the server's version in time, when the
/// documents differ (the message lists the JSON Patch from the replica to
/// the server's document, one operation a line, and both versions), or
/// when the client resynchronised.
pub async fn assert_consistent<S: Reactive + Send + 'static>(
    client: &TestClient,
    server: &TestServer<S>,
) {
    let deadline = Instant::now() + client.timeout();
    let mut events = client.client().subscribe();
    loop {
        let target = server.sync().version();
        if client.version() >= target || Instant::now() >= deadline {
            break;
        }
        // Any event may be the one; a timeout ends the wait either way.
        let _ = tokio::time::timeout_at(deadline, events.recv()).await;
    }
    let snapshot = server.sync().snapshot();
    let server_doc: Value =
        serde_json::from_str(snapshot.document_json()).expect("the server's snapshot is JSON");
    let (replica, version) = (client.replica(), client.version());
    if replica != server_doc || version != snapshot.version() {
        panic!(
            "assert_consistent: the client's replica differs from the server's document\n{}",
            describe_difference(
                ("replica", version, &replica),
                ("server", snapshot.version(), &server_doc),
            )
        );
    }
    let resyncs = client.resyncs();
    assert!(
        resyncs == 0,
        "assert_consistent: the replica matches, but the client resynchronised {resyncs} \
         time(s): a version gap, a repeat or a patch that did not apply"
    );
}

/// Asserts the oracle: the server's mirror document (what clients are sent)
/// equals the typed state serialised with serde
/// ([`LabSync::verify_mirror`]).
///
/// ```
/// use lab_link::LabSync;
/// use lab_link_testkit::assert_oracle;
///
/// let sync = LabSync::new(vec![0.5_f64]);
/// sync.try_mutate(|s| s.set(0, 1.5)).unwrap();
/// assert_oracle(&sync);
/// ```
///
/// # Panics
///
/// When they differ; the message lists the JSON Patch from the mirror to
/// the state's JSON form, one operation a line, and the version.
pub fn assert_oracle<S: Reactive + Send + 'static>(sync: &LabSync<S>) {
    if let Err(ops) = sync.verify_mirror() {
        let mut message = format!(
            "assert_oracle: the mirror at version {} differs from the typed state\n",
            sync.version()
        );
        if ops.is_empty() {
            message.push_str("  (the state does not serialise to JSON)\n");
        } else {
            message.push_str("  patch from the mirror to the state:\n");
            push_ops(&mut message, &ops);
        }
        panic!("{message}");
    }
}

/// A readable account of how two versioned documents differ: both
/// versions, then the JSON Patch from the first to the second
/// ([`lab_link_core::diff`]), one operation a line. What the assertions
/// print; handy for assertions of your own.
///
/// ```
/// use serde_json::json;
///
/// let text = lab_link_testkit::describe_difference(
///     ("replica", 3, &json!({"on": false, "v": 1.0})),
///     ("server", 4, &json!({"on": true, "v": 1.0})),
/// );
/// assert_eq!(
///     text,
///     "  replica: version 3\n  server: version 4\n  patch from replica to server:\n    \
///      {\"op\":\"replace\",\"path\":\"/on\",\"value\":true}\n"
/// );
/// ```
pub fn describe_difference(from: (&str, u64, &Value), to: (&str, u64, &Value)) -> String {
    let (from_name, from_version, from_doc) = from;
    let (to_name, to_version, to_doc) = to;
    let mut text = String::new();
    let _ = writeln!(text, "  {from_name}: version {from_version}");
    let _ = writeln!(text, "  {to_name}: version {to_version}");
    let ops = diff(from_doc, to_doc);
    if ops.is_empty() {
        text.push_str("  the documents are equal\n");
    } else {
        let _ = writeln!(text, "  patch from {from_name} to {to_name}:");
        push_ops(&mut text, &ops);
    }
    text
}

fn push_ops(text: &mut String, ops: &[PatchOp]) {
    for op in ops {
        let line = serde_json::to_string(op).unwrap_or_else(|_| format!("{op:?}"));
        let _ = writeln!(text, "    {line}");
    }
}
