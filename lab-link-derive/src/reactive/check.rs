//! The shapes `#[derive(Reactive)]` refuses, each with why.
//!
//! Every check here protects the oracle invariant: after every commit the
//! mirror equals `serde_json::to_value(&state)`. A generated setter records
//! an operation at the path serde gives its field; wherever serde's output
//! does not have one stable member per field, that path would be wrong or
//! missing, and the replicas would silently drift. A `#[reactive(leaf)]`
//! type is exempt from the field-shape checks: it is serialised whole
//! through its own `Serialize`, so any serde shape is right.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::GenericParam;

use super::ast::{Data, Field, Input, Style};
use super::attr::{self, LEAF};
use super::Errors;

/// Reports every refused shape of `input`.
pub(crate) fn check(input: &Input<'_>, errors: &mut Errors) {
    lifetimes(input, errors);
    match &input.data {
        Data::Union(union) => {
            // serde cannot serialise a union, so it could never be
            // `Reactive` (which requires `Serialize`).
            errors.push(syn::Error::new(
                union.union_token.span,
                "`#[derive(Reactive)]` does not support unions: serde cannot serialise them; \
                 use a struct or an enum",
            ));
        }
        Data::Enum(data) => {
            // Fields of different variants live at the same paths, and a
            // variant change swaps the whole set of members: only a
            // replacement of the whole value is always right.
            if input.attrs.leaf.is_none() {
                errors.push(syn::Error::new(
                    data.enum_token.span,
                    "`#[derive(Reactive)]` on an enum needs `#[reactive(leaf)]`: a change of \
                     variant replaces the whole value; add `#[reactive(leaf)]` to the enum",
                ));
            }
            // Constraints on variant fields would need a path per variant;
            // a leaf is checked as a whole, by its holder.
            for variant in &data.variants {
                let fields = variant.fields.iter().map(|field| &field.attrs);
                for attrs in std::iter::once(&variant.attrs).chain(fields) {
                    if let Some(found) = attr::find_reactive(attrs) {
                        errors.push(syn::Error::new(
                            found.path().span(),
                            "`#[reactive(...)]` is not supported inside an enum: the enum is a \
                             leaf, replaced whole; put `validate = ...` on the field that holds \
                             the enum instead",
                        ));
                    }
                }
            }
        }
        Data::Struct(style, fields) => {
            if input.attrs.leaf.is_none() {
                not_leaf_struct(input, *style, errors);
                for field in fields {
                    field_shape(field, errors);
                }
            }
            for field in fields {
                constraint_on_skipped(field, errors);
                if let Some(range) = &field.attrs.range {
                    crate::meta::check_range(range, attr::REACTIVE, errors);
                }
            }
        }
    }
}

/// Lifetime parameters: a `LabSync` owns its state for the life of the
/// program and hands out views of it from any thread, so the state cannot
/// borrow anything.
fn lifetimes(input: &Input<'_>, errors: &mut Errors) {
    for param in &input.original.generics.params {
        if let GenericParam::Lifetime(lifetime) = param {
            errors.push(syn::Error::new(
                lifetime.lifetime.span(),
                "`#[derive(Reactive)]` does not support lifetime parameters: the state must own \
                 its data; use owned types such as `String` or `Vec<T>` instead of references",
            ));
        }
    }
}

/// A struct that is tracked field by field must serialise as an object
/// with one member per field.
fn not_leaf_struct(input: &Input<'_>, style: Style, errors: &mut Errors) {
    let struct_span = match &input.original.data {
        syn::Data::Struct(data) => data.struct_token.span,
        _ => input.original.ident.span(),
    };
    match style {
        Style::Named => {}
        // A tuple struct is a JSON array (or, with one field, the field
        // itself): there are no member names to give setters.
        Style::Tuple | Style::Newtype => errors.push(syn::Error::new(
            struct_span,
            "`#[derive(Reactive)]` on a tuple struct needs `#[reactive(leaf)]`: only named \
             fields get setters; add `#[reactive(leaf)]` to replace it whole, or name the fields",
        )),
        // Nothing to track; saying so beats generating an empty view.
        Style::Unit => errors.push(syn::Error::new(
            struct_span,
            "`#[derive(Reactive)]` on a unit struct needs `#[reactive(leaf)]`: it has no fields \
             to track; add `#[reactive(leaf)]`",
        )),
    }
    let attrs = &input.original.attrs;
    // The struct serialises as its only field: the field has no member of
    // its own, so a setter's path would not exist.
    if input.transparent {
        let (_, span) = attr::serde_token(attrs, &["transparent"]).unwrap_or(("", struct_span));
        errors.push(syn::Error::new(
            span,
            "`#[serde(transparent)]` needs `#[reactive(leaf)]` on a `Reactive` type: the \
             struct serialises as its only field, so field paths would not exist; add \
             `#[reactive(leaf)]`",
        ));
    }
    // The JSON form is another type's: field paths would point nowhere.
    if input.into {
        let (_, span) = attr::serde_token(attrs, &["into"]).unwrap_or(("", struct_span));
        errors.push(syn::Error::new(
            span,
            "`#[serde(into = \"...\")]` needs `#[reactive(leaf)]` on a `Reactive` type: the \
             JSON form is another type's, so field paths would be wrong; add `#[reactive(leaf)]`",
        ));
    }
}

/// serde field options that break "one stable member per field".
fn field_shape(field: &Field<'_>, errors: &mut Errors) {
    let serde = &field.serde;
    if serde.skipped {
        // Not serialised: none of the options below has any effect.
        return;
    }
    let attrs = &field.original.attrs;
    let span_of = |names: &[&'static str]| {
        attr::serde_token(attrs, names).unwrap_or((names[0], field.original.span()))
    };
    // The flattened struct's members land among this struct's members: a
    // setter of the field could not name one path for its value, and a
    // member could come from either struct.
    if serde.flatten {
        let (_, span) = span_of(&["flatten"]);
        errors.push(syn::Error::new(
            span,
            "`#[serde(flatten)]` is not supported on a `Reactive` field: its patch path would be \
             ambiguous; nest the struct as a named field instead",
        ));
    }
    // The member disappears when the predicate holds: a later `replace`
    // would aim at a member that does not exist, and a setter cannot know
    // when to record `add` or `remove` instead.
    if serde.skip_serializing_if {
        let (_, span) = span_of(&["skip_serializing_if"]);
        errors.push(syn::Error::new(
            span,
            "`#[serde(skip_serializing_if)]` is not supported on a `Reactive` field: the member \
             would come and go, so its path would not always exist; use an `Option<T>` field, \
             serialised as `null`",
        ));
    }
    // The setter records the value's own `Serialize` form, not what the
    // custom function writes: the mirror would differ from the state.
    if serde.serialize_with {
        let (name, span) = span_of(&["serialize_with", "with"]);
        errors.push(syn::Error::new(
            span,
            format!(
                "`#[serde({name})]` is not supported on a `Reactive` field: the setter records \
                 the value's own `Serialize` form, which would differ; wrap the value in a \
                 newtype with that `Serialize` impl and mark the field `#[reactive({LEAF})]`"
            ),
        ));
    }
}

/// A constraint on a field serde skips guards nothing the replicas see, and
/// its error path would name a member that does not exist: a mistake, most
/// likely a constraint left behind. Both parties of the conflict are shown.
fn constraint_on_skipped(field: &Field<'_>, errors: &mut Errors) {
    if !field.serde.skipped {
        return;
    }
    let attrs = &field.original.attrs;
    for (name, span) in field.attrs.constraints() {
        errors.push(syn::Error::new(
            span,
            format!(
                "`#[reactive({name})]` on a field that serde skips: the field is not in the \
                 JSON, so the constraint guards nothing; remove it, or stop skipping the field"
            ),
        ));
        let (skip, skip_span) = attr::serde_token(attrs, &["skip", "skip_serializing"])
            .unwrap_or(("skip", Span::call_site()));
        errors.push(syn::Error::new(
            skip_span,
            format!("serde skips the field here (`#[serde({skip})]`), so `{name}` has no effect"),
        ));
    }
    // Metadata describes the field in the schema, where a skipped field
    // does not appear.
    let history = field
        .attrs
        .history
        .as_ref()
        .map(|opt| (attr::HISTORY, opt.span));
    for (name, span) in field.attrs.meta.spans().into_iter().chain(history) {
        errors.push(syn::Error::new(
            span,
            format!(
                "`#[reactive({name})]` on a field that serde skips: the field is not in the JSON \
                 or its schema, so nothing shows it; remove it, or stop skipping the field"
            ),
        ));
    }
}
