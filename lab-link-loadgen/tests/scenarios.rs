//! Every scenario at tiny size against an in-process lab-link server that
//! serves a small subset of the demo contract (DEMO.md): the state's
//! channels and acquisition, `set_channel`, `start_acquisition`,
//! `stop_acquisition`, and the three streams. Checks that each scenario
//! runs and finds the server correct; no figure is asserted (no
//! wall-clock speed assertions in tests).

use std::time::Duration;

use lab_link::command::DisplayHint;
use lab_link::{command, CommandError, LabSync, Reactive, Server};
use lab_link_loadgen::client::Target;
use lab_link_loadgen::procfs::Probe;
use lab_link_loadgen::scenario::{self, Context, Sizes, SCENARIOS};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Reactive, Serialize, Clone, Debug)]
struct Channel {
    name: String,
    bias_voltage: f64,
    active: bool,
}

#[derive(Reactive, Serialize, Clone, Debug)]
struct Acquisition {
    running: bool,
    rate_hz: f64,
    count: u64,
}

#[derive(Reactive, Serialize, Clone, Debug)]
struct Demo {
    enabled: bool,
    channels: Vec<Channel>,
    acquisition: Acquisition,
}

fn out_of_range(path: &str) -> CommandError {
    CommandError::new("out_of_range", "Value out of range.")
        .display(DisplayHint::Inline)
        .path(path.to_owned())
}

/// Set one channel's bias voltage, rounded to millivolts.
#[command]
fn set_channel(sync: LabSync<Demo>, channel: usize, value: f64) -> Result<Value, CommandError> {
    if channel >= sync.read().channels.len() {
        return Err(out_of_range(&format!("/channels/{channel}")));
    }
    if !value.is_finite() || value.abs() > 10.0 {
        return Err(out_of_range(&format!("/channels/{channel}/bias_voltage")));
    }
    let rounded = (value * 1000.0).round() / 1000.0;
    sync.try_mutate(|s| s.channels().at(channel)?.set_bias_voltage(rounded))?;
    Ok(json!({"channel": channel, "value": rounded}))
}

/// Start ticking at `rate_hz`.
#[command]
fn start_acquisition(sync: LabSync<Demo>, rate_hz: f64) -> Result<Value, CommandError> {
    if !(rate_hz > 0.0 && rate_hz <= 1000.0) {
        return Err(out_of_range("/acquisition/rate_hz"));
    }
    sync.try_mutate(|s| {
        s.acquisition().set_rate_hz(rate_hz)?;
        s.acquisition().set_running(true)
    })?;
    Ok(json!({"rate_hz": rate_hz}))
}

/// Stop ticking.
#[command]
fn stop_acquisition(sync: LabSync<Demo>) -> Result<(), CommandError> {
    sync.try_mutate(|s| s.acquisition().set_running(false))?;
    Ok(())
}

/// Serves the demo subset on 127.0.0.1:0 and returns its base URL.
async fn serve() -> String {
    let sync = LabSync::new(Demo {
        enabled: false,
        channels: (0..4)
            .map(|i| Channel {
                name: format!("ch{i}"),
                bias_voltage: 0.0,
                active: false,
            })
            .collect(),
        acquisition: Acquisition {
            running: false,
            rate_hz: 10.0,
            count: 0,
        },
    });
    sync.command(set_channel);
    sync.command(start_acquisition);
    sync.command(stop_acquisition);
    let counts = sync.append_stream("counts", 1000);
    let trace = sync.replace_stream_f32("trace");
    let histogram = sync.int_delta_stream("histogram", 64);
    let ticker = sync.clone();
    tokio::spawn(async move {
        let mut tick = 0u64;
        loop {
            let (running, rate_hz) = {
                let state = ticker.read();
                (state.acquisition.running, state.acquisition.rate_hz)
            };
            tokio::time::sleep(Duration::from_secs_f64(1.0 / rate_hz)).await;
            if !running {
                continue;
            }
            tick += 1;
            let _ = counts.append([tick % 100]);
            trace.replace((0..16).map(|i| (tick + i) as f32));
            let _ = histogram.add((tick % 64) as usize, 1);
            let _ = ticker.try_mutate(|s| {
                let count = s.acquisition.count + 1;
                s.acquisition().set_count(count)
            });
        }
    });
    let server = Server::builder()
        .bind(sync, "127.0.0.1:0")
        .await
        .expect("binds 127.0.0.1:0");
    let url = format!("http://{}/sync", server.local_addr());
    tokio::spawn(server.run());
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_and_finds_the_server_correct() {
    let url = serve().await;
    let context = Context {
        target: Target::parse(&url).expect("a good url"),
        probe: Probe::new(std::process::id()),
        sizes: Sizes::tiny(),
    };
    let mut report = lab_link_loadgen::report::Report::default();
    for name in SCENARIOS {
        let result = tokio::time::timeout(Duration::from_secs(60), scenario::run(&context, name))
            .await
            .unwrap_or_else(|_| panic!("{name} took over a minute"))
            .unwrap_or_else(|error| panic!("{name} did not run: {error}"));
        assert!(result.ok, "{name}: {:?}", result.failures);
        assert!(!result.figures.is_empty(), "{name} measured nothing");
        report.merge(result);
    }
    // Shown with `--nocapture`: handy when a scenario changes.
    eprintln!("{}", report.table());
    assert!(scenario::run(&context, "nonsense").await.is_err());
}

/// Kills the child on drop, so a failed assertion does not leave it behind.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bare_server_passes_the_scenarios_it_serves() {
    use std::io::BufRead;

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lab-link-bare"))
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map(Child)
        .expect("lab-link-bare starts");
    let stdout = child.0.stdout.take().expect("piped");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reads the listening line");
    let base = line
        .trim()
        .strip_prefix("lab-link demo listening on ")
        .unwrap_or_else(|| panic!("not a listening line: {line:?}"));
    let context = Context {
        target: Target::parse(&format!("{base}/sync")).expect("a good url"),
        probe: Probe::new(child.0.id()),
        sizes: Sizes::tiny(),
    };
    for name in ["fan_out", "fan_out_paced", "command_rtt", "connect_storm"] {
        let result = tokio::time::timeout(Duration::from_secs(60), scenario::run(&context, name))
            .await
            .unwrap_or_else(|_| panic!("{name} took over a minute"))
            .unwrap_or_else(|error| panic!("{name} did not run: {error}"));
        assert!(result.ok, "{name}: {:?}", result.failures);
    }
    // Out of range, as in the demo contract, and the document unchanged.
    use futures_util::StreamExt;
    let before = context.target.state().await.expect("GET /state");
    let mut ws = context.target.connect(None).await.expect("connects");
    let params = json!({"channel": 0, "value": 11.0});
    lab_link_loadgen::client::send_command(&mut ws, "set_channel", params, "too-high")
        .await
        .expect("sends");
    let answer = loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an answer within 10 s")
            .expect("the socket stays open")
            .expect("a frame");
        let frame: Value = serde_json::from_str(frame.to_text().expect("text")).expect("JSON");
        if frame["requestId"] == "too-high" {
            break frame;
        }
    };
    assert_eq!(answer["type"], "command_error", "{answer}");
    assert_eq!(answer["code"], "out_of_range", "{answer}");
    assert_eq!(context.target.state().await.expect("GET /state"), before);
}
