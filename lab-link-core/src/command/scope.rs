//! The metadata of the running command, visible to `LabSync::mutate`
//! without being passed around: a task-local value kept in a thread-local
//! while the command's future is being polled.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::PatchMeta;

thread_local! {
    static CURRENT: RefCell<Option<PatchMeta>> = const { RefCell::new(None) };
}

/// Runs `future` with `meta` as the current command's metadata: every patch
/// committed by `mutate` while the future is polled carries it.
///
/// Work moved to another thread (`spawn_blocking`, a spawned task) does not
/// carry it.
pub fn with_meta<F: Future>(meta: PatchMeta, future: F) -> WithMeta<F> {
    WithMeta {
        meta: Some(meta),
        future,
    }
}

/// The metadata of the command whose future is being polled on this
/// thread, or empty metadata outside any command.
pub(crate) fn current_meta() -> PatchMeta {
    CURRENT.with(|current| current.borrow().clone().unwrap_or_default())
}

/// Runs `f` with `meta` as the current metadata (for synchronous code).
pub fn scope_sync<R>(meta: PatchMeta, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT.with(|current| current.replace(Some(meta)));
    let _restore = Restore(previous);
    f()
}

/// Restores the previous metadata when dropped, also on panic.
struct Restore(Option<PatchMeta>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`with_meta`].
    #[derive(Debug)]
    pub struct WithMeta<F> {
        meta: Option<PatchMeta>,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for WithMeta<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let previous = CURRENT.with(|current| current.replace(this.meta.clone()));
        let _restore = Restore(previous);
        this.future.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_visible_only_inside_the_scope() {
        let meta = PatchMeta {
            command: Some("c".into()),
            ..PatchMeta::default()
        };
        assert_eq!(current_meta(), PatchMeta::default());
        let seen = scope_sync(meta.clone(), current_meta);
        assert_eq!(seen, meta);
        assert_eq!(current_meta(), PatchMeta::default());
        let result = std::panic::catch_unwind(|| scope_sync(meta.clone(), || panic!("boom")));
        assert!(result.is_err());
        assert_eq!(
            current_meta(),
            PatchMeta::default(),
            "restored after a panic"
        );
    }
}
