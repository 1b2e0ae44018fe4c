//! A node's durable storage in a directory ([`DirStore`]): one checksummed file per key, and an
//! exclusive lock on the directory.
//!
//! A record file is a header line and the value:
//!
//! ```text
//! highstorm-record 1 <value length> <xxh3-64 of key and value, 16 hex digits>\n<value>
//! ```
//!
//! The checksum covers the key too, so a record moved to another key's file is caught as well
//! as a truncated, emptied, overwritten or hand-edited one. A damaged record stops
//! [`DirStore::open`] with an error naming the file: silently skipping it would forget an
//! accepted job, let its idempotency token deduplicate nothing, and (when it was the newest)
//! hand its id out again.

use super::{sync_dir, write_atomically, TMP_PREFIX};
use highstorm_nodes::storage::{record, Storage, Write};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Prefix of every key file's name (anything else in the directory is ignored).
const KEY_PREFIX: &str = "k_";
/// The lock file: held (exclusively) by the one process using the store.
pub const LOCK_FILE: &str = ".lock";

/// Why a store directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing the directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// Another process holds the store's lock.
    #[error(
        "store {} is in use by another process (it holds the lock on {}): stop that process, \
         or give this one another store directory",
        dir.display(),
        dir.join(LOCK_FILE).display()
    )]
    Locked {
        /// The store directory.
        dir: PathBuf,
    },
    /// A record is damaged: the node must not start without it.
    #[error(
        "store record {} is damaged ({reason}); refusing to start rather than lose or reuse \
         what it held. Restore the file from a backup; or, to give up that record knowingly, \
         move it out of {} (what it held, such as an accepted job, is then lost)",
        path.display(),
        path.parent().unwrap_or(Path::new(".")).display()
    )]
    Damaged {
        /// The record's file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A node's durable storage in a directory, one checksummed file per key, locked against a
/// second process for as long as it is open.
///
/// Writes stay pending in memory until [`sync`](DirStore::sync), exactly as the simulator's
/// [`DurableStore`](highstorm_nodes::storage::DurableStore) keeps them: a crash loses them.
#[derive(Debug)]
pub struct DirStore {
    dir: PathBuf,
    pending: Vec<Write>,
    /// Holds the exclusive lock until the store is dropped (or the process dies).
    _lock: fs::File,
}

impl DirStore {
    /// Opens (creating it if needed) the store in `dir` and locks it; returns it and what it
    /// holds, for [`ProcessSetup::durable`](highstorm_nodes::ProcessSetup::durable). Fails
    /// when another process holds the lock, or when any record is damaged.
    pub fn open(dir: impl Into<PathBuf>) -> Result<(DirStore, Storage), StoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error(&lock_path))?;
        match fs4::FileExt::try_lock(&lock) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => return Err(StoreError::Locked { dir }),
            Err(fs4::TryLockError::Error(e)) => return Err(io_error(&lock_path)(e)),
        }
        let mut entries = vec![];
        for entry in fs::read_dir(&dir).map_err(io_error(&dir))? {
            let entry = entry.map_err(io_error(&dir))?;
            let path = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with(TMP_PREFIX) {
                // A write that never made it: its rename did not happen.
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(encoded) = name.strip_prefix(KEY_PREFIX) else {
                continue;
            };
            let Some(key) = decode_key(encoded) else {
                return Err(StoreError::Damaged {
                    path,
                    reason: "its name encodes no key".into(),
                });
            };
            let bytes = fs::read(&path).map_err(io_error(&path))?;
            let value = decode_record(&key, &bytes)
                .map_err(|reason| StoreError::Damaged { path, reason })?;
            entries.push((key, value));
        }
        let storage = entries.into_iter().collect();
        Ok((
            DirStore {
                dir,
                pending: vec![],
                _lock: lock,
            },
            storage,
        ))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds `key`.
    pub fn path_of(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{KEY_PREFIX}{}", encode_key(key)))
    }

    /// Records a write; it reaches the disk at the next [`sync`](DirStore::sync).
    pub fn write(&mut self, w: Write) {
        self.pending.push(w);
    }

    /// How many writes are pending.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Makes every pending write durable: each key's last write becomes its record file
    /// (written to a temporary file, synced, renamed into place), deletes remove files, then
    /// the directory is synced. On an error the writes not yet done stay pending.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut last: BTreeMap<&str, Option<&[u8]>> = BTreeMap::new();
        for w in &self.pending {
            last.insert(&w.key, w.value.as_deref());
        }
        for (key, value) in last {
            let path = self.path_of(key);
            match value {
                Some(bytes) => write_atomically(&self.dir, &path, &encode_record(key, bytes))?,
                None => match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                },
            }
        }
        sync_dir(&self.dir)?;
        self.pending.clear();
        Ok(())
    }
}

/// A record file's bytes for `key` holding `value` (the [`record`] format the simulator's
/// disks use too).
fn encode_record(key: &str, value: &[u8]) -> Vec<u8> {
    record::encode(key, value)
}

/// The value a record file holds for `key`, or what is wrong with it.
fn decode_record(key: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    record::decode(key, bytes)
}

/// A key as a safe file name: ASCII letters, digits, `-` and `_` stay; every other byte is
/// `%XX`.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The key a file name encodes, if it is one.
fn decode_key(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = name.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_dir;
    use super::*;

    fn w(key: &str, value: Option<&str>) -> Write {
        Write {
            key: key.into(),
            value: value.map(|v| v.as_bytes().to_vec()),
        }
    }

    #[test]
    fn keys_round_trip_through_file_names() {
        for key in ["job/1/task/0", "", "..", "a b%c", "日本", "plain-key_1"] {
            let enc = encode_key(key);
            assert!(enc
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_%".contains(&b)));
            assert_eq!(decode_key(&enc).as_deref(), Some(key));
        }
    }

    #[test]
    fn only_synced_writes_survive_a_reopen() {
        let dir = temp_dir("store");
        let (mut store, loaded) = DirStore::open(&dir).unwrap();
        assert!(loaded.is_empty());
        store.write(w("job/1", Some("a")));
        store.write(w("job/2", Some("b")));
        store.write(w("job/1", Some("c")));
        store.sync().unwrap();
        store.write(w("job/2", None));
        store.write(w("job/3", Some("lost")));
        // A crash: the pending writes are dropped with the process.
        drop(store);
        let (mut store, loaded) = DirStore::open(&dir).unwrap();
        assert_eq!(loaded.get("job/1"), Some(Ok(&b"c"[..])));
        assert_eq!(loaded.get("job/2"), Some(Ok(&b"b"[..])));
        assert_eq!(loaded.len(), 2);
        store.write(w("job/2", None));
        store.sync().unwrap();
        drop(store);
        let (_, loaded) = DirStore::open(&dir).unwrap();
        assert_eq!(loaded.get("job/2"), None);
        assert_eq!(loaded.len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_record_stops_the_open_naming_its_file() {
        let value = r#"{"payload":{"n":1},"status":"queued"}"#;
        type Damage = fn(&Path, &Path);
        let cases: &[(&str, Damage, &str)] = &[
            ("empty", |p, _| fs::write(p, b"").unwrap(), "empty"),
            (
                "truncated",
                |p, _| {
                    let b = fs::read(p).unwrap();
                    fs::write(p, &b[..b.len() - 5]).unwrap()
                },
                "truncated",
            ),
            (
                "garbage",
                |p, _| fs::write(p, b"\x00\xff garbage \x01").unwrap(),
                "no record header",
            ),
            (
                "edited",
                |p, _| {
                    let b = String::from_utf8(fs::read(p).unwrap()).unwrap();
                    fs::write(p, b.replace(r#""n":1"#, r#""n":7"#)).unwrap()
                },
                "checksum",
            ),
            (
                "headerless JSON",
                |p, _| fs::write(p, br#"{"payload":{"n":1}}"#).unwrap(),
                "no record header",
            ),
            (
                "moved to another key",
                |p, dir| {
                    fs::copy(p, dir.join("k_job%2F0000000009"))
                        .map(drop)
                        .unwrap()
                },
                "checksum",
            ),
        ];
        for (what, damage, reason) in cases {
            let dir = temp_dir(&format!("damaged-{}", what.replace(' ', "-")));
            let (mut store, _) = DirStore::open(&dir).unwrap();
            store.write(w("job/0000000001", Some(value)));
            store.sync().unwrap();
            let file = store.path_of("job/0000000001");
            drop(store);
            damage(&file, &dir);
            let err = DirStore::open(&dir).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, StoreError::Damaged { .. }), "{what}: {text}");
            assert!(
                text.contains("k_job%2F000000000"),
                "{what}: names the file: {text}"
            );
            assert!(text.contains(reason), "{what}: says why: {text}");
            assert!(text.contains("Restore"), "{what}: says what to do: {text}");
            fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn a_second_open_of_a_store_in_use_is_refused_until_the_first_closes() {
        let dir = temp_dir("locked");
        let (first, _) = DirStore::open(&dir).unwrap();
        let err = DirStore::open(&dir).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        assert!(
            err.to_string().contains("in use by another process"),
            "{err}"
        );
        drop(first);
        let (_second, _) = DirStore::open(&dir).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}
