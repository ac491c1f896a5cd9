//! Where Postern's files are.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use postern_config::Config;

/// `--data-dir` / `--config`, shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct Location {
    /// The data directory (holds postern.toml, certs/ and the mail store).
    #[arg(
        long,
        global = true,
        env = "POSTERN_DATA_DIR",
        default_value = "postern-data"
    )]
    pub data_dir: PathBuf,
    /// The configuration file (default: DATA_DIR/postern.toml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

/// Certificate files inside the data directory.
pub const CERTS_DIR: &str = "certs";
/// Keys and CSRs of `postern cert request`, waiting for the CA's answer.
pub const PENDING_DIR: &str = "certs/pending";

impl Location {
    /// The configuration file's path.
    pub fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| self.data_dir.join("postern.toml"))
    }

    /// Reads and validates the configuration.
    pub fn load(&self) -> anyhow::Result<Config> {
        let path = self.config_path();
        if !path.exists() {
            anyhow::bail!(
                "{}: no configuration here; create one with `postern init --data-dir {} --hostname HOST --domain DOMAIN` (or `postern quickstart` to try Postern)",
                path.display(),
                self.data_dir.display()
            );
        }
        Config::load(&path).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// The pending-request directory of a configuration.
pub fn pending_dir(config: &Config) -> PathBuf {
    config.data_dir.join(PENDING_DIR)
}

/// Creates a directory readable by its owner only (it holds keys).
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {} to its owner", dir.display()))?;
    }
    Ok(())
}
