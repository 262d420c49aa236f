//! `palisade`: the command-line interface.
//!
//! Thin by design: it parses arguments into typed structs (clap derive), calls the library
//! crates, prints, and maps the outcome onto stable exit codes:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success, nothing at or above `--fail-on` |
//! | 1 | findings at or above `--fail-on` (or a failed verification) |
//! | 2 | errors: unreadable or malformed input, bad arguments, failed connection |

mod cmd;
mod config;
mod report;
mod settings;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

use crate::settings::GlobalArgs;

/// palisade: self-hosted container security for Kubernetes clusters and offline files.
///
/// Posture management (hardening checks, Pod Security Standards, Gatekeeper policies) from
/// manifest files or a live cluster; vulnerability assessment of images, registries, root
/// filesystems and SBOMs against an offline advisory database; threat detection over
/// Kubernetes audit events; and `palisade up`, the platform with its API and dashboard.
/// Every command prints machine-readable output with `--format json` and uses stable exit
/// codes: 0 ok, 1 findings at or above `--fail-on` (or a failed verification), 2 errors.
#[derive(Debug, Parser)]
#[command(
    name = "palisade",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the platform: API, dashboard and posture snapshots of the current cluster, on the
    /// embedded store under the data directory (HTTPS on 127.0.0.1:7443 by default).
    Up(cmd::platform::UpArgs),
    /// Posture management: hardening checks, Pod Security Standards, custom policies.
    #[command(subcommand)]
    Posture(cmd::posture::PostureCommand),
    /// Vulnerability assessment of images, root filesystems and SBOMs.
    #[command(subcommand)]
    Image(cmd::image::ImageCommand),
    /// Writes the SBOM (CycloneDX 1.6 or SPDX 2.3 JSON) of an image, root filesystem or SBOM.
    Sbom(cmd::image::SbomArgs),
    /// The local vulnerability database (import, update, status).
    #[command(subcommand)]
    Db(cmd::image::DbCommand),
    /// Stored vulnerability reports: rescans against the current database.
    #[command(subcommand)]
    Vuln(cmd::vuln::VulnCommand),
    /// Registries: scan every new image digest of a registry or repository.
    #[command(subcommand)]
    Registry(cmd::vuln::RegistryCommand),
    /// Verifies a signed scan report (DSSE envelope from `image scan --sign`).
    Verify(cmd::vuln::VerifyArgs),
    /// Signing keys for scan reports and database bundles.
    #[command(subcommand)]
    Key(cmd::vuln::KeyCommand),
    /// Runtime threat detection: Kubernetes audit events through Falco-compatible rules.
    #[command(subcommand)]
    Runtime(cmd::runtime::RuntimeCommand),
    /// API tokens for the platform (`token create --role reader|admin`).
    #[command(subcommand)]
    Token(cmd::platform::TokenCommand),
}

/// Outcome of a command, mapped onto the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Exit 0.
    Clean,
    /// Exit 1: findings at or above the threshold, or failed verification cases.
    Failed,
    /// Exit 2: some input could not be processed (reported on stderr), the rest was.
    Errors,
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    if let Err(e) = apply_config(&mut cli, &matches) {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    settings::init_logging(&cli.global);
    let result = match cli.command {
        Command::Up(a) => cmd::platform::up(a, &cli.global),
        Command::Posture(c) => cmd::posture::run(c, &cli.global),
        Command::Runtime(c) => cmd::runtime::run(c, &cli.global),
        Command::Image(c) => cmd::image::image(c, &cli.global),
        Command::Sbom(a) => cmd::image::sbom(a, &cli.global),
        Command::Db(c) => cmd::image::db(c, &cli.global),
        Command::Vuln(c) => cmd::vuln::vuln(c, &cli.global),
        Command::Registry(c) => cmd::vuln::registry_cmd(c, &cli.global),
        Command::Verify(a) => cmd::vuln::verify(a),
        Command::Key(c) => cmd::vuln::key(c),
        Command::Token(c) => cmd::platform::token(c, &cli.global),
    };
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Ok(Outcome::Errors) => ExitCode::from(2),
        // The reader of the output went away (`palisade ... | head`): stop quietly, with the
        // status a shell gives a process ended by SIGPIPE.
        Err(e) if is_broken_pipe(&e) => ExitCode::from(141),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Whether an error comes from writing to a closed pipe.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// Applies the configuration file under the environment and the flags (see `config`).
fn apply_config(cli: &mut Cli, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    let Some(path) = config::locate(cli.global.config.as_deref()) else {
        return Ok(());
    };
    let file = config::load(&path)?;
    let sub = matches.subcommand().map(|(_, m)| m);
    let defaulted =
        |id: &str| config::defaulted(matches, id) && sub.is_none_or(|m| config::defaulted(m, id));
    if defaulted("data_dir") && file.data_dir.is_some() {
        cli.global.data_dir = file.data_dir.clone();
    }
    if defaulted("store") && file.store.is_some() {
        cli.global.store = file.store.clone();
    }
    if defaulted("log")
        && let Some(log) = &file.log
    {
        cli.global.log = log.clone();
    }
    if let (Command::Up(a), Some(m)) = (&mut cli.command, sub) {
        a.apply_file(&file.up, m)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// Renders the long help of every command, depth first, as the CLI reference page.
    fn reference() -> String {
        fn walk(cmd: &mut clap::Command, path: &str, out: &mut String) {
            let name = if path.is_empty() {
                cmd.get_name().to_owned()
            } else {
                format!("{path} {}", cmd.get_name())
            };
            let help = cmd.render_long_help().to_string();
            out.push_str(&format!(
                "## `{name}`\n\n```text\n{}\n```\n\n",
                help.trim_end()
            ));
            let mut subs: Vec<clap::Command> = cmd.get_subcommands().cloned().collect();
            for sub in &mut subs {
                if sub.get_name() != "help" {
                    walk(sub, &name, out);
                }
            }
        }
        let mut cmd = super::Cli::command().term_width(100);
        cmd.build();
        let mut out = String::from(
            "# Command-line reference\n\nGenerated from the command definitions: regenerate with\n`PALISADE_BLESS=1 cargo test -p palisade cli_reference`.\n\n",
        );
        walk(&mut cmd, "", &mut out);
        out
    }

    #[test]
    #[expect(clippy::expect_used, clippy::panic, reason = "test")]
    fn cli_reference_is_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
        let want = reference();
        if std::env::var_os("PALISADE_BLESS").is_some() {
            std::fs::write(&path, &want).expect("write docs/cli.md");
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            panic!(
                "docs/cli.md is out of date: run PALISADE_BLESS=1 cargo test -p palisade cli_reference"
            );
        }
    }
}
