//! `slow_consumer`: one client stops reading while healthy subscribers
//! receive a long run of patches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::try_join_all;
use tokio::sync::watch;

use super::clients::{drive, Pace, Subscriber};
use super::{per_second, Context};
use crate::report::{Better, ScenarioResult};
use crate::Result;

/// Server memory growth over the run, in MiB.
const GROWTH_TARGET_MIB: f64 = 50.0;

/// `SO_RCVBUF` of the slow client: small, so the server's side fills fast.
const SLOW_RECV_BUFFER: u32 = 4096;

/// How often the server's memory is sampled.
const RSS_EVERY: Duration = Duration::from_millis(50);

/// Runs `slow_consumer`.
pub(super) async fn run(context: &Context) -> Result<ScenarioResult> {
    let sizes = &context.sizes;
    let target = &context.target;
    let mut result = ScenarioResult::new("slow_consumer");
    result.param("patches", sizes.slow_patches);
    result.param("healthy_subscribers", sizes.slow_healthy);
    let healthy = try_join_all(
        (0..sizes.slow_healthy).map(|i| Subscriber::connect(target, i < sizes.samples, None)),
    )
    .await?;
    let (slow_ws, slow) = Subscriber::connect(target, true, Some(SLOW_RECV_BUFFER)).await?;
    let (driver_ws, driver) = Subscriber::connect(target, false, None).await?;
    let base = Instant::now();
    let deadline = tokio::time::Instant::now()
        + Duration::from_millis(2) * u32::try_from(sizes.slow_patches).unwrap_or(u32::MAX)
        + sizes.catch_up;
    let (stop, stop_rx) = watch::channel(u64::MAX);
    let tasks: Vec<_> = healthy
        .into_iter()
        .map(|(ws, subscriber)| tokio::spawn(subscriber.run(ws, stop_rx.clone(), base, deadline)))
        .collect();
    let rss_before = context.probe.rss()?;
    let peak = Arc::new(AtomicU64::new(rss_before));
    let sampler = {
        let probe = context.probe.clone();
        let peak = peak.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RSS_EVERY);
            loop {
                every.tick().await;
                if let Ok(rss) = probe.rss() {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
            }
        })
    };
    let pace = Pace {
        count: Some(sizes.slow_patches as u64),
        duration: None,
        rate: None,
        window: sizes.window,
    };
    let driven = drive(driver_ws, driver.track, pace, base, deadline).await;
    let rss_loaded = context.probe.rss()?;
    sampler.abort();
    if let Some(failure) = &driven.failure {
        result.fail(format!("driver (blocked by the slow client?): {failure}"));
    }
    // After a failed driver everyone stops at once (final version 0) and
    // is checked for order only.
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
    // Now the slow client reads: it must catch up by a fresh snapshot (or
    // be closed), never by a gap.
    let slow = slow
        .run(
            slow_ws,
            stop_rx,
            base,
            tokio::time::Instant::now() + sizes.catch_up,
        )
        .await;
    let rss_after = context.probe.rss()?;
    let state = target.state().await?;

    result.check(driven.errors.is_empty(), || {
        format!("commands failed: {}", driven.errors.join(" | "))
    });
    let mut deliveries = 0;
    let mut healthy_resyncs = 0;
    // Patches a healthy subscriber should have received (every version
    // after its snapshot up to the final one) but did not.
    let mut healthy_missed = 0;
    let mut last_delivery = driven.stopped;
    for (index, mut subscriber) in subscribers.into_iter().enumerate() {
        let who = format!("healthy {index}");
        if driven.failure.is_none() {
            subscriber.verify(&who, final_version, &state, &mut result);
        } else {
            subscriber.verify_order(&who, &mut result);
        }
        result.check(subscriber.track.resyncs == 0, || {
            format!(
                "healthy {index} was resynced {} times",
                subscriber.track.resyncs
            )
        });
        deliveries += subscriber.track.patches;
        healthy_resyncs += subscriber.track.resyncs;
        if driven.failure.is_none() {
            let first = subscriber.track.first_snapshot.unwrap_or(0);
            let expected = final_version.saturating_sub(first);
            healthy_missed += expected.saturating_sub(subscriber.track.patches);
        }
        last_delivery = last_delivery.max(subscriber.last_delivery);
    }
    let outcome = if slow.closed {
        "closed"
    } else if slow.track.resyncs > 0 {
        "resynced"
    } else {
        "caught up"
    };
    result.param("slow_client", outcome);
    let mut slow = slow;
    if slow.closed || driven.failure.is_some() {
        // A closed client has no final replica to compare; its order up to
        // the close must still be right.
        if let Some(disorder) = &slow.track.first_disorder {
            result.fail(format!("slow client: patches out of order ({disorder})"));
        }
    } else {
        slow.verify("slow client", final_version, &state, &mut result);
    }
    let elapsed = driven
        .started
        .zip(last_delivery)
        .map_or(Duration::ZERO, |(started, last)| {
            last.saturating_duration_since(started)
        });
    let mib = |bytes: u64| bytes as f64 / 1048576.0;
    let peak = peak.load(Ordering::Relaxed).max(rss_loaded);
    result.figure(
        "healthy deliveries",
        per_second(deliveries, elapsed),
        "/s",
        Better::Higher,
    );
    result.figure(
        "healthy client resyncs",
        healthy_resyncs as f64,
        "",
        Better::Lower,
    );
    result.figure(
        "patches healthy clients missed",
        healthy_missed as f64,
        "",
        Better::Lower,
    );
    result.figure(
        "server memory before",
        mib(rss_before),
        "MiB",
        Better::Lower,
    );
    result.figure_with_target(
        "server memory growth (peak)",
        mib(peak.saturating_sub(rss_before)),
        "MiB",
        Better::Lower,
        GROWTH_TARGET_MIB,
    );
    result.figure("server memory after", mib(rss_after), "MiB", Better::Lower);
    result.figure(
        "slow client resyncs",
        slow.track.resyncs as f64,
        "",
        Better::Neither,
    );
    Ok(result)
}
