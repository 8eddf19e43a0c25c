//! `command_rtt`: C clients, each sending `set_channel` and waiting for
//! its ack before the next; every client also receives everyone's patches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::{watch, Barrier};
use tokio_tungstenite::tungstenite::Message;

use super::clients::{request_id, since, Subscriber};
use super::{per_item_us, per_second, Context};
use crate::client::{self, Ws};
use crate::report::{Better, ScenarioResult};
use crate::scan::{self, Kind};
use crate::stats::{micros, Latencies};
use crate::{Error, Result};

/// p99 of the round trip with 16 clients, in µs.
const P99_TARGET_US: f64 = 1000.0;

/// What one client saw.
#[derive(Debug, Default)]
struct Rtt {
    latencies: Latencies,
    /// Acks that came before the command's own patch, or at a lower version.
    misordered: Vec<String>,
    errors: Vec<String>,
    commands: u64,
}

/// The measurement window, set by the barrier's leader.
#[derive(Debug, Default)]
struct Window {
    started: Option<(Instant, Duration)>,
    stopped: Option<(Instant, Duration)>,
}

/// Runs `command_rtt`.
pub(super) async fn run(context: &Context) -> Result<ScenarioResult> {
    let sizes = &context.sizes;
    let mut result = ScenarioResult::new("command_rtt");
    result.param("clients", sizes.rtt_clients);
    result.param("commands_per_client", sizes.rtt_commands);
    result.param("warmup_per_client", sizes.rtt_warmup);
    let clients = futures_util::future::try_join_all(
        (0..sizes.rtt_clients)
            .map(|i| Subscriber::connect(&context.target, i < sizes.samples, None)),
    )
    .await?;
    let base = Instant::now();
    let deadline = tokio::time::Instant::now()
        + Duration::from_millis(50) * (sizes.rtt_commands + sizes.rtt_warmup) as u32
        + sizes.catch_up;
    let barrier = Arc::new(Barrier::new(clients.len()));
    let window = Arc::new(Mutex::new(Window::default()));
    let final_version = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(index, (ws, subscriber))| {
            let barrier = barrier.clone();
            let window = window.clone();
            let final_version = final_version.clone();
            let probe = context.probe.clone();
            let (warmup, commands) = (sizes.rtt_warmup, sizes.rtt_commands);
            let clients = sizes.rtt_clients as u64;
            tokio::spawn(async move {
                let mut ws = ws;
                let mut subscriber = subscriber;
                let mut rtt = Rtt::default();
                let seq = |i: usize| i as u64 * clients + index as u64;
                let mut outcome: Result<()> = Ok(());
                for i in 0..warmup {
                    outcome =
                        round_trip(&mut ws, &mut subscriber, index, seq(i), base, &mut rtt).await;
                    if outcome.is_err() {
                        break;
                    }
                }
                rtt = Rtt::default();
                // Every client passes every barrier, failed or not.
                if barrier.wait().await.is_leader() {
                    let cpu = probe.cpu().unwrap_or_default();
                    lock(&window).started = Some((Instant::now(), cpu));
                }
                if outcome.is_ok() {
                    for i in warmup..warmup + commands {
                        outcome =
                            round_trip(&mut ws, &mut subscriber, index, seq(i), base, &mut rtt)
                                .await;
                        if outcome.is_err() {
                            break;
                        }
                    }
                }
                if let Err(error) = outcome {
                    rtt.errors.push(error.to_string());
                }
                final_version.fetch_max(subscriber.track.last().unwrap_or(0), Ordering::SeqCst);
                if barrier.wait().await.is_leader() {
                    let cpu = probe.cpu().unwrap_or_default();
                    lock(&window).stopped = Some((Instant::now(), cpu));
                }
                // Every client's last ack in: the final version is known.
                barrier.wait().await;
                let (_stop, stop) = watch::channel(final_version.load(Ordering::SeqCst));
                let subscriber = subscriber.run(ws, stop, base, deadline).await;
                (subscriber, rtt)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        match task.await {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => result.fail(format!("a client failed: {error}")),
        }
    }
    let state = context.target.state().await?;
    let final_version = final_version.load(Ordering::SeqCst);
    let mut latencies = Latencies::new();
    let mut commands = 0;
    for (index, (mut subscriber, rtt)) in outcomes.into_iter().enumerate() {
        let who = format!("client {index}");
        subscriber.verify(&who, final_version, &state, &mut result);
        for error in rtt.errors.iter().take(3) {
            result.fail(format!("{who}: {error}"));
        }
        for problem in rtt.misordered.iter().take(3) {
            result.fail(format!("{who}: {problem}"));
        }
        commands += rtt.commands;
        latencies.merge(rtt.latencies);
    }
    let window = lock(&window);
    let (elapsed, cpu) = match (window.started, window.stopped) {
        (Some((t0, cpu0)), Some((t1, cpu1))) => (t1 - t0, cpu1.saturating_sub(cpu0)),
        _ => (Duration::ZERO, Duration::ZERO),
    };
    result.figure(
        "round trip p50",
        latencies.percentile(50.0).map_or(0.0, micros),
        "µs",
        Better::Lower,
    );
    result.figure_with_target(
        "round trip p99",
        latencies.percentile(99.0).map_or(0.0, micros),
        "µs",
        Better::Lower,
        P99_TARGET_US,
    );
    result.figure(
        "round trip max",
        latencies.max().map_or(0.0, micros),
        "µs",
        Better::Lower,
    );
    result.figure(
        "commands",
        per_second(commands, elapsed),
        "/s",
        Better::Higher,
    );
    result.figure(
        "server CPU per command",
        per_item_us(cpu, commands),
        "µs",
        Better::Lower,
    );
    Ok(result)
}

fn lock(window: &Mutex<Window>) -> std::sync::MutexGuard<'_, Window> {
    window
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One command: send, read until its ack, check that its own patch came
/// first and that the ack's version is at least that patch's.
async fn round_trip(
    ws: &mut Ws,
    subscriber: &mut Subscriber,
    client: usize,
    seq: u64,
    base: Instant,
    rtt: &mut Rtt,
) -> Result<()> {
    let id = request_id(seq, since(base));
    let params = client::set_channel_params(client % 4, seq);
    let sent = Instant::now();
    client::send_command(ws, "set_channel", params, &id).await?;
    let mut own_patch = None;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .map_err(|_| Error::Timeout(format!("no ack for {id}")))?;
        let message = match message {
            Some(Ok(message)) => message,
            Some(Err(source)) => {
                return Err(Error::WebSocket {
                    context: "reading acks".to_owned(),
                    source: Box::new(source),
                })
            }
            None => {
                return Err(Error::Protocol(
                    "closed while waiting for an ack".to_owned(),
                ))
            }
        };
        let Message::Text(text) = &message else {
            subscriber.handle(&message, base);
            continue;
        };
        let text = text.as_str();
        let mine = scan::request_id(text) == Some(id.as_str());
        match scan::kind(text) {
            Kind::Ack if mine => {
                rtt.latencies.record(sent.elapsed());
                rtt.commands += 1;
                let version = scan::version(text).unwrap_or(0);
                match own_patch {
                    None => rtt
                        .misordered
                        .push(format!("ack of {id} without its patch before it")),
                    Some(patch) if version < patch => rtt.misordered.push(format!(
                        "ack of {id} at v{version}, before its patch v{patch}"
                    )),
                    Some(_) => {}
                }
                return Ok(());
            }
            Kind::CommandError if mine => {
                return Err(Error::Protocol(format!(
                    "set_channel failed: {}",
                    text.chars().take(200).collect::<String>()
                )))
            }
            Kind::Patch if mine => {
                own_patch = scan::version(text);
                subscriber.handle(&message, base);
            }
            _ => subscriber.handle(&message, base),
        }
    }
}
