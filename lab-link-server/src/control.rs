//! The control lock (with
//! [`ServerConfig::control_lock`](crate::ServerConfig::control_lock)): the
//! built-in commands `claim_control` and `release_control`, and the gate
//! every other command passes before dispatch.
//!
//! The lock belongs to a principal (with access control: all of its
//! connections may go on commanding) or, without access control, to the
//! connection that claimed it. While it is held, a command that needs
//! `control` from anyone else is answered `locked`, naming the holder and
//! since when; commands that need no `control` (read-only ones) still
//! run. It ends on `release_control`, when a principal with
//! `manage_access` releases it (breaks it), when the holder's credential
//! ends (logout, revocation: seen by any of its sockets), when the holding
//! connection leaves (without access control), and after
//! [`ServerConfig::control_lock_idle`](crate::ServerConfig::control_lock_idle)
//! without a command from its holder (checked when a command arrives).
//! It lives in memory: a restart ends it.
//!
//! The lock is kept with presence, under one lock, so a `presence` list
//! shows the clients and the lock of one instant; its changes are
//! `control_lock` messages to the clients that see presence.

use std::borrow::Cow;
use std::time::Instant;

use lab_link_core::command::{CommandContext, CommandError};
use lab_link_core::protocol::{ControlLock, ServerMessage};
use serde_json::Value;

use crate::connection::Link;
use crate::shared::{lock, unix_millis, Feed, Shared};

/// The built-in command that claims the lock.
pub(crate) const CLAIM: &str = "claim_control";
/// The built-in command that releases (or, for `manage_access`, breaks)
/// the lock.
pub(crate) const RELEASE: &str = "release_control";

/// The lock while it is held.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    /// What clients see.
    pub(crate) wire: ControlLock,
    /// Who holds it: the principal's id, or the connection's id without
    /// access control.
    owner: String,
    /// The holder's last command (or the claim), for the idle timeout.
    last_used: Instant,
}

/// What the gate decided for a command.
pub(crate) enum Gate {
    /// A built-in command, answered already.
    Answered(Result<Option<Value>, CommandError>),
    /// Refused: the lock is held by someone else.
    Refused(CommandError),
    /// Dispatch it.
    Pass,
}

impl Shared {
    /// The gate before dispatch: runs the built-in commands of a level-2
    /// connection and refuses commands needing `control` while someone
    /// else holds the lock.
    pub(crate) fn control_gate(&self, link: &Link, ctx: &CommandContext) -> Gate {
        if !self.config.control_lock.enabled {
            return Gate::Pass;
        }
        let command = ctx.command();
        if link.is_level2() && (command == CLAIM || command == RELEASE) {
            return Gate::Answered(self.builtin(link, ctx));
        }
        let owner = link.lock_owner();
        let mut state = lock(&self.presence.inner);
        self.expire_idle(&mut state.lock);
        let Some(held) = &mut state.lock else {
            return Gate::Pass;
        };
        if held.owner == owner {
            held.last_used = Instant::now();
            return Gate::Pass;
        }
        let held = held.wire.clone();
        drop(state);
        // Only while someone else holds the lock: the command table is
        // read to tell read-only commands from the others.
        let needs_control = self
            .source
            .command_infos()
            .iter()
            .find(|info| info.name == command)
            .is_some_and(|info| info.requires.iter().any(|needed| needed == "control"));
        // A principal that may not `control` at all is answered
        // `forbidden` by dispatch, as without the lock.
        let may_control = ctx.principal().is_none_or(|p| p.can("control"));
        if needs_control && may_control {
            Gate::Refused(locked(&held))
        } else {
            Gate::Pass
        }
    }

    /// Ends the lock if `owner` holds it: its credential or connection
    /// ended.
    pub(crate) fn control_ended(&self, owner: &str) {
        if !self.config.control_lock.enabled {
            return;
        }
        let mut state = lock(&self.presence.inner);
        if state.lock.as_ref().is_some_and(|held| held.owner == owner) {
            state.lock = None;
            self.broadcast_lock(None);
        }
    }

    fn builtin(&self, link: &Link, ctx: &CommandContext) -> Result<Option<Value>, CommandError> {
        let may = |capability: &str| ctx.principal().is_none_or(|p| p.can(capability));
        if !may("control") {
            return Err(CommandError::forbidden());
        }
        let owner = link.lock_owner();
        let mut state = lock(&self.presence.inner);
        self.expire_idle(&mut state.lock);
        let now = Instant::now();
        if ctx.command() == CLAIM {
            match &mut state.lock {
                Some(held) if held.owner != owner => Err(locked(&held.wire)),
                Some(held) => {
                    held.last_used = now;
                    Ok(Some(lock_value(&held.wire)))
                }
                None => {
                    let held = Held {
                        wire: ControlLock {
                            holder: link.principal_label(),
                            client_id: link.client_id().to_owned(),
                            since: unix_millis(),
                        },
                        owner,
                        last_used: now,
                    };
                    let value = lock_value(&held.wire);
                    self.broadcast_lock(Some(&held.wire));
                    state.lock = Some(held);
                    Ok(Some(value))
                }
            }
        } else {
            match &state.lock {
                None => Ok(None),
                Some(held) if held.owner == owner || may("manage_access") => {
                    if held.owner != owner {
                        tracing::warn!(
                            holder = %held.wire.holder,
                            by = %link.principal_label(),
                            "control lock broken by a principal with manage_access"
                        );
                    }
                    state.lock = None;
                    self.broadcast_lock(None);
                    Ok(None)
                }
                Some(held) => Err(locked(&held.wire)),
            }
        }
    }

    /// Ends a lock whose holder sent nothing for the idle timeout.
    fn expire_idle(&self, held: &mut Option<Held>) {
        let Some(idle) = self.config.control_lock.idle else {
            return;
        };
        if held
            .as_ref()
            .is_some_and(|held| held.last_used.elapsed() >= idle)
        {
            *held = None;
            self.broadcast_lock(None);
        }
    }

    /// Tells the clients that see presence. Called under the presence
    /// lock.
    fn broadcast_lock(&self, held: Option<&ControlLock>) {
        if !self.config.presence {
            return;
        }
        let text = ServerMessage::ControlLock {
            lock: held.map(Cow::Borrowed),
        }
        .to_text();
        self.broadcast(Feed::Presence, text);
    }
}

/// The `locked` error for a held lock.
fn locked(held: &ControlLock) -> CommandError {
    let micros = i64::try_from(held.since).unwrap_or(i64::MAX / 1000) * 1000;
    CommandError::locked(&held.holder, &crate::history::rfc3339(micros))
}

/// The lock as a command's result.
fn lock_value(held: &ControlLock) -> Value {
    // Invariant: strings and integers always serialise.
    serde_json::to_value(held).expect("a lock serialises")
}
