//! Exclusive groups: at most one running command per named group, across
//! all clients (`#[command(exclusive = "magnet")]`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::control::lock;
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

/// The running holder of each busy group.
#[derive(Debug, Default)]
pub(crate) struct ExclusiveGroups {
    held: Mutex<HashMap<String, Holder>>,
}

/// Who holds a group, for the `busy` message.
#[derive(Debug)]
struct Holder {
    command: String,
    request_id: Option<String>,
    client_id: String,
}

impl ExclusiveGroups {
    /// Takes `group` for the command of `ctx`, or answers `busy` naming
    /// the command that holds it. The group is free again when the guard
    /// drops: when the command's future ends (or is dropped), also after
    /// a cancellation the handler ignored.
    pub(crate) fn acquire(
        self: &Arc<Self>,
        group: &str,
        ctx: &CommandContext,
    ) -> Result<GroupGuard, CommandError> {
        let mut held = lock(&self.held);
        if let Some(holder) = held.get(group) {
            return Err(CommandError::busy(
                group,
                &holder.command,
                holder.request_id.as_deref(),
                &holder.client_id,
            ));
        }
        held.insert(
            group.to_owned(),
            Holder {
                command: ctx.command().to_owned(),
                request_id: ctx.request_id().map(str::to_owned),
                client_id: ctx.client_id().to_owned(),
            },
        );
        Ok(GroupGuard {
            groups: self.clone(),
            group: group.to_owned(),
        })
    }
}

/// Frees its group when dropped.
#[derive(Debug)]
pub(crate) struct GroupGuard {
    groups: Arc<ExclusiveGroups>,
    group: String,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        lock(&self.groups.held).remove(&self.group);
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

    #[test]
    fn a_group_is_held_until_its_guard_drops() {
        let groups = Arc::new(ExclusiveGroups::default());
        let first = CommandContext::new("c1", Some("r1".into()), "ramp");
        let second = CommandContext::new("c2", Some("r2".into()), "ramp");
        let guard = groups.acquire("ch0", &first).unwrap();
        let busy = groups.acquire("ch0", &second).unwrap_err();
        assert_eq!(busy.code(), "busy");
        assert!(
            busy.message().contains("ramp (requestId r1, client c1)"),
            "{busy}"
        );
        assert!(groups.acquire("ch1", &second).is_ok());
        drop(guard);
        assert!(groups.acquire("ch0", &second).is_ok());
    }
}
