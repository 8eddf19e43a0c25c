//! The simulated photon counter: while `/acquisition/running`, one tick
//! per `1 / rate_hz` seconds on a fixed grid (DEMO.md, "Streams").
//!
//! Each tick commits `/acquisition/count + 1` (one patch, no command
//! metadata: ticks are not commands), appends one count rate to `counts`,
//! replaces the 256 samples of `trace` and increments a few bins of
//! `histogram`.
//!
//! The loop runs as the first tick of an async updater and never returns,
//! so the server's `Background` runner owns it: it starts once the state is
//! restored and is dropped at shutdown. It follows the state: a start, a
//! stop or a new rate is noticed within `FOLLOW` (50 ms), and the check
//! before each tick means no tick is committed after `stop_acquisition`.
//! Ticks stay on a fixed grid: a late tick is followed at once by the
//! next (the timer's resolution is a millisecond, so 1 kHz needs that),
//! and a backlog of more than 100 ms is dropped rather than burst.

use std::f32::consts::TAU;
use std::time::Duration;

use lab_link::engine::stream::F32;
use lab_link::stream::{AppendStream, IntDeltaStream, ReplaceStream};
use lab_link::LabSync;
use tokio::time::Instant;

use crate::state::DemoState;

/// Samples of one `trace` frame.
pub const TRACE_SAMPLES: usize = 256;
/// Capacity of the `counts` ring buffer.
pub const COUNTS_CAPACITY: usize = 1000;
/// Bins of the `histogram`.
pub const HISTOGRAM_BINS: usize = 64;

/// How long a change of `running` or `rate_hz` may go unnoticed.
const FOLLOW: Duration = Duration::from_millis(50);

/// How far behind the grid the loop catches up; beyond, it skips.
const CATCH_UP: Duration = Duration::from_millis(100);

/// The three streams of the demo.
#[derive(Clone)]
pub struct Streams {
    /// `counts`: one count rate per tick.
    pub counts: AppendStream,
    /// `trace`: the latest waveform, float32 binary frames.
    pub trace: ReplaceStream<F32>,
    /// `histogram`: counts per arrival-time bin.
    pub histogram: IntDeltaStream,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams").finish_non_exhaustive()
    }
}

impl Streams {
    /// Registers `counts`, `trace` and `histogram` on `sync`.
    pub fn register(sync: &LabSync<DemoState>) -> Self {
        Self {
            counts: sync
                .append_stream("counts", COUNTS_CAPACITY)
                .with_description("The simulated photon count rate, one value per tick.")
                .with_unit("1/s")
                .with_axes("tick", "count rate"),
            trace: sync
                .replace_stream_f32("trace")
                .with_description("The latest simulated waveform, 256 samples.")
                .with_unit("a.u.")
                .with_axes("sample", "amplitude"),
            histogram: sync
                .int_delta_stream("histogram", HISTOGRAM_BINS)
                .with_description("Photon arrivals per arrival-time bin.")
                .with_axes("arrival-time bin", "arrivals"),
        }
    }
}

/// Registers the acquisition loop as an updater of `sync`.
pub fn register(sync: &LabSync<DemoState>, streams: Streams) {
    // The period only matters if the loop ever returned: it never does.
    sync.updater_async(FOLLOW, move |sync| {
        let streams = streams.clone();
        async move { run(sync, streams).await }
    });
}

/// The loop: idle while stopped, ticking on a grid while running.
async fn run(sync: LabSync<DemoState>, streams: Streams) {
    let mut simulator = Simulator::new(fastrand::Rng::new());
    loop {
        let Some(rate) = running_rate(&sync) else {
            tokio::time::sleep(FOLLOW).await;
            continue;
        };
        let period = Duration::from_secs_f64(1.0 / rate);
        let mut due = Instant::now() + period;
        // Ticks at this rate until it changes or the acquisition stops.
        loop {
            let now = Instant::now();
            if now < due {
                tokio::time::sleep_until(due.min(now + FOLLOW)).await;
            }
            if running_rate(&sync) != Some(rate) {
                break;
            }
            let now = Instant::now();
            if now < due {
                continue;
            }
            simulator.tick(&sync, &streams);
            due += period;
            // The timer wakes in whole milliseconds, so at high rates a
            // tick is often a little late: the next one follows at once,
            // keeping the average rate. Once far behind (a stalled
            // machine), the missed ticks are dropped instead of burst.
            if now.saturating_duration_since(due) > CATCH_UP {
                due = now + period;
            }
        }
    }
}

/// `Some(rate_hz)` while the acquisition runs.
fn running_rate(sync: &LabSync<DemoState>) -> Option<f64> {
    let state = sync.read();
    state
        .acquisition
        .running
        .then_some(state.acquisition.rate_hz)
}

/// The simulated detector: its noise source and the waveform's phase.
#[derive(Debug)]
pub struct Simulator {
    rng: fastrand::Rng,
    phase: f32,
}

impl Simulator {
    /// A detector drawing its noise from `rng` (seed it for repeatable
    /// data).
    ///
    /// ```
    /// let simulator = lab_link_demo::acquisition::Simulator::new(fastrand::Rng::with_seed(7));
    /// # let _ = simulator;
    /// ```
    pub fn new(rng: fastrand::Rng) -> Self {
        Self { rng, phase: 0.0 }
    }

    /// One tick: the count patch, then the three stream updates.
    pub fn tick(&mut self, sync: &LabSync<DemoState>, streams: &Streams) {
        let (rate, amplitude) = {
            let state = sync.read();
            (
                count_rate(&state),
                state.channels.first().map_or(0.0, |ch| ch.bias_voltage) as f32,
            )
        };
        sync.mutate(|s| {
            let mut acquisition = s.acquisition();
            let count = acquisition.count;
            // `count` has no constraint: the write cannot be refused.
            let _ = acquisition.set_count(count + 1);
        });
        let noisy_rate = (rate + self.gaussian() * rate.sqrt()).max(0.0);
        // Finite by construction, so the append cannot fail.
        let _ = streams.counts.append([(noisy_rate * 10.0).round() / 10.0]);
        self.phase = (self.phase + 0.35) % TAU;
        let samples = self.trace(amplitude);
        streams.trace.replace(samples);
        let bins = [self.arrival_bin(), self.arrival_bin(), self.arrival_bin()];
        // Bins come from `arrival_bin`, always below HISTOGRAM_BINS.
        let _ = streams.histogram.add_all(bins.map(|bin| (bin, 1)));
    }

    /// A decaying sine scaled by channel 0's bias (1 V floor), plus noise.
    fn trace(&mut self, bias: f32) -> Vec<f32> {
        let amplitude = 1.0 + bias.abs();
        (0..TRACE_SAMPLES)
            .map(|i| {
                let t = i as f32 / TRACE_SAMPLES as f32;
                let signal = amplitude * (-3.0 * t).exp() * (TAU * 6.0 * t + self.phase).sin();
                signal + 0.05 * amplitude * self.gaussian() as f32
            })
            .collect()
    }

    /// An arrival-time bin: exponentially distributed, so the histogram
    /// fills as a decay curve.
    fn arrival_bin(&mut self) -> usize {
        let u = self.rng.f64().max(f64::MIN_POSITIVE);
        let bin = (-u.ln() * 12.0) as usize;
        bin.min(HISTOGRAM_BINS - 1)
    }

    /// A standard normal sample (Box-Muller).
    fn gaussian(&mut self) -> f64 {
        let u1 = self.rng.f64().max(f64::MIN_POSITIVE);
        let u2 = self.rng.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Counts per second: a dark rate of 200, plus 100 per volt on every
/// active channel while the output is enabled.
fn count_rate(state: &DemoState) -> f64 {
    let biased: f64 = if state.enabled {
        state
            .channels
            .iter()
            .filter(|ch| ch.active)
            .map(|ch| ch.bias_voltage.abs())
            .sum()
    } else {
        0.0
    };
    200.0 + 100.0 * biased
}

#[cfg(test)]
mod tests {
    use lab_link::LabSync;

    use super::{Simulator, Streams, HISTOGRAM_BINS, TRACE_SAMPLES};
    use crate::state::DemoState;

    #[test]
    fn a_tick_counts_and_feeds_every_stream() {
        let sync = LabSync::new(DemoState::initial());
        let streams = Streams::register(&sync);
        let mut simulator = Simulator::new(fastrand::Rng::with_seed(1));
        for _ in 0..5 {
            simulator.tick(&sync, &streams);
        }
        assert_eq!(sync.read().acquisition.count, 5);
        assert_eq!(sync.version(), 5, "one patch per tick");
        let counts = streams.counts.snapshot();
        assert_eq!(counts.seq(), 5);
        let trace = streams.trace.snapshot();
        assert_eq!(trace.seq(), 5);
        let histogram: serde_json::Value =
            serde_json::from_str(streams.histogram.snapshot().text().unwrap()).unwrap();
        let bins = histogram["data"].as_array().unwrap();
        assert_eq!(bins.len(), HISTOGRAM_BINS);
        let total: i64 = bins.iter().map(|bin| bin.as_i64().unwrap()).sum();
        assert_eq!(total, 15, "three arrivals per tick");
        let counts: serde_json::Value = serde_json::from_str(counts.text().unwrap()).unwrap();
        assert_eq!(counts["data"].as_array().unwrap().len(), 5);
        let trace: serde_json::Value = serde_json::from_str(trace.text().unwrap()).unwrap();
        assert_eq!(trace["data"].as_array().unwrap().len(), TRACE_SAMPLES);
    }
}
