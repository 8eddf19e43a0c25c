//! End-to-end tests of the control panel lab-link generates from
//! `/schema`, in headless Chromium, on two different states: the demo
//! (its binary with `--panel generated`, or in process with access
//! control) and the downstream example's power supply (in process, served
//! by a plain `Server` with no UI code of its own). Each test checks the
//! page against a testkit client on the same server and saves a
//! screenshot under `target/e2e/`.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use lab_link::auth::{Auth, AuthConfig};
use lab_link::server::IntoSource;
use lab_link::{Server, ServerConfig};
use lab_link_testkit::TestClient;
use serde_json::{json, Value};
use support::browser::Browser;
use support::DemoProcess;

/// The demo's binary serving the generated panel, the panel open in
/// Chromium, and a testkit client.
async fn demo(args: &[&str]) -> (DemoProcess, Browser, TestClient) {
    let demo = DemoProcess::ours(&[&["--panel", "generated"], args].concat()).await;
    let browser = Browser::open(&format!("{}/", demo.origin)).await;
    rendered(&browser).await;
    let client = TestClient::connect(&demo.ws_url()).await;
    (demo, browser, client)
}

/// A state served in process by a plain `Server` (the panel is its
/// default page), with `config`.
async fn serve(sync: impl IntoSource, config: ServerConfig) -> SocketAddr {
    let server = Server::builder()
        .config(config)
        .bind(sync, "127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = server.local_addr();
    tokio::spawn(server.run());
    addr
}

/// The power supply of `examples/downstream` with its readback stream,
/// the panel open on it, and a testkit client.
async fn power_supply() -> (lab_link::AppendStream, Browser, TestClient) {
    let (sync, readback) = downstream::power_supply_with_readback();
    let addr = serve(sync, ServerConfig::default()).await;
    let browser = Browser::open(&format!("http://{addr}/")).await;
    rendered(&browser).await;
    let client = TestClient::connect(&format!("ws://{addr}/sync/ws")).await;
    (readback, browser, client)
}

/// Waits for the panel's first render of the state.
async fn rendered(browser: &Browser) {
    browser
        .wait_until(
            "the panel renders",
            "performance.getEntriesByName('lab-link-panel:rendered').length > 0",
        )
        .await;
}

/// Every state field the panel shows, by path, with the unit beside it.
async fn fields_with_units(browser: &Browser) -> Value {
    browser
        .eval(
            "Object.fromEntries([...document.querySelectorAll('.card:not([data-card=Commands]) .field[data-path]')]
               .map((e) => [e.dataset.path, e.querySelector('.unit')?.textContent ?? null]))",
        )
        .await
}

/// The text of the inline error at the field `path`.
fn error_at(path: &str) -> String {
    format!("document.querySelector('.field[data-path=\"{path}\"] .error')?.textContent")
}

#[tokio::test]
async fn the_demo_panel_shows_every_field_with_its_unit() {
    let (demo, browser, _client) = demo(&[]).await;
    let mut expected = serde_json::Map::new();
    expected.insert("/enabled".into(), Value::Null);
    for i in 0..4 {
        expected.insert(format!("/channels/{i}/name"), Value::Null);
        expected.insert(format!("/channels/{i}/bias_voltage"), json!("V"));
        expected.insert(format!("/channels/{i}/active"), Value::Null);
    }
    expected.insert("/acquisition/running".into(), Value::Null);
    expected.insert("/acquisition/rate_hz".into(), json!("Hz"));
    expected.insert("/acquisition/count".into(), Value::Null);
    assert_eq!(fields_with_units(&browser).await, Value::Object(expected));
    // Values with their precision: millivolts, as `precision = 3` says.
    assert_eq!(
        browser
            .eval("document.querySelector('.field[data-path=\"/channels/2/bias_voltage\"] input').value")
            .await,
        "0.000"
    );
    assert_eq!(
        browser
            .eval("document.querySelector('th[title]:nth-child(3)').textContent")
            .await,
        "Bias voltage (V)"
    );
    // A command with an `edits` binding is its field's editor; the others are forms.
    let forms = browser
        .eval("[...document.querySelectorAll('form.command')].map((f) => f.dataset.command)")
        .await;
    assert_eq!(
        forms,
        json!([
            "add_channel",
            "ramp_channel",
            "remove_channel",
            "reset",
            "set_all",
            "simulate_timeout",
            "stop_acquisition"
        ])
    );
    // The demo's own UI is still served, under /demo/.
    let (status, own) = support::get(&demo.origin, "/demo/").await;
    assert_eq!(status, 200);
    assert!(
        own.contains("lab-link demo: 4-channel bias source"),
        "{own}"
    );
    browser.screenshot("panel-demo").await;
    browser.close().await;
}

#[tokio::test]
async fn an_inline_edit_in_the_demo_panel_reaches_a_client_and_back() {
    let (_demo, browser, client) = demo(&[]).await;
    browser
        .type_into(".field[data-path='/channels/1/bias_voltage'] input", "2.5")
        .await;
    client
        .wait_for(|state| state["channels"][1]["bias_voltage"] == 2.5)
        .await;
    browser.click(".field[data-path='/enabled'] input").await;
    client.wait_for(|state| state["enabled"] == true).await;
    // A map entry through its command (`set_label`, `/labels/{key}`).
    browser.fill(".map-add input[name=key]", "sample/id").await;
    browser.fill(".map-add input[name=value]", "B-12").await;
    browser.click(".map-add button[type=submit]").await;
    client
        .wait_for(|state| state["labels"]["sample/id"] == "B-12")
        .await;

    // Another client's command reaches the panel without a reload.
    client
        .command("set_channel", json!({"channel": 3, "value": -4.25}))
        .await;
    browser
        .wait_until(
            "the panel shows the other client's edit",
            "document.querySelector('.field[data-path=\"/channels/3/bias_voltage\"] input').value === '-4.250'",
        )
        .await;
    browser
        .wait_until(
            "the new label is listed",
            "document.querySelector('.field[data-path=\"/labels/sample~1id\"] input')?.value === 'B-12'",
        )
        .await;
    browser.assert_replica(&client.replica()).await;
    browser.close().await;
}

#[tokio::test]
async fn an_out_of_range_edit_is_refused_inline() {
    let (_demo, browser, client) = demo(&[]).await;
    // The client-side check, from the schema's limits: nothing is sent.
    browser
        .type_into(".field[data-path='/channels/0/bias_voltage'] input", "12")
        .await;
    let message = browser
        .wait_until("the inline error", &error_at("/channels/0/bias_voltage"))
        .await;
    assert_eq!(message, "Bias voltage must be at most 10 V");
    let rate = browser.eval(&error_at("/acquisition/rate_hz")).await;
    assert_eq!(rate, "");
    browser
        .type_into(".field[data-path='/acquisition/rate_hz'] input", "0")
        .await;
    let message = browser
        .wait_until("the inline error", &error_at("/acquisition/rate_hz"))
        .await;
    assert_eq!(message, "Rate must be above 0 Hz");
    assert_eq!(client.replica()["channels"][0]["bias_voltage"], 0.0);
    assert_eq!(client.version(), 0, "nothing was sent");
    // The server's own refusal of a form, shown with its message.
    browser
        .fill("form[data-command=remove_channel] input[name=channel]", "9")
        .await;
    browser
        .click("form[data-command=remove_channel] button[type=submit]")
        .await;
    let message = browser
        .wait_until(
            "the server's error",
            "document.querySelector('form[data-command=remove_channel] .form-error').textContent",
        )
        .await;
    assert!(
        message.as_str().is_some_and(|m| m.contains("9")),
        "{message}"
    );
    browser.screenshot("panel-demo-refused").await;
    browser.close().await;
}

#[tokio::test]
async fn a_generated_form_runs_a_command_and_shows_its_result() {
    let (_demo, browser, client) = demo(&[]).await;
    browser
        .fill("form[data-command=add_channel] input[name=name]", "probe")
        .await;
    browser
        .click("form[data-command=add_channel] button[type=submit]")
        .await;
    let result = browser
        .wait_until(
            "the result",
            "document.querySelector('form[data-command=add_channel] output').textContent.startsWith('{') && document.querySelector('form[data-command=add_channel] output').textContent",
        )
        .await;
    assert_eq!(result, r#"{"index":4}"#);
    client
        .wait_for(|state| state["channels"][4]["name"] == "probe")
        .await;
    // A required param left empty is refused before sending.
    browser
        .click("form[data-command=set_all] button[type=submit]")
        .await;
    let message = browser
        .wait_until(
            "the required param",
            "document.querySelector('form[data-command=set_all] [data-param=value] .error').textContent",
        )
        .await;
    assert_eq!(message, "Bias voltage is required");
    browser.close().await;
}

#[tokio::test]
async fn the_demo_panel_plots_its_three_streams() {
    let (_demo, browser, client) = demo(&[]).await;
    let kinds = browser
        .eval("Object.fromEntries([...document.querySelectorAll('figure[data-stream]')].map((f) => [f.dataset.stream, f.dataset.plot]))")
        .await;
    assert_eq!(
        kinds,
        json!({"counts": "line", "trace": "trace", "histogram": "histogram"})
    );
    client
        .command("start_acquisition", json!({"rate_hz": 50.0}))
        .await;
    for id in ["counts", "trace", "histogram"] {
        browser
            .wait_until(
                &format!("the {id} plot receives frames"),
                &format!("Number(document.querySelector('figure[data-stream={id}]').dataset.updates) > 10"),
            )
            .await;
    }
    let drawn = browser
        .wait_until(
            "the plots are drawn",
            "[...document.querySelectorAll('figure[data-stream]')].every((f) => f.dataset.drawMs !== undefined)",
        )
        .await;
    assert_eq!(drawn, true);
    let draw_ms = browser
        .eval("Object.fromEntries([...document.querySelectorAll('figure[data-stream]')].map((f) => [f.dataset.stream, Number(f.dataset.drawMs)]))")
        .await;
    println!("last draw of each plot, ms: {draw_ms}");
    browser.screenshot("panel-demo-streams").await;
    browser.close().await;
}

#[tokio::test]
async fn the_panel_is_read_only_for_a_principal_without_control() {
    // The instrument computer's own principal, stripped of `control`.
    let auth = Auth::new(
        AuthConfig::new()
            .passphrase("correct horse battery staple")
            .local_capabilities(Vec::<String>::new()),
    )
    .expect("access control");
    for (name, addr) in [
        (
            "demo",
            serve(
                lab_link_demo::instrument(),
                ServerConfig::default().auth(auth.clone()),
            )
            .await,
        ),
        (
            "power-supply",
            serve(
                downstream::power_supply(),
                ServerConfig::default().auth(auth.clone()),
            )
            .await,
        ),
    ] {
        let browser = Browser::open(&format!("http://{addr}/")).await;
        rendered(&browser).await;
        assert_eq!(browser.eval("document.body.dataset.readOnly").await, "true");
        let banner = browser
            .eval("document.querySelector('#read-only').textContent")
            .await;
        assert!(
            banner
                .as_str()
                .is_some_and(|b| b.contains("lacks the control capability")),
            "{banner}"
        );
        let enabled = browser
            .eval("[...document.querySelectorAll('main input, main select, main button[type=submit]')].filter((e) => !e.disabled).length")
            .await;
        assert_eq!(enabled, 0, "{name}: every control is disabled");
        let disabled = browser
            .eval("document.querySelectorAll('main input:disabled, main select:disabled').length")
            .await;
        assert!(
            disabled.as_u64() >= Some(4),
            "{name}: {disabled} disabled controls"
        );
        let why = browser
            .eval("document.querySelector('main input:disabled').title")
            .await;
        assert!(
            why.as_str().is_some_and(|w| w.starts_with("read-only")),
            "{name}: {why}"
        );
        browser.screenshot(&format!("panel-{name}-read-only")).await;
        browser.close().await;
    }
}

#[tokio::test]
async fn the_power_supply_panel_shows_every_field_and_edits_inline() {
    let (_readback, browser, client) = power_supply().await;
    assert_eq!(
        fields_with_units(&browser).await,
        json!({
            "/output_enabled": null,
            "/setpoint_v": "V",
            "/mode": null,
            "/current_limit_a": "A",
            "/voltage_limit_v": "V",
        })
    );
    assert_eq!(
        browser
            .eval("document.querySelector('.field[data-path=\"/voltage_limit_v\"] .value').textContent")
            .await,
        "24.0"
    );
    browser
        .type_into(".field[data-path='/setpoint_v'] input", "12.5")
        .await;
    client.wait_for(|state| state["setpoint_v"] == 12.5).await;

    // Within the schema's range, above the protection's limit: the
    // server's refusal, inline, in its own words.
    browser
        .type_into(".field[data-path='/setpoint_v'] input", "25")
        .await;
    let message = browser
        .wait_until("the server's inline error", &error_at("/setpoint_v"))
        .await;
    assert_eq!(message, "25 V is above the over-voltage limit of 24 V");
    // Outside the schema's range: refused before sending.
    browser
        .type_into(".field[data-path='/setpoint_v'] input", "31")
        .await;
    browser
        .wait_until(
            "the client-side check",
            &format!(
                "{} === 'Setpoint must be at most 30 V'",
                error_at("/setpoint_v")
            ),
        )
        .await;
    assert_eq!(client.replica()["setpoint_v"], 12.5);
    browser.screenshot("panel-power-supply-refused").await;
    browser.close().await;
}

#[tokio::test]
async fn the_power_supply_form_takes_an_enum_and_an_optional_param() {
    let (readback, browser, client) = power_supply().await;
    let form = "form[data-command=configure]";
    let label = browser
        .eval(&format!(
            "document.querySelector('{form} [data-param=current_limit_a] label').textContent"
        ))
        .await;
    assert_eq!(label, "Current limit a (optional)");
    let options = browser
        .eval(&format!(
            "[...document.querySelectorAll('{form} select[name=mode] option')].map((o) => o.value)"
        ))
        .await;
    assert_eq!(options, json!(["constant_voltage", "constant_current"]));
    // The enum chosen, the optional param left out.
    browser
        .eval(&format!(
            "(() => {{ const s = document.querySelector('{form} select[name=mode]'); s.value = 'constant_current'; return true; }})()"
        ))
        .await;
    browser.click(&format!("{form} button[type=submit]")).await;
    let result = browser
        .wait_until(
            "the result",
            &format!(
                "document.querySelector('{form} output').textContent === '\"constant_current\"'"
            ),
        )
        .await;
    assert_eq!(result, true);
    let state = client
        .wait_for(|state| state["mode"] == "constant_current")
        .await;
    assert_eq!(state["current_limit_a"], Value::Null);
    // Then with the optional param.
    browser
        .fill(&format!("{form} input[name=current_limit_a]"), "1.5")
        .await;
    browser.click(&format!("{form} button[type=submit]")).await;
    client
        .wait_for(|state| state["current_limit_a"] == 1.5)
        .await;
    browser
        .wait_until(
            "the panel shows the limit",
            "document.querySelector('.field[data-path=\"/current_limit_a\"] .value').textContent === '1.500'",
        )
        .await;

    // The readback stream, plotted as a line over readings.
    for volts in [0.0, 1.0, 2.5, 2.4, 2.6] {
        readback.append([volts]).expect("a number");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    browser
        .wait_until(
            "the plot receives the readings",
            "Number(document.querySelector('figure[data-stream=readback]').dataset.updates) >= 5",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('figure[data-stream=readback]').dataset.plot")
            .await,
        "line"
    );
    browser.screenshot("panel-power-supply").await;
    browser.close().await;
}

#[tokio::test]
async fn the_panel_fits_a_phone_in_the_dark_theme() {
    let (_readback, browser, _client) = power_supply().await;
    browser
        .client
        .set_window_size(390, 844)
        .await
        .expect("a phone-sized window");
    browser.click("#theme").await;
    let theme = browser.eval("document.documentElement.dataset.theme").await;
    assert!(theme == "dark" || theme == "light", "{theme}");
    browser.click("#theme").await;
    let other = browser.eval("document.documentElement.dataset.theme").await;
    assert_ne!(theme, other, "the button switches the theme");
    if other != "dark" {
        browser.click("#theme").await;
    }
    let overflow = browser
        .eval("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        .await;
    assert_eq!(overflow, 0, "no sideways scrolling at phone width");
    browser.screenshot("panel-power-supply-phone-dark").await;
    browser.close().await;
}

/// Time to first render and JS heap of the panel on a 1,000-channel demo,
/// from Chromium's performance API: printed, not asserted as a limit. The
/// table shows one page of rows; paging shows the next.
#[tokio::test]
async fn a_thousand_channels_render_one_page_at_a_time() {
    let (_demo, browser, client) = demo(&["--channels", "1000"]).await;
    let figures = browser
        .eval(
            "({
                rendered_ms: performance.getEntriesByName('lab-link-panel:rendered')[0].startTime,
                heap_bytes: performance.memory ? performance.memory.usedJSHeapSize : null,
                dom_nodes: document.getElementsByTagName('*').length,
                rows: document.querySelectorAll('.table tbody tr').length,
                position: document.querySelector('.page-position').textContent,
            })",
        )
        .await;
    println!("panel with 1,000 channels: {figures}");
    assert_eq!(figures["rows"], 50);
    assert_eq!(figures["position"], "rows 1–50 of 1000");
    browser.click(".page-next").await;
    browser
        .wait_until(
            "the second page",
            "document.querySelector('.table tbody tr').dataset.row === '50'",
        )
        .await;
    // A change on the page shown reaches it.
    client
        .command("set_channel", json!({"channel": 60, "value": 1.5}))
        .await;
    browser
        .wait_until(
            "the change on the second page",
            "document.querySelector('.field[data-path=\"/channels/60/bias_voltage\"] input').value === '1.500'",
        )
        .await;
    browser.screenshot("panel-demo-1000-channels").await;
    browser.close().await;
}
