//! `postern deliver --to ADDRESS < message.eml`: local delivery through the
//! same durable path the SMTP server uses.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cmd::accounts::open_store;
use crate::paths::Location;

/// The largest message `deliver` reads (the SMTP default SIZE, Postfix's
/// message_size_limit).
const MAX_MESSAGE: u64 = 10_240_000;

/// Arguments of `postern deliver`.
#[derive(Debug, Clone, clap::Args)]
pub struct DeliverArgs {
    /// The recipient: an account, an alias, or an address a catch-all takes.
    #[arg(long, required = true)]
    pub to: Vec<String>,
}

pub fn run(loc: &Location, args: &DeliverArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(loc)?;
    let mut raw = Vec::new();
    std::io::stdin()
        .take(MAX_MESSAGE + 1)
        .read_to_end(&mut raw)
        .context("reading the message from standard input")?;
    if raw.len() as u64 > MAX_MESSAGE {
        anyhow::bail!("the message is larger than {MAX_MESSAGE} bytes; nothing was delivered");
    }
    if raw.is_empty() {
        anyhow::bail!("the message on standard input is empty; nothing was delivered");
    }
    let mut accounts = Vec::new();
    for to in &args.to {
        let found = store.resolve_recipient(to)?;
        if found.is_empty() {
            anyhow::bail!("{to}: no such recipient here (no account, alias or catch-all); nothing was delivered");
        }
        accounts.extend(found);
    }
    accounts.sort();
    accounts.dedup();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let raw = crate::cmd::import::to_crlf(&raw);
    let placed = store.deliver(&accounts, &raw, now)?;
    for (account, (_, uid)) in accounts.iter().zip(&placed) {
        let address = store
            .account_by_id(*account)?
            .map(|a| a.address)
            .unwrap_or_default();
        println!("Delivered to the INBOX of {address} as UID {}.", uid.0);
    }
    Ok(ExitCode::SUCCESS)
}
