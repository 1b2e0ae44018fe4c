//! The `cargo test` command that runs the current test alone, at one seed.
//!
//! `cargo test` tells a test binary little about itself, so the command is pieced together
//! from what the running test can observe: the package (`CARGO_PKG_NAME`), the test target
//! (the binary's file name minus cargo's hash, matched against the package's `tests/` and
//! `src/` files), the test's full name (libtest names each test's thread after it), whether
//! ignored tests were asked for (`--ignored` / `--include-ignored` among the arguments), and
//! the scenario file the sweep was pointed at (`HIGHSTORM_SCENARIO`).

use std::path::{Path, PathBuf};

/// Which of a package's test binaries holds the test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestTarget {
    /// The library's unit tests (`--lib`).
    Lib,
    /// An integration test, by target name (`--test NAME`).
    Test(String),
    /// A binary's unit tests (`--bin NAME`).
    Bin(String),
}

/// The `cargo test` invocation that reruns one test, by itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestCommand {
    /// `-p PACKAGE`, when known.
    pub package: Option<String>,
    /// The test binary, when it could be told apart from the package's others.
    pub target: Option<TestTarget>,
    /// The test's full name (`module::test`), run with `--exact`.
    pub test: Option<String>,
    /// Whether to pass `--include-ignored` (the test may be `#[ignore]`d).
    pub include_ignored: bool,
    /// The scenario file the run came from (`HIGHSTORM_SCENARIO=FILE`).
    pub scenario_file: Option<PathBuf>,
}

impl TestCommand {
    /// The command for the test running on the current thread.
    pub fn current() -> Self {
        let package = std::env::var("CARGO_PKG_NAME").ok();
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
        let target = match (&manifest, &package, std::env::current_exe()) {
            (Some(dir), Some(pkg), Ok(exe)) => exe
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(strip_cargo_hash)
                .and_then(|stem| target_of(dir, pkg, stem)),
            _ => None,
        };
        let test = std::thread::current()
            .name()
            .filter(|n| *n != "main")
            .map(str::to_owned);
        let include_ignored =
            std::env::args().any(|a| a == "--ignored" || a == "--include-ignored");
        TestCommand {
            package,
            target,
            test,
            include_ignored,
            scenario_file: None,
        }
    }

    /// The same command, on the scenario in `file` (made absolute, since `cargo test` runs a
    /// test in its package's directory, not where the command was typed).
    pub fn on_file(mut self, file: &Path) -> Self {
        self.scenario_file = Some(file.canonicalize().unwrap_or_else(|_| file.to_owned()));
        self
    }

    /// The shell line that reruns the test at `seed`, printing the failing seed's whole trace.
    pub fn line(&self, seed: u64) -> String {
        let mut words: Vec<String> = vec![];
        if let Some(file) = &self.scenario_file {
            words.push(format!(
                "HIGHSTORM_SCENARIO={}",
                shell_word(&file.to_string_lossy())
            ));
        }
        words.push(format!("HIGHSTORM_SEED={seed}"));
        words.push("HIGHSTORM_TRACE=1".into());
        words.push("cargo test".into());
        if let Some(pkg) = &self.package {
            words.push(format!("-p {}", shell_word(pkg)));
        }
        match &self.target {
            Some(TestTarget::Lib) => words.push("--lib".into()),
            Some(TestTarget::Test(t)) => words.push(format!("--test {}", shell_word(t))),
            Some(TestTarget::Bin(b)) => words.push(format!("--bin {}", shell_word(b))),
            None => {}
        }
        if let Some(test) = &self.test {
            words.push(format!("{} -- --exact", shell_word(test)));
            if self.include_ignored {
                words.push("--include-ignored".into());
            }
        } else if self.include_ignored {
            words.push("-- --include-ignored".into());
        }
        words.join(" ")
    }
}

/// `register-0397672a36b15b33` -> `register`: cargo names a test binary after its crate, a
/// dash and 16 hex digits. `None` for anything else (a doctest, a binary run by hand).
fn strip_cargo_hash(stem: &str) -> Option<&str> {
    let (name, hash) = stem.rsplit_once('-')?;
    let is_hash = hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    (is_hash && !name.is_empty()).then_some(name)
}

/// Which target of the package in `dir` built the binary `crate_name` (a crate name, so
/// dashes became underscores). `None` when it cannot be told: then the command runs the test
/// in every binary of the package that has one by that name.
fn target_of(dir: &Path, package: &str, crate_name: &str) -> Option<TestTarget> {
    let dashed = crate_name.replace('_', "-");
    for name in [crate_name, dashed.as_str()] {
        let tests = dir.join("tests");
        if tests.join(format!("{name}.rs")).is_file() || tests.join(name).join("main.rs").is_file()
        {
            return Some(TestTarget::Test(name.to_owned()));
        }
    }
    let lib = package.replace('-', "_") == crate_name && dir.join("src/lib.rs").is_file();
    // A package's main binary and its library share a name: their test binaries look alike.
    let main = package.replace('-', "_") == crate_name && dir.join("src/main.rs").is_file();
    match (lib, main) {
        (true, false) => Some(TestTarget::Lib),
        (false, true) => Some(TestTarget::Bin(package.to_owned())),
        _ => [crate_name, dashed.as_str()]
            .into_iter()
            .find(|name| dir.join("src/bin").join(format!("{name}.rs")).is_file())
            .map(|name| TestTarget::Bin(name.to_owned())),
    }
}

/// `word`, single-quoted if the shell would otherwise split or expand it.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=,+@%".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_hashes_are_stripped_from_test_binaries_only() {
        assert_eq!(
            strip_cargo_hash("register-0397672a36b15b33"),
            Some("register")
        );
        assert_eq!(
            strip_cargo_hash("turmoil_http-0123456789abcdef"),
            Some("turmoil_http")
        );
        assert_eq!(strip_cargo_hash("rust_out"), None);
        assert_eq!(strip_cargo_hash("my-tool"), None);
        assert_eq!(strip_cargo_hash("-0397672a36b15b33"), None);
    }

    #[test]
    fn the_target_is_found_from_the_package_files() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let register = here.join("../examples/replicated-register");
        assert_eq!(
            target_of(&register, "replicated-register", "workflow"),
            Some(TestTarget::Test("workflow".into()))
        );
        // The library and the binary share a name: no flag rather than a wrong one.
        assert_eq!(
            target_of(&register, "replicated-register", "replicated_register"),
            None
        );
        let nodes = here.join("../nodes");
        assert_eq!(
            target_of(&nodes, "highstorm-nodes", "highstorm_nodes"),
            Some(TestTarget::Lib)
        );
    }

    #[test]
    fn a_line_names_the_package_target_test_and_file() {
        let cmd = TestCommand {
            package: Some("kv".into()),
            target: Some(TestTarget::Test("sweeps".into())),
            test: Some("buggy::sweep_fails".into()),
            include_ignored: true,
            scenario_file: Some("/tmp/a b/s.toml".into()),
        };
        assert_eq!(
            cmd.line(7),
            "HIGHSTORM_SCENARIO='/tmp/a b/s.toml' HIGHSTORM_SEED=7 HIGHSTORM_TRACE=1 cargo test \
             -p kv --test sweeps buggy::sweep_fails -- --exact --include-ignored"
        );
        let lib = TestCommand {
            target: Some(TestTarget::Lib),
            test: Some("t".into()),
            ..TestCommand::default()
        };
        assert_eq!(
            lib.line(0),
            "HIGHSTORM_SEED=0 HIGHSTORM_TRACE=1 cargo test --lib t -- --exact"
        );
    }

    #[test]
    fn the_current_test_is_named_by_its_thread() {
        let cmd = TestCommand::current();
        assert_eq!(cmd.package.as_deref(), Some("highstorm"));
        assert_eq!(
            cmd.test.as_deref(),
            Some("repro::tests::the_current_test_is_named_by_its_thread")
        );
    }
}
