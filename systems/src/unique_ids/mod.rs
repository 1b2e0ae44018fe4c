//! Unique ids: every `generate` request gets an id no other request, on any node, in any
//! incarnation, ever got (Maelstrom's second challenge) — without any coordination.
//!
//! An id is `<node>-<boot>-<counter>`: the node id separates nodes, the boot count separates
//! incarnations (a restarted node starts its counter at zero again, but with a new boot count),
//! and the counter separates requests within one incarnation.

// Beside the node: what highstorm needs to test it (not compiled without `harness`).
#[cfg(feature = "harness")]
pub mod check;
#[cfg(feature = "harness")]
mod system;

/// Sometimes-point: an id was issued by a restarted incarnation.
pub const ID_AFTER_RESTART: &str = "id-after-restart";
#[cfg(feature = "harness")]
pub mod workload;
#[cfg(feature = "harness")]
pub use system::system;

use highstorm_nodes::{Ctx, ErrorBody, ErrorCode, Message, NoTimer, Node};
use serde::{Deserialize, Serialize};

/// Unique ids' messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UniqueIdsMsg {
    /// Please give me a new id.
    Generate,
    /// A new id.
    GenerateOk {
        /// Unique across the cluster and its whole history.
        id: String,
    },
}

/// A node that hands out globally unique ids.
#[derive(Debug, Default)]
pub struct UniqueIds {
    issued: u64,
    forgetful: bool,
    stuck_recovery: bool,
    /// Variant `cold-after-idle`: when the last request came (local time), and whether the
    /// node went cold.
    idle: Option<(Option<highstorm_nodes::LocalTime>, bool)>,
}

impl UniqueIds {
    /// The variant `forgetful`, with a planted bug for testing the harness: its ids leave out
    /// the boot count, so a restarted node hands out its earlier incarnation's ids again.
    pub fn forgetful() -> Self {
        UniqueIds {
            forgetful: true,
            ..UniqueIds::default()
        }
    }

    /// The variant `stuck-recovery`, with a planted bug for testing the harness: a node that
    /// restarted means to refuse ids until it has recovered its counter, but never counts
    /// itself recovered — it answers every request with an indefinite error (a gray failure
    /// that "answered, maybe late" excuses; only a liveness phase names it).
    pub fn stuck_recovery() -> Self {
        UniqueIds {
            stuck_recovery: true,
            ..UniqueIds::default()
        }
    }

    /// The variant `cold-after-idle`, with a planted bug for testing the harness: a node that
    /// hears no request for 600 ms (cut off, paused, or simply quiet) goes cold, meaning to
    /// warm up on the next request — but it never does, and answers every request with an
    /// indefinite error from then on.
    pub fn cold_after_idle() -> Self {
        UniqueIds {
            idle: Some((None, false)),
            ..UniqueIds::default()
        }
    }
}

impl Node for UniqueIds {
    type Msg = UniqueIdsMsg;
    type Timer = NoTimer;

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<UniqueIdsMsg>) {
        if let UniqueIdsMsg::Generate = msg.body {
            if let Some((last, cold)) = &mut self.idle {
                let now = ctx.now();
                *cold |=
                    last.is_some_and(|t| now > t + highstorm_nodes::Duration::from_millis(600));
                *last = Some(now);
                if *cold {
                    let e = ErrorBody::new(ErrorCode::Timeout, "warming up: try again");
                    ctx.reply_error(&msg, e);
                    return;
                }
            }
            if self.stuck_recovery && ctx.boot() > 0 {
                let e = ErrorBody::new(ErrorCode::Timeout, "recovering: try again");
                ctx.reply_error(&msg, e);
                return;
            }
            ctx.sometimes(ID_AFTER_RESTART, ctx.boot() > 0);
            let id = if self.forgetful {
                format!("{}-x-{}", ctx.id(), self.issued)
            } else {
                format!("{}-{}-{}", ctx.id(), ctx.boot(), self.issued)
            };
            self.issued += 1;
            ctx.reply(&msg, UniqueIdsMsg::GenerateOk { id });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::testing::Harness;
    use std::collections::BTreeSet;

    fn ids(h: &mut Harness<UniqueIds>, n: u64) -> Vec<String> {
        (0..n)
            .flat_map(|i| h.request("c1", i, &UniqueIdsMsg::Generate))
            .map(|m| match m.body {
                UniqueIdsMsg::GenerateOk { id } => id,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn ids_are_unique_across_nodes_and_restarts() {
        let mut seen = BTreeSet::new();
        let mut total = 0;
        for node in ["n1", "n2"] {
            for boot in 0..3 {
                let mut h = Harness::with_boot(UniqueIds::default(), node, &[], boot);
                for id in ids(&mut h, 500) {
                    total += 1;
                    assert!(seen.insert(id.clone()), "{id} issued twice");
                }
            }
        }
        assert_eq!(seen.len(), total);
    }

    #[test]
    fn the_forgetful_variant_repeats_ids_after_a_restart() {
        let first = ids(
            &mut Harness::with_boot(UniqueIds::forgetful(), "n1", &[], 0),
            3,
        );
        let again = ids(
            &mut Harness::with_boot(UniqueIds::forgetful(), "n1", &[], 1),
            3,
        );
        assert_eq!(first, again);
    }

    #[test]
    fn every_request_is_answered() {
        let mut h = Harness::new(UniqueIds::default(), "n1", &[]);
        assert_eq!(ids(&mut h, 100).len(), 100);
    }
}
