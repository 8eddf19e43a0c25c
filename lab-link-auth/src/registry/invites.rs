//! Invitations: single-use secrets that become a session, with their
//! statuses (active → consumed | expired | revoked), an expiry timer per
//! invitation and the events the application projects into its state
//! (AUTH.md section 10).
//!
//! Invitations live in memory only, as digests of their secrets. Finished
//! ones are dropped after [`INVITE_RETENTION`], and at most
//! [`MAX_INVITES`] are kept (W9).

use std::sync::Arc;
use std::time::Duration;

use super::{lock, Auth, State};
use crate::secret::{digest, random_id, random_secret};
use crate::time::now_unix;

/// The most invitations kept in memory; the oldest is dropped beyond (W9).
const MAX_INVITES: usize = 10_000;

/// How long a consumed, expired or revoked invitation stays queryable
/// through [`Auth::invite_status`], in seconds.
const INVITE_RETENTION: f64 = 3600.0;

/// A new invitation: its secret is shown once.
#[derive(Debug, Clone, PartialEq)]
pub struct Invite {
    /// 24 hex.
    pub id: String,
    /// The secret (43 base64url characters).
    pub token: String,
    /// Unix seconds.
    pub expires_at: f64,
}

/// An invitation's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteStatus {
    /// Not used yet.
    Active,
    /// Exchanged for a session.
    Consumed,
    /// Timed out.
    Expired,
    /// Revoked (by hand or by a passphrase rotation).
    Revoked,
}

impl InviteStatus {
    /// The wire name: `active`, `consumed`, `expired`, `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Consumed => "consumed",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

/// A change of an invitation's status, for the application to project
/// into its state.
#[derive(Debug, Clone, PartialEq)]
pub struct InviteEvent {
    /// The invitation.
    pub invite_id: String,
    /// Its new status.
    pub status: InviteStatus,
    /// Unix seconds.
    pub occurred_at: f64,
}

pub(super) type InviteCallback = Arc<dyn Fn(&InviteEvent) + Send + Sync>;

pub(super) struct InviteRecord {
    digest: String,
    expires_at: f64,
    status: InviteStatus,
    changed_at: f64,
    /// The expiry timer's task, while active.
    timer: Option<tokio::task::AbortHandle>,
}

impl Auth {
    /// Registers a callback for every invitation status change. It runs on
    /// the thread that caused the change (or the expiry timer's task), with
    /// no lock held; a panic in it is logged and swallowed.
    pub fn on_invite_event<F>(&self, callback: F)
    where
        F: Fn(&InviteEvent) + Send + Sync + 'static,
    {
        lock(&self.inner.callbacks).push(Arc::new(callback));
    }

    /// Creates an invitation (default lifetime `invite_ttl`). When a tokio
    /// runtime is running, a timer marks it `expired` (and fires the event)
    /// at its expiry; otherwise that is noticed lazily.
    pub fn create_invite(&self, ttl: Option<Duration>) -> Invite {
        self.prune();
        let ttl = ttl.unwrap_or(self.inner.config.invite_ttl);
        let now = now_unix();
        let secret = random_secret();
        let id = random_id();
        let expires_at = now + ttl.as_secs_f64();
        let evicted = {
            let mut state = self.state();
            let token_digest = digest(&secret);
            state.invite_ids.insert(token_digest.clone(), id.clone());
            state.invites.insert(
                id.clone(),
                InviteRecord {
                    digest: token_digest,
                    expires_at,
                    status: InviteStatus::Active,
                    changed_at: now,
                    timer: None,
                },
            );
            evict_invites(&mut state, now)
        };
        self.emit(evicted);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&self.inner);
            let timer_id = id.clone();
            let timer = runtime.spawn(async move {
                tokio::time::sleep(ttl).await;
                if let Some(inner) = weak.upgrade() {
                    Auth { inner }.expire_invite(&timer_id);
                }
            });
            // The timer is aborted when the invitation leaves `active`
            // earlier, so finished invitations leave no sleeping task.
            let mut state = self.state();
            match state.invites.get_mut(&id) {
                Some(record) if record.status == InviteStatus::Active => {
                    record.timer = Some(timer.abort_handle());
                }
                _ => timer.abort(),
            }
        }
        Invite {
            id,
            token: secret,
            expires_at,
        }
    }

    /// Revokes an invitation; `true` only if it was active.
    pub fn revoke_invite(&self, id: &str) -> bool {
        let now = now_unix();
        let events = {
            let mut state = self.state();
            let Some(record) = state.invites.get_mut(id) else {
                return false;
            };
            if record.status != InviteStatus::Active {
                return false;
            }
            if record.expires_at <= now {
                vec![set_invite_status(id, record, InviteStatus::Expired, now)]
            } else {
                vec![set_invite_status(id, record, InviteStatus::Revoked, now)]
            }
        };
        let revoked = events[0].status == InviteStatus::Revoked;
        self.emit(events);
        revoked
    }

    /// An invitation's status (an overdue active one turns `expired`
    /// here); `None` for an unknown or long-finished one.
    pub fn invite_status(&self, id: &str) -> Option<InviteStatus> {
        self.expire_invite(id);
        self.state().invites.get(id).map(|record| record.status)
    }
}

// Shared by the submodules.
impl Auth {
    /// Exchanges the invitation whose secret is `secret`: `true` when it
    /// was active and is now consumed. One found overdue turns `expired`.
    pub(super) fn consume_invite(&self, secret: &str) -> bool {
        if secret.is_empty() {
            return false;
        }
        let now = now_unix();
        let (event, consumed) = {
            let mut state = self.state();
            let Some(id) = state.invite_ids.get(&digest(secret)).cloned() else {
                return false;
            };
            let Some(record) = state.invites.get_mut(&id) else {
                return false;
            };
            match record.status {
                InviteStatus::Active if record.expires_at > now => (
                    set_invite_status(&id, record, InviteStatus::Consumed, now),
                    true,
                ),
                InviteStatus::Active => (
                    set_invite_status(&id, record, InviteStatus::Expired, now),
                    false,
                ),
                _ => return false,
            }
        };
        self.emit(vec![event]);
        consumed
    }

    /// Revokes every active invitation (a passphrase rotation).
    pub(super) fn revoke_active_invites(&self) {
        let now = now_unix();
        let events = {
            let mut state = self.state();
            state
                .invites
                .iter_mut()
                .filter(|(_, record)| record.status == InviteStatus::Active)
                .map(|(id, record)| set_invite_status(id, record, InviteStatus::Revoked, now))
                .collect()
        };
        self.emit(events);
    }

    /// Marks an overdue active invitation `expired` (the timer, and lazy
    /// checks).
    fn expire_invite(&self, id: &str) {
        let now = now_unix();
        let event = {
            let mut state = self.state();
            match state.invites.get_mut(id) {
                Some(record)
                    if record.status == InviteStatus::Active && record.expires_at <= now =>
                {
                    set_invite_status(id, record, InviteStatus::Expired, now)
                }
                _ => return,
            }
        };
        self.emit(vec![event]);
    }

    pub(super) fn emit(&self, events: Vec<InviteEvent>) {
        if events.is_empty() {
            return;
        }
        let callbacks = lock(&self.inner.callbacks).clone();
        for event in &events {
            for callback in &callbacks {
                let call = std::panic::AssertUnwindSafe(|| callback(event));
                if std::panic::catch_unwind(call).is_err() {
                    tracing::warn!(invite = %event.invite_id, "an invitation event callback panicked");
                }
            }
        }
    }
}

fn set_invite_status(
    id: &str,
    record: &mut InviteRecord,
    status: InviteStatus,
    now: f64,
) -> InviteEvent {
    record.status = status;
    record.changed_at = now;
    if status != InviteStatus::Active {
        if let Some(timer) = record.timer.take() {
            timer.abort();
        }
    }
    InviteEvent {
        invite_id: id.to_owned(),
        status,
        occurred_at: now,
    }
}

/// Marks overdue active invitations `expired` and drops those finished
/// more than [`INVITE_RETENTION`] ago: the events to emit.
pub(super) fn prune_invites(state: &mut State, now: f64) -> Vec<InviteEvent> {
    let mut events = Vec::new();
    for (id, record) in &mut state.invites {
        if record.status == InviteStatus::Active && record.expires_at <= now {
            events.push(set_invite_status(id, record, InviteStatus::Expired, now));
        }
    }
    state.invites.retain(|_, record| {
        record.status == InviteStatus::Active || now - record.changed_at <= INVITE_RETENTION
    });
    let invites = &state.invites;
    state.invite_ids.retain(|_, id| invites.contains_key(id));
    events
}

/// Drops the oldest invitations beyond [`MAX_INVITES`] (finished ones
/// first); an active one dropped is reported as revoked.
fn evict_invites(state: &mut State, now: f64) -> Vec<InviteEvent> {
    let mut events = Vec::new();
    while state.invites.len() > MAX_INVITES {
        let victim = state
            .invites
            .iter()
            .min_by(|a, b| {
                let active = |record: &InviteRecord| record.status == InviteStatus::Active;
                active(a.1)
                    .cmp(&active(b.1))
                    .then(a.1.changed_at.total_cmp(&b.1.changed_at))
            })
            .map(|(id, _)| id.clone());
        let Some(id) = victim else { break };
        if let Some(mut record) = state.invites.remove(&id) {
            state.invite_ids.remove(&record.digest);
            if record.status == InviteStatus::Active {
                events.push(set_invite_status(
                    &id,
                    &mut record,
                    InviteStatus::Revoked,
                    now,
                ));
            }
        }
    }
    events
}
