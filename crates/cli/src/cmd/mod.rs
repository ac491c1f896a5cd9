//! One module per subcommand family.

pub mod cert;
pub mod check;
pub mod init;
pub mod quickstart;
pub mod serve;
