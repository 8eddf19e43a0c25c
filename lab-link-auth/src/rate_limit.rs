//! The login rate limit, with the attempt's slot reserved before the
//! passphrase is checked.
//!
//! 0.5.0 checked the limit before reading the body and counted a failure
//! only after the ~100 ms verify, so 30 concurrent guesses were all
//! verified against a limit of 5 (AUTH.md W1). Here an attempt first
//! reserves a [`Slot`]; in-flight attempts count against the limit like
//! failures, so at most `max_failures` guesses per key can be decided per
//! window, however many arrive at once.
//!
//! Keys are strings (see [`rate_limit_key`](crate::rate_limit_key): the
//! resolved client, IPv6 by /64). Keys with no failure in the window and
//! nothing in flight are swept, at most once per window, so memory stays
//! bounded by the keys active in the last two windows.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Failures per key within a sliding window; in-flight attempts count.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    max_failures: u32,
    window: Duration,
    state: Mutex<State>,
}

/// A reserved attempt: [`Slot::failed`] records a failure,
/// [`Slot::succeeded`] clears the key's history; dropping it undecided
/// releases it.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    limiter: &'a RateLimiter,
    key: String,
    decided: bool,
}

/// Everything behind the one lock.
#[derive(Debug)]
struct State {
    entries: HashMap<String, Entry>,
    next_sweep: Option<Instant>,
}

/// One key's record.
#[derive(Debug, Default)]
struct Entry {
    /// Failure instants, oldest first, all within the window once pruned.
    failures: VecDeque<Instant>,
    /// Reserved slots not yet decided or dropped.
    in_flight: u32,
}

/// What a slot's owner decided.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Failed,
    Succeeded,
    Abandoned,
}

impl RateLimiter {
    /// `max_failures` per `window` (0.5.0: 5 per 60 s). With
    /// `max_failures` 0 every attempt is refused.
    pub(crate) fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            state: Mutex::new(State {
                entries: HashMap::new(),
                next_sweep: None,
            }),
        }
    }

    /// Reserves an attempt for `key`, or says how long to wait.
    ///
    /// The attempt is refused when the key's failures within the window
    /// plus its attempts in flight reach `max_failures`. Take the slot
    /// **before** doing the expensive check, and decide it after.
    ///
    /// # Errors
    ///
    /// The key is limited: the `Retry-After` duration, the time until the
    /// oldest failure leaves the window, rounded up to whole seconds and
    /// at least 1 s.
    pub(crate) fn try_reserve(&self, key: &str) -> Result<Slot<'_>, Duration> {
        self.try_reserve_at(key, Instant::now())
    }

    /// [`RateLimiter::try_reserve`] at a given instant.
    fn try_reserve_at(&self, key: &str, now: Instant) -> Result<Slot<'_>, Duration> {
        let mut state = self.lock();
        self.maybe_sweep(&mut state, now);
        let entry = state.entries.entry(key.to_owned()).or_default();
        prune(entry, now, self.window);
        let used = u64::try_from(entry.failures.len())
            .unwrap_or(u64::MAX)
            .saturating_add(u64::from(entry.in_flight));
        if used >= u64::from(self.max_failures) {
            let retry_after = entry.failures.front().map_or(Duration::ZERO, |oldest| {
                self.window
                    .saturating_sub(now.saturating_duration_since(*oldest))
            });
            if entry.failures.is_empty() && entry.in_flight == 0 {
                // Only possible with `max_failures` 0: leave no record.
                state.entries.remove(key);
            }
            return Err(whole_seconds(retry_after));
        }
        entry.in_flight += 1;
        Ok(Slot {
            limiter: self,
            key: key.to_owned(),
            decided: false,
        })
    }

    /// Decides one in-flight attempt of `key`.
    fn finish(&self, key: &str, outcome: Outcome, now: Instant) {
        let mut state = self.lock();
        let Some(entry) = state.entries.get_mut(key) else {
            return;
        };
        entry.in_flight = entry.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Failed => entry.failures.push_back(now),
            Outcome::Succeeded => entry.failures.clear(),
            Outcome::Abandoned => {}
        }
        prune(entry, now, self.window);
        if entry.in_flight == 0 && entry.failures.is_empty() {
            state.entries.remove(key);
        }
    }

    /// Drops idle keys, at most once per window.
    fn maybe_sweep(&self, state: &mut State, now: Instant) {
        if state.next_sweep.is_some_and(|at| now < at) {
            return;
        }
        let window = self.window;
        state.entries.retain(|_, entry| {
            prune(entry, now, window);
            entry.in_flight > 0 || !entry.failures.is_empty()
        });
        state.next_sweep = now.checked_add(window);
    }

    /// The state; a panic elsewhere while holding the lock leaves counts
    /// that are still consistent enough to keep limiting.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Slot<'_> {
    /// The attempt failed: counts against the key for the window.
    pub(crate) fn failed(self) {
        self.decide(Outcome::Failed, Instant::now());
    }

    /// The attempt succeeded: clears the key's failures.
    pub(crate) fn succeeded(self) {
        self.decide(Outcome::Succeeded, Instant::now());
    }

    fn decide(mut self, outcome: Outcome, now: Instant) {
        self.decided = true;
        self.limiter.finish(&self.key, outcome, now);
    }
}

impl Drop for Slot<'_> {
    /// An undecided slot (the request was cancelled, the verify failed to
    /// run) is released without recording anything.
    fn drop(&mut self) {
        if !self.decided {
            self.limiter
                .finish(&self.key, Outcome::Abandoned, Instant::now());
        }
    }
}

/// Drops failures that have left the window.
fn prune(entry: &mut Entry, now: Instant, window: Duration) {
    while entry
        .failures
        .front()
        .is_some_and(|at| now.saturating_duration_since(*at) >= window)
    {
        entry.failures.pop_front();
    }
}

/// Rounded up to whole seconds, at least one (a `Retry-After` value).
fn whole_seconds(duration: Duration) -> Duration {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    Duration::from_secs(seconds.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    fn entries(limiter: &RateLimiter) -> usize {
        limiter.lock().entries.len()
    }

    #[test]
    fn sixth_attempt_after_five_failures_is_refused() {
        let limiter = RateLimiter::new(5, WINDOW);
        let t0 = Instant::now();
        for i in 0..5 {
            let slot = limiter
                .try_reserve_at("k", t0 + Duration::from_secs(i))
                .unwrap();
            slot.decide(Outcome::Failed, t0 + Duration::from_secs(i));
        }
        // Refused even for a right passphrase: the check is never reached.
        let retry_after = limiter
            .try_reserve_at("k", t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(retry_after, Duration::from_secs(50));
        // The refusal is not counted.
        let retry_after = limiter
            .try_reserve_at("k", t0 + Duration::from_millis(59_500))
            .unwrap_err();
        assert_eq!(retry_after, Duration::from_secs(1));
        // The oldest failure leaves the window: one attempt is possible.
        let slot = limiter.try_reserve_at("k", t0 + WINDOW).unwrap();
        assert!(limiter.try_reserve_at("k", t0 + WINDOW).is_err());
        drop(slot);
    }

    #[test]
    fn concurrent_reservations_count_in_flight_attempts() {
        // The W1 burst: 30 attempts reserve before any is decided.
        let limiter = RateLimiter::new(5, WINDOW);
        let barrier = std::sync::Barrier::new(30);
        let granted = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..30 {
                scope.spawn(|| {
                    let slot = limiter.try_reserve("192.0.2.7");
                    if slot.is_ok() {
                        granted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    // Everyone has tried before anyone decides.
                    barrier.wait();
                    if let Ok(slot) = slot {
                        slot.failed();
                    }
                });
            }
        });
        assert_eq!(granted.into_inner(), 5);
        // And the five failures now block the key.
        assert!(limiter.try_reserve("192.0.2.7").is_err());
    }

    #[test]
    fn in_flight_refusal_has_a_minimum_retry_after() {
        let limiter = RateLimiter::new(1, WINDOW);
        let slot = limiter.try_reserve("k").unwrap();
        assert_eq!(
            limiter.try_reserve("k").unwrap_err(),
            Duration::from_secs(1)
        );
        drop(slot);
        assert!(limiter.try_reserve("k").is_ok());
    }

    #[test]
    fn success_clears_the_key() {
        let limiter = RateLimiter::new(5, WINDOW);
        for _ in 0..4 {
            limiter.try_reserve("k").unwrap().failed();
        }
        limiter.try_reserve("k").unwrap().succeeded();
        assert_eq!(entries(&limiter), 0);
        for _ in 0..5 {
            limiter.try_reserve("k").unwrap().failed();
        }
        assert!(limiter.try_reserve("k").is_err());
    }

    #[test]
    fn dropping_an_undecided_slot_records_nothing() {
        let limiter = RateLimiter::new(2, WINDOW);
        for _ in 0..10 {
            let slot = limiter.try_reserve("k").unwrap();
            assert_eq!(slot.key, "k");
            drop(slot);
        }
        assert_eq!(entries(&limiter), 0);
    }

    #[test]
    fn keys_are_independent() {
        let limiter = RateLimiter::new(5, WINDOW);
        for _ in 0..5 {
            limiter.try_reserve("192.0.2.7").unwrap().failed();
        }
        assert!(limiter.try_reserve("192.0.2.7").is_err());
        limiter.try_reserve("192.0.2.8").unwrap().succeeded();
        assert!(limiter.try_reserve("192.0.2.7").is_err());
    }

    #[test]
    fn zero_max_failures_refuses_everything_without_growing() {
        let limiter = RateLimiter::new(0, WINDOW);
        assert_eq!(
            limiter.try_reserve("k").unwrap_err(),
            Duration::from_secs(1)
        );
        assert_eq!(entries(&limiter), 0);
    }

    #[test]
    fn stale_keys_are_swept() {
        let limiter = RateLimiter::new(5, WINDOW);
        let t0 = Instant::now();
        for i in 0..100 {
            let key = format!("192.0.2.{i}");
            limiter
                .try_reserve_at(&key, t0)
                .unwrap()
                .decide(Outcome::Failed, t0);
        }
        // One key is busy across the sweep and must survive it.
        let held = limiter.try_reserve_at("held", t0).unwrap();
        assert_eq!(entries(&limiter), 101);
        // Within the window nothing is dropped.
        limiter.try_reserve_at("other", t0 + WINDOW / 2).unwrap();
        assert_eq!(entries(&limiter), 101);
        // After the window, the next reservation sweeps every idle key.
        let later = t0 + WINDOW + Duration::from_secs(1);
        let slot = limiter.try_reserve_at("new", later).unwrap();
        assert_eq!(entries(&limiter), 2, "held and new");
        drop(slot);
        drop(held);
        assert_eq!(entries(&limiter), 0);
    }
}
