//! Decimation for plots: the range cut into equal time buckets, each
//! represented by its lowest and its highest point, so that a spike of a
//! single sample survives any zoom level.

use serde_json::Value;

use super::Point;

/// At most `max_points` points standing for `points` (sorted by time,
/// within `from_us..=to_us`): `max_points / 2` equal time buckets, each
/// giving its minimum and its maximum in time order (one point when they
/// are the same). Strings, which have no order a plot could use, give the
/// first point of each of `max_points` buckets; nulls are left out.
#[cfg(test)]
pub(crate) fn decimate(
    points: impl Iterator<Item = Point>,
    from_us: i64,
    to_us: i64,
    max_points: usize,
) -> Vec<Point> {
    let mut buckets = Buckets::new(from_us, to_us, max_points);
    for point in points {
        buckets.add(point);
    }
    buckets.finish()
}

/// The buckets of [`decimate`], filled one point at a time.
pub(crate) struct Buckets {
    from_us: i64,
    span: u128,
    count: usize,
    max_points: usize,
    /// The bucket being filled and its (min, max) or first string.
    current: Option<(usize, Extremes)>,
    out: Vec<Point>,
}

enum Extremes {
    Numbers {
        min: (f64, Point),
        max: (f64, Point),
    },
    First(Point),
}

impl Buckets {
    pub(crate) fn new(from_us: i64, to_us: i64, max_points: usize) -> Self {
        let span = u128::try_from(i128::from(to_us) - i128::from(from_us) + 1).unwrap_or(1);
        Self {
            from_us,
            span,
            count: (max_points / 2).max(1),
            max_points,
            current: None,
            out: Vec::with_capacity(max_points),
        }
    }

    pub(crate) fn add(&mut self, point: Point) {
        let number = match &point.value {
            Value::Number(n) => n.as_f64(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::String(_) => None,
            _ => return,
        };
        let count = if number.is_some() {
            self.count
        } else {
            self.max_points
        };
        let offset =
            u128::try_from(i128::from(point.time_us) - i128::from(self.from_us)).unwrap_or(0);
        let bucket = usize::try_from(offset * count as u128 / self.span).unwrap_or(usize::MAX);
        if let Some((current, extremes)) = &mut self.current {
            if *current == bucket {
                if let (Extremes::Numbers { min, max }, Some(x)) = (extremes, number) {
                    if x < min.0 {
                        *min = (x, point);
                    } else if x > max.0 {
                        *max = (x, point);
                    }
                }
                return;
            }
        }
        self.flush();
        let extremes = match number {
            Some(x) => Extremes::Numbers {
                min: (x, point.clone()),
                max: (x, point),
            },
            None => Extremes::First(point),
        };
        self.current = Some((bucket, extremes));
    }

    pub(crate) fn finish(mut self) -> Vec<Point> {
        self.flush();
        self.out
    }

    fn flush(&mut self) {
        match self.current.take() {
            Some((_, Extremes::Numbers { min, max })) => {
                let (first, second) =
                    if (max.1.time_us, max.1.version) < (min.1.time_us, min.1.version) {
                        (max.1, min.1)
                    } else {
                        (min.1, max.1)
                    };
                let same = first == second;
                self.out.push(first);
                if !same {
                    self.out.push(second);
                }
            }
            Some((_, Extremes::First(point))) => self.out.push(point),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{decimate, Point};

    fn point(time_us: i64, value: serde_json::Value) -> Point {
        Point {
            time_us,
            version: u64::try_from(time_us).unwrap(),
            value,
        }
    }

    #[track_caller]
    fn check(values: &[f64], max_points: usize, expect: &[(i64, f64)]) {
        let points = values
            .iter()
            .enumerate()
            .map(|(i, x)| point(i64::try_from(i).unwrap(), json!(x)));
        let last = i64::try_from(values.len()).unwrap() - 1;
        let got: Vec<(i64, f64)> = decimate(points, 0, last, max_points)
            .into_iter()
            .map(|p| (p.time_us, p.value.as_f64().unwrap()))
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn each_bucket_keeps_its_min_and_max_in_time_order() {
        // Two buckets of four: [1, 9, 0, 5] and [5, 5, -3, 2].
        check(
            &[1.0, 9.0, 0.0, 5.0, 5.0, 5.0, -3.0, 2.0],
            4,
            &[(1, 9.0), (2, 0.0), (4, 5.0), (6, -3.0)],
        );
    }

    #[test]
    fn a_single_spike_survives_heavy_decimation() {
        let mut values = vec![0.0; 100_000];
        values[31_337] = 1e6;
        values[77_777] = -1e6;
        let got = decimate(
            values
                .iter()
                .enumerate()
                .map(|(i, x)| point(i64::try_from(i).unwrap(), json!(x))),
            0,
            99_999,
            10,
        );
        assert!(got.len() <= 10, "{}", got.len());
        assert!(got
            .iter()
            .any(|p| p.time_us == 31_337 && p.value == json!(1e6)));
        assert!(got
            .iter()
            .any(|p| p.time_us == 77_777 && p.value == json!(-1e6)));
    }

    #[test]
    fn a_flat_bucket_gives_one_point_and_strings_their_first() {
        check(&[2.0, 2.0, 2.0, 2.0], 2, &[(0, 2.0)]);
        let strings = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .map(|(i, s)| point(i64::try_from(i).unwrap(), json!(s)));
        let got: Vec<_> = decimate(strings, 0, 3, 2)
            .into_iter()
            .map(|p| p.value)
            .collect();
        assert_eq!(got, [json!("a"), json!("c")]);
    }

    #[test]
    fn booleans_decimate_as_zero_and_one() {
        let flips = [false, false, true, false]
            .iter()
            .enumerate()
            .map(|(i, b)| point(i64::try_from(i).unwrap(), json!(b)));
        let got: Vec<_> = decimate(flips, 0, 3, 2)
            .into_iter()
            .map(|p| p.value)
            .collect();
        assert_eq!(got, [json!(false), json!(true)]);
    }
}
