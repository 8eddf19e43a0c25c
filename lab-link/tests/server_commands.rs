//! Commands over real sockets: acks follow the command's patches and carry
//! the post-command version and result; errors are structured; a panicking
//! handler is `command_failed` and the server goes on; commands of one
//! connection that do not await answer in order; concurrent commands never
//! share a patch message; `GET /sync/schema` describes state and commands.

#[path = "support/raw.rs"]
mod raw;

use std::time::Duration;

use lab_link::{command, CommandError, LabSync, Reactive, Server};
use raw::{next, send, Socket};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Reactive, Serialize, schemars::JsonSchema, Clone, Debug, Default)]
struct State {
    /// Counts every `bump`.
    count: u64,
    log: Vec<String>,
}

/// Add `by` to the count, then note who did it.
#[command]
async fn bump(
    sync: LabSync<State>,
    ctx: lab_link::CommandContext,
    by: u64,
) -> Result<u64, CommandError> {
    let count = sync.try_mutate(|s| {
        let count = s.count + by;
        s.set_count(count)?;
        Ok(count)
    })?;
    tokio::task::yield_now().await;
    sync.try_mutate(|s| {
        s.log()
            .push(format!("{}:{count}", ctx.request_id().unwrap_or("-")))
    })?;
    Ok(count)
}

/// Add one to the count, without awaiting.
#[command]
fn bump_now(sync: LabSync<State>) -> Result<u64, CommandError> {
    Ok(sync.try_mutate(|s| {
        let count = s.count + 1;
        s.set_count(count)?;
        Ok::<_, lab_link::MutationError>(count)
    })?)
}

/// Always panics.
#[command]
fn explode() {
    panic!("the handler exploded");
}

/// Fails like hardware does.
#[command]
fn timeout() -> Result<(), CommandError> {
    Err(CommandError::new(
        "hardware_timeout",
        "The voltage source did not respond before the timeout.",
    )
    .detail("UDP timeout after 5.0 s"))
}

async fn start() -> (LabSync<State>, std::net::SocketAddr, lab_link::Routes) {
    let sync = LabSync::new(State::default()).with_state_schema();
    sync.command(bump)
        .command(bump_now)
        .command(explode)
        .command(timeout);
    let server = Server::builder()
        .bind(sync.clone(), "127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let routes = server.routes().clone();
    tokio::spawn(server.run());
    (sync, addr, routes)
}

async fn connect(addr: std::net::SocketAddr) -> (Socket, Value) {
    connect_to(&format!("ws://{addr}/sync/ws")).await
}

async fn connect_to(url: &str) -> (Socket, Value) {
    let (ws, snapshot) = raw::open(url).await;
    assert_eq!(snapshot["type"], "snapshot");
    (ws, snapshot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ack_follows_the_commands_patches() {
    let (_sync, addr, routes) = start().await;
    let (mut ws, snapshot) = connect(addr).await;
    let client_id = snapshot["clientId"].as_str().unwrap().to_owned();
    send(
        &mut ws,
        json!({"type": "command", "command": "bump", "params": {"by": 2}, "requestId": "r1"}),
    )
    .await;
    let first = next(&mut ws).await;
    let second = next(&mut ws).await;
    let ack = next(&mut ws).await;
    for (patch, version) in [(&first, 1), (&second, 2)] {
        assert_eq!(patch["type"], "patch");
        assert_eq!(patch["version"], version);
        assert_eq!(patch["originClientId"], client_id.as_str());
        assert_eq!(patch["requestId"], "r1");
        assert_eq!(patch["command"], "bump");
    }
    assert_eq!(
        first["patch"],
        json!([{"op": "replace", "path": "/count", "value": 2}])
    );
    assert_eq!(
        ack,
        json!({"type": "command_ack", "command": "bump", "requestId": "r1", "version": 2, "result": 2})
    );
    routes.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_structured_and_the_server_goes_on() {
    let (_sync, addr, routes) = start().await;
    let (mut ws, snapshot) = connect(addr).await;
    let client_id = snapshot["clientId"].as_str().unwrap().to_owned();

    send(
        &mut ws,
        json!({"type": "command", "command": "bump", "params": {"by": "x"}, "requestId": "p"}),
    )
    .await;
    let invalid = next(&mut ws).await;
    assert_eq!(invalid["code"], "invalid_params");
    assert_eq!(invalid["display"], "inline");
    assert_eq!(invalid["path"], "/by");
    assert!(
        invalid["message"].as_str().unwrap().contains("`by`"),
        "{invalid}"
    );

    send(
        &mut ws,
        json!({"type": "command", "command": "explode", "requestId": "e"}),
    )
    .await;
    let failed = next(&mut ws).await;
    assert_eq!(failed["code"], "command_failed");
    assert_eq!(failed["recoverable"], true);
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("the handler exploded"),
        "{failed}"
    );

    send(
        &mut ws,
        json!({"type": "command", "command": "timeout", "requestId": "t"}),
    )
    .await;
    let hardware = next(&mut ws).await;
    assert_eq!(
        hardware,
        json!({"type": "command_error", "command": "timeout", "requestId": "t",
               "code": "hardware_timeout", "message": "The voltage source did not respond before the timeout.",
               "detail": "UDP timeout after 5.0 s", "severity": "error", "display": "toast",
               "recoverable": true, "originClientId": client_id, "version": 0})
    );

    // No requestId: the command runs, and nothing is answered. The next
    // message is the patch of the following command.
    send(&mut ws, json!({"type": "command", "command": "explode"})).await;
    send(
        &mut ws,
        json!({"type": "command", "command": "bump", "params": {"by": 1}}),
    )
    .await;
    let patch = next(&mut ws).await;
    assert_eq!(patch["type"], "patch");
    assert_eq!(patch["version"], 1);
    assert!(patch.get("requestId").is_none());
    let patch = next(&mut ws).await;
    assert_eq!(patch["version"], 2, "the command's second write");

    // Still serving: a new client connects and gets the current state.
    let (_other, snapshot) = connect(addr).await;
    assert_eq!(snapshot["data"]["log"], json!(["-:1"]));
    routes.shutdown();
}

/// Params that are not an object are the command's `invalid_params`
/// error, echoing its `requestId` to a level-1 and a level-2 client alike,
/// in turn with the connection's other commands; the Rust client gets it
/// at once instead of waiting for its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_that_are_not_an_object_are_invalid_params_with_the_request_id() {
    let (sync, addr, routes) = start().await;
    for url in [
        format!("ws://{addr}/sync/ws"),
        format!("ws://{addr}/sync/ws?level=2"),
    ] {
        let (mut ws, snapshot) = connect_to(&url).await;
        if url.ends_with("level=2") {
            assert_eq!(next(&mut ws).await["type"], "running_commands");
        }
        let version = sync.version();
        // A command that does not await is answered before the next one
        // is: the rejected one is answered in turn.
        send(
            &mut ws,
            json!({"type": "command", "command": "bump_now", "requestId": "before"}),
        )
        .await;
        send(
            &mut ws,
            json!({"type": "command", "command": "bump", "params": [1], "requestId": 17}),
        )
        .await;
        assert_eq!(next(&mut ws).await["type"], "patch");
        assert_eq!(next(&mut ws).await["requestId"], "before");
        assert_eq!(
            next(&mut ws).await,
            json!({"type": "command_error", "command": "bump", "requestId": 17,
                   "code": "invalid_params",
                   "message": "invalid params: \"params\" must be an object of named parameters, not an array",
                   "severity": "error", "display": "inline", "recoverable": true,
                   "originClientId": snapshot["clientId"], "version": version + 1}),
            "{url}"
        );
    }

    let client = lab_link_testkit::TestClient::connect(&format!("ws://{addr}/sync/ws")).await;
    let started = std::time::Instant::now();
    for (params, kind) in [(json!("x"), "a string"), (json!(3), "a number")] {
        let failure = client.expect_error("bump", params, "invalid_params").await;
        assert!(failure.message.contains(kind), "{}", failure.message);
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered at once, not after the command timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(
        client.command("bump", json!({"by": 1})).await.result,
        Some(json!(3))
    );
    routes.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_never_share_a_patch_message() {
    const CLIENTS: usize = 4;
    const COMMANDS: usize = 25;
    let (sync, addr, routes) = start().await;
    let (mut watcher, _) = connect(addr).await;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) = connect(addr).await;
            for n in 0..COMMANDS {
                send(&mut ws, json!({"type": "command", "command": "bump", "params": {"by": 1}, "requestId": format!("c{client}-{n}")})).await;
            }
            // `bump` awaits, so the connection's next command starts
            // meanwhile: every command is acked once, in any order.
            let mut acked = std::collections::BTreeSet::new();
            while acked.len() < COMMANDS {
                let message = next(&mut ws).await;
                if message["type"] == "command_ack" {
                    let id = message["requestId"].as_str().unwrap().to_owned();
                    assert!(id.starts_with(&format!("c{client}-")), "{message}");
                    assert!(acked.insert(id), "acked twice: {message}");
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let total = (CLIENTS * COMMANDS) as u64;
    assert_eq!(sync.read().count, total);
    // Every patch the watcher saw belongs to exactly one command: a replace
    // of /count or an add to /log, tagged with that command's requestId.
    let mut versions = 0;
    while versions < 2 * total {
        let patch = next(&mut watcher).await;
        versions += 1;
        assert_eq!(patch["version"], versions);
        let request_id = patch["requestId"].as_str().expect("tagged").to_owned();
        let ops = patch["patch"].as_array().unwrap();
        assert_eq!(ops.len(), 1, "one command's write per message: {patch}");
        if ops[0]["path"] != "/count" {
            let entry = ops[0]["value"].as_str().unwrap();
            assert!(entry.starts_with(&format!("{request_id}:")), "{patch}");
        }
    }
    routes.shutdown();
}

/// `GET /sync/schema` with extra header lines: the response's head, in
/// lower case, and its body.
async fn get_schema(addr: std::net::SocketAddr, headers: &str) -> (String, String) {
    raw::get(addr, "/sync/schema", headers).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_hash_is_the_etag_and_changes_with_the_schema() {
    let (sync, addr, routes) = start().await;
    let (head, body) = get_schema(addr, "").await;
    let schema: Value = serde_json::from_str(&body).unwrap();
    let hash = schema["schemaHash"].as_str().unwrap().to_owned();
    assert!(head.contains(&format!("etag: \"{hash}\"")), "{head}");

    let (head, body) = get_schema(addr, &format!("If-None-Match: \"{hash}\"\r\n")).await;
    assert!(head.starts_with("http/1.1 304"), "{head}");
    assert_eq!(body, "");

    // A stream registered after the start is listed, under a new hash.
    let _counts = sync.append_stream("counts", 8).with_unit("1/s");
    let (head, body) = get_schema(addr, &format!("If-None-Match: \"{hash}\"\r\n")).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let schema: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        schema["streams"],
        json!([{"id": "counts", "mode": "append", "capacity": 8, "unit": "1/s"}])
    );
    assert_ne!(schema["schemaHash"], hash.as_str());
    routes.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_describes_state_and_commands() {
    let (_sync, addr, routes) = start().await;
    let (head, body) = get_schema(addr, "").await;
    let (head, body) = (head.as_str(), body.as_str());
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let schema: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        schema["state"]["properties"]["count"]["description"],
        "Counts every `bump`."
    );
    // (A `let bump` here would be a pattern: the command is a unit struct.)
    let info = &schema["commands"]["bump"];
    assert_eq!(
        info["description"],
        "Add `by` to the count, then note who did it."
    );
    assert_eq!(info["params"]["required"], json!(["by"]));
    assert_eq!(info["result"]["type"], "integer");
    assert!(schema["commands"]["explode"].is_object());
    routes.shutdown();
}
