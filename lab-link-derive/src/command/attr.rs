//! Parsing of the `#[command(...)]` options.
//!
//! Policy (as in `reactive/attr.rs`): every malformed, unknown or repeated
//! option is reported into the shared [`Errors`] and parsing goes on with
//! the next one, so that a user sees all mistakes at once. Only a syntax
//! error that leaves the rest unreadable ends the list.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, LitStr, Path, Token};

use crate::errors::Errors;
use crate::opt::Opt;

/// The attribute's name, for messages.
pub(crate) const COMMAND: &str = "command";
/// Option: the wire name of the command.
pub(crate) const NAME: &str = "name";
/// Option: the capabilities a principal needs to run the command.
pub(crate) const REQUIRES: &str = "requires";
/// Option: the path of the `lab_link` crate.
pub(crate) const CRATE: &str = "crate";
/// Option: the state field the command sets, a path template.
pub(crate) const EDITS: &str = "edits";
/// Option: the param that carries the value `edits` sets.
pub(crate) const VALUE: &str = "value";

/// The options accepted, for the unknown-option message.
const OPTIONS: &str = "`name = \"<name>\"`, `requires = [\"<capability>\", ...]`, \
                       `edits = \"/path/{param}/field\"`, `value = <param>` or \
                       `crate = \"<path>\"`";

/// The options of one `#[command(...)]`.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) name: Option<Opt<LitStr>>,
    pub(crate) requires: Option<Opt<Vec<LitStr>>>,
    pub(crate) krate: Option<Opt<Path>>,
    pub(crate) edits: Option<Opt<LitStr>>,
    pub(crate) value: Option<Opt<syn::Ident>>,
}

impl Options {
    /// Parses the attribute's arguments (the tokens inside the
    /// parentheses of `#[command(...)]`).
    pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> Self {
        let mut options = Options::default();
        let mut found = Errors::default();
        let parser = syn::meta::parser(|meta| options.option(&meta, &mut found));
        let result = parser.parse2(args);
        errors.extend(found);
        if let Err(error) = result {
            errors.push(error);
        }
        options
    }

    /// The path of the `lab_link` crate in generated code.
    pub(crate) fn krate(&self) -> Path {
        match &self.krate {
            Some(opt) => opt.value.clone(),
            None => syn::parse_quote!(::lab_link),
        }
    }

    /// Reads one option.
    fn option(&mut self, meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<()> {
        let span = meta.path.span();
        if meta.path.is_ident(NAME) {
            let expr = value(meta, NAME, "= \"set_channel\"")?;
            if let Some(name) = string(&expr, NAME, "\"set_channel\"", errors) {
                set_once(&mut self.name, NAME, span, name, errors);
            }
        } else if meta.path.is_ident(REQUIRES) {
            let expr = value(meta, REQUIRES, "= [\"control\"]")?;
            if let Some(requires) = strings(&expr, errors) {
                set_once(&mut self.requires, REQUIRES, span, requires, errors);
            }
        } else if meta.path.is_ident(EDITS) {
            let expr = value(meta, EDITS, "= \"/channels/{channel}/bias_voltage\"")?;
            if let Some(path) = string(&expr, EDITS, "\"/channels/{channel}/bias_voltage\"", errors)
            {
                set_once(&mut self.edits, EDITS, span, path, errors);
            }
        } else if meta.path.is_ident(VALUE) {
            let expr = value(meta, VALUE, "= value")?;
            if let Some(param) = param_name(&expr, errors) {
                set_once(&mut self.value, VALUE, span, param, errors);
            }
        } else if meta.path.is_ident(CRATE) {
            let expr = value(meta, CRATE, "= \"::lab_link\"")?;
            if let Some(lit) = string(&expr, CRATE, "\"::lab_link\"", errors) {
                match lit.parse_with(Path::parse_mod_style) {
                    Ok(path) => set_once(&mut self.krate, CRATE, span, path, errors),
                    Err(error) => errors.push(error),
                }
            }
        } else {
            let path = &meta.path;
            let name = path
                .get_ident()
                .map_or_else(|| quote::quote!(#path).to_string(), ToString::to_string);
            errors.push(syn::Error::new(
                span,
                format!("unknown `#[{COMMAND}]` option `{name}`: expected {OPTIONS}"),
            ));
            skip_value(meta)?;
        }
        Ok(())
    }
}

/// Stores an option, reporting a second occurrence at both places.
fn set_once<T>(slot: &mut Option<Opt<T>>, name: &str, span: Span, value: T, errors: &mut Errors) {
    match slot {
        Some(first) => {
            errors.push(syn::Error::new(
                span,
                format!("duplicate `#[{COMMAND}({name})]` option: give it once"),
            ));
            errors.push(syn::Error::new(
                first.span,
                format!("`{name}` is first given here"),
            ));
        }
        None => *slot = Some(Opt { span, value }),
    }
}

/// `name = <expr>`.
fn value(meta: &ParseNestedMeta<'_>, name: &str, example: &str) -> syn::Result<Expr> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!(
            "`#[{COMMAND}({name})]` needs a value: write `#[{COMMAND}({name} {example})]`"
        )));
    }
    meta.value()?.parse()
}

/// A string literal, or an error at the expression.
fn string(expr: &Expr, name: &str, example: &str, errors: &mut Errors) -> Option<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Some(lit.clone()),
        _ => {
            errors.push(syn::Error::new(
                expr.span(),
                format!(
                    "`#[{COMMAND}({name})]` needs a string: write \
                     `#[{COMMAND}({name} = {example})]`"
                ),
            ));
            None
        }
    }
}

/// A param's name, as a plain identifier or a string.
fn param_name(expr: &Expr, errors: &mut Errors) -> Option<syn::Ident> {
    match expr {
        Expr::Path(path) if path.qself.is_none() => {
            if let Some(ident) = path.path.get_ident() {
                return Some(ident.clone());
            }
        }
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => {
            if let Ok(ident) = lit.parse::<syn::Ident>() {
                return Some(ident);
            }
        }
        _ => {}
    }
    errors.push(syn::Error::new(
        expr.span(),
        format!(
            "`#[{COMMAND}({VALUE})]` names the param that carries the new value: write \
             `#[{COMMAND}({VALUE} = value)]`"
        ),
    ));
    None
}

/// A list of string literals, or errors at what is not one.
fn strings(expr: &Expr, errors: &mut Errors) -> Option<Vec<LitStr>> {
    let message = format!(
        "`#[{COMMAND}({REQUIRES})]` needs a list of capability names: write \
         `#[{COMMAND}({REQUIRES} = [\"control\", \"manage_access\"])]`"
    );
    let Expr::Array(array) = expr else {
        errors.push(syn::Error::new(expr.span(), message));
        return None;
    };
    let mut strings = Vec::new();
    let mut valid = true;
    for elem in &array.elems {
        match elem {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) => strings.push(lit.clone()),
            _ => {
                errors.push(syn::Error::new(elem.span(), &message));
                valid = false;
            }
        }
    }
    valid.then_some(strings)
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
