//! The demo contract (DEMO.md) as one executable check, run against our
//! demo and against the Python reference: state, commands, results,
//! errors, patches and streams, all as seen on the wire.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use super::{initial_state, DemoProcess, Msg, Raw};

/// Runs every check of the contract on a freshly started demo.
pub async fn check(demo: &DemoProcess) {
    initial_state_and_stream_snapshots(demo).await;
    let mut raw = demo.raw().await;
    commands_and_their_patches(&mut raw).await;
    errors_change_nothing(&mut raw).await;
    labels(&mut raw).await;
    acquisition_and_streams(demo, &mut raw).await;
    reset(demo, &mut raw).await;
    assert_eq!(
        raw.replica,
        demo.state().await,
        "the replica equals GET /state"
    );
    raw.close().await;
}

/// `GET /state` and the snapshot are the initial state, key order
/// included; the three streams' snapshots follow the state's.
async fn initial_state_and_stream_snapshots(demo: &DemoProcess) {
    let (status, body) = super::get(&demo.base, "/state").await;
    assert_eq!(status, 200);
    let state: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        state.to_string(),
        initial_state().to_string(),
        "GET /state is the contract's initial state, in its key order"
    );
    let mut raw = demo.raw().await;
    assert_eq!(
        raw.snapshot["data"].to_string(),
        initial_state().to_string()
    );
    let mut snapshots = BTreeSet::new();
    while snapshots.len() < 3 {
        match raw.read().await {
            Msg::Json(message) if message["type"] == "stream_snapshot" => {
                let id = message["id"].as_str().unwrap().to_owned();
                let data = message["data"].as_array().unwrap();
                match id.as_str() {
                    "counts" | "trace" => assert!(data.is_empty(), "{message}"),
                    "histogram" => {
                        assert_eq!(data.len(), 64, "{message}");
                        assert!(data.iter().all(|bin| bin == 0), "{message}");
                    }
                    other => panic!("unexpected stream {other:?}"),
                }
                snapshots.insert(id);
            }
            other => panic!("expected the stream snapshots after the snapshot, got {other:?}"),
        }
    }
    raw.close().await;
}

/// Each command's result and the one patch it causes.
async fn commands_and_their_patches(raw: &mut Raw) {
    let done = raw.command("set_enabled", json!({"enabled": true})).await;
    assert_eq!(done.ack()["result"], json!({"enabled": true}));
    assert_eq!(
        *done.single_patch(),
        json!([{"op": "replace", "path": "/enabled", "value": true}])
    );

    let done = raw
        .command("set_channel", json!({"channel": 1, "value": 1.23456}))
        .await;
    assert_eq!(done.ack()["result"], json!({"channel": 1, "value": 1.235}));
    assert_eq!(
        *done.single_patch(),
        json!([{"op": "replace", "path": "/channels/1/bias_voltage", "value": 1.235}])
    );

    let done = raw
        .command("set_active", json!({"channel": 2, "active": true}))
        .await;
    assert_eq!(done.ack()["result"], json!({"channel": 2, "active": true}));
    assert_eq!(
        *done.single_patch(),
        json!([{"op": "replace", "path": "/channels/2/active", "value": true}])
    );

    let done = raw.command("add_channel", json!({"name": "probe"})).await;
    assert_eq!(done.ack()["result"], json!({"index": 4}));
    assert_eq!(
        *done.single_patch(),
        json!([{"op": "add", "path": "/channels/4",
                "value": {"name": "probe", "bias_voltage": 0.0, "active": false}}])
    );

    let done = raw.command("remove_channel", json!({"channel": 4})).await;
    assert_eq!(done.ack()["result"], json!({"removed": "probe"}));
    assert_eq!(
        *done.single_patch(),
        json!([{"op": "remove", "path": "/channels/4"}])
    );

    let done = raw.command("set_all", json!({"value": -2.34567})).await;
    assert_eq!(done.ack()["result"], json!({"count": 4}));
    let ops = done.single_patch().as_array().unwrap().clone();
    let paths: Vec<&str> = ops.iter().map(|op| op["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        (0..4)
            .map(|i| format!("/channels/{i}/bias_voltage"))
            .collect::<Vec<_>>(),
        "set_all is one patch message with every channel: {ops:?}"
    );
    assert!(ops
        .iter()
        .all(|op| op["value"] == -2.346 && op["op"] == "replace"));

    // Metadata: the command's name and requestId on its patch.
    let patch = &done.patches[0];
    assert_eq!(patch["command"], "set_all");
    assert!(patch["requestId"].is_string());
}

/// Every error of the contract: code, display, path; nothing changes.
async fn errors_change_nothing(raw: &mut Raw) {
    let before = (raw.version, raw.replica.clone());
    for (name, params, path) in [
        (
            "set_channel",
            json!({"channel": 9, "value": 1.0}),
            "/channels/9",
        ),
        (
            "set_channel",
            json!({"channel": -1, "value": 1.0}),
            "/channels/-1",
        ),
        (
            "set_active",
            json!({"channel": 4, "active": true}),
            "/channels/4",
        ),
        ("remove_channel", json!({"channel": 7}), "/channels/7"),
    ] {
        let done = raw.command(name, params.clone()).await;
        let error = done.error("invalid_channel");
        assert_eq!(error["display"], "inline", "{name}({params}): {error}");
        assert_eq!(error["path"], path, "{name}({params}): {error}");
        assert_eq!(error["severity"], "error");
        assert_eq!(error["recoverable"], true);
        assert!(done.patches.is_empty());
    }
    for (name, params, path) in [
        (
            "set_channel",
            json!({"channel": 0, "value": 10.001}),
            "/channels/0/bias_voltage",
        ),
        (
            "set_channel",
            json!({"channel": 3, "value": -1e300}),
            "/channels/3/bias_voltage",
        ),
        ("set_all", json!({"value": 11}), "/channels"),
        (
            "start_acquisition",
            json!({"rate_hz": 0}),
            "/acquisition/rate_hz",
        ),
        (
            "start_acquisition",
            json!({"rate_hz": -5}),
            "/acquisition/rate_hz",
        ),
        (
            "start_acquisition",
            json!({"rate_hz": 1000.5}),
            "/acquisition/rate_hz",
        ),
    ] {
        let done = raw.command(name, params.clone()).await;
        let error = done.error("out_of_range");
        assert_eq!(error["display"], "inline", "{name}({params}): {error}");
        assert_eq!(error["path"], path, "{name}({params}): {error}");
        assert!(done.patches.is_empty());
    }
    let done = raw.command("simulate_timeout", json!({})).await;
    let error = done.error("hardware_timeout");
    assert_eq!(
        error["message"],
        "The voltage source did not respond before the timeout."
    );
    assert_eq!(error["detail"], "UDP timeout after 5.0 s");
    assert_eq!(error["display"], "banner");
    assert_eq!(error["severity"], "error");
    assert_eq!(error["recoverable"], true);
    assert!(done.patches.is_empty());

    let done = raw.command("no_such_command", json!({})).await;
    done.error("unknown_command");

    assert_eq!(
        (raw.version, raw.replica.clone()),
        before,
        "errors change nothing"
    );
}

/// Label keys with `/` and `~`: add, replace, remove; null for a missing
/// key changes nothing.
async fn labels(raw: &mut Raw) {
    let key = "run/a~b";
    let done = raw
        .command("set_label", json!({"key": key, "value": "x"}))
        .await;
    assert!(done.ack().get("result").is_none(), "{}", done.answer);
    assert_eq!(
        *done.single_patch(),
        json!([{"op": "add", "path": "/labels/run~1a~0b", "value": "x"}])
    );
    let done = raw
        .command("set_label", json!({"key": key, "value": "y"}))
        .await;
    assert_eq!(
        *done.single_patch(),
        json!([{"op": "replace", "path": "/labels/run~1a~0b", "value": "y"}])
    );
    let done = raw
        .command("set_label", json!({"key": "", "value": "root"}))
        .await;
    assert_eq!(
        *done.single_patch(),
        json!([{"op": "add", "path": "/labels/", "value": "root"}])
    );
    let done = raw
        .command("set_label", json!({"key": key, "value": null}))
        .await;
    assert_eq!(
        *done.single_patch(),
        json!([{"op": "remove", "path": "/labels/run~1a~0b"}])
    );
    let version = raw.version;
    let done = raw
        .command("set_label", json!({"key": key, "value": null}))
        .await;
    done.ack();
    assert!(done.patches.is_empty());
    assert_eq!(raw.version, version);
    assert_eq!(raw.replica["labels"], json!({"": "root"}));
}

/// Start at 50 Hz: count patches without metadata, and every stream
/// ticks; stop: no tick after the stop.
async fn acquisition_and_streams(demo: &DemoProcess, raw: &mut Raw) {
    raw.seen.clear();
    let done = raw
        .command("start_acquisition", json!({"rate_hz": 50}))
        .await;
    assert_eq!(done.ack()["result"], json!({"rate_hz": 50.0}));
    let touched: BTreeSet<&str> = done
        .patches
        .iter()
        .flat_map(|patch| patch["patch"].as_array().unwrap())
        .map(|op| op["path"].as_str().unwrap())
        .collect();
    assert!(
        touched.iter().all(|path| path.starts_with("/acquisition")),
        "{touched:?}"
    );
    assert_eq!(raw.replica["acquisition"]["running"], true);
    assert_eq!(raw.replica["acquisition"]["rate_hz"], 50.0);

    let start_count = raw.replica["acquisition"]["count"].as_u64().unwrap();
    let (mut ticks, mut appends, mut frames, mut deltas) = (0, 0, 0, 0);
    let mut last_seq = std::collections::BTreeMap::new();
    while ticks < 3 || appends < 3 || frames < 3 || deltas < 3 {
        let msg = raw.read().await;
        match &msg {
            Msg::Json(message) => match message["type"].as_str().unwrap() {
                "patch" => {
                    assert_eq!(
                        message["patch"],
                        json!([{"op": "replace", "path": "/acquisition/count",
                                "value": start_count + ticks + 1}]),
                        "a tick is one count patch"
                    );
                    for key in ["command", "requestId", "originClientId"] {
                        assert!(message.get(key).is_none(), "no metadata: {message}");
                    }
                    ticks += 1;
                }
                "stream_append" => {
                    assert_eq!(message["id"], "counts");
                    let data = message["data"].as_array().unwrap();
                    assert_eq!(data.len(), 1, "{message}");
                    assert!(data[0].as_f64().unwrap() >= 0.0);
                    appends += 1;
                    check_seq(&mut last_seq, "counts", message["seq"].as_u64().unwrap());
                }
                "stream_delta" => {
                    assert_eq!(message["id"], "histogram");
                    for pair in message["deltas"].as_array().unwrap() {
                        let bin = pair[0].as_u64().unwrap();
                        assert!(bin < 64 && pair[1].as_i64().unwrap() > 0, "{message}");
                    }
                    deltas += 1;
                    check_seq(&mut last_seq, "histogram", message["seq"].as_u64().unwrap());
                }
                "stream_replace" => panic!("trace goes as binary float32 frames: {message}"),
                other => panic!("unexpected {other}: {message}"),
            },
            Msg::Frame(id, _seq, samples) => {
                assert_eq!(id, "trace");
                assert_eq!(samples.len(), 256);
                assert!(samples.iter().all(|s| s.is_finite()));
                frames += 1;
                raw.seen.push(msg.clone());
            }
        }
    }
    let done = raw.command("stop_acquisition", json!({})).await;
    done.ack();
    assert_eq!(
        done.patches.last().unwrap()["patch"],
        json!([{"op": "replace", "path": "/acquisition/running", "value": false}])
    );
    let count = raw.replica["acquisition"]["count"].clone();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        demo.state().await["acquisition"]["count"],
        count,
        "no tick after stop_acquisition"
    );

    // A joining client gets the streams' contents, the trace's samples
    // identical to the last binary frame.
    let mut late = demo.raw().await;
    let mut trace_snapshot = None;
    while trace_snapshot.is_none() {
        if let Msg::Json(message) = late.read().await {
            if message["type"] == "stream_snapshot" && message["id"] == "trace" {
                trace_snapshot = Some(message);
            }
        }
    }
    let trace_snapshot = trace_snapshot.unwrap();
    let seq = trace_snapshot["seq"].as_u64().unwrap() as u32;
    let frame = |msg: &Msg| match msg {
        Msg::Frame(id, frame_seq, samples) if id == "trace" && *frame_seq == seq => {
            Some(samples.clone())
        }
        _ => None,
    };
    // The frame of that seq: read already, or (sent by a tick that began
    // before the stop) still on its way.
    let samples = match raw.seen.iter().rev().find_map(frame) {
        Some(samples) => samples,
        None => raw.until(frame).await,
    };
    // JSON readers parse numbers as float64: the snapshot's numbers are
    // the frame's float32 samples widened, bit for bit.
    let data: Vec<f64> = trace_snapshot["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sample| sample.as_f64().expect("a number"))
        .collect();
    let widened: Vec<f64> = samples.into_iter().map(f64::from).collect();
    assert_eq!(data.len(), 256);
    lab_link_testkit::assert_same_samples("the trace's snapshot", &data, &widened);
    late.close().await;
}

/// Seqs of append and delta streams grow by one.
fn check_seq(last: &mut std::collections::BTreeMap<&'static str, u64>, id: &'static str, seq: u64) {
    if let Some(previous) = last.insert(id, seq) {
        assert_eq!(seq, previous + 1, "{id}: seq {previous} then {seq}");
    }
}

/// `reset`: one whole-document replace, back to the initial state.
async fn reset(demo: &DemoProcess, raw: &mut Raw) {
    let done = raw.command("reset", json!({})).await;
    done.ack();
    let ops = done.single_patch().as_array().unwrap().clone();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert_eq!(ops[0]["op"], "replace");
    assert_eq!(ops[0]["path"], "");
    assert_eq!(ops[0]["value"], initial_state());
    assert_eq!(demo.state().await.to_string(), initial_state().to_string());
}
