//! The binary frames of float replace streams.
//!
//! Byte 0 is the tag ([`TAG_F32`] `0x01`, float32 samples, what the 0.5.0
//! browser runtime decodes; [`TAG_F64`] `0x02`, float64, level 2), bytes
//! 1-2 the id's length as u16 little-endian, then the id in UTF-8, the seq
//! as u32 little-endian (wrapping), then the samples as little-endian
//! IEEE-754 floats.

use bytes::Bytes;

/// The tag of a frame of float32 samples (level 1).
pub const TAG_F32: u8 = 0x01;
/// The tag of a frame of float64 samples (level 2).
pub const TAG_F64: u8 = 0x02;

/// A decoded binary frame: see [`decode_binary_frame`].
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryFrame {
    /// The stream's id.
    pub id: String,
    /// The seq's low 32 bits.
    pub seq: u32,
    /// The samples, float32 ones widened to `f64` exactly.
    pub samples: Vec<f64>,
}

/// Encodes a binary stream frame of already encoded little-endian
/// `samples` (see the [module](self) for the layout).
///
/// ```
/// use lab_link_core::protocol::{binary_frame, TAG_F32};
///
/// let frame = binary_frame(TAG_F32, "t", 7, &1.0_f32.to_le_bytes());
/// assert_eq!(&frame[..], &[1, 1, 0, b't', 7, 0, 0, 0, 0, 0, 0x80, 0x3f]);
/// ```
///
/// # Panics
///
/// When the id is longer than 65535 bytes (stream registration refuses
/// such ids).
pub fn binary_frame(tag: u8, id: &str, seq: u64, samples: &[u8]) -> Bytes {
    let id_len = u16::try_from(id.len()).expect("a stream id fits in 65535 bytes");
    let mut frame = Vec::with_capacity(7 + id.len() + samples.len());
    frame.push(tag);
    frame.extend_from_slice(&id_len.to_le_bytes());
    frame.extend_from_slice(id.as_bytes());
    // The wire seq is 32 bits; it wraps after 4 billion updates.
    frame.extend_from_slice(&(seq as u32).to_le_bytes());
    frame.extend_from_slice(samples);
    Bytes::from(frame)
}

/// Decodes a binary stream frame; `None` for an unknown tag, a truncated
/// frame, an id that is not UTF-8 or a partial sample.
///
/// ```
/// use lab_link_core::protocol::{decode_binary_frame, BinaryFrame};
///
/// let mut frame = vec![0x01, 1, 0, b't', 7, 0, 0, 0];
/// frame.extend_from_slice(&0.5_f32.to_le_bytes());
/// assert_eq!(
///     decode_binary_frame(&frame),
///     Some(BinaryFrame { id: "t".to_owned(), seq: 7, samples: vec![0.5] })
/// );
/// assert_eq!(decode_binary_frame(&[0x03]), None);
/// ```
pub fn decode_binary_frame(frame: &[u8]) -> Option<BinaryFrame> {
    let (&tag, rest) = frame.split_first()?;
    let width = match tag {
        TAG_F32 => 4,
        TAG_F64 => 8,
        _ => return None,
    };
    let id_len = usize::from(u16::from_le_bytes(rest.get(..2)?.try_into().ok()?));
    let rest = &rest[2..];
    let id = std::str::from_utf8(rest.get(..id_len)?).ok()?.to_owned();
    let rest = &rest[id_len..];
    let seq = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
    let samples = &rest[4..];
    if samples.len() % width != 0 {
        return None;
    }
    let samples = samples
        .chunks_exact(width)
        .map(|chunk| match chunk.try_into() {
            Ok(bytes) => f64::from(f32::from_le_bytes(bytes)),
            // Invariant: chunks are 4 or 8 bytes long.
            Err(_) => f64::from_le_bytes(chunk.try_into().expect("an 8-byte chunk")),
        })
        .collect();
    Some(BinaryFrame { id, seq, samples })
}
