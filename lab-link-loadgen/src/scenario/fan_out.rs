//! `fan_out` and `fan_out_paced`: one driver, many subscribers.

use std::time::Instant;

use futures_util::future::try_join_all;
use tokio::sync::watch;

use super::clients::{drive, Pace, Subscriber};
use super::{per_item_us, per_second, Context};
use crate::report::{Better, ScenarioResult};
use crate::stats::{micros, Latencies};
use crate::Result;

/// How many times less CPU per delivery than the reference's we aim for.
const CPU_PER_DELIVERY_RATIO_TARGET: f64 = 30.0;

/// Without a reference run: the reference spends about 16 µs of CPU per
/// delivery, so the target is 30 times less than that.
const CPU_PER_DELIVERY_TARGET_US: f64 = 16.0 / CPU_PER_DELIVERY_RATIO_TARGET;

/// p99 of command-to-delivery latency at 1,000 commands/s, in µs.
const PACED_P99_TARGET_US: f64 = 2000.0;

/// Runs `fan_out` (`rate: None`: as fast as acks allow) or
/// `fan_out_paced` (`rate` commands per second).
pub(super) async fn run(
    context: &Context,
    name: &str,
    rate: Option<f64>,
) -> Result<ScenarioResult> {
    let sizes = &context.sizes;
    let target = &context.target;
    let mut result = ScenarioResult::new(name);
    result.param("subscribers", sizes.subscribers);
    result.param("seconds", sizes.duration.as_secs_f64());
    match rate {
        Some(rate) => result.param("commands_per_second", rate),
        None => result.param("window", sizes.window),
    }
    let subscribers = try_join_all(
        (0..sizes.subscribers).map(|i| Subscriber::connect(target, i < sizes.samples, None)),
    )
    .await?;
    let (driver_ws, driver) = Subscriber::connect(target, false, None).await?;
    let base = Instant::now();
    let deadline = tokio::time::Instant::now() + sizes.duration + sizes.catch_up;
    let (stop, stop_rx) = watch::channel(u64::MAX);
    let tasks: Vec<_> = subscribers
        .into_iter()
        .map(|(ws, subscriber)| tokio::spawn(subscriber.run(ws, stop_rx.clone(), base, deadline)))
        .collect();
    let cpu_before = context.probe.cpu()?;
    let pace = Pace {
        count: None,
        duration: Some(sizes.duration),
        rate,
        window: if rate.is_some() { 10_000 } else { sizes.window },
    };
    let driven = drive(driver_ws, driver.track, pace, base, deadline).await;
    if let Some(failure) = &driven.failure {
        result.fail(format!("driver: {failure}"));
    }
    // After a failed driver the subscribers stop at once (final version 0)
    // and are checked for order only.
    let final_version = if driven.failure.is_none() {
        driven.final_version
    } else {
        0
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

    result.check(driven.errors.is_empty(), || {
        format!("commands failed: {}", driven.errors.join(" | "))
    });
    let mut latencies = Latencies::new();
    let mut deliveries = driven.track.patches;
    let mut resyncs = 0;
    let mut last_delivery = driven.stopped;
    for (index, mut subscriber) in subscribers.into_iter().enumerate() {
        let who = format!("subscriber {index}");
        if driven.failure.is_none() {
            subscriber.verify(&who, final_version, &state, &mut result);
        } else {
            subscriber.verify_order(&who, &mut result);
        }
        deliveries += subscriber.track.patches;
        resyncs += subscriber.track.resyncs;
        last_delivery = last_delivery.max(subscriber.last_delivery);
        latencies.merge(std::mem::take(&mut subscriber.latencies));
    }
    let elapsed = match (driven.started, last_delivery) {
        (Some(started), Some(last)) => last.saturating_duration_since(started),
        _ => std::time::Duration::ZERO,
    };
    result.figure(
        "deliveries",
        per_second(deliveries, elapsed),
        "/s",
        Better::Higher,
    );
    let cpu_per_delivery = per_item_us(cpu, deliveries);
    if rate.is_none() {
        result.figure_with_target(
            "server CPU per delivery",
            cpu_per_delivery,
            "µs",
            Better::Lower,
            CPU_PER_DELIVERY_TARGET_US,
        );
        result.ratio_target(CPU_PER_DELIVERY_RATIO_TARGET);
    } else {
        result.figure(
            "server CPU per delivery",
            cpu_per_delivery,
            "µs",
            Better::Lower,
        );
    }
    let p50 = latencies.percentile(50.0).map_or(0.0, micros);
    let p99 = latencies.percentile(99.0).map_or(0.0, micros);
    result.figure("latency p50", p50, "µs", Better::Lower);
    if rate.is_some() {
        result.figure_with_target("latency p99", p99, "µs", Better::Lower, PACED_P99_TARGET_US);
    } else {
        result.figure("latency p99", p99, "µs", Better::Lower);
    }
    let sent_for = driven
        .stopped
        .zip(driven.started)
        .map_or(std::time::Duration::ZERO, |(stopped, started)| {
            stopped.saturating_duration_since(started)
        });
    result.figure(
        "commands",
        per_second(driven.sent, sent_for),
        "/s",
        Better::Higher,
    );
    result.figure("resyncs", resyncs as f64, "", Better::Neither);
    Ok(result)
}
