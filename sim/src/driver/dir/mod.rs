//! Real mode's storage: a node's durable storage in a directory ([`DirStore`]) and a blob store
//! over a directory ([`DirBlobs`]).
//!
//! Both write a file by writing a temporary file beside it, syncing it, renaming it into place
//! and syncing the directory, so a crash (even `kill -9` or a power cut) leaves either the old
//! contents or the new, never half a file.

mod blobs;
mod store;

pub use blobs::DirBlobs;
pub use store::{DirStore, StoreError, LOCK_FILE};

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

/// Prefix of temporary files (never loaded; left-overs of a crash are removed at open).
const TMP_PREFIX: &str = ".tmp-";

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

#[cfg(test)]
pub(super) mod tests {
    use std::path::PathBuf;

    /// A fresh directory for one test (removed first if a failed run left it).
    pub(crate) fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "highstorm-dir-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }
}
