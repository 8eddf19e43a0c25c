//! Access control in the transport: the request as `lab-link-auth` sees
//! it, the gate of the HTTP endpoints, and what an open socket needs to be
//! closed with 4401 as soon as its credential ends.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use lab_link_auth::{Auth, AuthPrincipal, AuthRequest, AuthResponse};

use crate::shared::Body;

/// The socket peer of a request, put in its extensions by the pre-wired
/// [`Server`](crate::Server). Access control reads it to decide whether
/// a client is local; an application that serves [`Routes`](crate::Routes)
/// itself with access control on must insert it (from axum's
/// `ConnectInfo`, say). A request without it is treated as coming from
/// an unknown, non-loopback address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The request as the access-control layer sees it; `endpoint` is the
/// path after the prefix.
pub(crate) fn auth_request<B>(
    auth: &Auth,
    request: &Request<B>,
    endpoint: &str,
    body: Bytes,
) -> AuthRequest {
    let peer = request
        .extensions()
        .get::<PeerAddr>()
        .map_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)), |peer| peer.0);
    let headers = request.headers().clone();
    // TLS ends before this server (it speaks plain HTTP): only a trusted
    // proxy can say the client used https.
    let https = auth
        .config()
        .trusted_proxy_addrs()
        .contains(&lab_link_auth::canonical_ip(peer.ip()))
        && headers
            .get("x-forwarded-proto")
            .and_then(|proto| proto.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    AuthRequest {
        method: request.method().clone(),
        path: endpoint.to_owned(),
        headers,
        peer,
        https,
        body,
    }
}

/// An [`AuthResponse`] as a hyper response.
pub(crate) fn response(answer: AuthResponse) -> Response<Body> {
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = answer.status;
    *response.headers_mut() = answer.headers;
    if !response.headers().contains_key(header::CONTENT_TYPE) {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    response
}

/// A refused WebSocket handshake: `403` with an empty body, as lab-link
/// 0.5.0 served by uvicorn answers (no `101`, no snapshot).
pub(crate) fn refused_handshake() -> Response<Body> {
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
}

/// What an authenticated socket keeps: the handshake's request (its
/// cookie, bearer token, Origin and peer, for every re-check) and the
/// principal it resolved to last.
#[derive(Debug)]
pub(crate) struct Access {
    auth: Auth,
    request: AuthRequest,
    principal: Mutex<AuthPrincipal>,
}

impl Access {
    pub(crate) fn new(auth: Auth, request: AuthRequest, principal: AuthPrincipal) -> Self {
        Self {
            auth,
            request,
            principal: Mutex::new(principal),
        }
    }

    /// The principal as last resolved.
    pub(crate) fn principal(&self) -> AuthPrincipal {
        self.principal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Whether the principal as last resolved holds `capability`.
    pub(crate) fn can(&self, capability: &str) -> bool {
        self.principal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .can(capability)
    }

    /// Resolves the handshake's credential again (before every inbound
    /// frame, and periodically): the fresh principal, or `None` when the
    /// credential no longer holds.
    pub(crate) fn revalidate(&self) -> Option<AuthPrincipal> {
        let principal = self.auth.resolve(&self.request, true)?;
        *self
            .principal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = principal.clone();
        Some(principal)
    }

    /// Completes when the socket's credential ends: at once on a
    /// revocation, logout, rotation or expiry (the registry's watch), and
    /// at the latest at the next periodic re-check otherwise (a store
    /// shared with another process, say).
    pub(crate) async fn ended(&self) {
        let interval = self.auth.config().revalidation_interval();
        loop {
            let mut watch = self.auth.watch(&self.principal());
            tokio::select! {
                () = watch.ended() => return,
                () = tokio::time::sleep(interval) => {
                    if self.revalidate().is_none() {
                        return;
                    }
                }
            }
        }
    }
}
