//! End-to-end tests of the demo's web page in headless Chromium: Debian's
//! `chromium` driven through `chromedriver` (WebDriver), never a browser
//! downloaded by a test tool. `cargo xtask setup` installs both.
//!
//! Each test starts the demo binary, a chromedriver and one browser
//! session; the tests take turns (one browser at a time on a two-core
//! machine). The page and testkit clients talk to the same server, so each
//! test checks both directions: a click in the page reaches the state seen
//! by a client, a client's command reaches the page without a reload.
//! Every run saves a screenshot under `target/e2e/`.

mod support;

use std::time::Duration;

use lab_link_testkit::TestClient;
use serde_json::{json, Value};
use support::browser::Browser;
use support::DemoProcess;

/// The demo, the page on it, and a testkit client on the same server.
async fn setup() -> (DemoProcess, Browser, TestClient) {
    let demo = DemoProcess::ours(&[]).await;
    let browser = Browser::open(&format!("{}/", demo.origin)).await;
    let client = TestClient::connect(&demo.ws_url()).await;
    (demo, browser, client)
}

#[tokio::test]
async fn the_page_shows_the_initial_state() {
    let (demo, browser, _client) = setup().await;
    let names = browser
        .eval("[...document.querySelectorAll('#channels tr[data-channel] .channel-name')].map(e => e.textContent.trim())")
        .await;
    assert_eq!(names, json!(["ch0", "ch1", "ch2", "ch3"]));
    let biases = browser
        .eval("[...document.querySelectorAll('#channels tr[data-channel] input.bias')].map(e => Number(e.value))")
        .await;
    assert_eq!(biases, json!([0, 0, 0, 0]));
    assert_eq!(
        browser
            .eval("document.querySelector('#enabled').checked")
            .await,
        false
    );
    assert_eq!(
        browser
            .eval("document.querySelector('#acq-running').textContent.trim()")
            .await,
        "stopped"
    );
    assert_eq!(
        browser
            .eval("document.querySelector('#version').textContent.trim()")
            .await,
        "0"
    );
    assert_eq!(
        browser
            .eval("document.querySelector('#banner').hidden")
            .await,
        true
    );
    // The page's replica is the server's document.
    browser.assert_replica(&demo.state().await).await;
    browser.close().await;
}

#[tokio::test]
async fn a_click_in_the_page_changes_the_state_a_client_sees() {
    let (_demo, browser, client) = setup().await;
    browser.click("#enabled").await;
    client.wait_for(|state| state["enabled"] == true).await;

    browser
        .type_into("tr[data-channel='1'] input.bias", "2.5")
        .await;
    client
        .wait_for(|state| state["channels"][1]["bias_voltage"] == 2.5)
        .await;

    browser.click("tr[data-channel='2'] input.active").await;
    client
        .wait_for(|state| state["channels"][2]["active"] == true)
        .await;

    browser.fill("#add-channel-name", "probe").await;
    browser.click("#add-channel").await;
    let state = client
        .wait_for(|state| state["channels"].as_array().is_some_and(|c| c.len() == 5))
        .await;
    assert_eq!(state["channels"][4]["name"], "probe");

    browser.fill("#label-key", "sample/id").await;
    browser.fill("#label-value", "B-12").await;
    browser.click("#set-label").await;
    client
        .wait_for(|state| state["labels"]["sample/id"] == "B-12")
        .await;

    // The page's own edits are acknowledged: nothing stays pending.
    browser
        .wait_until(
            "no pending edits",
            "document.querySelectorAll('.pending').length === 0",
        )
        .await;
    browser.assert_replica(&client.replica()).await;
    browser.close().await;
}

#[tokio::test]
async fn a_ramp_shows_its_progress_bar_and_stops_with_its_stop_button() {
    let (_demo, browser, client) = setup().await;
    browser.fill("#ramp-channel", "1").await;
    browser.fill("#ramp-target", "5").await;
    browser.fill("#ramp-rate", "1").await;
    browser.click("#ramp").await;
    // The running list shows the ramp with a moving bar and, since this
    // page started it, a Stop button.
    browser
        .wait_until(
            "a progress bar above zero",
            "(function () { var bar = document.querySelector('#running progress'); \
             return bar !== null && bar.value > 0; })()",
        )
        .await;
    client
        .wait_for(|state| state["channels"][1]["bias_voltage"].as_f64() > Some(0.0))
        .await;
    browser.click("#running button.stop").await;
    browser
        .wait_until(
            "the ramp gone from the list",
            "document.querySelectorAll('#running li').length === 0",
        )
        .await;
    // Stopped where it was: short of the target, and still.
    let stopped = client.replica()["channels"][1]["bias_voltage"]
        .as_f64()
        .unwrap();
    assert!(stopped > 0.0 && stopped < 5.0, "{stopped}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(client.replica()["channels"][1]["bias_voltage"], stopped);
    browser.assert_replica(&client.replica()).await;
    browser.close().await;
}

#[tokio::test]
async fn a_client_command_updates_the_page_without_reload() {
    let (_demo, browser, client) = setup().await;
    browser.eval("(window.__noReload = 'still here')").await;
    client
        .command("set_channel", json!({"channel": 3, "value": -4.25}))
        .await;
    browser
        .wait_until(
            "the bias reaches the page",
            "Number(document.querySelector(\"tr[data-channel='3'] input.bias\").value) === -4.25",
        )
        .await;
    client.command("add_channel", json!({"name": "aux"})).await;
    browser
        .wait_until(
            "the new row appears",
            "document.querySelector(\"tr[data-channel='4'] .channel-name\")?.textContent.trim() === 'aux'",
        )
        .await;
    client
        .command("set_label", json!({"key": "operator", "value": "kim"}))
        .await;
    browser
        .wait_until(
            "the label appears",
            "[...document.querySelectorAll('#labels [data-key]')].some(e => e.dataset.key === 'operator' && e.textContent.includes('kim'))",
        )
        .await;
    client
        .command("set_enabled", json!({"enabled": true}))
        .await;
    browser
        .wait_until(
            "the switch follows",
            "document.querySelector('#enabled').checked",
        )
        .await;
    let version = client.version();
    browser
        .wait_until(
            "the page's version follows",
            &format!("document.querySelector('#version').textContent.trim() === '{version}'"),
        )
        .await;
    assert_eq!(browser.eval("window.__noReload").await, "still here");
    browser.assert_replica(&client.replica()).await;
    browser.close().await;
}

#[tokio::test]
async fn simulate_timeout_shows_its_banner() {
    let (_demo, browser, client) = setup().await;
    let version = client.version();
    browser.click("#simulate-timeout").await;
    browser
        .wait_until(
            "the banner shows",
            "!document.querySelector('#banner').hidden",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('#banner .banner-message').textContent.trim()")
            .await,
        "The voltage source did not respond before the timeout."
    );
    let detail = browser
        .eval("document.querySelector('#banner .banner-detail').textContent")
        .await;
    assert!(
        detail
            .as_str()
            .unwrap_or_default()
            .contains("UDP timeout after 5.0 s"),
        "{detail}"
    );
    browser.screenshot("banner").await;
    browser.click("#banner .banner-dismiss").await;
    browser
        .wait_until(
            "the banner goes",
            "document.querySelector('#banner').hidden",
        )
        .await;
    assert_eq!(
        client.version(),
        version,
        "a failed command changes nothing"
    );
    browser.close().await;
}

#[tokio::test]
async fn out_of_range_input_shows_the_inline_error() {
    let (_demo, browser, client) = setup().await;
    browser
        .type_into("tr[data-channel='0'] input.bias", "20")
        .await;
    let slot = "document.querySelector(\"[data-error-for='/channels/0/bias_voltage']\")";
    browser
        .wait_until(
            "the inline error shows",
            &format!("!{slot}.hidden && {slot}.textContent.includes('between -10 V and 10 V')"),
        )
        .await;
    // The optimistic value goes back to the server's.
    browser
        .wait_until(
            "the input reverts",
            "Number(document.querySelector(\"tr[data-channel='0'] input.bias\").value) === 0",
        )
        .await;
    // Not a toast or a banner.
    assert_eq!(
        browser
            .eval("document.querySelector('#banner').hidden")
            .await,
        true
    );
    assert_eq!(client.replica()["channels"][0]["bias_voltage"], 0.0);

    // The rate's range error lands next to the rate.
    browser.fill("#acq-rate", "5000").await;
    browser.click("#acq-start").await;
    let rate_slot = "document.querySelector(\"[data-error-for='/acquisition/rate_hz']\")";
    browser
        .wait_until(
            "the rate error shows",
            &format!("!{rate_slot}.hidden && {rate_slot}.textContent.length > 0"),
        )
        .await;
    assert_eq!(client.replica()["acquisition"]["running"], false);

    // A valid value afterwards clears the bias error.
    browser
        .type_into("tr[data-channel='0'] input.bias", "1.5")
        .await;
    client
        .wait_for(|state| state["channels"][0]["bias_voltage"] == 1.5)
        .await;
    browser
        .wait_until("the error clears", &format!("{slot}.hidden"))
        .await;
    browser.close().await;
}

#[tokio::test]
async fn the_plots_receive_the_streams() {
    let (_demo, browser, client) = setup().await;
    client
        .command("set_enabled", json!({"enabled": true}))
        .await;
    client.command("set_all", json!({"value": 2.0})).await;
    client
        .command("set_active", json!({"channel": 0, "active": true}))
        .await;
    browser.fill("#acq-rate", "40").await;
    browser.click("#acq-start").await;
    client
        .wait_for(|state| state["acquisition"]["running"] == true)
        .await;
    browser
        .wait_until(
            "binary trace frames reach the plot",
            "Number(document.querySelector('#trace-plot').dataset.frames) >= 10",
        )
        .await;
    browser
        .wait_until(
            "counts reach their plot",
            "Number(document.querySelector('#counts-plot').dataset.points) >= 10",
        )
        .await;
    browser
        .wait_until(
            "the histogram fills",
            "Number(document.querySelector('#histogram-plot').dataset.total) >= 30",
        )
        .await;
    browser
        .wait_until(
            "the tick count shows",
            "Number(document.querySelector('#acq-count').textContent) >= 10",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('#acq-running').textContent.trim()")
            .await,
        "running"
    );
    // Enter in the key moves to the value, Enter in the value sets it.
    browser.type_into("#label-key", "sample").await;
    browser.type_into("#label-value", "GaAs wafer 7").await;
    client
        .wait_for(|state| state["labels"]["sample"] == "GaAs wafer 7")
        .await;
    let path = browser.screenshot("demo").await;
    assert!(
        std::fs::metadata(&path)
            .expect("the screenshot exists")
            .len()
            > 10_000
    );
    browser.click("#acq-stop").await;
    client
        .wait_for(|state| state["acquisition"]["running"] == false)
        .await;
    browser.close().await;
}

/// A page function: the IEEE-754 float64 bits of each number of a list,
/// as 16 hex digits (WebDriver's JSON would turn `-0` into `0`).
const BITS_JS: &str = "function bits(values) {
    var view = new DataView(new ArrayBuffer(8));
    return Array.prototype.map.call(values, function (value) {
      view.setFloat64(0, value);
      var hex = '';
      for (var i = 0; i < 8; i++) hex += ('0' + view.getUint8(i).toString(16)).slice(-2);
      return hex;
    });
  }";

/// Parses what [`BITS_JS`] returned.
fn samples_from_bits(bits: &Value) -> Vec<f64> {
    bits.as_array()
        .unwrap_or_else(|| panic!("a list of bits, not {bits}"))
        .iter()
        .map(|hex| {
            let hex = hex.as_str().expect("hex text");
            f64::from_bits(u64::from_str_radix(hex, 16).expect("64 bits in hex"))
        })
        .collect()
}

/// The page reads a float stream's `stream_snapshot` and its binary frame
/// as the same numbers, exactly the samples widened to f64: random float32
/// and float64 samples with zeros of both signs, subnormals and every
/// exponent, serialised by the engine as the server sends them.
#[tokio::test]
async fn the_page_reads_float_snapshots_as_the_frames_samples() {
    use lab_link::engine::stream::binary_frame;
    use lab_link_testkit::{assert_same_samples, float32_samples, float64_samples};

    let (_demo, browser, _client) = setup().await;
    let sync = lab_link::LabSync::new(0_u32);
    let narrow_samples = float32_samples(24, 2000);
    let wide_samples = float64_samples(24, 2000);
    let narrow = sync.replace_stream_f32("float32-check");
    narrow.replace(narrow_samples.iter().copied());
    let wide = sync.replace_stream_f64("float64-check");
    wide.replace(wide_samples.iter().copied());
    let narrow_bytes: Vec<u8> = narrow_samples
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    let wide_bytes: Vec<u8> = wide_samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let cases = [
        (
            narrow.snapshot(),
            binary_frame(0x01, narrow.id(), 1, &narrow_bytes),
            narrow_samples
                .iter()
                .copied()
                .map(f64::from)
                .collect::<Vec<_>>(),
        ),
        (
            wide.snapshot(),
            binary_frame(0x02, wide.id(), 1, &wide_bytes),
            wide_samples.clone(),
        ),
    ];
    for (snapshot, frame, expected) in cases {
        let id = snapshot.id().to_owned();
        let read = browser
            .client
            .execute(
                &format!(
                    "{BITS_JS}
                     var lab = window.labLink, id = arguments[2];
                     lab.receive(arguments[0]);
                     var snapshot = lab.stream(id);
                     lab.receive(new Uint8Array(arguments[1]).buffer);
                     var frame = lab.stream(id);
                     return {{snapshot: bits(snapshot.data), snapshotSeq: snapshot.seq,
                              frame: bits(frame.data), frameSeq: frame.seq}};"
                ),
                vec![
                    json!(snapshot.text().expect("a JSON snapshot")),
                    json!(frame.to_vec()),
                    json!(id),
                ],
            )
            .await
            .expect("the page reads both forms");
        assert_eq!(
            (&read["snapshotSeq"], &read["frameSeq"]),
            (&json!(1), &json!(1))
        );
        let from_snapshot = samples_from_bits(&read["snapshot"]);
        let from_frame = samples_from_bits(&read["frame"]);
        assert_same_samples(
            &format!("the page's {id} snapshot"),
            &from_snapshot,
            &expected,
        );
        assert_same_samples(&format!("the page's {id} frame"), &from_frame, &expected);
    }
    browser.close().await;
}

/// After an acquisition, a page that joins gets the trace from its
/// snapshot as the same numbers a page fed by binary frames holds.
#[tokio::test]
async fn a_reloaded_page_holds_the_trace_the_frames_gave() {
    let (_demo, browser, client) = setup().await;
    client
        .command("start_acquisition", json!({"rate_hz": 50}))
        .await;
    browser
        .wait_until(
            "binary trace frames arrive",
            "window.labLink.stream('trace').frames >= 5",
        )
        .await;
    client.command("stop_acquisition", json!({})).await;
    // A tick that began before the stop may still send its frame.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let read_trace = format!(
        "{BITS_JS}
         var trace = window.labLink.stream('trace');
         return {{seq: trace.seq, frames: trace.frames, samples: bits(trace.data)}};"
    );
    let fed = browser
        .eval(&format!("(function () {{ {read_trace} }})()"))
        .await;
    assert!(fed["frames"].as_u64() >= Some(5), "{fed}");
    let seq = fed["seq"].as_u64().expect("a seq");

    browser.client.refresh().await.expect("the page reloads");
    browser
        .wait_until(
            "the reloaded page gets the trace's snapshot",
            &format!(
                "window.labLink && window.labLink.connected && window.labLink.stream('trace') \
                 && window.labLink.stream('trace').seq === {seq}"
            ),
        )
        .await;
    let joined = browser
        .eval(&format!("(function () {{ {read_trace} }})()"))
        .await;
    assert_eq!(
        joined["frames"], 0,
        "the trace comes from the snapshot alone"
    );
    let from_frames = samples_from_bits(&fed["samples"]);
    assert_eq!(from_frames.len(), 256);
    lab_link_testkit::assert_same_samples(
        "the reloaded page's trace",
        &samples_from_bits(&joined["samples"]),
        &from_frames,
    );
    browser.close().await;
}

#[tokio::test]
async fn a_version_gap_makes_the_page_resync() {
    let (demo, browser, client) = setup().await;
    client
        .command("set_enabled", json!({"enabled": true}))
        .await;
    browser
        .wait_until(
            "the switch follows",
            "document.querySelector('#enabled').checked",
        )
        .await;
    let version = client.version();
    // A patch three versions ahead: the page must not apply it, and must
    // ask for a fresh snapshot.
    let bogus = json!({"type": "patch", "version": version + 3,
                       "patch": [{"op": "replace", "path": "/enabled", "value": false}]});
    browser
        .eval(&format!(
            "window.labLink.receive({})",
            serde_json::to_string(&bogus.to_string()).unwrap()
        ))
        .await;
    browser
        .wait_until("the page resyncs", "window.labLink.resyncs === 1")
        .await;
    browser
        .wait_until(
            "the snapshot arrives",
            &format!("window.labLink.version === {version}"),
        )
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('#enabled').checked")
            .await,
        true
    );
    browser.assert_replica(&demo.state().await).await;
    // And it goes on following.
    client
        .command("set_label", json!({"key": "after", "value": "gap"}))
        .await;
    browser
        .wait_until(
            "the next patch applies",
            "window.labLink.state.labels.after === 'gap'",
        )
        .await;
    assert_eq!(browser.eval("window.labLink.resyncs").await, 1);
    browser.close().await;
}

#[tokio::test]
async fn the_page_reconnects_when_the_demo_comes_back() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-reconnect");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.sqlite");
    let file = file.to_str().unwrap();

    let demo = DemoProcess::ours(&["--persist", file]).await;
    let port = demo.port().to_string();
    let browser = Browser::open(&format!("{}/", demo.origin)).await;
    let client = TestClient::connect(&demo.ws_url()).await;
    client
        .command("set_channel", json!({"channel": 1, "value": 7.125}))
        .await;
    browser
        .wait_until(
            "the value shows",
            "Number(document.querySelector(\"tr[data-channel='1'] input.bias\").value) === 7.125",
        )
        .await;

    let (status, _) = demo.stop_with("TERM").await;
    assert!(status.success());
    browser
        .wait_until(
            "the page notices the stop",
            "document.body.dataset.connection !== 'open'",
        )
        .await;

    // Same port, same file: the page reconnects by itself and shows the
    // restored state; commands on the new server reach it.
    let demo = DemoProcess::ours(&["--port", &port, "--persist", file]).await;
    browser
        .wait_until(
            "the page reconnects",
            "document.body.dataset.connection === 'open'",
        )
        .await;
    browser
        .wait_until(
            "the restored value shows",
            "Number(document.querySelector(\"tr[data-channel='1'] input.bias\").value) === 7.125",
        )
        .await;
    let client = TestClient::connect(&demo.ws_url()).await;
    client
        .command("set_enabled", json!({"enabled": true}))
        .await;
    browser
        .wait_until(
            "the page follows the new server",
            "document.querySelector('#enabled').checked",
        )
        .await;
    browser.assert_replica(&client.replica()).await;
    browser.close().await;
}

/// The page's JSON Patch engine passes the standard conformance suite
/// (the copy carried in lab-link-core/tests/data/json-patch).
#[tokio::test]
async fn the_history_plot_shows_a_recorded_bias_voltage() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-history");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("history.sqlite");
    let demo = DemoProcess::ours(&["--history", file.to_str().unwrap()]).await;
    let browser = Browser::open(&format!("{}/", demo.origin)).await;
    let client = TestClient::connect(&demo.ws_url()).await;
    for value in [1.0, -2.5, 3.25] {
        client
            .command("set_channel", json!({"channel": 1, "value": value}))
            .await;
    }
    browser
        .wait_until(
            "channel 1 among the recorded values",
            "document.querySelector('#history-path option[value=\"/channels/1/bias_voltage\"]') !== null",
        )
        .await;
    browser
        .eval(
            "(() => { const s = document.querySelector('#history-path'); \
             s.value = '/channels/1/bias_voltage'; \
             s.dispatchEvent(new Event('change')); return s.value; })()",
        )
        .await;
    let points = browser
        .wait_until(
            "the history plot of channel 1",
            "(() => { const c = document.querySelector('#history-plot'); \
             return c.dataset.path === '/channels/1/bias_voltage' && Number(c.dataset.points) >= 3 \
             ? c.dataset.points : false; })()",
        )
        .await;
    assert_eq!(points, json!("3"));
    assert_eq!(
        browser
            .eval("document.querySelector('#history-meta').textContent")
            .await,
        json!("3 points")
    );
    browser.screenshot("history").await;
    browser.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_page_applies_json_patch_like_the_rfc() {
    let (_demo, browser, _client) = setup().await;
    let dir = support::workspace_root().join("lab-link-core/tests/data/json-patch");
    let mut checked = 0;
    for file in ["tests.json", "spec_tests.json"] {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the conformance suite at {}: {e}", path.display()));
        let cases: Vec<Value> = serde_json::from_str(&text).expect("the suite is JSON");
        let outcomes = browser
            .client
            .execute(
                "return arguments[0].map(c => {
                   try { return {ok: window.labLink.patch.apply(c.doc, c.patch)}; }
                   catch (e) { return {error: String(e && e.message || e)}; }
                 });",
                vec![Value::Array(cases.clone())],
            )
            .await
            .expect("the suite runs in the page");
        for (case, outcome) in cases.iter().zip(outcome_list(&outcomes)) {
            if case["disabled"] == true {
                continue;
            }
            let name = case["comment"].as_str().unwrap_or("(no comment)");
            if let Some(expected) = case.get("expected") {
                assert_eq!(
                    outcome.get("ok"),
                    Some(expected),
                    "{file}: {name}: {outcome}"
                );
                checked += 1;
            } else if case.get("error").is_some() {
                assert!(
                    outcome.get("error").is_some(),
                    "{file}: {name} must fail: {outcome}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 90, "only {checked} cases checked");
    browser.close().await;
}

fn outcome_list(outcomes: &Value) -> Vec<Value> {
    outcomes.as_array().expect("one outcome per case").clone()
}

/// With access control on and loopback not trusted, the page asks for the
/// first-run setup, connects once it is done, and after Log out shows the
/// login screen: a wrong passphrase is refused there, the right one
/// connects again.
#[tokio::test]
async fn the_login_flow_works_in_the_browser() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-login");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("auth.sqlite");
    let store = store.to_str().unwrap();
    let demo = DemoProcess::ours(&["--auth", store, "--no-trust-loopback"]).await;
    let browser = Browser::open_unconnected(&format!("{}/", demo.origin)).await;

    let screen = "document.querySelector('#auth-screen')";
    let error = "document.querySelector('#auth-error')";
    let user = "document.querySelector('#auth-user')";
    browser
        .wait_until(
            "the setup screen shows",
            &format!("!{screen}.hidden && {screen}.dataset.mode === 'setup'"),
        )
        .await;
    assert_ne!(
        browser.eval("document.body.dataset.connection").await,
        "open"
    );
    assert_eq!(browser.eval(&format!("{user}.hidden")).await, true);
    assert_eq!(browser.eval(&format!("{error}.hidden")).await, true);
    assert_eq!(
        browser
            .eval("document.querySelector('#auth-passphrase').getAttribute('autocomplete')")
            .await,
        "new-password"
    );
    assert_eq!(
        browser
            .eval("document.activeElement && document.activeElement.id")
            .await,
        "auth-passphrase",
        "the passphrase field has the focus"
    );

    // Too short: refused with the weak-passphrase message.
    browser.fill("#auth-passphrase", "too short").await;
    browser.fill("#auth-confirm", "too short").await;
    browser.click("#auth-submit").await;
    browser
        .wait_until(
            "the weak-passphrase message shows",
            &format!("!{error}.hidden && {error}.textContent.includes('at least 12 characters')"),
        )
        .await;
    assert_eq!(
        browser.eval(&format!("{screen}.dataset.mode")).await,
        "setup"
    );
    assert_ne!(
        browser.eval("document.body.dataset.connection").await,
        "open"
    );

    // A good one, confirmed; Enter submits.
    let passphrase = "correct horse battery staple";
    browser.fill("#auth-passphrase", passphrase).await;
    browser.fill("#auth-device", "e2e browser").await;
    browser.type_into("#auth-confirm", passphrase).await;
    browser
        .wait_until(
            "the page connects after setup",
            "document.body.dataset.connection === 'open'",
        )
        .await;
    browser
        .wait_until(
            "the header shows who we are",
            &format!("!{user}.hidden && {user}.textContent.trim() === 'e2e browser'"),
        )
        .await;
    assert_eq!(browser.eval(&format!("{screen}.hidden")).await, true);
    assert_eq!(
        browser
            .eval("document.querySelector('#auth-logout').hidden")
            .await,
        false
    );

    // Log out: the login screen, and no socket.
    browser.click("#auth-logout").await;
    browser
        .wait_until(
            "the login screen shows",
            &format!("!{screen}.hidden && {screen}.dataset.mode === 'login'"),
        )
        .await;
    assert_ne!(
        browser.eval("document.body.dataset.connection").await,
        "open"
    );
    assert_eq!(browser.eval(&format!("{user}.hidden")).await, true);
    assert_eq!(
        browser
            .eval("document.querySelector('#auth-passphrase').getAttribute('autocomplete')")
            .await,
        "current-password"
    );
    assert_eq!(
        browser
            .eval("document.querySelector('#auth-confirm').closest('[hidden]') !== null")
            .await,
        true,
        "no confirm field when logging in"
    );
    let path = browser.screenshot("login").await;
    assert!(
        std::fs::metadata(&path)
            .expect("the screenshot exists")
            .len()
            > 5_000
    );

    // A wrong passphrase is refused.
    browser
        .type_into("#auth-passphrase", "not the passphrase")
        .await;
    browser
        .wait_until(
            "the wrong-passphrase message shows",
            &format!("!{error}.hidden && {error}.textContent.includes('Wrong passphrase')"),
        )
        .await;
    assert_eq!(
        browser.eval(&format!("{screen}.dataset.mode")).await,
        "login"
    );
    assert_ne!(
        browser.eval("document.body.dataset.connection").await,
        "open"
    );

    // The right one connects again, and the page shows the state.
    browser.click("#auth-remember").await;
    browser.type_into("#auth-passphrase", passphrase).await;
    browser
        .wait_until(
            "the page connects after login",
            "document.body.dataset.connection === 'open'",
        )
        .await;
    browser
        .wait_until(
            "the channels show",
            "document.querySelectorAll('#channels tr[data-channel]').length === 4",
        )
        .await;
    assert_eq!(browser.eval(&format!("{screen}.hidden")).await, true);
    assert_eq!(
        browser.eval(&format!("{user}.textContent.trim()")).await,
        "e2e browser"
    );
    let names = browser
        .eval("[...document.querySelectorAll('#channels tr[data-channel] .channel-name')].map(e => e.textContent.trim())")
        .await;
    assert_eq!(names, json!(["ch0", "ch1", "ch2", "ch3"]));
    browser.close().await;
    drop(demo);
}
