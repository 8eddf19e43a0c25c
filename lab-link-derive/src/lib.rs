//! Procedural macros of lab-link: `#[derive(Reactive)]` and `#[command]`.
//!
//! `#[derive(Reactive)]` generates, for a struct with named fields, a
//! tracked view whose setters and getters record every mutation as JSON
//! Patch operations at the paths serde gives the fields. The runtime it
//! calls into lives in `lab-link-core`; the generated code reaches it only
//! through the facade's hidden `lab_link::__private` module (or the path
//! given with `#[reactive(crate = "...")]`).
//!
//! `#[command]` turns a function into a command that clients call by name:
//! a value of its own type that implements `Command<S>` and still calls the
//! function.
//!
//! Use the macros through the `lab-link` facade (`lab_link::Reactive`,
//! `lab_link::command`); this crate only holds the entry points, and a
//! folder per macro (`reactive/`, `command/`) the pipeline behind them:
//! parse (`ast.rs`, `attr.rs`), check (`check.rs`), generate
//! (`expand.rs`), and on error a stub (`fallback.rs`). Errors are
//! collected in `errors.rs` and reported together.

#![doc(test(attr(deny(warnings))))]

mod command;
mod errors;
mod meta;
mod opt;
mod reactive;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `Reactive` for a struct with named fields: a tracked view with
/// a setter per field and a tracked getter per field whose type is itself
/// `Reactive`, recording JSON Patch operations at the paths serde gives
/// the fields.
///
/// ```
/// use lab_link::{LabSync, Reactive};
/// use serde::Serialize;
///
/// #[derive(Reactive, Serialize, Default)]
/// #[serde(rename_all = "camelCase")]
/// pub struct Channel {
///     #[reactive(range = -10.0..=10.0)]
///     pub bias_voltage: f64,
///     pub samples: Vec<f64>,
/// }
///
/// let sync = LabSync::new(Channel::default());
/// let (_, patches) = sync.subscribe_channel();
/// sync.try_mutate(|channel| {
///     channel.set_bias_voltage(1.25)?;   // replace /biasVoltage
///     channel.samples().push(0.5)        // add /samples/0
/// })?;
/// assert_eq!(patches.try_recv()?.ops().len(), 2);
///
/// let refused = sync.try_mutate(|channel| channel.set_bias_voltage(12.0));
/// assert_eq!(refused.unwrap_err().path(), "/biasVoltage");
/// assert_eq!(sync.read().bias_voltage, 1.25);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # What it generates
///
/// For `pub struct Channel`, a view `pub struct ChannelTracked<'a>` (the
/// struct's visibility and generics), which `LabSync::mutate` hands out:
///
/// - `set_<field>(&mut self, value) -> Result<(), MutationError>` for every
///   field: records one `replace` at the field's path, nothing if the JSON
///   form is unchanged; refuses NaN, infinities and broken constraints,
///   changing nothing.
/// - `<field>(&mut self)`, the tracked view of the field (`VecTracked`,
///   `MapTracked`, `OptionTracked`, another struct's view, or `Leaf` for
///   scalars), for every serialised field whose type is `Reactive` and that
///   declares no constraint.
/// - `Deref<Target = Channel>` for reading, and `Debug`.
///
/// The methods have the field's visibility, so a private field stays
/// private. The view has no `DerefMut`: every write goes through a method
/// that records it.
///
/// # Field options
///
/// | option | effect |
/// |---|---|
/// | `#[reactive(leaf)]` | the type only needs `Serialize`; the field has a setter and no getter, and is checked for finite floats only |
/// | `#[reactive(range = <range>)]` | any `RangeBounds` of the field's numeric type (`0.0..=10.0`, `..100`, `(Excluded(0.0), Unbounded)`); checked by the setter and whenever a value holding the field is written or loaded; no getter, so no write can bypass it; in the schema as `minimum`/`maximum` (`exclusive…` for an excluded bound); a range with literal bounds that holds no value is a compile error |
/// | `#[reactive(validate = path)]` | a `fn(&T) -> Result<(), E>` with `E: Display` (also as a string, `validate = "path"`); checked like `range`; no getter |
/// | `#[reactive(unit = "V")]`, `#[reactive(precision = 3)]` | the schema's `unit` and `precision` of a numeric field (or an `Option`, `Vec`, `Box` or array of numbers) |
/// | `#[reactive(title = "...")]`, `#[reactive(group = "...")]`, `#[reactive(order = N)]` | the schema's display label, group and order within it |
/// | `#[reactive(read_only)]` | the schema's `readOnly`: only the server changes the value |
/// | `#[reactive(history)]` | the server records the value's changes (a number, `bool` or `String`, or an `Option` of one; anything else is an error at the field's type); the schema's `history: true` |
///
/// Options combine, in one attribute or several. The schema options only
/// describe the field in the schema `LabSync::with_state_schema`
/// publishes (see the book's chapter "Schema"); doc comments stay the
/// descriptions.
///
/// # Container options
///
/// | option | effect |
/// |---|---|
/// | `#[reactive(crate = "path")]` | the path of the `lab_link` crate in the generated code (default `::lab_link`), for a facade re-exported elsewhere |
/// | `#[reactive(leaf)]` | the whole type is a leaf, replaced whole (its view is `Leaf`); required for enums, tuple structs and unit structs, and allows any serde shape; field constraints are still checked |
///
/// # serde attributes
///
/// Paths follow serde exactly, read through the same code as serde's
/// derive: `rename`, `rename_all`, and `skip` / `skip_serializing` (such a
/// field gets a setter that records nothing, no getter, and needs no trait
/// at all). Shapes without one stable member per field are a compile
/// error on a tracked struct, since a recorded path would be wrong:
/// `flatten`, `skip_serializing_if` (use an `Option<T>`, serialised as
/// `null`), `serialize_with` / `with` (use a newtype with its own
/// `Serialize`, marked `leaf`), container `transparent` and `into`
/// (mark the type `leaf`).
///
/// # Generics
///
/// A type parameter used by a tracked field gets a `Reactive` bound, one
/// used only by `leaf` fields a `Serialize` bound; recursive types work.
/// Lifetime parameters are refused: the state must own its data.
#[proc_macro_derive(Reactive, attributes(reactive))]
pub fn derive_reactive(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    reactive::derive(&input).into()
}

/// Turns a `fn` or an `async fn` into a command that clients call by
/// name.
///
/// ```
/// use lab_link::{command, CommandContext, CommandError, LabSync, Reactive};
/// use serde::Serialize;
///
/// #[derive(Reactive, Serialize, Default)]
/// pub struct AppState {
///     pub voltages: Vec<f64>,
/// }
///
/// /// Set one channel's voltage.
/// #[command]
/// async fn set_voltage(
///     sync: LabSync<AppState>,
///     channel: usize,
///     value: f64,
/// ) -> Result<f64, CommandError> {
///     sync.try_mutate(|s| s.voltages().set(channel, value))?;
///     Ok(value)
/// }
///
/// /// How many channels there are.
/// #[command(requires = ["read_state"])]
/// fn channel_count(sync: LabSync<AppState>) -> usize {
///     sync.read().voltages.len()
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sync = LabSync::new(AppState { voltages: vec![0.0; 2] });
/// sync.command(set_voltage).command(channel_count);
///
/// // What the transport does with a client's `command` message, through
/// // its interface to the state:
/// use lab_link::server::SyncSource;
/// let ctx = CommandContext::new("client-1", Some("r1".into()), "set_voltage");
/// let params = serde_json::json!({"channel": 1, "value": 1.25});
/// let serde_json::Value::Object(params) = params else { unreachable!() };
/// let result = sync.dispatch(ctx, params).await?;
/// assert_eq!(result, Some(serde_json::json!(1.25)));
///
/// // The function is still a function.
/// assert_eq!(channel_count(sync.clone()), 2);
/// assert_eq!(set_voltage(sync.clone(), 0, 0.5).await?, 0.5);
/// assert_eq!(sync.read().voltages, [0.5, 1.25]);
/// # Ok(())
/// # }
/// ```
///
/// # Parameters
///
/// Recognised by type, by the last segment of the type's path as written:
///
/// - `LabSync<S>` (at most one) receives the `LabSync` the command is
///   registered on, and makes it a `Command<S>` for that `S`. Without one,
///   the command can be registered on any `LabSync`.
/// - `CommandContext` (at most one) receives the request: the client's id,
///   the request id, the principal.
/// - Every other parameter is a field of the params object, by its name as
///   written (`_unused` stays `_unused`), with its doc comment as the
///   field's description. Its type must be `Deserialize` and `JsonSchema`
///   and own its data; an `Option<T>` field may be left out. Unknown fields
///   are refused.
///
/// A mismatch between the params and the schema is an `invalid_params`
/// error naming the field, sent before the function runs.
///
/// # Return type
///
/// - nothing or `()`: the ack carries no `result`;
/// - a type whose path ends in `Result` (also an alias, with its type
///   arguments written out) is taken as `Result<T, E>`: `Ok(T)` is sent as
///   the `result`, `Err(E)` as a `command_error`, with any
///   `E: Into<CommandError>` (so `?` on a `MutationError` gives
///   `invalid_value`);
/// - any other `T` is sent as the `result` (a `T` that serialises to
///   `null` sends none).
///
/// The result type must be `Serialize` and `JsonSchema`.
///
/// # What it generates
///
/// The function becomes a struct without fields (`struct name {}`) of the
/// same name, visibility and docs, and a constant of that name holding its
/// value. The struct implements `Command<S>`, so that `sync.command(name)`
/// registers it, and dereferences to a function pointer, so that
/// `name(…)` still calls the function (an `async fn` then returns a boxed
/// future, `Send + 'static`). The function itself moves into a hidden
/// `const _` block. The command's info carries the name, the doc comment as its
/// description (lines trimmed, joined with `\n`), the required
/// capabilities, the JSON Schemas of the params object and of the
/// result, and the `edits` binding. A plain `fn` runs inside the command's future, so a panic
/// happens where the transport polls it.
///
/// # Options
///
/// | option | effect |
/// |---|---|
/// | `name = "..."` | the wire name (default: the function's name) |
/// | `requires = ["...", ...]` | the capabilities a principal needs with access control on (default: `control`; an empty list: any principal) |
/// | `edits = "/path/{param}/field", value = param` | the state field the command sets, a JSON Pointer whose `{name}`s are params of the command, and the param carrying the new value; listed in the schema under `edits`. Every `{name}` and `value` must be a JSON param (a compile error otherwise); the path must exist in the state type and no other command may edit the same field (checked by `LabSync::command`) |
/// | `crate = "path"` | the path of the `lab_link` crate in the generated code (default `::lab_link`) |
///
/// # Parameter options
///
/// `#[param(...)]` on a JSON parameter describes it in the params schema,
/// with the options of a `#[reactive]` field: `unit`, `precision`,
/// `range` (here only described: check the value in the function),
/// `title`, `group`, `order`, `read_only`.
///
/// ```
/// use lab_link::{command, LabSync};
///
/// /// Scale a voltage.
/// #[command]
/// fn scale(#[param(unit = "V", range = -10.0..=10.0)] volts: f64) -> f64 {
///     volts * 2.0
/// }
///
/// let sync = LabSync::new(0_u32);
/// sync.command(scale);
/// let params = &sync.schema()["commands"]["scale"]["params"];
/// assert_eq!(params["properties"]["volts"]["unit"], "V");
/// assert_eq!(params["properties"]["volts"]["maximum"], 10.0);
/// ```
///
/// # Refused
///
/// Generic or lifetime parameters, `self`, `unsafe`, patterns other than a
/// name, a second `LabSync` or `CommandContext`, references and
/// `impl Trait` in the parameters, `impl Trait` as the return type: each
/// is a compile error at the offending token.
#[proc_macro_attribute]
pub fn command(args: TokenStream, item: TokenStream) -> TokenStream {
    command::expand(args.into(), item.into()).into()
}
