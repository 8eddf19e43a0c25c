//! Procedural macros of lab-link: `#[derive(Reactive)]`.
//!
//! `#[derive(Reactive)]` generates, for a struct with named fields, a
//! tracked view whose setters and getters record every mutation as JSON
//! Patch operations at the paths serde gives the fields. The runtime it
//! calls into lives in `lab-link-core`; the generated code reaches it only
//! through the facade's hidden `lab_link::__private` module (or the path
//! given with `#[reactive(crate = "...")]`).
//!
//! Use the macro through the `lab-link` facade (`lab_link::Reactive`),
//! whose documentation describes what it generates; this crate only holds
//! the entry points, and `reactive/` the pipeline behind them: parse
//! (`ast.rs`, `attr.rs`), check (`check.rs`), generate (`expand.rs`), and
//! on error a stub (`fallback.rs`).

#![doc(test(attr(deny(warnings))))]

mod errors;
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
/// | `#[reactive(range = <range>)]` | any `RangeBounds` of the field's type (`0.0..=10.0`, `..100`); checked by the setter and whenever a value holding the field is written or loaded; no getter, so no write can bypass it |
/// | `#[reactive(validate = path)]` | a `fn(&T) -> Result<(), E>` with `E: Display` (also as a string, `validate = "path"`); checked like `range`; no getter |
///
/// Options combine, in one attribute or several.
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
