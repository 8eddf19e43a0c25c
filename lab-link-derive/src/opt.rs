//! One macro option as written, shared by the attribute parsers of both
//! macros.

use proc_macro2::Span;

/// One option as written: the span of its name, for errors, and its value.
pub(crate) struct Opt<T> {
    pub(crate) span: Span,
    pub(crate) value: T,
}
