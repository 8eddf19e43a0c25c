//! The stub emitted next to the errors of a rejected input.
//!
//! Without it, every use of the type as `Reactive` (`LabSync::new`, a
//! field of another `Reactive` struct) would add an "is not `Reactive`"
//! error to the one that matters (as thiserror's `impl/src/fallback.rs`
//! does for `Error`). The stub is a complete leaf impl, so it compiles
//! whatever the input's shape; it only stands in until the errors are
//! fixed.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, Path};

/// A leaf `Reactive` impl for `input`. `krate` is the parsed
/// `#[reactive(crate = ...)]` path, if the attributes could be read.
pub(crate) fn expand(input: &DeriveInput, krate: Option<Path>) -> TokenStream {
    let krate = krate.unwrap_or_else(|| syn::parse_quote!(::lab_link));
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let predicates = where_clause.map(|clause| &clause.predicates);
    // The higher-ranked bound keeps `Serialize` from being a trivial bound
    // (an error of its own when false, rust-lang/rust#48214): a missing
    // `Serialize` is reported where the type is used, not here twice.
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #krate::__private::Reactive for #ident #ty_generics
            where
                #predicates
                for<'__workaround> #ident #ty_generics: #krate::__private::Serialize,
            {
                type Tracked<'__a> = #krate::__private::Leaf<'__a, Self> where Self: '__a;

                fn tracked<'__a>(
                    &'__a mut self,
                    ctx: #krate::__private::Ctx<'__a>,
                ) -> Self::Tracked<'__a> {
                    #krate::__private::Leaf::new(self, ctx)
                }
            }
        };
    }
}
