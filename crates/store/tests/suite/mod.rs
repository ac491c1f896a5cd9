//! The store contract as tests, generic over the back end.
//!
//! Each case takes a [`Fixture`]: a fresh, empty store that can be opened
//! again on the same data (to test what survives a restart) and can count
//! its stored blobs (to test sharing). A back end's test file implements
//! `Fixture` and expands [`store_suite!`], which makes one `#[test]` per
//! case, so a failure names its case and cases run in parallel:
//!
//! ```ignore
//! #[path = "suite/mod.rs"]
//! mod suite;
//! store_suite!(fresh_fixture);
//! ```
//!
//! # Layout
//! - [`Fixture`], [`store_suite!`], helpers.
//! - `accounts.rs`: domains, accounts, aliases, recipients.
//! - `mailboxes.rs`: default mailboxes, UIDVALIDITY, create/rename/delete.
//! - `messages.rs`: UIDs, flags, MODSEQ, blobs, quota, notifications.
//! - `queue.rs`: accept, the outbound queue and its states.
//! - `calendars.rs`: calendars, calendar objects, ETags, preconditions,
//!   sync tokens, time-range candidates.
//! - `concurrency.rs`: parallel deliveries with readers; concurrent
//!   accepts (group commit).

#![allow(dead_code)] // Each test binary uses the part it needs.

pub mod accounts;
pub mod calendars;
pub mod concurrency;
pub mod mailboxes;
pub mod messages;
pub mod queue;

use postern_store::{Account, Mailbox, MailboxId, Store, StoreError};

/// A fresh store of one back end, and what the suite needs to know about
/// its storage.
pub trait Fixture {
    type Store: Store;
    /// Opens the store; again after a drop, the same data (a restart).
    fn open(&self) -> Self::Store;
    /// How many message blobs are stored (files, rows...).
    fn blob_count(&self) -> usize;
}

/// One `#[test]` per case, each on a fresh fixture from `$make`.
#[macro_export]
macro_rules! store_suite {
    ($make:expr) => {
        $crate::store_suite!(@cases $make;
            accounts::domains_crud,
            accounts::accounts_crud,
            accounts::account_lookups_tolerate_junk,
            accounts::aliases_crud,
            accounts::removing_an_account_cleans_up,
            accounts::resolve_recipient_order,
            mailboxes::default_mailboxes,
            mailboxes::create_rename_delete,
            mailboxes::uid_validity_stable_and_fresh,
            mailboxes::subscriptions_persist,
            messages::messages_survive_reopen,
            messages::message_heads_read_only_their_start,
            messages::pages_counts_and_single_metadata_agree_with_the_listing,
            messages::uids_never_reused,
            messages::flags_round_trip_and_modseq_grows,
            messages::copies_share_one_blob,
            messages::delivery_to_many_stores_one_blob,
            messages::quota_is_enforced,
            messages::missing_things_are_not_found,
            messages::changes_are_announced_in_order,
            messages::moves_are_atomic,
            messages::store_flags_ops_and_unchanged_since,
            messages::recent_is_claimed_once,
            messages::vanished_since_remembers_expunges,
            queue::accept_stores_local_and_queued,
            queue::accept_is_all_or_nothing,
            queue::accept_into_junk_finds_or_creates_it,
            queue::due_items_in_order,
            queue::outcomes_and_attempts,
            queue::finish_stores_the_dsn,
            queue::retry_now_makes_due,
            queue::claims_keep_workers_apart,
            queue::delete_frees_unreferenced_blobs,
            queue::queue_survives_reopen,
            calendars::calendars_crud,
            calendars::calendars_created_with_properties,
            calendars::calendar_names_refused,
            calendars::etags_follow_content,
            calendars::preconditions_guard_writes,
            calendars::uids_and_components_are_checked,
            calendars::sync_tokens_report_changes,
            calendars::range_candidates,
            calendars::calendar_data_counts_toward_quota,
            calendars::account_removal_removes_calendars,
            calendars::calendars_survive_reopen,
            concurrency::parallel_deliveries_with_readers,
            concurrency::concurrent_accepts_share_rounds,
            concurrency::a_failing_accept_spares_its_round,
            concurrency::concurrent_flag_additions_keep_both,
        );
    };
    (@cases $make:expr; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                // `$make` gives a fixture, or `None` where the back end's
                // server is not available here (and that is allowed).
                let Some(fixture) = $crate::suite::Available::fixture($make) else {
                    return;
                };
                suite::$module::$case(&fixture);
            }
        )*
    };
}

/// A fixture, or `None` when the back end cannot be tested here (a
/// database server that is not running outside CI).
pub trait Available {
    type Fixture: Fixture;
    fn fixture(self) -> Option<Self::Fixture>;
}

impl<F: Fixture> Available for F {
    type Fixture = F;
    fn fixture(self) -> Option<F> {
        Some(self)
    }
}

impl<F: Fixture> Available for Option<F> {
    type Fixture = F;
    fn fixture(self) -> Self {
        self
    }
}

/// Unwraps, saying which step failed.
#[track_caller]
pub fn ok<T>(result: Result<T, StoreError>, step: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{step}: {e}"),
    }
}

/// Asserts that `result` failed with the error `matches` accepts.
#[track_caller]
pub fn fails<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    step: &str,
    matches: impl FnOnce(&StoreError) -> bool,
) {
    match result {
        Err(e) if matches(&e) => {}
        other => panic!("{step}: unexpected {other:?}"),
    }
}

/// A store with `example.com` and the account `alice@example.com`.
pub fn with_alice<S: Store>(store: &S) -> Account {
    ok(store.add_domain("example.com"), "add domain");
    ok(
        store.add_account("alice@example.com", "$hash$"),
        "add alice",
    )
}

/// An account's mailbox by name, which must exist.
pub fn mailbox<S: Store>(store: &S, account: &Account, name: &str) -> Mailbox {
    ok(store.mailbox(account.id, name), "mailbox")
        .unwrap_or_else(|| panic!("{name} of {} missing", account.address))
}

/// A small, distinct message.
pub fn message(n: usize) -> Vec<u8> {
    format!("From: a@b.example\r\nSubject: {n}\r\n\r\nBody {n}\r\n").into_bytes()
}

/// The UIDs of a mailbox, in the order `messages()` gives them.
pub fn uids<S: Store>(store: &S, mailbox: MailboxId) -> Vec<u32> {
    ok(store.messages(mailbox), "messages")
        .iter()
        .map(|m| m.uid.0)
        .collect()
}
