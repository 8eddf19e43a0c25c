//! A client's outgoing queue: many producers (the subscription's listener
//! under the state lock, the command task, the reader), one consumer (the
//! writer task).
//!
//! `tokio::sync::mpsc` would do, but it allocates its first block of 32
//! slots (about 1.8 KiB for a `Message`) when the channel is made, and most
//! clients of a lab instrument sit idle with nothing queued. This queue is a
//! `VecDeque` behind a mutex that holds no memory until something is
//! queued, gives its memory back when a burst is over, and wakes the writer
//! through one [`Notify`]. The mutex is held only to push or pop.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

/// Why [`Queue::try_send`] refused an item.
#[derive(Debug)]
pub(crate) enum TrySendError<T> {
    /// The queue holds its depth.
    Full(T),
    /// The writer is gone.
    Closed(T),
}

/// A bounded multi-producer, single-consumer queue: see the
/// [module](self).
#[derive(Debug)]
pub(crate) struct Queue<T> {
    items: Mutex<Items<T>>,
    /// Wakes the consumer (a stored permit when it is not waiting).
    ready: Notify,
    /// Wakes producers waiting in [`send`](Self::send) for room.
    room: Notify,
    /// Whether a producer waits for room (so the consumer notifies only
    /// then).
    waiting: AtomicBool,
    depth: usize,
}

#[derive(Debug)]
struct Items<T> {
    queue: VecDeque<T>,
    closed: bool,
}

/// Capacity a drained queue keeps; a larger one is given back.
const KEEP: usize = 8;

impl<T> Queue<T> {
    /// An empty queue of at most `depth` items (at least 1).
    pub(crate) fn new(depth: usize) -> Self {
        Self {
            items: Mutex::new(Items {
                queue: VecDeque::new(),
                closed: false,
            }),
            ready: Notify::new(),
            room: Notify::new(),
            waiting: AtomicBool::new(false),
            depth: depth.max(1),
        }
    }

    fn items(&self) -> MutexGuard<'_, Items<T>> {
        // Pushing or popping cannot leave the deque half-updated.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `item` unless the queue is full or closed; returns the queue's
    /// length after it.
    pub(crate) fn try_send(&self, item: T) -> Result<usize, TrySendError<T>> {
        let mut items = self.items();
        if items.closed {
            return Err(TrySendError::Closed(item));
        }
        if items.queue.len() >= self.depth {
            return Err(TrySendError::Full(item));
        }
        items.queue.push_back(item);
        let len = items.queue.len();
        drop(items);
        self.ready.notify_one();
        Ok(len)
    }

    /// Queues `item`, waiting for room while the queue is full; gives it
    /// back when the queue is closed. Returns the length after it.
    pub(crate) async fn send(&self, mut item: T) -> Result<usize, T> {
        loop {
            // Registered before the check, so a pop in between wakes it.
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            self.waiting.store(true, Ordering::Release);
            match self.try_send(item) {
                Ok(len) => return Ok(len),
                Err(TrySendError::Closed(back)) => return Err(back),
                Err(TrySendError::Full(back)) => item = back,
            }
            room.await;
        }
    }

    /// The next item, waiting for one; `None` once the queue is closed and
    /// empty.
    pub(crate) async fn recv(&self) -> Option<T> {
        loop {
            match self.try_recv() {
                Ok(item) => return Some(item),
                Err(true) => return None,
                // A push after the check leaves a permit: no lost wake-up.
                Err(false) => self.ready.notified().await,
            }
        }
    }

    /// The next item if one is queued; `Err(closed)` otherwise.
    pub(crate) fn try_recv(&self) -> Result<T, bool> {
        let mut items = self.items();
        let Some(item) = items.queue.pop_front() else {
            return Err(items.closed);
        };
        if items.queue.is_empty() && items.queue.capacity() > KEEP {
            items.queue = VecDeque::new();
        }
        drop(items);
        if self.waiting.swap(false, Ordering::AcqRel) {
            self.room.notify_waiters();
        }
        Ok(item)
    }

    /// How many items are queued.
    pub(crate) fn len(&self) -> usize {
        self.items().queue.len()
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Refuses further items and drops the queued ones (the consumer is
    /// gone); wakes every waiting producer.
    pub(crate) fn close(&self) {
        let dropped = {
            let mut items = self.items();
            items.closed = true;
            std::mem::take(&mut items.queue)
        };
        drop(dropped);
        self.room.notify_waiters();
        self.ready.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn items_come_out_in_order_and_the_depth_holds() {
        let queue = Queue::new(2);
        assert_eq!(queue.try_send(1).unwrap(), 1);
        assert_eq!(queue.try_send(2).unwrap(), 2);
        assert!(matches!(queue.try_send(3), Err(TrySendError::Full(3))));
        assert_eq!(queue.recv().await, Some(1));
        assert_eq!(queue.try_recv(), Ok(2));
        assert_eq!(queue.try_recv(), Err(false));
        assert!(queue.is_empty());
    }

    #[tokio::test]
    async fn the_consumer_wakes_for_an_item_sent_while_it_waits() {
        let queue = Arc::new(Queue::new(4));
        let consumer = tokio::spawn({
            let queue = queue.clone();
            async move { queue.recv().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        queue.try_send("frame").unwrap();
        assert_eq!(consumer.await.unwrap(), Some("frame"));
    }

    #[tokio::test]
    async fn send_waits_for_room_and_close_releases_it() {
        let queue = Arc::new(Queue::new(1));
        queue.try_send(1).unwrap();
        let producer = tokio::spawn({
            let queue = queue.clone();
            async move { queue.send(2).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(
            !producer.is_finished(),
            "send waits while the queue is full"
        );
        assert_eq!(queue.recv().await, Some(1));
        assert_eq!(producer.await.unwrap(), Ok(1));
        assert_eq!(queue.recv().await, Some(2));

        queue.try_send(3).unwrap();
        let blocked = tokio::spawn({
            let queue = queue.clone();
            async move { queue.send(4).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        queue.close();
        assert_eq!(blocked.await.unwrap(), Err(4));
        assert_eq!(queue.recv().await, None);
        assert!(matches!(queue.try_send(5), Err(TrySendError::Closed(5))));
    }

    #[test]
    fn a_drained_queue_gives_its_memory_back() {
        let queue = Queue::new(1000);
        for i in 0..100 {
            queue.try_send(i).unwrap();
        }
        while queue.try_recv().is_ok() {}
        assert!(queue.items().queue.capacity() <= KEEP);
        let empty: Queue<u8> = Queue::new(10);
        assert_eq!(empty.items().queue.capacity(), 0);
    }
}
