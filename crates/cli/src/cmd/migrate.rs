//! `postern migrate`: move a whole installation between store back ends.
//! (To be written.)

use std::process::ExitCode;

use crate::paths::Location;

/// `postern migrate --from URL --to URL`
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {}

pub fn run(loc: &Location, args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let _ = (loc, args);
    anyhow::bail!("postern migrate is not available yet")
}
