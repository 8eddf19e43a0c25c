//! The stub emitted next to the errors of a refused `#[command]`.
//!
//! Without it, the refused function would vanish (a user's
//! `sync.command(name)` would add "not a lab-link command" to the error
//! that matters), or stay a plain function and fail the same way. The
//! stub keeps what can be kept: the command struct, with a `Command` impl for
//! any state so that registering it compiles, and the handler itself, so
//! that errors in its body are reported in the same build. A function
//! that takes `self`, or an item that is not a function, is left as it
//! was: it cannot stand alone as a free function.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::Item;

use super::ast::Input;
use super::expand::{cfg_attrs, command_struct, handler_fn};

/// The stub for a refused function, read as `input` when the item is a
/// function at all.
pub(crate) fn expand(item: &Item, input: Option<&Input<'_>>) -> TokenStream {
    let Some(input) = input.filter(|input| input.receiver.is_none()) else {
        return item.to_token_stream();
    };
    let krate = input.options.krate();
    let private = quote!(#krate::__private::command);
    let ident = input.ident();
    let command_struct = command_struct(input);
    let handler = handler_fn(input);
    let cfgs = cfg_attrs(&input.original.attrs);
    quote! {
        #command_struct

        #(#cfgs)*
        const _: () = {
            // The errors are what matters until they are fixed.
            #[allow(unused)]
            #handler

            impl<__S: 'static> #private::Command<__S> for #ident {
                fn info(&self) -> #private::CommandInfo {
                    ::core::unimplemented!("a stub: `#[command]` refused the function")
                }

                fn call(
                    &self,
                    _: #private::LabSync<__S>,
                    _: #private::CommandContext,
                    _: #private::serde_json::Map<
                        ::std::string::String,
                        #private::serde_json::Value,
                    >,
                ) -> #private::CommandFuture {
                    ::core::unimplemented!("a stub: `#[command]` refused the function")
                }
            }
        };
    }
}
