//! `#[derive(Reactive)]`: parse, check, generate.
//!
//! [`derive`] runs the pipeline: `ast.rs` reads the input (serde's
//! attributes through `serde_derive_internals`, ours in `attr.rs`),
//! `check.rs` rejects what cannot be tracked, `expand.rs` generates the
//! tracked view and the `Reactive` impl. On any error `fallback.rs` emits a
//! stub impl next to the errors, so that the user sees our messages rather
//! than a cascade of "`Reactive` is not implemented" at every use.

mod ast;
mod attr;
mod check;
mod expand;
mod fallback;

use proc_macro2::TokenStream;
use syn::DeriveInput;

pub(crate) use crate::errors::Errors;

/// The derive's output for `input`: the generated code, or the errors and
/// a stub.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let parsed = ast::Input::from_syn(input, &mut errors);
    if let Some(parsed) = &parsed {
        check::check(parsed, &mut errors);
    }
    match (parsed, errors.finish()) {
        (Some(parsed), Ok(())) => expand::expand(&parsed),
        (parsed, result) => {
            let krate = parsed.map(|parsed| parsed.attrs.krate());
            let mut tokens = fallback::expand(input, krate);
            if let Err(error) = result {
                tokens.extend(error.to_compile_error());
            }
            tokens
        }
    }
}
