//! The signatures `#[command]` refuses, each with why.
//!
//! A command is called by a client that sends a JSON object: every
//! parameter that is not special must be one concrete, owned type that
//! serde can build from that JSON and schemars can describe, and the
//! function must be callable with nothing but those values, the command's
//! `LabSync` and its `CommandContext`. What breaks that is refused here,
//! at the offending token. Whether a type implements `Deserialize`,
//! `JsonSchema` or `Serialize` is left to the compiler: the generated code
//! is spanned so that it reports a missing trait at the parameter or the
//! return type (see `expand.rs`).

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::visit::{self, Visit};
use syn::{GenericParam, Ident, Pat, Type};

use super::ast::{self, Input, Kind, Output, COMMAND_CONTEXT, LAB_SYNC};
use super::attr::{EDITS, EXCLUSIVE, NAME, QUEUE, VALUE};
use crate::errors::Errors;

/// Reports every refused part of `input`.
pub(crate) fn check(input: &Input<'_>, errors: &mut Errors) {
    generics(input, errors);
    receiver(input, errors);
    unsafety(input, errors);
    params(input, errors);
    output(input, errors);
    name(input, errors);
    param_attrs(input, errors);
    edits(input, errors);
    queue(input, errors);
}

/// `queue` says what a command does when its exclusive group is taken:
/// without a group it would mean nothing.
fn queue(input: &Input<'_>, errors: &mut Errors) {
    let options = &input.options;
    if let (Some(queue), None) = (&options.queue, &options.exclusive) {
        errors.push(syn::Error::new(
            queue.span,
            format!(
                "`{QUEUE}` makes a command wait for its exclusive group: add \
                 `{EXCLUSIVE} = \"<group>\"`, or remove `{QUEUE}`"
            ),
        ));
    }
}

/// `#[param(...)]` describes a JSON param in the params schema; the
/// special params are not in it.
fn param_attrs(input: &Input<'_>, errors: &mut Errors) {
    for param in &input.params {
        if let Some(range) = &param.attrs.range {
            crate::meta::check_range(range, ast::PARAM, errors);
        }
        let (Some(span), Kind::Sync { .. } | Kind::Context) = (param.attrs.span, &param.kind)
        else {
            continue;
        };
        errors.push(syn::Error::new(
            span,
            "`#[param(...)]` describes a JSON param, and this parameter is filled in by the \
             server, not sent by the client; remove the attribute",
        ));
    }
}

/// `edits = "..."` and `value = ...`: the template's `{name}`s and the
/// value must be JSON params of the command, or the binding could not be
/// filled in from a call; the two options only make sense together.
fn edits(input: &Input<'_>, errors: &mut Errors) {
    let options = &input.options;
    let names: Vec<String> = input
        .json_params()
        .filter_map(|param| match param.kind {
            Kind::Json { name, .. } => name.map(|name| name.unraw().to_string()),
            _ => None,
        })
        .collect();
    let listed = if names.is_empty() {
        "it has no JSON params".to_owned()
    } else {
        let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
        format!("its params are {}", quoted.join(", "))
    };
    match (&options.edits, &options.value) {
        (Some(edits), None) => errors.push(syn::Error::new(
            edits.span,
            format!(
                "`{EDITS}` needs `{VALUE}`, the param that carries the new value: add \
                 `{VALUE} = <param>`; {listed}"
            ),
        )),
        (None, Some(value)) => errors.push(syn::Error::new(
            value.span,
            format!(
                "`{VALUE}` goes with `{EDITS}`, the field the command sets: add \
                 `{EDITS} = \"/path/{{param}}/field\"`"
            ),
        )),
        _ => {}
    }
    if let Some(value) = &options.value {
        let name = value.value.unraw().to_string();
        if options.edits.is_some() && !names.contains(&name) {
            errors.push(syn::Error::new(
                value.value.span(),
                format!("`{VALUE} = {name}` names no JSON param of the command: {listed}"),
            ));
        }
    }
    let Some(edits) = &options.edits else {
        return;
    };
    let template = edits.value.value();
    let span = edits.value.span();
    if !template.is_empty() && !template.starts_with('/') {
        errors.push(syn::Error::new(
            span,
            format!(
                "the `{EDITS}` path must be a JSON Pointer, starting with `/`: write \
                 \"/{template}\""
            ),
        ));
        return;
    }
    for segment in template.split('/').skip(1) {
        let param = segment
            .strip_prefix('{')
            .and_then(|inner| inner.strip_suffix('}'))
            .filter(|inner| !inner.is_empty() && !inner.contains(['{', '}']));
        match param {
            Some(param) if !names.iter().any(|name| name == param) => {
                errors.push(syn::Error::new(
                    span,
                    format!(
                        "`{{{param}}}` in the `{EDITS}` path is not a param of the command: \
                         {listed}"
                    ),
                ));
            }
            None if segment.contains(['{', '}']) => errors.push(syn::Error::new(
                span,
                format!(
                    "the segment \"{segment}\" of the `{EDITS}` path must be a whole \
                     `{{param}}` or contain no braces"
                ),
            )),
            _ => {}
        }
    }
}

/// Generic parameters: the params struct and the result need one JSON
/// Schema each, and the registered handler one concrete function.
fn generics(input: &Input<'_>, errors: &mut Errors) {
    for param in &input.original.sig.generics.params {
        let error = match param {
            GenericParam::Lifetime(lifetime) => syn::Error::new(
                lifetime.lifetime.span(),
                "a `#[command]` function cannot have lifetime parameters: its params are \
                 deserialised into owned values and its future outlives the request; use owned \
                 types such as `String`",
            ),
            GenericParam::Type(_) | GenericParam::Const(_) => syn::Error::new_spanned(
                param,
                "a `#[command]` function cannot be generic: a client's JSON needs one concrete \
                 type per parameter and the result one schema; use concrete types",
            ),
        };
        errors.push(error);
    }
}

/// `self`: a command is registered as a value of its own, and runs with
/// nothing but its params, its `LabSync` and its context.
fn receiver(input: &Input<'_>, errors: &mut Errors) {
    if let Some(receiver) = input.receiver {
        errors.push(syn::Error::new(
            receiver.self_token.span,
            "a `#[command]` function cannot take `self`: a command is a free function; move it \
             out of the `impl` block and take the state as a `LabSync<S>` parameter",
        ));
    }
}

/// `unsafe fn`: any client may call the command with any params, so no
/// caller could uphold its safety conditions.
fn unsafety(input: &Input<'_>, errors: &mut Errors) {
    if let Some(unsafety) = &input.original.sig.unsafety {
        errors.push(syn::Error::new(
            unsafety.span,
            "a `#[command]` function cannot be `unsafe`: any client may call it with any params; \
             make it safe, with an `unsafe` block inside where needed",
        ));
    }
}

/// The parameters: names, the special ones, and owned, nameable types.
fn params(input: &Input<'_>, errors: &mut Errors) {
    let mut first_sync: Option<&Type> = None;
    let mut first_context: Option<&Type> = None;
    for param in &input.params {
        let ty = &*param.original.ty;
        match &param.kind {
            Kind::Sync { state } => {
                special_pattern(&param.original.pat, errors);
                once(&mut first_sync, ty, LAB_SYNC, errors);
                // The state type decides which `Command<S>` is implemented:
                // it must be visible in the tokens.
                if state.is_none() {
                    errors.push(syn::Error::new_spanned(
                        ty,
                        "`LabSync` needs its state type here: write `LabSync<AppState>` (the \
                         state the command is registered on)",
                    ));
                }
            }
            Kind::Context => {
                special_pattern(&param.original.pat, errors);
                once(&mut first_context, ty, COMMAND_CONTEXT, errors);
            }
            Kind::Json { name, .. } => {
                if name.is_none() {
                    errors.push(syn::Error::new_spanned(
                        &param.original.pat,
                        "a `#[command]` parameter needs a plain name, which is its JSON field: \
                         write `channel: usize` (or `_channel: usize` when unused)",
                    ));
                }
                json_type(input, ty, errors);
            }
        }
    }
}

/// A special parameter needs no name: a plain one or `_`.
fn special_pattern(pat: &Pat, errors: &mut Errors) {
    if ast::plain_name(pat).is_none() && !matches!(pat, Pat::Wild(_)) {
        errors.push(syn::Error::new_spanned(
            pat,
            "a `#[command]` parameter needs a plain name: write `sync: LabSync<S>` or \
             `ctx: CommandContext` (or `_` when unused)",
        ));
    }
}

/// A second `LabSync` or `CommandContext` would receive the same value
/// again, which is most likely a mistake; both parties are shown.
fn once<'a>(first: &mut Option<&'a Type>, ty: &'a Type, name: &str, errors: &mut Errors) {
    match first {
        Some(first) => {
            errors.push(syn::Error::new_spanned(
                ty,
                format!(
                    "a command takes at most one `{name}` parameter: remove this one, and clone \
                     the first where a second is needed"
                ),
            ));
            errors.push(syn::Error::new_spanned(
                *first,
                format!("the first `{name}` parameter is here"),
            ));
        }
        None => *first = Some(ty),
    }
}

/// A JSON parameter's type becomes a field of the params struct, built
/// from the client's JSON.
fn json_type(input: &Input<'_>, ty: &Type, errors: &mut Errors) {
    // `&LabSync<S>` or `&CommandContext`: meant as special, but only the
    // owned value is recognised.
    if let (Type::Reference(reference), Some(name)) = (ty, ast::special_name(ty)) {
        errors.push(syn::Error::new(
            reference.and_token.span,
            format!(
                "take `{name}` by value: the command receives its own (a `{name}` is cheap to \
                 clone); remove the `&`"
            ),
        ));
        return;
    }
    let found = Found::in_type(ty, declared_lifetimes(input));
    if let Some(impl_trait) = found.impl_trait {
        errors.push(syn::Error::new_spanned(
            impl_trait,
            "`impl Trait` cannot be a command parameter: the parameter is deserialised from JSON \
             into one concrete type; name the type",
        ));
    }
    if let Some(borrow) = found.borrow {
        errors.push(syn::Error::new_spanned(
            borrow,
            "a command parameter must own its data: it is deserialised from the client's JSON, \
             which is gone when the command runs; use `String`, `Vec<T>` or another owned type",
        ));
    }
}

/// The return type must be nameable, and a `Result` must show its `T`.
fn output(input: &Input<'_>, errors: &mut Errors) {
    let syn::ReturnType::Type(_, ty) = &input.original.sig.output else {
        return;
    };
    if let Some(impl_trait) = Found::in_type(ty, Vec::new()).impl_trait {
        errors.push(syn::Error::new_spanned(
            impl_trait,
            "a `#[command]` function needs a named return type: the function is stored as a \
             function pointer and the result's schema comes from the type; replace `impl Trait` \
             with the type",
        ));
    }
    if let Output::Result { ok: None, .. } = input.output {
        errors.push(syn::Error::new_spanned(
            ty,
            "`#[command]` reads the result's type from the `T` of `Result<T, E>`: write out the \
             type arguments, which an alias such as `Result` without them hides",
        ));
    }
}

/// A client calls the command by its name.
fn name(input: &Input<'_>, errors: &mut Errors) {
    if let Some(name) = &input.options.name {
        if name.value.value().is_empty() {
            errors.push(syn::Error::new(
                name.value.span(),
                format!(
                    "a command's `{NAME}` cannot be empty: clients call the command by it; \
                     write `name = \"set_channel\"`"
                ),
            ));
        }
    }
}

/// The lifetimes the function declares: already refused in `generics`,
/// so their uses are not reported again.
fn declared_lifetimes(input: &Input<'_>) -> Vec<Ident> {
    input
        .original
        .sig
        .generics
        .lifetimes()
        .map(|param| param.lifetime.ident.clone())
        .collect()
}

/// What a parameter's or the return type's tokens contain that a command
/// cannot have: the first `impl Trait`, and the first reference or
/// non-`'static` lifetime (a value borrowed from the request's JSON, which
/// does not outlive parsing).
#[derive(Default)]
struct Found {
    impl_trait: Option<TokenStream>,
    borrow: Option<TokenStream>,
    declared: Vec<Ident>,
}

impl Found {
    fn in_type(ty: &Type, declared: Vec<Ident>) -> Self {
        let mut found = Found {
            declared,
            ..Found::default()
        };
        found.visit_type(ty);
        found
    }
}

impl<'ast> Visit<'ast> for Found {
    fn visit_type_impl_trait(&mut self, node: &'ast syn::TypeImplTrait) {
        self.impl_trait
            .get_or_insert_with(|| node.to_token_stream());
    }

    fn visit_type_reference(&mut self, node: &'ast syn::TypeReference) {
        self.borrow.get_or_insert_with(|| node.to_token_stream());
        visit::visit_type_reference(self, node);
    }

    fn visit_lifetime(&mut self, node: &'ast syn::Lifetime) {
        if node.ident != "static" && !self.declared.contains(&node.ident) {
            self.borrow.get_or_insert_with(|| node.to_token_stream());
        }
    }
}
