//! The demo's long-running `ramp_channel` through the testkit's level-2
//! client: progress in order before the ack, cancel mid-ramp keeping the
//! last step, one ramp per channel (`busy`), and its parameter errors.

use lab_link_client::CommandUpdate;
use lab_link_testkit::{TestClient, TestServer};
use serde_json::{json, Value};

/// The bias of channel `channel` in the client's replica.
fn bias(client: &TestClient, channel: usize) -> f64 {
    client.replica()["channels"][channel]["bias_voltage"]
        .as_f64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_comes_in_order_before_the_ack() {
    let server = TestServer::start(lab_link_demo::instrument()).await;
    let client = server.client_level2().await;
    let mut run = client
        .command_with_progress(
            "ramp_channel",
            json!({"channel": 0, "target": 1.0, "rate_v_per_s": 5.0}),
        )
        .await;
    let mut reports = Vec::new();
    let mut outcome = None;
    while let Some(update) = run.next().await {
        match update {
            CommandUpdate::Progress(progress) => {
                assert!(outcome.is_none(), "progress after the outcome");
                reports.push(progress);
            }
            CommandUpdate::Outcome(answer) => outcome = Some(answer),
        }
    }
    let reply = outcome.expect("an outcome").expect("an ack");
    assert_eq!(reply.result, Some(json!({"channel": 0, "value": 1.0})));
    // 1 V at 5 V/s in 50 ms steps: 0.25 V a step.
    let currents: Vec<f64> = reports.iter().filter_map(|p| p.current).collect();
    assert!(!currents.is_empty());
    assert!(currents.windows(2).all(|w| w[0] < w[1]), "{currents:?}");
    let last = reports.last().unwrap();
    assert_eq!(last.fraction, 1.0);
    assert_eq!(last.current, Some(1.0));
    assert_eq!(last.target, Some(1.0));
    assert_eq!(last.unit.as_deref(), Some("V"));
    assert_eq!(last.eta_s, Some(0.0));
    assert_eq!(bias(&client, 0), 1.0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_ramp_keeps_the_last_step_and_answers_cancelled() {
    let server = TestServer::start(lab_link_demo::instrument()).await;
    let client = server.client_level2().await;
    let mut run = client
        .command_with_progress(
            "ramp_channel",
            json!({"channel": 2, "target": -10.0, "rate_v_per_s": 2.0}),
        )
        .await;
    for _ in 0..2 {
        let Some(CommandUpdate::Progress(_)) = run.next().await else {
            panic!("expected progress")
        };
    }
    client.cancel(run.request_id()).await;
    let error = run.outcome().await.expect_err("cancelled");
    let failure = error.command_failure().expect("a command_error");
    assert_eq!(failure.code, "cancelled");
    // The steps so far stay: the bias is where the ramp stopped.
    let stopped = server.sync().read().channels[2].bias_voltage;
    assert!((-10.0..=-0.2).contains(&stopped), "{stopped}");
    assert_eq!(bias(&client, 2), stopped);
    // Stopped for good: nothing moves any more.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert_eq!(server.sync().read().channels[2].bias_voltage, stopped);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ramp_per_channel() {
    let server = TestServer::start(lab_link_demo::instrument()).await;
    let first = server.client_level2().await;
    let second = server.client().await;
    let run = first
        .command_with_progress(
            "ramp_channel",
            json!({"channel": 1, "target": 5.0, "rate_v_per_s": 1.0}),
        )
        .await;
    first
        .wait_for(|state| state["channels"][1]["bias_voltage"] != 0.0)
        .await;
    let busy = second
        .expect_error(
            "ramp_channel",
            json!({"channel": 1, "target": 1.0, "rate_v_per_s": 1.0}),
            "busy",
        )
        .await;
    assert!(
        busy.message
            .contains(&format!("ramp_channel (requestId {}", run.request_id())),
        "{}",
        busy.message
    );
    assert!(busy.message.contains("\"ramp:1\""), "{}", busy.message);
    // Another channel ramps meanwhile.
    let reply = second
        .command(
            "ramp_channel",
            json!({"channel": 3, "target": 0.1, "rate_v_per_s": 10.0}),
        )
        .await;
    assert_eq!(reply.result, Some(json!({"channel": 3, "value": 0.1})));
    first.cancel(run.request_id()).await;
    assert!(run.outcome().await.is_err());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_params_are_refused_before_anything_moves() {
    let server = TestServer::start(lab_link_demo::instrument()).await;
    let client = server.client().await;
    let cases: [(Value, &str, &str); 4] = [
        (
            json!({"channel": 9, "target": 1.0, "rate_v_per_s": 1.0}),
            "invalid_channel",
            "/channels/9",
        ),
        (
            json!({"channel": 0, "target": 11.0, "rate_v_per_s": 1.0}),
            "out_of_range",
            "/target",
        ),
        (
            json!({"channel": 0, "target": 1.0, "rate_v_per_s": 0.0}),
            "out_of_range",
            "/rate_v_per_s",
        ),
        (
            json!({"channel": 0, "target": 1.0, "rate_v_per_s": 101.0}),
            "out_of_range",
            "/rate_v_per_s",
        ),
    ];
    for (params, code, path) in cases {
        let failure = client.expect_error("ramp_channel", params, code).await;
        assert_eq!(failure.path.as_deref(), Some(path), "{failure}");
    }
    assert_eq!(server.sync().version(), 0);
    server.shutdown().await;
}
