//! Who the client is, and whether it may be the `local` principal: the
//! pure decision AUTH.md section 4 asks for, with the W2 and W6 fixes.
//!
//! 0.5.0 believed whatever address the ASGI server reported, which under
//! uvicorn's defaults meant `X-Forwarded-For` from any loopback peer, and
//! granted `local` to every loopback peer without looking at `Host`. Here:
//!
//! - Forwarding headers are believed only from `trusted_proxies` (default
//!   none), and then only `X-Forwarded-For`, read right to left.
//! - `local` needs a loopback client **and** a loopback `Host` **and** no
//!   forwarding header from an untrusted peer, so DNS rebinding (a named
//!   `Host`) and a same-host proxy that forwards without telling do not
//!   inherit loopback trust.
//! - IPv4-mapped IPv6 peers (`::ffff:127.0.0.1`, from a dual-stack
//!   listener) are treated as the IPv4 address they are.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use http::{header, HeaderMap, HeaderName};

/// The outcome of [`decide_trust`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trust {
    /// The client's address: the peer, or the forwarded client when the
    /// peer is a trusted proxy.
    pub client: IpAddr,
    /// Whether the client may be the `local` principal: a loopback client,
    /// a loopback `Host`, and no forwarding header from an untrusted peer.
    pub loopback: bool,
}

/// Decides [`Trust`] from the socket peer, the request headers and the
/// trusted proxies.
///
/// The client is the (canonical) peer, unless the peer is one of
/// `trusted_proxies` and sent `X-Forwarded-For`: then it is the right-most
/// entry that is not itself a trusted proxy (the left-most if all are). An
/// entry that is not an IP address (`unknown`, `localhost`, garbage) leaves
/// the client at the peer and `loopback` false.
///
/// `loopback` is true only when all of these hold:
/// - the client is a loopback address (127.0.0.0/8, `::1`);
/// - there is exactly one `Host` header and its host is `localhost` (any
///   case) or a loopback IP literal (IPv6 in brackets);
/// - no `Forwarded`, `X-Forwarded-For` or `X-Real-IP` header is present,
///   unless the peer is a trusted proxy. From a trusted proxy, `Forwarded`
///   or `X-Real-IP` without `X-Forwarded-For` also gives false: only
///   `X-Forwarded-For` is understood, and the proxy's own loopback address
///   must not stand in for an unknown client.
///
/// ```
/// use std::net::IpAddr;
/// use http::HeaderMap;
/// use lab_link_auth::decide_trust;
///
/// let peer: IpAddr = "127.0.0.1".parse()?;
/// let mut headers = HeaderMap::new();
/// headers.insert("host", "127.0.0.1:8000".parse()?);
/// assert!(decide_trust(peer, &headers, &[]).loopback);
///
/// // DNS rebinding: a loopback peer, but the page's name in Host.
/// headers.insert("host", "evil.example:8000".parse()?);
/// assert!(!decide_trust(peer, &headers, &[]).loopback);
///
/// // A trusted local proxy forwarding a LAN client.
/// headers.insert("x-forwarded-for", "192.0.2.7".parse()?);
/// let trust = decide_trust(peer, &headers, &[peer]);
/// assert_eq!(trust.client, "192.0.2.7".parse::<IpAddr>()?);
/// assert!(!trust.loopback);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decide_trust(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> Trust {
    let peer = canonical_ip(peer);
    let is_trusted = |ip: IpAddr| trusted_proxies.iter().any(|p| canonical_ip(*p) == ip);
    let peer_trusted = is_trusted(peer);
    let forwarding = [
        header::FORWARDED,
        HeaderName::from_static("x-forwarded-for"),
        HeaderName::from_static("x-real-ip"),
    ]
    .iter()
    .any(|name| headers.contains_key(name));

    let resolved = if !forwarding {
        Some(peer)
    } else if !peer_trusted {
        // Forwarding headers from an untrusted peer: the peer is the
        // client, and it is not trusted as local (it may be a proxy that
        // relays remote clients).
        return Trust {
            client: peer,
            loopback: false,
        };
    } else {
        forwarded_client(headers, is_trusted)
    };
    match resolved {
        Some(client) => Trust {
            client,
            loopback: client.is_loopback() && host_is_loopback(headers),
        },
        None => Trust {
            client: peer,
            loopback: false,
        },
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) as IPv4; others as given.
///
/// ```
/// use std::net::IpAddr;
/// use lab_link_auth::canonical_ip;
///
/// let mapped: IpAddr = "::ffff:127.0.0.1".parse()?;
/// assert_eq!(canonical_ip(mapped), "127.0.0.1".parse::<IpAddr>()?);
/// assert!(canonical_ip(mapped).is_loopback());
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The rate limiter's key for a client: an IPv4 address as is, an IPv6
/// address aggregated to its /64 (one subscriber's usual allocation), so
/// rotating through a /64 does not multiply the attempts.
///
/// ```
/// use lab_link_auth::rate_limit_key;
///
/// assert_eq!(rate_limit_key("192.0.2.7".parse()?), "192.0.2.7");
/// assert_eq!(rate_limit_key("2001:db8:1:2:3:4:5:6".parse()?), "2001:db8:1:2::/64");
/// assert_eq!(rate_limit_key("::ffff:192.0.2.7".parse()?), "192.0.2.7");
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn rate_limit_key(client: IpAddr) -> String {
    match canonical_ip(client) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
    }
}

/// The client named by a trusted proxy's `X-Forwarded-For`, or `None`
/// when there is none or it is not an IP address.
fn forwarded_client(headers: &HeaderMap, is_trusted: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
    // Several header lines form one list, in order (RFC 9110 5.3).
    let mut entries = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let value = value.to_str().ok()?;
        entries.extend(value.split(',').map(str::trim));
    }
    let first = *entries.first()?;
    for entry in entries.iter().rev() {
        let ip = parse_forwarded_ip(entry)?;
        if !is_trusted(ip) {
            return Some(ip);
        }
    }
    // Every hop is a trusted proxy: the first one is the client (as
    // uvicorn does).
    parse_forwarded_ip(first)
}

/// An `X-Forwarded-For` entry: an IP, possibly with a port (`a.b.c.d:p`,
/// `[v6]:p`, `[v6]`), made canonical.
fn parse_forwarded_ip(entry: &str) -> Option<IpAddr> {
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .or_else(|| {
            let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        })?;
    Some(canonical_ip(ip))
}

/// Whether the single `Host` header names this machine by a loopback name.
fn host_is_loopback(headers: &HeaderMap) -> bool {
    let mut hosts = headers.get_all(header::HOST).iter();
    let (Some(host), None) = (hosts.next(), hosts.next()) else {
        return false;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let (name, port) = if let Some(bracketed) = host.strip_prefix('[') {
        let Some((inner, rest)) = bracketed.split_once(']') else {
            return false;
        };
        let Ok(v6) = inner.parse::<Ipv6Addr>() else {
            return false;
        };
        if !canonical_ip(IpAddr::V6(v6)).is_loopback() {
            return false;
        }
        ("", rest)
    } else {
        match host.find(':') {
            Some(colon) => (&host[..colon], &host[colon..]),
            None => (host, ""),
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = name.is_empty() && host.starts_with('[')
        || name.eq_ignore_ascii_case("localhost")
        || name.parse::<Ipv4Addr>().is_ok_and(|v4| v4.is_loopback());
    port_ok && name_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROXY: &str = "127.0.0.1";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// One row: peer, headers (`name: value`, repeatable), trusted proxies,
    /// expected client and loopback.
    #[track_caller]
    fn check(peer: &str, headers: &[(&str, &str)], trusted: &[&str], client: &str, loopback: bool) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let trusted: Vec<IpAddr> = trusted.iter().map(|s| ip(s)).collect();
        assert_eq!(
            decide_trust(ip(peer), &map, &trusted),
            Trust {
                client: ip(client),
                loopback
            },
            "peer {peer}, headers {headers:?}, trusted {trusted:?}"
        );
    }

    #[test]
    fn direct_connections() {
        let h = ("host", "127.0.0.1:8000");
        check("127.0.0.1", &[h], &[], "127.0.0.1", true);
        check("127.0.0.2", &[h], &[], "127.0.0.2", true);
        check("127.255.255.254", &[h], &[], "127.255.255.254", true);
        check("::1", &[("host", "[::1]:8000")], &[], "::1", true);
        check("::ffff:127.0.0.1", &[h], &[], "127.0.0.1", true);
        check("192.0.2.7", &[h], &[], "192.0.2.7", false);
        check("2001:db8::7", &[h], &[], "2001:db8::7", false);
        check("::ffff:192.0.2.7", &[h], &[], "192.0.2.7", false);
        // `::` and 0.0.0.0 are not loopback.
        check("0.0.0.0", &[h], &[], "0.0.0.0", false);
        check("::", &[h], &[], "::", false);
    }

    #[test]
    fn host_must_be_a_loopback_name() {
        let peer = "127.0.0.1";
        for (host, expect) in [
            ("localhost", true),
            ("localhost:8000", true),
            ("LocalHost:8000", true),
            ("127.0.0.1", true),
            ("127.0.0.1:8000", true),
            ("127.1.2.3:1", true),
            ("[::1]", true),
            ("[::1]:8000", true),
            ("[0:0:0:0:0:0:0:1]:8000", true),
            ("[::ffff:127.0.0.1]:8000", true),
            // DNS rebinding and other names.
            ("evil.example:8000", false),
            ("localhost.evil.example", false),
            ("127.0.0.1.nip.io", false),
            ("192.0.2.7:8000", false),
            ("[2001:db8::1]:8000", false),
            // Malformed.
            ("", false),
            ("::1", false),
            ("[::1", false),
            ("[::1]x", false),
            ("localhost:x", false),
            ("127.0.0.1:80:80", false),
        ] {
            check(peer, &[("host", host)], &[], peer, expect);
        }
        // No Host at all, or two of them.
        check(peer, &[], &[], peer, false);
        check(
            peer,
            &[("host", "localhost"), ("host", "localhost")],
            &[],
            peer,
            false,
        );
    }

    #[test]
    fn forwarding_headers_from_untrusted_peers() {
        let h = ("host", "127.0.0.1:8000");
        // A same-host proxy that forwards without being configured: the
        // remote client must not become local (W2).
        for name in ["x-forwarded-for", "forwarded", "x-real-ip"] {
            check(
                "127.0.0.1",
                &[h, (name, "192.0.2.7")],
                &[],
                "127.0.0.1",
                false,
            );
            check(
                "127.0.0.1",
                &[h, (name, "127.0.0.1")],
                &[],
                "127.0.0.1",
                false,
            );
        }
        // 0.5.0 believed this from 127.0.0.1 by default; we do not by
        // default, and never from others.
        check(
            "192.0.2.7",
            &[h, ("x-forwarded-for", "127.0.0.1")],
            &[],
            "192.0.2.7",
            false,
        );
        check(
            "192.0.2.7",
            &[h, ("x-forwarded-for", "127.0.0.1")],
            &[PROXY],
            "192.0.2.7",
            false,
        );
        // A trusted proxy's headers are ignored by an untrusted peer.
        check(
            "127.0.0.2",
            &[h, ("x-forwarded-for", "198.51.100.7")],
            &[PROXY],
            "127.0.0.2",
            false,
        );
    }

    #[test]
    fn trusted_proxy_resolution() {
        let h = ("host", "127.0.0.1:8000");
        let xff = |v| ("x-forwarded-for", v);
        check(
            PROXY,
            &[h, xff("198.51.100.7")],
            &[PROXY],
            "198.51.100.7",
            false,
        );
        check(
            "::ffff:127.0.0.1",
            &[h, xff("198.51.100.7")],
            &[PROXY],
            "198.51.100.7",
            false,
        );
        check(
            PROXY,
            &[h, xff("198.51.100.7")],
            &["::ffff:127.0.0.1"],
            "198.51.100.7",
            false,
        );
        // Right-most untrusted entry; spoofed left entries are ignored.
        check(
            PROXY,
            &[h, xff("127.0.0.1, 198.51.100.7")],
            &[PROXY],
            "198.51.100.7",
            false,
        );
        check(
            PROXY,
            &[h, xff("198.51.100.9, 198.51.100.7")],
            &[PROXY],
            "198.51.100.7",
            false,
        );
        check(
            PROXY,
            &[h, xff("198.51.100.9, 198.51.100.7, 10.0.0.2")],
            &[PROXY, "10.0.0.2"],
            "198.51.100.7",
            false,
        );
        // Several header lines are one list.
        check(
            PROXY,
            &[h, xff("198.51.100.9"), xff("198.51.100.7")],
            &[PROXY],
            "198.51.100.7",
            false,
        );
        // Entries with ports, IPv6, mapped.
        check(
            PROXY,
            &[h, xff("198.51.100.7:5555")],
            &[PROXY],
            "198.51.100.7",
            false,
        );
        check(
            PROXY,
            &[h, xff("[2001:db8::7]:5555")],
            &[PROXY],
            "2001:db8::7",
            false,
        );
        check(
            PROXY,
            &[h, xff("[2001:db8::7]")],
            &[PROXY],
            "2001:db8::7",
            false,
        );
        check(
            PROXY,
            &[h, xff("2001:db8::7")],
            &[PROXY],
            "2001:db8::7",
            false,
        );
        check(
            PROXY,
            &[h, xff("::ffff:198.51.100.7")],
            &[PROXY],
            "198.51.100.7",
            false,
        );
        // A local client through the trusted proxy is local, if Host is.
        check(PROXY, &[h, xff("127.0.0.1")], &[PROXY], "127.0.0.1", true);
        check(PROXY, &[h, xff("::1")], &[PROXY], "::1", true);
        check(
            PROXY,
            &[("host", "lab.example"), xff("127.0.0.1")],
            &[PROXY],
            "127.0.0.1",
            false,
        );
        // All hops trusted: the left-most is the client.
        check(
            PROXY,
            &[h, xff("10.0.0.2, 127.0.0.1")],
            &[PROXY, "10.0.0.2"],
            "10.0.0.2",
            false,
        );
        // Unparseable: unknown, never local.
        for value in [
            "localhost",
            "unknown",
            "",
            "garbage, 127.0.0.1",
            "198.51.100.7, x",
        ] {
            check(PROXY, &[h, xff(value)], &[PROXY], PROXY, false);
        }
        // A trusted proxy that forwards in a form we do not read.
        check(
            PROXY,
            &[h, ("forwarded", "for=198.51.100.7")],
            &[PROXY],
            PROXY,
            false,
        );
        check(
            PROXY,
            &[h, ("x-real-ip", "198.51.100.7")],
            &[PROXY],
            PROXY,
            false,
        );
        // A trusted proxy's own request, without forwarding headers.
        check(PROXY, &[h], &[PROXY], PROXY, true);
    }

    #[test]
    fn canonical_ip_unmaps_only_mapped_addresses() {
        assert_eq!(canonical_ip(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
        assert_eq!(canonical_ip(ip("::1")), ip("::1"));
        // IPv4-compatible (deprecated) addresses stay IPv6.
        assert_eq!(canonical_ip(ip("::127.0.0.1")), ip("::127.0.0.1"));
        assert_eq!(canonical_ip(ip("10.1.2.3")), ip("10.1.2.3"));
    }

    #[test]
    fn rate_limit_keys() {
        for (client, key) in [
            ("192.0.2.7", "192.0.2.7"),
            ("127.0.0.1", "127.0.0.1"),
            ("::ffff:192.0.2.7", "192.0.2.7"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
            ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
            ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
            ("::1", "::/64"),
            ("fe80::1", "fe80::/64"),
        ] {
            assert_eq!(rate_limit_key(ip(client)), key, "{client}");
        }
    }
}
