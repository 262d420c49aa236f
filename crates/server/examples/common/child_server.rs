//! The server as a child process for the measuring examples (`api_latency`, `overview_render`),
//! so that its memory is measured alone: the example re-runs itself with `serve LOCATION DIR`,
//! reads the port the child prints, times plain HTTP requests against it and reads its RSS.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use palisade_server::{Config, Server, TlsMode};
use palisade_store::AnyStore;

/// When the example was started as the child (`serve LOCATION DIR`), serves until stdin
/// closes and returns true.
pub(crate) fn serve_if_child(args: &[String]) -> bool {
    let [_, cmd, location, dir, ..] = args else {
        return false;
    };
    if cmd != "serve" {
        return false;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = AnyStore::open(location).await.unwrap();
        let mut config = Config::new(dir);
        config.tls = TlsMode::Plain;
        let server = Server::new(config, store).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        std::io::stdout().flush().unwrap();
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        });
        server
            .serve(listener, async {
                let _ = stdin_closed.await;
            })
            .await
            .unwrap();
    });
    true
}

/// Starts this example as the server child on the store at `location` (a PostgreSQL URL or
/// a data directory), data in `dir`; returns it and its port once it listens.
pub(crate) fn start(location: &str, dir: &std::path::Path) -> (Child, u16) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("serve")
        .arg(location)
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("port from the server");
    std::thread::sleep(Duration::from_millis(500));
    (child, port)
}

/// One GET over a fresh connection with one extra header line (`Authorization: Bearer ..`,
/// `Cookie: ..`): the time until the whole response is read, and the body.
pub(crate) fn get(port: u16, path: &str, header: &str) -> (Duration, Vec<u8>) {
    let t = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{header}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    s.read_to_end(&mut response).unwrap();
    let elapsed = t.elapsed();
    assert!(
        response.starts_with(b"HTTP/1.1 200"),
        "{path}: {}",
        String::from_utf8_lossy(&response[..response.len().min(300)])
    );
    let body = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or_else(Vec::new, |at| response[at + 4..].to_vec());
    (elapsed, body)
}

/// Resident memory of a process in MiB (`VmRSS`).
pub(crate) fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}
