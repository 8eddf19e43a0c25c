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

/// One invitation, kept by id in `State::invites`.
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::super::testing::auth;
    use super::*;
    use crate::AuthConfig;

    /// Records every event of `auth`, as (id, status).
    fn record(auth: &Auth) -> Arc<Mutex<Vec<(String, InviteStatus)>>> {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        auth.on_invite_event(move |event| {
            sink.lock()
                .unwrap()
                .push((event.invite_id.clone(), event.status));
        });
        events
    }

    fn taken(events: &Mutex<Vec<(String, InviteStatus)>>) -> Vec<(String, InviteStatus)> {
        std::mem::take(&mut *events.lock().unwrap())
    }

    #[test]
    fn an_invitation_is_used_once() {
        let auth = auth(AuthConfig::new());
        let events = record(&auth);
        let invite = auth.create_invite(None);
        assert_eq!(invite.token.len(), 43);
        assert_eq!(auth.invite_status(&invite.id), Some(InviteStatus::Active));
        assert!(!auth.consume_invite(""));
        assert!(!auth.consume_invite("not the secret"));
        assert!(auth.consume_invite(&invite.token));
        assert!(!auth.consume_invite(&invite.token));
        assert_eq!(auth.invite_status(&invite.id), Some(InviteStatus::Consumed));
        assert!(!auth.revoke_invite(&invite.id));
        assert_eq!(taken(&events), [(invite.id, InviteStatus::Consumed)]);

        let revoked = auth.create_invite(None);
        assert!(auth.revoke_invite(&revoked.id));
        assert!(!auth.consume_invite(&revoked.token));
        assert_eq!(taken(&events), [(revoked.id, InviteStatus::Revoked)]);
        assert!(!auth.revoke_invite("unknown"));
        assert_eq!(auth.invite_status("unknown"), None);
    }

    #[test]
    fn overdue_invitations_turn_expired_however_they_are_noticed() {
        // No tokio runtime here: no timer, only the lazy checks.
        let auth = auth(AuthConfig::new());
        let events = record(&auth);
        let looked_up = auth.create_invite(Some(Duration::ZERO));
        let exchanged = auth.create_invite(Some(Duration::ZERO));
        let revoked = auth.create_invite(Some(Duration::ZERO));
        assert_eq!(
            auth.invite_status(&looked_up.id),
            Some(InviteStatus::Expired)
        );
        assert!(!auth.consume_invite(&exchanged.token));
        assert!(!auth.revoke_invite(&revoked.id));
        assert_eq!(
            taken(&events),
            [
                (looked_up.id, InviteStatus::Expired),
                (exchanged.id, InviteStatus::Expired),
                (revoked.id, InviteStatus::Expired),
            ]
        );
    }

    #[test]
    fn a_rotation_revokes_only_active_invitations() {
        let auth = auth(AuthConfig::new());
        let used = auth.create_invite(None);
        assert!(auth.consume_invite(&used.token));
        let first = auth.create_invite(None);
        let second = auth.create_invite(None);
        let events = record(&auth);
        auth.revoke_active_invites();
        let got = taken(&events);
        assert_eq!(got.len(), 2, "{got:?}");
        for id in [&first.id, &second.id] {
            assert!(
                got.contains(&(id.clone(), InviteStatus::Revoked)),
                "{got:?}"
            );
        }
        assert_eq!(auth.invite_status(&used.id), Some(InviteStatus::Consumed));
    }

    fn record_at(status: InviteStatus, changed_at: f64, expires_at: f64) -> InviteRecord {
        InviteRecord {
            digest: format!("digest-{changed_at}-{expires_at}"),
            expires_at,
            status,
            changed_at,
            timer: None,
        }
    }

    fn insert(state: &mut State, id: &str, record: InviteRecord) {
        state
            .invite_ids
            .insert(record.digest.clone(), id.to_owned());
        state.invites.insert(id.to_owned(), record);
    }

    #[test]
    fn pruning_expires_overdue_and_forgets_long_finished_ones() {
        let now = 1_000_000.0;
        let mut state = State::default();
        let old = now - INVITE_RETENTION - 1.0;
        insert(
            &mut state,
            "old",
            record_at(InviteStatus::Consumed, old, now + 1.0),
        );
        insert(
            &mut state,
            "recent",
            record_at(InviteStatus::Revoked, now - 1.0, now + 1.0),
        );
        insert(
            &mut state,
            "live",
            record_at(InviteStatus::Active, old, now + 1.0),
        );
        insert(
            &mut state,
            "overdue",
            record_at(InviteStatus::Active, old, now),
        );
        let events = prune_invites(&mut state, now);
        assert_eq!(
            events,
            [InviteEvent {
                invite_id: "overdue".to_owned(),
                status: InviteStatus::Expired,
                occurred_at: now,
            }]
        );
        let mut kept: Vec<&str> = state.invites.keys().map(String::as_str).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["live", "overdue", "recent"]);
        // The secret of a forgotten invitation no longer maps to it.
        assert_eq!(state.invite_ids.len(), 3);
        assert!(state.invite_ids.values().all(|id| id != "old"));
    }

    #[test]
    fn eviction_drops_finished_first_then_revokes_the_oldest_active() {
        let now = 1_000_000.0;
        let mut state = State::default();
        for n in 0..MAX_INVITES {
            let changed_at = now - 10.0 + (n as f64) * 1e-6;
            insert(
                &mut state,
                &format!("active-{n}"),
                record_at(InviteStatus::Active, changed_at, now + 60.0),
            );
        }
        // The newest record, but finished: evicted before any active one.
        insert(
            &mut state,
            "consumed",
            record_at(InviteStatus::Consumed, now, now + 60.0),
        );
        assert!(evict_invites(&mut state, now).is_empty());
        assert!(!state.invites.contains_key("consumed"));
        assert_eq!(state.invites.len(), MAX_INVITES);

        insert(
            &mut state,
            "newest",
            record_at(InviteStatus::Active, now, now + 60.0),
        );
        let events = evict_invites(&mut state, now);
        assert_eq!(
            events,
            [InviteEvent {
                invite_id: "active-0".to_owned(),
                status: InviteStatus::Revoked,
                occurred_at: now,
            }]
        );
        assert_eq!(state.invites.len(), MAX_INVITES);
        assert_eq!(state.invite_ids.len(), MAX_INVITES);
    }

    #[test]
    fn a_panicking_callback_does_not_stop_the_others() {
        let auth = auth(AuthConfig::new());
        auth.on_invite_event(|_| panic!("a faulty listener"));
        let events = record(&auth);
        let invite = auth.create_invite(None);
        assert!(auth.revoke_invite(&invite.id));
        assert_eq!(taken(&events), [(invite.id, InviteStatus::Revoked)]);
        assert_eq!(InviteStatus::Revoked.as_str(), "revoked");
    }
}
