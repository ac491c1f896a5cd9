//! `postern`: the one binary. Every subcommand takes `--data-dir DIR`
//! (default `$POSTERN_DATA_DIR`, else `./postern-data`) or `--config FILE`.
//!
//! # Layout
//! - [`cmd`]: one module per subcommand family.
//! - [`paths`]: where the data directory and configuration are.
//! - [`logging`]: the tracing subscriber (only this crate installs one).

mod cmd;
mod logging;
mod paths;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::paths::Location;

/// Postern: a secure-by-default mail and calendar server.
#[derive(Debug, Parser)]
#[command(name = "postern", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    location: Location,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a data directory: a commented postern.toml and a self-signed certificate.
    Init(cmd::init::InitArgs),
    /// Run the server.
    Serve,
    /// Validate the configuration and certificates; exit non-zero on any problem.
    Check,
    /// Development set-up: init on the dev ports (if needed), then serve, as non-root.
    Quickstart(cmd::quickstart::QuickstartArgs),
    /// Certificates: self-signed, request (CSR), import, show, check.
    #[command(subcommand)]
    Cert(cmd::cert::CertCommand),
    /// Mail domains: add, list, del.
    #[command(subcommand)]
    Domain(cmd::accounts::DomainCommand),
    /// Accounts: add, list, passwd, del, disable, enable.
    #[command(subcommand)]
    User(cmd::accounts::UserCommand),
    /// Aliases and catch-alls: add, list, del.
    #[command(subcommand)]
    Alias(cmd::accounts::AliasCommand),
    /// Deliver a message from standard input to local recipients.
    Deliver(cmd::deliver::DeliverArgs),
    /// Import an mbox file or a Maildir into an account's INBOX (migrations).
    Import(cmd::import::ImportArgs),
    /// The outbound queue: list, show, retry, delete.
    #[command(subcommand)]
    Queue(cmd::queue::QueueCommand),
    /// DKIM signing keys: generate, list.
    #[command(subcommand)]
    Dkim(cmd::dkim::DkimCommand),
    /// DNS: the records to publish for a mail domain.
    #[command(subcommand)]
    Dns(cmd::dns::DnsCommand),
    /// TLS in front of a plain-text mail server: terminate TLS here, relay to it.
    Gateway(cmd::gateway::GatewayArgs),
    /// Move a whole installation from one store to another (SQLite to PostgreSQL).
    Migrate(cmd::migrate::MigrateArgs),
}

fn main() -> ExitCode {
    quiet_broken_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => cmd::init::run(&cli.location, &args),
        Command::Serve => cmd::serve::run(&cli.location),
        Command::Check => cmd::check::run(&cli.location),
        Command::Quickstart(args) => cmd::quickstart::run(&cli.location, &args),
        Command::Cert(c) => cmd::cert::run(&cli.location, c),
        Command::Domain(c) => cmd::accounts::domain(&cli.location, c),
        Command::User(c) => cmd::accounts::user(&cli.location, c),
        Command::Alias(c) => cmd::accounts::alias(&cli.location, c),
        Command::Deliver(a) => cmd::deliver::run(&cli.location, &a),
        Command::Import(a) => cmd::import::run(&cli.location, &a),
        Command::Queue(c) => cmd::queue::run(&cli.location, c),
        Command::Dkim(c) => cmd::dkim::run(&cli.location, c),
        Command::Dns(c) => cmd::dns::run(&cli.location, c),
        Command::Gateway(a) => cmd::gateway::run(&cli.location, &a),
        Command::Migrate(a) => cmd::migrate::run(&cli.location, &a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("postern: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `postern cert show | head` closes our stdout early; that is the reader's
/// choice, not a crash worth a backtrace. Exit quietly instead.
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        if text.contains("Broken pipe") {
            // The binary may end the process; this is the one place it must,
            // from inside a panic hook.
            #[allow(clippy::disallowed_methods)]
            std::process::exit(141); // 128 + SIGPIPE, what a shell reports
        }
        default(info);
    }));
}
