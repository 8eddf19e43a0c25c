//! [`NatsServer`]: a real `nats-server` with JetStream on 127.0.0.1, for
//! tests of lab-link over NATS.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long [`NatsServer::start`] waits for the server to accept clients.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times [`NatsServer::start`] tries another port when the one it
/// picked was taken between probing it and the server binding it.
const PORT_ATTEMPTS: usize = 3;

/// Where Debian installs the binary: `/usr/sbin` is not on every user's
/// `PATH`, so it is searched after `PATH`.
const EXTRA_DIRS: &[&str] = &["/usr/sbin", "/usr/local/sbin"];

/// A `nats-server` process for one test: JetStream on, listening on
/// `127.0.0.1` with a port the operating system picked, its store in a
/// fresh temporary directory. Dropping it kills the process and removes
/// the directory.
///
/// The binary is Debian's `nats-server` package (2.9 or later), which
/// `cargo xtask setup` installs; it is looked up on `PATH`, then in
/// `/usr/sbin` and `/usr/local/sbin`.
///
/// ```
/// use lab_link_testkit::NatsServer;
///
/// let nats = NatsServer::start();
/// assert!(nats.url().starts_with("nats://127.0.0.1:"));
/// assert!(nats.store_dir().is_dir());
/// drop(nats); // killed, its store removed
/// ```
#[derive(Debug)]
pub struct NatsServer {
    child: Child,
    addr: SocketAddr,
    store_dir: PathBuf,
}

impl NatsServer {
    /// Starts the server and waits (at most 10 s) until it accepts clients;
    /// JetStream is enabled before the server listens, so it is ready too.
    ///
    /// # Panics
    ///
    /// When the binary is missing (the message says how to install it), or
    /// the server does not start or get ready in time (a test helper fails
    /// loudly, with the server's own log).
    pub fn start() -> Self {
        let binary = binary();
        let store_dir = temporary_dir();
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            match spawn(&binary, &store_dir, free_port()) {
                Ok((child, addr)) => {
                    return Self {
                        child,
                        addr,
                        store_dir,
                    }
                }
                Err(log) => last_log = log,
            }
        }
        let _ = std::fs::remove_dir_all(&store_dir);
        panic!("NatsServer: nats-server did not get ready:\n{last_log}");
    }

    /// The client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The JetStream store directory (removed when the server is dropped).
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// Kills the server (SIGKILL, as a crash would) and starts it again on
    /// the same port with the same store, waiting until it accepts
    /// clients: what JetStream had stored is there again, and clients
    /// reconnect to the same URL. Call it from a blocking context or
    /// `tokio::task::spawn_blocking` when clients must keep running.
    ///
    /// ```
    /// use lab_link_testkit::NatsServer;
    ///
    /// let mut nats = NatsServer::start();
    /// let url = nats.url();
    /// nats.restart(std::time::Duration::from_millis(100));
    /// assert_eq!(nats.url(), url);
    /// ```
    ///
    /// # Panics
    ///
    /// When the server does not get ready again on its port within 10 s.
    pub fn restart(&mut self, down_for: Duration) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(down_for);
        let binary = binary();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            // The port may linger a moment after the kill: try again.
            match spawn(&binary, &self.store_dir, self.addr) {
                Ok((child, _)) => {
                    self.child = child;
                    return;
                }
                Err(log) if Instant::now() >= deadline => {
                    panic!(
                        "NatsServer: nats-server did not restart on {}:\n{log}",
                        self.addr
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.store_dir);
    }
}

/// The binary, or a panic that says how to install it.
fn binary() -> PathBuf {
    find_binary().unwrap_or_else(|| {
        panic!(
            "NatsServer: `nats-server` is not installed (not on PATH nor in /usr/sbin): \
             run `cargo xtask setup`, or as root `apt-get install nats-server`"
        )
    })
}

fn find_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}

/// A new empty directory under the system's temporary directory.
fn temporary_dir() -> PathBuf {
    let name = format!(
        "lab-link-nats-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    );
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("NatsServer: cannot create {}: {e}", dir.display()));
    dir
}

/// Starts one server on `addr` and waits until it is ready; on failure
/// the process is gone and the error is its log.
fn spawn(binary: &Path, store_dir: &Path, addr: SocketAddr) -> Result<(Child, SocketAddr), String> {
    let mut child = Command::new(binary)
        .args(["--addr", "127.0.0.1", "--port"])
        .arg(addr.port().to_string())
        .arg("--jetstream")
        .arg("--store_dir")
        .arg(store_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if accepts_clients(addr) {
            // The log is no longer read: let it drain so the server never
            // blocks on a full pipe.
            if let Some(stderr) = child.stderr.take() {
                std::thread::spawn(move || {
                    BufReader::new(stderr).lines().for_each(drop);
                });
            }
            return Ok((child, addr));
        }
        let exited = matches!(child.try_wait(), Ok(Some(_)));
        if exited || Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let mut log = String::new();
            if let Some(stderr) = child.stderr.take() {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
            return Err(log);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap_or_else(|e| panic!("NatsServer: cannot bind 127.0.0.1:0: {e}"))
}

/// Whether a NATS server answers on `addr`: it greets every client with
/// an `INFO` line.
fn accepts_clients(addr: SocketAddr) -> bool {
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut greeting = String::new();
    BufReader::new(stream).read_line(&mut greeting).is_ok() && greeting.starts_with("INFO ")
}
