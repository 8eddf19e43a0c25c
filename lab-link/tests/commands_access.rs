//! Capability checks at dispatch: with a principal, a command needs
//! `control` unless it declares its own requirements, and a principal
//! lacking one gets `forbidden` without the handler running; without a
//! principal (no access control) every command runs.

use lab_link::command::Principal;
use lab_link::server::SyncSource;
use lab_link::{command, CommandContext, LabSync, Reactive};
use serde::Serialize;
use serde_json::Map;

#[derive(Reactive, Serialize, Default)]
struct State {
    runs: u32,
}

/// Counts a run.
#[command]
fn touch(sync: LabSync<State>) {
    sync.mutate(|s| {
        let runs = s.runs + 1;
        s.set_runs(runs).ok()
    });
}

/// Counts a run; only for administrators.
#[command(requires = ["manage_access"])]
fn administer(sync: LabSync<State>) {
    sync.mutate(|s| {
        let runs = s.runs + 1;
        s.set_runs(runs).ok()
    });
}

async fn run(
    sync: &LabSync<State>,
    name: &str,
    principal: Option<Principal>,
) -> Result<(), String> {
    let mut ctx = CommandContext::new("c1", Some("r1".into()), name);
    if let Some(principal) = principal {
        ctx = ctx.with_principal(principal);
    }
    sync.dispatch(ctx, Map::new())
        .await
        .map(drop)
        .map_err(|e| e.code().to_owned())
}

#[tokio::test]
async fn capabilities_are_checked_before_the_handler_runs() {
    let sync = LabSync::new(State::default());
    sync.command(touch).command(administer);
    let viewer = || Principal::new("viewer", ["read_state"]);
    let operator = || Principal::new("operator", ["control"]);
    let admin = || Principal::new("admin", ["manage_access"]);

    // No principal: no access control, everything runs.
    assert_eq!(run(&sync, "touch", None).await, Ok(()));
    assert_eq!(run(&sync, "administer", None).await, Ok(()));
    assert_eq!(sync.read().runs, 2);

    // `control` is the default requirement.
    assert_eq!(
        run(&sync, "touch", Some(viewer())).await,
        Err("forbidden".into())
    );
    assert_eq!(run(&sync, "touch", Some(operator())).await, Ok(()));
    // Declared requirements replace the default.
    assert_eq!(
        run(&sync, "administer", Some(operator())).await,
        Err("forbidden".into())
    );
    assert_eq!(run(&sync, "administer", Some(admin())).await, Ok(()));
    // Refused commands did not run.
    assert_eq!(sync.read().runs, 4);
    assert_eq!(sync.version(), 4);

    let error = sync
        .dispatch(
            CommandContext::new("c1", None, "touch").with_principal(viewer()),
            Map::new(),
        )
        .await
        .unwrap_err();
    assert!(!error.is_recoverable());
    assert_eq!(
        error.message(),
        "This credential is not permitted to run that command."
    );
}

/// Reads nothing, changes nothing: any authenticated client may run it.
#[command(requires = [])]
fn ping() -> &'static str {
    "pong"
}

#[tokio::test]
async fn an_empty_requires_lets_any_principal_run_the_command() {
    let sync = LabSync::new(State::default());
    sync.command(ping).command(touch);
    let viewer = || Principal::new("viewer", ["read_state"]);
    assert_eq!(run(&sync, "ping", Some(viewer())).await, Ok(()));
    assert_eq!(
        run(
            &sync,
            "ping",
            Some(Principal::new("nobody", Vec::<String>::new()))
        )
        .await,
        Ok(())
    );
    let infos = sync.command_infos();
    let requires = |name: &str| {
        infos
            .iter()
            .find(|info| info.name == name)
            .map(|info| info.requires.clone())
            .unwrap()
    };
    assert!(requires("ping").is_empty());
    assert_eq!(requires("touch"), ["control"]);
}

#[tokio::test]
async fn the_wildcard_holds_every_capability() {
    let sync = LabSync::new(State::default());
    sync.command(touch).command(administer);
    let local = || Principal::new("local", ["*"]);
    assert_eq!(run(&sync, "touch", Some(local())).await, Ok(()));
    assert_eq!(run(&sync, "administer", Some(local())).await, Ok(()));
}

#[tokio::test]
async fn a_principal_without_control_cannot_probe_command_names() {
    let sync = LabSync::new(State::default());
    sync.command(touch);
    let viewer = || Principal::new("viewer", ["read_state"]);
    let operator = || Principal::new("operator", ["control"]);
    assert_eq!(
        run(&sync, "no_such", Some(viewer())).await,
        Err("forbidden".into()),
        "unknown and forbidden look the same to a viewer"
    );
    assert_eq!(
        run(&sync, "no_such", Some(operator())).await,
        Err("unknown_command".into())
    );
    assert_eq!(
        run(&sync, "no_such", None).await,
        Err("unknown_command".into())
    );
}
