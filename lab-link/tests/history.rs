//! History over the public API: recording, `GET /sync/history` and
//! `Routes::history`, decimation, retention, restarts, corrupt files and
//! a hard kill.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use http_body_util::BodyExt;
use lab_link::server::{HistoryQuery, Lifespan};
use lab_link::{LabSync, Reactive, Routes, ServerConfig};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[cfg(unix)]
mod support {
    pub(crate) mod persist_child;
}

#[derive(Reactive, Serialize, Deserialize, Default, Clone)]
struct Channel {
    #[reactive(history)]
    bias_voltage: f64,
    active: bool,
}

#[derive(Reactive, Serialize, Deserialize, Default, Clone)]
struct Lab {
    channels: Vec<Channel>,
    temperature: f64,
    label: String,
}

fn lab() -> LabSync<Lab> {
    LabSync::new(Lab {
        channels: vec![Channel::default(), Channel::default()],
        ..Lab::default()
    })
}

/// A fresh directory under the system's temp dir for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lab-link-history-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config(dir: &Path) -> ServerConfig {
    ServerConfig::default()
        .history(["/temperature", "/label"])
        .history_path(dir.join("history.db"))
        .history_batch(Duration::from_millis(10))
}

fn start(sync: &LabSync<Lab>, config: ServerConfig) -> (Routes, Lifespan) {
    let routes = Routes::new(sync.clone(), config);
    let lifespan = routes.start();
    (routes, lifespan)
}

/// `GET /sync/history?{query}`: the status and the JSON body.
async fn get(routes: &Routes, query: &str) -> (u16, Value) {
    let request = http::Request::get(format!("/sync/history?{query}"))
        .body(())
        .unwrap();
    let response = routes.handle(request).expect("a lab-link endpoint");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

fn values(body: &Value) -> Vec<Value> {
    body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].clone())
        .collect()
}

#[tokio::test]
async fn changes_are_recorded_and_kept_across_a_restart() {
    let dir = temp_dir("restart");
    for round in 0..2 {
        let sync = lab();
        let (routes, lifespan) = start(&sync, config(&dir));
        sync.try_mutate(|s| s.set_temperature(4.0 + f64::from(round)))
            .unwrap();
        sync.try_mutate(|s| s.channels().at(1)?.set_bias_voltage(1.5))
            .unwrap();
        sync.try_mutate(|s| s.channels().at(1)?.set_active(true))
            .unwrap();
        sync.try_mutate(|s| s.set_label("cooling".into())).unwrap();
        lifespan.stop().await;
        let (status, body) = get(&routes, "path=/temperature").await;
        assert_eq!(status, 200, "{body}");
        let expect: Vec<Value> = (0..=round).map(|r| json!(4.0 + f64::from(r))).collect();
        assert_eq!(values(&body), expect, "round {round}");
        assert_eq!(body["decimated"], false);
        let time = body["points"][0]["time"].as_str().unwrap();
        assert!(time.ends_with('Z') && time.len() == 27, "{time}");
    }
    // Recorded through `#[reactive(history)]`, not through the config.
    let sync = lab();
    let (routes, lifespan) = start(&sync, config(&dir));
    let (_, body) = get(
        &routes,
        "path=%2Fchannels%2F1%2Fbias_voltage&format=columns",
    )
    .await;
    assert_eq!(body["value"], json!([1.5, 1.5]), "{body}");
    assert_eq!(body["version"].as_array().unwrap().len(), 2);
    assert_eq!(body["time"].as_array().unwrap().len(), 2);
    let series = routes.history(&HistoryQuery::new("/label")).unwrap();
    assert_eq!(series.points()[0].value(), &json!("cooling"));
    assert!(series.points()[0].time() <= SystemTime::now());
    lifespan.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bad_queries_are_answered_400_naming_the_parameter() {
    let dir = temp_dir("bad");
    let sync = lab();
    let (routes, lifespan) = start(&sync, config(&dir));
    for (query, parameter) in [
        ("path=/nope", "path"),
        ("path=/channels/0/active", "path"),
        ("path=not-a-pointer", "path"),
        ("max_points=10", "path"),
        (
            "path=/temperature&from=2026-12-03T14:00:00Z&to=2026-12-03T13:00:00Z",
            "from",
        ),
        ("path=/temperature&max_points=0", "max_points"),
        ("path=/temperature&max_points=99999999999", "max_points"),
        ("path=/temperature&from=yesterday", "from"),
        ("path=/temperature&to=2026-12-03", "to"),
        ("path=/temperature&format=xml", "format"),
    ] {
        let (status, body) = get(&routes, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"], "bad_parameter", "{query}");
        assert_eq!(body["parameter"], parameter, "{query}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Recorded but not yet changed: an empty series, not an error.
    let (status, body) = get(&routes, "path=/channels/0/bias_voltage").await;
    assert_eq!((status, body["points"].clone()), (200, json!([])));
    lifespan.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn many_points_are_decimated_keeping_the_spikes() {
    let dir = temp_dir("decimate");
    let sync = lab();
    let (routes, lifespan) = start(&sync, config(&dir));
    for i in 0..2000 {
        let value = match i {
            700 => 1000.0,
            1500 => -1000.0,
            _ => f64::from(i % 7),
        };
        sync.try_mutate(|s| s.set_temperature(value)).unwrap();
    }
    lifespan.stop().await;
    let (status, body) = get(&routes, "path=/temperature&max_points=20").await;
    assert_eq!(status, 200);
    assert_eq!(body["decimated"], true);
    let got = values(&body);
    assert!(got.len() <= 20 && got.len() >= 10, "{}", got.len());
    assert!(
        got.contains(&json!(1000.0)) && got.contains(&json!(-1000.0)),
        "{got:?}"
    );
    let (_, raw) = get(&routes, "path=/temperature&max_points=100000").await;
    // The first write (0.0 over the default 0.0) changed nothing.
    assert_eq!(raw["points"].as_array().unwrap().len(), 1999);
    assert_eq!(raw["decimated"], false);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn retention_keeps_the_file_within_its_size_and_age() {
    let dir = temp_dir("retention");
    let sync = lab();
    let limit = 256 * 1024;
    let (routes, lifespan) = start(&sync, config(&dir).history_max_bytes(limit));
    let long = "x".repeat(200);
    for i in 0..6000 {
        sync.try_mutate(|s| s.set_label(format!("{long}{i}")))
            .unwrap();
        if i % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    lifespan.stop().await;
    let db = std::fs::metadata(dir.join("history.db")).unwrap().len();
    // Retention runs after each batch: the file may exceed the limit by
    // one batch (here about 100 rows of 200 bytes) until the next.
    assert!(db <= limit + 64 * 1024, "the file has {db} bytes");
    let series = routes
        .history(&HistoryQuery::new("/label").max_points(100_000))
        .unwrap();
    let points = series.points();
    assert!(points.len() < 6000, "nothing was deleted");
    assert_eq!(
        points.last().unwrap().value(),
        &json!(format!("{long}5999"))
    );

    let sync = lab();
    let (routes, lifespan) = start(
        &sync,
        config(&dir).history_max_age(Duration::from_millis(100)),
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    sync.try_mutate(|s| s.set_label("fresh".into())).unwrap();
    lifespan.stop().await;
    let series = routes.history(&HistoryQuery::new("/label")).unwrap();
    let kept: Vec<&Value> = series.points().iter().map(|p| p.value()).collect();
    assert_eq!(kept, [&json!("fresh")]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_corrupt_history_file_is_moved_aside() {
    let dir = temp_dir("corrupt");
    let garbage = b"not a database".repeat(100);
    std::fs::write(dir.join("history.db"), &garbage).unwrap();
    let sync = lab();
    let (routes, lifespan) = start(&sync, config(&dir));
    sync.try_mutate(|s| s.set_temperature(3.0)).unwrap();
    lifespan.stop().await;
    let series = routes.history(&HistoryQuery::new("/temperature")).unwrap();
    assert_eq!(series.points().len(), 1);
    let aside: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".bad"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(&aside[0]).unwrap(), garbage);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_schema_and_the_source_list_the_recorded_fields() {
    use lab_link::server::SyncSource;
    #[derive(Reactive, Serialize, schemars::JsonSchema, Default)]
    struct Recorded {
        channels: Vec<Channel>,
        #[reactive(history)]
        label: Option<String>,
    }
    #[derive(Reactive, Serialize, schemars::JsonSchema, Default)]
    struct Channel {
        #[reactive(history, unit = "V")]
        bias_voltage: f64,
    }
    let sync = LabSync::new(Recorded::default()).with_state_schema();
    assert_eq!(sync.history_paths(), ["/channels/*/bias_voltage", "/label"]);
    let schema = sync.schema();
    assert_eq!(
        schema["state"]["$defs"]["Channel"]["properties"]["bias_voltage"]["history"],
        true
    );
    assert_eq!(schema["state"]["properties"]["label"]["history"], true);
}

#[cfg(unix)]
#[tokio::test]
async fn a_hard_kill_loses_at_most_the_batch_window() {
    let dir = temp_dir("kill");
    let mut child = support::persist_child::PersistChild::spawn(&dir.join("state.db")).await;
    for n in 1..=3 {
        child.set(n).await;
    }
    // The child's batch window is 50 ms: past it, every change is written.
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().await; // SIGKILL: no last batch

    let config = ServerConfig::default()
        .history(["/count"])
        .history_path(dir.join("state.history.db"));
    let routes = Routes::new(LabSync::new(json!({"count": 0})), config);
    let lifespan = routes.start();
    let series = routes.history(&HistoryQuery::new("/count")).unwrap();
    let counts: Vec<&Value> = series.points().iter().map(|p| p.value()).collect();
    assert_eq!(counts, [&json!(1), &json!(2), &json!(3)]);
    lifespan.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
