//! Where a request comes from: the `Origin` rule of AUTH.md section 5 (the
//! defence against drive-by pages and DNS rebinding on the WebSocket
//! handshake and the state-changing requests) and the `Sec-Fetch-Site`
//! rule for POSTs that carry the session cookie (W5).
//!
//! The Origin rule is 0.5.0's, with the W10 differences: an Origin is
//! compared as (scheme, lowercase host, effective port), so the scheme
//! must be the request's (`https://127.0.0.1:8000` is refused by a plain
//! `http` server), and spelling out the default port does not matter
//! (`http://127.0.0.1:80` = Host `127.0.0.1`), on the allow-list as on the
//! same-origin path. `localhost` ≠ `127.0.0.1` still: they are different
//! origins to a browser too.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether a request with this `Origin` and `Host`, made over
/// `request_scheme` (`"http"`, or `"https"` when a trusted proxy says so),
/// passes (AUTH.md 5, with W10).
///
/// 1. No `Origin`, or an empty one, passes (scripts and curl send none).
/// 2. Trailing `/` are stripped; an Origin on `allowed` passes, whatever
///    the `Host`: compared exactly, or as (scheme, lowercase host,
///    effective port).
/// 3. Otherwise the Origin must be `scheme://host[:port]` with the
///    request's scheme, and its host and effective port must equal those
///    of `Host` (host ignoring case, a missing port being the scheme's
///    default);
/// 4. and its host must be `localhost` (any case) or an IP literal (v4,
///    or v6 in brackets). A named host is rejected: DNS rebinding.
///
/// `Origin: null` is rejected, and so is an Origin with a path or user
/// information (browsers never send one).
///
/// ```
/// use lab_link_auth::origin_allowed;
///
/// let allowed = vec!["https://instrument.example/".to_owned()];
/// // Same origin by IP: accepted.
/// assert!(origin_allowed(Some("http://127.0.0.1:8000"), Some("127.0.0.1:8000"), "http", &allowed));
/// // The same host and port over another scheme is another origin.
/// assert!(!origin_allowed(Some("https://127.0.0.1:8000"), Some("127.0.0.1:8000"), "http", &allowed));
/// // A rebinding attacker's name, even though it matches Host: rejected.
/// assert!(!origin_allowed(Some("http://evil.example:8000"), Some("evil.example:8000"), "http", &allowed));
/// // Allow-listed: accepted whatever the Host.
/// assert!(origin_allowed(Some("https://INSTRUMENT.example:443"), Some("10.0.0.5"), "http", &allowed));
/// // No Origin (a script): accepted.
/// assert!(origin_allowed(None, Some("127.0.0.1:8000"), "http", &allowed));
/// ```
pub fn origin_allowed(
    origin: Option<&str>,
    host: Option<&str>,
    request_scheme: &str,
    allowed: &[String],
) -> bool {
    let Some(origin) = origin.filter(|origin| !origin.is_empty()) else {
        return true;
    };
    let origin = origin.trim_end_matches('/');
    if on_allow_list(origin, allowed) {
        return true;
    }
    let Some((scheme, origin_host, origin_port)) = normalise(origin) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(request_scheme) {
        return false;
    }
    // `Host` is an authority without a scheme: read it as one of the
    // request's scheme, so that a missing port is that scheme's default.
    let Some((_, host, port)) = host.and_then(|host| normalise(&format!("{scheme}://{host}")))
    else {
        return false;
    };
    if (origin_host.as_str(), origin_port) != (host.as_str(), port) {
        return false;
    }
    match origin_host.strip_prefix('[') {
        Some(bracketed) => bracketed
            .strip_suffix(']')
            .is_some_and(|inner| inner.parse::<Ipv6Addr>().is_ok()),
        None => origin_host == "localhost" || origin_host.parse::<Ipv4Addr>().is_ok(),
    }
}

/// Whether a POST that carries the session cookie may go on, by its
/// `Sec-Fetch-Site` header (W5): browsers send it on every request since
/// 2023, and a forged cross-site request cannot remove it.
///
/// - absent (a script, an older browser), `same-origin`, `none` (the
///   user's own navigation): yes, the Origin rule still applies;
/// - `same-site` (another port or subdomain of the instrument's site,
///   which the cookie reaches since cookies ignore ports): only with an
///   `Origin` header, which the Origin rule then checks;
/// - `cross-site`, or any other value: no. A `SameSite=Strict` cookie is
///   never sent cross-site by a browser, so no real client is refused.
///
/// Values compare ignoring ASCII case.
pub(crate) fn fetch_site_allowed(fetch_site: Option<&str>, has_origin: bool) -> bool {
    match fetch_site.map(str::trim) {
        None | Some("") => true,
        Some(site) if site.eq_ignore_ascii_case("same-origin") => true,
        Some(site) if site.eq_ignore_ascii_case("none") => true,
        Some(site) if site.eq_ignore_ascii_case("same-site") => has_origin,
        Some(_) => false,
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
        check_over("http", origin, host, expect);
    }

    #[track_caller]
    fn check_over(scheme: &str, origin: Option<&str>, host: Option<&str>, expect: bool) {
        let allowed = vec!["https://instrument.example/".to_owned()];
        assert_eq!(
            origin_allowed(origin, host, scheme, &allowed),
            expect,
            "Origin {origin:?}, Host {host:?}, over {scheme}"
        );
    }

    /// Every row of the AUTH.md section 5 table (login column), with the
    /// server's `allowed_origins={"https://instrument.example/"}`; the one
    /// row where we differ (W10) says so.
    #[test]
    fn section_5_table() {
        let h = format!("127.0.0.1:{P}");
        let host = Some(h.as_str());
        check(None, host, true);
        check(Some(""), host, true);
        check(Some(&format!("http://127.0.0.1:{P}")), host, true);
        // 0.5.0 accepts a scheme that differs from the request's; we do not.
        check(Some(&format!("https://127.0.0.1:{P}")), host, false);
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
    fn scheme_and_effective_port_are_compared() {
        // The scheme must be the request's (W10).
        check_over(
            "https",
            Some("https://127.0.0.1:8443"),
            Some("127.0.0.1:8443"),
            true,
        );
        check_over(
            "https",
            Some("http://127.0.0.1:8443"),
            Some("127.0.0.1:8443"),
            false,
        );
        check_over(
            "HTTPS",
            Some("HTTPS://[::1]:8443"),
            Some("[::1]:8443"),
            true,
        );
        check(Some("ws://127.0.0.1:8000"), Some("127.0.0.1:8000"), false);
        check(Some("file://127.0.0.1:8000"), Some("127.0.0.1:8000"), false);
        // A spelled-out default port is the same port (0.5.0 compares the
        // netloc literally).
        check(Some("http://127.0.0.1"), Some("127.0.0.1:80"), true);
        check(Some("http://127.0.0.1:80"), Some("127.0.0.1"), true);
        check(Some("http://127.0.0.1"), Some("127.0.0.1"), true);
        check_over(
            "https",
            Some("https://localhost"),
            Some("localhost:443"),
            true,
        );
        check_over(
            "https",
            Some("https://localhost"),
            Some("localhost:80"),
            false,
        );
        check(Some("http://127.0.0.1:8000"), Some("127.0.0.1"), false);
        // No Host, or a Host that is not an authority: nothing matches but
        // a missing Origin.
        check(Some("http://127.0.0.1"), None, false);
        check(Some("http://127.0.0.1"), Some(""), false);
        check(Some("http://127.0.0.1"), Some("127.0.0.1/x"), false);
        check(
            Some("http://127.0.0.1:8000"),
            Some("127.0.0.1:99999"),
            false,
        );
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
        // A path or user information: not an Origin a browser sends
        // (0.5.0 ignores the path).
        check(Some("http://127.0.0.1:1/x"), Some("127.0.0.1:1"), false);
        check(Some("http://u@127.0.0.1:1"), Some("127.0.0.1:1"), false);
        // No scheme separator.
        check(Some("127.0.0.1:1"), Some("127.0.0.1:1"), false);
    }

    #[track_caller]
    fn check_list(entry: &str, origin: &str, expect: bool) {
        let allowed = vec![entry.to_owned()];
        assert_eq!(
            origin_allowed(Some(origin), Some("10.9.9.9:1"), "http", &allowed),
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

    #[track_caller]
    fn check_fetch_site(fetch_site: Option<&str>, has_origin: bool, expect: bool) {
        assert_eq!(
            fetch_site_allowed(fetch_site, has_origin),
            expect,
            "Sec-Fetch-Site {fetch_site:?}, Origin present: {has_origin}"
        );
    }

    #[test]
    fn fetch_site_of_cookie_posts() {
        for has_origin in [false, true] {
            check_fetch_site(None, has_origin, true);
            check_fetch_site(Some(""), has_origin, true);
            check_fetch_site(Some("same-origin"), has_origin, true);
            check_fetch_site(Some("Same-Origin"), has_origin, true);
            check_fetch_site(Some("none"), has_origin, true);
            check_fetch_site(Some("cross-site"), has_origin, false);
            check_fetch_site(Some("CROSS-SITE"), has_origin, false);
            check_fetch_site(Some("same-origin, cross-site"), has_origin, false);
            check_fetch_site(Some("elsewhere"), has_origin, false);
        }
        check_fetch_site(Some("same-site"), true, true);
        check_fetch_site(Some("same-site"), false, false);
    }
}
