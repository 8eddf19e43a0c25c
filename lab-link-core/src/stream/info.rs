//! What `GET {prefix}/schema` tells about each stream: [`StreamInfo`], and
//! the descriptions a handle adds with `with_description`, `with_unit` and
//! `with_axes`.

use serde::Serialize;

use super::{Buffer, Entry};

/// What clients can discover about a stream, listed under `streams` in
/// the schema document.
///
/// ```
/// use lab_link_core::SyncSource; // the transport's view of a `LabSync`
///
/// let sync = lab_link_core::LabSync::new(0_u32);
/// let counts = sync
///     .append_stream("counts", 300)
///     .with_description("Photon count rate, one value per tick.")
///     .with_unit("1/s")
///     .with_axes("tick", "rate");
/// assert_eq!(
///     serde_json::to_value(&sync.stream_infos())?,
///     serde_json::json!([{
///         "id": "counts",
///         "mode": "append",
///         "capacity": 300,
///         "unit": "1/s",
///         "axes": {"x": "tick", "y": "rate"},
///         "description": "Photon count rate, one value per tick.",
///     }]),
/// );
/// # drop(counts);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StreamInfo {
    /// The stream's id.
    pub id: String,
    /// `append`, `replace` or `int_delta`.
    pub mode: &'static str,
    /// A replace stream's samples: `json`, `f32` or `f64`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtype: Option<&'static str>,
    /// An append stream's ring-buffer capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<usize>,
    /// An int_delta stream's number of bins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bins: Option<usize>,
    /// The unit of the samples, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The axis labels, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub axes: Option<Axes>,
    /// What the stream carries, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A stream's axis labels: `x` along the samples (time, bin), `y` their
/// value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Axes {
    /// The label along the samples.
    pub x: String,
    /// The label of the values.
    pub y: String,
}

/// The descriptions given to a stream's handle.
#[derive(Debug, Default)]
pub(super) struct About {
    pub(super) unit: Option<String>,
    pub(super) axes: Option<Axes>,
    pub(super) description: Option<String>,
}

impl Entry {
    pub(super) fn info(&self) -> StreamInfo {
        let (mode, dtype, capacity, bins) = match &self.buffer {
            Buffer::Append { capacity, .. } => ("append", None, Some(*capacity), None),
            Buffer::ReplaceJson(_) => ("replace", Some("json"), None, None),
            Buffer::ReplaceF32(_) => ("replace", Some("f32"), None, None),
            Buffer::ReplaceF64(_) => ("replace", Some("f64"), None, None),
            Buffer::IntDelta(values) => ("int_delta", None, None, Some(values.len())),
        };
        StreamInfo {
            id: self.id.to_string(),
            mode,
            dtype,
            capacity,
            bins,
            unit: self.about.unit.clone(),
            axes: self.about.axes.clone(),
            description: self.about.description.clone(),
        }
    }
}
