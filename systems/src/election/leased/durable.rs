//! The vote record: the highest term a node voted in and for whom, kept on disk so that a
//! restarted node never votes below a term it voted in, nor for another candidate in it.
//!
//! - **Written before the vote is answered.** A vote is granted only once the record is
//!   synced; a failed sync (or a full disk) denies it — never a promise the disk may not hold.
//! - **Read at restart.** A sound record restores the guard. The promise deadline is not on
//!   disk (a local clock restarts with its process), which is why a restarted node still starts
//!   bound for a whole promise and recovers its table before it votes.
//! - **A damaged record** (torn, corrupted) means the node does not know what it promised: it
//!   stays out of the next election — grants no pre-vote or vote and does not stand — until a
//!   leader's heartbeat tells it the current term, or, failing that, for one promise beyond
//!   the bound every restarted node keeps, once it recovered its table from its peers. Then it
//!   writes the record afresh and takes part again. (Owned terms already keep any one term to
//!   one candidate; the record keeps the node's own votes monotone, and a damaged one errs on
//!   the side of silence.)
//!
//! Without storage faults a node's trace differs from a node without the record only by the
//! `sync` line of each vote it grants.

use super::Election;
use crate::election::ElectionNote;
use highstorm_nodes::{Ctx, LocalTime};
use serde::{Deserialize, Serialize};

/// Where the record lives.
pub(super) const VOTE_RECORD: &str = "election/vote";

/// The record: the highest term this node voted in, and the candidate it voted for there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct VoteRecord {
    pub(super) term: u64,
    pub(super) voted_for: Option<String>,
}

/// A node that found its vote record damaged, staying out of elections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Abstention {
    /// Set once it recovered its table from peers: it may take part again from then on (local
    /// time) even if no leader's heartbeat reached it.
    pub(super) until: Option<LocalTime>,
}

impl Election {
    /// Reads the vote record at start: restores it, or abstains when it is damaged.
    pub(super) fn load_vote_record(&mut self, ctx: &mut Ctx<'_, Self>) {
        match ctx.storage().get_json::<VoteRecord>(VOTE_RECORD) {
            None => {}
            Some(Ok(record)) => self.voted = record,
            Some(Err(e)) => {
                ctx.note_typed(&ElectionNote::VoteRecordDamaged {
                    record: e.key().to_owned(),
                    error: e.to_string(),
                });
                self.abstention = Some(Abstention::default());
            }
        }
    }

    /// Whether the record forbids a vote for `candidate` in `term`: a lower term than one this
    /// node voted in, or another candidate in that term.
    pub(super) fn vote_forbidden(&self, candidate: &str, term: u64) -> bool {
        term < self.voted.term
            || (term == self.voted.term
                && self
                    .voted
                    .voted_for
                    .as_deref()
                    .is_some_and(|v| v != candidate))
    }

    /// Makes the vote for `candidate` in `term` durable before it is granted; `false` when the
    /// sync failed (the vote must then be denied: the disk may not hold it).
    pub(super) fn record_vote(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        candidate: &str,
        term: u64,
    ) -> bool {
        let record = VoteRecord {
            term,
            voted_for: Some(candidate.to_owned()),
        };
        if record == self.voted {
            return true;
        }
        ctx.put_json(VOTE_RECORD, &record);
        match ctx.sync() {
            Ok(()) => {
                self.voted = record;
                true
            }
            Err(e) => {
                ctx.note_typed(&ElectionNote::VoteNotRecorded {
                    term,
                    error: e.to_string(),
                });
                false
            }
        }
    }

    /// Whether this node stays out of elections now (its vote record was damaged).
    pub(super) fn abstaining(&self, now: LocalTime) -> bool {
        self.abstention
            .is_some_and(|a| a.until.is_none_or(|until| now < until))
    }

    /// A node that abstains learned the current term `term` from its leader (`from_leader`)
    /// or recovered its table from peers: after a leader's word it takes part again at once,
    /// after the peers' one promise beyond its restart's bound; either way once the record is
    /// rewritten.
    pub(super) fn end_abstention(&mut self, ctx: &mut Ctx<'_, Self>, from_leader: bool) {
        let Some(a) = &mut self.abstention else {
            return;
        };
        if !from_leader {
            if a.until.is_none() {
                // One promise beyond the bound every restarted node keeps anyway.
                a.until = Some(self.promised_until.max(ctx.now()) + self.cfg.promise());
            }
            return;
        }
        // The term it learned, without a vote in it: any vote it cast there before the
        // damage was for that term's owner, the only candidate the term can have.
        let record = VoteRecord {
            term: self.term,
            voted_for: None,
        };
        ctx.put_json(VOTE_RECORD, &record);
        if ctx.sync().is_ok() {
            self.voted = record;
            self.abstention = None;
            ctx.note_typed(&ElectionNote::VoteRecordRewritten { term: self.term });
        }
    }

    /// An abstaining node whose time-out passed rewrites its record before it votes again;
    /// `true` when it may take part.
    pub(super) fn may_take_part(&mut self, ctx: &mut Ctx<'_, Self>) -> bool {
        if self.abstention.is_none() {
            return true;
        }
        if self.abstaining(ctx.now()) {
            return false;
        }
        self.end_abstention(ctx, true);
        self.abstention.is_none()
    }
}
