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
/// Option: the exclusive group of the command.
pub(crate) const EXCLUSIVE: &str = "exclusive";
/// Option: how long the command may run before it is cancelled.
pub(crate) const TIMEOUT: &str = "timeout";
/// Option (a flag): the client's disconnect cancels the command.
pub(crate) const CANCEL_ON_DISCONNECT: &str = "cancel_on_disconnect";
/// Option (a flag): a command that finds its exclusive group taken waits
/// for its turn.
pub(crate) const QUEUE: &str = "queue";

/// The options accepted, for the unknown-option message.
const OPTIONS: &str = "`name = \"<name>\"`, `requires = [\"<capability>\", ...]`, \
                       `edits = \"/path/{param}/field\"`, `value = <param>`, \
                       `exclusive = \"<group>\"`, `queue`, `timeout = \"30s\"`, \
                       `cancel_on_disconnect` or `crate = \"<path>\"`";

/// The options of one `#[command(...)]`.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) name: Option<Opt<LitStr>>,
    pub(crate) requires: Option<Opt<Vec<LitStr>>>,
    pub(crate) krate: Option<Opt<Path>>,
    pub(crate) edits: Option<Opt<LitStr>>,
    pub(crate) value: Option<Opt<syn::Ident>>,
    pub(crate) exclusive: Option<Opt<LitStr>>,
    /// The timeout in milliseconds.
    pub(crate) timeout: Option<Opt<u64>>,
    pub(crate) cancel_on_disconnect: Option<Opt<()>>,
    pub(crate) queue: Option<Opt<()>>,
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
        } else if meta.path.is_ident(EXCLUSIVE) {
            let expr = value(meta, EXCLUSIVE, "= \"magnet\"")?;
            if let Some(group) = string(&expr, EXCLUSIVE, "\"magnet\"", errors) {
                if group.value().is_empty() {
                    errors.push(syn::Error::new(
                        group.span(),
                        format!(
                            "`#[{COMMAND}({EXCLUSIVE})]` needs a group name: write \
                             `#[{COMMAND}({EXCLUSIVE} = \"magnet\")]`"
                        ),
                    ));
                } else {
                    set_once(&mut self.exclusive, EXCLUSIVE, span, group, errors);
                }
            }
        } else if meta.path.is_ident(TIMEOUT) {
            let expr = value(meta, TIMEOUT, "= \"30s\"")?;
            if let Some(text) = string(&expr, TIMEOUT, "\"30s\"", errors) {
                match parse_duration(&text.value()) {
                    Some(millis) => set_once(&mut self.timeout, TIMEOUT, span, millis, errors),
                    None => errors.push(syn::Error::new(
                        text.span(),
                        format!(
                            "`#[{COMMAND}({TIMEOUT})]` needs a positive whole number and a \
                             unit `ms`, `s`, `m` or `h`: write `#[{COMMAND}({TIMEOUT} = \"30s\")]`"
                        ),
                    )),
                }
            }
        } else if meta.path.is_ident(CANCEL_ON_DISCONNECT) {
            flag(
                meta,
                CANCEL_ON_DISCONNECT,
                &mut self.cancel_on_disconnect,
                errors,
            )?;
        } else if meta.path.is_ident(QUEUE) {
            flag(meta, QUEUE, &mut self.queue, errors)?;
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

/// Reads the flag option `name` (no value) into `slot`.
fn flag(
    meta: &ParseNestedMeta<'_>,
    name: &str,
    slot: &mut Option<Opt<()>>,
    errors: &mut Errors,
) -> syn::Result<()> {
    if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        errors.push(meta.error(format!(
            "`#[{COMMAND}({name})]` is a flag and takes no value: write `#[{COMMAND}({name})]`"
        )));
        return skip_value(meta);
    }
    set_once(slot, name, meta.path.span(), (), errors);
    Ok(())
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

/// A duration as `<whole number><unit>`, unit `ms`, `s`, `m` or `h`, in
/// milliseconds; `None` when malformed or zero.
fn parse_duration(text: &str) -> Option<u64> {
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    number.checked_mul(scale).filter(|&millis| millis > 0)
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

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_are_a_whole_number_and_a_unit() {
        assert_eq!(parse_duration("30s"), Some(30_000));
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("2m"), Some(120_000));
        assert_eq!(parse_duration("1h"), Some(3_600_000));
        for bad in ["", "s", "30", "1.5s", "0s", "30 s", "-1s", "5d"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
