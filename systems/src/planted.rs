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
    Planted {
        system: "unique-ids",
        variant: "cold-after-idle",
        scenario: "unique-ids-swarm.toml",
        misses: &[
            "unique-ids-faults.toml",
            "unique-ids-nemesis.toml",
            "unique-ids-overlap.toml",
        ],
        bug: "a node that hears no request for 600 ms goes cold and never warms up again: every \
              later request gets an indefinite error",
    },
    Planted {
        system: "work-queue",
        variant: "sealed-after-restart",
        scenario: "work-queue-swarm.toml",
        misses: &[
            "work-queue-http.toml",
            "work-queue-manager-crash.toml",
            "work-queue-nemesis.toml",
            "work-queue-overlap.toml",
            "work-queue-partition.toml",
            "work-queue-pause.toml",
            "work-queue-skew.toml",
            "work-queue-worker-crash.toml",
        ],
        bug: "a restarted manager refuses new jobs until every reservation it recovered is \
              settled, but counts only TTR expiries, not completions: a restart while a live \
              worker holds a job closes the queue for good (no existing check asks for puts to \
              succeed)",
    },
    Planted {
        system: "election",
        variant: "wedged-leader",
        scenario: "election-swarm.toml",
        misses: &[
            "election-crash.toml",
            "election-nemesis.toml",
            "election-overlap.toml",
            "election-partition.toml",
            "election-pause.toml",
            "election-skew.toml",
        ],
        bug: "a node whose lease once ran out refuses every submit whenever it leads again, \
              while heartbeating, so nobody replaces it",
    },
    Planted {
        system: "g-counter",
        variant: "clock-fenced",
        scenario: "g-counter-swarm.toml",
        misses: &["g-counter-overlap.toml", "g-counter-partition.toml"],
        bug: "state carries the sender's clock; state from more than 500 ms in the receiver's \
              future makes the receiver stop merging for good (the shipped scenarios never skew \
              a clock)",
    },
];
