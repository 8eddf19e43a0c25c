//! `connect_storm`: N clients connect at once, take their snapshot, and
//! stay connected and idle.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use super::{per_item_us, per_second, Context};
use crate::client::{Target, Ws};
use crate::report::{Better, ScenarioResult};
use crate::scan::{self, Kind};
use crate::{procfs, Error, Result};

/// Server memory per idle connection, in KiB.
const MEMORY_TARGET_KIB: f64 = 16.0;

/// Every this many clients, one compares its snapshot's data with
/// `GET /state`.
const SAMPLE_EVERY: usize = 100;

/// How long the server gets to settle before its memory is read.
const SETTLE: Duration = Duration::from_secs(1);

/// Runs `connect_storm`.
pub(super) async fn run(context: &Context) -> Result<ScenarioResult> {
    let sizes = &context.sizes;
    let mut result = ScenarioResult::new("connect_storm");
    result.param("clients", sizes.storm_clients);
    result.param("concurrent_handshakes", sizes.storm_concurrency);
    match procfs::raise_open_files_limit() {
        Ok(limit) => result.param("open_files_limit", limit),
        Err(error) => result.param("open_files_limit", error.to_string()),
    }
    let state = Arc::new(context.target.state().await?);
    // Closed sockets of earlier scenarios may still be freed lazily.
    tokio::time::sleep(SETTLE).await;
    let rss_before = context.probe.rss()?;
    let cpu_before = context.probe.cpu()?;
    let started = Instant::now();
    let handshakes = Arc::new(Semaphore::new(sizes.storm_concurrency.max(1)));
    let tasks: Vec<_> = (0..sizes.storm_clients)
        .map(|index| {
            let target = context.target.clone();
            let handshakes = handshakes.clone();
            let state = state.clone();
            tokio::spawn(async move {
                let _permit = handshakes.acquire_owned().await;
                let compare = (index % SAMPLE_EVERY == 0).then_some(&*state);
                connect_idle(&target, compare).await
            })
        })
        .collect();
    let mut sockets = Vec::with_capacity(tasks.len());
    let mut versions = Vec::with_capacity(tasks.len());
    let mut failures = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok((ws, version))) => {
                sockets.push(ws);
                versions.push(version);
            }
            Ok(Err(error)) => failures.push(error.to_string()),
            Err(error) => failures.push(error.to_string()),
        }
    }
    let elapsed = started.elapsed();
    let cpu = context.probe.cpu()?.saturating_sub(cpu_before);
    tokio::time::sleep(SETTLE).await;
    let rss_connected = context.probe.rss()?;
    let connected = sockets.len();
    drop(sockets);
    tokio::time::sleep(SETTLE).await;
    let rss_closed = context.probe.rss()?;

    if !failures.is_empty() {
        let refused = failures.iter().filter(|f| f.contains("503")).count();
        let limit = if refused > 0 {
            format!(", {refused} refused with HTTP 503: the server's connection limit?")
        } else {
            String::new()
        };
        result.fail(format!(
            "{} of {} clients failed{limit} (first: {})",
            failures.len(),
            sizes.storm_clients,
            failures[0]
        ));
    }
    versions.sort_unstable();
    versions.dedup();
    result.check(versions.len() <= 1, || {
        format!("snapshots at different versions of a quiet state: {versions:?}")
    });
    let per_connection = rss_connected.saturating_sub(rss_before) as f64 / connected.max(1) as f64;
    result.figure("clients connected", connected as f64, "", Better::Neither);
    result.figure(
        "time to all snapshots",
        elapsed.as_secs_f64() * 1e3,
        "ms",
        Better::Lower,
    );
    result.figure(
        "connect rate",
        per_second(connected as u64, elapsed),
        "/s",
        Better::Higher,
    );
    result.figure_with_target(
        "server memory per connection",
        per_connection / 1024.0,
        "KiB",
        Better::Lower,
        MEMORY_TARGET_KIB,
    );
    result.figure(
        "server CPU per connection",
        per_item_us(cpu, connected as u64),
        "µs",
        Better::Lower,
    );
    result.figure(
        "server memory before",
        rss_before as f64 / 1048576.0,
        "MiB",
        Better::Lower,
    );
    result.figure(
        "server memory, all closed",
        rss_closed as f64 / 1048576.0,
        "MiB",
        Better::Lower,
    );
    Ok(result)
}

/// Connects, reads up to the snapshot, checks it against `state` if given,
/// and returns the socket (not read any more) and the snapshot's version.
async fn connect_idle(target: &Target, state: Option<&Value>) -> Result<(Ws, u64)> {
    let mut ws = target.connect(None).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| Error::Timeout("waiting for the snapshot".to_owned()))?;
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            Some(Err(source)) => {
                return Err(Error::WebSocket {
                    context: "reading the snapshot".to_owned(),
                    source: Box::new(source),
                })
            }
            None => return Err(Error::Protocol("closed before the snapshot".to_owned())),
        };
        if scan::kind(text.as_str()) != Kind::Snapshot {
            continue;
        }
        let version = scan::version(text.as_str())
            .ok_or_else(|| Error::Protocol("a snapshot without a version".to_owned()))?;
        if let Some(state) = state {
            let snapshot: Value = serde_json::from_str(text.as_str())
                .map_err(|e| Error::Protocol(format!("snapshot is not JSON: {e}")))?;
            if snapshot.get("data") != Some(state) {
                return Err(Error::Protocol(
                    "snapshot data differs from GET /state".to_owned(),
                ));
            }
        }
        return Ok((ws, version));
    }
}
