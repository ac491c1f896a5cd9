//! One module per subcommand family.

pub mod accounts;
pub mod acme;
pub mod cert;
pub mod check;
pub mod deliver;
pub mod dkim;
pub mod dns;
pub mod gateway;
pub mod import;
pub mod init;
pub mod migrate;
pub mod queue;
pub mod quickstart;
pub mod serve;
