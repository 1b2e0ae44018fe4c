//! When a sweep shrinks a failure, and where the shrunk scenario file goes.
//!
//! A sweep that first finds a failure shrinks it. Replaying one (`HIGHSTORM_SEED`, or a
//! scenario file through `HIGHSTORM_SCENARIO`) does not, unless `HIGHSTORM_SHRINK=1` asks;
//! `HIGHSTORM_SHRINK=0` never shrinks. A file is named by scenario, variant, engine and seed,
//! so runs of the same scenario on another engine or variant never overwrite each other, and
//! the file being replayed is never rewritten.

use crate::scenario::Scenario;
use crate::shrink::Shrunk;
use std::path::{Path, PathBuf};

/// Whether a sweep shrinks its first failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShrinkPolicy {
    /// Shrink it.
    Shrink,
    /// Leave it as it is, for this reason.
    Skip(String),
}

/// Why `HIGHSTORM_SHRINK` could not be read.
#[derive(Debug, thiserror::Error)]
#[error("HIGHSTORM_SHRINK={0:?}: expected 1 (shrink) or 0 (do not)")]
pub struct ShrinkEnvError(String);

impl ShrinkPolicy {
    /// The policy the environment asks for: `HIGHSTORM_SHRINK` if set, else shrink unless
    /// the sweep replays a seed or a scenario file.
    pub fn from_env() -> Result<Self, ShrinkEnvError> {
        let var = |name| std::env::var_os(name).is_some();
        Self::decide(
            std::env::var("HIGHSTORM_SHRINK").ok().as_deref(),
            var("HIGHSTORM_SEED"),
            var("HIGHSTORM_SCENARIO"),
        )
    }

    /// The policy for a `HIGHSTORM_SHRINK` value and whether a seed or a file is replayed.
    pub fn decide(
        shrink: Option<&str>,
        replays_seed: bool,
        replays_file: bool,
    ) -> Result<Self, ShrinkEnvError> {
        match shrink.map(str::trim) {
            Some("1" | "true" | "yes") => Ok(ShrinkPolicy::Shrink),
            Some("0" | "false" | "no") => {
                Ok(ShrinkPolicy::Skip("not shrunk: HIGHSTORM_SHRINK=0".into()))
            }
            Some(other) => Err(ShrinkEnvError(other.to_owned())),
            None if replays_seed || replays_file => Ok(ShrinkPolicy::Skip(
                "not shrunk: a replay (HIGHSTORM_SHRINK=1 shrinks it)".into(),
            )),
            None => Ok(ShrinkPolicy::Shrink),
        }
    }
}

/// Where shrunk scenarios go: `HIGHSTORM_SHRUNK_DIR`, else `highstorm/shrunk` in the cargo
/// target directory (`CARGO_TARGET_DIR`, else `target/` beside the workspace's `Cargo.lock`,
/// found from the working directory up: `cargo test` runs a package's tests in its own
/// directory).
pub fn shrunk_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HIGHSTORM_SHRUNK_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let cwd = std::env::current_dir().ok()?;
            let root = cwd.ancestors().find(|d| d.join("Cargo.lock").is_file())?;
            Some(root.join("target"))
        })
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("highstorm").join("shrunk")
}

/// The file name of a shrunk scenario: `SCENARIO.VARIANT.ENGINE.seedN.toml`, the scenario
/// named as before shrinking (`register-faults.local-reads.events.seed7.toml`). It is one
/// file name whatever the scenario is called: any character but letters, digits, `-` and `_`
/// becomes `_` (so `../x` cannot lead out of the directory), and the name is cut short.
pub fn shrunk_file_name(scenario: &Scenario, seed: u64) -> String {
    let name = scenario
        .name
        .strip_suffix("-shrunk")
        .unwrap_or(&scenario.name);
    let variant = scenario.variant.as_deref().unwrap_or("default");
    format!(
        "{}.{}.{}.seed{seed}.toml",
        file_part(name),
        file_part(variant),
        scenario.engine.name()
    )
}

/// `text` as part of a file name: letters, digits, `-` and `_` kept, anything else `_`, at
/// most 100 characters, never empty.
fn file_part(text: &str) -> String {
    let part: String = text
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if part.is_empty() {
        "_".to_owned()
    } else {
        part
    }
}

/// Writes a shrunk scenario into `dir` (named by [`shrunk_file_name`]), with a header saying
/// what it came from; returns its path.
pub fn write_shrunk(shrunk: &Shrunk, dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(shrunk_file_name(&shrunk.scenario, shrunk.seed));
    std::fs::write(&path, shrunk_file(shrunk))?;
    Ok(path)
}

/// A shrunk scenario as a file: a header saying what it came from, then the scenario.
pub fn shrunk_file(shrunk: &Shrunk) -> String {
    format!("{}{}", shrunk.header(), shrunk.scenario.to_toml())
}

/// Whether `a` and `b` name the same existing file.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;

    fn shrunk(scenario: Scenario) -> Shrunk {
        Shrunk {
            original: scenario.clone(),
            scenario,
            seed: 7,
            violation: crate::check::Violation {
                check: "unique".into(),
                kind: "duplicate-id".into(),
            },
            reason: "id 1 issued twice".into(),
            failing: vec!["unique".into()],
            faults_before: 3,
            runs: 5,
        }
    }

    #[test]
    fn shrunk_files_of_two_engines_and_variants_do_not_collide() {
        let dir = std::env::temp_dir().join(format!("highstorm-names-{}", std::process::id()));
        let base = Scenario::new("ids-crash-shrunk", "ids");
        let runs = [
            base.clone().engine(Engine::Turmoil),
            base.clone().engine(Engine::Events),
            base.clone().engine(Engine::Events).variant("forgetful"),
        ];
        let paths: Vec<PathBuf> = runs
            .into_iter()
            .map(|s| write_shrunk(&shrunk(s), &dir).unwrap())
            .collect();
        let names: Vec<String> = paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "ids-crash.default.turmoil.seed7.toml",
                "ids-crash.default.events.seed7.toml",
                "ids-crash.forgetful.events.seed7.toml",
            ]
        );
        for p in &paths {
            assert!(
                p.is_file(),
                "{} was overwritten or never written",
                p.display()
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shrunk_file_names_stay_in_their_directory() {
        let named = |name: &str, variant: &str| {
            shrunk_file_name(&Scenario::new(name, "ids").variant(variant), 3)
        };
        assert_eq!(
            named("../../../../ESCAPED", "default"),
            "____________ESCAPED.default.turmoil.seed3.toml"
        );
        assert_eq!(named("a/b\\c", "../v"), "a_b_c.___v.turmoil.seed3.toml");
        assert_eq!(named("", "x"), "_.x.turmoil.seed3.toml");
        let long = named(&"x".repeat(5000), "default");
        assert!(long.len() < 200, "{long}");
        for name in [named("/etc/passwd", "default"), named("..", "..")] {
            let path = Path::new("dir").join(&name);
            assert_eq!(path.parent(), Some(Path::new("dir")), "{name}");
            assert_eq!(path.components().count(), 2, "{name}");
        }
    }

    #[test]
    fn replays_do_not_shrink_unless_asked() {
        use ShrinkPolicy::*;
        assert_eq!(ShrinkPolicy::decide(None, false, false).unwrap(), Shrink);
        assert!(matches!(
            ShrinkPolicy::decide(None, true, false),
            Ok(Skip(_))
        ));
        assert!(matches!(
            ShrinkPolicy::decide(None, false, true),
            Ok(Skip(_))
        ));
        assert_eq!(ShrinkPolicy::decide(Some("1"), true, true).unwrap(), Shrink);
        assert!(matches!(
            ShrinkPolicy::decide(Some("0"), false, false),
            Ok(Skip(_))
        ));
        let err = ShrinkPolicy::decide(Some("maybe"), false, false).unwrap_err();
        assert!(
            err.to_string().contains("HIGHSTORM_SHRINK=\"maybe\""),
            "{err}"
        );
    }
}
