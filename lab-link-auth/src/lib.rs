//! Access control for lab-link: the LAN passphrase model of the Python
//! reference `lab-link` 0.5.0 (`LanPassphraseAuth`), wire-compatible with
//! its clients, without the weaknesses listed in `AUTH.md` section 17.
//!
//! The crate is the policy, with no I/O of its own beyond the SQLite
//! store: `lab-link-server` asks it who a request is
//! ([`Auth::resolve`]), hands it the `{prefix}/auth/…` requests
//! ([`Auth::handle`]) and closes sockets whose credential it revokes
//! ([`Auth::watch`]).

mod config;
mod error;
mod http_api;
mod origin;
mod passphrase;
mod principal;
mod rate_limit;
mod registry;
mod secret;
mod store;
mod time;
mod trust;

pub use config::AuthConfig;
pub use error::AuthError;
pub use http_api::{AuthRequest, AuthResponse};
pub use origin::origin_allowed;
pub use passphrase::{generate_passphrase, validate_passphrase, MIN_PASSPHRASE_CHARS};
pub use principal::{AuthPrincipal, PrincipalKind};
pub use registry::{Auth, Invite, InviteEvent, InviteStatus, NewToken, Watch};
// The store's rows and handle are public for this crate's integration
// tests (which seed a store with a cheap hash), not API.
#[doc(hidden)]
pub use store::{SessionRow, Store, TokenRow};
pub use trust::{canonical_ip, decide_trust, rate_limit_key, Trust};
