//! The scenarios, their sizes, and what they share.
//!
//! | scenario | load | figures | correctness |
//! |---|---|---|---|
//! | `fan_out` | one driver sends `set_channel` as fast as acks allow (a window of commands in flight); K subscribers | deliveries/s, server CPU per delivery, command-to-delivery latency p50/p99 | every subscriber gap-free up to the last version; sampled replicas equal `GET /state` |
//! | `fan_out_paced` | the same at a fixed command rate (1,000/s) | latency p50/p99, server CPU per delivery | the same |
//! | `command_rtt` | C clients, each sending `set_channel` and waiting for its ack | round trip p50/p99, commands/s, server CPU per command | each ack after its own patch, at a version at least that patch's; every client gap-free; a sampled replica equals `GET /state` |
//! | `connect_storm` | N clients connect at once and stay idle after their snapshot | time to all snapshots, server memory and CPU per connection | every client got a snapshot of the current version; a sample's data equals `GET /state` |
//! | `slow_consumer` | one client stops reading while a driver sends P commands to healthy subscribers | server memory before, peak and after; healthy clients' deliveries | healthy clients gap-free; the slow client, once it reads again, is resynced (a fresh snapshot) or closed, and its replica equals `GET /state` |
//! | `stream` | `start_acquisition` at 1,000 Hz for a while, K subscribers | ticks/s, stream messages and patches delivered/s, server CPU per tick | patches gap-free; append and int_delta seqs gap-free, replace seqs increasing; sampled replicas equal `GET /state` |
//!
//! Latency from command to delivery needs no clock shared with the server:
//! the driver puts the time of sending into the `requestId`
//! (`SEQ:NANOS`, nanoseconds since the scenario started), and the patch a
//! command causes carries that `requestId` back to every subscriber.

mod clients;
mod command_rtt;
mod connect_storm;
mod fan_out;
mod slow_consumer;
mod stream;

use std::time::Duration;

use crate::client::Target;
use crate::procfs::Probe;
use crate::report::ScenarioResult;
use crate::Result;

/// The scenarios, in the order `all` runs them.
pub const SCENARIOS: [&str; 6] = [
    "fan_out",
    "fan_out_paced",
    "command_rtt",
    "connect_storm",
    "slow_consumer",
    "stream",
];

/// The sizes of every scenario.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Subscribers of `fan_out` and `fan_out_paced`.
    pub subscribers: usize,
    /// How long `fan_out`, `fan_out_paced` and `stream` send.
    pub duration: Duration,
    /// Commands per second of `fan_out_paced`.
    pub rate: f64,
    /// Commands in flight of the unpaced drivers.
    pub window: usize,
    /// Clients of `command_rtt`.
    pub rtt_clients: usize,
    /// Measured commands per client of `command_rtt` (after a warm-up).
    pub rtt_commands: usize,
    /// Commands per client of `command_rtt` before the measurement.
    pub rtt_warmup: usize,
    /// Connections of `connect_storm`.
    pub storm_clients: usize,
    /// Handshakes in flight at once in `connect_storm`.
    pub storm_concurrency: usize,
    /// Commands (so patches) of `slow_consumer`.
    pub slow_patches: usize,
    /// Healthy subscribers of `slow_consumer`.
    pub slow_healthy: usize,
    /// Subscribers of `stream`.
    pub stream_subscribers: usize,
    /// `rate_hz` of `stream` (the demo's maximum is 1000).
    pub stream_rate: f64,
    /// Clients per scenario that parse every frame and keep a replica.
    pub samples: usize,
    /// How long clients may take to catch up after the load ends.
    pub catch_up: Duration,
}

impl Sizes {
    /// The full sizes (`cargo xtask bench`).
    pub fn full() -> Self {
        Self {
            subscribers: 100,
            duration: Duration::from_secs(10),
            rate: 1000.0,
            window: 64,
            rtt_clients: 16,
            rtt_commands: 2000,
            rtt_warmup: 50,
            storm_clients: 10_000,
            storm_concurrency: 256,
            slow_patches: 100_000,
            slow_healthy: 10,
            stream_subscribers: 20,
            stream_rate: 1000.0,
            samples: 2,
            catch_up: Duration::from_secs(60),
        }
    }

    /// The smoke-test sizes (`--quick`).
    pub fn quick() -> Self {
        Self {
            duration: Duration::from_secs(3),
            rtt_commands: 300,
            storm_clients: 1000,
            slow_patches: 10_000,
            catch_up: Duration::from_secs(30),
            ..Self::full()
        }
    }

    /// Tiny sizes, for tests.
    pub fn tiny() -> Self {
        Self {
            subscribers: 5,
            duration: Duration::from_millis(300),
            rate: 200.0,
            window: 8,
            rtt_clients: 3,
            rtt_commands: 20,
            rtt_warmup: 2,
            storm_clients: 20,
            storm_concurrency: 8,
            slow_patches: 300,
            slow_healthy: 2,
            stream_subscribers: 3,
            stream_rate: 200.0,
            samples: 1,
            catch_up: Duration::from_secs(20),
        }
    }
}

/// What every scenario gets: the server and how to observe it.
#[derive(Debug, Clone)]
pub struct Context {
    /// The server.
    pub target: Target,
    /// Its process, for CPU time and memory.
    pub probe: Probe,
    /// The sizes.
    pub sizes: Sizes,
}

/// Runs the scenario called `name`.
///
/// # Errors
///
/// When the scenario cannot run at all (an unknown name, a server that
/// refuses connections); a server that answers wrongly gives a result with
/// `ok: false` instead.
pub async fn run(context: &Context, name: &str) -> Result<ScenarioResult> {
    let started = std::time::Instant::now();
    let machine_before = crate::procfs::machine_busy()?;
    let own = Probe::new(std::process::id());
    let own_before = own.cpu()?;
    let server_before = context.probe.cpu()?;
    let mut result = run_one(context, name).await?;
    // The cores that neither the server nor the load generator kept busy
    // meanwhile: on a shared machine, tails say more about the neighbours
    // than about the server when this is high.
    let elapsed = started.elapsed().as_secs_f64();
    let own_cpu = own.cpu()?.saturating_sub(own_before);
    let others = crate::procfs::machine_busy()?
        .saturating_sub(machine_before)
        .saturating_sub(own_cpu)
        .saturating_sub(context.probe.cpu()?.saturating_sub(server_before));
    // Near 1 core (its own, when pinned) the load generator, not the
    // server, sets the pace and the latency.
    result.figure(
        "load generator CPU",
        own_cpu.as_secs_f64() / elapsed,
        "cores",
        crate::report::Better::Neither,
    );
    result.figure(
        "other processes' load",
        others.as_secs_f64() / elapsed,
        "cores",
        crate::report::Better::Neither,
    );
    Ok(result)
}

async fn run_one(context: &Context, name: &str) -> Result<ScenarioResult> {
    match name {
        "fan_out" => fan_out::run(context, name, None).await,
        "fan_out_paced" => fan_out::run(context, name, Some(context.sizes.rate)).await,
        "command_rtt" => command_rtt::run(context).await,
        "connect_storm" => connect_storm::run(context).await,
        "slow_consumer" => slow_consumer::run(context).await,
        "stream" => stream::run(context).await,
        _ => Err(crate::Error::Protocol(format!(
            "unknown scenario {name:?} (known: {})",
            SCENARIOS.join(", ")
        ))),
    }
}

/// Microseconds per item, for figures (0 when there are no items).
fn per_item_us(total: Duration, items: u64) -> f64 {
    if items == 0 {
        0.0
    } else {
        total.as_secs_f64() * 1e6 / items as f64
    }
}

/// Items per second (0 over no time).
fn per_second(items: u64, over: Duration) -> f64 {
    if over.is_zero() {
        0.0
    } else {
        items as f64 / over.as_secs_f64()
    }
}
