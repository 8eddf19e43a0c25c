//! [`Presence`]: who is connected and who holds the control lock, as the
//! client last heard it (level 2, with the server's presence on).

use lab_link_core::protocol::{ControlLock, PresenceEntry, ServerMessage};

/// The connected clients and the control lock, kept from the server's
/// `presence` list and its deltas (a level-2 client of a server with
/// presence on; empty otherwise). Read it with
/// [`Client::presence`](crate::Client::presence); each change is also an
/// [`Event::Presence`](crate::Event::Presence).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Presence {
    /// The connected clients, oldest connection first (this one
    /// included).
    pub clients: Vec<PresenceEntry>,
    /// Who holds the control lock, if anyone.
    pub lock: Option<ControlLock>,
}

impl Presence {
    /// Takes a presence message into account; `false` for any other
    /// message.
    pub(crate) fn apply(&mut self, message: &ServerMessage<'_>) -> bool {
        match message {
            ServerMessage::Presence { clients, lock } => {
                self.clients = clients.to_vec();
                self.lock = lock.as_deref().cloned();
            }
            ServerMessage::PresenceJoined { client } => {
                self.clients
                    .retain(|entry| entry.client_id != client.client_id);
                self.clients.push(client.as_ref().clone());
            }
            ServerMessage::PresenceUpdated { client } => {
                match self
                    .clients
                    .iter_mut()
                    .find(|entry| entry.client_id == client.client_id)
                {
                    Some(entry) => *entry = client.as_ref().clone(),
                    None => self.clients.push(client.as_ref().clone()),
                }
            }
            ServerMessage::PresenceLeft { client_id } => {
                self.clients.retain(|entry| entry.client_id != **client_id);
            }
            ServerMessage::ControlLock { lock } => self.lock = lock.as_deref().cloned(),
            _ => return false,
        }
        true
    }
}
