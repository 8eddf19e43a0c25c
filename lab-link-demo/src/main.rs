//! `lab-link-demo`: serves the demo instrument (`cargo xtask serve-demo`
//! runs it). Prints `lab-link demo listening on http://HOST:PORT` once it
//! accepts connections; logs go to standard error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lab_link::auth::AuthConfig;
use lab_link::ServerConfig;
use lab_link_demo::{Backlog, Options, Page};

/// The demo instrument of DEMO.md: a simulated four-channel bias source
/// with a photon counter and a web UI at `/`.
#[derive(Debug, Parser)]
#[command(name = "lab-link-demo", version)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Path prefix of the sync endpoints.
    #[arg(long, default_value = "/sync")]
    prefix: String,
    /// Keep the state in an SQLite file at PATH (restored at start).
    #[arg(long, value_name = "PATH")]
    persist: Option<PathBuf>,
    /// Record the bias voltages and the rate over time in an SQLite file
    /// at PATH (default: beside --persist's file, if given).
    #[arg(long, value_name = "PATH")]
    history: Option<PathBuf>,
    /// Turn on access control with its store at PATH.
    #[arg(long, value_name = "PATH")]
    auth: Option<PathBuf>,
    /// Add a separately hosted UI origin (repeatable; with --auth).
    #[arg(long, value_name = "URL")]
    allowed_origin: Vec<String>,
    /// Make loopback clients authenticate too (with --auth).
    #[arg(long)]
    no_trust_loopback: bool,
    /// The most bytes queued for one client before it is resynchronised.
    #[arg(long, value_name = "BYTES", default_value_t = ServerConfig::DEFAULT_QUEUE_BYTES)]
    queue_bytes: usize,
    /// TCP_NOTSENT_LOWAT of accepted sockets; 0 leaves the kernel's.
    #[arg(long, value_name = "BYTES", default_value_t = ServerConfig::DEFAULT_NOTSENT_LOWAT)]
    tcp_notsent_lowat: u32,
    /// SO_SNDBUF of accepted sockets (default: the kernel's autotuning).
    #[arg(long, value_name = "BYTES")]
    send_buffer: Option<usize>,
    /// Channels at start (the contract has 4; more measure a large state).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    channels: u32,
    /// Publish to NATS JetStream at URL (for relays) and answer their
    /// commands.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// The instrument's name on NATS (with --nats).
    #[arg(long, value_name = "NAME", default_value = "demo", requires = "nats")]
    instrument: String,
    /// The page at `/`: the demo's own UI, or the panel generated from
    /// /schema (the demo's UI then at /demo/).
    #[arg(long, value_enum, default_value_t = Page::HandMade)]
    panel: Page,
    /// Show level-2 clients who is connected and let them claim the
    /// control lock (presence and the control lock).
    #[arg(long)]
    presence: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    raise_open_files_limit();
    let auth = match cli.auth {
        Some(store) => {
            let mut config = AuthConfig::new()
                .store(store)
                .trust_loopback(!cli.no_trust_loopback);
            for origin in cli.allowed_origin {
                config = config.allowed_origin(origin);
            }
            Some(config)
        }
        None if !cli.allowed_origin.is_empty() || cli.no_trust_loopback => {
            eprintln!(
                "lab-link demo: --allowed-origin and --no-trust-loopback configure access \
                 control: add --auth PATH (the store of passphrase, sessions and tokens)"
            );
            return ExitCode::from(2);
        }
        None => None,
    };
    let options = Options {
        host: cli.host,
        port: cli.port,
        prefix: cli.prefix,
        persist: cli.persist,
        history: cli.history,
        auth,
        backlog: Backlog {
            queue_bytes: cli.queue_bytes,
            tcp_notsent_lowat: (cli.tcp_notsent_lowat > 0).then_some(cli.tcp_notsent_lowat),
            send_buffer_bytes: cli.send_buffer,
        },
        channels: cli.channels as usize,
        nats: cli.nats.map(|url| lab_link_demo::Nats {
            url,
            instrument: cli.instrument,
        }),
        page: cli.panel,
        presence: cli.presence,
    };
    let server = match lab_link_demo::bind(&options).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!(
                "lab-link demo: cannot serve on {}:{}: {e}",
                options.host, options.port
            );
            return ExitCode::FAILURE;
        }
    };
    // stdout is line-buffered: the line is out before the first accept.
    println!("lab-link demo listening on http://{}", server.local_addr());
    server.run().await;
    ExitCode::SUCCESS
}

/// Raises the soft limit of open files to the hard one: every client is a
/// descriptor, and the usual soft limit (1,024) is below the demo's
/// connection limit.
fn raise_open_files_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    if let Err(e) = setrlimit(Resource::Nofile, raised) {
        tracing::warn!("could not raise the open-files limit: {e}");
    }
}
