//! `[store]`: where mail and calendars are kept.
//!
//! ```toml
//! [store]
//! backend = "postgres"                 # "sqlite" (default) | "postgres"
//! url = "postgres://postern@db.internal/postern"
//! pool_size = 16                       # connections per node
//! blobs = "database"                   # "database" (default) | "directory"
//! blob_dir = "/srv/postern-blobs"      # with blobs = "directory": shared by every node
//! ```
//!
//! The URL may carry the password; a `password_file` keeps it out of the
//! configuration (the file's first line, read at start).

use std::path::PathBuf;

use serde::Deserialize;

use crate::resolve::Resolver;

/// `[store]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    pub backend: Option<String>,
    pub url: Option<String>,
    pub password_file: Option<String>,
    pub ca_file: Option<String>,
    pub pool_size: Option<usize>,
    pub blobs: Option<String>,
    pub blob_dir: Option<String>,
}

/// The resolved `[store]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StoreConfig {
    /// SQLite and blob files in the data directory.
    #[default]
    Sqlite,
    Postgres(PostgresConfig),
}

/// A PostgreSQL store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    pub url: String,
    /// Read at start and given to the connection as its password.
    pub password_file: Option<PathBuf>,
    /// Extra CA certificates (PEM) to verify the database server with.
    pub ca_file: Option<PathBuf>,
    pub pool_size: usize,
    /// `None`: in the database; `Some(dir)`: files in a shared directory.
    pub blob_dir: Option<PathBuf>,
}

/// Connections per node by default (PostgreSQL allows 100 in all).
pub const DEFAULT_POOL_SIZE: usize = 16;
/// More than this many connections per node is a typo, not a plan.
const MAX_POOL_SIZE: usize = 1000;

impl Resolver<'_> {
    pub(crate) fn store(&mut self, s: StoreSection) -> StoreConfig {
        match s.backend.as_deref() {
            None | Some("sqlite") => {
                for (key, set) in [
                    ("url", s.url.is_some()),
                    ("password_file", s.password_file.is_some()),
                    ("ca_file", s.ca_file.is_some()),
                    ("pool_size", s.pool_size.is_some()),
                    ("blobs", s.blobs.is_some()),
                    ("blob_dir", s.blob_dir.is_some()),
                ] {
                    if set {
                        self.error(
                            format!("store.{key}"),
                            "only a PostgreSQL store has it; set backend = \"postgres\" or remove it",
                        );
                    }
                }
                StoreConfig::Sqlite
            }
            Some("postgres" | "postgresql") => self.postgres(s),
            Some(other) => {
                self.error(
                    format!("store.backend = \"{other}\""),
                    "must be \"sqlite\" or \"postgres\"",
                );
                StoreConfig::Sqlite
            }
        }
    }

    fn postgres(&mut self, s: StoreSection) -> StoreConfig {
        let url = s.url.unwrap_or_default();
        if url.is_empty() {
            self.error(
                "store.url",
                "a PostgreSQL store needs url = \"postgres://USER@HOST/DATABASE\"",
            );
        } else if !(url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.contains('='))
        {
            self.error(
                format!("store.url = \"{}\"", redact(&url)),
                "write it as postgres://USER@HOST:PORT/DATABASE (or key=value pairs)",
            );
        }
        let pool_size = s.pool_size.unwrap_or(DEFAULT_POOL_SIZE);
        if pool_size == 0 || pool_size > MAX_POOL_SIZE {
            self.error(
                format!("store.pool_size = {pool_size}"),
                format!("must be between 1 and {MAX_POOL_SIZE}"),
            );
        }
        let blob_dir = match s.blobs.as_deref() {
            None | Some("database") => {
                if s.blob_dir.is_some() {
                    self.error(
                        "store.blob_dir",
                        "only used with blobs = \"directory\"; set that or remove it",
                    );
                }
                None
            }
            Some("directory") => match s.blob_dir {
                Some(dir) => Some(self.path_of(&dir)),
                None => {
                    self.error(
                        "store.blobs = \"directory\"",
                        "needs blob_dir = \"/path/shared/by/every/node\"",
                    );
                    None
                }
            },
            Some(other) => {
                self.error(
                    format!("store.blobs = \"{other}\""),
                    "must be \"database\" or \"directory\"",
                );
                None
            }
        };
        StoreConfig::Postgres(PostgresConfig {
            url,
            password_file: s.password_file.map(|p| self.path_of(&p)),
            ca_file: s.ca_file.map(|p| self.path_of(&p)),
            pool_size,
            blob_dir,
        })
    }
}

/// `url` without its password, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use std::path::Path;

    fn parse(store: &str) -> Result<Config, String> {
        let text = format!("[server]\nhostname = \"mail.example.com\"\n\n[store]\n{store}\n");
        Config::parse(Path::new("/etc/postern/postern.toml"), &text).map_err(|e| e.to_string())
    }

    #[test]
    fn sqlite_is_the_default_and_postgres_is_chosen_by_backend() {
        assert_eq!(parse("").unwrap().store, StoreConfig::Sqlite);
        let c = parse("backend = \"postgres\"\nurl = \"postgres://p@db/mail\"\nblobs = \"directory\"\nblob_dir = \"blobs\"").unwrap();
        assert_eq!(
            c.store,
            StoreConfig::Postgres(PostgresConfig {
                url: "postgres://p@db/mail".into(),
                password_file: None,
                ca_file: None,
                pool_size: DEFAULT_POOL_SIZE,
                blob_dir: Some(PathBuf::from("/etc/postern/blobs")),
            })
        );
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse("backend = \"postgres\"").unwrap_err();
        assert!(e.contains("store.url"), "{e}");
        let e = parse("url = \"postgres://x@y/z\"").unwrap_err();
        assert!(e.contains("only a PostgreSQL store"), "{e}");
        let e = parse("backend = \"postgres\"\nurl = \"postgres://u:secret@db/m\"\npool_size = 0")
            .unwrap_err();
        assert!(e.contains("pool_size"), "{e}");
        let e = parse("backend = \"mysql\"").unwrap_err();
        assert!(e.contains("\"sqlite\" or \"postgres\""), "{e}");
        let e = parse("backend = \"postgres\"\nurl = \"mysql://u:secret@db/m\"").unwrap_err();
        assert!(!e.contains("secret"), "the password leaked into: {e}");
    }
}
