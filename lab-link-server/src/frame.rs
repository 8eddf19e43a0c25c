//! Server messages as WebSocket frames, sharing their serialised bytes
//! instead of copying them.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use lab_link_core::stream::{StreamMessage, StreamPayload};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// A stream message as a WebSocket frame, sharing its bytes.
pub(crate) fn stream_frame(message: &StreamMessage) -> Message {
    match message.payload() {
        StreamPayload::Text(text) => Message::Text(shared_text(text.clone())),
        StreamPayload::Binary(bytes) => Message::Binary(bytes.clone()),
    }
}

/// The shared message text as a WebSocket text payload, without copying.
/// The payload of the last message sent to the sockets, kept so that a
/// message fanned out to every client becomes a frame payload once, not
/// once per client (an allocation and a UTF-8 check each).
#[derive(Debug, Default)]
pub(crate) struct FrameText {
    last: Mutex<Option<(Arc<str>, Utf8Bytes)>>,
}

impl FrameText {
    /// `text` as a frame payload, shared with every other client's copy.
    pub(crate) fn of(&self, text: Arc<str>) -> Utf8Bytes {
        // The guarded value is a cache; a panic elsewhere cannot leave
        // it half-updated.
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((cached, payload)) = &*last {
            if Arc::ptr_eq(cached, &text) {
                return payload.clone();
            }
        }
        let payload = shared_text(text.clone());
        *last = Some((text, payload.clone()));
        payload
    }
}

pub(crate) fn shared_text(text: Arc<str>) -> Utf8Bytes {
    /// Lets `Bytes` borrow the `Arc<str>` it was made from.
    struct Owner(Arc<str>);
    impl AsRef<[u8]> for Owner {
        fn as_ref(&self) -> &[u8] {
            self.0.as_bytes()
        }
    }
    // Invariant: the bytes come from a `str`, so they are UTF-8.
    Utf8Bytes::try_from(Bytes::from_owner(Owner(text))).expect("a str is valid UTF-8")
}
