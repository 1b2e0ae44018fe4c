//! Anti-entropy, for safety: digests compared with a peer, and whatever either side lacked
//! sent over.

use super::topology::Arrival;
use super::{Broadcast, BroadcastMsg};
use highstorm_nodes::{Ctx, Duration};

/// How many peers a (re)starting node asks for everything: enough that one of them most
/// likely answers, few enough that a restart in a 1000-node cluster does not draw 999 full
/// copies (anti-entropy repairs whatever these miss).
pub(super) const RECOVERY_PEERS: usize = 8;

/// How many times an anti-entropy digest whose answer never came is sent again.
pub(super) const SYNC_RETRIES: u32 = 2;

impl Broadcast {
    /// Compares digests with `peer` as an RPC: a lost digest or answer is retried after
    /// `replicate_timeout_ms` (up to `retries` times) rather than waiting a whole
    /// anti-entropy period, which at 1000 nodes and 1% loss left values unrepaired past
    /// `converge_within` (`scenarios/broadcast-1000.toml`, seed 0).
    pub(super) fn sync(&mut self, ctx: &mut Ctx<'_, Self>, peer: String, retries: u32) {
        let timeout = Duration::from_millis(self.config.replicate_timeout_ms.max(1));
        let id = ctx.rpc(&peer, self.digest(), timeout);
        self.syncing = Some((id, peer, retries));
    }

    /// A peer's answer to our digest: everything it holds. Learn what we lacked and send back
    /// what it lacked.
    pub(super) fn everything(&mut self, ctx: &mut Ctx<'_, Self>, from: &str, values: &[u64]) {
        let mut theirs = values.to_vec();
        theirs.sort_unstable();
        let mut theirs = theirs.into_iter().peekable();
        let mut missing = vec![];
        for &v in &self.values {
            while theirs.next_if(|&t| t < v).is_some() {}
            if theirs.peek() != Some(&v) {
                missing.push(v);
            }
        }
        self.learn(ctx, values, Arrival::Origin { from: Some(from) }, None);
        if ctx.sometimes(super::points::REPAIR_SENT, !missing.is_empty()) {
            ctx.send(from, BroadcastMsg::Repair { values: missing });
        }
    }

    pub(super) fn digest(&self) -> BroadcastMsg {
        BroadcastMsg::Digest {
            count: self.values.len() as u64,
            hash: self.hash,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{held::value_hash, BroadcastConfig};
    use super::*;
    use highstorm_nodes::testing::Harness;

    #[test]
    fn digests_find_differences_and_repair_both_sides() {
        let cfg = BroadcastConfig {
            anti_entropy_ms: 60_000,
            ..BroadcastConfig::default()
        };
        let mut a = Harness::new(Broadcast::new(cfg.clone()), "n1", &["n0", "n2"]);
        a.take_sent();
        a.request("n0", 1, &BroadcastMsg::Gossip { values: vec![1, 2] });
        a.advance(Duration::from_secs(1));
        // Same set in another order: same digest, no answer.
        let same = a.request(
            "n2",
            5,
            &BroadcastMsg::Digest {
                count: 2,
                hash: value_hash(2).wrapping_add(value_hash(1)),
            },
        );
        assert_eq!(same.len(), 1);
        assert_eq!(same[0].body, BroadcastMsg::DigestOk);
        // A restarted peer (empty digest) gets everything.
        let reply = a.request("n2", 6, &BroadcastMsg::Digest { count: 0, hash: 0 });
        assert_eq!(
            reply[0].body,
            BroadcastMsg::Everything { values: vec![1, 2] }
        );
        // Everything from a peer that lacks 2: we learn 3 and send 2 back.
        let back = a.request("n2", 7, &BroadcastMsg::Everything { values: vec![1, 3] });
        assert!(back
            .iter()
            .any(|m| m.dest == "n2" && m.body == BroadcastMsg::Repair { values: vec![2] }));
        assert!(a.node().values().contains(&3));
    }
}
