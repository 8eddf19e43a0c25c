//! `name`, `requires` and `crate`, alone and together.
mod reexport {
    pub use lab_link as inner;
}

use lab_link::command::Command;
use lab_link::server::SyncSource;
use lab_link::{command, LabSync};

/// Renamed.
#[command(name = "set-voltage")]
fn set_voltage(_value: f64) {}

/// Needs more than `control`.
#[command(requires = ["control", "manage_access"], name = "grant")]
fn grant() {}

/// Anyone who may read the state.
#[command(requires = ["read_state"])]
fn status() -> bool {
    true
}

#[doc = concat!("Documented ", "by a macro.")]
///
/// And by a line.
#[command]
fn computed_doc() {}

/// Configured out after the attribute: it vanishes whole.
#[command]
#[cfg(any())]
fn configured_out() {}

/// Configured in.
#[command]
#[cfg(all())]
fn configured_in() {}

/// Through a re-export of the facade.
#[command(crate = "crate::reexport::inner")]
fn reexported() {}

fn main() {
    let sync = LabSync::new(0_u8);
    sync.command(set_voltage)
        .command(grant)
        .command(status)
        .command(reexported);
    let names: Vec<String> = sync
        .command_infos()
        .into_iter()
        .map(|info| info.name)
        .collect();
    assert_eq!(names, ["grant", "reexported", "set-voltage", "status"]);
    let info = Command::<u8>::info(&grant);
    assert_eq!(info.requires, ["control", "manage_access"]);
    assert_eq!(Command::<u8>::info(&set_voltage).requires, ["control"]);
    let info = Command::<u8>::info(&computed_doc);
    assert_eq!(
        info.description.as_deref(),
        Some("Documented by a macro.\n\nAnd by a line.")
    );
    assert_eq!(
        info.params["description"],
        "Documented by a macro.\n\nAnd by a line."
    );
    sync.command(configured_in);
}
