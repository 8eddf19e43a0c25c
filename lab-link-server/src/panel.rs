//! The generated control panel, embedded in the binary: the ES modules of
//! `lab-link-js/panel/` and the browser runtime's bundle
//! (`lab-link-js/dist/lab-link.js`), served as committed (no build step at
//! run time; a Node test fails when the bundle is stale). The panel reads
//! `GET {prefix}/schema` and renders any state from it: see the book's
//! chapter "The generated panel".

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::Full;

use crate::routes::not_a_get;
use crate::Body;

/// The page, with `{{PREFIX}}` where the sync prefix goes.
const INDEX_HTML: &str = include_str!("../../lab-link-js/panel/index.html");

/// The served files besides the page: path, contents, content type.
const ASSETS: [(&str, &str, &str); 6] = [
    (
        "/panel/panel.js",
        include_str!("../../lab-link-js/panel/panel.js"),
        JS,
    ),
    (
        "/panel/schema.js",
        include_str!("../../lab-link-js/panel/schema.js"),
        JS,
    ),
    (
        "/panel/view.js",
        include_str!("../../lab-link-js/panel/view.js"),
        JS,
    ),
    (
        "/panel/plot.js",
        include_str!("../../lab-link-js/panel/plot.js"),
        JS,
    ),
    (
        "/panel/panel.css",
        include_str!("../../lab-link-js/panel/panel.css"),
        "text/css; charset=utf-8",
    ),
    (
        "/lab-link.js",
        include_str!("../../lab-link-js/dist/lab-link.js"),
        JS,
    ),
];

const JS: &str = "text/javascript; charset=utf-8";

/// The generated control panel for one sync prefix: `/` (and
/// `/index.html`) is the page, `/panel/…` its modules and styles,
/// `/lab-link.js` the browser runtime they import. [`Server`](crate::Server)
/// serves it unless [`ServerConfig::panel`](crate::ServerConfig::panel) is
/// off or the application set a fallback; mounted [`Routes`](crate::Routes)
/// answer it from [`Routes::panel`](crate::Routes::panel). An application
/// that serves pages of its own can also put it under them with
/// [`Panel::respond`].
///
/// ```
/// use http::Request;
/// use lab_link_server::Panel;
///
/// let panel = Panel::new("/sync");
/// let page = panel.respond(Request::get("/").body(())?).ok().expect("the page");
/// assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
/// let module = panel.respond(Request::get("/panel/panel.js").body(())?).ok().expect("a module");
/// assert_eq!(module.status(), 200);
/// // Anything else is given back, for the application's own routes.
/// assert!(panel.respond(Request::get("/my/page").body(())?).is_err());
/// # Ok::<(), http::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Panel {
    index: Bytes,
}

impl Panel {
    /// The panel of the sync endpoints under `prefix` (as
    /// [`ServerConfig::prefix`](crate::ServerConfig::prefix) takes it).
    pub fn new(prefix: &str) -> Self {
        let prefix = prefix.trim_end_matches('/');
        Self {
            index: Bytes::from(fill_prefix(INDEX_HTML, prefix)),
        }
    }

    /// Answers a request for one of the panel's paths (`405` for a method
    /// other than `GET` or `HEAD`), or gives the request back (`Err`).
    // The `Err` is the caller's own request handed back, as in `Routes::handle`.
    #[allow(clippy::result_large_err)]
    pub fn respond<B>(&self, request: Request<B>) -> Result<Response<Body>, Request<B>> {
        let path = request.uri().path();
        let (body, content_type) = match path {
            "/" | "/index.html" => (self.index.clone(), "text/html; charset=utf-8"),
            _ => match ASSETS.iter().find(|(asset, _, _)| *asset == path) {
                Some((_, text, content_type)) => {
                    (Bytes::from_static(text.as_bytes()), *content_type)
                }
                None => return Err(request),
            },
        };
        if let Some(refused) = not_a_get(request.method()) {
            return Ok(refused);
        }
        Ok(static_asset(body, content_type))
    }
}

/// A `200` answering a static file of a page: `body` as `content_type`,
/// with `no-cache` (an upgraded server is never shown with a stale
/// module) and `nosniff`. The panel's files are served with it; so can a
/// page of your own.
///
/// ```
/// let response = lab_link_server::static_asset("body { margin: 0 }", "text/css; charset=utf-8");
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["cache-control"], "no-cache");
/// assert_eq!(response.headers()["content-type"], "text/css; charset=utf-8");
/// ```
pub fn static_asset(body: impl Into<Bytes>, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `template` with every `{{PREFIX}}` replaced by the sync `prefix`,
/// escaped for a double-quoted HTML attribute: for a page of your own
/// that finds the endpoints the way the panel does, from
/// `<meta name="lab-link-prefix" content="{{PREFIX}}">`.
///
/// ```
/// let page = lab_link_server::fill_prefix(r#"<meta name="lab-link-prefix" content="{{PREFIX}}">"#, "/a&b");
/// assert_eq!(page, r#"<meta name="lab-link-prefix" content="/a&amp;b">"#);
/// ```
pub fn fill_prefix(template: &str, prefix: &str) -> String {
    template.replace("{{PREFIX}}", &html_attribute(prefix))
}

/// `value` escaped for a double-quoted HTML attribute.
fn html_attribute(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use http::Request;
    use http_body_util::BodyExt;

    use super::Panel;

    async fn get(panel: &Panel, path: &str) -> (u16, String, String) {
        let response = panel
            .respond(Request::get(path).body(()).unwrap())
            .unwrap_or_else(|_| panic!("{path} is the panel's"));
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            content_type,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn the_page_carries_the_prefix_escaped_and_imports_the_runtime() {
        let panel = Panel::new("/lab\"x/");
        let (status, content_type, page) = get(&panel, "/").await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "text/html; charset=utf-8")
        );
        assert!(page.contains(r#"content="/lab&quot;x""#), "{page}");
        assert!(page.contains(r#""lab-link-js": "/lab-link.js""#), "{page}");
        assert!(!page.contains("{{PREFIX}}"));
    }

    #[tokio::test]
    async fn every_module_the_panel_imports_is_served() {
        let panel = Panel::new("/sync");
        let (_, _, entry) = get(&panel, "/panel/panel.js").await;
        for module in ["./schema.js", "./view.js"] {
            assert!(entry.contains(module), "panel.js imports {module}");
        }
        for path in [
            "/panel/schema.js",
            "/panel/view.js",
            "/panel/plot.js",
            "/lab-link.js",
        ] {
            let (status, content_type, text) = get(&panel, path).await;
            assert_eq!(
                (status, content_type.as_str()),
                (200, "text/javascript; charset=utf-8"),
                "{path}"
            );
            assert!(text.contains("export"), "{path} is an ES module");
        }
        let (status, content_type, _) = get(&panel, "/panel/panel.css").await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "text/css; charset=utf-8")
        );
    }

    #[test]
    fn other_paths_are_given_back_and_other_methods_refused() {
        let panel = Panel::new("/sync");
        let other = panel.respond(Request::get("/panel/nothing.js").body(()).unwrap());
        assert_eq!(
            other.err().map(|r| r.uri().path().to_owned()).as_deref(),
            Some("/panel/nothing.js")
        );
        let post = panel
            .respond(Request::post("/").body(()).unwrap())
            .ok()
            .unwrap();
        assert_eq!(post.status(), 405);
        assert_eq!(post.headers()["allow"], "GET, HEAD");
    }
}
