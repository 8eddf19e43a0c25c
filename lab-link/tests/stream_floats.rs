//! Float stream samples read back the same from a `stream_snapshot` as
//! from the binary frame of the same seq, in every reader: JSON numbers
//! are written as the samples widened to `f64`, so a 64-bit parse gives
//! exactly the float32 (or float64) values the frames carry.
//!
//! The samples are those of `lab_link_testkit::float32_samples` and
//! `float64_samples`: zeros of both signs, subnormals, the largest and
//! smallest exponents, random bits of every exponent. Each test serves
//! them on a real socket and reads what comes off it with one reader: a
//! raw socket parsed by serde_json (the testkit's check), the Rust client
//! (`Event::StreamSnapshot` and `Event::StreamFrame`), and Python's `json`
//! and `struct` modules (`tests/python/float_reader.py`, run by the
//! virtualenv's interpreter `cargo xtask setup` creates, or `python3`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lab_link::engine::stream::{ReplaceStream, F32, F64};
use lab_link::LabSync;
use lab_link_client::{Client, Event};
use lab_link_testkit::{
    assert_same_samples, assert_snapshot_matches_frame, float32_samples, float64_samples,
    TestServer,
};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How many random samples follow the edge cases and the per-exponent
/// ones.
const RANDOM: usize = 4000;

/// The served streams and what they hold.
struct Served {
    server: TestServer<u32>,
    narrow: ReplaceStream<F32>,
    wide: ReplaceStream<F64>,
    narrow_samples: Vec<f32>,
    wide_samples: Vec<f64>,
}

impl Served {
    /// An f32 stream `narrow` and an f64 stream `wide`, served, each
    /// holding its samples (seq 1).
    async fn start(seed: u64) -> Self {
        let sync = LabSync::new(0_u32);
        let narrow = sync.replace_stream_f32("narrow");
        let wide = sync.replace_stream_f64("wide");
        let served = Self {
            server: TestServer::start(sync).await,
            narrow,
            wide,
            narrow_samples: float32_samples(seed, RANDOM),
            wide_samples: float64_samples(seed, RANDOM),
        };
        served.replace();
        served
    }

    /// Sends the samples again: one binary frame per stream.
    fn replace(&self) {
        self.narrow.replace(self.narrow_samples.iter().copied());
        self.wide.replace(self.wide_samples.iter().copied());
    }

    /// The f32 samples widened, then the f64 ones: what every reader must
    /// get.
    fn expected(&self) -> [Vec<f64>; 2] {
        [
            self.narrow_samples.iter().copied().map(f64::from).collect(),
            self.wide_samples.clone(),
        ]
    }
}

async fn next(ws: &mut Ws) -> Message {
    match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        Ok(Some(Ok(message))) => message,
        other => panic!("no message: {other:?}"),
    }
}

/// Connects a raw socket, skips the start, has both streams sent again
/// and asks for their snapshots: `(snapshot text, binary frame)` of
/// `narrow`, then of `wide`, both at seq 2.
async fn wire_pairs(served: &Served) -> Vec<(String, Vec<u8>)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(served.server.ws_url())
        .await
        .expect("the socket opens");
    // The state snapshot and the two stream snapshots.
    for _ in 0..3 {
        assert!(matches!(next(&mut ws).await, Message::Text(_)));
    }
    served.replace();
    let mut frames = Vec::new();
    for _ in 0..2 {
        match next(&mut ws).await {
            Message::Binary(frame) => frames.push(frame.to_vec()),
            other => panic!("not a binary frame: {other:?}"),
        }
    }
    let mut pairs = Vec::new();
    for (id, frame) in ["narrow", "wide"].into_iter().zip(frames) {
        let resync = json!({"type": "stream_resync", "id": id}).to_string();
        ws.send(Message::text(resync)).await.expect("send");
        match next(&mut ws).await {
            Message::Text(text) => pairs.push((text.as_str().to_owned(), frame)),
            other => panic!("not a stream_snapshot: {other:?}"),
        }
    }
    let _ = ws.close(None).await;
    pairs
}

#[tokio::test]
async fn serde_json_reads_snapshots_as_the_frames_samples() {
    let served = Served::start(1).await;
    let pairs = wire_pairs(&served).await;
    for ((snapshot, frame), expected) in pairs.iter().zip(served.expected()) {
        let samples = assert_snapshot_matches_frame(snapshot, frame);
        assert_same_samples("the binary frame", &samples, &expected);
    }
    served.server.shutdown().await;
}

/// A current-thread runtime: the client's connection task runs only when
/// the test awaits, so a receiver subscribed right after `connect` gets
/// the stream snapshots that follow the state snapshot.
#[tokio::test(flavor = "current_thread")]
async fn the_rust_client_reads_snapshots_as_the_frames_samples() {
    let served = Served::start(2).await;
    let client = Client::connect(&served.server.ws_url())
        .await
        .expect("the client connects");
    let mut events = client.subscribe();
    let mut snapshots = Vec::new();
    let mut frames = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while frames.len() < 2 {
            match events.recv().await.expect("the client's events") {
                Event::StreamSnapshot(message) => {
                    snapshots.push(message);
                    if snapshots.len() == 2 {
                        served.replace();
                    }
                }
                Event::StreamFrame { id, seq, samples } => frames.push((id, seq, samples)),
                _ => {}
            }
        }
    })
    .await
    .expect("two stream snapshots and two frames within 10 s");
    for ((snapshot, (id, seq, samples)), expected) in
        snapshots.iter().zip(&frames).zip(served.expected())
    {
        assert_eq!(snapshot["id"], id.as_str());
        assert_eq!((snapshot["seq"].as_u64(), *seq), (Some(1), 2));
        let read: Vec<f64> = snapshot["data"]
            .as_array()
            .expect("a data array")
            .iter()
            .map(|sample| sample.as_f64().expect("a number"))
            .collect();
        assert_same_samples(&format!("the client's {id} snapshot"), &read, &expected);
        assert_same_samples(&format!("the client's {id} frame"), samples, &expected);
    }
    client.close().await;
    served.server.shutdown().await;
}

#[tokio::test]
async fn python_reads_snapshots_as_the_frames_samples() {
    let served = Served::start(3).await;
    let pairs = wire_pairs(&served).await;
    let input = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("float_reader_input.jsonl");
    let lines: String = pairs
        .iter()
        .map(|(snapshot, frame)| {
            let hex: String = frame.iter().map(|byte| format!("{byte:02x}")).collect();
            format!("{}\n", json!({"snapshot": snapshot, "frame": hex}))
        })
        .collect();
    std::fs::write(&input, lines).expect("the reader's input is written");
    let read = python("float_reader.py", &input);
    assert_eq!(read.len(), 2, "one line per stream");
    for ((line, expected), id) in read.iter().zip(served.expected()).zip(["narrow", "wide"]) {
        for form in ["snapshot", "frame"] {
            assert_eq!(line[form]["id"], id, "{form}");
            assert_eq!(line[form]["seq"], 2, "{form}");
            let samples: Vec<f64> = line[form]["samples"]
                .as_array()
                .expect("a samples array")
                .iter()
                .map(|hex| {
                    let hex = hex.as_str().expect("hex text");
                    f64::from_bits(u64::from_str_radix(hex, 16).expect("64 bits in hex"))
                })
                .collect();
            assert_same_samples(&format!("Python's {id} {form}"), &samples, &expected);
        }
    }
    served.server.shutdown().await;
}

/// Runs `tests/python/{script} {input}` and parses each line it prints.
fn python(script: &str, input: &std::path::Path) -> Vec<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("../target/py-venv/bin/python");
    let python = if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    };
    let output = Command::new(&python)
        .arg(root.join("tests/python").join(script))
        .arg(input)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): the test needs Python 3; install python3 and run \
                 `cargo xtask setup`, which creates the virtualenv target/py-venv",
                python.display()
            )
        });
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{script} printed {line:?}, not JSON: {e}"))
        })
        .collect()
}
