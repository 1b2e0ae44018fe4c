//! A one-line hint, printed once per process, when the simulator itself was built without
//! optimisation: sweeps then run several times slower than they need to.

use std::sync::Once;

/// The opt-level this crate was built with (from cargo's `OPT_LEVEL`, by the build script).
pub(crate) const OPT_LEVEL: &str = env!("HIGHSTORM_OPT_LEVEL");

/// The hint for a build at `opt_level`, if it is unoptimised.
pub(crate) fn unoptimised_hint(opt_level: &str) -> Option<String> {
    (opt_level == "0").then(|| {
        "highstorm: the simulator is built unoptimised (opt-level 0), so sweeps run several \
         times slower; add `[profile.dev.package.highstorm] opt-level = 1` and \
         `[profile.dev.package.\"*\"] opt-level = 2` to your workspace's Cargo.toml \
         (README: \"Testing your own system\")"
            .to_owned()
    })
}

/// Prints [`unoptimised_hint`] for this build to stderr, the first time only.
pub(crate) fn warn_once_if_unoptimised() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Some(hint) = unoptimised_hint(OPT_LEVEL) {
            eprintln!("{hint}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unoptimised_build_gets_the_hint() {
        let hint = unoptimised_hint("0").expect("opt-level 0 is unoptimised");
        assert!(hint.contains("[profile.dev.package.highstorm]"), "{hint}");
        for level in ["1", "2", "3", "s", "z"] {
            assert_eq!(unoptimised_hint(level), None, "opt-level {level}");
        }
    }

    #[test]
    fn the_build_script_reports_this_workspace_s_profile() {
        // This workspace builds highstorm at opt-level 1 in dev and test (Cargo.toml), more
        // with --release: never 0.
        assert_ne!(OPT_LEVEL, "unknown");
        assert_ne!(
            OPT_LEVEL, "0",
            "the workspace profile lost its opt-level for highstorm"
        );
    }
}
