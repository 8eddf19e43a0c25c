//! Parameter shapes: `mut`, `_`-prefixed and raw names, `_` for the
//! special ones, `Option<T>`, documented params, the application's own
//! types, full paths to the special types, and types from a macro.
use lab_link::command::Command;
use lab_link::{command, LabSync};
use serde::Deserialize;

#[derive(Deserialize, schemars::JsonSchema)]
struct Point {
    x: f64,
    y: f64,
}

macro_rules! param_type {
    ($ty:ty) => {
        /// A command whose parameter type comes through `$ty`.
        #[command]
        fn from_macro(_sync: LabSync<u8>, value: $ty) -> $ty {
            value
        }
    };
}
param_type!(u32);

/// Every shape at once.
#[command]
fn shapes(
    _: lab_link::LabSync<u8>,
    _: lab_link::CommandContext,
    /// Where to move.
    mut point: Point,
    _unused: Option<bool>,
    r#type: String,
) -> f64 {
    point.x += 1.0;
    let _ = r#type;
    point.x + point.y
}

fn main() {
    let sync = LabSync::new(0_u8);
    sync.command(shapes).command(from_macro);
    let info = Command::<u8>::info(&shapes);
    let properties = &info.params["properties"];
    assert_eq!(properties["point"]["description"], "Where to move.");
    assert!(properties.get("_unused").is_some());
    assert!(properties.get("type").is_some());
    assert_eq!(
        info.params["required"],
        serde_json::json!(["point", "type"])
    );
    let ctx = lab_link::CommandContext::new("c", None, "shapes");
    let point = Point { x: 1.0, y: 2.0 };
    assert_eq!(shapes(sync.clone(), ctx, point, None, String::new()), 4.0);
    assert_eq!(from_macro(sync, 3), 3);
}
