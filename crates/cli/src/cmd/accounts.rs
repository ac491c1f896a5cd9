//! `postern domain`, `postern user`, `postern alias`: the accounts, in the
//! store under the data directory. Passwords come from standard input only
//! (`--password-stdin`), never from the command line, where `ps` and shell
//! histories would show them.

use std::io::Read as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use postern_store::Store;

use crate::paths::Location;

/// `postern domain ...`
#[derive(Debug, clap::Subcommand)]
pub enum DomainCommand {
    /// Serve mail for a domain.
    Add { domain: String },
    /// List the domains.
    List,
    /// Stop serving a domain (refused while accounts or aliases use it).
    Del { domain: String },
}

/// `postern user ...`
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add an account; the password is read from standard input.
    Add {
        address: String,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the accounts.
    List,
    /// Change an account's password (read from standard input).
    Passwd {
        address: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete an account with all its mail.
    Del { address: String },
    /// Stop an account from logging in and receiving mail.
    Disable { address: String },
    /// Undo `disable`.
    Enable { address: String },
    /// Let an account see the web admin pages (`on`), or no longer (`off`).
    Admin { address: String, state: Switch },
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// `postern alias ...`
#[derive(Debug, clap::Subcommand)]
pub enum AliasCommand {
    /// Route mail for ADDRESS (or `@domain`, the catch-all) to accounts.
    Add {
        address: String,
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// List the aliases.
    List,
    /// Remove an alias.
    Del { address: String },
}

/// Opens the store of the configured data directory.
pub fn open_store(loc: &Location) -> anyhow::Result<Arc<dyn Store>> {
    let config = loc.load()?;
    Ok(postern_server::open_store(&config, false)?)
}

pub fn domain(loc: &Location, cmd: DomainCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(loc)?;
    match cmd {
        DomainCommand::Add { domain } => {
            store.add_domain(&domain)?;
            println!("Added the domain {}.", domain.to_ascii_lowercase());
        }
        DomainCommand::List => store.domains()?.iter().for_each(|d| println!("{d}")),
        DomainCommand::Del { domain } => {
            store.remove_domain(&domain)?;
            println!("Removed the domain {}.", domain.to_ascii_lowercase());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn user(loc: &Location, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(loc)?;
    match cmd {
        UserCommand::Add {
            address,
            password_stdin,
        } => {
            let hash = postern_auth::hash_password(&read_password(password_stdin)?)?;
            let account = store.add_account(&address, &hash)?;
            println!(
                "Added {} with the mailboxes INBOX, Sent, Drafts, Trash, Junk, Archive.",
                account.address
            );
            ensure_postmaster(store.as_ref(), &account)?;
        }
        UserCommand::List => list_users(store.as_ref())?,
        UserCommand::Passwd {
            address,
            password_stdin,
        } => {
            let account = find(store.as_ref(), &address)?;
            let hash = postern_auth::hash_password(&read_password(password_stdin)?)?;
            store.set_password_hash(account.id, &hash)?;
            println!("Changed the password of {}.", account.address);
        }
        UserCommand::Del { address } => {
            let account = find(store.as_ref(), &address)?;
            store.remove_account(account.id)?;
            println!("Deleted {} and all its mail.", account.address);
        }
        UserCommand::Disable { address } => set_disabled(store.as_ref(), &address, true)?,
        UserCommand::Enable { address } => set_disabled(store.as_ref(), &address, false)?,
        UserCommand::Admin { address, state } => {
            set_admin(store.as_ref(), &address, state == Switch::On)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn alias(loc: &Location, cmd: AliasCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(loc)?;
    match cmd {
        AliasCommand::Add { address, targets } => {
            store.add_alias(&address, &targets)?;
            println!(
                "Mail for {} now goes to {}.",
                address.to_ascii_lowercase(),
                targets.join(", ")
            );
        }
        AliasCommand::List => {
            for a in store.aliases()? {
                println!("{} -> {}", a.address, a.targets.join(", "));
            }
        }
        AliasCommand::Del { address } => {
            store.remove_alias(&address)?;
            println!("Removed the alias {}.", address.to_ascii_lowercase());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// RFC 5321 §4.5.1: every domain must accept mail for `postmaster`. The
/// first account of a domain becomes its postmaster through an alias the
/// administrator can see and move (`postern alias list`, `alias del`).
fn ensure_postmaster(store: &dyn Store, account: &postern_store::Account) -> anyhow::Result<()> {
    let Some((local, domain)) = account.address.split_once('@') else {
        return Ok(());
    };
    let postmaster = format!("postmaster@{domain}");
    if local == "postmaster" || !store.resolve_recipient(&postmaster)?.is_empty() {
        return Ok(());
    }
    store.add_alias(&postmaster, std::slice::from_ref(&account.address))?;
    println!(
        "{postmaster} now reaches {} (RFC 5321 requires a postmaster for every domain; change it with `postern alias`).",
        account.address
    );
    Ok(())
}

fn find(store: &dyn Store, address: &str) -> anyhow::Result<postern_store::Account> {
    store
        .account(address)?
        .with_context(|| format!("there is no account {address} (postern user list shows them)"))
}

fn set_disabled(store: &dyn Store, address: &str, disabled: bool) -> anyhow::Result<()> {
    let account = find(store, address)?;
    store.set_disabled(account.id, disabled)?;
    let what = if disabled { "Disabled" } else { "Enabled" };
    println!("{what} {}.", account.address);
    Ok(())
}

fn set_admin(store: &dyn Store, address: &str, admin: bool) -> anyhow::Result<()> {
    let account = find(store, address)?;
    store.set_admin(account.id, admin)?;
    match admin {
        true => println!(
            "{} is now an administrator: it may open the web admin pages at /admin.",
            account.address
        ),
        false => println!("{} is no longer an administrator.", account.address),
    }
    Ok(())
}

fn list_users(store: &dyn Store) -> anyhow::Result<()> {
    for a in store.accounts()? {
        let admin = if a.admin { "  (admin)" } else { "" };
        let state = if a.disabled { "  (disabled)" } else { "" };
        let quota = match a.quota_bytes {
            0 => String::new(),
            q => format!("  quota {q} bytes"),
        };
        println!("{}{quota}{admin}{state}", a.address);
    }
    Ok(())
}

/// One line from standard input, without its line ending. Nothing else is
/// trimmed: spaces are part of a passphrase.
fn read_password(password_stdin: bool) -> anyhow::Result<String> {
    if !password_stdin {
        anyhow::bail!("give the password on standard input with --password-stdin (e.g. printf '%s' \"$PW\" | postern user add ...); passwords are never taken from the command line");
    }
    let mut input = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .context("reading the password from standard input")?;
    let line = input.split('\n').next().unwrap_or_default();
    Ok(line.strip_suffix('\r').unwrap_or(line).to_owned())
}
