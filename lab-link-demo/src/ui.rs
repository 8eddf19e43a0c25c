//! The web UI, embedded in the binary: `index.html`, its ES modules
//! (`app.js`, which imports `connection.js`, `render.js`, `plots.js` and
//! `auth.js`) and `style.css` from `ui/`, served by [`handler`] next to
//! the sync endpoints, and the browser runtime `lab-link-js` bundled as
//! one ES module at `/lab-link.js`, on which the page is built. No build
//! step here: the files are served as committed (the bundle is rebuilt
//! with `npm run build` in `lab-link-js`, and a test there fails when it
//! is stale), so the demo runs without Node.

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use lab_link::server::{static_asset, Body};

/// The page, with `{{PREFIX}}` where the sync prefix goes.
const INDEX_HTML: &str = include_str!("../ui/index.html");
/// The page's modules, by path: `app.js` is the entry.
const MODULES: [(&str, &str); 5] = [
    ("/app.js", include_str!("../ui/app.js")),
    ("/connection.js", include_str!("../ui/connection.js")),
    ("/render.js", include_str!("../ui/render.js")),
    ("/plots.js", include_str!("../ui/plots.js")),
    ("/auth.js", include_str!("../ui/auth.js")),
];
/// The page's styles.
const STYLE_CSS: &str = include_str!("../ui/style.css");
/// The browser runtime, for pages of your own against the demo.
const LAB_LINK_JS: &str = include_str!("../../lab-link-js/dist/lab-link.js");

/// A handler for `Server::builder().fallback(…)`: `/` (and
/// `/index.html`) is the page, with the sync `prefix` filled in;
/// `/app.js` (and the modules it imports) and `/style.css` its assets;
/// `/lab-link.js` the browser
/// runtime (`import { LabLinkClient } from '/lab-link.js'`); anything else
/// `404`.
///
/// ```
/// use http::Request;
///
/// let ui = lab_link_demo::ui::handler("/sync");
/// let page = ui(Request::get("/").body(()).unwrap());
/// assert_eq!(page.status(), 200);
/// let missing = ui(Request::get("/nothing").body(()).unwrap());
/// assert_eq!(missing.status(), 404);
/// ```
pub fn handler<B>(prefix: &str) -> impl Fn(Request<B>) -> Response<Body> + Send + Sync + 'static {
    handler_at(prefix, "")
}

/// [`handler`] with the page under `mount` (`/demo`: the page at
/// `/demo/`, its assets at `/demo/app.js`, …), for serving it beside the
/// generated panel. `/demo` without its slash is redirected to `/demo/`,
/// where the page's relative links resolve.
///
/// ```
/// use http::Request;
///
/// let ui = lab_link_demo::ui::handler_at("/sync", "/demo");
/// assert_eq!(ui(Request::get("/demo/").body(()).unwrap()).status(), 200);
/// assert_eq!(ui(Request::get("/demo").body(()).unwrap()).status(), 308);
/// assert_eq!(ui(Request::get("/").body(()).unwrap()).status(), 404);
/// ```
pub fn handler_at<B>(
    prefix: &str,
    mount: &str,
) -> impl Fn(Request<B>) -> Response<Body> + Send + Sync + 'static {
    let index = lab_link::server::fill_prefix(INDEX_HTML, prefix);
    let mount = mount.trim_end_matches('/').to_owned();
    move |request: Request<B>| {
        let Some(path) = request.uri().path().strip_prefix(mount.as_str()) else {
            return text(StatusCode::NOT_FOUND, "not found");
        };
        if path.is_empty() {
            let mut response = text(StatusCode::PERMANENT_REDIRECT, "moved");
            if let Ok(location) = HeaderValue::from_str(&format!("{mount}/")) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            return response;
        }
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "use GET");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        if let Some((_, module)) = MODULES.iter().find(|(name, _)| *name == path) {
            return static_asset(*module, "text/javascript; charset=utf-8");
        }
        match path {
            "/" | "/index.html" => static_asset(index.clone(), "text/html; charset=utf-8"),
            "/style.css" => static_asset(STYLE_CSS, "text/css; charset=utf-8"),
            "/lab-link.js" => static_asset(LAB_LINK_JS, "text/javascript; charset=utf-8"),
            _ => text(StatusCode::NOT_FOUND, "not found"),
        }
    }
}

/// A plain-text answer.
fn text(status: StatusCode, message: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(message));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use http::Request;
    use http_body_util::BodyExt;

    use super::handler;

    async fn body(response: http::Response<lab_link::server::Body>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_page_carries_the_prefix_escaped() {
        let ui = handler("/lab\"x");
        let page = ui(Request::get("/").body(()).unwrap());
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        let page = body(page).await;
        assert!(page.contains(r#"content="/lab&quot;x""#), "{page}");
        assert!(!page.contains("{{PREFIX}}"));
        for module in [
            "/app.js",
            "/connection.js",
            "/render.js",
            "/plots.js",
            "/auth.js",
        ] {
            let script = ui(Request::get(module).body(()).unwrap());
            assert_eq!(script.status(), 200, "{module}");
            assert_eq!(
                script.headers()["content-type"],
                "text/javascript; charset=utf-8"
            );
        }
        let post = ui(Request::post("/").body(()).unwrap());
        assert_eq!(post.status(), 405);
    }

    #[tokio::test]
    async fn the_browser_runtime_is_served_as_one_module() {
        let ui = handler("/sync");
        let runtime = ui(Request::get("/lab-link.js").body(()).unwrap());
        assert_eq!(runtime.status(), 200);
        assert_eq!(
            runtime.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        let runtime = body(runtime).await;
        assert!(runtime.contains("export {"), "not an ES module");
        assert!(runtime.contains("LabLinkClient"));
    }
}
