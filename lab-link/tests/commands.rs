//! `#[command]` through `LabSync`: registering sync and async handlers,
//! dispatching them as the transport does, the metadata their patches
//! carry (also under concurrency), every kind of error a client can get,
//! the schemas clients discover, and calling the handlers directly.
//!
//! The schemas are compared with `tests/expected/command_schemas.json`;
//! after an intended change, refresh it with
//! `UPDATE_EXPECT=1 cargo test -j 2 -p lab-link --test commands` and read
//! the diff.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::Receiver;

use lab_link::command::{DisplayHint, RegisterError};
use lab_link::engine::{Committed, PatchMeta};
use lab_link::server::SyncSource;
use lab_link::{command, CommandContext, CommandError, LabSync, Reactive};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Reactive, Serialize, Clone, Debug, Default, PartialEq)]
struct Channel {
    #[reactive(range = -10.0..=10.0)]
    bias_voltage: f64,
    active: bool,
}

#[derive(Reactive, Serialize, Clone, Debug, Default, PartialEq)]
struct AppState {
    channels: Vec<Channel>,
    log: Vec<String>,
    labels: BTreeMap<String, String>,
}

/// A parameter type of the application's own.
#[derive(Deserialize, schemars::JsonSchema, Debug)]
#[serde(rename_all = "lowercase")]
enum Mode {
    /// Every channel at once.
    All,
    /// Only the active channels.
    Active,
}

/// Set one channel's bias voltage.
///
/// The value is rounded to millivolts.
#[command]
async fn set_channel(
    sync: LabSync<AppState>,
    ctx: CommandContext,
    channel: usize,
    value: f64,
) -> Result<Value, CommandError> {
    if channel >= sync.read().channels.len() {
        return Err(CommandError::new("out_of_range", "No such channel.")
            .display(DisplayHint::Inline)
            .path(format!("/channels/{channel}")));
    }
    let rounded = (value * 1000.0).round() / 1000.0;
    // A refused value (outside -10..=10) is a `MutationError`, which `?`
    // turns into `invalid_value`.
    sync.try_mutate(|s| s.channels().at(channel)?.set_bias_voltage(rounded))?;
    tokio::task::yield_now().await;
    Ok(json!({"channel": channel, "value": rounded, "by": ctx.client_id()}))
}

/// Switch channels on or off.
#[command(name = "activate", requires = ["control", "manage_access"])]
fn set_active(sync: LabSync<AppState>, active: bool, mode: Mode, only: Option<usize>) {
    sync.mutate(|s| {
        for index in 0..s.channels.len() {
            let wanted = only.is_none_or(|only| only == index);
            let selected = match mode {
                Mode::All => true,
                Mode::Active => s.channels[index].active,
            };
            if wanted && selected {
                s.channels().at(index).unwrap().set_active(active).unwrap();
            }
        }
    });
}

/// Append `count` entries `"<tag>:<i>"` to the log, one `mutate` each, all
/// inside one batch held across awaits, so that a concurrent command's
/// entries would land in the same patch if commits mixed commands.
#[command]
async fn append(sync: LabSync<AppState>, tag: String, count: usize) -> usize {
    let _batch = sync.batch();
    for i in 0..count {
        sync.mutate(|s| s.log().push(format!("{tag}:{i}")).unwrap());
        tokio::task::yield_now().await;
    }
    count
}

/// Label a channel; refuses nothing.
#[command]
fn label(sync: LabSync<AppState>, key: String, text: String) -> Result<(), CommandError> {
    sync.mutate(|s| s.labels().insert(key, text))?;
    Ok(())
}

/// Echo the text back: a command for any state.
#[command]
fn echo(
    /// What to echo.
    text: String,
    _times: Option<u32>,
) -> String {
    text
}

/// Panics, to show that a plain `fn` runs inside the command's future.
#[command]
fn explode() {
    panic!("boom");
}

/// The state of every test: two channels.
fn new_sync() -> LabSync<AppState> {
    let sync = LabSync::new(AppState {
        channels: vec![Channel::default(), Channel::default()],
        ..AppState::default()
    });
    sync.command(set_channel)
        .command(set_active)
        .command(append)
        .command(label)
        .command(echo)
        .command(explode);
    sync
}

fn params(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("params must be an object, not {other}"),
    }
}

fn ctx(command: &str) -> CommandContext {
    CommandContext::new("c1", Some("r1".into()), command)
}

/// Dispatches `command` with `params` as client `c1`, request `r1`.
async fn dispatch(
    sync: &LabSync<AppState>,
    command: &str,
    value: Value,
) -> Result<Option<Value>, CommandError> {
    sync.dispatch(ctx(command), params(value)).await
}

fn drain(patches: &Receiver<Committed>) -> Vec<Committed> {
    patches.try_iter().collect()
}

fn meta(client: &str, request: &str, command: &str) -> PatchMeta {
    PatchMeta {
        origin_client_id: Some(client.into()),
        request_id: Some(request.into()),
        command: Some(command.into()),
    }
}

#[tokio::test]
async fn an_async_command_returns_its_result_and_tags_its_patches() {
    let sync = new_sync();
    let (_, patches) = sync.subscribe_channel();
    let result = dispatch(&sync, "set_channel", json!({"channel": 1, "value": 1.2504})).await;
    assert_eq!(
        result,
        Ok(Some(json!({"channel": 1, "value": 1.25, "by": "c1"})))
    );
    assert_eq!(sync.read().channels[1].bias_voltage, 1.25);

    let committed = drain(&patches);
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0].meta(), &meta("c1", "r1", "set_channel"));
    let message: Value = serde_json::from_str(committed[0].message()).unwrap();
    assert_eq!(message["originClientId"], "c1");
    assert_eq!(message["requestId"], "r1");
    assert_eq!(message["command"], "set_channel");
    sync.verify_mirror().unwrap();
}

#[tokio::test]
async fn a_sync_command_with_optional_params_sends_no_result() {
    let sync = new_sync();
    let (_, patches) = sync.subscribe_channel();
    let ctx = CommandContext::new("c2", None, "activate");
    let result = sync
        .dispatch(
            ctx,
            params(json!({"active": true, "mode": "all", "only": 0})),
        )
        .await;
    assert_eq!(result, Ok(None));
    assert!(sync.read().channels[0].active);
    assert!(!sync.read().channels[1].active);

    // `only` is an `Option`: leaving it out is `None`.
    let result = dispatch(&sync, "activate", json!({"active": true, "mode": "all"})).await;
    assert_eq!(result, Ok(None));
    assert!(sync.read().channels.iter().all(|channel| channel.active));

    let committed = drain(&patches);
    let metas: Vec<&PatchMeta> = committed.iter().map(Committed::meta).collect();
    let without_request = PatchMeta {
        request_id: None,
        ..meta("c2", "", "activate")
    };
    assert_eq!(metas, [&without_request, &meta("c1", "r1", "activate")]);
}

#[tokio::test]
async fn results_of_every_shape() {
    let sync = new_sync();
    let cases = [
        ("append", json!({"tag": "a", "count": 2}), Some(json!(2))),
        ("label", json!({"key": "x", "text": "y"}), None),
        ("echo", json!({"text": "hi"}), Some(json!("hi"))),
        (
            "echo",
            json!({"text": "hi", "_times": 3}),
            Some(json!("hi")),
        ),
    ];
    for (command, value, expected) in cases {
        let result = dispatch(&sync, command, value.clone()).await;
        assert_eq!(result, Ok(expected), "{command} {value}");
    }
    assert_eq!(sync.read().log, ["a:0", "a:1"]);
    assert_eq!(sync.read().labels["x"], "y");
}

/// Runs `TASKS` tasks of `COMMANDS` `append` commands each and checks
/// that no patch mixes two commands; returns the number of patches.
async fn concurrent_appends() -> usize {
    const TASKS: usize = 4;
    const COMMANDS: usize = 25;
    const COUNT: usize = 4;

    let sync = new_sync();
    let (_, patches) = sync.subscribe_channel();
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let sync = sync.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..COMMANDS {
                let tag = format!("t{task}-{n}");
                let ctx = CommandContext::new(format!("client{task}"), Some(tag.clone()), "append");
                let result = sync
                    .dispatch(ctx, params(json!({"tag": tag, "count": COUNT})))
                    .await;
                assert_eq!(result, Ok(Some(json!(COUNT))));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    // Every entry's tag names the command (its request id) that added it:
    // a patch whose entries carry another tag than its metadata, or two
    // tags, mixed two commands.
    let committed = drain(&patches);
    let mut entries: BTreeMap<String, usize> = BTreeMap::new();
    for committed in &committed {
        let meta = committed.meta();
        let request = meta.request_id.as_deref().expect("a command's patch");
        let task = request[1..].split('-').next().unwrap();
        assert_eq!(meta.origin_client_id, Some(format!("client{task}")));
        assert_eq!(meta.command.as_deref(), Some("append"));
        for op in serde_json::to_value(committed.ops())
            .unwrap()
            .as_array()
            .unwrap()
        {
            let entry = op["value"].as_str().expect("an added entry");
            let (tag, _) = entry.split_once(':').unwrap();
            assert_eq!(tag, request, "patch {} mixes commands", committed.version());
            *entries.entry(tag.to_owned()).or_default() += 1;
        }
    }
    assert_eq!(entries.len(), TASKS * COMMANDS);
    assert!(entries.values().all(|&count| count == COUNT));
    assert_eq!(sync.read().log.len(), TASKS * COMMANDS * COUNT);
    sync.verify_mirror().unwrap();
    committed.len()
}

#[tokio::test(flavor = "current_thread")]
async fn interleaved_commands_never_share_a_patch() {
    // On one thread, every `yield_now` lets another task's command run
    // while this one's batch is open, so the commands are split into
    // patches of their own (one per entry) instead of one each.
    let patches = concurrent_appends().await;
    assert!(patches > 100, "the commands interleaved: {patches} patches");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_commands_never_share_a_patch() {
    concurrent_appends().await;
}

#[tokio::test]
async fn invalid_params_name_the_field() {
    let sync = new_sync();
    let (_, patches) = sync.subscribe_channel();
    // (params, message, path)
    let cases = [
        (
            json!({"value": 1.0}),
            "invalid parameter `channel`: required, but missing",
            "/channel",
        ),
        (
            json!({"channel": "zero", "value": 1.0}),
            "invalid parameter `channel`: invalid type: string \"zero\", expected usize",
            "/channel",
        ),
        (
            json!({"channel": 0, "value": 1.0, "volts": 2}),
            "invalid parameter `volts`: unknown parameter, expected `channel` or `value`",
            "/volts",
        ),
    ];
    for (value, message, path) in cases {
        let error = dispatch(&sync, "set_channel", value).await.unwrap_err();
        assert_eq!(error.code(), "invalid_params");
        assert_eq!(error.message(), message);
        assert_eq!(error.path_str(), Some(path));
        assert_eq!(error.display_hint(), DisplayHint::Inline);
    }
    let error = dispatch(&sync, "activate", json!({"active": true, "mode": "some"}))
        .await
        .unwrap_err();
    assert_eq!(
        error.message(),
        "invalid parameter `mode`: unknown variant `some`, expected `all` or `active`"
    );
    assert!(drain(&patches).is_empty(), "the handler never ran");
}

#[tokio::test]
async fn handler_errors_pass_through() {
    let sync = new_sync();
    let (_, patches) = sync.subscribe_channel();

    let error = dispatch(&sync, "nope", json!({})).await.unwrap_err();
    assert_eq!(error, CommandError::unknown_command("nope"));
    assert_eq!(error.message(), "Unknown command: 'nope'");
    assert!(!error.is_recoverable());

    let error = dispatch(&sync, "set_channel", json!({"channel": 7, "value": 1.0}))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        CommandError::new("out_of_range", "No such channel.")
            .display(DisplayHint::Inline)
            .path("/channels/7")
    );

    // A `MutationError` through `?` becomes `invalid_value` at its path.
    let error = dispatch(&sync, "set_channel", json!({"channel": 0, "value": 12.0}))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "invalid_value");
    assert_eq!(error.path_str(), Some("/channels/0/bias_voltage"));
    assert_eq!(error.display_hint(), DisplayHint::Inline);
    assert_eq!(sync.read().channels[0].bias_voltage, 0.0);
    assert!(drain(&patches).is_empty());
}

#[tokio::test]
async fn a_plain_fn_panics_when_polled() {
    let sync = new_sync();
    // Building the future runs nothing; the panic comes out of the poll,
    // where the transport can catch it.
    let future = sync.dispatch(ctx("explode"), Map::new());
    let panicked = tokio::spawn(future).await.unwrap_err();
    assert!(panicked.is_panic());
}

#[test]
fn a_second_command_of_a_name_is_refused() {
    let sync = new_sync();
    assert_eq!(
        sync.try_command(set_channel),
        Err(RegisterError::Duplicate("set_channel".into()))
    );
    // The name is the wire name: `set_active` is registered as `activate`.
    assert_eq!(
        sync.try_command(set_active),
        Err(RegisterError::Duplicate("activate".into()))
    );
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        sync.command(echo);
    }));
    let message = panicked.unwrap_err();
    assert_eq!(
        message.downcast_ref::<String>().map(String::as_str),
        Some("a command named \"echo\" is already registered")
    );
}

#[test]
fn infos_match_the_expected_schemas() {
    let sync = new_sync();
    let infos = serde_json::to_value(sync.command_infos()).unwrap();
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/expected/command_schemas.json"
    );
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        let text = serde_json::to_string_pretty(&infos).unwrap() + "\n";
        std::fs::write(file, text).unwrap();
    }
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap())
        .expect("the expected schemas parse");
    if infos != expected {
        panic!(
            "the schemas changed; if intended, rerun with UPDATE_EXPECT=1 and read the diff\n\
             --- expected\n{}\n--- actual\n{}",
            serde_json::to_string_pretty(&expected).unwrap(),
            serde_json::to_string_pretty(&infos).unwrap(),
        );
    }
}

#[test]
fn info_reads_the_options_and_the_docs() {
    use lab_link::command::Command;

    let info = Command::<AppState>::info(&set_channel);
    assert_eq!(info.name, "set_channel");
    assert_eq!(
        info.description.as_deref(),
        Some("Set one channel's bias voltage.\n\nThe value is rounded to millivolts.")
    );
    assert_eq!(info.requires, ["control"], "`control` is the default");
    assert_eq!(info.params["title"], "set_channel");
    assert_eq!(info.params["required"], json!(["channel", "value"]));

    let info = Command::<AppState>::info(&set_active);
    assert_eq!(info.name, "activate");
    assert_eq!(info.requires, ["control", "manage_access"]);
    assert_eq!(info.params["required"], json!(["active", "mode"]));
    assert_eq!(info.result["type"], "null");

    // A command without `LabSync` fits any state.
    let info = Command::<u32>::info(&echo);
    assert_eq!(info.result["type"], "string");
}

#[tokio::test]
async fn handlers_are_still_functions() {
    let sync = new_sync();
    let result = set_channel(sync.clone(), ctx("set_channel"), 0, 0.5).await;
    assert_eq!(result, Ok(json!({"channel": 0, "value": 0.5, "by": "c1"})));
    set_active(sync.clone(), true, Mode::Active, None);
    assert!(!sync.read().channels[0].active, "no channel was active");
    set_active(sync.clone(), true, Mode::All, Some(1));
    assert!(sync.read().channels[1].active);
    assert_eq!(append(sync.clone(), "d".into(), 1).await, 1);
    assert_eq!(label(sync.clone(), "k".into(), "v".into()), Ok(()));
    assert_eq!(echo("hi".into(), None), "hi");
    assert!(catch_unwind(*explode).is_err(), "a function pointer, too");

    // The command is `Copy` and `Debug`, and dereferences to a function
    // pointer.
    let handler: fn(String, Option<u32>) -> String = *echo;
    assert_eq!(handler("x".into(), Some(2)), "x");
    assert_eq!(format!("{echo:?}"), "echo");
    assert_eq!(sync.read().log, ["d:0"]);
}
