//! `AuthConfig`: every option of access control, with the 0.5.0 defaults.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The options of access control (AUTH.md section 2), built with chained
/// setters. Defaults follow lab-link 0.5.0 except where AUTH.md section 17
/// says to do better: loopback clients get `control` and `manage_access`
/// (not `*`), and no proxy is trusted unless named.
///
/// ```
/// use std::time::Duration;
/// use lab_link_auth::AuthConfig;
///
/// let config = AuthConfig::new()
///     .store("auth.sqlite")
///     .allowed_origin("https://ui.example")
///     .session_ttl(Duration::from_secs(3600));
/// assert_eq!(config.cookie_name_str(), "lab_link_session");
/// ```
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub(crate) passphrase: Option<String>,
    pub(crate) store: Option<PathBuf>,
    pub(crate) cookie_name: String,
    pub(crate) session_ttl: Duration,
    pub(crate) remembered_session_ttl: Duration,
    pub(crate) invite_ttl: Duration,
    pub(crate) trust_loopback: bool,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) trusted_proxies: Vec<IpAddr>,
    pub(crate) max_failures: u32,
    pub(crate) failure_window: Duration,
    pub(crate) passphrase_capabilities: BTreeSet<String>,
    pub(crate) invite_capabilities: BTreeSet<String>,
    pub(crate) local_capabilities: BTreeSet<String>,
    pub(crate) revalidate_interval: Duration,
    pub(crate) hash_concurrency: usize,
    pub(crate) body_limit: usize,
    pub(crate) require_current_passphrase: bool,
}

fn caps(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            passphrase: None,
            store: None,
            cookie_name: "lab_link_session".to_owned(),
            session_ttl: Duration::from_secs(12 * 3600),
            remembered_session_ttl: Duration::from_secs(30 * 24 * 3600),
            invite_ttl: Duration::from_secs(300),
            trust_loopback: true,
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            max_failures: 5,
            failure_window: Duration::from_secs(60),
            passphrase_capabilities: caps(&["control", "manage_access"]),
            invite_capabilities: caps(&["control"]),
            local_capabilities: caps(&["control", "manage_access"]),
            revalidate_interval: Duration::from_secs(30),
            hash_concurrency: 2,
            body_limit: 4096,
            require_current_passphrase: true,
        }
    }
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        #[must_use]
        pub fn $name(mut self, value: $ty) -> Self {
            self.$name = value;
            self
        }
    };
}

impl AuthConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bootstrap passphrase (AUTH.md 12.4).
    #[must_use]
    pub fn passphrase(mut self, passphrase: impl Into<String>) -> Self {
        self.passphrase = Some(passphrase.into());
        self
    }

    /// The SQLite store: passphrase hash, remembered sessions, API tokens.
    #[must_use]
    pub fn store(mut self, path: impl Into<PathBuf>) -> Self {
        self.store = Some(path.into());
        self
    }

    /// The session cookie's name (default `lab_link_session`).
    #[must_use]
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// The session cookie's name.
    pub fn cookie_name_str(&self) -> &str {
        &self.cookie_name
    }

    /// The reverse proxies whose forwarding headers are believed.
    pub fn trusted_proxy_addrs(&self) -> &[IpAddr] {
        &self.trusted_proxies
    }

    /// How often an open socket's credential is re-checked.
    pub fn revalidation_interval(&self) -> Duration {
        self.revalidate_interval
    }

    /// The largest request body of an `/auth/…` endpoint, in bytes.
    pub fn body_limit_bytes(&self) -> usize {
        self.body_limit
    }

    /// Adds an Origin accepted verbatim (a separately hosted UI).
    #[must_use]
    pub fn allowed_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origins.push(origin.into());
        self
    }

    /// Adds a reverse proxy whose `X-Forwarded-For` is believed.
    #[must_use]
    pub fn trusted_proxy(mut self, proxy: IpAddr) -> Self {
        self.trusted_proxies.push(proxy);
        self
    }

    /// The capabilities of the loopback principal (default `control` and
    /// `manage_access`).
    #[must_use]
    pub fn local_capabilities<I, C>(mut self, capabilities: I) -> Self
    where
        I: IntoIterator<Item = C>,
        C: Into<String>,
    {
        self.local_capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    /// The capabilities of sessions from login and setup (default
    /// `control`, `manage_access`).
    #[must_use]
    pub fn passphrase_capabilities<I, C>(mut self, capabilities: I) -> Self
    where
        I: IntoIterator<Item = C>,
        C: Into<String>,
    {
        self.passphrase_capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    /// The capabilities of sessions from invitations (default `control`).
    #[must_use]
    pub fn invite_capabilities<I, C>(mut self, capabilities: I) -> Self
    where
        I: IntoIterator<Item = C>,
        C: Into<String>,
    {
        self.invite_capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    setter!(
        /// Lifetime of a normal session (default 12 h).
        session_ttl: std::time::Duration
    );
    setter!(
        /// Lifetime of a remembered session (default 30 days).
        remembered_session_ttl: std::time::Duration
    );
    setter!(
        /// Default lifetime of an invitation (default 5 minutes).
        invite_ttl: std::time::Duration
    );
    setter!(
        /// Whether loopback clients are trusted without a credential
        /// (default true; see AUTH.md section 4 for when a client counts).
        trust_loopback: bool
    );
    setter!(
        /// Failed logins per client within the window before 429 (default 5).
        max_failures: u32
    );
    setter!(
        /// The rate limit's sliding window (default 60 s).
        failure_window: std::time::Duration
    );
    setter!(
        /// How often an open socket's credential is re-checked (default 30 s).
        revalidate_interval: std::time::Duration
    );
    setter!(
        /// How many Argon2 hashes may run at once (default 2).
        hash_concurrency: usize
    );
    setter!(
        /// Whether `POST {prefix}/auth/passphrase` needs the current
        /// passphrase as `currentPassphrase` (default true; `local` never
        /// needs it). Turn it off for a lab-link 0.5.0 client that rotates
        /// the passphrase: it does not send the field.
        ///
        /// ```
        /// use lab_link_auth::AuthConfig;
        ///
        /// let level_1_rotation = AuthConfig::new().require_current_passphrase(false);
        /// # let _ = level_1_rotation;
        /// ```
        require_current_passphrase: bool
    );
}
