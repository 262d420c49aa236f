//! Real parts for tests: finding system tools, and a throwaway OCI registry (Debian's
//! `docker-registry`) on a free loopback port, stopped (by its pid) when dropped.
//!
//! A missing tool fails the test when `CI` is set (CI installs it) and is reported as
//! SKIPPED otherwise, like missing corpus data.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The path of an executable on `PATH`.
pub fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(bin))
            .find(|p| p.is_file())
    })
}

/// The path of a tool the test needs; `None` (SKIPPED) when missing outside CI.
///
/// # Panics
/// When the tool is missing and `CI` is set.
#[expect(clippy::panic, reason = "a missing tool under CI is a failed test")]
pub fn require(bin: &str, package: &str) -> Option<PathBuf> {
    if let Some(p) = which(bin) {
        return Some(p);
    }
    let msg = format!("{bin} not installed: apt-get install {package}");
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// A running `docker-registry` serving plain HTTP on 127.0.0.1.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Registry {
    /// Starts a registry storing its data under a new directory in `parent`.
    pub fn start(bin: &Path, parent: &Path) -> std::io::Result<Registry> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = parent.join(format!("registry-{port}"));
        std::fs::create_dir_all(&dir)?;
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        let cfg = dir.join("config.yml");
        std::fs::write(&cfg, config)?;
        let log = std::fs::File::create(dir.join("registry.log"))?;
        let child = Command::new(bin)
            .arg("serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut registry = Registry { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(registry);
            }
            if let Ok(Some(status)) = registry.child.try_wait() {
                let log =
                    std::fs::read_to_string(registry.dir.join("registry.log")).unwrap_or_default();
                return Err(std::io::Error::other(format!(
                    "docker-registry exited with {status}: {log}"
                )));
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::other(
                    "docker-registry did not listen in 20 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}
