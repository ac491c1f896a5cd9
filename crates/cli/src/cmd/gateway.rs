//! `postern gateway`: TLS in front of a plain-text mail server, in one
//! command. (To be written.)

use std::process::ExitCode;

use crate::paths::Location;

/// `postern gateway ...`
#[derive(Debug, clap::Args)]
pub struct GatewayArgs {}

pub fn run(loc: &Location, args: &GatewayArgs) -> anyhow::Result<ExitCode> {
    let _ = (loc, args);
    anyhow::bail!("postern gateway is not available yet")
}
