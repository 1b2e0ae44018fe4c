//! Real mode's storage: a node's durable storage in a directory ([`DirStore`]) and a blob store
//! over a directory ([`DirBlobs`]).
//!
//! Both write a file by writing a temporary file beside it, syncing it, renaming it into place
//! and syncing the directory, so a crash (even `kill -9` or a power cut) leaves either the old
//! contents or the new, never half a file.

use highstorm_nodes::storage::{Blobs, Storage, Write};
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Component, Path, PathBuf};

/// Prefix of every key file's name (anything else in the directory is ignored).
const KEY_PREFIX: &str = "k_";
/// Prefix of temporary files (never loaded; left-overs of a crash are removed at open).
const TMP_PREFIX: &str = ".tmp-";

/// A node's durable storage in a directory, one file per key.
///
/// Writes stay pending in memory until [`sync`](DirStore::sync), exactly as the simulator's
/// [`DurableStore`](highstorm_nodes::storage::DurableStore) keeps them: a crash loses them.
#[derive(Debug)]
pub struct DirStore {
    dir: PathBuf,
    pending: Vec<Write>,
}

impl DirStore {
    /// Opens (creating it if needed) the store in `dir`; returns it and what it holds, for
    /// [`ProcessSetup::durable`](highstorm_nodes::ProcessSetup::durable).
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<(DirStore, Storage)> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let mut entries = vec![];
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with(TMP_PREFIX) {
                // A write that never made it: its rename did not happen.
                let _ = fs::remove_file(entry.path());
                continue;
            }
            let Some(encoded) = name.strip_prefix(KEY_PREFIX) else {
                continue;
            };
            let Some(key) = decode_key(encoded) else {
                continue;
            };
            entries.push((key, fs::read(entry.path())?));
        }
        let storage = entries.into_iter().collect();
        Ok((
            DirStore {
                dir,
                pending: vec![],
            },
            storage,
        ))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records a write; it reaches the disk at the next [`sync`](DirStore::sync).
    pub fn write(&mut self, w: Write) {
        self.pending.push(w);
    }

    /// How many writes are pending.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Makes every pending write durable: each key's last write becomes its file (written to a
    /// temporary file, synced, renamed into place), deletes remove files, then the directory is
    /// synced. On an error the writes not yet done stay pending.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut last: BTreeMap<&str, Option<&[u8]>> = BTreeMap::new();
        for w in &self.pending {
            last.insert(&w.key, w.value.as_deref());
        }
        for (key, value) in last {
            let path = self.dir.join(format!("{KEY_PREFIX}{}", encode_key(key)));
            match value {
                Some(bytes) => write_atomically(&self.dir, &path, bytes)?,
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

/// Writes `bytes` to `path` through a temporary file in `dir`: never half a file.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file")
        .to_owned();
    let tmp = dir.join(format!("{TMP_PREFIX}{}-{name}", std::process::id()));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    Ok(())
}

/// Syncs a directory so renames and removals in it are durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
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

/// A blob store over a directory: blob paths are relative paths inside it.
#[derive(Clone, Debug)]
pub struct DirBlobs {
    root: PathBuf,
}

impl DirBlobs {
    /// Blobs under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirBlobs { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where blob `path` lives; refuses absolute paths and any `..`.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, String> {
        let p = Path::new(path);
        if path.is_empty() {
            return Err("empty blob path".into());
        }
        for c in p.components() {
            match c {
                Component::Normal(_) | Component::CurDir => {}
                _ => return Err(format!("blob paths are relative, without `..`: {path}")),
            }
        }
        Ok(self.root.join(p))
    }
}

impl Blobs for DirBlobs {
    fn read(&self, path: &str) -> Result<String, String> {
        let full = self.resolve(path)?;
        fs::read_to_string(&full).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => format!("no such file: {path}"),
            _ => format!("{path}: {e}"),
        })
    }

    fn write(&mut self, path: &str, data: &str) -> Result<(), String> {
        let full = self.resolve(path)?;
        let dir = full
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        fs::create_dir_all(&dir).map_err(|e| format!("{path}: {e}"))?;
        write_atomically(&dir, &full, data.as_bytes()).map_err(|e| format!("{path}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "highstorm-dir-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

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
        assert_eq!(loaded.get("job/1"), Some(&b"c"[..]));
        assert_eq!(loaded.get("job/2"), Some(&b"b"[..]));
        assert_eq!(loaded.len(), 2);
        store.write(w("job/2", None));
        store.sync().unwrap();
        let (_, loaded) = DirStore::open(&dir).unwrap();
        assert_eq!(loaded.get("job/2"), None);
        assert_eq!(loaded.len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn blobs_stay_inside_their_directory() {
        let dir = temp_dir("blobs");
        let mut blobs = DirBlobs::new(&dir);
        blobs.write("out/job-1/0.json", "{}").unwrap();
        assert_eq!(blobs.read("out/job-1/0.json").unwrap(), "{}");
        assert_eq!(
            blobs.read("missing.txt"),
            Err("no such file: missing.txt".into())
        );
        for bad in ["../x", "/etc/passwd", "a/../../b", ""] {
            assert!(blobs.read(bad).is_err(), "{bad}");
            assert!(blobs.write(bad, "x").is_err(), "{bad}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
