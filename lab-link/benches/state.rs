//! Benchmarks of typed mutations through `LabSync`: the cost of one
//! committed single-field mutation (record, serialise the message once,
//! apply to the mirror, log, notify) and of one commit of 1000 operations.

use std::hint::black_box;

use divan::Bencher;
use lab_link::{LabSync, MutationError, Reactive};
use serde::Serialize;

fn main() {
    divan::main();
}

#[derive(Reactive, Serialize, Clone)]
struct Channel {
    name: String,
    #[reactive(range = -10.0..=10.0)]
    bias_voltage: f64,
    active: bool,
}

#[derive(Reactive, Serialize, Clone)]
struct Acquisition {
    running: bool,
    rate_hz: f64,
    count: u64,
}

#[derive(Reactive, Serialize, Clone)]
struct AppState {
    enabled: bool,
    channels: Vec<Channel>,
    acquisition: Acquisition,
}

fn state(channels: usize) -> AppState {
    AppState {
        enabled: false,
        channels: (0..channels)
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
    }
}

/// One `mutate` that sets one field (a different value each time, so that
/// every call commits a patch message).
#[divan::bench(args = [0, 1, 8])]
fn single_field_mutation(bencher: Bencher, subscribers: usize) {
    let sync = LabSync::new(state(4));
    let receivers: Vec<_> = (0..subscribers)
        .map(|_| sync.subscribe_channel().1)
        .collect();
    let mut value = 0.0;
    bencher.bench_local(|| {
        value = if value > 9.0 { 0.0 } else { value + 0.001 };
        sync.try_mutate(|s| s.channels().at(2)?.set_bias_voltage(black_box(value)))
            .expect("in range");
        for receiver in &receivers {
            let _ = receiver.try_recv();
        }
    });
    assert!(sync.verify_mirror().is_ok());
}

/// One `mutate` of 1000 operations (1000 channels, one field each): one
/// patch message of 1000 ops.
#[divan::bench]
fn commit_1000_ops(bencher: Bencher) {
    let sync = LabSync::new(state(1000));
    let mut round = 0_u32;
    bencher.bench_local(|| {
        round += 1;
        let value = f64::from(round % 1000) / 1000.0;
        sync.try_mutate(|s| {
            for index in 0..1000 {
                s.channels().at(index)?.set_bias_voltage(black_box(value))?;
            }
            Ok::<_, MutationError>(())
        })
        .expect("in range");
    });
    assert!(sync.verify_mirror().is_ok());
}

/// `publish()` when nothing changed: the dump-and-diff escape hatch costs a
/// serialisation and a diff of the whole state even when empty, which is
/// why mutations record their operations instead.
#[divan::bench]
fn publish_unchanged_1000_channels(bencher: Bencher) {
    let sync = LabSync::new(state(1000));
    bencher.bench_local(|| sync.publish());
}
