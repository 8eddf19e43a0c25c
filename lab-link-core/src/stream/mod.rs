//! Streams: high-rate series that travel beside the document, not in it.
//!
//! A stream is registered on a [`LabSync`](crate::LabSync) (before or after
//! serving starts) and written through a typed handle, one per mode, so a
//! method of another mode does not compile:
//!
//! - [`AppendStream`]: a ring buffer of JSON values of fixed capacity;
//!   `stream_append` messages, the snapshot holds the buffer, oldest first.
//! - [`ReplaceStream<Json>`](ReplaceStream), [`ReplaceStream<F32>`] and
//!   [`ReplaceStream<F64>`]: the whole array is replaced each time. JSON
//!   samples go out as `stream_replace`; float samples as binary frames
//!   (tag `0x01` for float32, `0x02` for float64, see [`binary_frame`]).
//! - [`IntDeltaStream`]: a fixed array of integer bins; `stream_delta`
//!   messages with `[bin, delta]` pairs, zero deltas omitted; a `replace`
//!   of the bins goes out as a `stream_snapshot`.
//!
//! Every stream has a `seq` that grows by 1 per message (0 before the
//! first); a `stream_snapshot` carries the seq of the latest update it
//! contains. Each message is serialised once ([`StreamMessage`]) and handed
//! to every stream listener in order, under the streams' lock.
//!
//! # Messages
//!
//! Every JSON message holds `type`, `id`, its payload and `seq`, in this
//! order; the payload is `data` except in `stream_delta`, where it is
//! `deltas`:
//!
//! ```
//! let sync = lab_link_core::LabSync::new(0_u32);
//! let counts = sync.append_stream("counts", 10);
//! let histogram = sync.int_delta_stream("histogram", 4);
//! counts.append([1, 2])?;
//! histogram.add_all([(3, -1), (1, 2)])?;
//! assert_eq!(
//!     counts.snapshot().text(),
//!     Some(r#"{"type":"stream_snapshot","id":"counts","data":[1,2],"seq":1}"#)
//! );
//! // `stream_append`: {"type":"stream_append","id":"counts","data":[1,2],"seq":1}
//! // `stream_replace`: {"type":"stream_replace","id":…,"data":[…],"seq":N}
//! // `stream_delta`: [bin, delta] pairs, bins ascending, no zero delta:
//! //   {"type":"stream_delta","id":"histogram","deltas":[[1,2],[3,-1]],"seq":1}
//! assert_eq!(
//!     histogram.snapshot().text(),
//!     Some(r#"{"type":"stream_snapshot","id":"histogram","data":[0,2,0,-1],"seq":1}"#)
//! );
//! # Ok::<(), lab_link_core::stream::StreamError>(())
//! ```
//!
//! # Float samples in JSON
//!
//! A float stream's samples reach a client in two forms: binary frames
//! while it is connected, JSON numbers in the `stream_snapshot` it gets on
//! connect or after a `stream_resync`. Both must give the same numbers.
//! JSON readers parse numbers as 64-bit floats, so each float32 sample is
//! written as the `f64` it widens to (`f64::from(sample)`), in the shortest
//! text that reads back as that `f64`: the float32 `0x3fe08d44` is written
//! `1.7543110847473145`, not `1.7543111`. Float64 samples are written in
//! their shortest round-tripping text. A 64-bit parse of a snapshot thus
//! yields exactly the samples of the binary frame of the same seq, widened
//! to `f64`; subnormals and `-0.0` included.
//!
//! ```
//! let sync = lab_link_core::LabSync::new(0_u32);
//! let trace = sync.replace_stream_f32("trace");
//! let sample = f32::from_bits(0x3fe0_8d44);
//! trace.replace([sample, -0.0]);
//! let text = trace.snapshot().text().unwrap_or_default().to_owned();
//! assert_eq!(
//!     text,
//!     r#"{"type":"stream_snapshot","id":"trace","data":[1.7543110847473145,-0.0],"seq":1}"#
//! );
//! let snapshot: serde_json::Value = serde_json::from_str(&text)?;
//! assert_eq!(snapshot["data"][0].as_f64(), Some(f64::from(sample)));
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! Float values written to a JSON stream (an append, a
//! `ReplaceStream<Json>`) become JSON values first, which widens an `f32`
//! the same way.
//!
//! # Non-finite floats
//!
//! JSON has no NaN or infinity: an append or a JSON replace holding one is
//! refused with [`StreamError::NonFinite`] and changes nothing. Binary
//! streams carry IEEE-754 values as they are, NaN and infinities included;
//! their JSON snapshot shows such a sample as `null` (what `serde_json`
//! writes for a non-finite float), so a reader of the snapshot sees `null`
//! where the frame holds a NaN or an infinity.
//!
//! # Locking
//!
//! The streams have a lock of their own, so writing a stream never waits
//! for a mutation of the state. A subscription takes the state's lock and
//! then the streams' lock (never the other way round), so its start holds
//! the state snapshot and every stream snapshot of one instant. A stream
//! listener must not write a stream or subscribe (that would deadlock).
//!
//! ```compile_fail
//! // An append stream has no `replace`: another mode's method does not
//! // compile.
//! let sync = lab_link_core::LabSync::new(0_u32);
//! let counts = sync.append_stream("counts", 10);
//! counts.replace([1.0_f32]);
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use crate::protocol::{ServerMessage, StreamData, TAG_F32, TAG_F64};
use crate::reactive::to_json;

mod info;

use info::About;
pub use info::{Axes, StreamInfo};

/// Why a stream write was refused; the stream is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// A JSON stream cannot carry NaN or infinity.
    #[error("stream {id:?}: JSON streams cannot carry NaN or infinite floats")]
    NonFinite {
        /// The stream.
        id: String,
    },
    /// A value does not serialise to JSON.
    #[error("stream {id:?}: a value does not serialise: {message}")]
    Serialize {
        /// The stream.
        id: String,
        /// serde's message.
        message: String,
    },
    /// A bin outside an int_delta stream's bins, or a `replace` with
    /// another number of bins.
    #[error("stream {id:?}: bin {bin} is outside its {bins} bins")]
    Bin {
        /// The stream.
        id: String,
        /// The offending bin (for a `replace`: the length given).
        bin: usize,
        /// The stream's number of bins.
        bins: usize,
    },
}

/// What kind of update a [`StreamMessage`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamKind {
    /// `stream_snapshot` (also an int_delta stream's `replace`).
    Snapshot,
    /// `stream_append`.
    Append,
    /// `stream_replace` or a binary frame: self-contained, so a later one
    /// makes an earlier one useless.
    Replace,
    /// `stream_delta`.
    Delta,
}

/// The wire form of one stream message, serialised once and shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamPayload {
    /// A JSON text frame.
    Text(Arc<str>),
    /// A binary frame.
    Binary(Bytes),
}

/// One stream message, as every subscriber gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMessage {
    id: Arc<str>,
    seq: u64,
    kind: StreamKind,
    payload: StreamPayload,
}

impl StreamMessage {
    /// The stream's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The stream's seq after this message (for a snapshot: of the latest
    /// update it contains).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// What kind of update this is.
    pub fn kind(&self) -> StreamKind {
        self.kind
    }

    /// The serialised frame.
    pub fn payload(&self) -> &StreamPayload {
        &self.payload
    }

    /// The text of a JSON message (`None` for a binary frame).
    pub fn text(&self) -> Option<&str> {
        match &self.payload {
            StreamPayload::Text(text) => Some(text),
            StreamPayload::Binary(_) => None,
        }
    }
}

pub use crate::protocol::binary_frame;

/// The dtype marker of a [`ReplaceStream`] with JSON samples.
#[derive(Debug, Clone, Copy)]
pub enum Json {}
/// The dtype marker of a [`ReplaceStream`] with float32 samples (binary
/// frames, tag `0x01`).
#[derive(Debug, Clone, Copy)]
pub enum F32 {}
/// The dtype marker of a [`ReplaceStream`] with float64 samples (binary
/// frames, tag `0x02`).
#[derive(Debug, Clone, Copy)]
pub enum F64 {}

enum Buffer {
    Append {
        capacity: usize,
        values: VecDeque<Value>,
    },
    ReplaceJson(Vec<Value>),
    ReplaceF32(Vec<f32>),
    ReplaceF64(Vec<f64>),
    IntDelta(Vec<i64>),
}

struct Entry {
    id: Arc<str>,
    seq: u64,
    buffer: Buffer,
    about: About,
}

/// A stream message's text frame.
fn text(message: &ServerMessage<'_>) -> StreamPayload {
    StreamPayload::Text(message.to_text().into())
}

impl Entry {
    fn snapshot(&self) -> StreamMessage {
        let data = match &self.buffer {
            Buffer::Append { values, .. } => StreamData::Ring(values),
            Buffer::ReplaceJson(values) => StreamData::Values(values.into()),
            Buffer::ReplaceF32(values) => StreamData::F32(values),
            Buffer::ReplaceF64(values) => StreamData::F64(values),
            Buffer::IntDelta(bins) => StreamData::Ints(bins),
        };
        let payload = text(&ServerMessage::StreamSnapshot {
            id: Cow::Borrowed(&self.id),
            data,
            seq: self.seq,
        });
        self.message(StreamKind::Snapshot, payload)
    }

    fn message(&self, kind: StreamKind, payload: StreamPayload) -> StreamMessage {
        StreamMessage {
            id: self.id.clone(),
            seq: self.seq,
            kind,
            payload,
        }
    }
}

type StreamListener = Box<dyn FnMut(&StreamMessage) + Send>;

#[derive(Default)]
struct HubInner {
    entries: Vec<Entry>,
    listeners: Vec<(u64, StreamListener)>,
    next_listener_id: u64,
}

/// The streams of one `LabSync`: their buffers and listeners, under one
/// lock.
#[derive(Default)]
pub(crate) struct StreamHub {
    inner: Mutex<HubInner>,
    /// Listeners whose [`StreamSubscription`] was dropped; removed by the
    /// next lock holder (so a drop never waits for, or deadlocks on, the
    /// lock).
    removed: Mutex<Vec<u64>>,
}

impl fmt::Debug for StreamHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamHub").finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Listeners run inside catch_unwind and buffers are changed only after
    // every check passed, so a poisoned lock still guards good data.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The streams' lock, held: see [`StreamHub::lock`].
pub(crate) struct HubGuard<'a> {
    guard: MutexGuard<'a, HubInner>,
}

impl StreamHub {
    pub(crate) fn lock(&self) -> HubGuard<'_> {
        let mut guard = lock(&self.inner);
        let removed = std::mem::take(&mut *lock(&self.removed));
        if !removed.is_empty() {
            guard.listeners.retain(|(id, _)| !removed.contains(id));
        }
        HubGuard { guard }
    }

    fn register(self: &Arc<Self>, id: &str, buffer: Buffer) -> usize {
        assert!(
            u16::try_from(id.len()).is_ok(),
            "a stream id is at most 65535 bytes long"
        );
        let mut hub = self.lock();
        assert!(
            hub.guard.entries.iter().all(|e| &*e.id != id),
            "a stream {id:?} is already registered"
        );
        hub.guard.entries.push(Entry {
            id: id.into(),
            seq: 0,
            buffer,
            about: About::default(),
        });
        hub.guard.entries.len() - 1
    }

    /// Changes stream `index` with `update` (which returns the message to
    /// send, `None` for nothing) and hands the message to every listener.
    fn update<E>(
        &self,
        index: usize,
        update: impl FnOnce(&mut Entry) -> Result<Option<StreamMessage>, E>,
    ) -> Result<(), E> {
        let mut hub = self.lock();
        let Some(message) = update(&mut hub.guard.entries[index])? else {
            return Ok(());
        };
        hub.notify(&message);
        Ok(())
    }
}

impl HubGuard<'_> {
    /// What the schema document tells about every stream, in
    /// registration order.
    pub(crate) fn infos(&self) -> Vec<StreamInfo> {
        self.guard.entries.iter().map(Entry::info).collect()
    }

    /// Every stream's snapshot, in registration order.
    pub(crate) fn snapshots(&self) -> Vec<StreamMessage> {
        self.guard.entries.iter().map(Entry::snapshot).collect()
    }

    /// The snapshot of stream `id`.
    pub(crate) fn snapshot(&self, id: &str) -> Option<StreamMessage> {
        self.guard
            .entries
            .iter()
            .find(|e| &*e.id == id)
            .map(Entry::snapshot)
    }

    pub(crate) fn listen(
        &mut self,
        hub: &Arc<StreamHub>,
        listener: StreamListener,
    ) -> StreamSubscription {
        let id = self.guard.next_listener_id;
        self.guard.next_listener_id += 1;
        self.guard.listeners.push((id, listener));
        StreamSubscription {
            hub: Arc::downgrade(hub),
            id,
        }
    }

    fn notify(&mut self, message: &StreamMessage) {
        self.guard.listeners.retain_mut(|(id, listener)| {
            let call = std::panic::AssertUnwindSafe(|| listener(message));
            match std::panic::catch_unwind(call) {
                Ok(()) => true,
                Err(_) => {
                    tracing::error!("lab-link: stream listener {id} panicked; it is removed");
                    false
                }
            }
        });
    }
}

/// A stream listener; dropping it removes the listener.
#[must_use = "the listener is removed when this guard is dropped"]
pub struct StreamSubscription {
    hub: Weak<StreamHub>,
    id: u64,
}

impl fmt::Debug for StreamSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamSubscription")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for StreamSubscription {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            lock(&hub.removed).push(self.id);
        }
    }
}

macro_rules! handle_common {
    ($name:ident $(<$d:ident>)?) => {
        impl $(<$d>)? $name $(<$d>)? {
            /// The stream's id.
            pub fn id(&self) -> &str {
                &self.id
            }

            /// The stream's current `stream_snapshot`.
            pub fn snapshot(&self) -> StreamMessage {
                self.hub.lock().guard.entries[self.index].snapshot()
            }

            /// Describes the stream in the schema document (see
            /// [`StreamInfo`]).
            #[must_use]
            pub fn with_description(self, description: impl Into<String>) -> Self {
                self.hub.lock().guard.entries[self.index].about.description =
                    Some(description.into());
                self
            }

            /// Gives the unit of the stream's samples in the schema
            /// document.
            #[must_use]
            pub fn with_unit(self, unit: impl Into<String>) -> Self {
                self.hub.lock().guard.entries[self.index].about.unit = Some(unit.into());
                self
            }

            /// Gives the axis labels of the stream in the schema document:
            /// `x` along the samples, `y` their value.
            #[must_use]
            pub fn with_axes(self, x: impl Into<String>, y: impl Into<String>) -> Self {
                self.hub.lock().guard.entries[self.index].about.axes = Some(Axes {
                    x: x.into(),
                    y: y.into(),
                });
                self
            }
        }

        impl $(<$d>)? fmt::Debug for $name $(<$d>)? {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field("id", &self.id).finish()
            }
        }
    };
}

/// An append stream: see [`LabSync::append_stream`](crate::LabSync::append_stream).
/// Cheap to clone.
#[derive(Clone)]
pub struct AppendStream {
    hub: Arc<StreamHub>,
    index: usize,
    id: Arc<str>,
}

/// A replace stream with samples of dtype `D` ([`Json`], [`F32`] or
/// [`F64`]): see [`LabSync::replace_stream`](crate::LabSync::replace_stream).
/// Cheap to clone.
pub struct ReplaceStream<D> {
    hub: Arc<StreamHub>,
    index: usize,
    id: Arc<str>,
    dtype: PhantomData<fn() -> D>,
}

impl<D> Clone for ReplaceStream<D> {
    fn clone(&self) -> Self {
        Self {
            hub: self.hub.clone(),
            index: self.index,
            id: self.id.clone(),
            dtype: PhantomData,
        }
    }
}

/// An int_delta stream: see
/// [`LabSync::int_delta_stream`](crate::LabSync::int_delta_stream). Cheap to
/// clone.
#[derive(Clone)]
pub struct IntDeltaStream {
    hub: Arc<StreamHub>,
    index: usize,
    id: Arc<str>,
}

handle_common!(AppendStream);
handle_common!(ReplaceStream<D>);
handle_common!(IntDeltaStream);

fn json_values<T: Serialize>(
    id: &str,
    values: impl IntoIterator<Item = T>,
) -> Result<Vec<Value>, StreamError> {
    values
        .into_iter()
        .map(|value| {
            to_json(&value).map_err(|kind| match kind {
                crate::MutationErrorKind::NonFinite => StreamError::NonFinite { id: id.into() },
                other => StreamError::Serialize {
                    id: id.into(),
                    message: other.to_string(),
                },
            })
        })
        .collect()
}

impl AppendStream {
    /// Appends values (one `stream_append` message); the oldest values
    /// beyond the capacity drop out of the buffer. Appending nothing sends
    /// nothing.
    ///
    /// # Errors
    ///
    /// A value that is not valid JSON (NaN, infinity, a failing
    /// `Serialize`): nothing is appended.
    pub fn append<T: Serialize>(
        &self,
        values: impl IntoIterator<Item = T>,
    ) -> Result<(), StreamError> {
        let values = json_values(&self.id, values)?;
        if values.is_empty() {
            return Ok(());
        }
        self.hub.update(self.index, |entry| {
            entry.seq += 1;
            let payload = text(&ServerMessage::StreamAppend {
                id: Cow::Borrowed(&entry.id),
                data: StreamData::Values(values.as_slice().into()),
                seq: entry.seq,
            });
            let Buffer::Append {
                capacity,
                values: buffer,
            } = &mut entry.buffer
            else {
                unreachable!("an append handle points at an append buffer")
            };
            for value in values {
                if buffer.len() == *capacity {
                    buffer.pop_front();
                }
                if *capacity > 0 {
                    buffer.push_back(value);
                }
            }
            Ok(Some(entry.message(StreamKind::Append, payload)))
        })
    }
}

impl ReplaceStream<Json> {
    /// Replaces the array (one `stream_replace` message).
    ///
    /// # Errors
    ///
    /// A value that is not valid JSON (NaN, infinity, a failing
    /// `Serialize`): nothing changes.
    pub fn replace<T: Serialize>(
        &self,
        samples: impl IntoIterator<Item = T>,
    ) -> Result<(), StreamError> {
        let samples = json_values(&self.id, samples)?;
        self.hub.update(self.index, |entry| {
            entry.seq += 1;
            let payload = text(&ServerMessage::StreamReplace {
                id: Cow::Borrowed(&entry.id),
                data: StreamData::Values(samples.as_slice().into()),
                seq: entry.seq,
            });
            entry.buffer = Buffer::ReplaceJson(samples);
            Ok(Some(entry.message(StreamKind::Replace, payload)))
        })
    }
}

impl ReplaceStream<F32> {
    /// Replaces the samples (one binary frame, tag `0x01`). NaN and
    /// infinities are sent as they are.
    pub fn replace(&self, samples: impl IntoIterator<Item = f32>) {
        let samples: Vec<f32> = samples.into_iter().collect();
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let _ = self.hub.update(self.index, |entry| {
            entry.seq += 1;
            let frame = binary_frame(TAG_F32, &entry.id, entry.seq, &bytes);
            entry.buffer = Buffer::ReplaceF32(samples);
            Ok::<_, StreamError>(Some(
                entry.message(StreamKind::Replace, StreamPayload::Binary(frame)),
            ))
        });
    }
}

impl ReplaceStream<F64> {
    /// Replaces the samples (one binary frame, tag `0x02`). NaN and
    /// infinities are sent as they are.
    pub fn replace(&self, samples: impl IntoIterator<Item = f64>) {
        let samples: Vec<f64> = samples.into_iter().collect();
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let _ = self.hub.update(self.index, |entry| {
            entry.seq += 1;
            let frame = binary_frame(TAG_F64, &entry.id, entry.seq, &bytes);
            entry.buffer = Buffer::ReplaceF64(samples);
            Ok::<_, StreamError>(Some(
                entry.message(StreamKind::Replace, StreamPayload::Binary(frame)),
            ))
        });
    }
}

impl IntDeltaStream {
    /// Adds `delta` to one bin (one `stream_delta` message; a zero delta
    /// sends nothing).
    ///
    /// # Errors
    ///
    /// A bin outside the stream's bins.
    pub fn add(&self, bin: usize, delta: i64) -> Result<(), StreamError> {
        self.add_all([(bin, delta)])
    }

    /// Adds several deltas as one `stream_delta` message: deltas of the
    /// same bin are summed, zero sums omitted (nothing at all is sent when
    /// every sum is zero).
    ///
    /// # Errors
    ///
    /// A bin outside the stream's bins: nothing changes.
    pub fn add_all(
        &self,
        deltas: impl IntoIterator<Item = (usize, i64)>,
    ) -> Result<(), StreamError> {
        let mut summed = BTreeMap::new();
        for (bin, delta) in deltas {
            *summed.entry(bin).or_insert(0_i64) += delta;
        }
        let deltas: Vec<(usize, i64)> = summed.into_iter().filter(|(_, d)| *d != 0).collect();
        self.hub.update(self.index, |entry| {
            let Buffer::IntDelta(bins) = &mut entry.buffer else {
                unreachable!("an int_delta handle points at an int_delta buffer")
            };
            if let Some(&(bin, _)) = deltas.iter().find(|(bin, _)| *bin >= bins.len()) {
                return Err(StreamError::Bin {
                    id: entry.id.to_string(),
                    bin,
                    bins: bins.len(),
                });
            }
            if deltas.is_empty() {
                return Ok(None);
            }
            for &(bin, delta) in &deltas {
                bins[bin] = bins[bin].wrapping_add(delta);
            }
            entry.seq += 1;
            let payload = text(&ServerMessage::StreamDelta {
                id: Cow::Borrowed(&entry.id),
                deltas: deltas.as_slice().into(),
                seq: entry.seq,
            });
            Ok(Some(entry.message(StreamKind::Delta, payload)))
        })
    }

    /// Replaces every bin; sent as a `stream_snapshot`.
    ///
    /// # Errors
    ///
    /// `bins` has another length than the stream's bins.
    pub fn replace(&self, bins: impl IntoIterator<Item = i64>) -> Result<(), StreamError> {
        let new: Vec<i64> = bins.into_iter().collect();
        self.hub.update(self.index, |entry| {
            let Buffer::IntDelta(bins) = &mut entry.buffer else {
                unreachable!("an int_delta handle points at an int_delta buffer")
            };
            if new.len() != bins.len() {
                return Err(StreamError::Bin {
                    id: entry.id.to_string(),
                    bin: new.len(),
                    bins: bins.len(),
                });
            }
            *bins = new;
            entry.seq += 1;
            Ok(Some(entry.snapshot()))
        })
    }
}

/// Registers the streams of a `LabSync`: what its `*_stream` methods call.
pub(crate) fn append_stream(hub: &Arc<StreamHub>, id: &str, capacity: usize) -> AppendStream {
    let buffer = Buffer::Append {
        capacity,
        values: VecDeque::with_capacity(capacity.min(4096)),
    };
    let index = hub.register(id, buffer);
    AppendStream {
        hub: hub.clone(),
        index,
        id: id.into(),
    }
}

pub(crate) fn replace_stream<D>(hub: &Arc<StreamHub>, id: &str) -> ReplaceStream<D> {
    let buffer = if std::any::type_name::<D>() == std::any::type_name::<F32>() {
        Buffer::ReplaceF32(Vec::new())
    } else if std::any::type_name::<D>() == std::any::type_name::<F64>() {
        Buffer::ReplaceF64(Vec::new())
    } else {
        Buffer::ReplaceJson(Vec::new())
    };
    let index = hub.register(id, buffer);
    ReplaceStream {
        hub: hub.clone(),
        index,
        id: id.into(),
        dtype: PhantomData,
    }
}

pub(crate) fn int_delta_stream(hub: &Arc<StreamHub>, id: &str, bins: usize) -> IntDeltaStream {
    let index = hub.register(id, Buffer::IntDelta(vec![0; bins]));
    IntDeltaStream {
        hub: hub.clone(),
        index,
        id: id.into(),
    }
}

#[cfg(test)]
mod tests;
