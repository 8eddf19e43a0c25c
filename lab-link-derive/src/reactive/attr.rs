//! Parsing of our own `#[reactive(...)]` attributes, and finding the tokens
//! of serde's attributes that an error must point at.
//!
//! Policy (as in serde's `internals/attr.rs`): parsing reports every
//! malformed or unknown option into the shared [`Errors`] and goes on with
//! the next one, so that a user sees all mistakes at once. Whether the
//! options make sense together is decided later, in `check.rs`.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, LitStr, Path, Token};

use super::Errors;
use crate::meta::Meta;
use crate::opt::Opt;

/// The attribute this derive reads.
pub(crate) const REACTIVE: &str = "reactive";
/// Container option: the path of the `lab_link` crate.
pub(crate) const CRATE: &str = "crate";
/// Container and field option: track the value as a leaf, replaced whole.
pub(crate) const LEAF: &str = "leaf";
/// Field option: a range the value must lie in.
pub(crate) const RANGE: &str = "range";
/// Field option: a function the value must pass.
pub(crate) const VALIDATE: &str = "validate";
/// Field option: the server records the value's changes as history.
pub(crate) const HISTORY: &str = "history";

/// The serde attribute, whose options we read through
/// `serde_derive_internals` and only look up here for error spans.
pub(crate) const SERDE: &str = "serde";

/// The options accepted on the container, for the unknown-option message.
const CONTAINER_OPTIONS: &str = "`crate = \"<path>\"` or `leaf`";
/// The options accepted on a field, for the unknown-option message.
const FIELD_OPTIONS: &str = "`leaf`, `range = <range>`, `validate = <path>`, `unit = \"<unit>\"`, \
                             `precision = <digits>`, `title = \"<label>\"`, `group = \"<group>\"`, \
                             `order = <number>`, `read_only` or `history`";

/// The `#[reactive(...)]` options of the struct or enum.
#[derive(Default)]
pub(crate) struct Container {
    pub(crate) krate: Option<Opt<Path>>,
    pub(crate) leaf: Option<Opt<()>>,
}

/// The `#[reactive(...)]` options of one field.
#[derive(Default)]
pub(crate) struct Field {
    pub(crate) leaf: Option<Opt<()>>,
    pub(crate) range: Option<Opt<Expr>>,
    pub(crate) validate: Option<Opt<Expr>>,
    pub(crate) history: Option<Opt<()>>,
    pub(crate) meta: Meta,
}

impl Field {
    /// The spans of the options that constrain the value, with their names.
    pub(crate) fn constraints(&self) -> impl Iterator<Item = (&'static str, Span)> + '_ {
        let range = self.range.as_ref().map(|opt| (RANGE, opt.span));
        let validate = self.validate.as_ref().map(|opt| (VALIDATE, opt.span));
        range.into_iter().chain(validate)
    }
}

impl Container {
    /// Parses the container's `#[reactive(...)]` attributes.
    pub(crate) fn from_attrs(attrs: &[Attribute], errors: &mut Errors) -> Self {
        let mut container = Container::default();
        for_each_option(attrs, CONTAINER_OPTIONS, errors, |meta, errors| {
            let span = meta.path.span();
            if meta.path.is_ident(CRATE) {
                let value = crate_path(meta)?;
                set_once(&mut container.krate, CRATE, span, value, errors);
            } else if meta.path.is_ident(LEAF) {
                no_value(meta, LEAF)?;
                set_once(&mut container.leaf, LEAF, span, (), errors);
            } else {
                unknown(meta, "container", CONTAINER_OPTIONS, errors)?;
            }
            Ok(())
        });
        container
    }

    /// The path of the `lab_link` crate in generated code.
    pub(crate) fn krate(&self) -> Path {
        match &self.krate {
            Some(opt) => opt.value.clone(),
            None => syn::parse_quote!(::lab_link),
        }
    }
}

impl Field {
    /// Parses a field's `#[reactive(...)]` attributes.
    pub(crate) fn from_attrs(attrs: &[Attribute], errors: &mut Errors) -> Self {
        let mut field = Field::default();
        for_each_option(attrs, FIELD_OPTIONS, errors, |meta, errors| {
            let span = meta.path.span();
            if meta.path.is_ident(LEAF) {
                no_value(meta, LEAF)?;
                set_once(&mut field.leaf, LEAF, span, (), errors);
            } else if meta.path.is_ident(RANGE) {
                let value = expr_value(meta, RANGE, "0.0..=10.0")?;
                set_once(&mut field.range, RANGE, span, value, errors);
            } else if meta.path.is_ident(VALIDATE) {
                let value = validator(meta)?;
                set_once(&mut field.validate, VALIDATE, span, value, errors);
            } else if meta.path.is_ident(HISTORY) {
                no_value(meta, HISTORY)?;
                set_once(&mut field.history, HISTORY, span, (), errors);
            } else if field.meta.option(meta, REACTIVE, errors)? {
            } else {
                unknown(meta, "field", FIELD_OPTIONS, errors)?;
            }
            Ok(())
        });
        field
    }
}

/// Whether any of `attrs` is a `#[reactive(...)]` attribute; returns the
/// first.
pub(crate) fn find_reactive(attrs: &[Attribute]) -> Option<&Attribute> {
    attrs.iter().find(|attr| attr.path().is_ident(REACTIVE))
}

/// The span of the first of `names` in the `#[serde(...)]` attributes of
/// `attrs`, with the name as written; the span of the whole attribute if the
/// name cannot be found (serde accepts forms this search does not know).
///
/// serde_derive_internals tells *whether* an option is set but keeps no
/// span; an error must still point at the token the user wrote.
pub(crate) fn serde_token(
    attrs: &[Attribute],
    names: &[&'static str],
) -> Option<(&'static str, Span)> {
    let serde_attrs = attrs.iter().filter(|attr| attr.path().is_ident(SERDE));
    let mut fallback = None;
    for attr in serde_attrs {
        fallback.get_or_insert((names[0], attr.span()));
        let mut found = None;
        // A parse error only means a form we do not know: fall back.
        let _ = attr.parse_nested_meta(|meta| {
            if found.is_none() {
                found = names
                    .iter()
                    .find(|name| meta.path.is_ident(name))
                    .map(|name| (*name, meta.path.span()));
            }
            skip_value(&meta)
        });
        if found.is_some() {
            return found;
        }
    }
    fallback
}

/// Calls `option` for every option of every `#[reactive(...)]` attribute.
/// A syntax error ends its attribute (the rest cannot be parsed reliably)
/// but not the others.
fn for_each_option(
    attrs: &[Attribute],
    valid: &str,
    errors: &mut Errors,
    mut option: impl FnMut(&ParseNestedMeta<'_>, &mut Errors) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|attr| attr.path().is_ident(REACTIVE)) {
        if let syn::Meta::Path(path) = &attr.meta {
            errors.push(syn::Error::new(
                path.span(),
                format!("`#[reactive]` needs options in parentheses: expected {valid}"),
            ));
            continue;
        }
        let mut found = Errors::default();
        let result = attr.parse_nested_meta(|meta| option(&meta, &mut found));
        errors.extend(found);
        if let Err(err) = result {
            errors.push(err);
        }
    }
}

/// Stores an option, reporting a second occurrence.
fn set_once<T>(slot: &mut Option<Opt<T>>, name: &str, span: Span, value: T, errors: &mut Errors) {
    if slot.is_some() {
        errors.push(syn::Error::new(
            span,
            format!("duplicate `#[reactive({name})]` option: give it once"),
        ));
    } else {
        *slot = Some(Opt { span, value });
    }
}

/// Reports an unknown option, listing the valid ones, and skips its value
/// so that parsing can go on.
fn unknown(
    meta: &ParseNestedMeta<'_>,
    place: &str,
    valid: &str,
    errors: &mut Errors,
) -> syn::Result<()> {
    let path = &meta.path;
    let name = path
        .get_ident()
        .map_or_else(|| quote::quote!(#path).to_string(), ToString::to_string);
    errors.push(syn::Error::new(
        meta.path.span(),
        format!("unknown `#[reactive]` {place} option `{name}`: expected {valid}"),
    ));
    skip_value(meta)
}

/// Rejects `leaf = ...` and `leaf(...)`.
fn no_value(meta: &ParseNestedMeta<'_>, name: &str) -> syn::Result<()> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        return Err(meta.error(format!(
            "`#[reactive({name})]` takes no value: write `#[reactive({name})]`"
        )));
    }
    Ok(())
}

/// `name = <expr>`.
fn expr_value(meta: &ParseNestedMeta<'_>, name: &str, example: &str) -> syn::Result<Expr> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!(
            "`#[reactive({name})]` needs a value: write `#[reactive({name} = {example})]`"
        )));
    }
    meta.value()?.parse()
}

/// `validate = path` or, as serde writes function paths,
/// `validate = "path"`.
fn validator(meta: &ParseNestedMeta<'_>) -> syn::Result<Expr> {
    let expr = expr_value(meta, VALIDATE, "path::to::check")?;
    match &expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) => lit.parse(),
        _ => Ok(expr),
    }
}

/// `crate = "path"`.
fn crate_path(meta: &ParseNestedMeta<'_>) -> syn::Result<Path> {
    let message = "`#[reactive(crate)]` needs the path in a string: write \
                   `#[reactive(crate = \"::lab_link\")]`";
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(message));
    }
    let value = meta.value()?;
    let lit: LitStr = value
        .parse()
        .map_err(|err| syn::Error::new(err.span(), message))?;
    lit.parse_with(Path::parse_mod_style)
}

/// Skips an option's value (`= expr` or `(...)`), whatever it is.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}
