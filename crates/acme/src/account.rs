//! The ACME account (RFC 8555 §7.3): registered once per CA directory, its
//! key kept in the data directory (mode 0600) and reused, so that the CA's
//! rate limits and any account binding follow the same account.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use instant_acme::{Account, AccountCredentials, ExternalAccountKey, NewAccount};

use crate::{AcmeError, Settings, TlsHttpClient};

/// The account file for a directory URL: its characters other than
/// letters and digits become `_`, so each CA gets its own readable name.
pub fn account_path(dir: &Path, directory_url: &str) -> PathBuf {
    let stem: String = directory_url
        .trim_start_matches("https://")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    dir.join(format!("account-{stem}.json"))
}

/// Held from reading the account file to writing it: two `[[acme]]`
/// sections renewing at once (an ECDSA and an RSA certificate) must share
/// one account, not register two and race on the file.
static REGISTERING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Restores the stored account, or registers one and stores its key.
pub async fn load_or_create(http: TlsHttpClient, s: &Settings) -> Result<Account, AcmeError> {
    let _turn = REGISTERING.lock().await;
    let path = account_path(&s.account_dir, &s.directory);
    let builder = Account::builder_with_http(Box::new(http));
    let directory_err = |source| AcmeError::Directory {
        url: s.directory.clone(),
        source,
    };
    if let Some(creds) = read(&path)? {
        tracing::info!(path = %path.display(), "using the stored ACME account");
        return builder.from_credentials(creds).await.map_err(directory_err);
    }
    let contact: Vec<&str> = s.contact.iter().map(String::as_str).collect();
    let new = NewAccount {
        contact: &contact,
        // RFC 8555 §7.3: the CA may require agreement to its terms; running
        // this command is the administrator's agreement (docs/acme.md says so).
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    // RFC 8555 §7.3.4: the binding is only sent when registering; the
    // stored account stays bound afterwards.
    let eab = s
        .eab
        .as_ref()
        .map(|e| ExternalAccountKey::new(e.kid.clone(), &e.hmac_key));
    let (account, creds) = builder
        .create(&new, s.directory.clone(), eab.as_ref())
        .await
        .map_err(|e| match e {
            instant_acme::Error::Api(_) => AcmeError::Ca {
                step: "register the account",
                source: e,
            },
            other => directory_err(other),
        })?;
    write(&path, &creds)?;
    tracing::info!(path = %path.display(), id = account.id(), "registered an ACME account");
    Ok(account)
}

fn read(path: &Path) -> Result<Option<AccountCredentials>, AcmeError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(AcmeError::io(path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| AcmeError::AccountFile {
            path: path.to_owned(),
            why: e.to_string(),
        })
}

/// Writes the credentials (they hold the account's private key) to a new
/// 0600 file, then renames it into place: never a torn or readable key.
fn write(path: &Path, creds: &AccountCredentials) -> Result<(), AcmeError> {
    let json = serde_json::to_vec_pretty(creds).map_err(|e| AcmeError::AccountFile {
        path: path.to_owned(),
        why: e.to_string(),
    })?;
    write_private(path, &json)
}

/// Writes `bytes` to a new 0600 file beside `path`, syncs it, then renames
/// it into place: a reader sees the old file or the new one, never a torn
/// or readable-by-others one.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AcmeError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| AcmeError::io(dir, e))?;
    // Unique per process: another process (the command line beside the
    // server) writing the same file never renames this one's half.
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(|e| AcmeError::io(&tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| AcmeError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| AcmeError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_directory_gets_its_own_file() {
        let d = Path::new("/data/acme");
        let a = account_path(d, "https://acme-v02.api.letsencrypt.org/directory");
        let b = account_path(d, "https://127.0.0.1:14000/dir");
        assert_eq!(
            a,
            d.join("account-acme_v02_api_letsencrypt_org_directory.json")
        );
        assert_eq!(b, d.join("account-127_0_0_1_14000_dir.json"));
    }
}
