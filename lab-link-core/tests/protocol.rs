//! The protocol against frames recorded from lab-link 0.5.0
//! (`tests/data/wire-0.5.0.json`, whose `origin` says where each frame
//! comes from): every frame parses into our typed messages, and our
//! serialisation of it gives the same bytes (or, where the data file says
//! the bytes differ, the same JSON value).

use lab_link_core::protocol::{
    binary_frame, decode_binary_frame, ClientMessage, ProtocolError, ServerMessage,
};
use serde_json::Value;

fn data() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/wire-0.5.0.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

fn cases<'a>(data: &'a Value, key: &str) -> &'a [Value] {
    let cases = data[key].as_array().expect("a list of frames");
    assert!(!cases.is_empty(), "no {key} frames");
    cases
}

/// Checks that `ours` (our serialisation of the parsed `case`) is what
/// 0.5.0 sent, byte for byte or as a JSON value as the case says.
#[track_caller]
fn check(case: &Value, ours: &str) {
    let what = case["what"].as_str().unwrap();
    let recorded = case["frame"].as_str().unwrap();
    if case["same_bytes"].as_bool().unwrap() {
        assert_eq!(ours, recorded, "{what}");
    } else {
        let value = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        assert_eq!(value(ours), value(recorded), "{what}");
        assert_ne!(ours, recorded, "{what}: now byte-identical, set same_bytes");
    }
}

/// Parses every frame of `key` with `parse` (which serialises the
/// message again) and checks the result against the recording.
fn check_all(key: &str, parse: impl Fn(&str) -> Result<String, ProtocolError>) {
    let data = data();
    for case in cases(&data, key) {
        let frame = case["frame"].as_str().unwrap();
        let ours = parse(frame).unwrap_or_else(|e| panic!("{}: {e}", case["what"]));
        check(case, &ours);
    }
}

#[test]
fn server_frames_of_0_5_0_parse_and_serialise_the_same() {
    check_all("server", |frame| {
        ServerMessage::parse(frame).map(|m| m.to_text())
    });
}

#[test]
fn client_frames_of_0_5_0_parse_and_serialise_the_same() {
    check_all("client", |frame| {
        ClientMessage::parse(frame).map(|m| m.to_text())
    });
}

#[test]
fn binary_frames_of_0_5_0_decode_and_encode_the_same() {
    let data = data();
    for case in cases(&data, "binary") {
        let hex = case["hex"].as_str().unwrap();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let frame = decode_binary_frame(&bytes).expect("the frame decodes");
        assert_eq!(frame.id, case["id"].as_str().unwrap());
        assert_eq!(u64::from(frame.seq), case["seq"].as_u64().unwrap());
        let samples: Vec<f64> = serde_json::from_value(case["samples"].clone()).unwrap();
        assert_eq!(frame.samples, samples);
        let encoded: Vec<u8> = samples
            .iter()
            .flat_map(|s| (*s as f32).to_le_bytes())
            .collect();
        assert_eq!(
            &binary_frame(bytes[0], &frame.id, frame.seq.into(), &encoded)[..],
            &bytes[..]
        );
    }
}
