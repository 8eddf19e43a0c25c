//! Cheap scans of server frames, and the version and seq gap checks.
//!
//! Most clients of a scenario never parse JSON: they find the few fields
//! they need by a byte search. That is sound for the frames of the demo
//! workload because both servers write `type` as the first key (so the
//! first `"type"` key is the message's), and `version`, `requestId` and
//! `seq` after the payload (so the last such key is the message's). A
//! payload holding those keys (a label named `version`, say) could fool
//! the scan; the scenarios never write one, and the sampled clients that
//! parse every frame count any disagreement between scan and parse as a
//! failure.

/// The kind of a server message, from its `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `snapshot`: a full replica reset.
    Snapshot,
    /// `patch`: one versioned JSON Patch.
    Patch,
    /// `command_ack`.
    Ack,
    /// `command_error`.
    CommandError,
    /// `stream_snapshot`.
    StreamSnapshot,
    /// `stream_append`.
    StreamAppend,
    /// `stream_replace` (JSON samples).
    StreamReplace,
    /// `stream_delta`.
    StreamDelta,
    /// `resume` (level 2).
    Resume,
    /// Anything else (`error`, or a type this crate does not know).
    Other,
}

impl Kind {
    /// The kind named by a wire `type`.
    pub fn from_type(name: &str) -> Self {
        match name {
            "snapshot" => Self::Snapshot,
            "patch" => Self::Patch,
            "command_ack" => Self::Ack,
            "command_error" => Self::CommandError,
            "stream_snapshot" => Self::StreamSnapshot,
            "stream_append" => Self::StreamAppend,
            "stream_replace" => Self::StreamReplace,
            "stream_delta" => Self::StreamDelta,
            "resume" => Self::Resume,
            _ => Self::Other,
        }
    }
}

/// The kind of a text frame, from its first `"type"` key.
pub fn kind(text: &str) -> Kind {
    key_value(text, "type", false)
        .and_then(string_at)
        .map_or(Kind::Other, Kind::from_type)
}

/// The message's `version`: the last `"version"` key's number.
pub fn version(text: &str) -> Option<u64> {
    key_value(text, "version", true).and_then(u64_at)
}

/// The message's `seq`: the last `"seq"` key's number.
pub fn seq(text: &str) -> Option<u64> {
    key_value(text, "seq", true).and_then(u64_at)
}

/// The message's `requestId`: the last `"requestId"` key's string.
pub fn request_id(text: &str) -> Option<&str> {
    key_value(text, "requestId", true).and_then(string_at)
}

/// A stream message's `id`: the first `"id"` key's string.
pub fn stream_id(text: &str) -> Option<&str> {
    key_value(text, "id", false).and_then(string_at)
}

/// The stream id and seq of a binary stream frame (tag `0x01` float32 or
/// `0x02` float64; PROTOCOL.md, "Streams"), or `None` when malformed.
pub fn binary_frame(frame: &[u8]) -> Option<(&str, u64)> {
    let (&tag, rest) = frame.split_first()?;
    if tag != 0x01 && tag != 0x02 {
        return None;
    }
    let len = usize::from(u16::from_le_bytes([*rest.first()?, *rest.get(1)?]));
    let id = std::str::from_utf8(rest.get(2..2 + len)?).ok()?;
    let seq = rest.get(2 + len..2 + len + 4)?;
    let seq = u32::from_le_bytes([seq[0], seq[1], seq[2], seq[3]]);
    let samples = rest.len() - (2 + len + 4);
    let width = if tag == 0x01 { 4 } else { 8 };
    (samples % width == 0).then_some((id, u64::from(seq)))
}

/// The text after `"key"` and its colon (whitespace skipped): the first
/// occurrence used as a key, or the last when `last`.
fn key_value<'a>(text: &'a str, key: &str, last: bool) -> Option<&'a str> {
    let bytes = text.as_bytes();
    let key_len = key.len() + 2;
    let value_after = |at: usize| -> Option<&'a str> {
        // The key must be quoted on both sides and followed by a colon.
        let after = at + key_len;
        if bytes.get(at)? != &b'"' || bytes.get(after - 1)? != &b'"' {
            return None;
        }
        if text.get(at + 1..after - 1)? != key {
            return None;
        }
        let rest = text.get(after..)?.trim_start();
        rest.strip_prefix(':').map(str::trim_start)
    };
    let needle = format!("\"{key}\"");
    if last {
        text.rmatch_indices(&needle)
            .find_map(|(at, _)| value_after(at))
    } else {
        text.match_indices(&needle)
            .find_map(|(at, _)| value_after(at))
    }
}

/// The JSON string at the start of `text` (no escapes: the scanned values
/// never hold any).
fn string_at(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('"')?;
    let end = rest.find('"')?;
    let value = &rest[..end];
    (!value.contains('\\')).then_some(value)
}

/// The unsigned integer at the start of `text`.
fn u64_at(text: &str) -> Option<u64> {
    let end = text
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    text[..end].parse().ok()
}

/// What went wrong with a version or seq sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disorder {
    /// A patch before any snapshot.
    BeforeSnapshot {
        /// The patch's version.
        got: u64,
    },
    /// A version skipped.
    Gap {
        /// The version expected.
        expected: u64,
        /// The version received.
        got: u64,
    },
    /// A version repeated or going back.
    Repeat {
        /// The version expected.
        expected: u64,
        /// The version received.
        got: u64,
    },
}

impl std::fmt::Display for Disorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BeforeSnapshot { got } => write!(f, "patch v{got} before any snapshot"),
            Self::Gap { expected, got } => write!(f, "gap: expected v{expected}, got v{got}"),
            Self::Repeat { expected, got } => {
                write!(f, "repeat: expected v{expected}, got v{got}")
            }
        }
    }
}

/// The patch versions one client received: each patch must be the version
/// after the previous patch or snapshot (PROTOCOL.md, "Ordering
/// guarantees" 1). A snapshot after the first is a resynchronisation: it
/// restarts the sequence and is counted, not failed.
#[derive(Debug, Clone, Default)]
pub struct VersionTrack {
    last: Option<u64>,
    /// The version of the first snapshot.
    pub first_snapshot: Option<u64>,
    /// Patches received.
    pub patches: u64,
    /// Snapshots after the first.
    pub resyncs: u64,
    /// Gaps, repeats and patches before a snapshot.
    pub disorders: u64,
    /// The first disorder, for the report.
    pub first_disorder: Option<Disorder>,
}

impl VersionTrack {
    /// A snapshot (or a level-2 `resume`) at `version`.
    pub fn snapshot(&mut self, version: u64) {
        if self.first_snapshot.is_none() {
            self.first_snapshot = Some(version);
        } else {
            self.resyncs += 1;
        }
        self.last = Some(version);
    }

    /// A patch at `version`.
    pub fn patch(&mut self, version: u64) -> Result<(), Disorder> {
        self.patches += 1;
        let outcome = match self.last {
            None => Err(Disorder::BeforeSnapshot { got: version }),
            Some(last) if version == last + 1 => Ok(()),
            Some(last) if version <= last => Err(Disorder::Repeat {
                expected: last + 1,
                got: version,
            }),
            Some(last) => Err(Disorder::Gap {
                expected: last + 1,
                got: version,
            }),
        };
        if let Err(disorder) = &outcome {
            self.disorders += 1;
            self.first_disorder.get_or_insert_with(|| disorder.clone());
        }
        self.last = Some(version.max(self.last.unwrap_or(0)));
        outcome
    }

    /// The latest version received, if any.
    pub fn last(&self) -> Option<u64> {
        self.last
    }
}

/// The seqs of one stream at one client: `append` and `int_delta` updates
/// must come one seq after the other (a `stream_snapshot` restarts the
/// sequence); `replace` updates must increase but may skip (latest wins).
#[derive(Debug, Clone, Default)]
pub struct SeqTrack {
    last: Option<u64>,
    /// Updates received (snapshots not counted).
    pub updates: u64,
    /// Replace updates that skipped seqs (allowed: latest wins).
    pub skipped: u64,
    /// Seqs out of order (or skipped where that is not allowed).
    pub disorders: u64,
}

impl SeqTrack {
    /// A `stream_snapshot` at `seq`.
    pub fn snapshot(&mut self, seq: u64) {
        self.last = Some(seq);
    }

    /// An update at `seq`; `may_skip` for replace streams.
    pub fn update(&mut self, seq: u64, may_skip: bool) {
        self.updates += 1;
        match self.last {
            Some(last) if seq == last + 1 => {}
            Some(last) if seq > last && may_skip => self.skipped += 1,
            // An update before the stream's snapshot, out of order, or a
            // skip where every update must arrive.
            _ => self.disorders += 1,
        }
        self.last = Some(seq);
    }

    /// The latest seq, if any.
    pub fn last(&self) -> Option<u64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expect: (Kind, Option<u64>, Option<&str>)) {
        assert_eq!((kind(text), version(text), request_id(text)), expect);
    }

    #[test]
    fn scans_both_servers_spellings() {
        check(
            r#"{"type":"patch","patch":[{"op":"replace","path":"/channels/0/bias_voltage","value":1.25}],"version":42,"originClientId":"x","requestId":"7:123","command":"set_channel"}"#,
            (Kind::Patch, Some(42), Some("7:123")),
        );
        check(
            r#"{"type": "patch", "patch": [{"op": "replace", "path": "/acquisition/count", "value": 3}], "version": 9}"#,
            (Kind::Patch, Some(9), None),
        );
        check(
            r#"{"type": "command_ack", "command": "set_channel", "requestId": "r7", "version": 43, "result": {"channel": 0, "value": 1.25}}"#,
            (Kind::Ack, Some(43), Some("r7")),
        );
        check(
            r#"{"type":"snapshot","data":{"labels":{"version":"x"}},"version":41}"#,
            (Kind::Snapshot, Some(41), None),
        );
        check("not json", (Kind::Other, None, None));
        check(
            r#"{"type":"error","code":"bad_message"}"#,
            (Kind::Other, None, None),
        );
    }

    #[test]
    fn a_key_inside_a_string_value_is_not_a_key() {
        let text = r#"{"type":"patch","patch":[{"op":"add","path":"/labels/k","value":"\"version\""}],"version":5}"#;
        assert_eq!(version(text), Some(5));
        let text = r#"{"type": "stream_append", "id": "counts", "data": [1, 2], "seq": 13}"#;
        assert_eq!(
            (kind(text), stream_id(text), seq(text)),
            (Kind::StreamAppend, Some("counts"), Some(13))
        );
    }

    #[test]
    fn binary_frames() {
        let mut frame = vec![0x01, 5, 0];
        frame.extend_from_slice(b"trace");
        frame.extend_from_slice(&7u32.to_le_bytes());
        frame.extend_from_slice(&1.5f32.to_le_bytes());
        assert_eq!(binary_frame(&frame), Some(("trace", 7)));
        frame.push(0);
        assert_eq!(binary_frame(&frame), None, "a partial sample");
        assert_eq!(binary_frame(&[0x03, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(binary_frame(&[0x01, 9]), None);
    }

    #[test]
    fn version_gaps_repeats_and_resyncs() {
        let mut track = VersionTrack::default();
        assert_eq!(track.patch(3), Err(Disorder::BeforeSnapshot { got: 3 }));
        track.snapshot(10);
        assert_eq!(track.patch(11), Ok(()));
        assert_eq!(track.patch(12), Ok(()));
        assert_eq!(
            track.patch(12),
            Err(Disorder::Repeat {
                expected: 13,
                got: 12
            })
        );
        assert_eq!(
            track.patch(15),
            Err(Disorder::Gap {
                expected: 13,
                got: 15
            })
        );
        track.snapshot(40);
        assert_eq!(track.patch(41), Ok(()));
        assert_eq!(
            (track.patches, track.resyncs, track.disorders, track.last()),
            (6, 1, 3, Some(41))
        );
        assert_eq!(
            track.first_disorder,
            Some(Disorder::BeforeSnapshot { got: 3 })
        );
    }

    #[test]
    fn seqs_of_append_and_replace_streams() {
        let mut append = SeqTrack::default();
        append.snapshot(4);
        append.update(5, false);
        append.update(7, false);
        assert_eq!((append.updates, append.disorders), (2, 1));
        let mut replace = SeqTrack::default();
        replace.snapshot(0);
        replace.update(1, true);
        replace.update(5, true);
        replace.update(5, true);
        assert_eq!((replace.skipped, replace.disorders), (1, 1));
    }
}
