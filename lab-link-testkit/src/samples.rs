//! Float samples for stream tests and the check that a float stream's
//! `stream_snapshot` reads back as its binary frame.
//!
//! A float stream reaches a client in two forms: binary frames (IEEE-754
//! bytes) and the JSON numbers of a `stream_snapshot`. JSON readers parse
//! numbers as 64-bit floats, so the two agree only when each JSON number
//! is the text of the sample widened to `f64`. The samples here are the
//! ones where a formatting mistake shows: zeros of both signs, subnormals,
//! the largest and smallest exponents, and random bits of every exponent.

use lab_link_client::{decode_binary_frame, BinaryFrame};
use serde_json::Value;

/// Float32 samples that exercise JSON number formatting, the same for the
/// same `seed`: `+0.0`, `-0.0`, the smallest and largest subnormals and
/// normals of both signs, one sample of random mantissa for every finite
/// exponent and both signs, then `random` finite samples of random bits.
/// Never NaN or infinite.
///
/// ```
/// let samples = lab_link_testkit::float32_samples(7, 100);
/// assert_eq!(samples.len(), 10 + 2 * 255 + 100);
/// assert!(samples.iter().all(|s| s.is_finite()));
/// assert!(samples.iter().any(|s| s.is_subnormal()));
/// assert!(samples.contains(&f32::MAX));
/// ```
pub fn float32_samples(seed: u64, random: usize) -> Vec<f32> {
    bit_patterns(seed, random, 8, 23)
        .into_iter()
        .map(|bits| f32::from_bits(bits as u32))
        .collect()
}

/// The float64 twin of [`float32_samples`]: the same kinds of samples,
/// for every one of the 2047 finite exponents.
///
/// ```
/// let samples = lab_link_testkit::float64_samples(7, 100);
/// assert_eq!(samples.len(), 10 + 2 * 2047 + 100);
/// assert!(samples.iter().all(|s| s.is_finite()));
/// assert!(samples.contains(&f64::MIN));
/// ```
pub fn float64_samples(seed: u64, random: usize) -> Vec<f64> {
    bit_patterns(seed, random, 11, 52)
        .into_iter()
        .map(f64::from_bits)
        .collect()
}

/// Asserts that a float stream's `stream_snapshot` text, read as a JSON
/// reader reads it (numbers as `f64`), holds exactly the samples of the
/// binary `frame`, widened to `f64`: same id, same seq, same samples bit
/// for bit (so `-0.0` differs from `0.0`). Returns the samples.
///
/// ```
/// use lab_link::engine::stream::binary_frame;
/// use lab_link::LabSync;
///
/// let sync = LabSync::new(0_u32);
/// let trace = sync.replace_stream_f32("trace");
/// trace.replace([0.1_f32, -0.0]);
/// let snapshot = trace.snapshot();
/// let mut bytes = 0.1_f32.to_le_bytes().to_vec();
/// bytes.extend_from_slice(&(-0.0_f32).to_le_bytes());
/// let frame = binary_frame(0x01, "trace", 1, &bytes);
/// let samples =
///     lab_link_testkit::assert_snapshot_matches_frame(snapshot.text().unwrap_or_default(), &frame);
/// assert_eq!(samples, [f64::from(0.1_f32), -0.0]);
/// ```
///
/// # Panics
///
/// When the snapshot is not a `stream_snapshot` of numbers, the frame does
/// not decode, or they differ: the message names the first differing
/// sample, its JSON text and the frame's value.
#[track_caller]
pub fn assert_snapshot_matches_frame(snapshot: &str, frame: &[u8]) -> Vec<f64> {
    let message: Value = serde_json::from_str(snapshot)
        .unwrap_or_else(|e| panic!("the snapshot is not JSON ({e}): {snapshot}"));
    assert_eq!(message["type"], "stream_snapshot", "not a stream_snapshot");
    let BinaryFrame { id, seq, samples } =
        decode_binary_frame(frame).expect("a well-formed binary frame");
    assert_eq!(
        message["id"],
        id.as_str(),
        "the snapshot and the frame's id"
    );
    assert_eq!(
        message["seq"].as_u64().map(|seq| seq as u32),
        Some(seq),
        "the snapshot and the frame's seq"
    );
    let data = message["data"].as_array().expect("a snapshot's data array");
    let read: Vec<f64> = data
        .iter()
        .enumerate()
        .map(|(i, sample)| {
            sample
                .as_f64()
                .unwrap_or_else(|| panic!("stream {id:?}: snapshot sample {i} is {sample}"))
        })
        .collect();
    assert_same_samples(&format!("stream {id:?}'s snapshot"), &read, &samples);
    samples
}

/// Asserts that `got` holds exactly the samples of `expected`, bit for bit
/// (`-0.0` is not `0.0`, a NaN equals only the same NaN); `what` names the
/// reader in the message, which lists the first differing sample.
///
/// ```
/// lab_link_testkit::assert_same_samples("the page", &[0.5, -0.0], &[0.5, -0.0]);
/// ```
///
/// # Panics
///
/// When the lengths or any sample differ.
#[track_caller]
pub fn assert_same_samples(what: &str, got: &[f64], expected: &[f64]) {
    assert_eq!(got.len(), expected.len(), "{what}: the number of samples");
    let differing = got
        .iter()
        .zip(expected)
        .position(|(got, expected)| got.to_bits() != expected.to_bits());
    if let Some(i) = differing {
        let count = got
            .iter()
            .zip(expected)
            .filter(|(got, expected)| got.to_bits() != expected.to_bits())
            .count();
        panic!(
            "{what}: {count} of {} samples differ; the first, sample {i}, is {:?} ({:#018x}), \
             expected {:?} ({:#018x})",
            got.len(),
            got[i],
            got[i].to_bits(),
            expected[i],
            expected[i].to_bits(),
        );
    }
}

/// IEEE-754 bit patterns of the samples (see [`float32_samples`]) of a
/// format with the given exponent and mantissa widths.
fn bit_patterns(seed: u64, random: usize, exponent_bits: u32, mantissa_bits: u32) -> Vec<u64> {
    let mantissa_mask = (1_u64 << mantissa_bits) - 1;
    // The all-ones exponent is infinity and NaN: never generated.
    let exponents = (1_u64 << exponent_bits) - 1;
    let sign = 1_u64 << (exponent_bits + mantissa_bits);
    let largest = ((exponents - 1) << mantissa_bits) | mantissa_mask;
    let smallest_normal = 1_u64 << mantissa_bits;
    let mut patterns = Vec::with_capacity(10 + 2 * exponents as usize + random);
    for bits in [0, 1, mantissa_mask, smallest_normal, largest] {
        patterns.extend([bits, sign | bits]);
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    for exponent in 0..exponents {
        for sign in [0, sign] {
            patterns.push(sign | (exponent << mantissa_bits) | (rng.u64(..) & mantissa_mask));
        }
    }
    let len = patterns.len() + random;
    while patterns.len() < len {
        let bits = rng.u64(..) & (sign | (exponents << mantissa_bits) | mantissa_mask);
        if (bits >> mantissa_bits) & exponents != exponents {
            patterns.push(bits);
        }
    }
    patterns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_and_exponent_is_there() {
        let samples = float32_samples(1, 1000);
        for class in [
            std::num::FpCategory::Zero,
            std::num::FpCategory::Subnormal,
            std::num::FpCategory::Normal,
        ] {
            assert!(samples.iter().any(|s| s.classify() == class), "{class:?}");
        }
        assert!(samples.iter().any(|s| s.to_bits() == (-0.0_f32).to_bits()));
        assert!(samples.contains(&f32::MIN) && samples.contains(&f32::from_bits(1)));
        for exponent in 0..255_u32 {
            for negative in [false, true] {
                assert!(samples
                    .iter()
                    .any(|s| (s.to_bits() >> 23) & 0xff == exponent
                        && s.is_sign_negative() == negative));
            }
        }
        assert_eq!(samples, float32_samples(1, 1000));
        assert_ne!(samples, float32_samples(2, 1000));
    }
}
