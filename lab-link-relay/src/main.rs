//! `lab-link-relay`: serves instruments' state from NATS JetStream.
//!
//! ```text
//! lab-link-relay --instrument NAME [--instrument NAME …] [--nats URL] [--bind HOST:PORT]
//! ```
//!
//! Defaults: `--nats nats://127.0.0.1:4222`, `--bind 127.0.0.1:8001`.
//! One instrument is served under `/sync`; several under
//! `/i/{name}/sync` each, with their index at `GET /i` (a [`Gateway`]).
//! Prints `lab-link relay listening on http://HOST:PORT` once it accepts
//! viewers, and serves until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use lab_link_nats::{async_nats, Instrument};
use lab_link_relay::{Gateway, Relay};
use lab_link_server::{terminate_signal, Server, ServerConfig};

const USAGE: &str =
    "usage: lab-link-relay --instrument NAME [--instrument NAME ...] [--nats URL] [--bind HOST:PORT]";

/// The command line.
#[derive(Debug)]
struct Flags {
    instruments: Vec<String>,
    nats: String,
    bind: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let flags = match parse(std::env::args().skip(1)) {
        Ok(flags) => flags,
        Err(message) => {
            eprintln!("lab-link-relay: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(flags).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lab-link-relay: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(flags: Flags) -> Result<(), String> {
    let instruments = flags
        .instruments
        .iter()
        .map(|name| Instrument::new(name.as_str()).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let nats = async_nats::connect(&flags.nats)
        .await
        .map_err(|e| format!("cannot connect to NATS at {}: {e}", flags.nats))?;
    if let [instrument] = instruments.as_slice() {
        let relay = Relay::start(nats, instrument)
            .await
            .map_err(|e| e.to_string())?;
        let server = Server::builder()
            .shutdown_signal(terminate_signal())
            .bind(relay.source(), flags.bind.as_str())
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", flags.bind))?;
        println!("lab-link relay listening on http://{}", server.local_addr());
        server.run().await;
        return Ok(());
    }
    // Several: the server serves the first instrument under its prefix,
    // and the gateway everything else (the other instruments, the index).
    let gateway = std::sync::Arc::new(
        Gateway::start(nats, &instruments)
            .await
            .map_err(|e| e.to_string())?,
    );
    let lifespans = gateway.start_routes();
    let (first, source) = gateway
        .sources()
        .next()
        .map(|(instrument, source)| (instrument.clone(), source))
        .ok_or("no instrument")?;
    let fallback = gateway.clone();
    let server = Server::builder()
        .config(ServerConfig::default().prefix(Gateway::prefix_of(&first)))
        .fallback(move |request| fallback.handle(request))
        .shutdown_signal(terminate_signal())
        .bind(source, flags.bind.as_str())
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", flags.bind))?;
    println!("lab-link relay listening on http://{}", server.local_addr());
    server.run().await;
    gateway.shutdown();
    for lifespan in lifespans {
        lifespan.stop().await;
    }
    Ok(())
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Flags, String> {
    let mut flags = Flags {
        instruments: Vec::new(),
        nats: "nats://127.0.0.1:4222".to_owned(),
        bind: "127.0.0.1:8001".to_owned(),
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--instrument" => flags.instruments.push(value),
            "--nats" => flags.nats = value,
            "--bind" => flags.bind = value,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if flags.instruments.is_empty() {
        return Err("--instrument is required".to_owned());
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[track_caller]
    fn check(args: &[&str], expect: Result<(&str, &str, &str), &str>) {
        let expect = expect.map(|(instruments, nats, bind)| (instruments.to_owned(), nats, bind));
        let parsed = parse(args.iter().map(|arg| (*arg).to_owned()));
        let parsed = parsed
            .as_ref()
            .map(|flags| {
                (
                    flags.instruments.join(","),
                    flags.nats.as_str(),
                    flags.bind.as_str(),
                )
            })
            .map_err(String::as_str);
        assert_eq!(parsed, expect, "{args:?}");
    }

    #[test]
    fn reads_the_flags_and_names_what_is_wrong() {
        check(
            &["--instrument", "supply"],
            Ok(("supply", "nats://127.0.0.1:4222", "127.0.0.1:8001")),
        );
        check(
            &[
                "--bind",
                "0.0.0.0:9000",
                "--nats",
                "nats://hub:4222",
                "--instrument",
                "a",
            ],
            Ok(("a", "nats://hub:4222", "0.0.0.0:9000")),
        );
        check(
            &["--instrument", "a", "--instrument", "b"],
            Ok(("a,b", "nats://127.0.0.1:4222", "127.0.0.1:8001")),
        );
        check(&[], Err("--instrument is required"));
        check(&["--instrument"], Err("--instrument needs a value"));
        check(&["--port", "1"], Err(r#"unknown argument "--port""#));
    }
}
