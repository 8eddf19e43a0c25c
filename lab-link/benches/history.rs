//! Benchmarks of history: what recording costs a commit (four fields
//! changed per commit, history off and on in the same run), how many rows
//! per second the recorder writes, and how long a query of a long
//! recording decimated to 1000 points takes (p50 and p99 printed at the
//! end).
//!
//! The query bench builds its file once, in `target/bench/`, with
//! `LAB_LINK_HISTORY_POINTS` points (10 000 000 by default; set fewer for
//! a quick check).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use divan::counter::ItemsCount;
use divan::Bencher;
use lab_link::server::{fill_history_file, HistoryQuery, Lifespan};
use lab_link::{LabSync, MutationError, Reactive, Routes, ServerConfig};
use serde::Serialize;

fn main() {
    divan::main();
    report_paced_commits();
    report_query_percentiles();
}

fn report_paced_commits() {
    let paced = PACED.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for history in [false, true] {
        let means: Vec<Duration> = paced
            .iter()
            .filter(|(on, _)| *on == history)
            .map(|(_, mean)| *mean)
            .collect();
        if let Some(best) = means.iter().min() {
            println!(
                "commit_at_1khz (history {}): mean commit {best:?} (best of {} seconds)",
                if history { "on" } else { "off" },
                means.len()
            );
        }
    }
}

#[derive(Reactive, Serialize, Default, Clone)]
struct Probe {
    bias_voltage: f64,
    current: f64,
    temperature: f64,
    pressure: f64,
}

fn bench_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/bench/history")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a bench directory under target/");
    dir
}

/// A served `Probe` with its four fields recorded (or not), on a runtime
/// of its own.
fn served(
    history: bool,
    name: &str,
) -> (tokio::runtime::Runtime, LabSync<Probe>, Routes, Lifespan) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let sync = LabSync::new(Probe::default());
    let mut config = ServerConfig::default();
    if history {
        config = config
            .history(["/bias_voltage", "/current", "/temperature", "/pressure"])
            .history_path(bench_dir(name).join("history.db"));
    }
    let routes = Routes::new(sync.clone(), config);
    let lifespan = runtime.block_on(async { routes.start() });
    (runtime, sync, routes, lifespan)
}

fn set_all(sync: &LabSync<Probe>, x: f64) {
    sync.try_mutate(|p| {
        p.set_bias_voltage(x)?;
        p.set_current(x + 1.0)?;
        p.set_temperature(x + 2.0)?;
        p.set_pressure(x + 3.0)?;
        Ok::<_, MutationError>(())
    })
    .expect("finite values");
}

/// One commit of four changed fields, history off and on: the difference
/// is what recording costs the commit path (the listener's clock read and
/// queueing; the writing happens on the recorder's thread).
#[divan::bench(args = [false, true])]
fn commit_four_fields(bencher: Bencher, history: bool) {
    let (runtime, sync, _routes, lifespan) = served(history, "commit");
    let mut x = 0.0;
    bencher.bench_local(|| {
        x += 1.0;
        set_all(&sync, x);
    });
    runtime.block_on(lifespan.stop());
}

/// Mean commit time of each paced second, history off and on.
static PACED: Mutex<Vec<(bool, Duration)>> = Mutex::new(Vec::new());

/// Commits of four fields at 1 kHz for a second, history off and on: the
/// mean commit time at an updater's realistic pace (printed at the end;
/// divan's own figure is the whole second).
#[divan::bench(args = [false, true], sample_count = 3, sample_size = 1)]
fn commit_at_1khz(bencher: Bencher, history: bool) {
    let (runtime, sync, _routes, lifespan) = served(history, "paced");
    bencher.bench_local(|| {
        let mut interval = Duration::ZERO;
        let start = Instant::now();
        for i in 0..1000_u32 {
            let began = Instant::now();
            set_all(&sync, f64::from(i));
            interval += began.elapsed();
            std::thread::sleep(
                (start + Duration::from_millis(u64::from(i) + 1))
                    .saturating_duration_since(Instant::now()),
            );
        }
        PACED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((history, interval / 1000));
    });
    runtime.block_on(lifespan.stop());
}

/// Rows the recorder writes per second: 10 000 commits of four fields
/// (40 000 rows), until the last batch is written.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn ingest_rows(bencher: Bencher) {
    bencher
        .counter(ItemsCount::new(40_000_usize))
        .with_inputs(|| served(true, "ingest"))
        .bench_local_values(|(runtime, sync, _routes, lifespan)| {
            for i in 0..10_000_u32 {
                set_all(&sync, f64::from(i));
            }
            runtime.block_on(lifespan.stop());
        });
}

/// Every query's duration, for the percentiles divan does not print.
static QUERY_TIMES: Mutex<Vec<Duration>> = Mutex::new(Vec::new());

/// A query of the whole recording decimated to 1000 points.
#[divan::bench(sample_count = 20, sample_size = 1)]
fn query_decimated_to_1000(bencher: Bencher) {
    let points: usize = std::env::var("LAB_LINK_HISTORY_POINTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench/history");
    let file = dir.join(format!("query-{points}.db"));
    if !file.exists() {
        std::fs::create_dir_all(&dir).expect("target/bench/history");
        let start = SystemTime::now() - Duration::from_secs(30 * 24 * 3600);
        let samples = (0..points).map(|i| {
            let offset = Duration::from_millis(u64::try_from(i).unwrap_or(u64::MAX));
            let spike = if i % 1_000_003 == 0 { 100.0 } else { 0.0 };
            (
                start + offset,
                (f64::from(u32::try_from(i % 1000).unwrap_or(0)) / 1000.0).sin() + spike,
            )
        });
        let partial = file.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        fill_history_file(&partial, "/temperature", samples).expect("the benchmark's history file");
        std::fs::rename(&partial, &file).expect("the benchmark's history file");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let sync = LabSync::new(Probe::default());
    let config = ServerConfig::default()
        .history(["/temperature"])
        .history_path(&file);
    let routes = Routes::new(sync, config);
    let lifespan = runtime.block_on(async { routes.start() });
    let query = HistoryQuery::new("/temperature").max_points(1000);
    bencher.bench_local(|| {
        let began = Instant::now();
        let series = routes.history(&query).expect("a recorded path");
        QUERY_TIMES
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(began.elapsed());
        assert!(series.points().len() <= 1000);
        series
    });
    runtime.block_on(lifespan.stop());
}

fn report_query_percentiles() {
    let mut times = QUERY_TIMES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if times.is_empty() {
        return;
    }
    times.sort();
    let rank = |p: usize| times[(times.len() * p).div_ceil(100).saturating_sub(1)];
    println!(
        "query_decimated_to_1000: {} queries, p50 {:?}, p99 {:?}",
        times.len(),
        rank(50),
        rank(99)
    );
}
