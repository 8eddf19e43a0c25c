//! A headless Chromium driven through `chromedriver` (WebDriver), for the
//! browser tests of the demo's page and of the generated panel: Debian's
//! `chromium`, never a browser downloaded by a test tool. One browser at a
//! time on a two-core machine; a failing test leaves no Chromium behind.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, MutexGuard};

/// How long the page may take to show something.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(15);

/// One browser at a time.
static BROWSER_LOCK: Mutex<()> = Mutex::const_new(());

/// Where the screenshots go: `target/e2e/`.
pub fn screenshot_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().expect("target/tmp has a parent").join("e2e")
}

/// A chromedriver process and one headless Chromium session on the demo's
/// page.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
    _turn: MutexGuard<'static, ()>,
}

impl Browser {
    /// Starts chromedriver, opens a headless session, loads `url` and
    /// waits until the page is connected.
    pub async fn open(url: &str) -> Self {
        let browser = Self::open_unconnected(url).await;
        browser
            .wait_until(
                "the page connects",
                "document.body.dataset.connection === 'open'",
            )
            .await;
        browser
    }

    /// Like [`Browser::open`], without waiting for the page to connect
    /// (with access control on, it first shows the login screen).
    pub async fn open_unconnected(url: &str) -> Self {
        let turn = BROWSER_LOCK.lock().await;
        for tool in ["chromium", "chromedriver"] {
            assert!(
                std::process::Command::new(tool)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success()),
                "`{tool}` is not installed: the browser tests need Debian's packages \
                 `chromium` and `chromium-driver` (`cargo xtask setup` installs them as root: \
                 apt-get install -y chromium chromium-driver)"
            );
        }
        let port = free_port();
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own process group, with the Chromium it starts: dropping
            // the browser kills the whole group, so a failing test leaves
            // no Chromium behind.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let stdout = driver.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        tokio::time::timeout(PAGE_TIMEOUT, async {
            while let Some(line) = lines.next_line().await.expect("chromedriver's output") {
                if line.contains("started successfully") {
                    return;
                }
            }
            panic!("chromedriver ended before it was ready");
        })
        .await
        .expect("chromedriver starts within the timeout");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    "--no-first-run", "--disable-extensions",
                    // Exact `performance.memory` figures, not 100 KB buckets.
                    "--enable-precise-memory-info",
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session starts");
        let browser = Self {
            client,
            driver,
            _turn: turn,
        };
        browser.client.goto(url).await.expect("the page loads");
        browser
    }

    /// Evaluates `expression` in the page.
    pub async fn eval(&self, expression: &str) -> Value {
        self.client
            .execute(&format!("return ({expression});"), Vec::new())
            .await
            .unwrap_or_else(|e| panic!("evaluating `{expression}`: {e}"))
    }

    /// Waits until `expression` is truthy in the page.
    pub async fn wait_until(&self, what: &str, expression: &str) -> Value {
        let deadline = tokio::time::Instant::now() + PAGE_TIMEOUT;
        loop {
            let value = self.eval(expression).await;
            if !matches!(value, Value::Null | Value::Bool(false))
                && value != json!(0)
                && value != json!("")
            {
                return value;
            }
            if tokio::time::Instant::now() > deadline {
                let body = self.eval("document.body.innerText").await;
                panic!(
                    "{what}: `{expression}` did not hold within {PAGE_TIMEOUT:?}; the page shows:\n{}",
                    body.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Replaces the text of the input at `css` and presses Enter.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.fill(css, &format!("{text}\u{E007}")).await;
    }

    /// Replaces the text of the input at `css`.
    pub async fn fill(&self, css: &str, text: &str) {
        let input = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no input `{css}`: {e}"));
        input.clear().await.expect("clear");
        input.send_keys(text).await.expect("typing");
    }

    /// Asserts that the page's replica is `expected` (numbers compared as
    /// numbers: JavaScript has no `0.0`).
    pub async fn assert_replica(&self, expected: &Value) {
        let replica = self.eval("window.labLink.state").await;
        assert!(
            lab_link::engine::patch::json_equal(&replica, expected),
            "the page's replica differs:\n{replica}\nexpected:\n{expected}"
        );
    }

    /// Clicks the element at `css`.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element `{css}`: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking `{css}`: {e}"));
    }

    /// Saves a screenshot as `target/e2e/NAME.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("target/e2e");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("the screenshot is written");
        path
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        // Drop kills the process group.
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            // The group's id is chromedriver's pid (process_group(0)).
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("an ephemeral port")
        .port()
}
