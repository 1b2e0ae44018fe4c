//! Buggify: seeded decision points inside node code, FoundationDB-style.
//!
//! A node asks [`Context::buggify`](crate::Context::buggify) at a named site whether to take a
//! rare path there (delay a step, shrink a batch, drop optional work). In a run with buggify
//! on, each site is enabled for the whole run with probability [`SITE_ENABLED`] (drawn from the
//! run seed and the site's name, so every node and incarnation agrees), and an enabled site
//! fires on each call with probability [`FIRES`] (drawn from the incarnation's own buggify rng,
//! never from [`Context::rng`](crate::Context::rng), so a node's other random choices do not
//! shift). A site that fires writes `note NODE buggify {"site":..}` into the trace. With
//! buggify off — the default, and always in real mode — every call answers `false` and leaves
//! no trace.

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// The chance that a site is enabled for a run (FoundationDB's is 25%).
pub const SITE_ENABLED: f64 = 0.25;

/// The chance that an enabled site fires on one call (FoundationDB's is 25%).
pub const FIRES: f64 = 0.25;

/// The note kind a firing site writes into the trace.
pub const NOTE_KIND: &str = "buggify";

/// Whether a node incarnation's buggify sites may fire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Buggify {
    /// Every site answers `false` (the default; real mode is always off).
    #[default]
    Off,
    /// Sites are enabled per run from the seed, and enabled sites fire at random.
    On,
}

/// One incarnation's buggify state: which sites the run enables, and the rng that decides
/// whether an enabled one fires.
pub(crate) struct Sites {
    run_seed: u64,
    rng: ChaCha8Rng,
    enabled: BTreeMap<&'static str, bool>,
}

impl Sites {
    /// The state of incarnation (`id`, `boot`) of a run at `run_seed`, or `None` when off.
    pub(crate) fn new(mode: Buggify, run_seed: u64, id: &str, boot: u64) -> Option<Sites> {
        match mode {
            Buggify::Off => None,
            Buggify::On => Some(Sites {
                run_seed,
                rng: ChaCha8Rng::seed_from_u64(crate::node::derive_seed(
                    run_seed,
                    &format!("buggify/{id}"),
                    boot,
                )),
                enabled: BTreeMap::new(),
            }),
        }
    }

    /// Whether `site` is enabled in this run (the same answer on every node).
    pub(crate) fn enabled(&mut self, site: &'static str) -> bool {
        let seed = self.run_seed;
        *self
            .enabled
            .entry(site)
            .or_insert_with(|| site_enabled(seed, site))
    }

    /// Whether an enabled site fires on this call.
    pub(crate) fn fires(&mut self) -> bool {
        self.rng.random_bool(FIRES)
    }
}

/// Whether `site` is enabled in the run at `run_seed`.
pub fn site_enabled(run_seed: u64, site: &str) -> bool {
    let draw = crate::node::derive_seed(run_seed, &format!("buggify-site/{site}"), 0);
    (draw as f64 / u64::MAX as f64) < SITE_ENABLED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_a_quarter_of_runs_enable_a_site_and_the_answer_is_stable() {
        let on = (0..4000)
            .filter(|s| site_enabled(*s, "shrink-batch"))
            .count();
        assert!((800..1200).contains(&on), "{on} of 4000");
        assert_eq!(site_enabled(17, "x"), site_enabled(17, "x"));
        let differ = (0..200).any(|s| site_enabled(s, "a") != site_enabled(s, "b"));
        assert!(differ, "sites are drawn independently");
    }

    #[test]
    fn off_means_no_state_at_all() {
        assert!(Sites::new(Buggify::Off, 1, "n1", 0).is_none());
        assert!(Sites::new(Buggify::On, 1, "n1", 0).is_some());
    }
}
