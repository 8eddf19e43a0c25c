//! [`Listeners`]: the patch listeners of one source, called in version
//! order under its lock.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::Committed;

/// A patch listener: see [`LabSync::subscribe`](super::LabSync::subscribe).
pub(super) type Listener = Box<dyn FnMut(&Committed) + Send>;

/// The listeners of a [`LabSync`](super::LabSync) or a
/// [`Replica`](super::Replica), by subscription id.
#[derive(Default)]
pub(super) struct Listeners {
    list: Vec<(u64, Listener)>,
    next_id: u64,
}

impl Listeners {
    /// Adds `listener`; its id is what the [`Subscription`](super::Subscription)
    /// removes.
    pub(super) fn add(&mut self, listener: Listener) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.list.push((id, listener));
        id
    }

    /// Removes the listeners of these ids.
    pub(super) fn remove(&mut self, ids: &[u64]) {
        self.list.retain(|(id, _)| !ids.contains(id));
    }

    /// Hands `committed` to every listener; one that panics is removed.
    pub(super) fn notify(&mut self, committed: &Committed) {
        self.list.retain_mut(|(id, listener)| {
            match catch_unwind(AssertUnwindSafe(|| listener(committed))) {
                Ok(()) => true,
                Err(_) => {
                    tracing::error!("lab-link: patch listener {id} panicked; it is removed");
                    false
                }
            }
        });
    }
}
