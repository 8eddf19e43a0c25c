//! Streams on a [`LabSync`]: registering them. See [`crate::stream`].

use super::LabSync;
use crate::reactive::Reactive;
use crate::stream::{AppendStream, IntDeltaStream, Json, ReplaceStream, F32, F64};

/// Streams: see [`crate::stream`].
impl<S: Reactive + Send + 'static> LabSync<S> {
    /// Registers an append stream: a ring buffer of `capacity` JSON
    /// values. Registration works before or after serving starts; clients
    /// connected already get its snapshot on their next resync.
    ///
    /// # Panics
    ///
    /// When a stream of the same id is registered, or the id is longer
    /// than 65535 bytes: bugs in the program.
    pub fn append_stream(&self, id: &str, capacity: usize) -> AppendStream {
        crate::stream::append_stream(&self.shared.streams, id, capacity)
    }

    /// Registers a replace stream of JSON samples (`stream_replace`).
    ///
    /// # Panics
    ///
    /// As [`append_stream`](LabSync::append_stream).
    pub fn replace_stream(&self, id: &str) -> ReplaceStream<Json> {
        crate::stream::replace_stream(&self.shared.streams, id)
    }

    /// Registers a replace stream of float32 samples (binary frames, tag
    /// `0x01`).
    ///
    /// # Panics
    ///
    /// As [`append_stream`](LabSync::append_stream).
    pub fn replace_stream_f32(&self, id: &str) -> ReplaceStream<F32> {
        crate::stream::replace_stream(&self.shared.streams, id)
    }

    /// Registers a replace stream of float64 samples (binary frames, tag
    /// `0x02`).
    ///
    /// # Panics
    ///
    /// As [`append_stream`](LabSync::append_stream).
    pub fn replace_stream_f64(&self, id: &str) -> ReplaceStream<F64> {
        crate::stream::replace_stream(&self.shared.streams, id)
    }

    /// Registers an int_delta stream of `bins` integer bins, all 0.
    ///
    /// # Panics
    ///
    /// As [`append_stream`](LabSync::append_stream).
    pub fn int_delta_stream(&self, id: &str, bins: usize) -> IntDeltaStream {
        crate::stream::int_delta_stream(&self.shared.streams, id, bins)
    }
}
