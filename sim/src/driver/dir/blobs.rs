//! A blob store over a directory ([`DirBlobs`]), confined to it.

use super::write_atomically;
use highstorm_nodes::storage::{check_blob_path, Blobs};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A blob store over a directory: blob paths are relative paths inside it.
///
/// Every path is checked twice: its form ([`check_blob_path`], the rule the simulator's
/// store applies too), and where it leads: every part of it that exists must resolve, through
/// any symbolic links, inside the canonical root. A link to elsewhere inside the root is
/// followed; a link out of it (to `/etc/passwd`, to another tree) is refused, for reading and
/// for writing alike.
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

    /// Where blob `path` lives on disk (resolved through links), once it is checked: well
    /// formed, and leading nowhere outside the root.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, String> {
        check_blob_path(path)?;
        let root = match fs::canonicalize(&self.root) {
            Ok(root) => root,
            // Nothing exists under a root that does not: no link to follow, nothing to read.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(self.root.join(path)),
            Err(e) => return Err(format!("blob directory {}: {e}", self.root.display())),
        };
        let full = root.join(path);
        // The deepest part of the path that exists (the root, at worst).
        let mut existing = full.as_path();
        loop {
            match fs::symlink_metadata(existing) {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    existing = existing.parent().unwrap_or(&root);
                }
                Err(e) => return Err(format!("{path}: {e}")),
            }
        }
        let rest = full.strip_prefix(existing).unwrap_or(Path::new(""));
        let real = fs::canonicalize(existing)
            .map_err(|e| format!("{path}: {e} (a symbolic link that leads nowhere?)"))?;
        if !real.starts_with(&root) {
            return Err(format!(
                "blob path {path} leads outside the blob directory (through a symbolic link \
                 to {})",
                real.display()
            ));
        }
        if rest.as_os_str().is_empty() {
            Ok(real)
        } else {
            Ok(real.join(rest))
        }
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
        fs::create_dir_all(&self.root)
            .map_err(|e| format!("blob directory {}: {e}", self.root.display()))?;
        let full = self.resolve(path)?;
        let dir = full
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        fs::create_dir_all(&dir).map_err(|e| format!("{path}: {e}"))?;
        write_atomically(&dir, &full, data.as_bytes()).map_err(|e| format!("{path}: {e}"))
    }

    fn check(&self, path: &str) -> Result<(), String> {
        self.resolve(path).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_dir;
    use super::*;

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
        for bad in ["../x", "/etc/passwd", "a/../../b", "", "./a", "a//b"] {
            assert!(blobs.read(bad).is_err(), "{bad}");
            assert!(blobs.write(bad, "x").is_err(), "{bad}");
            assert!(blobs.check(bad).is_err(), "{bad}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_out_of_the_directory_are_refused_and_links_inside_followed() {
        use std::os::unix::fs::symlink;
        let dir = temp_dir("blob-links");
        let outside = temp_dir("blob-links-outside");
        fs::create_dir_all(dir.join("corpus")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("secret.txt"), "secret").unwrap();
        fs::write(dir.join("corpus/a.txt"), "inside").unwrap();
        symlink(outside.join("secret.txt"), dir.join("corpus/link.txt")).unwrap();
        symlink("/etc/passwd", dir.join("corpus/passwd")).unwrap();
        symlink(&outside, dir.join("outlink")).unwrap();
        symlink(dir.join("corpus/a.txt"), dir.join("corpus/alias.txt")).unwrap();
        symlink(dir.join("corpus"), dir.join("books")).unwrap();
        symlink(dir.join("nowhere"), dir.join("dangling")).unwrap();
        let mut blobs = DirBlobs::new(&dir);
        for bad in ["corpus/link.txt", "corpus/passwd", "outlink/secret.txt"] {
            let err = blobs.read(bad).unwrap_err();
            assert!(err.contains("outside the blob directory"), "{bad}: {err}");
            assert!(blobs.check(bad).is_err(), "{bad}");
        }
        for bad in ["outlink/pwned.json", "outlink/deeper/pwned.json"] {
            let err = blobs.write(bad, "{}").unwrap_err();
            assert!(err.contains("outside the blob directory"), "{bad}: {err}");
        }
        assert!(
            !outside.join("pwned.json").exists(),
            "nothing written outside"
        );
        assert!(!outside.join("deeper").exists(), "nothing created outside");
        assert!(blobs.check("dangling/x").is_err());
        // A root that does not exist yet holds nothing, and no link.
        let none = DirBlobs::new(dir.join("not-yet"));
        assert_eq!(none.check("corpus/a.txt"), Ok(()));
        assert_eq!(
            none.read("corpus/a.txt"),
            Err("no such file: corpus/a.txt".into())
        );
        // Links that stay inside are fine.
        assert_eq!(blobs.read("corpus/alias.txt").unwrap(), "inside");
        assert_eq!(blobs.read("books/a.txt").unwrap(), "inside");
        blobs.write("books/out.json", "{}").unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("corpus/out.json")).unwrap(),
            "{}"
        );
        fs::remove_dir_all(&dir).unwrap();
        fs::remove_dir_all(&outside).unwrap();
    }
}
