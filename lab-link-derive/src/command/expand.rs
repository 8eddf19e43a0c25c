//! Code generation: the struct that stands for the command, and
//! behind it the handler, the params struct and the two impls.
//!
//! For
//!
//! ```text
//! /// Set one channel's bias voltage.
//! #[command]
//! pub async fn set_channel(sync: LabSync<AppState>, ctx: CommandContext, channel: usize, value: f64)
//!     -> Result<Value, CommandError> { … }
//! ```
//!
//! the output is
//!
//! ```text
//! /// Set one channel's bias voltage.
//! #[allow(non_camel_case_types)]
//! #[derive(Clone, Copy, Debug)]
//! pub struct set_channel {}
//! #[doc(hidden)]
//! pub const set_channel: set_channel = set_channel {};   // the value
//!
//! const _: () = {
//!     // The user's function, unchanged but for its docs; inside this
//!     // block its name is the function's again.
//!     async fn set_channel(sync: LabSync<AppState>, …) -> Result<Value, CommandError> { … }
//!
//!     #[derive(Deserialize, JsonSchema)]   // through the facade, deny_unknown_fields
//!     struct __Params { channel: usize, value: f64 }
//!
//!     const __HANDLER: fn(LabSync<AppState>, CommandContext, usize, f64)
//!         -> Pin<Box<dyn Future<Output = Result<Value, CommandError>> + Send>>
//!         = |a, b, c, d| Box::pin(set_channel(a, b, c, d));
//!
//!     impl Deref for set_channel {          // `set_channel(…)` still calls the function
//!         type Target = fn(…) -> …;
//!         fn deref(&self) -> &Self::Target { &__HANDLER }
//!     }
//!
//!     impl<__S> Command<__S> for set_channel where __S: SameState<AppState> {
//!         fn info(…); fn call(…);   // `call` turns its `LabSync<__S>` into `LabSync<AppState>`
//!     }
//! };
//! ```
//!
//! A call expression auto-dereferences its callee, so the constant is
//! callable like the function was; `sync.command(set_channel)` registers
//! it. The handler keeps the user's body and tokens, so errors inside it
//! point where they always did; everything else is spanned on the user's
//! types, so that a missing `Deserialize`, `JsonSchema` or `Serialize` is
//! reported at the parameter or the return type. Runtime items are reached
//! through `#krate::__private::command` only.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, Ident, Lit, LitStr, Type};

use super::ast::{self, Input, Kind, Output};

/// The name of the handler's function pointer inside the generated
/// `const _`.
const HANDLER: &str = "__HANDLER";
/// The name of the params struct inside the generated `const _`.
const PARAMS: &str = "__Params";

/// The generated code for a checked input.
pub(crate) fn expand(input: &Input<'_>) -> TokenStream {
    let krate = input.options.krate();
    let private = quote!(#krate::__private::command);
    let original = input.original;
    let command_struct = command_struct(input);
    let handler_fn = handler_fn(input);
    let params_struct = params_struct(input, &krate, &private);
    let deref = deref_impl(input);
    let command = command_impl(input, &private);
    let cfgs = cfg_attrs(&original.attrs);

    quote! {
        #command_struct

        #(#cfgs)*
        const _: () = {
            #handler_fn
            #params_struct
            #deref
            #command
        };
    }
}

/// The struct with the function's name, visibility and docs, and the
/// constant of the same name that is its value.
///
/// Not a unit struct, although it has no fields: a unit struct's name is
/// also its constructor, and clippy's `unnecessary_operation` takes a
/// statement `set_active(sync, true);` for a struct construction without
/// effect (the callee resolves to a constructor). A braced struct has no
/// constructor in the value namespace, which leaves the name free for a
/// constant: a call through a constant is a call like any other.
pub(super) fn command_struct(input: &Input<'_>) -> TokenStream {
    let original = input.original;
    let ident = input.ident();
    let vis = &original.vis;
    let docs = ast::docs(&original.attrs);
    let cfgs: Vec<&Attribute> = cfg_attrs(&original.attrs).collect();
    quote! {
        #(#docs)*
        #(#cfgs)*
        #[allow(non_camel_case_types)]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
        #vis struct #ident {}

        #[doc(hidden)]
        #(#cfgs)*
        #[allow(non_upper_case_globals)]
        #vis const #ident: #ident = #ident {};
    }
}

/// The user's function, private, without its docs (they went to the
/// struct) and without the docs of its parameters (they went to the params
/// struct; a parameter cannot carry any). It keeps its name: inside the
/// `const _` block it shadows the constant of the same name, so that a
/// diagnostic about it (a future that is not `Send`) names the function,
/// and a recursive call inside its body calls it directly.
pub(super) fn handler_fn(input: &Input<'_>) -> TokenStream {
    let mut function = input.original.clone();
    function.attrs.retain(|attr| !attr.path().is_ident("doc"));
    function.vis = syn::Visibility::Inherited;
    for arg in &mut function.sig.inputs {
        if let syn::FnArg::Typed(typed) = arg {
            typed
                .attrs
                .retain(|attr| !attr.path().is_ident("doc") && !attr.path().is_ident(ast::PARAM));
        }
    }
    quote!(#function)
}

/// The params struct: one field per JSON parameter, the function's docs
/// as the schema's description, the command's name as its title.
fn params_struct(input: &Input<'_>, krate: &syn::Path, private: &TokenStream) -> TokenStream {
    let params = Ident::new(PARAMS, Span::call_site());
    let krate = path_text(krate);
    let serde_crate = format!("{krate}::__private::command::serde");
    let schemars_crate = format!("{krate}::__private::command::schemars");
    let param_fn = format!("{krate}::__private::command::param");
    let schema_fn = format!("{krate}::__private::command::param_schema");
    let title = command_name(input);
    let description =
        description(&input.original.attrs).map(|text| quote!(#[schemars(description = #text)]));
    let fields = input.json_params().map(|param| {
        let Kind::Json { name, optional } = &param.kind else {
            unreachable!("json_params yields JSON params only");
        };
        // Checked in check.rs: every JSON param has a plain name.
        let name = name.expect("a checked JSON param has a name");
        let ty = &param.original.ty;
        let docs = ast::docs(&param.original.attrs);
        let default = optional.then(|| quote!(#[serde(default)]));
        // serde spans the call of a `deserialize_with` function on the
        // string: on the type, a missing `Deserialize` is reported there,
        // once (see `support::param`).
        let with = LitStr::new(&param_fn, ty.span());
        // Likewise a missing `JsonSchema`, with the fix in its message.
        let schema_with = LitStr::new(&format!("{schema_fn}::<{}>", quote!(#ty)), ty.span());
        quote! {
            #(#docs)*
            #default
            #[serde(deserialize_with = #with)]
            #[schemars(schema_with = #schema_with)]
            #name: #ty,
        }
    });
    quote! {
        #[derive(#private::serde::Deserialize, #private::schemars::JsonSchema)]
        #[serde(crate = #serde_crate, deny_unknown_fields)]
        #[schemars(crate = #schemars_crate, title = #title)]
        #description
        struct #params {
            #(#fields)*
        }
    }
}

/// The handler as a constant function pointer, and `Deref` to it, so
/// that `name(…)` calls the function. An `async fn`'s future is boxed
/// there, as `Send`: the one place where a future that is not `Send` is
/// reported, at the function's name.
fn deref_impl(input: &Input<'_>) -> TokenStream {
    let ident = input.ident();
    let handler = Ident::new(HANDLER, Span::call_site());
    let types: Vec<&Type> = input
        .params
        .iter()
        .map(|param| &*param.original.ty)
        .collect();
    let args: Vec<Ident> = (0..types.len())
        .map(|i| format_ident!("__arg{}", i))
        .collect();
    let ret = match &input.original.sig.output {
        syn::ReturnType::Default => quote!(()),
        syn::ReturnType::Type(_, ty) => quote!(#ty),
    };
    let (target, body) = if input.original.sig.asyncness.is_some() {
        (
            quote! {
                ::core::pin::Pin<::std::boxed::Box<
                    dyn ::core::future::Future<Output = #ret> + ::core::marker::Send + 'static
                >>
            },
            quote_spanned!(ident.span()=> ::std::boxed::Box::pin(#ident(#(#args),*))),
        )
    } else {
        (ret, quote!(#ident(#(#args),*)))
    };
    // A reference to a function item cannot live for ever; one to a
    // constant function pointer can, through promotion.
    quote! {
        const #handler: fn(#(#types),*) -> #target = |#(#args),*| #body;

        #[automatically_derived]
        impl ::core::ops::Deref for #ident {
            type Target = fn(#(#types),*) -> #target;

            fn deref(&self) -> &Self::Target {
                &#handler
            }
        }
    }
}

/// `impl Command<S>`: the command's info and the call that parses the
/// params, runs the handler and turns its output into the ack's result.
fn command_impl(input: &Input<'_>, private: &TokenStream) -> TokenStream {
    let ident = input.ident();
    let params = Ident::new(PARAMS, Span::call_site());
    let name = command_name(input);
    let description = match description(&input.original.attrs) {
        Some(text) => quote!(::core::option::Option::Some(::std::string::String::from(#text))),
        None => quote!(::core::option::Option::None),
    };
    // No `requires` option: `control`, as in lab-link 0.5.0; an explicit
    // `requires = []`: any principal may run the command.
    let requires: Vec<TokenStream> = match &input.options.requires {
        Some(opt) => opt
            .value
            .iter()
            .map(|capability| quote!(::std::string::String::from(#capability)))
            .collect(),
        None => vec![quote!(::std::string::String::from("control"))],
    };
    let result_schema = match &input.output {
        Output::Unit => quote!(#private::schema_of::<()>()),
        Output::Value(ty) | Output::Result { ok: Some(ty), .. } => {
            quote_spanned!(ty.span()=> #private::schema_of::<#ty>())
        }
        Output::Result { ok: None, .. } => unreachable!("checked: a `Result` shows its `T`"),
    };

    // `__S`, not `S`: the user's types are named inside the impl. A
    // command of one state is a command of every `__S: SameState<It>`, so
    // that registering it on another state is reported as that.
    let (where_clause, into_state) = match input.state() {
        Some(state) => {
            let span = state.span();
            (
                quote_spanned!(span=> where __S: #private::SameState<#state>),
                quote!(let sync = <__S as #private::SameState<#state>>::into_state(sync);),
            )
        }
        None => (quote!(), quote!()),
    };
    let uses_sync = input
        .params
        .iter()
        .any(|param| matches!(param.kind, Kind::Sync { .. }));
    let uses_ctx = input
        .params
        .iter()
        .any(|param| matches!(param.kind, Kind::Context));
    let sync_pat = if uses_sync { quote!(sync) } else { quote!(_) };
    let ctx_pat = if uses_ctx { quote!(ctx) } else { quote!(_) };

    // The JSON params are bound to generated names, so that a param named
    // like a local of `call` (`sync`, `params`) cannot shadow it.
    let mut bindings = Vec::new();
    let mut args = Vec::new();
    for (i, param) in input.params.iter().enumerate() {
        args.push(match &param.kind {
            Kind::Sync { .. } => quote!(sync),
            Kind::Context => quote!(ctx),
            Kind::Json { name, .. } => {
                let local = format_ident!("__param{}", i);
                bindings.push(quote!(#name: #local));
                quote!(#local)
            }
        });
    }
    // An `async fn` is called through the boxed pointer, whose `Send`
    // check is the only one; a plain one directly.
    let call = if input.original.sig.asyncness.is_some() {
        let handler = Ident::new(HANDLER, Span::call_site());
        quote!(#handler(#(#args),*).await)
    } else {
        quote!(#ident(#(#args),*))
    };
    // Each bound is checked where the user wrote its type: `E:
    // Into<CommandError>` at `E`, `T: Serialize` at `T`. The compiler
    // reports an argument's bound at the argument, so the local `output`
    // is placed there too; it keeps the macro's own hygiene, as a type
    // from a `macro_rules!` carries that macro's, which would hide it.
    let output = Ident::new("output", Span::call_site());
    let output_at = |span: Span| Ident::new("output", Span::call_site().located_at(span));
    let result = match &input.output {
        Output::Result { ok, err } => {
            let err_span = err.map_or_else(|| output_span(input), Spanned::span);
            let ok_span = ok.map_or_else(|| output_span(input), Spanned::span);
            let ok_output = output_at(ok_span);
            let error = Ident::new("error", Span::call_site().located_at(err_span));
            let into = quote_spanned! {err_span=>
                ::core::result::Result::map_err(#output, |#error| {
                    #private::into_command_error(#error)
                })
            };
            let result = quote_spanned!(ok_span=> #private::result_of(#ok_output));
            quote! {
                let #output = #into;
                #result
            }
        }
        Output::Value(ty) => {
            let ty_output = output_at(ty.span());
            quote_spanned!(ty.span()=> #private::result_value(#ty_output))
        }
        Output::Unit => quote!(#private::result_value(#output)),
    };

    let edits = match (&input.options.edits, &input.options.value) {
        (Some(edits), Some(value)) => {
            let path = &edits.value;
            let value = value.value.unraw().to_string();
            quote!(::std::vec![#private::Edit::new(#path, #value)])
        }
        _ => quote!(::std::vec::Vec::new()),
    };
    let schema = Ident::new("schema", Span::call_site());
    let described = input.json_params().filter_map(|param| {
        let Kind::Json {
            name: Some(name), ..
        } = &param.kind
        else {
            return None;
        };
        let ty = &param.original.ty;
        let keywords =
            param
                .attrs
                .meta
                .keywords(param.attrs.range.as_ref(), Some(ty), private, &schema);
        let assert = param.attrs.meta.numeric_asserts(ty, private);
        let name = name.unraw().to_string();
        (!keywords.is_empty()).then(|| {
            quote! {
                #assert
                #private::annotate_param(&mut params, #name, |#schema| { #keywords });
            }
        })
    });

    let policy = policy(input, private);

    quote! {
        #[automatically_derived]
        impl<__S: 'static> #private::Command<__S> for #ident #where_clause {
            #policy

            fn info(&self) -> #private::CommandInfo {
                let mut params = #private::schema_of::<#params>();
                #(#described)*
                #private::CommandInfo {
                    name: ::std::string::String::from(#name),
                    description: #description,
                    requires: ::std::vec![#(#requires),*],
                    params,
                    result: #result_schema,
                    edits: #edits,
                    policy: <Self as #private::Command<__S>>::policy(self),
                }
            }

            fn call(
                &self,
                #sync_pat: #private::LabSync<__S>,
                #ctx_pat: #private::CommandContext,
                params: #private::serde_json::Map<
                    ::std::string::String,
                    #private::serde_json::Value,
                >,
            ) -> #private::CommandFuture {
                // A plain function runs inside the future too: a panic
                // happens where the transport polls it, and can be caught
                // there.
                #into_state
                ::std::boxed::Box::pin(async move {
                    let #params { #(#bindings),* } = #private::parse_params(params)?;
                    let #output = #call;
                    #result
                })
            }
        }
    }
}

/// `Command::policy`, when the command declares `exclusive`, `queue`,
/// `timeout` or `cancel_on_disconnect` (otherwise the trait's default).
fn policy(input: &Input<'_>, private: &TokenStream) -> TokenStream {
    let options = &input.options;
    if options.exclusive.is_none()
        && options.timeout.is_none()
        && options.cancel_on_disconnect.is_none()
        && options.queue.is_none()
    {
        return quote!();
    }
    let policy = Ident::new("policy", Span::call_site());
    let exclusive = options.exclusive.as_ref().map(|opt| {
        let group = &opt.value;
        quote!(let #policy = #policy.with_exclusive(#group);)
    });
    let timeout = options.timeout.as_ref().map(|opt| {
        let millis = opt.value;
        quote!(let #policy = #policy.with_timeout(::core::time::Duration::from_millis(#millis));)
    });
    let cancel = options
        .cancel_on_disconnect
        .as_ref()
        .map(|_| quote!(let #policy = #policy.with_cancel_on_disconnect(true);));
    let queue = options
        .queue
        .as_ref()
        .map(|_| quote!(let #policy = #policy.with_queue(true);));
    quote! {
        fn policy(&self) -> #private::CommandPolicy {
            let #policy = <#private::CommandPolicy as ::core::default::Default>::default();
            #exclusive
            #timeout
            #cancel
            #queue
            #policy
        }
    }
}

/// The span of the return type, or of the function's name when there is
/// none.
fn output_span(input: &Input<'_>) -> Span {
    match &input.original.sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => input.ident().span(),
    }
}

/// The command's wire name: `name = "..."`, or the function's name.
pub(super) fn command_name(input: &Input<'_>) -> String {
    match &input.options.name {
        Some(name) => name.value.value(),
        None => input.ident().unraw().to_string(),
    }
}

/// The doc comment as one string: every line trimmed, lines joined with
/// `\n`, blank lines at either end dropped. `None` without docs. A doc
/// that is not a string literal (`#[doc = include_str!(..)]`) is kept as
/// an expression inside `concat!`.
fn description(attrs: &[Attribute]) -> Option<TokenStream> {
    let mut pieces: Vec<Result<String, &Expr>> = Vec::new();
    for attr in ast::docs(attrs) {
        let syn::Meta::NameValue(doc) = &attr.meta else {
            continue;
        };
        match &doc.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) => {
                // Not `lines()`: an empty `///` line is a line too.
                for line in lit.value().split('\n') {
                    pieces.push(Ok(line.trim().to_owned()));
                }
            }
            expr => pieces.push(Err(expr)),
        }
    }
    let blank = |piece: &Result<String, &Expr>| matches!(piece, Ok(line) if line.is_empty());
    let start = pieces.iter().position(|piece| !blank(piece))?;
    let end = pieces.iter().rposition(|piece| !blank(piece))? + 1;
    let pieces = &pieces[start..end];
    if pieces.iter().all(Result::is_ok) {
        let lines: Vec<&str> = pieces.iter().flatten().map(String::as_str).collect();
        let text = lines.join("\n");
        return Some(quote!(#text));
    }
    let mut parts = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            parts.push(quote!("\n"));
        }
        parts.push(match piece {
            Ok(line) => quote!(#line),
            Err(expr) => quote!(#expr),
        });
    }
    Some(quote!(::core::concat!(#(#parts),*)))
}

/// The `#[cfg]` attributes of the function, repeated on every generated
/// item so that they all come and go together.
pub(super) fn cfg_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|attr| attr.path().is_ident("cfg"))
}

/// A path as text, for the string-valued `crate = "..."` options of
/// serde and schemars.
fn path_text(path: &syn::Path) -> String {
    let mut text = String::new();
    if path.leading_colon.is_some() {
        text.push_str("::");
    }
    let segments: Vec<String> = path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    text.push_str(&segments.join("::"));
    text
}
