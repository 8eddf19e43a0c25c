//! `NatsServer`: a real nats-server with JetStream, gone when dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::time::Duration;

use lab_link_testkit::NatsServer;

/// The server's greeting, the `INFO` line every client gets first.
fn greeting(nats: &NatsServer) -> String {
    let stream = TcpStream::connect(nats.addr()).expect("the server accepts clients");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

#[test]
fn starts_with_jetstream_on_loopback_and_stops_when_dropped() {
    let nats = NatsServer::start();
    assert!(nats.addr().ip().is_loopback());
    assert_eq!(nats.url(), format!("nats://{}", nats.addr()));
    let info = greeting(&nats);
    assert!(info.starts_with("INFO "), "{info}");
    assert!(info.contains(r#""jetstream":true"#), "{info}");

    let (addr, store_dir) = (nats.addr(), nats.store_dir().to_owned());
    assert!(store_dir.is_dir());
    drop(nats);
    assert!(!store_dir.exists(), "the store is removed");
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
        "the server is gone"
    );
}

#[test]
fn two_servers_run_side_by_side() {
    let (first, second) = (NatsServer::start(), NatsServer::start());
    assert_ne!(first.addr(), second.addr());
    assert_ne!(first.store_dir(), second.store_dir());
    assert!(greeting(&first).starts_with("INFO "));
    assert!(greeting(&second).starts_with("INFO "));
}
