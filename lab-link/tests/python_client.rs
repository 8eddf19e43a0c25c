//! Interop with the Python reference client: `lab_link.AsyncLabLinkClient`
//! of the PyPI package `lab-link` 0.5.0 keeps a replica of our server's
//! state, and that replica must equal `GET /sync/state` at the same
//! version; it sends commands and gets their patches before their acks,
//! and their errors with every field as the handler built them.
//!
//! Each test starts our server on 127.0.0.1:0, runs a script of
//! `tests/python` with the interpreter of the virtualenv that `cargo xtask
//! setup` creates at `target/py-venv`, and checks every replica the client
//! reports (one JSON line per snapshot and patch) against the document our
//! side had at that version. `client_interop.py` only follows the state,
//! which the test mutates meanwhile; `command_interop.py` sends the
//! commands it is given and reports patches, acks and errors in the order
//! they arrive. Without the venv the tests fail with a message saying to
//! run `cargo xtask setup`; they never skip.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lab_link::command::{DisplayHint, Severity};
use lab_link::engine::{apply, PatchMeta};
use lab_link::server::IntoSource;
use lab_link::{command, CommandError, LabSync, Reactive, Routes, Server, ServerConfig};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;

/// Every wait on the Python process is bounded by this (its own waits are
/// bounded by `--timeout`, a little shorter).
const TIMEOUT: Duration = Duration::from_secs(30);

/// Follows the state and reports the replica after every snapshot and
/// patch.
const REPLICA_SCRIPT: &str = "client_interop.py";

/// Sends the commands it is given and reports patches, acks and errors in
/// the order they arrive.
const COMMAND_SCRIPT: &str = "command_interop.py";

/// The state of the replay test: every tracked container, renamed fields,
/// and map keys that need JSON Pointer escapes.
#[derive(Reactive, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Instrument {
    enabled: bool,
    bias_voltage: f64,
    channels: Vec<Channel>,
    labels: BTreeMap<String, String>,
    limit: Option<Limit>,
}

#[derive(Reactive, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
struct Channel {
    name: String,
    value: f64,
    active: bool,
}

#[derive(Reactive, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Limit {
    max: i64,
}

fn channel(name: &str, value: f64) -> Channel {
    Channel {
        name: name.to_owned(),
        value,
        active: false,
    }
}

/// A described mutation.
type Step = (&'static str, fn(&LabSync<Instrument>));

/// One mutation per step, each one patch message; between them they use
/// every kind of operation the recorder emits.
const STEPS: &[Step] = &[
    ("replace a bool", |sync| {
        sync.try_mutate(|s| s.set_enabled(true)).unwrap();
    }),
    (
        "replace a float that needs the shortest round trip",
        |sync| {
            sync.try_mutate(|s| s.set_bias_voltage(0.1)).unwrap();
        },
    ),
    ("push onto an empty array", |sync| {
        sync.try_mutate(|s| s.channels().push(channel("ch0", 0.0)))
            .unwrap();
    }),
    ("several operations in one message", |sync| {
        sync.try_mutate(|s| {
            s.channels().push(channel("ch1", -2.5))?;
            s.channels().at(0)?.set_value(1.25)?;
            s.channels().at(0)?.set_active(true)
        })
        .unwrap();
    }),
    ("insert at the front", |sync| {
        sync.try_mutate(|s| s.channels().insert(0, channel("first µV", 3.0)))
            .unwrap();
    }),
    ("remove from the middle", |sync| {
        sync.try_mutate(|s| s.channels().remove(1).map(drop))
            .unwrap();
    }),
    ("swap two elements", |sync| {
        sync.try_mutate(|s| s.channels().swap(0, 1)).unwrap();
    }),
    ("add map keys with / and ~", |sync| {
        sync.try_mutate(|s| {
            s.labels().insert("a/b".into(), "slash".into())?;
            s.labels().insert("t~x".into(), "tilde".into())
        })
        .unwrap();
    }),
    ("replace an existing key", |sync| {
        sync.try_mutate(|s| s.labels().insert("a/b".into(), "again".into()))
            .unwrap();
    }),
    ("remove a key", |sync| {
        sync.try_mutate(|s| {
            s.labels().remove("t~x");
            Ok(())
        })
        .unwrap();
    }),
    ("set an option", |sync| {
        sync.try_mutate(|s| s.limit().set(Some(Limit { max: 5 })))
            .unwrap();
    }),
    ("write inside an option", |sync| {
        sync.try_mutate(|s| s.limit().at()?.set_max(7)).unwrap();
    }),
    ("take an option", |sync| {
        sync.try_mutate(|s| {
            s.limit().take();
            Ok(())
        })
        .unwrap();
    }),
    ("replace a whole array", |sync| {
        sync.try_mutate(|s| {
            s.channels().retain(|c| c.active);
            Ok(())
        })
        .unwrap();
    }),
    ("replace the whole document", |sync| {
        sync.load_state(json!({
            "enabled": false,
            "biasVoltage": -1.5,
            "channels": [{"name": "loaded", "value": 9.75, "active": true}],
            "labels": {"": "empty key"},
            "limit": {"max": -3},
        }))
        .unwrap();
    }),
    ("clear after the whole-document replace", |sync| {
        sync.try_mutate(|s| {
            s.channels().clear();
            s.labels().clear();
            Ok(())
        })
        .unwrap();
    }),
];

#[tokio::test]
async fn python_replica_follows_every_kind_of_patch() {
    let sync = LabSync::new(Instrument {
        enabled: false,
        bias_voltage: 0.0,
        channels: Vec::new(),
        labels: BTreeMap::new(),
        limit: None,
    });
    let server = TestServer::start(sync.clone(), ServerConfig::default()).await;
    let mut expected = BTreeMap::from([(0, document(&sync))]);
    let mut python = Python::spawn(
        REPLICA_SCRIPT,
        &server.ws_url(),
        &["--command", "no_such_command"],
    );

    let snapshot = python.expect("snapshot").await;
    assert_eq!(snapshot["version"], 0);
    assert_eq!(snapshot["replica"], expected[&0]);

    // No command is registered: the reference client raises the structured
    // error for the unknown command, with the fields it reads.
    let error = python.expect("command_error").await;
    assert_eq!(error["command"], "no_such_command");
    assert_eq!(error["code"], "unknown_command");
    assert_eq!(error["message"], "Unknown command: 'no_such_command'");
    assert_eq!(error["severity"], "error");
    assert_eq!(error["display"], "toast");
    assert_eq!(error["recoverable"], false);
    assert_eq!(error["version"], 0);
    assert!(error["requestId"].is_string(), "{error}");
    assert!(error["originClientId"].is_string(), "{error}");
    python.expect("ready").await;

    for (step, mutate) in STEPS {
        let before = sync.version();
        mutate(&sync);
        assert_eq!(sync.version(), before + 1, "{step}: one patch message");
        expected.insert(sync.version(), document(&sync));
    }
    let mut events = vec![snapshot];
    events.extend(python.finish(sync.version()).await);

    let patches = check_replicas(&events, |version| expected.get(&version).cloned());
    assert_eq!(
        patches,
        STEPS.len(),
        "one patch event per step: {events:#?}"
    );
    server.check_final(&sync, &events).await;
    server.stop().await;
}

/// The churn state: after mutation `v`, `counter` is `v` and `items` holds
/// the last (at most five) values of the counter, so every version's
/// document is known, and a patch applied twice (an `add` and a `remove`
/// per mutation) corrupts the replica visibly.
#[derive(Reactive, Serialize, Clone, Debug, Default)]
struct Churn {
    counter: u64,
    items: Vec<u64>,
}

fn churn_step(sync: &LabSync<Churn>) {
    sync.try_mutate(|s| {
        let next = s.counter + 1;
        s.set_counter(next)?;
        s.items().push(next)?;
        if s.items.len() > 5 {
            s.items().remove(0)?;
        }
        Ok(())
    })
    .unwrap();
}

fn churn_document(version: u64) -> Value {
    let items: Vec<u64> = (version.saturating_sub(4).max(1)..=version).collect();
    json!({"counter": version, "items": items})
}

/// A relay fed from NATS JetStream serves the reference client as the
/// primary would: its replica equals the primary's document at every
/// version (the relay serves the primary's versions) and `GET /sync/state`
/// of the relay at the end.
#[tokio::test]
async fn python_replica_follows_a_relay_fed_from_nats() {
    use lab_link_nats::{async_nats, Instrument, Publisher, PublisherConfig};

    let nats_server = lab_link_testkit::NatsServer::start();
    let nats = async_nats::connect(nats_server.url()).await.unwrap();
    let instrument = Instrument::new("churn").unwrap();
    let primary = LabSync::new(Churn::default());
    let config = PublisherConfig::new(instrument.clone());
    let _publisher = Publisher::start(nats.clone(), Arc::new(primary.clone()), config)
        .await
        .unwrap();
    let relay = lab_link_relay::Relay::start(nats, &instrument)
        .await
        .unwrap();
    let server = TestServer::start(relay.source(), ServerConfig::default()).await;
    let mut python = Python::spawn(REPLICA_SCRIPT, &server.ws_url(), &[]);
    let snapshot = python.expect("snapshot").await;
    assert_eq!(snapshot["version"], 0);
    python.expect("ready").await;

    for _ in 0..30 {
        churn_step(&primary);
    }
    let mut events = vec![snapshot];
    events.extend(python.finish(primary.version()).await);
    let patches = check_replicas(&events, |version| Some(churn_document(version)));
    assert_eq!(patches, 30, "one patch event per version: {events:#?}");
    server.check_final(&primary, &events).await;
    server.stop().await;
}

/// The join race of the reference server (PROTOCOL.md, ordering guarantee
/// 1): a client that connects while patches are being produced must get
/// its snapshot and then exactly the patches after it, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_joining_during_churn_gets_every_patch_once() {
    let sync = LabSync::new(Churn::default());
    let server = TestServer::start(sync.clone(), ServerConfig::default()).await;
    let stop = Arc::new(AtomicBool::new(false));
    let churn = tokio::spawn({
        let (sync, stop) = (sync.clone(), stop.clone());
        async move {
            // Bounded: about 10 s at most, far more than the client needs
            // to connect.
            for _ in 0..10_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                churn_step(&sync);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });

    let mut python = Python::spawn(REPLICA_SCRIPT, &server.ws_url(), &[]);
    let snapshot = python.expect("snapshot").await;
    let joined_at = snapshot["version"].as_u64().unwrap();
    // Let the churn go on for a while after the join, then stop it.
    tokio::time::timeout(TIMEOUT, async {
        while sync.version() < joined_at + 200 && !churn.is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the churn stalled");
    stop.store(true, Ordering::Relaxed);
    churn.await.unwrap();
    assert!(
        joined_at > 0 && joined_at < sync.version(),
        "the client must join during the churn: joined at {joined_at}, ended at {}",
        sync.version()
    );

    let events = python.finish(sync.version()).await;
    let mut all = vec![snapshot];
    all.extend(events);
    check_replicas(&all, |version| Some(churn_document(version)));
    server.check_final(&sync, &all).await;
    server.stop().await;
}

/// A client that falls behind its queue is resynchronised with a fresh
/// snapshot (level 2); the 0.5.0 client treats it as a full reset. With a
/// current-thread runtime the burst below runs before the writer can send
/// anything, so the queue of two overflows for certain.
#[tokio::test(flavor = "current_thread")]
async fn lagging_python_client_is_resynchronised_with_a_snapshot() {
    let sync = LabSync::new(Churn::default());
    let server = TestServer::start(sync.clone(), ServerConfig::default().queue_depth(2)).await;
    let mut python = Python::spawn(REPLICA_SCRIPT, &server.ws_url(), &[]);
    let snapshot = python.expect("snapshot").await;
    assert_eq!(snapshot["version"], 0);
    python.expect("ready").await;

    for _ in 0..1_000 {
        churn_step(&sync);
    }
    let events = python.finish(sync.version()).await;
    let mut all = vec![snapshot];
    all.extend(events);
    check_replicas(&all, |version| Some(churn_document(version)));
    let resyncs = all[1..]
        .iter()
        .filter(|event| event["event"] == "snapshot")
        .count();
    assert!(resyncs >= 1, "no resync snapshot: {all:#?}");
    server.check_final(&sync, &all).await;
    server.stop().await;
}

/// The state of the command test. `ticks` is written by the test itself,
/// not by a command, while the client's commands run: patches of no
/// command come between theirs.
#[derive(Reactive, Serialize, Clone, Debug)]
struct Rig {
    channels: Vec<Channel>,
    applied: u64,
    ticks: u64,
}

/// Set a channel's value, rounded to millivolts, and switch it on; then,
/// after an await, name it and count the change: two patch messages.
#[command]
async fn configure(
    sync: LabSync<Rig>,
    channel: usize,
    value: f64,
    name: String,
) -> Result<Value, CommandError> {
    let rounded = (value * 1000.0).round() / 1000.0;
    sync.try_mutate(|s| {
        s.channels().at(channel)?.set_value(rounded)?;
        s.channels().at(channel)?.set_active(true)
    })?;
    tokio::time::sleep(Duration::from_millis(2)).await;
    let applied = sync.try_mutate(|s| {
        s.channels().at(channel)?.set_name(name)?;
        let applied = s.applied + 1;
        s.set_applied(applied)?;
        Ok(applied)
    })?;
    Ok(json!({"channel": channel, "value": rounded, "applied": applied}))
}

/// Calibrate a channel: one that does not exist is refused, and the
/// instrument never answers.
#[command]
fn calibrate(sync: LabSync<Rig>, channel: usize) -> Result<(), CommandError> {
    let count = sync.read().channels.len();
    if channel >= count {
        return Err(CommandError::new("out_of_range", "No such channel.")
            .detail(format!("channel {channel} asked, the rig has {count}"))
            .severity(Severity::Warning)
            .display(DisplayHint::Inline)
            .path(format!("/channels/{channel}"))
            .recoverable(false));
    }
    Err(CommandError::new(
        "hardware_timeout",
        "The voltage source did not respond before the timeout.",
    )
    .detail("UDP timeout after 5.0 s")
    .display(DisplayHint::Banner)
    .path(format!("/channels/{channel}")))
}

/// The value the `k`-th of the commands sent at once sets.
fn together_value(k: u8) -> f64 {
    -0.33333 * f64::from(k + 1)
}

/// One command of the plan the script runs.
fn command_of(request_id: &str, name: &str, params: Value) -> Value {
    json!({"command": name, "params": params, "requestId": request_id})
}

/// The reference client sends commands over our server: the patches of
/// each command reach it before the command's ack (PROTOCOL.md, ordering
/// guarantee 2), tagged with the command's `requestId`, also while patches
/// of no command come in between; errors arrive with every field as the
/// handler built them; params that do not fit are `invalid_params`; and the
/// replica ends equal to `GET /sync/state`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_commands_get_their_patches_before_their_acks() {
    let sync = LabSync::new(Rig {
        channels: (0..4).map(|i| channel(&format!("ch{i}"), 0.0)).collect(),
        applied: 0,
        ticks: 0,
    });
    sync.command(configure).command(calibrate);
    // Every commit, to know the document and the metadata of each version.
    let (start, commits) = sync.subscribe_channel();
    // Presence and the control lock on: the level-1 client must see none
    // of their messages while a level-2 client makes them.
    let config = ServerConfig::default().presence(true).control_lock(true);
    let server = TestServer::start(sync.clone(), config).await;
    let observer = lab_link_client::Client::builder()
        .level2(true)
        .connect(&server.ws_url())
        .await
        .expect("the observer connects");
    observer.claim_control().await.expect("a free lock");
    observer.release_control().await.expect("its own lock");

    let stop = Arc::new(AtomicBool::new(false));
    let ticker = tokio::spawn({
        let (sync, stop) = (sync.clone(), stop.clone());
        async move {
            // Bounded: about 10 s at most.
            for tick in 1..=5_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                sync.try_mutate(|s| s.set_ticks(tick)).unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });

    let together: Vec<Value> = (0..4)
        .map(|k| {
            command_of(
                &format!("together-{k}"),
                "configure",
                json!({"channel": k, "value": together_value(k), "name": format!("t{k}")}),
            )
        })
        .collect();
    let plan = json!([
        command_of("first", "configure", json!({"channel": 0, "value": 1.23456, "name": "bias"})),
        command_of("range", "calibrate", json!({"channel": 7})),
        command_of("hardware", "calibrate", json!({"channel": 1})),
        command_of("wrong-type", "configure", json!({"channel": "one", "value": 1.0, "name": "x"})),
        command_of("missing", "configure", json!({"channel": 1, "value": 1.0})),
        {"together": together},
        command_of("last", "configure", json!({"channel": 3, "value": -9.87654, "name": "last"})),
    ]);
    let mut python = Python::spawn(
        COMMAND_SCRIPT,
        &server.ws_url(),
        &["--plan", &plan.to_string()],
    );
    let mut events = vec![python.expect("snapshot").await];
    // Bounded: the ticker commits at most 5000 patches.
    for _ in 0..20_000 {
        let event = python.event().await;
        let done = event["event"] == "commands_done";
        events.push(event);
        if done {
            break;
        }
    }
    assert_eq!(
        events.last().unwrap()["event"],
        "commands_done",
        "the plan did not finish"
    );
    // The observer saw the Python client's commands in presence.
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        while !observer
            .presence()
            .clients
            .iter()
            .any(|entry| entry.last_command_at.is_some())
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(seen.is_ok(), "presence: {:?}", observer.presence());
    stop.store(true, Ordering::Relaxed);
    ticker.await.unwrap();
    events.extend(python.finish(sync.version()).await);
    observer.close().await;

    // The document and the metadata of every version, from our side.
    let mut document = serde_json::from_str::<Value>(start.document_json()).unwrap();
    let mut documents = BTreeMap::from([(start.version(), document.clone())]);
    let mut metas: BTreeMap<u64, PatchMeta> = BTreeMap::new();
    for committed in commits.try_iter() {
        apply(&mut document, committed.ops()).unwrap();
        documents.insert(committed.version(), document.clone());
        metas.insert(committed.version(), committed.meta().clone());
    }
    assert_eq!(documents.keys().last(), Some(&sync.version()));
    check_replicas(&events, |version| documents.get(&version).cloned());

    // Each patch carries the metadata of its commit: the command's
    // requestId, name and client, or none of them.
    let client_id = events
        .iter()
        .find(|e| e["event"] == "patch" && e["originClientId"].is_string())
        .expect("no patch of a command")["originClientId"]
        .as_str()
        .unwrap()
        .to_owned();
    for event in events.iter().filter(|e| e["event"] == "patch") {
        let version = event["version"].as_u64().unwrap();
        let meta = &metas[&version];
        assert_eq!(event["requestId"], json!(meta.request_id), "{event}");
        assert_eq!(event["command"], json!(meta.command), "{event}");
        assert_eq!(
            event["originClientId"],
            json!(meta.origin_client_id),
            "{event}"
        );
        if meta.request_id.is_some() {
            assert_eq!(event["originClientId"], client_id.as_str(), "{event}");
        }
    }
    let first_send = position(&events, "send", "first");
    let done = events
        .iter()
        .position(|e| e["event"] == "commands_done")
        .unwrap();
    assert!(
        events[first_send..done]
            .iter()
            .any(|e| e["event"] == "patch" && e["requestId"].is_null()),
        "no patch of the ticker came while the commands ran"
    );

    // Acks: after every patch of their command, at a version at least that
    // of the last one, with the handler's result.
    let mut acked = vec![
        (
            "first".to_owned(),
            json!({"channel": 0, "value": 1.235, "applied": 1}),
        ),
        (
            "last".to_owned(),
            json!({"channel": 3, "value": -9.877, "applied": 6}),
        ),
    ];
    for k in 0..4 {
        let request_id = format!("together-{k}");
        let ack = &events[position(&events, "ack", &request_id)];
        // Sent at once: the order in which they arrived is the client's.
        let applied = ack["result"]["applied"].as_u64().unwrap();
        assert!((2..=5).contains(&applied), "{ack}");
        let value = (together_value(k) * 1000.0).round() / 1000.0;
        acked.push((
            request_id,
            json!({"channel": k, "value": value, "applied": applied}),
        ));
    }
    for (request_id, result) in &acked {
        let request_id = request_id.as_str();
        let at = position(&events, "ack", request_id);
        let ack = &events[at];
        assert_eq!(ack["command"], "configure", "{ack}");
        assert_eq!(ack["result"], *result, "{ack}");
        let ours: Vec<u64> = metas
            .iter()
            .filter(|(_, meta)| meta.request_id.as_deref() == Some(request_id))
            .map(|(version, _)| *version)
            .collect();
        assert_eq!(ours.len(), 2, "{request_id}: two commits on our side");
        let (before, after): (Vec<_>, Vec<_>) = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e["event"] == "patch" && e["requestId"] == *request_id)
            .partition(|(index, _)| *index < at);
        assert!(
            after.is_empty(),
            "{request_id}: patches after the ack {ack}: {after:?}"
        );
        let received: Vec<u64> = before
            .iter()
            .map(|(_, e)| e["version"].as_u64().unwrap())
            .collect();
        assert_eq!(received, ours, "{request_id}: every patch of the command");
        let ack_version = ack["version"].as_u64().unwrap();
        assert!(
            ack_version >= ours[1],
            "{request_id}: ack at version {ack_version}, its last patch is {}",
            ours[1]
        );
        // What `send_command` returned, once the ack was taken.
        let returned = &events[position(&events, "returned", request_id)];
        assert!(position(&events, "returned", request_id) > at);
        assert_eq!(returned["version"], ack_version);
        assert_eq!(returned["result"], *result);
    }
    // Commands of one connection run in the order they arrived: the
    // sequential ones are counted first and last.
    assert!(position(&events, "ack", "first") < position(&events, "send", "range"));

    // Errors: every field as the handler built it, raised by
    // `send_command` as taken by `on_command_error`.
    let expected_errors = [
        json!({"command": "calibrate", "requestId": "range", "code": "out_of_range",
               "message": "No such channel.", "detail": "channel 7 asked, the rig has 4",
               "severity": "warning", "display": "inline", "recoverable": false,
               "path": "/channels/7", "originClientId": client_id}),
        json!({"command": "calibrate", "requestId": "hardware", "code": "hardware_timeout",
               "message": "The voltage source did not respond before the timeout.",
               "detail": "UDP timeout after 5.0 s", "severity": "error", "display": "banner",
               "recoverable": true, "path": "/channels/1", "originClientId": client_id}),
    ];
    for expected in &expected_errors {
        let request_id = expected["requestId"].as_str().unwrap();
        let error = checked_error(&events, request_id);
        let mut without_version = error.clone();
        without_version.as_object_mut().unwrap().remove("version");
        without_version.as_object_mut().unwrap().remove("event");
        assert_eq!(without_version, *expected);
    }
    for (request_id, field) in [("wrong-type", "channel"), ("missing", "name")] {
        let error = checked_error(&events, request_id);
        assert_eq!(error["command"], "configure", "{error}");
        assert_eq!(error["code"], "invalid_params", "{error}");
        assert_eq!(error["display"], "inline", "{error}");
        assert_eq!(error["severity"], "error", "{error}");
        assert_eq!(error["recoverable"], true, "{error}");
        assert_eq!(error["path"], format!("/{field}"), "{error}");
        assert_eq!(error["originClientId"], client_id.as_str(), "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{field}`")), "{error}");
    }
    // Nothing else failed, and nothing answered the failed commands twice.
    let errors = events.iter().filter(|e| e["event"] == "error").count();
    assert_eq!(errors, 4, "{events:#?}");
    let acks = events.iter().filter(|e| e["event"] == "ack").count();
    assert_eq!(acks, acked.len(), "{events:#?}");

    server.check_final(&sync, &events).await;
    let state = server.state().await;
    assert_eq!(state["applied"], 6);
    assert_eq!(
        state["channels"][3],
        json!({"name": "last", "value": -9.877, "active": true})
    );
    server.stop().await;
}

/// The reference client runs the demo's long-running `ramp_channel` as
/// any command: it sees the ramp's patches, then its ack, and none of the
/// level-2 messages (progress, running commands).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_runs_the_demos_ramp_channel() {
    let sync = lab_link_demo::instrument();
    let server = TestServer::start(sync.clone(), ServerConfig::default()).await;
    let plan = json!([command_of(
        "ramp",
        "ramp_channel",
        json!({"channel": 1, "target": 0.5, "rate_v_per_s": 1.0})
    )]);
    let mut python = Python::spawn(
        COMMAND_SCRIPT,
        &server.ws_url(),
        &["--plan", &plan.to_string()],
    );
    let mut events = vec![python.expect("snapshot").await];
    for _ in 0..1_000 {
        let event = python.event().await;
        let done = event["event"] == "commands_done";
        events.push(event);
        if done {
            break;
        }
    }
    events.extend(python.finish(sync.version()).await);
    let at = position(&events, "ack", "ramp");
    assert_eq!(events[at]["result"], json!({"channel": 1, "value": 0.5}));
    let steps: Vec<&Value> = events[..at]
        .iter()
        .filter(|e| e["event"] == "patch" && e["requestId"] == "ramp")
        .collect();
    // 0.5 V at 1 V/s in steps of 50 ms: ten steps of 0.05 V.
    assert_eq!(steps.len(), 10, "{events:#?}");
    for (i, step) in steps.iter().enumerate() {
        let expected = 0.05 * (i as f64 + 1.0);
        let value = step["replica"]["channels"][1]["bias_voltage"]
            .as_f64()
            .unwrap();
        assert!((value - expected).abs() < 1e-9, "step {i}: {value}");
    }
    assert_eq!(
        events.iter().filter(|e| e["event"] == "error").count(),
        0,
        "{events:#?}"
    );
    server.check_final(&sync, &events).await;
    server.stop().await;
}

/// The index of the one event of `kind` for `request_id`.
#[track_caller]
fn position(events: &[Value], kind: &str, request_id: &str) -> usize {
    let found: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["event"] == kind && e["requestId"] == request_id)
        .map(|(index, _)| index)
        .collect();
    match found.as_slice() {
        [index] => *index,
        _ => panic!(
            "{} {kind} events for {request_id}: {events:#?}",
            found.len()
        ),
    }
}

/// The `error` event of `request_id`, after checking that `send_command`
/// raised the same error and that the command caused no patch and no ack.
#[track_caller]
fn checked_error(events: &[Value], request_id: &str) -> Value {
    let error = events[position(events, "error", request_id)].clone();
    let mut raised = events[position(events, "raised", request_id)].clone();
    raised["event"] = json!("error");
    assert_eq!(raised, error, "raised and taken differ");
    assert!(
        !events
            .iter()
            .any(|e| e["requestId"] == request_id && (e["event"] == "patch" || e["event"] == "ack")),
        "{request_id} failed, yet caused a patch or an ack"
    );
    error
}

/// Checks every `snapshot` and `patch` event: its replica equals the
/// server's document at its version, and patches follow the previous event
/// with no gap and no repeat (a snapshot may reset the version). Returns
/// the number of patch events.
#[track_caller]
fn check_replicas(events: &[Value], document_at: impl Fn(u64) -> Option<Value>) -> usize {
    let mut previous: Option<u64> = None;
    let mut patches = 0;
    for event in events {
        let kind = event["event"].as_str().unwrap_or_default();
        if kind != "snapshot" && kind != "patch" {
            continue;
        }
        let version = event["version"]
            .as_u64()
            .unwrap_or_else(|| panic!("no version in {event}"));
        if kind == "patch" {
            patches += 1;
            let previous = previous.unwrap_or_else(|| panic!("a patch before any snapshot"));
            assert_eq!(
                version,
                previous + 1,
                "patch {version} after version {previous}"
            );
        }
        let expected = document_at(version)
            .unwrap_or_else(|| panic!("the server never had version {version}"));
        assert_eq!(
            event["replica"], expected,
            "the Python replica differs from the server's document at version {version}"
        );
        previous = Some(version);
    }
    patches
}

fn document<S: Reactive + Serialize + Send + 'static>(sync: &LabSync<S>) -> Value {
    serde_json::to_value(&*sync.read()).unwrap()
}

/// Our server on 127.0.0.1:0, running in a task.
struct TestServer {
    addr: SocketAddr,
    routes: Routes,
    running: JoinHandle<()>,
}

impl TestServer {
    async fn start(source: impl IntoSource, config: ServerConfig) -> Self {
        let server = Server::builder()
            .config(config)
            .bind(source, "127.0.0.1:0")
            .await
            .unwrap();
        Self {
            addr: server.local_addr(),
            routes: server.routes().clone(),
            running: tokio::spawn(server.run()),
        }
    }

    fn ws_url(&self) -> String {
        format!("ws://{}/sync/ws", self.addr)
    }

    /// The Python client's final replica and version equal `GET
    /// /sync/state` and the server's version.
    async fn check_final<S: Reactive + Serialize + Send + 'static>(
        &self,
        sync: &LabSync<S>,
        events: &[Value],
    ) {
        let last = events.last().expect("no events");
        assert_eq!(last["event"], "final", "{last}");
        let state = self.state().await;
        assert_eq!(state, document(sync));
        assert_eq!(
            last["replica"], state,
            "the Python replica differs from GET /sync/state"
        );
        assert_eq!(last["version"], sync.version());
    }

    /// `GET /sync/state`, parsed.
    async fn state(&self) -> Value {
        let response = tokio::time::timeout(TIMEOUT, async {
            let mut stream = TcpStream::connect(self.addr).await.unwrap();
            let request = format!(
                "GET /sync/state HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                self.addr
            );
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            response
        })
        .await
        .expect("GET /sync/state timed out");
        let (head, body) = response
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        serde_json::from_str(body).unwrap()
    }

    async fn stop(self) {
        self.routes.shutdown();
        tokio::time::timeout(TIMEOUT, self.running)
            .await
            .expect("the server did not stop")
            .unwrap();
    }
}

/// A script of `tests/python`, running; killed when dropped.
struct Python {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Python {
    /// Runs `tests/python/{script}` with the venv's interpreter.
    fn spawn(script: &str, url: &str, args: &[&str]) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = root.join("../target/py-venv/bin/python");
        assert!(
            python.is_file(),
            "the Python reference client is not installed: {} does not exist. Run `cargo \
             xtask setup`, which creates the virtualenv target/py-venv and installs \
             lab-link==0.5.0 from PyPI into it",
            python.display()
        );
        let mut child = Command::new(&python)
            .arg(root.join("tests/python").join(script))
            .arg(url)
            .args(["--timeout", "20"])
            .args(args)
            // `command_interop.py` imports `client_interop.py`: no
            // __pycache__ in the source tree.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// The next event the script reports.
    async fn event(&mut self) -> Value {
        match tokio::time::timeout(TIMEOUT, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("the script printed {line:?}, not JSON: {e}")),
            Ok(Ok(None)) => self.fail("the script ended early").await,
            Ok(Err(e)) => {
                self.fail(&format!("cannot read the script's output: {e}"))
                    .await
            }
            Err(_) => self.fail(&format!("no event within {TIMEOUT:?}")).await,
        }
    }

    /// The next event, which must be of `kind`.
    async fn expect(&mut self, kind: &str) -> Value {
        let event = self.event().await;
        if event["event"] != kind {
            self.fail(&format!("expected a {kind} event, got {event}"))
                .await;
        }
        event
    }

    /// Tells the script the final version, and returns every event it
    /// reports from now on, up to and including `final`, once it has exited
    /// successfully.
    async fn finish(mut self, version: u64) -> Vec<Value> {
        let mut stdin = self.stdin.take().unwrap();
        stdin
            .write_all(format!("{version}\n").as_bytes())
            .await
            .unwrap();
        drop(stdin);
        let mut events = Vec::new();
        loop {
            let event = self.event().await;
            let done = event["event"] == "final";
            events.push(event);
            if done {
                break;
            }
        }
        match tokio::time::timeout(TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => events,
            Ok(Ok(status)) => self.fail(&format!("the script exited with {status}")).await,
            Ok(Err(e)) => self.fail(&format!("cannot wait for the script: {e}")).await,
            Err(_) => self.fail("the script did not exit").await,
        }
    }

    /// Kills the script and fails the test with `why` and its stderr.
    async fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.start_kill();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), pipe.read_to_string(&mut stderr))
                .await;
        }
        panic!("the Python client failed: {why}\n--- its stderr ---\n{stderr}");
    }
}
