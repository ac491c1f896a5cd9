//! `postern user admin ADDRESS on|off`, through the binary, with the
//! result read back from the store itself.

mod common;

use common::{postern, postern_stdin, DataDir};
use postern_store::{SqliteStore, Store as _};

const USER: &str = "alice@example.test";

fn is_admin(d: &DataDir, address: &str) -> bool {
    let store = SqliteStore::open(&d.path).expect("opening the store");
    store.account(address).unwrap().expect("the account").admin
}

#[test]
fn user_admin_turns_the_flag_on_and_off() {
    let d = DataDir::init(&[
        "--dev-ports",
        "--hostname",
        "localhost",
        "--domain",
        "example.test",
    ]);
    postern_stdin(
        &d.path,
        &["user", "add", USER, "--password-stdin"],
        b"a long passphrase\n",
    )
    .ok();
    assert!(!is_admin(&d, USER), "a new account is no administrator");

    postern(&d.path, &["user", "admin", USER, "on"])
        .ok()
        .stdout_has("is now an administrator");
    assert!(is_admin(&d, USER));
    postern(&d.path, &["user", "list"])
        .ok()
        .stdout_has("(admin)");

    postern(&d.path, &["user", "admin", USER, "off"])
        .ok()
        .stdout_has("no longer an administrator");
    assert!(!is_admin(&d, USER));

    postern(&d.path, &["user", "admin", "nobody@example.test", "on"])
        .failed()
        .stderr_has("postern user list");
    postern(&d.path, &["user", "admin", USER, "maybe"]).failed();
}
