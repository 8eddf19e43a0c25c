//! What the relay's tests share: the primary's state and commands, a
//! relay served on 127.0.0.1, and the checks.

#![allow(dead_code)] // each test file uses its own part

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lab_link::{command, CommandError, LabSync, Reactive};
use lab_link_nats::{async_nats, CommandResponder, Instrument, Publisher, PublisherConfig};
use lab_link_relay::Relay;
use lab_link_server::{Routes, Server};
use lab_link_testkit::{NatsServer, TestClient};
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any one step may take before the test fails.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Reactive, Serialize, Default)]
pub(crate) struct Supply {
    pub(crate) setpoint: f64,
    pub(crate) label: String,
}

/// Sets the setpoint; answers the value set.
#[command]
pub(crate) fn set_setpoint(sync: LabSync<Supply>, value: f64) -> Result<f64, CommandError> {
    sync.try_mutate(|s| s.set_setpoint(value))?;
    Ok(value)
}

/// A primary's state with its commands.
pub(crate) fn primary() -> LabSync<Supply> {
    let sync = LabSync::new(Supply::default());
    sync.command(set_setpoint);
    sync
}

pub(crate) fn supply() -> Instrument {
    Instrument::new("supply").unwrap()
}

pub(crate) async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .expect("no answer within the time-out")
}

pub(crate) async fn connect(nats: &NatsServer) -> async_nats::Client {
    within(async_nats::connect(nats.url())).await.unwrap()
}

pub(crate) async fn publish(nats: &NatsServer, sync: &LabSync<Supply>) -> Publisher {
    let config = PublisherConfig::new(supply());
    within(Publisher::start(
        connect(nats).await,
        Arc::new(sync.clone()),
        config,
    ))
    .await
    .unwrap()
}

/// The primary's answer to commands sent over NATS.
pub(crate) async fn answer_commands(nats: &NatsServer, sync: &LabSync<Supply>) -> CommandResponder {
    within(CommandResponder::start(
        connect(nats).await,
        Arc::new(sync.clone()),
        &supply(),
    ))
    .await
    .unwrap()
}

/// A primary that publishes and answers commands over `nats`.
pub(crate) async fn serving_primary(
    nats: &NatsServer,
) -> (LabSync<Supply>, Publisher, CommandResponder) {
    let sync = primary();
    let publisher = publish(nats, &sync).await;
    let commands = answer_commands(nats, &sync).await;
    (sync, publisher, commands)
}

/// Commits `count` changes, each its own version.
pub(crate) fn commit(sync: &LabSync<Supply>, count: u32) {
    for _ in 0..count {
        sync.try_mutate(|supply| {
            let next = supply.setpoint + 0.5;
            supply.set_setpoint(next)?;
            supply.set_label(format!("at {next}"))
        })
        .unwrap();
    }
}

pub(crate) fn document(sync: &LabSync<Supply>) -> Value {
    serde_json::from_str(sync.snapshot().document_json()).unwrap()
}

/// A relay of the instrument served on 127.0.0.1; dropping it shuts its
/// server down and stops following.
pub(crate) struct RelayServer {
    pub(crate) relay: Relay,
    pub(crate) addr: SocketAddr,
    routes: Routes,
    _running: JoinHandle<()>,
}

impl RelayServer {
    pub(crate) async fn start(nats: &NatsServer) -> Self {
        Self::with_timeout(nats, lab_link_relay::DEFAULT_COMMAND_TIMEOUT).await
    }

    /// A relay whose commands time out after `timeout`.
    pub(crate) async fn with_timeout(nats: &NatsServer, timeout: Duration) -> Self {
        let relay = within(Relay::start_with_timeout(
            connect(nats).await,
            &supply(),
            timeout,
        ))
        .await
        .unwrap();
        Self::serve(relay).await
    }

    pub(crate) async fn serve(relay: Relay) -> Self {
        let server = Server::builder()
            .bind(relay.source(), "127.0.0.1:0")
            .await
            .unwrap();
        Self {
            addr: server.local_addr(),
            routes: server.routes().clone(),
            _running: tokio::spawn(server.run()),
            relay,
        }
    }

    pub(crate) fn ws_url(&self) -> String {
        format!("ws://{}/sync/ws", self.addr)
    }

    pub(crate) async fn viewer(&self) -> TestClient {
        TestClient::connect(&self.ws_url()).await
    }
}

impl Drop for RelayServer {
    fn drop(&mut self) {
        self.routes.shutdown();
    }
}

/// Waits until `viewer` holds the primary's document at the primary's
/// version, then checks that it never resynchronised.
pub(crate) async fn assert_follows(viewer: &TestClient, primary: &LabSync<Supply>) {
    let expected = document(primary);
    let replica = viewer.wait_for_version(primary.version()).await;
    assert_eq!(replica, expected, "the primary's document");
    assert_eq!(
        viewer.version(),
        primary.version(),
        "the primary's versions"
    );
    assert_eq!(viewer.resyncs(), 0, "no resync");
}

/// A viewer on a raw socket, frame by frame: to see exactly whether a
/// relay answers a `?since=` with a resume or a snapshot.
pub(crate) struct RawViewer {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub(crate) document: Value,
    pub(crate) version: u64,
}

impl RawViewer {
    /// Connects and takes the snapshot.
    pub(crate) async fn connect(url: &str) -> Self {
        let (socket, _) = within(tokio_tungstenite::connect_async(url)).await.unwrap();
        let mut viewer = Self {
            socket,
            document: Value::Null,
            version: 0,
        };
        let first = viewer.next_frame().await;
        assert_eq!(first["type"], "snapshot", "{first}");
        viewer.document = first["data"].clone();
        viewer.version = first["version"].as_u64().unwrap();
        viewer
    }

    /// Connects to `url` with `?since=` this viewer's version and expects
    /// a resume, not a snapshot.
    pub(crate) async fn resume_at(self, url: &str) -> Self {
        let url = format!("{url}?since={}", self.version);
        let (socket, _) = within(tokio_tungstenite::connect_async(url)).await.unwrap();
        let mut viewer = Self { socket, ..self };
        let first = viewer.next_frame().await;
        assert_eq!(
            first,
            serde_json::json!({"type": "resume", "version": viewer.version}),
            "a resume without a snapshot"
        );
        viewer
    }

    /// Applies patches until the viewer holds `version`; each must be the
    /// next version.
    pub(crate) async fn follow_to(&mut self, version: u64) {
        while self.version < version {
            let patch = self.next_frame().await;
            assert_eq!(patch["type"], "patch", "{patch}");
            assert_eq!(patch["version"].as_u64(), Some(self.version + 1), "{patch}");
            let ops: Vec<lab_link::engine::PatchOp> =
                serde_json::from_value(patch["patch"].clone()).unwrap();
            lab_link::engine::apply(&mut self.document, &ops).unwrap();
            self.version += 1;
        }
    }

    /// Whether the relay closed the socket (or it broke) within the
    /// time-out.
    pub(crate) async fn closed(&mut self) -> bool {
        loop {
            match tokio::time::timeout(TIMEOUT, self.socket.next()).await {
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => {}
                Err(_) => return false,
            }
        }
    }

    async fn next_frame(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(TIMEOUT, self.socket.next())
                .await
                .expect("a frame within the time-out")
                .expect("the socket is open")
                .expect("a frame");
            if let Message::Text(text) = frame {
                return serde_json::from_str(&text).unwrap();
            }
        }
    }
}

/// The relay binary, killed on drop.
pub(crate) struct RelayProcess {
    child: Child,
    pub(crate) url: String,
}

impl RelayProcess {
    pub(crate) fn start(nats: &NatsServer) -> Self {
        Self::of(nats, "supply")
    }

    /// The relay binary serving `instrument`.
    pub(crate) fn of(nats: &NatsServer, instrument: &str) -> Self {
        Self::of_all(nats, &[instrument])
    }

    /// The relay binary serving `instruments` (`url` is then the first
    /// one's socket under `/i/{name}/sync` when there are several).
    pub(crate) fn of_all(nats: &NatsServer, instruments: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lab-link-relay"));
        for instrument in instruments {
            command.args(["--instrument", instrument]);
        }
        let mut child = command
            .args(["--bind", "127.0.0.1:0", "--nats"])
            .arg(nats.url())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the relay binary runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let http = line
            .trim()
            .strip_prefix("lab-link relay listening on http://")
            .unwrap_or_else(|| panic!("the relay did not start: {line:?}"));
        let prefix = match instruments {
            [_] => "/sync".to_owned(),
            [first, ..] => format!("/i/{first}/sync"),
            [] => panic!("no instrument"),
        };
        Self {
            url: format!("ws://{http}{prefix}/ws"),
            child,
        }
    }

    /// SIGKILL, as a crash would.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
