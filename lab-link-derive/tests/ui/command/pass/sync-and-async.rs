//! A plain `fn` and an `async fn` become commands: registered by value,
//! dispatched with JSON params, and still callable directly.
use std::future::Future;
use std::task::{Context, Poll, Waker};

use lab_link::server::SyncSource;
use lab_link::{command, CommandContext, CommandError, LabSync, Reactive};
use serde::Serialize;
use serde_json::{json, Map, Value};

#[derive(Reactive, Serialize, Default)]
struct State {
    voltage: f64,
}

/// Set the voltage.
#[command]
async fn set_voltage(sync: LabSync<State>, value: f64) -> Result<f64, CommandError> {
    sync.try_mutate(|state| state.set_voltage(value))?;
    Ok(value)
}

/// The voltage.
#[command]
fn voltage(sync: LabSync<State>, ctx: CommandContext) -> f64 {
    assert_eq!(ctx.command(), "voltage");
    sync.read().voltage
}

/// Polls a future that never waits: these commands never do.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = Box::pin(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the command waited"),
    }
}

fn params(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn main() {
    let sync = LabSync::new(State::default());
    sync.command(set_voltage).command(voltage);

    let ctx = CommandContext::new("c1", Some("r1".into()), "set_voltage");
    let result = ready(sync.dispatch(ctx, params(json!({"value": 1.5}))));
    assert_eq!(result, Ok(Some(json!(1.5))));
    let ctx = CommandContext::new("c1", None, "voltage");
    assert_eq!(ready(sync.dispatch(ctx, Map::new())), Ok(Some(json!(1.5))));

    assert_eq!(ready(set_voltage(sync.clone(), 2.5)), Ok(2.5));
    let ctx = CommandContext::new("c1", None, "voltage");
    assert_eq!(voltage(sync, ctx), 2.5);
}
