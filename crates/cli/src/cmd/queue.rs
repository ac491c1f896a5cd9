//! `postern queue`: the outbound queue, for the administrator. It works on
//! the store directly, beside a running server: a retry takes effect at the
//! server's next queue scan (within a minute), a delete at once.

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use postern_store::{QueueId, QueueItem, RecipientState, Store};
use time::OffsetDateTime;

use super::accounts::open_store;
use crate::paths::Location;

/// `postern queue ...`
#[derive(Debug, clap::Subcommand)]
pub enum QueueCommand {
    /// List the queued messages: id, age, size, sender, recipients' states.
    List,
    /// Show one message's envelope, each recipient's attempts and last error
    /// (and the message itself with --message).
    Show {
        id: i64,
        /// Also print the message's bytes.
        #[arg(long)]
        message: bool,
    },
    /// Try the pending recipients of a message (or all messages) now.
    Retry {
        /// The message id; omit with --all.
        id: Option<i64>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
    /// Remove a message from the queue without delivering or bouncing it.
    Delete { id: i64 },
}

pub fn run(loc: &Location, cmd: QueueCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(loc)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    match cmd {
        QueueCommand::List => list(store.as_ref(), now)?,
        QueueCommand::Show { id, message } => show(store.as_ref(), QueueId(id), message, now)?,
        QueueCommand::Retry { id: Some(id), .. } => {
            store.queue_retry_now(QueueId(id), now)?;
            println!("message {id}: pending recipients will be tried at the next queue scan");
        }
        QueueCommand::Retry {
            id: None,
            all: true,
        } => {
            let items = store.queue_list()?;
            for item in &items {
                store.queue_retry_now(item.id, now)?;
            }
            println!(
                "{} messages will be tried at the next queue scan",
                items.len()
            );
        }
        QueueCommand::Retry {
            id: None,
            all: false,
        } => {
            bail!("name a message id (see `postern queue list`), or give --all")
        }
        QueueCommand::Delete { id } => {
            store.queue_delete(QueueId(id))?;
            println!("message {id} removed from the queue (no bounce is sent)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(store: &dyn Store, now: i64) -> anyhow::Result<()> {
    let items = store.queue_list()?;
    if items.is_empty() {
        println!("the queue is empty");
        return Ok(());
    }
    println!(
        "{:>8}  {:>6}  {:>9}  {:<30}  recipients",
        "id", "age", "size", "from"
    );
    for item in &items {
        println!(
            "{:>8}  {:>6}  {:>9}  {:<30}  {}",
            item.id,
            age(now - item.created),
            item.size,
            sender(item),
            item.recipients
                .iter()
                .map(|r| format!("{} ({})", r.address, state(r.state)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!("{} messages", items.len());
    Ok(())
}

fn show(store: &dyn Store, id: QueueId, message: bool, now: i64) -> anyhow::Result<()> {
    let item = store
        .queue_item(id)?
        .with_context(|| format!("no message {id} in the queue (see `postern queue list`)"))?;
    println!("id:        {}", item.id);
    println!("from:      <{}>", item.envelope.mail_from);
    println!("queued:    {} ago", age(now - item.created));
    println!("size:      {} bytes", item.size);
    if item.envelope.requiretls {
        println!("requiretls: yes (verified TLS only, RFC 8689)");
    }
    if let Some(envid) = &item.envelope.envid {
        println!("envid:     {envid}");
    }
    for r in &item.recipients {
        println!("recipient: <{}> {}", r.address, state(r.state));
        println!("  attempts: {}", r.attempts);
        if r.state == RecipientState::Pending {
            println!("  next attempt: in {}", age(r.next_attempt - now));
        }
        if let Some(e) = &r.last_error {
            println!("  last error: {e}");
        }
        if let Some(d) = &r.detail {
            println!("  delivered: {d}");
        }
    }
    if message {
        let bytes = store.queue_read(id)?;
        println!();
        print!("{}", String::from_utf8_lossy(&bytes));
    }
    Ok(())
}

fn sender(item: &QueueItem) -> String {
    match item.envelope.mail_from.as_str() {
        "" => "<> (a bounce)".to_owned(),
        from => format!("<{from}>"),
    }
}

fn state(s: RecipientState) -> &'static str {
    match s {
        RecipientState::Pending => "pending",
        RecipientState::Delivered => "delivered",
        RecipientState::Failed => "failed",
    }
}

/// `42s`, `5m`, `3h`, `2d`: how long ago (or until).
fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}
