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

/// A key-value snapshot of durable storage: what a node sees.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Storage {
    map: BTreeMap<String, Vec<u8>>,
}

/// One write to durable storage: a value, or `None` for a delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The key.
    pub key: String,
    /// The new value; `None` deletes the key.
    pub value: Option<Vec<u8>>,
}

impl Storage {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.map.get(key).map(Vec::as_slice)
    }

    /// The value under `key`, decoded from JSON. A value that does not decode is reported as an
    /// error rather than hidden.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Option<Result<T, String>> {
        self.get(key).map(|bytes| {
            serde_json::from_slice(bytes)
                .map_err(|e| format!("stored `{key}` does not decode: {e}"))
        })
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub fn prefixed<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a [u8])> {
        self.map
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// How many keys are stored.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Applies one write.
    pub fn apply(&mut self, w: &Write) {
        match &w.value {
            Some(v) => {
                self.map.insert(w.key.clone(), v.clone());
            }
            None => {
                self.map.remove(&w.key);
            }
        }
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

impl FromIterator<(String, Vec<u8>)> for Storage {
    fn from_iter<I: IntoIterator<Item = (String, Vec<u8>)>>(iter: I) -> Self {
        Storage {
            map: iter.into_iter().collect(),
        }
    }
}

/// Encodes `value` as JSON for [`Context::put`](crate::Context::put).
pub fn json_bytes(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("values written to storage serialize")
}

/// A host's durable storage for one node: synced state plus writes not yet synced.
#[derive(Clone, Debug, Default)]
pub struct DurableStore {
    synced: Storage,
    pending: Vec<Write>,
}

impl DurableStore {
    /// A store holding `synced`.
    pub fn new(synced: Storage) -> Self {
        DurableStore {
            synced,
            pending: vec![],
        }
    }

    /// Records a write; it is lost on a crash until [`sync`](DurableStore::sync).
    pub fn write(&mut self, w: Write) {
        self.pending.push(w);
    }

    /// Makes every pending write durable; returns them.
    pub fn sync(&mut self) -> Vec<Write> {
        let writes = std::mem::take(&mut self.pending);
        for w in &writes {
            self.synced.apply(w);
        }
        writes
    }

    /// A crash: pending writes are lost; returns how many.
    pub fn crash(&mut self) -> usize {
        std::mem::take(&mut self.pending).len()
    }

    /// What a new incarnation starts from.
    pub fn synced(&self) -> &Storage {
        &self.synced
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
        assert_eq!(s.get("a"), Some(&b"1"[..]));
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
}
