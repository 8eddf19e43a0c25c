//! The state lock: re-entrant use turned into a clear panic, and the
//! guards ([`Batch`], [`Subscription`]) whose drop may happen while the
//! lock is held.

use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, MutexGuard, Weak};

use super::{Inner, Shared};
use crate::reactive::Reactive;

thread_local! {
    /// The addresses of the `LabSync`s whose lock this thread holds, to turn
    /// a re-entrant call (a deadlock) into a clear panic.
    static HELD_LOCKS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

#[derive(Default)]
pub(super) struct DroppedInside {
    batches: usize,
    subscriptions: Vec<u64>,
}

/// An open batch: see [`LabSync::batch`]. Dropping it commits the batch's
/// operations as one patch message.
///
/// Dropped inside a `mutate` closure of the same `LabSync` (moved into it),
/// the batch ends when that closure returns.
#[must_use = "the batch ends when this guard is dropped"]
pub struct Batch {
    pub(super) shared: Arc<dyn SharedOps>,
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.shared.end_batch();
    }
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch").finish_non_exhaustive()
    }
}

/// A listener registered with [`LabSync::subscribe`]; dropping it removes
/// the listener.
#[must_use = "the listener is removed when this guard is dropped"]
pub struct Subscription {
    shared: Weak<dyn SharedOps>,
    id: u64,
}

impl Subscription {
    pub(super) fn new(shared: Weak<dyn SharedOps>, id: u64) -> Self {
        Self { shared, id }
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.unsubscribe(self.id);
        }
    }
}

/// What the guards ([`Batch`], [`Subscription`]) do on drop, type-erased so
/// that they need no `S`.
pub(super) trait SharedOps: Send + Sync {
    fn unsubscribe(&self, id: u64);
    fn end_batch(&self);
}

impl<S> Shared<S> {
    /// Whether this thread holds the lock (runs a `mutate` closure or a
    /// listener of this `LabSync`).
    fn held_here(&self) -> bool {
        let address = std::ptr::from_ref(&self.inner) as usize;
        HELD_LOCKS.with(|held| held.borrow().contains(&address))
    }

    fn dropped_inside(&self) -> MutexGuard<'_, DroppedInside> {
        self.dropped_inside
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies the guards dropped while the lock was held.
    pub(super) fn apply_dropped_inside(&self, inner: &mut Inner<S>) {
        let dropped = std::mem::take(&mut *self.dropped_inside());
        inner.batch_depth -= dropped.batches;
        if !dropped.subscriptions.is_empty() {
            inner.listeners.remove(&dropped.subscriptions);
        }
    }
}

impl<S: Reactive + Send> SharedOps for Shared<S> {
    fn unsubscribe(&self, id: u64) {
        if self.held_here() {
            self.dropped_inside().subscriptions.push(id);
            return;
        }
        lock(self).listeners.remove(&[id]);
    }

    fn end_batch(&self) {
        if self.held_here() {
            // The `mutate` running on this thread ends the batch when its
            // closure returns.
            self.dropped_inside().batches += 1;
            return;
        }
        let mut inner = lock(self);
        inner.batch_depth -= 1;
        if inner.batch_depth == 0 {
            inner.flush();
        }
    }
}

/// The lock guard, which also marks this thread as holding a lock.
pub(super) struct LockGuard<'a, S> {
    guard: MutexGuard<'a, Inner<S>>,
    /// The lock's address in `HELD_LOCKS`.
    address: usize,
}

impl<S> Deref for LockGuard<'_, S> {
    type Target = Inner<S>;

    fn deref(&self) -> &Inner<S> {
        &self.guard
    }
}

impl<S> std::ops::DerefMut for LockGuard<'_, S> {
    fn deref_mut(&mut self) -> &mut Inner<S> {
        &mut self.guard
    }
}

impl<S> Drop for LockGuard<'_, S> {
    fn drop(&mut self) {
        let address = self.address;
        HELD_LOCKS.with(|held| held.borrow_mut().retain(|&a| a != address));
    }
}

pub(super) fn lock<S>(shared: &Shared<S>) -> LockGuard<'_, S> {
    // `data_ptr` is unstable; the address of the Mutex identifies it as well.
    let address = std::ptr::from_ref(&shared.inner) as usize;
    if HELD_LOCKS.with(|held| held.borrow().contains(&address)) {
        panic!(
            "LabSync used from inside a mutate closure or a patch listener on the same thread: \
             that would deadlock; finish the mutation first"
        );
    }
    // A panic under the lock only comes from lab-link itself (user closures
    // and listeners run inside catch_unwind), and every such path leaves the
    // state and mirror consistent, so a poisoned lock is still good.
    let mut guard = shared
        .inner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Guards dropped inside a listener are applied by the next lock holder.
    shared.apply_dropped_inside(&mut guard);
    HELD_LOCKS.with(|held| held.borrow_mut().push(address));
    LockGuard { guard, address }
}

#[cfg(test)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::Mutex;

    use super::*;
    use crate::{Committed, LabSync};
    use std::collections::BTreeMap;

    type Map = BTreeMap<String, i64>;

    /// The versions of the messages received so far.
    fn received(patches: &std::sync::mpsc::Receiver<Committed>) -> Vec<u64> {
        patches.try_iter().map(|c| c.version()).collect()
    }

    #[test]
    fn a_batch_dropped_inside_mutate_ends_when_the_closure_returns() {
        let sync = LabSync::new(Map::new());
        let (_, patches) = sync.subscribe_channel();
        let batch = sync.batch();
        sync.mutate(|m| m.insert("a".into(), 1).unwrap());
        sync.mutate(move |m| {
            m.insert("b".into(), 2).unwrap();
            drop(batch);
        });
        // Both writes in one message; the batch no longer holds back the
        // next mutation (it used to stay open for good after a panic).
        assert_eq!(received(&patches), [1]);
        sync.mutate(|m| m.insert("c".into(), 3).unwrap());
        assert_eq!(received(&patches), [2]);
    }

    #[test]
    fn a_batch_dropped_while_a_closure_unwinds_does_not_abort() {
        let sync = LabSync::new(Map::new());
        let (_, patches) = sync.subscribe_channel();
        let batch = sync.batch();
        let result = catch_unwind(AssertUnwindSafe(|| {
            sync.mutate(move |m| {
                let _batch = batch;
                m.insert("a".into(), 1).unwrap();
                panic!("boom");
            })
        }));
        // Before the fix the batch's drop panicked during the unwinding:
        // the process aborted.
        assert!(result.is_err());
        assert_eq!(received(&patches), [1]);
        assert_eq!(sync.verify_mirror(), Ok(()));
    }

    #[test]
    fn a_subscription_dropped_inside_mutate_stops_delivery() {
        let sync = LabSync::new(Map::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let (_, subscription) = sync.subscribe(move |c| log.lock().unwrap().push(c.version()));
        sync.mutate(|m| m.insert("a".into(), 1).unwrap());
        sync.mutate(move |m| {
            drop(subscription);
            m.insert("b".into(), 2).unwrap();
        });
        sync.mutate(|m| m.insert("c".into(), 3).unwrap());
        assert_eq!(*seen.lock().unwrap(), [1]);
    }
}
