//! The derive's view of its input: the struct's fields with the JSON names
//! serde gives them and our options, keeping the original tokens for spans.
//!
//! serde's attributes are read through `serde_derive_internals`, the same
//! code serde's own derive runs, so that `rename`, `rename_all` and `skip`
//! produce exactly the paths `serde_json::to_value` produces.

use serde_derive_internals::{ast as serde_ast, Ctxt, Derive};
use syn::{DeriveInput, Member};

use super::attr;
use super::Errors;

/// A `#[derive(Reactive)]` input.
pub(crate) struct Input<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) attrs: attr::Container,
    /// `#[serde(transparent)]`: the struct serialises as its one field.
    pub(crate) transparent: bool,
    /// `#[serde(into = "...")]`: the struct serialises as another type.
    pub(crate) into: bool,
    pub(crate) data: Data<'a>,
}

/// What kind of type the input is.
pub(crate) enum Data<'a> {
    Struct(Style, Vec<Field<'a>>),
    Enum(&'a syn::DataEnum),
    Union(&'a syn::DataUnion),
}

/// The shape of a struct, as serde sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// Named fields: a JSON object.
    Named,
    /// Several unnamed fields: a JSON array.
    Tuple,
    /// One unnamed field: serialised as that field.
    Newtype,
    /// No fields.
    Unit,
}

/// A field of a struct.
pub(crate) struct Field<'a> {
    pub(crate) original: &'a syn::Field,
    pub(crate) member: Member,
    pub(crate) attrs: attr::Field,
    pub(crate) serde: SerdeField,
}

/// What serde does with a field when serialising.
pub(crate) struct SerdeField {
    /// The JSON member name, after `rename` and `rename_all`.
    pub(crate) name: String,
    /// `skip` or `skip_serializing`: not in the JSON.
    pub(crate) skipped: bool,
    pub(crate) flatten: bool,
    pub(crate) skip_serializing_if: bool,
    /// `serialize_with` or `with`.
    pub(crate) serialize_with: bool,
}

impl<'a> Input<'a> {
    /// Reads `input`, reporting malformed `#[reactive]` options into
    /// `errors`. `None` when serde itself rejects the input: serde's derive
    /// reports that, and a second report of the same mistake would only
    /// add noise.
    pub(crate) fn from_syn(input: &'a DeriveInput, errors: &mut Errors) -> Option<Self> {
        let attrs = attr::Container::from_attrs(&input.attrs, errors);
        let (data, transparent, into) = match &input.data {
            // serde rejects unions; we say so ourselves in check.rs, since
            // without `Serialize` nothing else would.
            syn::Data::Union(union) => (Data::Union(union), false, false),
            _ => {
                let serde = SerdeInput::read(input)?;
                let data = match &input.data {
                    syn::Data::Enum(data) => Data::Enum(data),
                    _ => {
                        let fields = serde
                            .fields
                            .into_iter()
                            .map(|(original, member, serde)| Field {
                                original,
                                member,
                                attrs: attr::Field::from_attrs(&original.attrs, errors),
                                serde,
                            })
                            .collect();
                        Data::Struct(serde.style, fields)
                    }
                };
                (data, serde.transparent, serde.into)
            }
        };
        Some(Input {
            original: input,
            attrs,
            transparent,
            into,
            data,
        })
    }

    /// Whether the whole type is `#[reactive(leaf)]`.
    pub(crate) fn is_leaf(&self) -> bool {
        self.attrs.leaf.is_some()
    }
}

/// What `serde_derive_internals` says about a struct or an enum.
struct SerdeInput<'a> {
    style: Style,
    fields: Vec<(&'a syn::Field, Member, SerdeField)>,
    transparent: bool,
    into: bool,
}

impl<'a> SerdeInput<'a> {
    fn read(input: &'a DeriveInput) -> Option<Self> {
        let ctxt = Ctxt::new();
        let container = serde_ast::Container::from_ast(&ctxt, input, Derive::Serialize);
        // `Ctxt` must be checked before it is dropped. Its errors are
        // serde's to report (see `Input::from_syn`).
        let container = match (ctxt.check(), container) {
            (Ok(()), Some(container)) => container,
            _ => return None,
        };
        let (style, fields) = match container.data {
            serde_ast::Data::Struct(style, fields) => (style, fields),
            serde_ast::Data::Enum(_) => (serde_ast::Style::Unit, Vec::new()),
        };
        let style = match style {
            serde_ast::Style::Struct => Style::Named,
            serde_ast::Style::Tuple => Style::Tuple,
            serde_ast::Style::Newtype => Style::Newtype,
            serde_ast::Style::Unit => Style::Unit,
        };
        let fields = fields
            .into_iter()
            .map(|field| {
                let serde = SerdeField {
                    name: field.attrs.name().serialize_name().to_owned(),
                    skipped: field.attrs.skip_serializing(),
                    flatten: field.attrs.flatten(),
                    skip_serializing_if: field.attrs.skip_serializing_if().is_some(),
                    serialize_with: field.attrs.serialize_with().is_some(),
                };
                (field.original, field.member, serde)
            })
            .collect();
        Some(SerdeInput {
            style,
            fields,
            transparent: container.attrs.transparent(),
            into: container.attrs.type_into().is_some(),
        })
    }
}
