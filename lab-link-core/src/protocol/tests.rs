//! Unit tests of the protocol: the strict client parser's answers, and
//! every server message's bytes and round trip.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use super::*;
use crate::command::CommandError;
use crate::PatchOp;

#[track_caller]
fn check(frame: &str, expect: Result<ClientMessage<'static>, &str>) {
    assert_eq!(
        ClientMessage::parse(frame).map_err(|e| e.message().to_owned()),
        expect.map_err(str::to_owned)
    );
}

#[test]
fn well_formed_client_messages() {
    check(
        r#"{"type":"command","command":"set_channel","params":{"channel":0},"requestId":"r7"}"#,
        Ok(ClientMessage::Command {
            command: "set_channel".into(),
            params: json!({"channel": 0}).as_object().unwrap().clone(),
            request_id: Some(json!("r7")),
        }),
    );
    for frame in [
        r#"{"type":"command","command":"reset"}"#,
        r#"{"type":"command","command":"reset","params":null,"requestId":""}"#,
    ] {
        check(
            frame,
            Ok(ClientMessage::Command {
                command: "reset".into(),
                params: Map::new(),
                request_id: None,
            }),
        );
    }
    check(
        r#"{"type":"stream_resync","id":"counts","extra":1}"#,
        Ok(ClientMessage::StreamResync {
            id: "counts".into(),
        }),
    );
    check(r#"{"type":"resync"}"#, Ok(ClientMessage::Resync));
    check(
        r#"{"type":"hello","level":2}"#,
        Ok(ClientMessage::Hello {
            level: 2,
            client: None,
        }),
    );
    check(
        r#"{"type":"hello","level":2,"client":{"kind":"browser","name":" bench\u0007 PC\n"}}"#,
        Ok(ClientMessage::Hello {
            level: 2,
            client: Some(ClientInfo {
                kind: Some("browser".into()),
                name: Some("bench PC".into()),
            }),
        }),
    );
    check(
        r#"{"type":"cancel","requestId":"r7"}"#,
        Ok(ClientMessage::Cancel {
            request_id: json!("r7"),
        }),
    );
    check(
        r#"{"type":"cancel","requestId":7}"#,
        Ok(ClientMessage::Cancel {
            request_id: json!(7),
        }),
    );
}

#[test]
fn malformed_level_two_messages_say_what_is_wrong() {
    check(
        r#"{"type":"hello"}"#,
        Err("a hello message needs \"level\": 2"),
    );
    check(
        r#"{"type":"hello","level":3}"#,
        Err("\"level\" of a hello must be 2, not 3"),
    );
    check(
        r#"{"type":"hello","level":2,"client":"me"}"#,
        Err("\"client\" of a hello must be an object, not a string"),
    );
    check(
        r#"{"type":"hello","level":2,"client":{"kind":1}}"#,
        Err("\"client.kind\" of a hello must be a string, not a number"),
    );
    let long = "x".repeat(ClientInfo::MAX_NAME + 1);
    check(
        &format!(r#"{{"type":"hello","level":2,"client":{{"name":"{long}"}}}}"#),
        Err("\"client.name\" of a hello is 65 characters long; at most 64 are allowed"),
    );
    check(
        r#"{"type":"cancel"}"#,
        Err("a cancel message needs \"requestId\""),
    );
    check(
        r#"{"type":"cancel","requestId":""}"#,
        Err("a cancel message needs a non-empty \"requestId\""),
    );
}

#[test]
fn malformed_client_messages_say_what_is_wrong() {
    check(
        "{",
        Err("the frame is not valid JSON: EOF while parsing an object at line 1 column 1"),
    );
    check("[1]", Err("a message must be a JSON object, not an array"));
    check("{}", Err("the message has no \"type\""));
    check(
        r#"{"type":7}"#,
        Err("\"type\" must be a string, not a number"),
    );
    check(r#"{"type":"hi"}"#, Err("unknown message type \"hi\""));
    check(
        r#"{"type":"command"}"#,
        Err("a command message needs \"command\""),
    );
    check(
        r#"{"type":"command","command":1}"#,
        Err("\"command\" must be a string, not a number"),
    );
    check(
        r#"{"type":"command","command":"x","params":[1]}"#,
        Err("\"params\" must be an object of named parameters, not an array"),
    );
    check(
        r#"{"type":"stream_resync"}"#,
        Err("a stream_resync message needs \"id\""),
    );
    check(
        r#"{"type":"stream_resync","id":null}"#,
        Err("\"id\" must be a string, not null"),
    );
    assert!(!ClientMessage::parse("{}").unwrap_err().is_unknown_type());
}

/// Params that are not an object still make a command, which keeps its
/// `requestId` for the `invalid_params` answer.
#[test]
fn params_that_are_not_an_object_are_kept_as_the_commands_problem() {
    for (params, kind) in [
        ("[1]", "an array"),
        ("7", "a number"),
        ("\"x\"", "a string"),
    ] {
        let frame =
            format!(r#"{{"type":"command","command":"x","params":{params},"requestId":"r"}}"#);
        let error = ClientMessage::parse(&frame).unwrap_err();
        assert_eq!(
            error.message(),
            format!("\"params\" must be an object of named parameters, not {kind}")
        );
        assert_eq!(
            error.rejected_command(),
            Some(&RejectedCommand {
                command: "x".into(),
                request_id: Some(json!("r")),
            })
        );
    }
    assert_eq!(
        ClientMessage::parse("{}").unwrap_err().rejected_command(),
        None
    );
}

/// Serialises `message`, checks the bytes, and parses them back.
#[track_caller]
fn round_trip(message: ServerMessage<'_>, text: &str) {
    assert_eq!(message.to_text(), text);
    let parsed = ServerMessage::parse(text).expect("the text parses");
    assert_eq!(
        parsed.to_text(),
        text,
        "a parsed message serialises the same"
    );
}

#[test]
fn server_messages_bytes_and_round_trip() {
    let ops = vec![PatchOp::Replace {
        path: "/enabled".parse().unwrap(),
        value: json!(true),
    }];
    round_trip(
        ServerMessage::Patch {
            patch: ops.as_slice().into(),
            version: 42,
            meta: Default::default(),
        },
        r#"{"type":"patch","patch":[{"op":"replace","path":"/enabled","value":true}],"version":42}"#,
    );
    let meta = PatchMeta {
        origin_client_id: Some("3f0c".into()),
        request_id: Some("r7".into()),
        command: Some("set_enabled".into()),
    };
    round_trip(
        ServerMessage::Patch {
            patch: ops.as_slice().into(),
            version: 42,
            meta: Cow::Borrowed(&meta),
        },
        r#"{"type":"patch","patch":[{"op":"replace","path":"/enabled","value":true}],"version":42,"originClientId":"3f0c","requestId":"r7","command":"set_enabled"}"#,
    );
    round_trip(
        ServerMessage::CommandAck {
            command: "reset".into(),
            request_id: Cow::Owned(json!(8)),
            version: 44,
            result: None,
        },
        r#"{"type":"command_ack","command":"reset","requestId":8,"version":44}"#,
    );
    round_trip(
        ServerMessage::CommandError {
            command: "nope".into(),
            request_id: Cow::Owned(json!("r1")),
            error: Cow::Owned(CommandError::unknown_command("nope")),
            origin_client_id: Some("c1".into()),
            version: 3,
        },
        r#"{"type":"command_error","command":"nope","requestId":"r1","code":"unknown_command","message":"Unknown command: 'nope'","severity":"error","display":"toast","recoverable":false,"originClientId":"c1","version":3}"#,
    );
    round_trip(
        ServerMessage::Error {
            code: "bad_message".into(),
            message: "x".into(),
        },
        r#"{"type":"error","code":"bad_message","message":"x"}"#,
    );
    round_trip(
        ServerMessage::Resume { version: 4 },
        r#"{"type":"resume","version":4}"#,
    );
    round_trip(
        ServerMessage::StreamSnapshot {
            id: "trace".into(),
            data: StreamData::F32(&[0.1, 0.5]),
            seq: 1,
        },
        r#"{"type":"stream_snapshot","id":"trace","data":[0.10000000149011612,0.5],"seq":1}"#,
    );
    round_trip(
        ServerMessage::StreamDelta {
            id: "hist".into(),
            deltas: [(3, 1), (9, -2)].as_slice().into(),
            seq: 5,
        },
        r#"{"type":"stream_delta","id":"hist","deltas":[[3,1],[9,-2]],"seq":5}"#,
    );
}

#[test]
fn long_running_command_messages_bytes_and_round_trip() {
    let progress = crate::command::Progress::new(0.5)
        .with_message("ramping")
        .with_current(2.5)
        .with_target(5.0)
        .with_unit("V")
        .with_eta_s(1.5);
    round_trip(
        ServerMessage::CommandProgress {
            request_id: Cow::Owned(json!("r7")),
            progress: Cow::Borrowed(&progress),
        },
        r#"{"type":"command_progress","requestId":"r7","fraction":0.5,"message":"ramping","current":2.5,"target":5.0,"unit":"V","eta_s":1.5}"#,
    );
    let running = RunningCommand {
        id: 1,
        command: "ramp_channel".into(),
        client_id: "c1".into(),
        request_id: Some(json!("r7")),
        client: Some(ClientInfo {
            kind: Some("browser".into()),
            name: None,
        }),
        started_at: 5,
        progress: None,
    };
    round_trip(
        ServerMessage::RunningCommands {
            commands: std::slice::from_ref(&running).into(),
        },
        r#"{"type":"running_commands","commands":[{"id":1,"command":"ramp_channel","clientId":"c1","requestId":"r7","client":{"kind":"browser"},"startedAt":5}]}"#,
    );
    round_trip(
        ServerMessage::RunningStarted {
            running: Cow::Borrowed(&running),
        },
        r#"{"type":"running_started","id":1,"command":"ramp_channel","clientId":"c1","requestId":"r7","client":{"kind":"browser"},"startedAt":5}"#,
    );
    round_trip(
        ServerMessage::RunningProgress {
            id: 1,
            progress: Cow::Owned(crate::command::Progress::new(1.0)),
        },
        r#"{"type":"running_progress","id":1,"progress":{"fraction":1.0}}"#,
    );
    round_trip(
        ServerMessage::RunningFinished {
            id: 1,
            outcome: "cancelled".into(),
        },
        r#"{"type":"running_finished","id":1,"outcome":"cancelled"}"#,
    );
}

#[test]
fn presence_messages_bytes_and_round_trip() {
    let entry = PresenceEntry {
        client_id: "c1".into(),
        principal: "local".into(),
        kind: Some("rust".into()),
        name: None,
        connected_at: 5,
        last_command_at: Some(9),
    };
    let lock = ControlLock {
        holder: "local".into(),
        client_id: "c1".into(),
        since: 7,
    };
    round_trip(
        ServerMessage::Presence {
            clients: std::slice::from_ref(&entry).into(),
            lock: None,
        },
        r#"{"type":"presence","clients":[{"clientId":"c1","principal":"local","kind":"rust","connectedAt":5,"lastCommandAt":9}],"lock":null}"#,
    );
    round_trip(
        ServerMessage::PresenceJoined {
            client: Cow::Borrowed(&entry),
        },
        r#"{"type":"presence_joined","client":{"clientId":"c1","principal":"local","kind":"rust","connectedAt":5,"lastCommandAt":9}}"#,
    );
    round_trip(
        ServerMessage::PresenceUpdated {
            client: Cow::Borrowed(&entry),
        },
        r#"{"type":"presence_updated","client":{"clientId":"c1","principal":"local","kind":"rust","connectedAt":5,"lastCommandAt":9}}"#,
    );
    round_trip(
        ServerMessage::PresenceLeft {
            client_id: "c1".into(),
        },
        r#"{"type":"presence_left","clientId":"c1"}"#,
    );
    round_trip(
        ServerMessage::ControlLock {
            lock: Some(Cow::Borrowed(&lock)),
        },
        r#"{"type":"control_lock","lock":{"holder":"local","clientId":"c1","since":7}}"#,
    );
}

#[test]
fn the_snapshot_builder_writes_what_serde_writes() {
    let document = json!({"enabled": false, "name": "a\"b"});
    for client_id in [None, Some("3f\"0c")] {
        for schema_hash in [None, Some("sha256:ab")] {
            let typed = ServerMessage::Snapshot {
                data: document.clone(),
                version: 41,
                client_id: client_id.map(Into::into),
                schema_hash: schema_hash.map(Into::into),
            };
            assert_eq!(
                snapshot_text(&document.to_string(), 41, client_id, schema_hash),
                typed.to_text()
            );
        }
    }
}

#[test]
fn server_parse_errors_tell_unknown_types_from_broken_messages() {
    let unknown = ServerMessage::parse(r#"{"type":"presence_delta","who":[]}"#).unwrap_err();
    assert!(unknown.is_unknown_type());
    let broken = ServerMessage::parse(r#"{"type":"patch","version":1}"#).unwrap_err();
    assert!(!broken.is_unknown_type());
    assert!(broken.message().contains("patch"), "{broken}");
    assert!(!ServerMessage::parse("[").unwrap_err().is_unknown_type());
}

#[test]
fn a_sparse_command_error_still_parses_with_the_protocol_defaults() {
    let parsed = ServerMessage::parse(
        r#"{"type":"command_error","command":"x","requestId":"r1","version":1}"#,
    )
    .unwrap();
    let ServerMessage::CommandError { error, .. } = parsed else {
        panic!("a command error: {parsed:?}")
    };
    assert_eq!(error.code(), "command_failed");
    assert!(!error.is_recoverable());
    let _: Value = serde_json::to_value(&*error).unwrap();
}

#[test]
fn binary_frames_round_trip() {
    let samples: Vec<u8> = [1.5_f64, -2.0]
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    let frame = binary_frame(TAG_F64, "trace", 7, &samples);
    assert_eq!(
        decode_binary_frame(&frame),
        Some(BinaryFrame {
            id: "trace".into(),
            seq: 7,
            samples: vec![1.5, -2.0],
        })
    );
    assert_eq!(decode_binary_frame(&frame[..frame.len() - 1]), None);
    assert_eq!(decode_binary_frame(&[TAG_F32, 9]), None);
}
