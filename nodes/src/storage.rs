//! Durable node storage with crash semantics, and a blob store for inputs and outputs.
//!
//! A node writes with [`Context::put`](crate::Context::put) /
//! [`delete`](crate::Context::delete) and makes its writes durable with
//! [`sync`](crate::Context::sync). The node reads its own writes at once through
//! [`Context::storage`](crate::Context::storage); its host applies them to a [`DurableStore`],
//! which keeps them pending until the sync. A crash loses pending writes; a restart hands the
//! new incarnation what was synced, and nothing else, in
//! [`ProcessSetup::durable`](crate::ProcessSetup::durable).
//!
//! The simulator keeps a [`DurableStore`] per node in memory, across that node's crashes; real
//! mode keeps one in a directory (`run::DirStore`).

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;

pub mod record;

/// A stored record that cannot be used: reading it failed its checksum (it was torn by a crash,
/// corrupted on the disk, or written under another key), or its value does not decode.
///
/// Storage never hands a node damaged bytes as if they were data: every read of a damaged
/// record is this error, naming the key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The record failed its checksum.
    #[error("stored record `{key}` is damaged: {reason}")]
    Damaged {
        /// The record's key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The record is intact but its value does not decode as the type asked for.
    #[error("stored `{key}` does not decode: {reason}")]
    Decode {
        /// The record's key.
        key: String,
        /// The decoder's complaint.
        reason: String,
    },
}

impl StorageError {
    /// The key of the record this error is about.
    pub fn key(&self) -> &str {
        match self {
            StorageError::Damaged { key, .. } | StorageError::Decode { key, .. } => key,
        }
    }
}

/// One stored record as a node sees it: its value, or why it cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Value(Vec<u8>),
    Damaged(String),
}

/// A key-value snapshot of durable storage: what a node sees.
///
/// Every read returns a `Result`: a record that failed its checksum is a
/// [`StorageError::Damaged`], never wrong data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Storage {
    map: BTreeMap<String, Entry>,
}

/// One write to durable storage: a value, or `None` for a delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The key.
    pub key: String,
    /// The new value; `None` deletes the key.
    pub value: Option<Vec<u8>>,
}

fn read<'a>(key: &str, entry: &'a Entry) -> Result<&'a [u8], StorageError> {
    match entry {
        Entry::Value(v) => Ok(v),
        Entry::Damaged(reason) => Err(StorageError::Damaged {
            key: key.to_owned(),
            reason: reason.clone(),
        }),
    }
}

impl Storage {
    /// The value under `key`: `None` when there is none, an error when its record is damaged.
    pub fn get(&self, key: &str) -> Option<Result<&[u8], StorageError>> {
        self.map.get(key).map(|e| read(key, e))
    }

    /// The value under `key`, decoded from JSON. A damaged record, or a value that does not
    /// decode, is reported as an error rather than hidden.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Option<Result<T, StorageError>> {
        self.get(key).map(|bytes| {
            serde_json::from_slice(bytes?).map_err(|e| StorageError::Decode {
                key: key.to_owned(),
                reason: e.to_string(),
            })
        })
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub fn prefixed<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, Result<&'a [u8], StorageError>)> {
        self.map
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, e)| (k.as_str(), read(k, e)))
    }

    /// The damaged records, in key order: what a node checks at start before trusting its
    /// storage.
    pub fn damaged(&self) -> impl Iterator<Item = StorageError> + '_ {
        self.map.iter().filter_map(|(k, e)| read(k, e).err())
    }

    /// How many keys are stored (damaged ones included).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Applies one write (a write over a damaged record replaces it).
    pub fn apply(&mut self, w: &Write) {
        match &w.value {
            Some(v) => {
                self.map.insert(w.key.clone(), Entry::Value(v.clone()));
            }
            None => {
                self.map.remove(&w.key);
            }
        }
    }

    /// Records that the record under `key` cannot be read, and why (a host building what a
    /// node finds at start).
    pub fn insert_damaged(&mut self, key: &str, reason: &str) {
        self.map
            .insert(key.to_owned(), Entry::Damaged(reason.to_owned()));
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Result<&[u8], StorageError>)> {
        self.map.iter().map(|(k, e)| (k.as_str(), read(k, e)))
    }
}

impl FromIterator<(String, Vec<u8>)> for Storage {
    fn from_iter<I: IntoIterator<Item = (String, Vec<u8>)>>(iter: I) -> Self {
        Storage {
            map: iter
                .into_iter()
                .map(|(k, v)| (k, Entry::Value(v)))
                .collect(),
        }
    }
}

/// Encodes `value` as JSON for [`Context::put`](crate::Context::put).
pub fn json_bytes(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("values written to storage serialize")
}

/// What became of one pending write when its host settled it (at a sync, a failed sync or a
/// crash). Which fates a host allows where is its fault model: without storage faults a sync
/// applies every write and a crash loses every one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteFate {
    /// It reached the disk whole.
    Applied,
    /// It never reached the disk (the key keeps its old record).
    Lost,
    /// Only the first `keep` bytes of its record reached the disk: the record fails its
    /// checksum. A delete cannot be torn (it is applied).
    Torn {
        /// How many bytes of the record survived.
        keep: usize,
    },
    /// It landed under another key of the same disk (the intended key keeps its old record;
    /// the other key's record now fails its checksum). A delete cannot be misdirected (it is
    /// lost).
    Misdirected {
        /// The key it landed under.
        to: String,
    },
}

/// The ways a stored record can be damaged in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// One bit flipped at this byte (modulo the record's length).
    FlipBit(usize),
    /// The record cut to this many bytes (modulo its length).
    Truncate(usize),
}

/// A host's durable storage for one node: the records on its disk (checksummed, in the
/// [`record`] format) plus writes not yet synced.
#[derive(Clone, Debug, Default)]
pub struct DurableStore {
    records: BTreeMap<String, Vec<u8>>,
    pending: Vec<Write>,
}

impl DurableStore {
    /// A store holding `synced` (its damaged records stored as empty, hence damaged, ones).
    pub fn new(synced: Storage) -> Self {
        let records = synced
            .map
            .iter()
            .map(|(k, e)| match e {
                Entry::Value(v) => (k.clone(), record::encode(k, v)),
                Entry::Damaged(_) => (k.clone(), vec![]),
            })
            .collect();
        DurableStore {
            records,
            pending: vec![],
        }
    }

    /// Records a write; it is lost on a crash until [`sync`](DurableStore::sync).
    pub fn write(&mut self, w: Write) {
        self.pending.push(w);
    }

    /// How many writes are pending.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The keys on the disk, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.records.keys().map(String::as_str)
    }

    /// Makes every pending write durable; returns them.
    pub fn sync(&mut self) -> Vec<Write> {
        let writes = std::mem::take(&mut self.pending);
        for w in &writes {
            self.apply(w, &WriteFate::Applied);
        }
        writes
    }

    /// Settles every pending write, in order, with the fate `fate` gives it; returns each
    /// write's key and fate.
    pub fn settle(
        &mut self,
        mut fate: impl FnMut(&Write) -> WriteFate,
    ) -> Vec<(String, WriteFate)> {
        let writes = std::mem::take(&mut self.pending);
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            let f = fate(&w);
            let f = self.apply(&w, &f);
            out.push((w.key, f));
        }
        out
    }

    /// Applies `w` with fate `f`; returns the fate it really had (a delete is never torn or
    /// misdirected).
    fn apply(&mut self, w: &Write, f: &WriteFate) -> WriteFate {
        match (f, &w.value) {
            (WriteFate::Lost, _) | (WriteFate::Misdirected { .. }, None) => WriteFate::Lost,
            (WriteFate::Applied, None) | (WriteFate::Torn { .. }, None) => {
                self.records.remove(&w.key);
                WriteFate::Applied
            }
            (WriteFate::Applied, Some(v)) => {
                self.records
                    .insert(w.key.clone(), record::encode(&w.key, v));
                WriteFate::Applied
            }
            (WriteFate::Torn { keep }, Some(v)) => {
                let mut rec = record::encode(&w.key, v);
                let keep = keep % rec.len();
                rec.truncate(keep);
                self.records.insert(w.key.clone(), rec);
                WriteFate::Torn { keep }
            }
            (WriteFate::Misdirected { to }, Some(v)) => {
                self.records.insert(to.clone(), record::encode(&w.key, v));
                f.clone()
            }
        }
    }

    /// A crash: pending writes are lost; returns how many.
    pub fn crash(&mut self) -> usize {
        self.settle(|_| WriteFate::Lost).len()
    }

    /// Damages the record under `key` in place; returns whether there was one.
    pub fn damage(&mut self, key: &str, damage: Damage) -> bool {
        let Some(rec) = self.records.get_mut(key) else {
            return false;
        };
        if rec.is_empty() {
            return true;
        }
        match damage {
            Damage::FlipBit(i) => {
                let i = i % rec.len();
                rec[i] ^= 1 << (i % 8);
            }
            Damage::Truncate(n) => rec.truncate(n % rec.len()),
        }
        true
    }

    /// What a new incarnation starts from: every record, checked against its checksum.
    pub fn synced(&self) -> Storage {
        let map = self
            .records
            .iter()
            .map(|(k, rec)| {
                let entry = match record::decode(k, rec) {
                    Ok(v) => Entry::Value(v),
                    Err(reason) => Entry::Damaged(reason),
                };
                (k.clone(), entry)
            })
            .collect();
        Storage { map }
    }
}

/// The longest blob path accepted, in bytes.
pub const MAX_BLOB_PATH_BYTES: usize = 1024;

/// Whether `path` is a well-formed blob path: relative, `/`-separated, every component a
/// plain name (no empty component, no `.` or `..`), no backslash or control character, at most
/// [`MAX_BLOB_PATH_BYTES`]. Every blob store applies this rule, in the simulator and for real,
/// so a path refused in one is refused in the other; a directory store also checks where the
/// path leads on disk (see `DirBlobs` in the `highstorm` crate).
pub fn check_blob_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("a blob path must not be empty".into());
    }
    if path.len() > MAX_BLOB_PATH_BYTES {
        return Err(format!(
            "blob path of {} bytes is over the {MAX_BLOB_PATH_BYTES}-byte limit",
            path.len()
        ));
    }
    if path.starts_with('/') {
        return Err(format!("blob paths are relative, not absolute: {path:?}"));
    }
    if let Some(c) = path.chars().find(|c| *c == '\\' || c.is_control()) {
        return Err(format!("blob path {path:?} holds the character {c:?}"));
    }
    for part in path.split('/') {
        match part {
            "" => return Err(format!("blob path {path:?} has an empty component")),
            "." | ".." => {
                return Err(format!(
                    "blob path {path:?} has a `{part}` component (paths may not leave or name \
                     their directory)"
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Where inputs and outputs live: a directory for real, a shared in-memory map in the simulator.
///
/// Every store refuses paths that [`check_blob_path`] refuses.
pub trait Blobs {
    /// The blob at `path`, as text.
    fn read(&self, path: &str) -> Result<String, String>;
    /// Writes (or replaces) the blob at `path`.
    fn write(&mut self, path: &str, data: &str) -> Result<(), String>;
    /// Whether `path` is one this store would read or write (without reading or writing it,
    /// and whether or not it exists): for checking a request before accepting it.
    fn check(&self, path: &str) -> Result<(), String> {
        check_blob_path(path)
    }
}

/// An in-memory blob store (the simulator's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemBlobs {
    /// The blobs by path.
    pub blobs: BTreeMap<String, String>,
}

impl Blobs for MemBlobs {
    fn read(&self, path: &str) -> Result<String, String> {
        check_blob_path(path)?;
        self.blobs
            .get(path)
            .cloned()
            .ok_or_else(|| format!("no such file: {path}"))
    }

    fn write(&mut self, path: &str, data: &str) -> Result<(), String> {
        check_blob_path(path)?;
        self.blobs.insert(path.to_owned(), data.to_owned());
        Ok(())
    }
}

/// An in-memory blob store that several owners share: the simulator's engine (which runs
/// work against it) and an HTTP API serving results from it. Clones share the same blobs.
#[derive(Clone, Debug, Default)]
pub struct SharedMemBlobs(std::sync::Arc<std::sync::Mutex<MemBlobs>>);

impl SharedMemBlobs {
    /// A shared store holding `blobs`.
    pub fn new(blobs: MemBlobs) -> Self {
        SharedMemBlobs(std::sync::Arc::new(std::sync::Mutex::new(blobs)))
    }

    fn with<R>(&self, f: impl FnOnce(&mut MemBlobs) -> R) -> R {
        // A panic while holding the lock cannot leave a map half-written: carry on.
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

impl Blobs for SharedMemBlobs {
    fn read(&self, path: &str) -> Result<String, String> {
        self.with(|b| b.read(path))
    }

    fn write(&mut self, path: &str, data: &str) -> Result<(), String> {
        self.with(|b| b.write(path, data))
    }

    fn check(&self, path: &str) -> Result<(), String> {
        self.with(|b| b.check(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(key: &str, value: Option<&str>) -> Write {
        Write {
            key: key.into(),
            value: value.map(|v| v.as_bytes().to_vec()),
        }
    }

    #[test]
    fn a_crash_loses_exactly_the_unsynced_writes() {
        let mut store = DurableStore::default();
        store.write(w("a", Some("1")));
        store.write(w("b", Some("2")));
        assert_eq!(store.sync().len(), 2);
        store.write(w("a", None));
        store.write(w("c", Some("3")));
        assert_eq!(store.crash(), 2);
        let s = store.synced();
        assert_eq!(s.get("a"), Some(Ok(&b"1"[..])));
        assert_eq!(s.get("c"), None);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn blob_paths_are_relative_plain_names_in_every_store() {
        let mut mem = MemBlobs::default();
        for good in [
            "a.txt",
            "corpus/file-00001.txt",
            "out/job-1/result.json",
            "日本/x",
        ] {
            assert_eq!(check_blob_path(good), Ok(()), "{good}");
            mem.write(good, "x").unwrap();
            assert_eq!(mem.read(good).as_deref(), Ok("x"));
        }
        let long = "a/".repeat(MAX_BLOB_PATH_BYTES);
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a/./b",
            ".",
            "a//b",
            "a/",
            "a\\b",
            "a\u{0}b",
            "a\nb",
            &long,
        ] {
            assert!(check_blob_path(bad).is_err(), "{bad:?}");
            assert!(mem.check(bad).is_err(), "{bad:?}");
            assert!(mem.write(bad, "x").is_err(), "{bad:?}");
            assert!(mem.read(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn prefixed_reads_only_the_prefix_in_order() {
        let s: Storage = ["job/1", "job/1/task/0", "job/2", "jobs", "k"]
            .iter()
            .map(|k| (k.to_string(), vec![]))
            .collect();
        let keys: Vec<_> = s.prefixed("job/").map(|(k, _)| k).collect();
        assert_eq!(keys, ["job/1", "job/1/task/0", "job/2"]);
    }

    #[test]
    fn torn_misdirected_and_damaged_records_read_as_errors_naming_their_key() {
        let mut store = DurableStore::default();
        store.write(w("a", Some("alpha")));
        store.write(w("b", Some("beta")));
        store.write(w("c", Some("gamma")));
        store.sync();
        store.write(w("a", Some("ALPHA")));
        store.write(w("b", Some("BETA")));
        let fates = store.settle(|w| match w.key.as_str() {
            "a" => WriteFate::Torn { keep: 10 },
            _ => WriteFate::Misdirected { to: "c".into() },
        });
        assert_eq!(fates[0], ("a".into(), WriteFate::Torn { keep: 10 }));
        assert!(store.damage("b", Damage::FlipBit(30)));
        let s = store.synced();
        for key in ["a", "b", "c"] {
            match s.get(key) {
                Some(Err(StorageError::Damaged { key: k, .. })) => assert_eq!(k, key),
                other => panic!("{key}: {other:?}"),
            }
        }
        assert_eq!(s.damaged().count(), 3);
        assert!(matches!(
            s.get_json::<String>("a"),
            Some(Err(StorageError::Damaged { .. }))
        ));
        // A write over a damaged record repairs it.
        let mut s = s;
        s.apply(&w("a", Some("\"x\"")));
        assert_eq!(s.get_json::<String>("a"), Some(Ok("x".into())));
    }
}
