//! Content-addressed blob files: a message's bytes live in
//! `blobs/ab/cdef...`, named by the lowercase hex SHA-256 of the bytes.
//!
//! A blob appears under its final name only complete and on disk: it is
//! written to `blobs/tmp/`, fsynced, renamed into place (rename is atomic
//! within one file system, POSIX `rename(2)`), and the directory that
//! received the name is fsynced so that the name itself survives a crash
//! (Linux `fsync(2)`: "calling fsync() on a file does not necessarily
//! ensure that the entry in the directory containing the file has also
//! reached disk").
//!
//! Blobs are immutable and shared: identical messages (one delivery to
//! several accounts, COPY) share one file. Deciding when a blob is no
//! longer referenced is the database's job, not this module's.
//!
//! # Layout
//! - [`BlobStore`]: `put`, `get`, `remove`, and the listings the orphan
//!   sweep needs.
//! - private helpers: hex encoding, fsync of a directory, 0700/0600 modes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::error::{StoreError, StoreResult};
use crate::model::BlobId;

/// The name of the directory for blobs being written.
const TMP: &str = "tmp";

/// The blob files under one directory.
#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
    /// Makes temp names unique within this process (the pid makes them
    /// unique between processes sharing the directory).
    counter: AtomicU64,
}

impl BlobStore {
    /// Opens (creating, mode 0700) `root` and `root/tmp`.
    pub fn open(root: &Path) -> StoreResult<Self> {
        create_dir(root)?;
        create_dir(&root.join(TMP))?;
        Ok(Self {
            root: root.to_path_buf(),
            counter: AtomicU64::new(0),
        })
    }

    /// The id `bytes` would be stored under.
    pub fn id_of(bytes: &[u8]) -> BlobId {
        BlobId(hex(&Sha256::digest(bytes)))
    }

    /// Stores `bytes` durably and returns their id. An existing blob with
    /// the same id is reused (after making sure its name is on disk).
    pub fn put(&self, bytes: &[u8]) -> StoreResult<BlobId> {
        let id = Self::id_of(bytes);
        let path = self.path(&id)?;
        let dir = parent(&path);
        if path.exists() {
            // Another writer may have renamed it into place without having
            // fsynced the directories yet: do it before we rely on it.
            sync_dir(dir)?;
            sync_dir(&self.root)?;
            return Ok(id);
        }
        let tmp = self.write_tmp(&id, bytes)?;
        let created = ensure_dir(dir)?;
        if let Err(source) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            return Err(io_error(&path, source));
        }
        sync_dir(dir)?;
        if created {
            sync_dir(&self.root)?;
        }
        Ok(id)
    }

    /// Whether the blob is present under its final name.
    pub fn contains(&self, id: &BlobId) -> StoreResult<bool> {
        Ok(self.path(id)?.exists())
    }

    /// A blob's bytes.
    pub fn get(&self, id: &BlobId) -> StoreResult<Vec<u8>> {
        let path = self.path(id)?;
        fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::NotFound {
                what: format!("blob {id}"),
            },
            _ => io_error(&path, e),
        })
    }

    /// At most the first `max` octets of a blob.
    pub fn get_head(&self, id: &BlobId, max: usize) -> StoreResult<Vec<u8>> {
        use std::io::Read as _;
        let path = self.path(id)?;
        let not_found = |e: io::Error| match e.kind() {
            io::ErrorKind::NotFound => StoreError::NotFound {
                what: format!("blob {id}"),
            },
            _ => io_error(&path, e),
        };
        let file = File::open(&path).map_err(not_found)?;
        let mut out = Vec::with_capacity(max.min(64 * 1024));
        file.take(u64::try_from(max).unwrap_or(u64::MAX))
            .read_to_end(&mut out)
            .map_err(|e| io_error(&path, e))?;
        Ok(out)
    }

    /// Deletes a blob; an absent one is not an error. The caller has made
    /// sure nothing references it. The directory is not fsynced: a deleted
    /// blob that comes back after a crash is an orphan, and orphans are
    /// swept.
    pub fn remove(&self, id: &BlobId) -> StoreResult<()> {
        let path = self.path(id)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(&path, e)),
            _ => Ok(()),
        }
    }

    /// The ids of the blobs in one prefix directory (`ab`), for the orphan
    /// sweep. Files whose names are not blob ids are left out.
    pub fn list_prefix(&self, prefix: &str) -> StoreResult<Vec<BlobId>> {
        let dir = self.root.join(prefix);
        let mut ids = Vec::new();
        for name in file_names(&dir)? {
            let id = BlobId(format!("{prefix}{name}"));
            if is_blob_id(&id.0) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// The prefix directories (`00` to `ff`) that exist.
    pub fn prefixes(&self) -> StoreResult<Vec<String>> {
        let mut names: Vec<String> = file_names(&self.root)?
            .into_iter()
            .filter(|n| n.len() == 2 && n.bytes().all(is_hex))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Deletes temp files older than `age`: those left by a crash. Younger
    /// ones may belong to a writer in another process. Returns how many
    /// were deleted.
    pub fn sweep_tmp(&self, age: Duration) -> StoreResult<usize> {
        let dir = self.root.join(TMP);
        let cutoff = SystemTime::now()
            .checked_sub(age)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut removed = 0;
        for name in file_names(&dir)? {
            let path = dir.join(name);
            let old = fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < cutoff);
            if old && fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Where a blob lives. Refuses an id that is not 64 lowercase hex
    /// digits, so that no id can name a path outside the store.
    fn path(&self, id: &BlobId) -> StoreResult<PathBuf> {
        if !is_blob_id(&id.0) {
            return Err(StoreError::Invalid {
                what: format!("blob id {:?}", id.0),
                why: "not a lowercase hex SHA-256".into(),
            });
        }
        Ok(self.root.join(&id.0[..2]).join(&id.0[2..]))
    }

    /// Writes `bytes` to a fresh temp file and fsyncs it.
    fn write_tmp(&self, id: &BlobId, bytes: &[u8]) -> StoreResult<PathBuf> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}.{}.{n}", id.0, std::process::id());
        let tmp = self.root.join(TMP).join(name);
        let written = (|| {
            let mut file = create_file(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io_error(&tmp, e));
        }
        Ok(tmp)
    }
}

/// Whether `s` is a blob id: 64 lowercase hex digits.
fn is_blob_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(is_hex)
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

fn parent(path: &Path) -> &Path {
    // Invariant: blob paths are `root/ab/cdef...`, never a bare root.
    path.parent().expect("a blob path has a parent")
}

/// The names of the entries of `dir` (empty if it does not exist).
fn file_names(dir: &Path) -> StoreResult<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

pub(crate) fn io_error(path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (and missing parents) with mode 0700 if it is missing.
pub(crate) fn create_dir(dir: &Path) -> StoreResult<()> {
    ensure_dir(dir).map(drop)
}

/// Like [`create_dir`]; says whether the directory was created.
fn ensure_dir(dir: &Path) -> StoreResult<bool> {
    if dir.is_dir() {
        return Ok(false);
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| io_error(dir, e))?;
    Ok(true)
}

/// Creates a new file, mode 0600 (mail is private); fails if it exists.
fn create_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes a directory's entries durable (fsync on the directory itself).
pub(crate) fn sync_dir(dir: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))?;
    #[cfg(not(unix))]
    let _ = dir; // Windows cannot open a directory as a file; NTFS journals renames.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(&dir.path().join("blobs")).unwrap();
        (dir, blobs)
    }

    #[test]
    fn put_get_remove() {
        let (dir, blobs) = store();
        let id = blobs.put(b"hello").unwrap();
        // SHA-256("hello"), a known answer.
        assert_eq!(
            id.0,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert!(dir.path().join("blobs/2c").join(&id.0[2..]).is_file());
        assert_eq!(blobs.get(&id).unwrap(), b"hello");
        assert_eq!(blobs.put(b"hello").unwrap(), id);
        blobs.remove(&id).unwrap();
        blobs.remove(&id).unwrap();
        assert!(matches!(blobs.get(&id), Err(StoreError::NotFound { .. })));
        assert!(file_names(&dir.path().join("blobs/tmp"))
            .unwrap()
            .is_empty());
    }

    /// Watches the final name while a big blob is written: it may be
    /// absent, or complete, never shorter.
    #[test]
    fn a_blob_appears_complete_or_not_at_all() {
        use std::sync::atomic::AtomicBool;
        let (_dir, blobs) = store();
        let bytes = vec![7u8; 16 << 20];
        let path = blobs.path(&BlobStore::id_of(&bytes)).unwrap();
        let done = AtomicBool::new(false);
        let seen = std::thread::scope(|scope| {
            let watcher = scope.spawn(|| {
                let mut sizes = Vec::new();
                while !done.load(Ordering::Acquire) {
                    if let Ok(meta) = fs::metadata(&path) {
                        sizes.push(meta.len());
                    }
                }
                sizes
            });
            blobs.put(&bytes).unwrap();
            done.store(true, Ordering::Release);
            watcher.join().unwrap()
        });
        assert!(seen.iter().all(|&n| n == 16 << 20), "partial sizes seen");
    }

    #[test]
    fn listing_finds_blobs_only() {
        let (dir, blobs) = store();
        let id = blobs.put(b"x").unwrap();
        fs::write(dir.path().join("blobs").join(&id.0[..2]).join("junk"), b"").unwrap();
        assert_eq!(blobs.prefixes().unwrap(), [id.0[..2].to_string()]);
        assert_eq!(blobs.list_prefix(&id.0[..2]).unwrap(), [id]);
    }

    #[test]
    fn ids_cannot_escape_the_store() {
        let (_dir, blobs) = store();
        let evil = BlobId(format!("../../{}", "0".repeat(58)));
        assert!(matches!(blobs.get(&evil), Err(StoreError::Invalid { .. })));
        assert!(blobs.remove(&BlobId("AB".repeat(32))).is_err());
    }

    #[test]
    fn old_temp_files_are_swept() {
        let (dir, blobs) = store();
        let tmp = dir.path().join("blobs/tmp/left-over");
        fs::write(&tmp, b"partial").unwrap();
        assert_eq!(blobs.sweep_tmp(Duration::from_secs(3600)).unwrap(), 0);
        assert_eq!(blobs.sweep_tmp(Duration::ZERO).unwrap(), 1);
        assert!(!tmp.exists());
    }

    #[cfg(unix)]
    #[test]
    fn modes_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, blobs) = store();
        let id = blobs.put(b"secret").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("blobs")), 0o700);
        assert_eq!(mode(&dir.path().join("blobs").join(&id.0[..2])), 0o700);
        assert_eq!(mode(&blobs.path(&id).unwrap()), 0o600);
    }
}
