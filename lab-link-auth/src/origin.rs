//! The `Origin` rule of AUTH.md section 5: the defence against drive-by
//! pages and DNS rebinding on the WebSocket handshake and the
//! state-changing requests.
//!
//! It is 0.5.0's rule, with one deliberate difference (AUTH.md W10): an
//! allow-list entry also matches an Origin that differs only in the case
//! of its scheme or host, or in spelling out the scheme's default port
//! (`https://Instrument.example` = `https://instrument.example:443`).
//! Everything else is compared as 0.5.0 does; in particular the scheme is
//! not compared on the same-origin path, and `localhost` ≠ `127.0.0.1`.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether a request with this `Origin` and `Host` passes (AUTH.md 5).
///
/// 1. No `Origin`, or an empty one, passes (scripts and curl send none).
/// 2. Trailing `/` are stripped; an Origin on `allowed` passes, whatever
///    the `Host` (entries compared with trailing `/` stripped, and also
///    normalised: scheme and host lowercase, default port explicit).
/// 3. Otherwise the Origin's `host[:port]` must equal `Host`, ignoring
///    case, literally (`h` ≠ `h:80`), and the scheme is not compared;
/// 4. and its host must be `localhost` (any case) or an IP literal (v4,
///    or v6 in brackets). A named host is rejected: DNS rebinding.
///
/// `Origin: null` is rejected.
///
/// ```
/// use lab_link_auth::origin_allowed;
///
/// let allowed = vec!["https://instrument.example/".to_owned()];
/// // Same origin by IP: accepted, scheme not compared.
/// assert!(origin_allowed(Some("https://127.0.0.1:8000"), Some("127.0.0.1:8000"), &allowed));
/// // A rebinding attacker's name, even though it matches Host: rejected.
/// assert!(!origin_allowed(Some("http://evil.example:8000"), Some("evil.example:8000"), &allowed));
/// // Allow-listed: accepted whatever the Host.
/// assert!(origin_allowed(Some("https://INSTRUMENT.example:443"), Some("10.0.0.5"), &allowed));
/// // No Origin (a script): accepted.
/// assert!(origin_allowed(None, Some("127.0.0.1:8000"), &allowed));
/// ```
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin.filter(|origin| !origin.is_empty()) else {
        return true;
    };
    let origin = origin.trim_end_matches('/');
    if on_allow_list(origin, allowed) {
        return true;
    }
    let netloc = netloc(origin);
    if !netloc.eq_ignore_ascii_case(host.unwrap_or("")) {
        return false;
    }
    match hostname(netloc) {
        Some(Hostname::Bracketed(inner)) => inner.parse::<Ipv6Addr>().is_ok(),
        Some(Hostname::Plain(name)) => {
            name.eq_ignore_ascii_case("localhost") || name.parse::<Ipv4Addr>().is_ok()
        }
        None => false,
    }
}

/// Step 2: exact match (0.5.0), or normalised match (W10).
fn on_allow_list(origin: &str, allowed: &[String]) -> bool {
    let normalised = normalise(origin);
    allowed.iter().any(|entry| {
        let entry = entry.trim_end_matches('/');
        entry == origin || (normalised.is_some() && normalise(entry) == normalised)
    })
}

/// `scheme://host[:port]` as (lowercase scheme, lowercase host, effective
/// port), or `None` for anything else (a path, user info, an unknown
/// scheme without a port, a bad port), which then only matches exactly.
fn normalise(origin: &str) -> Option<(String, String, u16)> {
    let (scheme, authority) = origin.split_once("://")?;
    if scheme.is_empty() || authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let (host, port) = match hostname(authority)? {
        Hostname::Bracketed(inner) => {
            let rest = &authority[inner.len() + 2..];
            (format!("[{}]", inner.to_ascii_lowercase()), rest)
        }
        Hostname::Plain(name) => (name.to_ascii_lowercase(), &authority[name.len()..]),
    };
    if host.is_empty() || host == "[]" {
        return None;
    }
    let port = match port.strip_prefix(':') {
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse::<u16>().ok()?
        }
        Some(_) => return None,
        None if port.is_empty() => default_port(&scheme)?,
        None => return None,
    };
    Some((scheme, host, port))
}

/// The default port of the schemes an Origin can carry.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Python's `urlsplit(origin).netloc`: what follows `scheme://` up to the
/// first `/`, `?` or `#`; empty when there is no `//` (`null`).
fn netloc(origin: &str) -> &str {
    let after_scheme = match origin.split_once(':') {
        Some((scheme, rest)) if is_scheme(scheme) => rest,
        _ => origin,
    };
    let Some(authority) = after_scheme.strip_prefix("//") else {
        return "";
    };
    let end = authority.find(['/', '?', '#']).unwrap_or(authority.len());
    &authority[..end]
}

/// `urlsplit`'s scheme rule: a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme(scheme: &str) -> bool {
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The host part of a netloc, as written.
enum Hostname<'a> {
    /// `[…]`, without the brackets.
    Bracketed(&'a str),
    /// Up to the first `:`.
    Plain(&'a str),
}

/// The host of `[user@]host[:port]`, or `None` for an unbalanced bracket.
fn hostname(netloc: &str) -> Option<Hostname<'_>> {
    let host_port = netloc.rsplit_once('@').map_or(netloc, |(_, rest)| rest);
    if let Some(bracketed) = host_port.strip_prefix('[') {
        let (inner, rest) = bracketed.split_once(']')?;
        if !(rest.is_empty() || rest.starts_with(':')) {
            return None;
        }
        return Some(Hostname::Bracketed(inner));
    }
    Some(Hostname::Plain(
        host_port
            .split_once(':')
            .map_or(host_port, |(host, _)| host),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u16 = 8000;

    #[track_caller]
    fn check(origin: Option<&str>, host: Option<&str>, expect: bool) {
        let allowed = vec!["https://instrument.example/".to_owned()];
        assert_eq!(
            origin_allowed(origin, host, &allowed),
            expect,
            "Origin {origin:?}, Host {host:?}"
        );
    }

    /// Every row of the AUTH.md section 5 table (login column), with the
    /// server's `allowed_origins={"https://instrument.example/"}`.
    #[test]
    fn section_5_table() {
        let h = format!("127.0.0.1:{P}");
        let host = Some(h.as_str());
        check(None, host, true);
        check(Some(""), host, true);
        check(Some(&format!("http://127.0.0.1:{P}")), host, true);
        check(Some(&format!("https://127.0.0.1:{P}")), host, true);
        check(Some(&format!("http://127.0.0.1:{P}/")), host, true);
        check(Some(&format!("http://127.0.0.1:{}", P + 1)), host, false);
        let localhost = format!("localhost:{P}");
        check(
            Some(&format!("http://localhost:{P}")),
            Some(&localhost),
            true,
        );
        check(
            Some(&format!("http://LOCALHOST:{P}")),
            Some(&localhost),
            true,
        );
        check(
            Some(&format!("http://localhost:{P}")),
            Some(&format!("LOCALHOST:{P}")),
            true,
        );
        check(Some(&format!("http://localhost:{P}")), host, false);
        check(
            Some(&format!("http://evil.example:{P}")),
            Some(&format!("evil.example:{P}")),
            false,
        );
        check(Some("https://instrument.example"), host, true);
        check(Some("https://attacker.example"), host, false);
        check(Some("null"), host, false);
        check(
            Some(&format!("http://[::1]:{P}")),
            Some(&format!("[::1]:{P}")),
            true,
        );
        check(
            Some(&format!("http://192.0.2.2:{P}")),
            Some(&format!("192.0.2.2:{P}")),
            true,
        );
    }

    #[test]
    fn netloc_is_compared_literally() {
        // An explicit default port differs from an omitted one (D13).
        check(Some("http://127.0.0.1"), Some("127.0.0.1:80"), false);
        check(Some("http://127.0.0.1:80"), Some("127.0.0.1"), false);
        check(Some("http://127.0.0.1"), Some("127.0.0.1"), true);
        // No Host: nothing matches but a missing Origin.
        check(Some("http://127.0.0.1"), None, false);
        check(None, None, true);
        // `null` with an empty Host still has no IP or localhost host.
        check(Some("null"), Some(""), false);
    }

    #[test]
    fn hostname_classification() {
        // Any IP literal counts, not only loopback.
        check(Some("http://10.1.2.3:1"), Some("10.1.2.3:1"), true);
        check(Some("http://[2001:DB8::1]"), Some("[2001:db8::1]"), true);
        // An IPv6 literal without brackets is not a host.
        check(Some("http://::1"), Some("::1"), false);
        // Not quite an IP.
        check(
            Some("http://127.0.0.1.nip.io"),
            Some("127.0.0.1.nip.io"),
            false,
        );
        check(Some("http://[evil]:1"), Some("[evil]:1"), false);
        check(
            Some("http://localhost.evil.example"),
            Some("localhost.evil.example"),
            false,
        );
        // A path after the authority is ignored, as by urlsplit.
        check(Some("http://127.0.0.1:1/x"), Some("127.0.0.1:1"), true);
        // No scheme separator: empty netloc.
        check(Some("127.0.0.1:1"), Some("127.0.0.1:1"), false);
    }

    #[track_caller]
    fn check_list(entry: &str, origin: &str, expect: bool) {
        let allowed = vec![entry.to_owned()];
        assert_eq!(
            origin_allowed(Some(origin), Some("10.9.9.9:1"), &allowed),
            expect,
            "entry {entry:?}, Origin {origin:?}"
        );
    }

    #[test]
    fn allow_list_is_normalised() {
        check_list(
            "https://instrument.example/",
            "https://instrument.example",
            true,
        );
        check_list(
            "https://instrument.example",
            "https://instrument.example//",
            true,
        );
        check_list(
            "https://instrument.example",
            "HTTPS://Instrument.Example",
            true,
        );
        check_list(
            "https://instrument.example",
            "https://instrument.example:443",
            true,
        );
        check_list(
            "https://instrument.example:443/",
            "https://instrument.example",
            true,
        );
        check_list(
            "http://instrument.example",
            "http://instrument.example:80",
            true,
        );
        check_list("http://[::1]", "http://[::1]:80", true);
        check_list("HTTP://[FE80::1]:8080", "http://[fe80::1]:8080", true);
        // The scheme and the effective port still count.
        check_list(
            "https://instrument.example",
            "http://instrument.example",
            false,
        );
        check_list(
            "https://instrument.example",
            "https://instrument.example:8443",
            false,
        );
        check_list(
            "http://instrument.example",
            "http://instrument.example:443",
            false,
        );
        // A different host, or a suffix trick.
        check_list(
            "https://instrument.example",
            "https://instrument.example.evil",
            false,
        );
        check_list(
            "https://instrument.example",
            "https://x@instrument.example",
            false,
        );
        // Entries that do not normalise still match exactly.
        check_list("app://thing", "app://thing", true);
        check_list("app://thing", "APP://thing", false);
        check_list("null", "null", true);
    }

    #[test]
    fn normalise_rejects_odd_forms() {
        assert_eq!(normalise("https://h:99999"), None);
        assert_eq!(normalise("https://h:"), None);
        assert_eq!(normalise("https://h:x"), None);
        assert_eq!(normalise("https://"), None);
        assert_eq!(normalise("https://[::1]x"), None);
        assert_eq!(normalise("h"), None);
        assert_eq!(
            normalise("WSS://H.example"),
            Some(("wss".to_owned(), "h.example".to_owned(), 443))
        );
    }
}
