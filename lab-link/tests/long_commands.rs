//! Long-running commands over real sockets: level-2 opt-in (`?level=2`,
//! `hello`), `schemaHash` in level-2 snapshots only, a command that awaits
//! not delaying the next one, progress, cancel, timeouts, exclusive
//! groups, disconnect-cancels and the running-commands list; a level-1
//! client sees none of the new messages.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

#[path = "support/raw.rs"]
mod raw;

use lab_link::command::Progress;
use lab_link::{command, CommandContext, CommandError, LabSync, Reactive, Server};
use raw::{next, send, Socket};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Reactive, Serialize, schemars::JsonSchema, Clone, Debug, Default)]
struct State {
    value: f64,
    log: Vec<String>,
}

/// Steps the value to 1, 2, … `steps`, one step per `step_ms`, reporting
/// progress; stops when cancelled.
#[command(exclusive = "stage")]
async fn ramp(
    sync: LabSync<State>,
    ctx: CommandContext,
    steps: u32,
    step_ms: u64,
) -> Result<u32, CommandError> {
    for step in 1..=steps {
        tokio::select! {
            _ = ctx.cancelled() => return Ok(step - 1),
            () = tokio::time::sleep(Duration::from_millis(step_ms)) => {}
        }
        sync.try_mutate(|s| s.set_value(f64::from(step)))?;
        ctx.report(
            Progress::new(f64::from(step) / f64::from(steps))
                .with_message(format!("step {step}"))
                .with_current(f64::from(step))
                .with_target(f64::from(steps))
                .with_unit("V"),
        );
    }
    Ok(steps)
}

/// Waits `ms`, or until cancelled; notes which.
#[command]
async fn slow(sync: LabSync<State>, ctx: CommandContext, ms: u64) -> Result<(), CommandError> {
    let note = tokio::select! {
        _ = ctx.cancelled() => "slow cancelled",
        () = tokio::time::sleep(Duration::from_millis(ms)) => "slow done",
    };
    sync.try_mutate(|s| s.log().push(note.to_owned()))?;
    Ok(())
}

/// Notes its call at once.
#[command]
fn fast(sync: LabSync<State>) -> Result<(), CommandError> {
    sync.try_mutate(|s| s.log().push("fast".to_owned()))?;
    Ok(())
}

/// Stops when its timeout cancels it.
#[command(timeout = "100ms")]
async fn patient(sync: LabSync<State>, ctx: CommandContext) -> Result<(), CommandError> {
    ctx.cancelled().await;
    sync.try_mutate(|s| s.log().push("patient stopped".to_owned()))?;
    Ok(())
}

/// Ignores its timeout's cancellation and holds its group meanwhile.
#[command(timeout = "50ms", exclusive = "stubborn")]
async fn stubborn(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Sets the value once the stage is free, waiting for its turn.
#[command(exclusive = "stage", queue, timeout = "30s")]
fn queued_set(sync: LabSync<State>, value: f64) -> Result<(), CommandError> {
    sync.try_mutate(|s| {
        s.set_value(value)?;
        s.log().push(format!("queued_set {value}"))
    })?;
    Ok(())
}

/// Runs until cancelled; its client leaving cancels it.
#[command(cancel_on_disconnect)]
async fn watch(sync: LabSync<State>, ctx: CommandContext) -> Result<(), CommandError> {
    ctx.cancelled().await;
    sync.try_mutate(|s| s.log().push("watch cancelled".to_owned()))?;
    Ok(())
}

/// Reports progress as fast as it can, out of range and NaN included.
#[command]
async fn flood(ctx: CommandContext) {
    for i in 0..20_000_u32 {
        let fraction = match i % 4 {
            0 => f64::NAN,
            1 => -1.0,
            2 => 7.0,
            _ => f64::from(i) / 20_000.0,
        };
        ctx.progress(fraction, "flooding");
        if i % 100 == 0 {
            tokio::task::yield_now().await;
        }
    }
    ctx.progress(1.0, "done");
    tokio::task::yield_now().await;
}

struct Served {
    sync: LabSync<State>,
    addr: std::net::SocketAddr,
    routes: lab_link::Routes,
}

async fn start() -> Served {
    let sync = LabSync::new(State::default()).with_state_schema();
    sync.command(ramp)
        .command(slow)
        .command(fast)
        .command(patient)
        .command(stubborn)
        .command(watch)
        .command(flood)
        .command(queued_set);
    let server = Server::builder()
        .bind(sync.clone(), "127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let routes = server.routes().clone();
    tokio::spawn(server.run());
    Served { sync, addr, routes }
}

/// A socket opened with `query` (`""`, `"?level=2"`) and its first
/// message.
async fn connect(addr: std::net::SocketAddr, query: &str) -> (Socket, Value) {
    raw::open(&format!("ws://{addr}/sync/ws{query}")).await
}

async fn command(ws: &mut Socket, name: &str, params: Value, request_id: &str) {
    send(
        ws,
        json!({"type": "command", "command": name, "params": params, "requestId": request_id}),
    )
    .await;
}

/// Every message up to and including the answer (ack or error) to
/// `request_id`.
async fn until_answer(ws: &mut Socket, request_id: &str) -> Vec<Value> {
    let mut messages = Vec::new();
    for _ in 0..10_000 {
        let message = next(ws).await;
        let answered = matches!(
            message["type"].as_str(),
            Some("command_ack" | "command_error")
        ) && message["requestId"] == request_id;
        messages.push(message);
        if answered {
            return messages;
        }
    }
    panic!("no answer to {request_id}: {messages:?}")
}

/// The next message of type `kind`, skipping others.
async fn next_of(ws: &mut Socket, kind: &str) -> Value {
    for _ in 0..10_000 {
        let message = next(ws).await;
        if message["type"] == kind {
            return message;
        }
    }
    panic!("no {kind} message")
}

async fn schema_hash(addr: std::net::SocketAddr) -> String {
    let (_, body) = raw::get(addr, "/sync/schema", "").await;
    let schema: Value = serde_json::from_str(&body).unwrap();
    schema["schemaHash"].as_str().unwrap().to_owned()
}

fn types(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|message| message["type"].as_str().unwrap_or("?"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_level_two_snapshots_carry_the_schema_hash() {
    let served = start().await;
    let hash = schema_hash(served.addr).await;
    let (_level1, snapshot) = connect(served.addr, "").await;
    assert_eq!(snapshot["type"], "snapshot");
    assert!(snapshot.get("schemaHash").is_none(), "{snapshot}");
    for query in ["?level=2", "?since=5&level=2"] {
        let (mut ws, snapshot) = connect(served.addr, query).await;
        assert_eq!(snapshot["type"], "snapshot", "{query}");
        assert_eq!(snapshot["schemaHash"], hash.as_str(), "{query}");
        // Then the running commands: none.
        assert_eq!(
            next(&mut ws).await,
            json!({"type": "running_commands", "commands": []})
        );
    }
    // `?level=2&since=N` resumes as well.
    served.sync.try_mutate(|s| s.set_value(1.0)).unwrap();
    let (mut ws, resume) = connect(served.addr, "?level=2&since=0").await;
    assert_eq!(resume, json!({"type": "resume", "version": 0}));
    assert_eq!(next(&mut ws).await["version"], 1);
    assert_eq!(next(&mut ws).await["type"], "running_commands");
    served.routes.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hello_opts_in_and_a_bad_one_is_answered_with_the_connection_open() {
    let served = start().await;
    let hash = schema_hash(served.addr).await;

    let (mut ws, _) = connect(served.addr, "").await;
    send(&mut ws, json!({"type": "hello", "level": 3})).await;
    let error = next(&mut ws).await;
    assert_eq!(error["code"], "bad_message");
    assert_eq!(error["message"], "\"level\" of a hello must be 2, not 3");
    // Still level 1, and a hello now is too late.
    send(&mut ws, json!({"type": "hello", "level": 2})).await;
    let error = next(&mut ws).await;
    assert_eq!(error["code"], "bad_message");
    assert!(
        error["message"].as_str().unwrap().contains("first frame"),
        "{error}"
    );

    let (mut ws, _) = connect(served.addr, "").await;
    let long = "n".repeat(65);
    send(
        &mut ws,
        json!({"type": "hello", "level": 2, "client": {"kind": "script", "name": long}}),
    )
    .await;
    let error = next(&mut ws).await;
    assert_eq!(error["code"], "bad_message");
    assert!(error["message"].as_str().unwrap().contains("at most 64"));

    let (mut ws, _) = connect(served.addr, "").await;
    send(
        &mut ws,
        json!({"type": "hello", "level": 2, "client": {"kind": "script", "name": "bench\u{7} PC"}}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "running_commands", "commands": []})
    );
    // Its snapshots are level 2 from now on.
    send(&mut ws, json!({"type": "resync"})).await;
    let snapshot = next(&mut ws).await;
    assert_eq!(snapshot["schemaHash"], hash.as_str());
    // What it said of itself shows in the running list.
    command(&mut ws, "slow", json!({"ms": 5_000}), "s1").await;
    let started = next_of(&mut ws, "running_started").await;
    assert_eq!(
        started["client"],
        json!({"kind": "script", "name": "bench PC"})
    );
    assert_eq!(started["command"], "slow");
    assert_eq!(started["requestId"], "s1");
    served.routes.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_one_client_sees_no_new_message() {
    let served = start().await;
    let (mut level1, _) = connect(served.addr, "").await;
    let (mut level2, _) = connect(served.addr, "?level=2").await;
    assert_eq!(next(&mut level2).await["type"], "running_commands");
    command(
        &mut level1,
        "ramp",
        json!({"steps": 3, "step_ms": 30}),
        "r1",
    )
    .await;
    let messages = until_answer(&mut level1, "r1").await;
    assert_eq!(
        types(&messages),
        ["patch", "patch", "patch", "command_ack"],
        "{messages:?}"
    );
    assert_eq!(messages[3]["result"], 3);
    // The level-2 client saw it run.
    let mut seen = Vec::new();
    loop {
        let message = next(&mut level2).await;
        let done = message["type"] == "running_finished";
        seen.push(message);
        if done {
            break;
        }
    }
    let kinds = types(&seen);
    assert_eq!(kinds[0], "running_started", "{seen:?}");
    assert!(kinds.contains(&"running_progress"), "{seen:?}");
    assert!(!kinds.contains(&"command_progress"), "{seen:?}");
    assert_eq!(seen.last().unwrap()["outcome"], "ok");
    assert_eq!(seen.last().unwrap()["id"], seen[0]["id"]);
    served.routes.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_arrives_in_order_before_the_ack() {
    let served = start().await;
    let (mut ws, _) = connect(served.addr, "?level=2").await;
    command(&mut ws, "ramp", json!({"steps": 5, "step_ms": 80}), "r1").await;
    let messages = until_answer(&mut ws, "r1").await;
    let progress: Vec<&Value> = messages
        .iter()
        .filter(|message| message["type"] == "command_progress")
        .collect();
    assert!(progress.len() >= 3, "{messages:?}");
    let fractions: Vec<f64> = progress
        .iter()
        .map(|message| message["fraction"].as_f64().unwrap())
        .collect();
    assert!(fractions.windows(2).all(|w| w[0] < w[1]), "{fractions:?}");
    assert_eq!(fractions.last(), Some(&1.0));
    assert_eq!(
        *progress.last().unwrap(),
        &json!({"type": "command_progress", "requestId": "r1", "fraction": 1.0,
                "message": "step 5", "current": 5.0, "target": 5.0, "unit": "V"})
    );
    assert_eq!(messages.last().unwrap()["type"], "command_ack");
    assert_eq!(messages.last().unwrap()["result"], 5);
    served.routes.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_rate_limited_clamped_and_never_nan() {
    let served = start().await;
    let (mut ws, _) = connect(served.addr, "?level=2").await;
    command(&mut ws, "flood", json!({}), "f1").await;
    let messages = until_answer(&mut ws, "f1").await;
    let progress: Vec<&Value> = messages
        .iter()
        .filter(|message| message["type"] == "command_progress")
        .collect();
    assert!(!progress.is_empty());
    // 20 001 reports, a few messages: at most one per 50 ms of the run.
    assert!(progress.len() < 100, "{} progress messages", progress.len());
    for message in &progress {
        let fraction = message["fraction"].as_f64().expect("a number, never null");
        assert!((0.0..=1.0).contains(&fraction), "{message}");
    }
    assert_eq!(progress.last().unwrap()["fraction"], 1.0);
    assert_eq!(messages.last().unwrap()["type"], "command_ack");
    served.routes.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_command_does_not_delay_a_fast_one_from_the_same_client() {
    let served = start().await;
    let (mut ws, _) = connect(served.addr, "").await;
    command(&mut ws, "slow", json!({"ms": 60_000}), "s1").await;
    command(&mut ws, "fast", json!({}), "f1").await;
    let messages = until_answer(&mut ws, "f1").await;
    assert_eq!(types(&messages), ["patch", "command_ack"], "{messages:?}");
    assert_eq!(messages[0]["patch"][0]["value"], "fast");
    // Commands that do not await still answer in order.
    for i in 0..5 {
        command(&mut ws, "fast", json!({}), &format!("o{i}")).await;
    }
    for i in 0..5 {
        let messages = until_answer(&mut ws, &format!("o{i}")).await;
        assert_eq!(types(&messages), ["patch", "command_ack"]);
    }
    // The slow one is still running; cancelled, it answers `cancelled`.
    send(&mut ws, json!({"type": "cancel", "requestId": "s1"})).await;
    let messages = until_answer(&mut ws, "s1").await;
    assert_eq!(messages[0]["patch"][0]["value"], "slow cancelled");
    assert_eq!(messages.last().unwrap()["code"], "cancelled");
    served.routes.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_ramp_keeps_the_last_step_and_answers_cancelled() {
    let served = start().await;
    let (mut ws, _) = connect(served.addr, "?level=2").await;
    command(&mut ws, "ramp", json!({"steps": 100, "step_ms": 40}), "r1").await;
    let mut last_value = None;
    let mut progress = 0;
    while progress < 2 {
        let message = next(&mut ws).await;
        match message["type"].as_str() {
            Some("patch") => last_value = Some(message["patch"][0]["value"].clone()),
            Some("command_progress") => progress += 1,
            _ => {}
        }
    }
    send(&mut ws, json!({"type": "cancel", "requestId": "r1"})).await;
    let messages = until_answer(&mut ws, "r1").await;
    for message in &messages {
        if message["type"] == "patch" {
            last_value = Some(message["patch"][0]["value"].clone());
        }
    }
    let error = messages.last().unwrap();
    assert_eq!(error["type"], "command_error");
    assert_eq!(error["code"], "cancelled");
    assert_eq!(error["command"], "ramp");
    // The patches so far stay: the state holds the last stepped value.
    let value = served.sync.read().value;
    assert_eq!(Some(json!(value)), last_value);
    assert!((2.0..100.0).contains(&value), "{value}");

    // A finished or unknown request: an `error` naming it.
    for id in ["r1", "nope"] {
        send(&mut ws, json!({"type": "cancel", "requestId": id})).await;
        let error = next_of(&mut ws, "error").await;
        assert_eq!(error["code"], "unknown_request");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains(&format!("\"{id}\"")),
            "{error}"
        );
    }
    served.routes.shutdown();
}

/// The lines the server logs, from the first call on (one subscriber for
/// the test binary).
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        logs
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_cancels_and_answers_timeout() {
    let logs = logs();
    let served = start().await;
    let (mut ws, _) = connect(served.addr, "").await;
    command(&mut ws, "patient", json!({}), "p1").await;
    let messages = until_answer(&mut ws, "p1").await;
    assert_eq!(messages[0]["patch"][0]["value"], "patient stopped");
    let error = messages.last().unwrap();
    assert_eq!(error["code"], "timeout");
    assert_eq!(
        error["message"],
        "The command did not finish within its timeout of 100ms."
    );

    // A handler that ignores its timeout keeps its group until it ends,
    // and is reported in the log by name.
    let (mut other, _) = connect(served.addr, "").await;
    command(&mut ws, "stubborn", json!({"ms": 1_600}), "t1").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    command(&mut other, "stubborn", json!({"ms": 0}), "t2").await;
    let busy = until_answer(&mut other, "t2").await;
    assert_eq!(busy.last().unwrap()["code"], "busy");
    let answer = until_answer(&mut ws, "t1").await;
    assert_eq!(answer.last().unwrap()["code"], "timeout");
    let logged = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("command stubborn ignores cancellation"),
        "{logged}"
    );
    // Free again.
    command(&mut other, "stubborn", json!({"ms": 0}), "t3").await;
    assert_eq!(
        until_answer(&mut other, "t3").await.last().unwrap()["type"],
        "command_ack"
    );
    served.routes.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_command_of_an_exclusive_group_is_busy() {
    let served = start().await;
    let (mut first, snapshot) = connect(served.addr, "").await;
    let first_id = snapshot["clientId"].as_str().unwrap().to_owned();
    let (mut second, _) = connect(served.addr, "").await;
    command(
        &mut first,
        "ramp",
        json!({"steps": 100, "step_ms": 20}),
        "a1",
    )
    .await;
    next_of(&mut first, "patch").await;
    command(&mut second, "ramp", json!({"steps": 1, "step_ms": 1}), "b1").await;
    let messages = until_answer(&mut second, "b1").await;
    let busy = messages.last().unwrap();
    assert_eq!(busy["code"], "busy");
    assert_eq!(
        busy["message"],
        format!(
            "Busy: ramp (requestId a1, client {first_id}) is running in the exclusive group \"stage\"."
        )
    );
    // Nothing of the refused one ran.
    send(&mut first, json!({"type": "cancel", "requestId": "a1"})).await;
    assert_eq!(
        until_answer(&mut first, "a1").await.last().unwrap()["code"],
        "cancelled"
    );
    command(&mut second, "ramp", json!({"steps": 1, "step_ms": 1}), "b2").await;
    assert_eq!(
        until_answer(&mut second, "b2").await.last().unwrap()["type"],
        "command_ack"
    );
    served.routes.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_command_waits_its_turn_and_a_cancelled_one_never_runs() {
    let served = start().await;
    let (mut first, _) = connect(served.addr, "").await;
    let (mut second, snapshot) = connect(served.addr, "?level=2").await;
    let second_id = snapshot["clientId"].as_str().unwrap().to_owned();
    let (mut third, _) = connect(served.addr, "?level=2").await;
    command(
        &mut first,
        "ramp",
        json!({"steps": 1000, "step_ms": 20}),
        "a1",
    )
    .await;
    next_of(&mut first, "patch").await;

    // Each queued command is told what it waits behind, in order.
    command(&mut second, "queued_set", json!({"value": 500.0}), "b1").await;
    let waiting = next_of(&mut second, "command_progress").await;
    assert_eq!(waiting["requestId"], "b1");
    let message = waiting["message"].as_str().unwrap();
    assert!(
        message.starts_with("waiting for the exclusive group \"stage\": ramp (requestId a1"),
        "{message}"
    );
    command(&mut third, "queued_set", json!({"value": 600.0}), "c1").await;
    let waiting = next_of(&mut third, "command_progress").await;
    assert_eq!(
        waiting["message"],
        format!(
            "waiting for the exclusive group \"stage\": queued_set (requestId b1, client \
             {second_id}) is ahead"
        )
    );

    // A queued command cancelled never runs.
    send(&mut third, json!({"type": "cancel", "requestId": "c1"})).await;
    assert_eq!(
        until_answer(&mut third, "c1").await.last().unwrap()["code"],
        "cancelled"
    );
    // The ramp ends; the waiting one runs and is answered.
    send(&mut first, json!({"type": "cancel", "requestId": "a1"})).await;
    assert_eq!(
        until_answer(&mut first, "a1").await.last().unwrap()["code"],
        "cancelled"
    );
    let answered = until_answer(&mut second, "b1").await;
    assert_eq!(
        answered.last().unwrap()["type"],
        "command_ack",
        "{answered:?}"
    );
    let state = served.sync.read();
    assert_eq!(state.value, 500.0);
    let queued: Vec<&String> = state
        .log
        .iter()
        .filter(|line| line.starts_with("queued_set"))
        .collect();
    assert_eq!(queued, ["queued_set 500"], "the cancelled one never ran");
    drop(state);

    // The schema tells how each command runs.
    let (_, body) = raw::get(served.addr, "/sync/schema", "").await;
    let schema: Value = serde_json::from_str(&body).unwrap();
    let info = &schema["commands"]["queued_set"];
    assert_eq!(info["exclusive"], "stage");
    assert_eq!(info["queue"], true);
    assert_eq!(info["timeoutMs"], 30_000);
    assert_eq!(schema["commands"]["ramp"]["exclusive"], "stage");
    assert!(schema["commands"]["ramp"].get("queue").is_none());
    assert_eq!(schema["commands"]["watch"]["cancelOnDisconnect"], true);
    assert!(schema["commands"]["fast"].get("exclusive").is_none());
    served.routes.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_cancels_only_the_commands_that_opt_in() {
    let served = start().await;
    let (mut ws, _) = connect(served.addr, "?level=2").await;
    let (mut watcher, _) = connect(served.addr, "?level=2").await;
    next_of(&mut watcher, "running_commands").await;
    command(&mut ws, "watch", json!({}), "w1").await;
    command(&mut ws, "slow", json!({"ms": 300}), "s1").await;
    next_of(&mut watcher, "running_started").await;
    next_of(&mut watcher, "running_started").await;
    ws.close(None).await.unwrap();
    drop(ws);
    let mut outcomes = Vec::new();
    while outcomes.len() < 2 {
        let finished = next_of(&mut watcher, "running_finished").await;
        outcomes.push(finished["outcome"].as_str().unwrap().to_owned());
    }
    outcomes.sort();
    assert_eq!(outcomes, ["cancelled", "ok"]);
    let log = served.sync.read().log.clone();
    assert!(log.contains(&"watch cancelled".to_owned()), "{log:?}");
    assert!(log.contains(&"slow done".to_owned()), "{log:?}");
    served.routes.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_client_sees_what_runs_with_its_progress() {
    let served = start().await;
    let (mut ws, snapshot) = connect(served.addr, "?level=2").await;
    let client_id = snapshot["clientId"].clone();
    command(&mut ws, "ramp", json!({"steps": 200, "step_ms": 20}), "r1").await;
    next_of(&mut ws, "command_progress").await;
    let (mut late, snapshot) = connect(served.addr, "?level=2").await;
    assert_eq!(snapshot["type"], "snapshot");
    let list = next(&mut late).await;
    assert_eq!(list["type"], "running_commands");
    let commands = list["commands"].as_array().unwrap();
    assert_eq!(commands.len(), 1, "{list}");
    assert_eq!(commands[0]["command"], "ramp");
    assert_eq!(commands[0]["clientId"], client_id);
    assert_eq!(commands[0]["requestId"], "r1");
    assert!(commands[0]["startedAt"].as_u64().unwrap() > 0);
    assert!(commands[0]["progress"]["fraction"].as_f64().unwrap() > 0.0);
    let update = next_of(&mut late, "running_progress").await;
    assert_eq!(update["id"], commands[0]["id"]);
    // The list is off the versioned state: it bumps no version.
    let version = served.sync.version();
    send(&mut ws, json!({"type": "cancel", "requestId": "r1"})).await;
    let finished = next_of(&mut late, "running_finished").await;
    assert_eq!(finished["outcome"], "cancelled");
    assert!(served.sync.version() <= version + 1);
    served.routes.shutdown();
}
