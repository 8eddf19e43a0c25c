//! The demo binary against its contract (DEMO.md), over real sockets: the
//! whole contract check, the `listening` line, clean stops on SIGTERM and
//! SIGINT, persistence across a restart, and refused flags.

mod support;

use serde_json::json;
use support::{contract, DemoProcess};

#[tokio::test]
async fn the_demo_follows_the_contract() {
    let demo = DemoProcess::ours(&[]).await;
    contract::check(&demo).await;
    let (status, _) = demo.stop_with("TERM").await;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn serves_the_page_and_the_schema() {
    let demo = DemoProcess::ours(&[]).await;
    let (status, page) = support::get(&demo.origin, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"<meta name="lab-link-prefix" content="/sync">"#));
    let (status, _) = support::get(&demo.origin, "/app.js").await;
    assert_eq!(status, 200);
    let (status, schema) = support::get(&demo.base, "/schema").await;
    assert_eq!(status, 200);
    let schema: serde_json::Value = serde_json::from_str(&schema).unwrap();
    let commands = schema["commands"].as_object().unwrap();
    // The contract's eleven and the addition `ramp_channel`.
    assert_eq!(commands.len(), 12, "{:?}", commands.keys());
    check_expected_schema(&schema);
}

/// The demo's `/schema` against the reviewed `tests/expected/schema.json`.
/// `UPDATE_EXPECT=1` rewrites the file instead; read its diff before
/// committing it.
fn check_expected_schema(schema: &serde_json::Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/schema.json");
    let actual = serde_json::to_string_pretty(schema).unwrap() + "\n";
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "the demo's /schema differs from {}; if the change is intended, run the test with \
         UPDATE_EXPECT=1 and review the diff\n--- actual ---\n{actual}",
        path.display()
    );
}

#[tokio::test]
async fn stops_cleanly_on_sigterm_and_sigint() {
    for signal in ["TERM", "INT"] {
        let demo = DemoProcess::ours(&[]).await;
        let mut raw = demo.raw().await;
        raw.command("set_enabled", json!({"enabled": true}))
            .await
            .ack();
        let (status, stderr) = demo.stop_with(signal).await;
        assert!(status.success(), "SIG{signal}: {status}\n{stderr}");
        assert_eq!(
            raw.close_code().await,
            Some(1001),
            "SIG{signal}: clients get a close frame (going away)"
        );
    }
}

#[tokio::test]
async fn persist_keeps_the_state_across_a_restart() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-persist");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.sqlite");
    let file = file.to_str().unwrap();

    let demo = DemoProcess::ours(&["--persist", file]).await;
    let mut raw = demo.raw().await;
    raw.command("set_channel", json!({"channel": 2, "value": 3.5}))
        .await
        .ack();
    raw.command("add_channel", json!({"name": "kept"}))
        .await
        .ack();
    let expected = raw.replica.clone();
    let (status, stderr) = demo.stop_with("TERM").await;
    assert!(status.success(), "{status}\n{stderr}");

    let demo = DemoProcess::ours(&["--persist", file]).await;
    assert_eq!(demo.state().await, expected, "restored at start");
    let (status, _) = demo.stop_with("INT").await;
    assert!(status.success());

    // Without --persist the demo starts fresh.
    let demo = DemoProcess::ours(&[]).await;
    assert_eq!(demo.state().await, support::initial_state());
}

#[test]
fn refuses_bad_flags_with_a_message() {
    let demo = env!("CARGO_BIN_EXE_lab-link-demo");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(demo)
            .args(["--port", "0"])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&["--prefix", "sync"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty(), "no listening line: {stdout}");
    assert!(stderr.contains("must start with `/`"), "{stderr}");
    let (code, _, stderr) = run(&["--no-trust-loopback"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("add --auth PATH"), "{stderr}");
    let (code, _, stderr) = run(&["--port", "70000"]);
    assert_eq!(code, Some(2), "{stderr}");
}
