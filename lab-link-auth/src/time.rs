//! Time: Unix seconds as `f64` (the store's `REAL` columns) and Python's
//! `datetime.fromtimestamp(x, timezone.utc).isoformat()`, the timestamp
//! format of every 0.5.0 JSON answer.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix seconds (negative before 1970, which a sane clock never is).
pub(crate) fn now_unix() -> f64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

/// `2026-11-26T05:13:43.206302+00:00`, the fraction omitted when it is
/// zero, exactly as Python's `isoformat` prints `fromtimestamp(unix, utc)`.
///
/// Microseconds are rounded half-to-even from the fractional second, as
/// CPython does. Python raises for values outside its `datetime` range
/// (years 1 to 9999) and for NaN; here they are clamped to that range
/// (NaN gives the epoch), so this never panics.
pub(crate) fn iso(unix: f64) -> String {
    let (seconds, micros) = split(unix);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if micros != 0 {
        out.push_str(&format!(".{micros:06}"));
    }
    out.push_str("+00:00");
    out
}

/// 0001-01-01T00:00:00 and 9999-12-31T23:59:59, Python's `datetime` range.
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

/// Whole seconds and microseconds, as CPython's `_PyTime_DoubleToDenominator`
/// with `ROUND_HALF_EVEN`: split off the fraction, scale, round, carry.
fn split(unix: f64) -> (i64, u32) {
    if unix.is_nan() {
        return (0, 0);
    }
    let clamped = unix.clamp(MIN_SECONDS as f64, MAX_SECONDS as f64);
    let whole = clamped.trunc();
    let mut micros = ((clamped - whole) * 1e6).round_ties_even();
    // `whole` is an integer within the clamp range, so the cast is exact.
    let mut seconds = whole as i64;
    if micros >= 1e6 {
        micros -= 1e6;
        seconds += 1;
    } else if micros < 0.0 {
        micros += 1e6;
        seconds -= 1;
    }
    // `micros` is an integer in 0..1e6 here.
    (seconds.clamp(MIN_SECONDS, MAX_SECONDS), micros as u32)
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to a
/// proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are small and positive by construction (1..=12, 1..=31).
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values from python3:
    /// `datetime.fromtimestamp(x, timezone.utc).isoformat()`.
    #[track_caller]
    fn check(unix: f64, expect: &str) {
        assert_eq!(iso(unix), expect, "iso({unix:?})");
    }

    #[test]
    fn matches_python_isoformat() {
        check(0.0, "1970-01-01T00:00:00+00:00");
        check(1.5, "1970-01-01T00:00:01.500000+00:00");
        check(1_795_583_623.206_302, "2026-11-25T05:13:43.206302+00:00");
        check(-1.25, "1969-12-31T23:59:58.750000+00:00");
        check(951_782_400.0, "2000-02-29T00:00:00+00:00");
        check(4_102_444_800.5, "2100-01-01T00:00:00.500000+00:00");
        check(1_000_000_000.123_456_5, "2001-09-09T01:46:40.123456+00:00");
        check(1_709_251_199.0, "2024-02-29T23:59:59+00:00");
        check(1_735_689_599.999_999, "2024-12-31T23:59:59.999999+00:00");
    }

    #[test]
    fn rounds_microseconds_like_cpython() {
        // The fraction rounds to zero and is then omitted.
        check(1_795_583_623.000_000_5, "2026-11-25T05:13:43+00:00");
        check(1_795_583_623.000_001_5, "2026-11-25T05:13:43.000001+00:00");
        // Rounding carries into the next second.
        check(1_795_583_623.999_999_6, "2026-11-25T05:13:44+00:00");
    }

    #[test]
    fn out_of_range_is_clamped_not_a_panic() {
        check(f64::NAN, "1970-01-01T00:00:00+00:00");
        check(f64::INFINITY, "9999-12-31T23:59:59+00:00");
        check(f64::NEG_INFINITY, "0001-01-01T00:00:00+00:00");
    }

    #[test]
    fn now_is_after_2025() {
        assert!(now_unix() > 1_735_689_600.0);
    }
}
