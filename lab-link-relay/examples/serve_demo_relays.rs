//! The demo behind relays, on one machine: what `cargo xtask serve-demo
//! --relays N` runs. Starts nats-server with JetStream (a temporary store),
//! the demo as the primary of the instrument `demo`, and N relays of it,
//! prints where each listens, and serves until Ctrl-C or SIGTERM.
//!
//! ```text
//! cargo run -p lab-link-relay --example serve_demo_relays -- [--relays N] [--port P]
//! ```
//!
//! The demo listens on `--port` (default 8000; 0 picks one), the relays on
//! the ports after it (or ports picked for them with `--port 0`).

use std::process::ExitCode;

use lab_link_nats::{async_nats, Instrument};
use lab_link_relay::Relay;
use lab_link_server::{terminate_signal, Server};
use lab_link_testkit::NatsServer;

const USAGE: &str = "usage: serve_demo_relays [--relays N] [--port P]";

#[tokio::main]
async fn main() -> ExitCode {
    let (relays, port) = match parse(std::env::args().skip(1)) {
        Ok(flags) => flags,
        Err(message) => {
            eprintln!("serve_demo_relays: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(relays, port).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("serve_demo_relays: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(relays: u16, port: u16) -> Result<(), String> {
    let nats = NatsServer::start();
    println!(
        "nats-server (JetStream) at {}, its store in {}",
        nats.url(),
        nats.store_dir().display()
    );
    let options = lab_link_demo::Options {
        port,
        nats: Some(lab_link_demo::Nats::new(nats.url())),
        ..lab_link_demo::Options::default()
    };
    let demo = lab_link_demo::bind(&options)
        .await
        .map_err(|e| format!("the demo cannot start: {e}"))?;
    println!(
        "lab-link demo listening on http://{} (the primary of the instrument demo)",
        demo.local_addr()
    );
    let mut running = vec![tokio::spawn(demo.run())];
    let instrument = Instrument::new("demo").map_err(|e| e.to_string())?;
    for n in 1..=relays {
        let client = async_nats::connect(nats.url())
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", nats.url()))?;
        let relay = Relay::start(client, &instrument)
            .await
            .map_err(|e| e.to_string())?;
        let relay_port = if port == 0 { 0 } else { port.saturating_add(n) };
        let server = Server::builder()
            .shutdown_signal(terminate_signal())
            .bind(relay.source(), ("127.0.0.1", relay_port))
            .await
            .map_err(|e| format!("relay {n} cannot listen on port {relay_port}: {e}"))?;
        println!(
            "lab-link relay listening on http://{} (sync endpoints under /sync)",
            server.local_addr()
        );
        running.push(tokio::spawn(async move {
            server.run().await;
            drop(relay);
        }));
    }
    for task in running {
        let _ = task.await;
    }
    drop(nats);
    Ok(())
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<(u16, u16), String> {
    let (mut relays, mut port) = (2, 8000);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = value
            .parse::<u16>()
            .map_err(|e| format!("{flag} {value:?}: {e}"))?;
        match flag.as_str() {
            "--relays" => relays = number,
            "--port" => port = number,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((relays, port))
}
