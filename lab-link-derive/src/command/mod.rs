//! `#[command]`: parse, check, generate.
//!
//! [`expand`] runs the pipeline: `attr.rs` reads the options, `ast.rs`
//! sorts the function's parameters and return type, `check.rs` rejects
//! what cannot be a command, `expand.rs` generates the command struct, the
//! params struct and the impls. On any error `fallback.rs` emits a stub
//! next to the errors, so that the user sees our messages rather than a
//! cascade of "not a lab-link command" at every registration.

mod ast;
mod attr;
mod check;
mod expand;
mod fallback;

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::Item;

use crate::errors::Errors;

/// The attribute's output for `args` (inside its parentheses) on `item`:
/// the generated code, or the errors and a stub.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = attr::Options::parse(args, &mut errors);
    let item: Item = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(error) => {
            let mut tokens = error.to_compile_error();
            tokens.extend(item);
            return tokens;
        }
    };
    let input = match &item {
        Item::Fn(function) => {
            let input = ast::Input::from_syn(function, options, &mut errors);
            check::check(&input, &mut errors);
            Some(input)
        }
        _ => {
            let (kind, span) = describe(&item);
            errors.push(syn::Error::new(
                span,
                format!(
                    "`#[command]` goes on a `fn` or an `async fn`, not on {kind}: put it on the \
                     function that handles the command"
                ),
            ));
            None
        }
    };
    match (input, errors.finish()) {
        (Some(input), Ok(())) => expand::expand(&input),
        (input, result) => {
            let mut tokens = fallback::expand(&item, input.as_ref());
            if let Err(error) = result {
                tokens.extend(error.to_compile_error());
            }
            tokens
        }
    }
}

/// What `item` is, with an article, and the span of its keyword.
fn describe(item: &Item) -> (&'static str, Span) {
    match item {
        Item::Struct(item) => ("a struct", item.struct_token.span),
        Item::Enum(item) => ("an enum", item.enum_token.span),
        Item::Union(item) => ("a union", item.union_token.span),
        Item::Impl(item) => ("an `impl` block", item.impl_token.span),
        Item::Trait(item) => ("a trait", item.trait_token.span),
        Item::Mod(item) => ("a module", item.mod_token.span),
        Item::Const(item) => ("a constant", item.const_token.span),
        Item::Static(item) => ("a static", item.static_token.span),
        Item::Type(item) => ("a type alias", item.type_token.span),
        Item::Use(item) => ("a `use` declaration", item.use_token.span),
        Item::ForeignMod(item) => ("an `extern` block", item.abi.extern_token.span),
        _ => ("this item", item.span()),
    }
}
