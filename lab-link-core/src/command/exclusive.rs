//! Exclusive groups: at most one running command per named group, across
//! all clients (`#[command(exclusive = "magnet")]`).

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tokio::sync::oneshot;

use super::control::lock;
use super::error::describe_command;
use super::{CommandContext, CommandError};

/// The group a command takes: its `exclusive` name with each `{param}`
/// replaced by that param's value as sent (a string as is, anything else
/// as JSON), so that `"ramp:{channel}"` makes one group per channel. A
/// param that is absent stays as written (the params check then answers
/// `invalid_params`).
pub(crate) fn group_name<'a>(template: &'a str, params: &Map<String, Value>) -> Cow<'a, str> {
    if !template.contains('{') {
        return Cow::Borrowed(template);
    }
    let mut name = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        name.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            name.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let param = &rest[open + 1..open + close];
        match params.get(param) {
            Some(Value::String(text)) => name.push_str(text),
            Some(value) => name.push_str(&value.to_string()),
            None => name.push_str(&rest[open..=open + close]),
        }
        rest = &rest[open + close + 1..];
    }
    name.push_str(rest);
    Cow::Owned(name)
}

/// The running holder of each busy group, and the commands queued for
/// it.
#[derive(Debug, Default)]
pub(crate) struct ExclusiveGroups {
    held: Mutex<HashMap<String, Group>>,
}

/// A taken group.
#[derive(Debug)]
struct Group {
    holder: Holder,
    /// The commands declared `queue` that wait for it, first come first.
    waiting: VecDeque<Waiter>,
}

/// Who holds a group, for the `busy` message.
#[derive(Debug, Clone)]
struct Holder {
    command: String,
    request_id: Option<String>,
    client_id: String,
}

impl Holder {
    fn of(ctx: &CommandContext) -> Self {
        Self {
            command: ctx.command().to_owned(),
            request_id: ctx.request_id().map(str::to_owned),
            client_id: ctx.client_id().to_owned(),
        }
    }

    /// `ramp (requestId r1, client c1)`, as `busy` names it.
    fn describe(&self) -> String {
        describe_command(&self.command, self.request_id.as_deref(), &self.client_id)
    }
}

/// A queued command: the group is handed to it through `turn`.
#[derive(Debug)]
struct Waiter {
    holder: Holder,
    turn: oneshot::Sender<GroupGuard>,
}

/// What [`ExclusiveGroups::acquire`] gives: the group, or a place in its
/// queue.
#[derive(Debug)]
pub(crate) enum Acquired {
    /// The group was free: it is the command's until the guard drops.
    Now(GroupGuard),
    /// The group is taken and the command queued: the guard comes when
    /// its turn does. Dropping the receiver leaves the queue.
    Queued {
        turn: oneshot::Receiver<GroupGuard>,
        /// The command it waits behind, described for people.
        behind: String,
    },
}

impl ExclusiveGroups {
    /// Takes `group` for the command of `ctx`. When the group is taken, a
    /// command that may `queue` gets a place in its queue; another one is
    /// answered `busy` naming the command that holds it. The group is
    /// free again (or handed to the next in its queue) when the guard
    /// drops: when the command's future ends (or is dropped), also after
    /// a cancellation the handler ignored.
    pub(crate) fn acquire(
        self: &Arc<Self>,
        group: &str,
        ctx: &CommandContext,
        queue: bool,
    ) -> Result<Acquired, CommandError> {
        let mut held = lock(&self.held);
        let Some(taken) = held.get_mut(group) else {
            held.insert(
                group.to_owned(),
                Group {
                    holder: Holder::of(ctx),
                    waiting: VecDeque::new(),
                },
            );
            return Ok(Acquired::Now(self.guard(group)));
        };
        let holder = &taken.holder;
        if !queue {
            return Err(CommandError::busy(
                group,
                &holder.command,
                holder.request_id.as_deref(),
                &holder.client_id,
            ));
        }
        let behind = match taken.waiting.back() {
            Some(last) => last.holder.describe(),
            None => holder.describe(),
        };
        let (sender, turn) = oneshot::channel();
        taken.waiting.push_back(Waiter {
            holder: Holder::of(ctx),
            turn: sender,
        });
        Ok(Acquired::Queued { turn, behind })
    }

    fn guard(self: &Arc<Self>, group: &str) -> GroupGuard {
        GroupGuard {
            groups: self.clone(),
            group: group.to_owned(),
            armed: true,
        }
    }

    /// Hands `group` to the first queued command still waiting, or frees
    /// it.
    fn release(self: &Arc<Self>, group: &str) {
        let mut held = lock(&self.held);
        let Some(taken) = held.get_mut(group) else {
            return;
        };
        while let Some(next) = taken.waiting.pop_front() {
            taken.holder = next.holder;
            match next.turn.send(self.guard(group)) {
                Ok(()) => return,
                // It stopped waiting (cancelled, or its client left): the
                // guard comes back unused, and the next one's turn comes.
                Err(mut unused) => unused.armed = false,
            }
        }
        held.remove(group);
    }
}

/// Frees its group, or hands it to the next queued command, when dropped.
#[derive(Debug)]
pub(crate) struct GroupGuard {
    groups: Arc<ExclusiveGroups>,
    group: String,
    /// False for a guard never handed out: dropping it does nothing.
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            self.groups.release(&self.group);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_fill_in_a_group_template() {
        let params = serde_json::json!({"channel": 2, "name": "x"});
        let params = params.as_object().unwrap();
        assert_eq!(group_name("magnet", params), "magnet");
        assert_eq!(group_name("ramp:{channel}", params), "ramp:2");
        assert_eq!(group_name("{name}/{channel}", params), "x/2");
        assert_eq!(group_name("ramp:{other}", params), "ramp:{other}");
        assert_eq!(group_name("ramp:{channel", params), "ramp:{channel");
    }

    fn now(acquired: Result<Acquired, CommandError>) -> GroupGuard {
        match acquired {
            Ok(Acquired::Now(guard)) => guard,
            other => panic!("the group was not free: {other:?}"),
        }
    }

    fn queued(acquired: Result<Acquired, CommandError>) -> (oneshot::Receiver<GroupGuard>, String) {
        match acquired {
            Ok(Acquired::Queued { turn, behind }) => (turn, behind),
            other => panic!("the command was not queued: {other:?}"),
        }
    }

    fn ctx(client: &str, request: &str) -> CommandContext {
        CommandContext::new(client, Some(request.into()), "ramp")
    }

    #[test]
    fn a_group_is_held_until_its_guard_drops() {
        let groups = Arc::new(ExclusiveGroups::default());
        let guard = now(groups.acquire("ch0", &ctx("c1", "r1"), false));
        let busy = groups.acquire("ch0", &ctx("c2", "r2"), false).unwrap_err();
        assert_eq!(busy.code(), "busy");
        assert!(
            busy.message().contains("ramp (requestId r1, client c1)"),
            "{busy}"
        );
        drop(now(groups.acquire("ch1", &ctx("c2", "r2"), false)));
        drop(guard);
        now(groups.acquire("ch0", &ctx("c2", "r2"), false));
    }

    #[test]
    fn queued_commands_get_the_group_in_their_order() {
        let groups = Arc::new(ExclusiveGroups::default());
        let first = now(groups.acquire("ch0", &ctx("c1", "r1"), true));
        let (mut second, behind) = queued(groups.acquire("ch0", &ctx("c2", "r2"), true));
        assert_eq!(behind, "ramp (requestId r1, client c1)");
        let (mut third, behind) = queued(groups.acquire("ch0", &ctx("c3", "r3"), true));
        assert_eq!(behind, "ramp (requestId r2, client c2)");
        // A command that may not queue is still told who holds it.
        let busy = groups.acquire("ch0", &ctx("c4", "r4"), false).unwrap_err();
        assert!(busy.message().contains("requestId r1"), "{busy}");

        assert!(second.try_recv().is_err(), "not its turn yet");
        drop(first);
        let second = second.try_recv().expect("the second's turn");
        assert!(third.try_recv().is_err(), "not its turn yet");
        let busy = groups.acquire("ch0", &ctx("c4", "r4"), false).unwrap_err();
        assert!(busy.message().contains("requestId r2"), "{busy}");
        drop(second);
        let third = third.try_recv().expect("the third's turn");
        drop(third);
        drop(now(groups.acquire("ch0", &ctx("c4", "r4"), false)));
    }

    #[test]
    fn a_command_that_leaves_the_queue_is_skipped() {
        let groups = Arc::new(ExclusiveGroups::default());
        let first = now(groups.acquire("ch0", &ctx("c1", "r1"), true));
        let (second, _) = queued(groups.acquire("ch0", &ctx("c2", "r2"), true));
        let (mut third, _) = queued(groups.acquire("ch0", &ctx("c3", "r3"), true));
        drop(second);
        drop(first);
        let third = third.try_recv().expect("the group skips the one that left");
        drop(third);
        // Its guard handed back unused freed nothing twice: the group is
        // free once, for one command.
        let guard = now(groups.acquire("ch0", &ctx("c4", "r4"), false));
        assert!(groups.acquire("ch0", &ctx("c5", "r5"), false).is_err());
        drop(guard);
    }
}
