//! `postern quickstart`: the fastest way to see Postern run. Creates a data
//! directory on the dev ports (loopback, non-root) if there is none, says how
//! to connect, and serves.

use std::process::ExitCode;

use postern_config::Config;

use crate::cmd::init::{init, InitArgs};
use crate::paths::Location;

/// Arguments of `postern quickstart`.
#[derive(Debug, Clone, clap::Args)]
pub struct QuickstartArgs {
    /// Host name for the new configuration.
    #[arg(long, default_value = "localhost")]
    pub hostname: String,
    /// Mail domain for the new configuration.
    #[arg(long, default_value = "example.test")]
    pub domain: String,
}

pub fn run(loc: &Location, args: &QuickstartArgs) -> anyhow::Result<ExitCode> {
    if !loc.config_path().exists() {
        let init_args = InitArgs {
            hostname: args.hostname.clone(),
            domain: args.domain.clone(),
            dev_ports: true,
            store: None,
        };
        init(loc, &init_args)?;
        println!(
            "Created {} (dev ports, self-signed certificate)",
            loc.config_path().display()
        );
    }
    let config = loc.load()?;
    crate::logging::init(&config.log);
    print_summary(&config);
    crate::cmd::serve::serve(config)
}

fn print_summary(config: &Config) {
    println!(
        "Postern for {} ({}), data in {}",
        config.hostname,
        config.domains.join(", "),
        config.data_dir.display()
    );
    for l in config.enabled_listeners() {
        let addrs: Vec<String> = l.bind.iter().map(ToString::to_string).collect();
        println!(
            "  {:<12} {:<10} tls={:<9} {}",
            l.name,
            l.service.as_str(),
            l.tls.as_str(),
            addrs.join(" ")
        );
    }
    if let Some(c) = config.default_certificate() {
        if let Some(cert) = c.source.files().first() {
            println!(
                "The certificate is self-signed; tell clients to trust {}",
                cert.display()
            );
            println!(
                "  e.g. openssl s_client -connect 127.0.0.1:2993 -CAfile {} -alpn imap",
                cert.display()
            );
        }
    }
    println!("Stop with Ctrl-C.");
}
