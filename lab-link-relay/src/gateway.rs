//! [`Gateway`]: several instruments' relays behind one address, each
//! under `/i/{name}/sync/…`, with an index of them at `GET /i`.

use http::{header, Request, Response, StatusCode};
use lab_link_core::SyncSource;
use lab_link_nats::async_nats::Client;
use lab_link_nats::{Error, Instrument};
use lab_link_server::{Body, Lifespan, Routes, ServerConfig};
use serde_json::{json, Value};

use crate::Relay;

/// One instrument of a gateway: its relay and its routes.
#[derive(Debug)]
struct Mounted {
    instrument: Instrument,
    relay: Relay,
    routes: Routes,
}

/// The relays of several instruments served from one address: the
/// endpoints of the instrument `name` under `/i/{name}/sync`
/// (`/i/{name}/sync/state`, `/schema`, `/ws`), each exactly as a relay of
/// that instrument alone serves them, and at `GET /i` the index of the
/// instruments with where to find them and the version each relay holds.
///
/// [`handle`](Gateway::handle) answers a request; mount it in a hyper or
/// axum app, or let [`lab_link_server::Server`] serve it as its fallback
/// (what the `lab-link-relay` binary does with several `--instrument`s).
///
/// ```no_run
/// use lab_link_nats::{async_nats, Instrument};
/// use lab_link_relay::Gateway;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let nats = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let instruments = [Instrument::new("supply-7")?, Instrument::new("magnet")?];
/// let gateway = Gateway::start(nats, &instruments).await?;
/// let _lifespans = gateway.start_routes();
/// let index = gateway.index();
/// assert_eq!(index["instruments"][0]["sync"], "/i/supply-7/sync");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Gateway {
    mounted: Vec<Mounted>,
}

impl Gateway {
    /// Starts a relay of each of `instruments` (see [`Relay::start`]).
    ///
    /// # Errors
    ///
    /// The first instrument that cannot be followed (not published yet,
    /// or NATS does not answer), named in the error.
    pub async fn start(client: Client, instruments: &[Instrument]) -> Result<Self, Error> {
        let mut mounted = Vec::with_capacity(instruments.len());
        for instrument in instruments {
            let relay = Relay::start(client.clone(), instrument).await?;
            let config = ServerConfig::default().prefix(Self::prefix_of(instrument));
            let routes = Routes::new(relay.source(), config);
            mounted.push(Mounted {
                instrument: instrument.clone(),
                relay,
                routes,
            });
        }
        Ok(Self { mounted })
    }

    /// Where an instrument's endpoints are: `/i/{name}/sync`.
    pub fn prefix_of(instrument: &Instrument) -> String {
        format!("/i/{instrument}/sync")
    }

    /// Each instrument with its relay's source (see [`Relay::source`]), in
    /// the order given to [`start`](Gateway::start).
    pub fn sources(
        &self,
    ) -> impl Iterator<Item = (&Instrument, std::sync::Arc<dyn SyncSource>)> + '_ {
        self.mounted
            .iter()
            .map(|mounted| (&mounted.instrument, mounted.relay.source()))
    }

    /// Starts every instrument's routes (see [`Routes::start`]); stop
    /// each returned lifespan when the gateway stops serving.
    pub fn start_routes(&self) -> Vec<Lifespan> {
        self.mounted
            .iter()
            .map(|mounted| mounted.routes.start())
            .collect()
    }

    /// The instruments with their endpoints' prefix, the primary's epoch
    /// and the version their relay holds (`GET /i`).
    pub fn index(&self) -> Value {
        let instruments: Vec<Value> = self
            .mounted
            .iter()
            .map(|mounted| {
                let source = mounted.relay.replica();
                json!({
                    "name": mounted.instrument.to_string(),
                    "sync": Self::prefix_of(&mounted.instrument),
                    "epoch": source.epoch().as_str(),
                    "version": SyncSource::version(source),
                })
            })
            .collect();
        json!({ "instruments": instruments })
    }

    /// Answers `request`: the index at `/i` (and `/i/`), an instrument's
    /// endpoints under its prefix, a JSON `404` naming the known
    /// instruments for any other path.
    pub fn handle<B>(&self, request: Request<B>) -> Response<Body>
    where
        B: Send + 'static,
    {
        let path = request.uri().path();
        if path == "/i" || path == "/i/" {
            return json_response(StatusCode::OK, &self.index());
        }
        let name = path
            .strip_prefix("/i/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        let request = match self
            .mounted
            .iter()
            .find(|mounted| mounted.instrument.to_string() == name)
        {
            Some(mounted) => match mounted.routes.handle(request) {
                Ok(response) => return response,
                Err(request) => request,
            },
            None => request,
        };
        let known: Vec<String> = self
            .mounted
            .iter()
            .map(|mounted| mounted.instrument.to_string())
            .collect();
        json_response(
            StatusCode::NOT_FOUND,
            &json!({
                "error": "not_found",
                "message": format!(
                    "no endpoint at {}: instruments are served under /i/{{name}}/sync, the \
                     index is at /i",
                    request.uri().path()
                ),
                "instruments": known,
            }),
        )
    }

    /// Closes every instrument's sync sockets.
    pub fn shutdown(&self) {
        for mounted in &self.mounted {
            mounted.routes.shutdown();
        }
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}
