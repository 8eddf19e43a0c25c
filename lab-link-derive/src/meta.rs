//! The options that only describe a value in the schema (`unit`,
//! `precision`, `title`, `group`, `order`, `read_only`), shared by
//! `#[reactive(...)]` fields and `#[param(...)]` command parameters: their
//! parsing, the range checks both macros run, and the code that writes
//! them into a JSON Schema.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Expr, LitStr, Token, Type};

use crate::errors::Errors;
use crate::opt::Opt;

/// Option: the engineering unit of a number, for the schema.
pub(crate) const UNIT: &str = "unit";
/// Option: the decimals a UI shows, for the schema.
pub(crate) const PRECISION: &str = "precision";
/// Option: the display label, for the schema.
pub(crate) const TITLE: &str = "title";
/// Option: the panel a UI shows the field in, for the schema.
pub(crate) const GROUP: &str = "group";
/// Option: the position within its group, for the schema.
pub(crate) const ORDER: &str = "order";
/// Option: only the server changes the value, for the schema.
pub(crate) const READ_ONLY: &str = "read_only";

/// The options that only describe a value in the schema, shared by
/// `#[reactive(...)]` fields and `#[param(...)]` command parameters.
#[derive(Default)]
pub(crate) struct Meta {
    pub(crate) unit: Option<Opt<LitStr>>,
    pub(crate) precision: Option<Opt<syn::LitInt>>,
    pub(crate) title: Option<Opt<LitStr>>,
    pub(crate) group: Option<Opt<LitStr>>,
    pub(crate) order: Option<Opt<syn::LitInt>>,
    pub(crate) read_only: Option<Opt<()>>,
}

impl Meta {
    /// Reads `meta` if it is one of the schema options of `attribute`;
    /// `Ok(false)` if it is another option.
    pub(crate) fn option(
        &mut self,
        meta: &ParseNestedMeta<'_>,
        attribute: &str,
        errors: &mut Errors,
    ) -> syn::Result<bool> {
        let span = meta.path.span();
        let duplicate =
            |name: &str| format!("duplicate `#[{attribute}({name})]` option: give it once");
        if meta.path.is_ident(UNIT) {
            let value = lit_value(meta, attribute, UNIT, "\"V\"")?;
            store(&mut self.unit, span, value, duplicate(UNIT), errors);
        } else if meta.path.is_ident(PRECISION) {
            let value: syn::LitInt = lit_value(meta, attribute, PRECISION, "3")?;
            value.base10_parse::<u32>().map_err(|_| {
                syn::Error::new(
                    value.span(),
                    format!(
                        "`#[{attribute}({PRECISION})]` is a number of decimals, 0 or more: \
                         write `#[{attribute}({PRECISION} = 3)]`"
                    ),
                )
            })?;
            store(
                &mut self.precision,
                span,
                value,
                duplicate(PRECISION),
                errors,
            );
        } else if meta.path.is_ident(TITLE) {
            let value = lit_value(meta, attribute, TITLE, "\"Bias voltage\"")?;
            store(&mut self.title, span, value, duplicate(TITLE), errors);
        } else if meta.path.is_ident(GROUP) {
            let value = lit_value(meta, attribute, GROUP, "\"Bias\"")?;
            store(&mut self.group, span, value, duplicate(GROUP), errors);
        } else if meta.path.is_ident(ORDER) {
            let value = signed_int(meta, attribute)?;
            store(&mut self.order, span, value, duplicate(ORDER), errors);
        } else if meta.path.is_ident(READ_ONLY) {
            if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
                return Err(meta.error(format!(
                    "`#[{attribute}({READ_ONLY})]` takes no value: write `#[{attribute}({READ_ONLY})]`"
                )));
            }
            store(&mut self.read_only, span, (), duplicate(READ_ONLY), errors);
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// The spans of the options that only describe a value, with their
    /// names.
    pub(crate) fn spans(&self) -> Vec<(&'static str, Span)> {
        let mut spans = Vec::new();
        let mut push = |name, span: Option<Span>| spans.extend(span.map(|span| (name, span)));
        push(UNIT, self.unit.as_ref().map(|opt| opt.span));
        push(PRECISION, self.precision.as_ref().map(|opt| opt.span));
        push(TITLE, self.title.as_ref().map(|opt| opt.span));
        push(GROUP, self.group.as_ref().map(|opt| opt.span));
        push(ORDER, self.order.as_ref().map(|opt| opt.span));
        push(READ_ONLY, self.read_only.as_ref().map(|opt| opt.span));
        spans
    }
}

/// Stores an option, reporting a second occurrence.
fn store<T>(
    slot: &mut Option<Opt<T>>,
    span: Span,
    value: T,
    duplicate: String,
    errors: &mut Errors,
) {
    if slot.is_some() {
        errors.push(syn::Error::new(span, duplicate));
    } else {
        *slot = Some(Opt { span, value });
    }
}

/// `name = <literal>` of the literal type `L`.
fn lit_value<L: syn::parse::Parse>(
    meta: &ParseNestedMeta<'_>,
    attribute: &str,
    name: &str,
    example: &str,
) -> syn::Result<L> {
    let kind = if example.starts_with('"') {
        "a string"
    } else {
        "a number"
    };
    let message = format!(
        "`#[{attribute}({name})]` needs {kind}: write `#[{attribute}({name} = {example})]`"
    );
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(message));
    }
    meta.value()?
        .parse()
        .map_err(|err| syn::Error::new(err.span(), message))
}

/// `order = <integer>`, a minus sign allowed.
fn signed_int(meta: &ParseNestedMeta<'_>, attribute: &str) -> syn::Result<syn::LitInt> {
    let message =
        format!("`#[{attribute}({ORDER})]` needs an integer: write `#[{attribute}({ORDER} = 1)]`");
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(message));
    }
    let expr: Expr = meta.value()?.parse()?;
    let literal = match &expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(lit),
            ..
        }) => Some(lit.clone()),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr: inner,
            ..
        }) => match &**inner {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(lit),
                ..
            }) => Some(syn::LitInt::new(
                &format!("-{}", lit.base10_digits()),
                expr.span(),
            )),
            _ => None,
        },
        _ => None,
    };
    let literal = literal.ok_or_else(|| syn::Error::new(expr.span(), &message))?;
    literal
        .base10_parse::<i64>()
        .map_err(|_| syn::Error::new(expr.span(), message))?;
    Ok(literal)
}

impl Meta {
    /// The statements that write these options, and the bounds of `range`,
    /// into `schema` (a `&mut serde_json::Value` named by `schema`), through
    /// the support functions at `support`. `ty`, when given, is the item
    /// type `range` must have.
    pub(crate) fn keywords(
        &self,
        range: Option<&Opt<Expr>>,
        ty: Option<&Type>,
        support: &TokenStream,
        schema: &syn::Ident,
    ) -> TokenStream {
        let mut out = TokenStream::new();
        let mut string = |name: &str, opt: &Option<Opt<LitStr>>| {
            if let Some(opt) = opt {
                let value = &opt.value;
                out.extend(quote!(#support::keyword(#schema, #name, #value);));
            }
        };
        string(TITLE_KEYWORD, &self.title);
        string(UNIT, &self.unit);
        string(GROUP, &self.group);
        let mut int = |name: &str, opt: &Option<Opt<syn::LitInt>>, suffix: &str| {
            if let Some(opt) = opt {
                let value = syn::LitInt::new(
                    &format!("{}{suffix}", opt.value.base10_digits()),
                    opt.value.span(),
                );
                out.extend(quote!(#support::keyword(#schema, #name, #value);));
            }
        };
        int(PRECISION, &self.precision, "_u32");
        int(ORDER, &self.order, "_i64");
        if self.read_only.is_some() {
            out.extend(quote!(#support::keyword(#schema, #READ_ONLY_KEYWORD, true);));
        }
        if let Some(range) = range {
            let expr = &range.value;
            // Where the setter already checks the range against the type
            // (a `#[reactive]` field), the item type is inferred, so that a
            // range of the wrong type is reported once; elsewhere it is
            // checked here.
            let item = match ty {
                Some(ty) => quote!(#ty),
                None => quote!(_),
            };
            out.extend(quote_spanned! {expr.span()=>
                #support::range_keywords::<#item, _>(#schema, #expr);
            });
        }
        out
    }

    /// The compile-time check that `unit` and `precision` describe a
    /// number: a call whose bound fails when `ty` is not numeric. A `range`
    /// needs none: its bounds must already be of the field's type, so
    /// numeric bounds on a field that is not a number are refused there,
    /// once.
    pub(crate) fn numeric_asserts(&self, ty: &Type, support: &TokenStream) -> TokenStream {
        let spans = [
            self.unit.as_ref().map(|opt| opt.span),
            self.precision.as_ref().map(|opt| opt.span),
        ];
        // One assertion is enough: both options name the same type.
        match spans.into_iter().flatten().next() {
            Some(span) => quote_spanned!(span=> #support::assert_numeric::<#ty>();),
            None => TokenStream::new(),
        }
    }
}

/// JSON Schema's keyword for the display label.
const TITLE_KEYWORD: &str = "title";
/// JSON Schema's keyword for a value only the server changes.
const READ_ONLY_KEYWORD: &str = "readOnly";

/// Reports a range written with literal bounds that holds no value
/// (`10.0..=-10.0`, `5..5`): the setter would refuse every value, which is
/// certainly a mistake. Bounds that are not literals are not checked.
pub(crate) fn check_range(range: &Opt<Expr>, attribute: &str, errors: &mut Errors) {
    let Expr::Range(expr) = strip(&range.value) else {
        return;
    };
    let (Some(start), Some(end)) = (
        expr.start.as_deref().and_then(number),
        expr.end.as_deref().and_then(number),
    ) else {
        return;
    };
    let closed = matches!(expr.limits, syn::RangeLimits::Closed(_));
    let message = if start > end {
        format!(
            "`#[{attribute}(range = ...)]` holds no value: its start {start} is above its end \
             {end}; write the lower bound first"
        )
    } else if start == end && !closed {
        format!(
            "`#[{attribute}(range = ...)]` holds no value: a half-open range `a..b` needs `a < b`; \
             write `{start}..={end}` for the one value"
        )
    } else {
        return;
    };
    errors.push(syn::Error::new_spanned(&range.value, message));
}

/// `expr` without parentheses and invisible groups.
fn strip(mut expr: &Expr) -> &Expr {
    loop {
        expr = match expr {
            Expr::Paren(paren) => &paren.expr,
            Expr::Group(group) => &group.expr,
            _ => return expr,
        };
    }
}

/// The value of a numeric literal, possibly negated.
fn number(expr: &Expr) -> Option<f64> {
    match strip(expr) {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(lit),
            ..
        }) => lit.base10_digits().parse().ok(),
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(lit),
            ..
        }) => lit.base10_digits().parse().ok(),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => number(expr).map(|value| -value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::check_range;
    use crate::errors::Errors;
    use crate::opt::Opt;

    #[track_caller]
    fn check(range: &str, holds: bool) {
        let value: syn::Expr = syn::parse_str(range).unwrap();
        let mut errors = Errors::default();
        let span = proc_macro2::Span::call_site();
        check_range(&Opt { span, value }, "reactive", &mut errors);
        assert_eq!(errors.finish().is_ok(), holds, "{range}");
    }

    #[test]
    fn ranges_that_hold_no_value_are_refused() {
        check("-10.0..=10.0", true);
        check("1..=1", true);
        check("..5", true);
        check("MIN..MAX", true);
        check("10.0..=-10.0", false);
        check("(5)..5", false);
        check("-1..-2", false);
        check("0.5..=0.25", false);
    }
}
