//! The macro's view of its input: the function's parameters sorted into
//! the special ones (`LabSync<S>`, `CommandContext`) and the JSON params,
//! and its return type sorted into unit, value and `Result`, keeping the
//! original tokens for spans.
//!
//! Everything here is syntactic: a proc macro sees tokens, not types. A
//! parameter is special when the last segment of its type's path is
//! `LabSync` or `CommandContext`, and the return type is a `Result` when the
//! last segment of its path is `Result`.

use syn::{Attribute, FnArg, GenericArgument, Ident, ItemFn, Pat, PatType, PathArguments};
use syn::{Receiver, ReturnType, Type, TypePath};

use syn::spanned::Spanned;

use super::attr::Options;
use crate::errors::Errors;
use crate::meta::Meta;
use crate::opt::Opt;

/// The type whose parameter receives the command's `LabSync`.
pub(crate) const LAB_SYNC: &str = "LabSync";
/// The type whose parameter receives the command's context.
pub(crate) const COMMAND_CONTEXT: &str = "CommandContext";

/// A `#[command]` function.
pub(crate) struct Input<'a> {
    pub(crate) original: &'a ItemFn,
    pub(crate) options: Options,
    /// A `self` parameter, refused in `check.rs`.
    pub(crate) receiver: Option<&'a Receiver>,
    pub(crate) params: Vec<Param<'a>>,
    pub(crate) output: Output<'a>,
}

/// A parameter of the function, other than `self`.
pub(crate) struct Param<'a> {
    pub(crate) original: &'a PatType,
    pub(crate) kind: Kind<'a>,
    pub(crate) attrs: ParamAttrs,
}

/// The `#[param(...)]` options of a parameter: how the schema describes
/// it.
#[derive(Default)]
pub(crate) struct ParamAttrs {
    /// The span of the first `#[param]` attribute.
    pub(crate) span: Option<proc_macro2::Span>,
    pub(crate) meta: Meta,
    pub(crate) range: Option<Opt<syn::Expr>>,
}

/// The attribute on a parameter.
pub(crate) const PARAM: &str = "param";

/// The options accepted in `#[param(...)]`, for the unknown-option message.
const PARAM_OPTIONS: &str = "`unit = \"<unit>\"`, `precision = <digits>`, `range = <range>`, \
                             `title = \"<label>\"`, `group = \"<group>\"`, `order = <number>` \
                             or `read_only`";

impl ParamAttrs {
    /// Parses the `#[param(...)]` attributes of a parameter.
    fn from_attrs(attrs: &[Attribute], errors: &mut Errors) -> Self {
        let mut parsed = ParamAttrs::default();
        for attr in attrs.iter().filter(|attr| attr.path().is_ident(PARAM)) {
            parsed.span.get_or_insert_with(|| attr.path().span());
            let mut found = Errors::default();
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("range") {
                    let value: syn::Expr = meta.value()?.parse()?;
                    if parsed.range.is_some() {
                        found.push(syn::Error::new(
                            meta.path.span(),
                            "duplicate `#[param(range)]` option: give it once",
                        ));
                    } else {
                        parsed.range = Some(Opt {
                            span: meta.path.span(),
                            value,
                        });
                    }
                } else if !parsed.meta.option(&meta, PARAM, &mut found)? {
                    let path = &meta.path;
                    found.push(syn::Error::new(
                        path.span(),
                        format!(
                            "unknown `#[{PARAM}]` option `{}`: expected {PARAM_OPTIONS}",
                            quote::quote!(#path)
                        ),
                    ));
                    if meta.input.peek(syn::Token![=]) {
                        meta.value()?.parse::<syn::Expr>()?;
                    }
                }
                Ok(())
            });
            errors.extend(found);
            if let Err(error) = result {
                errors.push(error);
            }
        }
        parsed
    }
}

/// What a parameter receives.
pub(crate) enum Kind<'a> {
    /// The `LabSync` the command is registered on. `state` is the `S` of
    /// `LabSync<S>`, `None` when not written out.
    Sync { state: Option<&'a Type> },
    /// The request's `CommandContext`.
    Context,
    /// A field of the params object.
    Json {
        /// The field's name; `None` when the pattern is not a plain name.
        name: Option<&'a Ident>,
        /// `Option<T>`: the field may be missing.
        optional: bool,
    },
}

/// What the function returns.
pub(crate) enum Output<'a> {
    /// Nothing, or `()`: the ack carries no result.
    Unit,
    /// A value sent as the result.
    Value(&'a Type),
    /// A `Result`: `Ok` is sent as the result, `Err` converts into a
    /// `CommandError`. `ok` is `T`, `None` when the type arguments are not
    /// written out; `err` is `E`, `None` for an alias such as
    /// `io::Result<T>`.
    Result {
        ok: Option<&'a Type>,
        err: Option<&'a Type>,
    },
}

impl<'a> Input<'a> {
    /// Reads the function `original` with its parsed `#[command]` options.
    pub(crate) fn from_syn(original: &'a ItemFn, options: Options, errors: &mut Errors) -> Self {
        let mut receiver = None;
        let mut params = Vec::new();
        for arg in &original.sig.inputs {
            match arg {
                FnArg::Receiver(found) => receiver = Some(found),
                FnArg::Typed(typed) => params.push(Param {
                    original: typed,
                    kind: Kind::of(typed),
                    attrs: ParamAttrs::from_attrs(&typed.attrs, errors),
                }),
            }
        }
        let output = match &original.sig.output {
            ReturnType::Default => Output::Unit,
            ReturnType::Type(_, ty) => Output::of(ty),
        };
        Input {
            original,
            options,
            receiver,
            params,
            output,
        }
    }

    /// The function's name.
    pub(crate) fn ident(&self) -> &'a Ident {
        &self.original.sig.ident
    }

    /// The state type of the `LabSync` parameter, if there is one.
    pub(crate) fn state(&self) -> Option<&'a Type> {
        self.params.iter().find_map(|param| match param.kind {
            Kind::Sync { state } => state,
            _ => None,
        })
    }

    /// The JSON params.
    pub(crate) fn json_params(&self) -> impl Iterator<Item = &Param<'a>> {
        self.params
            .iter()
            .filter(|param| matches!(param.kind, Kind::Json { .. }))
    }
}

impl<'a> Kind<'a> {
    fn of(param: &'a PatType) -> Self {
        let ty = ungroup(&param.ty);
        match last_segment(ty) {
            Some((ident, arguments)) if ident == LAB_SYNC => Kind::Sync {
                state: type_argument(arguments, 0),
            },
            Some((ident, _)) if ident == COMMAND_CONTEXT => Kind::Context,
            _ => Kind::Json {
                name: plain_name(&param.pat),
                optional: matches!(last_segment(ty), Some((ident, _)) if ident == "Option"),
            },
        }
    }
}

impl<'a> Output<'a> {
    fn of(ty: &'a Type) -> Self {
        match ungroup(ty) {
            Type::Tuple(tuple) if tuple.elems.is_empty() => Output::Unit,
            ty => match last_segment(ty) {
                Some((ident, arguments)) if ident == "Result" => Output::Result {
                    ok: type_argument(arguments, 0),
                    err: type_argument(arguments, 1),
                },
                _ => Output::Value(ty),
            },
        }
    }
}

/// The name bound by `pat` when it is a plain identifier (`channel`,
/// `mut channel`).
pub(crate) fn plain_name(pat: &Pat) -> Option<&Ident> {
    match pat {
        Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => Some(&ident.ident),
        _ => None,
    }
}

/// The special type `ty` names, looking through one reference: `LabSync`
/// or `CommandContext`.
pub(crate) fn special_name(ty: &Type) -> Option<&'static str> {
    let ty = match ungroup(ty) {
        Type::Reference(reference) => ungroup(&reference.elem),
        ty => ty,
    };
    match last_segment(ty) {
        Some((ident, _)) if ident == LAB_SYNC => Some(LAB_SYNC),
        Some((ident, _)) if ident == COMMAND_CONTEXT => Some(COMMAND_CONTEXT),
        _ => None,
    }
}

/// The `#[doc]` attributes of `attrs`.
pub(crate) fn docs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|attr| attr.path().is_ident("doc"))
}

/// `ty` without the invisible groups a `macro_rules!` `$t:ty` leaves.
fn ungroup(mut ty: &Type) -> &Type {
    while let Type::Group(group) = ty {
        ty = &group.elem;
    }
    ty
}

/// The last segment of a path type: its name and its arguments.
fn last_segment(ty: &Type) -> Option<(&Ident, &PathArguments)> {
    match ty {
        Type::Path(TypePath { qself: None, path }) => path
            .segments
            .last()
            .map(|segment| (&segment.ident, &segment.arguments)),
        _ => None,
    }
}

/// The type argument at `index` of `<...>`, not counting lifetimes.
fn type_argument(arguments: &PathArguments, index: usize) -> Option<&Type> {
    match arguments {
        PathArguments::AngleBracketed(arguments) => arguments
            .args
            .iter()
            .filter_map(|argument| match argument {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .nth(index),
        _ => None,
    }
}
