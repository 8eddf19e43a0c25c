//! The error collector every macro's pipeline reports into, so that a user
//! sees all mistakes at once rather than one per build.

/// The errors found so far, reported together at the end (serde's `Ctxt`,
/// without the panic on drop).
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    /// Adds an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Adds every error of `other`.
    pub(crate) fn extend(&mut self, other: Errors) {
        if let Some(error) = other.combined {
            self.push(error);
        }
    }

    /// `Ok` when nothing was reported, otherwise all the errors as one.
    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.combined {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
