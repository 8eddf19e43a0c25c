//! Unit tests of the streams: each mode's messages and snapshots, byte
//! for byte, and the subscription start.

use std::sync::{Arc, Mutex};

use super::*;
use crate::{LabSync, Start, SyncSource};

fn texts(messages: &[StreamMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.text().expect("a text message").to_owned())
        .collect()
}

/// Subscribes with streams; returns the start's stream snapshots and the
/// collected later stream messages.
fn subscribe(
    sync: &LabSync<u32>,
) -> (
    Vec<StreamMessage>,
    Arc<Mutex<Vec<StreamMessage>>>,
    StreamSubscription,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let mut start = Vec::new();
    let (subscription, streams) = sync.subscribe_with_streams(
        None,
        0,
        &mut |s, snapshots| {
            assert!(matches!(s, Start::Snapshot(_)));
            start = snapshots;
        },
        Box::new(|_| {}),
        Box::new(move |m| log.lock().unwrap().push(m.clone())),
    );
    std::mem::forget(subscription);
    (start, seen, streams)
}

#[test]
fn append_messages_and_ring_buffer_snapshot() {
    let sync = LabSync::new(0_u32);
    let counts = sync.append_stream("counts", 3);
    let (start, seen, _s) = subscribe(&sync);
    assert_eq!(
        texts(&start),
        [r#"{"type":"stream_snapshot","id":"counts","data":[],"seq":0}"#]
    );
    counts.append([1, 2]).unwrap();
    counts.append([3.5, 4.0]).unwrap();
    counts.append(Vec::<u8>::new()).unwrap();
    assert_eq!(
        texts(&seen.lock().unwrap()),
        [
            r#"{"type":"stream_append","id":"counts","data":[1,2],"seq":1}"#,
            r#"{"type":"stream_append","id":"counts","data":[3.5,4.0],"seq":2}"#,
        ]
    );
    assert_eq!(
        counts.snapshot().text().unwrap(),
        r#"{"type":"stream_snapshot","id":"counts","data":[2,3.5,4.0],"seq":2}"#
    );
    assert_eq!(seen.lock().unwrap()[0].kind(), StreamKind::Append);
}

#[test]
fn json_streams_refuse_non_finite_floats() {
    let sync = LabSync::new(0_u32);
    let counts = sync.append_stream("counts", 3);
    let trace = sync.replace_stream("trace");
    assert_eq!(
        counts.append([1.0, f64::NAN]),
        Err(StreamError::NonFinite {
            id: "counts".into()
        })
    );
    assert!(trace.replace([f64::INFINITY]).is_err());
    assert_eq!(counts.snapshot().seq(), 0);
    assert_eq!(
        trace.snapshot().text().unwrap(),
        r#"{"type":"stream_snapshot","id":"trace","data":[],"seq":0}"#
    );
}

#[test]
fn json_replace_messages() {
    let sync = LabSync::new(0_u32);
    let trace = sync.replace_stream("trace");
    let (_, seen, _s) = subscribe(&sync);
    trace.replace([0.1, 0.2]).unwrap();
    assert_eq!(
        texts(&seen.lock().unwrap()),
        [r#"{"type":"stream_replace","id":"trace","data":[0.1,0.2],"seq":1}"#]
    );
    assert_eq!(
        trace.snapshot().text().unwrap(),
        r#"{"type":"stream_snapshot","id":"trace","data":[0.1,0.2],"seq":1}"#
    );
}

#[test]
fn f32_replace_goes_out_as_a_binary_frame() {
    let sync = LabSync::new(0_u32);
    let trace = sync.replace_stream_f32("tr");
    let (_, seen, _s) = subscribe(&sync);
    trace.replace([0.1_f32, -2.0, f32::NAN]);
    let seen = seen.lock().unwrap();
    let StreamPayload::Binary(frame) = seen[0].payload() else {
        panic!("not binary")
    };
    let mut expected = vec![0x01, 2, 0, b't', b'r', 1, 0, 0, 0];
    for s in [0.1_f32, -2.0, f32::NAN] {
        expected.extend_from_slice(&s.to_le_bytes());
    }
    assert_eq!(&frame[..], &expected[..]);
    assert_eq!(seen[0].kind(), StreamKind::Replace);
    // The snapshot holds the same f32 values as JSON numbers, widened to
    // f64; the NaN shows as null.
    assert_eq!(
        trace.snapshot().text().unwrap(),
        r#"{"type":"stream_snapshot","id":"tr","data":[0.10000000149011612,-2.0,null],"seq":1}"#
    );
}

/// The frame's samples, widened to f64, as bit patterns.
fn frame_bits(frame: &[u8], width: usize) -> Vec<Option<u64>> {
    // Tag, id length, a one-byte id, seq.
    frame[8..]
        .chunks_exact(width)
        .map(|chunk| {
            let sample = match width {
                4 => f64::from(f32::from_le_bytes(chunk.try_into().unwrap())),
                _ => f64::from_le_bytes(chunk.try_into().unwrap()),
            };
            Some(sample.to_bits())
        })
        .collect()
}

/// A snapshot's samples as a 64-bit JSON reader sees them, as bit
/// patterns (`None` for `null`).
fn snapshot_bits(snapshot: &StreamMessage) -> Vec<Option<u64>> {
    let message: Value = serde_json::from_str(snapshot.text().unwrap()).unwrap();
    message["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sample| sample.as_f64().map(f64::to_bits))
        .collect()
}

/// Replaces an f32 and an f64 stream's samples and checks that each
/// snapshot, parsed as f64, holds exactly its binary frame's samples.
#[track_caller]
fn check_snapshot_reads_as_frame(f32_samples: &[f32], f64_samples: &[f64]) {
    let sync = LabSync::new(0_u32);
    let narrow = sync.replace_stream_f32("n");
    let wide = sync.replace_stream_f64("w");
    let (_, seen, _s) = subscribe(&sync);
    narrow.replace(f32_samples.iter().copied());
    wide.replace(f64_samples.iter().copied());
    let seen = seen.lock().unwrap();
    let frames: Vec<&Bytes> = seen
        .iter()
        .map(|message| match message.payload() {
            StreamPayload::Binary(frame) => frame,
            StreamPayload::Text(text) => panic!("not binary: {text}"),
        })
        .collect();
    assert_eq!(snapshot_bits(&narrow.snapshot()), frame_bits(frames[0], 4));
    assert_eq!(snapshot_bits(&wide.snapshot()), frame_bits(frames[1], 8));
}

#[test]
fn float_snapshots_read_back_as_the_frames_samples() {
    let f32_edges = [
        0.0,
        -0.0,
        f32::from_bits(1),            // the smallest subnormal
        -f32::from_bits(0x007f_ffff), // the largest subnormal
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        f32::EPSILON,
        f32::from_bits(0x3fe0_8d44), // 1.7543110847473145
        0.1,
    ];
    let f64_edges = [
        0.0,
        -0.0,
        f64::from_bits(1),
        -f64::from_bits(0x000f_ffff_ffff_ffff),
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        0.1,
    ];
    check_snapshot_reads_as_frame(&f32_edges, &f64_edges);
    check_snapshot_reads_as_frame(&[], &[]);
}

proptest::proptest! {
    /// Any finite samples: normal, subnormal, zeros of both signs, every
    /// exponent.
    #[test]
    fn random_float_snapshots_read_back_as_the_frames_samples(
        f32_samples in proptest::collection::vec(finite_f32(), 0..64),
        f64_samples in proptest::collection::vec(finite_f64(), 0..64),
    ) {
        check_snapshot_reads_as_frame(&f32_samples, &f64_samples);
    }
}

fn finite_f32() -> impl proptest::strategy::Strategy<Value = f32> {
    use proptest::num::f32::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

fn finite_f64() -> impl proptest::strategy::Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

#[test]
fn non_finite_binary_samples_are_null_in_the_snapshot() {
    let sync = LabSync::new(0_u32);
    let narrow = sync.replace_stream_f32("n");
    let wide = sync.replace_stream_f64("w");
    narrow.replace([f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.0]);
    wide.replace([f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.0]);
    assert_eq!(
        snapshot_bits(&narrow.snapshot()),
        [None, None, None, Some(1.0_f64.to_bits())]
    );
    assert_eq!(
        snapshot_bits(&wide.snapshot()),
        [None, None, None, Some(1.0_f64.to_bits())]
    );
}

#[test]
fn f32_values_in_json_streams_are_widened_too() {
    let sync = LabSync::new(0_u32);
    let counts = sync.append_stream("counts", 4);
    let trace = sync.replace_stream("trace");
    let (_, seen, _s) = subscribe(&sync);
    counts.append([0.1_f32, -0.0]).unwrap();
    trace.replace([f32::from_bits(1)]).unwrap();
    assert_eq!(
        texts(&seen.lock().unwrap()),
        [
            r#"{"type":"stream_append","id":"counts","data":[0.10000000149011612,-0.0],"seq":1}"#,
            r#"{"type":"stream_replace","id":"trace","data":[1.401298464324817e-45],"seq":1}"#,
        ]
    );
    assert_eq!(
        counts.snapshot().text().unwrap(),
        r#"{"type":"stream_snapshot","id":"counts","data":[0.10000000149011612,-0.0],"seq":1}"#
    );
}

#[test]
fn f64_replace_uses_tag_2() {
    let sync = LabSync::new(0_u32);
    let trace = sync.replace_stream_f64("t");
    let (_, seen, _s) = subscribe(&sync);
    trace.replace([1.5_f64]);
    trace.replace([]);
    let seen = seen.lock().unwrap();
    let StreamPayload::Binary(frame) = seen[0].payload() else {
        panic!("not binary")
    };
    let mut expected = vec![0x02, 1, 0, b't', 1, 0, 0, 0];
    expected.extend_from_slice(&1.5_f64.to_le_bytes());
    assert_eq!(&frame[..], &expected[..]);
    let StreamPayload::Binary(frame) = seen[1].payload() else {
        panic!("not binary")
    };
    assert_eq!(&frame[..], &[0x02, 1, 0, b't', 2, 0, 0, 0]);
}

#[test]
fn int_delta_messages_and_replace_as_snapshot() {
    let sync = LabSync::new(0_u32);
    let hist = sync.int_delta_stream("hist", 4);
    let (start, seen, _s) = subscribe(&sync);
    assert_eq!(
        texts(&start),
        [r#"{"type":"stream_snapshot","id":"hist","data":[0,0,0,0],"seq":0}"#]
    );
    hist.add(3, 1).unwrap();
    hist.add(2, 0).unwrap(); // nothing
    hist.add_all([(1, 2), (0, 5), (1, -4), (0, -5)]).unwrap();
    assert!(hist.add(4, 1).is_err());
    hist.replace([1, 2, 3, 4]).unwrap();
    assert!(hist.replace([1]).is_err());
    assert_eq!(
        texts(&seen.lock().unwrap()),
        [
            r#"{"type":"stream_delta","id":"hist","deltas":[[3,1]],"seq":1}"#,
            r#"{"type":"stream_delta","id":"hist","deltas":[[1,-2]],"seq":2}"#,
            r#"{"type":"stream_snapshot","id":"hist","data":[1,2,3,4],"seq":3}"#,
        ]
    );
}

#[test]
fn a_start_holds_every_stream_and_nothing_is_repeated() {
    let sync = LabSync::new(0_u32);
    let counts = sync.append_stream("counts", 10);
    counts.append([1]).unwrap();
    let hist = sync.int_delta_stream("hist", 2);
    let (start, seen, subscription) = subscribe(&sync);
    assert_eq!(
        start.iter().map(|m| (m.id(), m.seq())).collect::<Vec<_>>(),
        [("counts", 1), ("hist", 0)]
    );
    counts.append([2]).unwrap();
    hist.add(0, 1).unwrap();
    assert_eq!(
        seen.lock()
            .unwrap()
            .iter()
            .map(|m| (m.id().to_owned(), m.seq()))
            .collect::<Vec<_>>(),
        [("counts".to_owned(), 2), ("hist".to_owned(), 1)]
    );
    // A stream registered later is in the next start; a dropped listener
    // gets nothing more.
    drop(subscription);
    let _late = sync.replace_stream_f32("late");
    counts.append([3]).unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);
    let (start, _, _s) = subscribe(&sync);
    assert_eq!(start.len(), 3);
    assert!(sync.with_stream_snapshot("late", &mut |m| assert_eq!(m.seq(), 0)));
    assert!(!sync.with_stream_snapshot("nope", &mut |_| {}));
}

#[test]
#[should_panic(expected = "already registered")]
fn a_duplicate_id_panics() {
    let sync = LabSync::new(0_u32);
    let _a = sync.append_stream("x", 1);
    let _b = sync.int_delta_stream("x", 1);
}
