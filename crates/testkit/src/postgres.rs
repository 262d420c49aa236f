#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test support: a failure fails the test"
)]
//! A throwaway PostgreSQL server for one test (the store suite, the CLI): `initdb` into a
//! private temporary directory, `pg_ctl start` on a free loopback port (socket directory inside the same temporary
//! directory, `fsync` off), and `pg_ctl stop -m immediate` when the guard drops: at the end of
//! the test, and during unwinding when the test panics. One server per test keeps the proof
//! of "no leaked servers" local: nothing outlives the test's stack frame.
//!
//! `initdb` refuses to run as root, so when the tests run as root every PostgreSQL command runs
//! as the `postgres` user through `runuser` (arguments passed directly, never through a shell)
//! and the temporary directory is handed to that user.
//!
//! When PostgreSQL is not installed (`/usr/lib/postgresql/*/bin/initdb`), [`PgServer::start`]
//! fails the test if `CI` is set and otherwise prints a SKIPPED line and returns `None`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A running server; stopped on drop.
#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    data: PathBuf,
    as_postgres: Option<(u32, u32)>,
    port: u16,
    /// Removed after the server stopped (fields drop after `Drop::drop`).
    dir: tempfile::TempDir,
}

/// The newest installed PostgreSQL's `bin` directory.
fn find_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// Uid and gid of the `postgres` user, from `/etc/passwd`.
fn postgres_ids() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres") && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

fn unavailable(why: &str) -> Option<PgServer> {
    let msg = format!("PostgreSQL is not available for the tests: {why}");
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

impl PgServer {
    /// Initialises and starts a server; `None` when PostgreSQL is missing outside CI.
    ///
    /// # Panics
    /// When PostgreSQL is missing under CI, or the server cannot be started.
    pub fn start() -> Option<PgServer> {
        let Some(bin) = find_bin() else {
            return unavailable("no /usr/lib/postgresql/*/bin/initdb");
        };
        let dir = tempfile::Builder::new()
            .prefix("palisade-pg-")
            .tempdir()
            .unwrap();
        let root = {
            use std::os::unix::fs::MetadataExt as _;
            std::fs::metadata(dir.path()).unwrap().uid() == 0
        };
        let as_postgres = if root {
            let Some(ids) = postgres_ids() else {
                return unavailable("running as root and there is no postgres user");
            };
            std::os::unix::fs::chown(dir.path(), Some(ids.0), Some(ids.1)).unwrap();
            Some(ids)
        } else {
            None
        };
        let data = dir.path().join("data");
        let mut server = PgServer {
            bin,
            data,
            as_postgres,
            port: 0,
            dir,
        };
        let init = server.run(
            "initdb",
            &[
                "-D".as_ref(),
                server.data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
                "--no-instructions".as_ref(),
            ],
        );
        assert!(init.status.success(), "initdb failed: {}", text(&init));
        // Another process may take the port between probing and binding: try a few.
        for _ in 0..5 {
            server.port = free_port();
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off",
                server.port,
                server.dir.path().display()
            );
            let log = server.dir.path().join("server.log");
            let started = server.run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    server.data.as_os_str(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-w".as_ref(),
                    "-t".as_ref(),
                    "60".as_ref(),
                    "-o".as_ref(),
                    options.as_ref(),
                    "start".as_ref(),
                ],
            );
            if started.status.success() {
                return Some(server);
            }
            let log_text = std::fs::read_to_string(&log).unwrap_or_default();
            if !log_text.contains("could not bind") && !log_text.contains("in use") {
                panic!("pg_ctl start failed: {}\n{log_text}", text(&started));
            }
            server.stop();
        }
        panic!("no free port for PostgreSQL after 5 attempts");
    }

    /// Runs a PostgreSQL program, as the `postgres` user when the tests run as root.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> Output {
        let program = self.bin.join(program);
        let mut cmd = if self.as_postgres.is_some() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
    }

    fn stop(&self) {
        let _ = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        );
    }

    /// Creates an empty database (with PostgreSQL's `createdb`) and returns its URL.
    ///
    /// # Panics
    /// When `createdb` fails.
    pub fn fresh_database(&self, name: &str) -> String {
        let port = self.port.to_string();
        let out = self.run(
            "createdb",
            &[
                "-h".as_ref(),
                "127.0.0.1".as_ref(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                name.as_ref(),
            ],
        );
        assert!(out.status.success(), "createdb {name}: {}", text(&out));
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
