//! `stream`: the demo's acquisition at its highest rate, to many
//! subscribers: one `/acquisition/count` patch and three stream updates
//! per tick.

use std::time::{Duration, Instant};

use futures_util::future::try_join_all;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::clients::{command, fence, Subscriber};
use super::{per_item_us, per_second, Context};
use crate::report::{Better, ScenarioResult};
use crate::{Error, Result};

/// Runs `stream`.
pub(super) async fn run(context: &Context) -> Result<ScenarioResult> {
    let sizes = &context.sizes;
    let target = &context.target;
    let mut result = ScenarioResult::new("stream");
    result.param("subscribers", sizes.stream_subscribers);
    result.param("rate_hz", sizes.stream_rate);
    result.param("seconds", sizes.duration.as_secs_f64());
    let subscribers = try_join_all(
        (0..sizes.stream_subscribers).map(|i| Subscriber::connect(target, i < sizes.samples, None)),
    )
    .await?;
    let (mut driver, _) = Subscriber::connect(target, false, None).await?;
    let base = Instant::now();
    let deadline = tokio::time::Instant::now() + sizes.duration + sizes.catch_up;
    let (stop, stop_rx) = watch::channel(u64::MAX);
    let tasks: Vec<_> = subscribers
        .into_iter()
        .map(|(ws, subscriber)| tokio::spawn(subscriber.run(ws, stop_rx.clone(), base, deadline)))
        .collect();
    let count_before = acquisition_count(&target.state().await?)?;
    let cpu_before = context.probe.cpu()?;
    let started = Instant::now();
    let run: Result<u64> = async {
        command(
            &mut driver,
            "start_acquisition",
            json!({"rate_hz": sizes.stream_rate}),
            "start",
        )
        .await?;
        tokio::time::sleep(sizes.duration).await;
        command(&mut driver, "stop_acquisition", json!({}), "stop").await?;
        // A tick may still be on its way: wait a little, then take the
        // version every subscriber must reach.
        tokio::time::sleep(Duration::from_millis(200)).await;
        fence(&mut driver, 0).await
    }
    .await;
    let sent_for = started.elapsed();
    let final_version = match run {
        Ok(version) => version,
        Err(error) => {
            result.fail(format!("driver: {error}"));
            drop(stop);
            for task in tasks {
                task.abort();
            }
            return Ok(result);
        }
    };
    let _ = stop.send(final_version);
    let mut subscribers = Vec::new();
    for task in tasks {
        match task.await {
            Ok(subscriber) => subscribers.push(subscriber),
            Err(error) => result.fail(format!("a subscriber failed: {error}")),
        }
    }
    let cpu = context.probe.cpu()?.saturating_sub(cpu_before);
    let state = target.state().await?;
    let ticks = acquisition_count(&state)?.saturating_sub(count_before);

    let mut deliveries = 0;
    let mut stream_messages = 0;
    let mut last_delivery = None;
    for (index, mut subscriber) in subscribers.into_iter().enumerate() {
        let who = format!("subscriber {index}");
        subscriber.verify(&who, final_version, &state, &mut result);
        for (id, track) in &subscriber.streams {
            result.check(track.disorders == 0, || {
                format!(
                    "{who}: stream {id}: {} updates out of order",
                    track.disorders
                )
            });
        }
        result.check(subscriber.stream_messages > 0 || ticks == 0, || {
            format!("{who}: no stream message over {ticks} ticks")
        });
        stream_messages += subscriber.stream_messages;
        deliveries += subscriber.track.patches + subscriber.stream_messages;
        last_delivery = last_delivery.max(subscriber.last_delivery);
    }
    result.check(ticks > 0, || "the acquisition never ticked".to_owned());
    let elapsed = last_delivery.map_or(Duration::ZERO, |last| {
        last.saturating_duration_since(started)
    });
    result.figure(
        "ticks",
        per_second(ticks, sizes.duration),
        "/s",
        Better::Higher,
    );
    result.figure(
        "deliveries (patches and stream messages)",
        per_second(deliveries, elapsed),
        "/s",
        Better::Higher,
    );
    result.figure(
        "stream messages",
        per_second(stream_messages, elapsed),
        "/s",
        Better::Higher,
    );
    result.figure(
        "server CPU per tick",
        per_item_us(cpu, ticks),
        "µs",
        Better::Lower,
    );
    result.figure(
        "server CPU per delivery",
        per_item_us(cpu, deliveries),
        "µs",
        Better::Lower,
    );
    result.param("ticks", ticks);
    result.param("run_seconds", sent_for.as_secs_f64());
    Ok(result)
}

/// `/acquisition/count` of a state.
fn acquisition_count(state: &Value) -> Result<u64> {
    state
        .pointer("/acquisition/count")
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::Protocol("the state has no /acquisition/count".to_owned()))
}
