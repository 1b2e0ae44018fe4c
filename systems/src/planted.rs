//! The planted bugs that swarm mode with a liveness phase is meant to find: each a variant of
//! a shipped system that the system's existing hand-written scenarios do not catch within 100
//! seeds, but its swarm scenario does. Benchmarks and tests read this one list.

/// One planted bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planted {
    /// The system.
    pub system: &'static str,
    /// The variant that carries the bug.
    pub variant: &'static str,
    /// The scenario file (under `scenarios/`) that should find it: the system's swarm scenario.
    pub scenario: &'static str,
    /// The system's other scenarios, which miss it within 100 seeds.
    pub misses: &'static [&'static str],
    /// What the bug is.
    pub bug: &'static str,
}

/// Every planted bug of swarm mode and the liveness phase.
pub const PLANTED: &[Planted] = &[
    Planted {
        system: "unique-ids",
        variant: "stuck-recovery",
        scenario: "unique-ids-swarm.toml",
        misses: &[
            "unique-ids-faults.toml",
            "unique-ids-nemesis.toml",
            "unique-ids-overlap.toml",
        ],
        bug: "a restarted node never counts itself recovered and answers every request with an \
              indefinite error (excused as 'answered' by requests-answered-unless-faulted)",
    },
    Planted {
        system: "echo",
        variant: "wary",
        scenario: "echo-swarm.toml",
        misses: &["echo.toml"],
        bug: "a request delivered twice makes the node suspect a replay and refuse every later \
              request with an indefinite error (the shipped scenario never duplicates)",
    },
];
