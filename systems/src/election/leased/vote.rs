//! Terms, votes and promises: how a node of the default variant stands, votes and wins (see
//! the variant's docs for why leases of different leaders never overlap).

use super::{Election, Leadership, Role};
use crate::election::{jitter, merge, ElectionMsg, ElectionNote, ElectionTimer, Table};
use highstorm_nodes::{Ctx, Duration, ErrorBody, ErrorCode, Message};

impl Election {
    pub(super) fn arm_election(&mut self, ctx: &mut Ctx<'_, Self>) {
        if let Some(t) = self.election_timer.take() {
            ctx.cancel_timer(t);
        }
        let wait = self.promised_until.saturating_since(ctx.now())
            + jitter(
                ctx.rng(),
                self.cfg.election_min_ms,
                self.cfg.election_max_ms,
            );
        self.election_timer = Some(ctx.set_timer(wait, ElectionTimer::Election));
    }

    pub(super) fn promise(&mut self, ctx: &Ctx<'_, Self>) {
        self.promised_until = self.promised_until.max(ctx.now() + self.cfg.promise());
    }

    /// Moves to a later term as a follower (stepping down if leading).
    pub(super) fn adopt_term(&mut self, ctx: &mut Ctx<'_, Self>, term: u64) {
        if term <= self.term {
            return;
        }
        self.step_down(ctx, "higher term");
        self.term = term;
        self.voted_for = None;
        self.leader = None;
        self.held = 0;
        self.role = Role::Follower;
    }

    pub(super) fn step_down(&mut self, ctx: &mut Ctx<'_, Self>, reason: &str) {
        if let Role::Leader(l) = std::mem::take(&mut self.role) {
            if let Some(t) = l.lease_timer {
                ctx.cancel_timer(t);
            }
            ctx.reachable(super::super::points::STEPPED_DOWN);
            ctx.note_typed(&ElectionNote::StepDown {
                term: Some(self.term),
                reason: Some(reason.to_owned()),
                to: None,
            });
            self.leader = None;
            self.wedged |= self.wedge_on_expiry && reason == "lease expired";
            for (request, _) in l.waiting {
                let e = ErrorBody::new(ErrorCode::Timeout, "leader stepped down; outcome unknown");
                ctx.reply_error(&request, e);
            }
            self.arm_election(ctx);
        }
    }

    /// Asks the peers whether they would vote; stands once a majority would.
    pub(super) fn pre_vote(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.role = Role::PreCandidate {
            yes: [ctx.id().to_owned()].into(),
            max_term: self.term,
        };
        for p in ctx.peers().to_vec() {
            ctx.send(&p, ElectionMsg::PreVote);
        }
        self.arm_election(ctx);
        self.maybe_stand(ctx);
    }

    pub(super) fn maybe_stand(&mut self, ctx: &mut Ctx<'_, Self>) {
        if let Role::PreCandidate { yes, max_term } = &self.role {
            if yes.len() >= self.quorum() {
                let max_term = *max_term;
                self.start_election(ctx, max_term);
            }
        }
    }

    fn start_election(&mut self, ctx: &mut Ctx<'_, Self>, above: u64) {
        let n = self.size.max(1);
        let mut term = self.term.max(above) + 1;
        term += (self.index + n - term % n) % n;
        self.term = term;
        // No promise for its own vote: a candidate that votes for another moves to that
        // term and can no longer win its own, so no lease ever rests on that vote.
        self.voted_for = Some(ctx.id().to_owned());
        self.leader = None;
        self.held = 0;
        let asked_at = ctx.now();
        self.role = Role::Candidate {
            votes: [ctx.id().to_owned()].into(),
            asked_at,
        };
        ctx.note_typed(&ElectionNote::Candidate {
            term: Some(term),
            rank: None,
        });
        for p in ctx.peers().to_vec() {
            ctx.send(&p, ElectionMsg::RequestVote { term });
        }
        // Whoever voted for this candidacy is bound for a promise; standing again sooner
        // would only meet refusals (and bind other voters to hopeless candidacies).
        if let Some(t) = self.election_timer.take() {
            ctx.cancel_timer(t);
        }
        let wait = self.cfg.promise()
            + jitter(
                ctx.rng(),
                self.cfg.election_min_ms,
                self.cfg.election_max_ms,
            );
        self.election_timer = Some(ctx.set_timer(wait, ElectionTimer::Election));
        self.maybe_win(ctx);
    }

    fn maybe_win(&mut self, ctx: &mut Ctx<'_, Self>) {
        let Role::Candidate { votes, asked_at } = &self.role else {
            return;
        };
        if votes.len() < self.quorum() {
            return;
        }
        let lease_until = *asked_at + self.cfg.lease();
        if ctx.now() >= lease_until {
            return; // the votes came too late to lead on; the election timer tries again
        }
        if let Some(t) = self.election_timer.take() {
            ctx.cancel_timer(t);
        }
        // Every result it holds is now proposed in this term (as a Paxos leader proposes the
        // value of the highest ballot it learned with its own): once a majority holds it in
        // this term it is committed, and any later leader sees it as the latest result.
        let term = self.term;
        for r in self.table.values_mut().flatten() {
            r.term = term;
        }
        let mut l = Leadership {
            lease_until,
            version: 1,
            ..Leadership::default()
        };
        l.stamps = self.table.keys().map(|k| (k.clone(), 1)).collect();
        self.unsaved.extend(self.table.keys().cloned());
        l.lease_timer = Some(ctx.set_timer(
            lease_until.saturating_since(ctx.now()),
            ElectionTimer::LeaseExpiry,
        ));
        self.role = Role::Leader(Box::new(l));
        self.leader = Some(ctx.id().to_owned());
        ctx.reachable(super::super::points::LEADER_ELECTED);
        ctx.sometimes(super::super::points::LEADER_AFTER_FIRST_TERM, self.term > 1);
        ctx.note_typed(&ElectionNote::Leader {
            term: Some(self.term),
            lease_until_us: Some(lease_until.as_duration().as_micros() as u64),
            rank: None,
        });
        self.heartbeat_round(ctx);
        ctx.set_timer(
            Duration::from_millis(self.cfg.heartbeat_ms.max(1)),
            ElectionTimer::Heartbeat,
        );
    }

    pub(super) fn on_vote(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        src: &str,
        term: u64,
        granted: bool,
        table: Option<&Table>,
    ) {
        if term > self.term {
            self.adopt_term(ctx, term);
            return;
        }
        if !granted || term != self.term {
            return;
        }
        if let Role::Candidate { votes, .. } = &mut self.role {
            votes.insert(src.to_owned());
            if let Some(t) = table {
                merge(&mut self.table, t);
            }
            self.maybe_win(ctx);
        }
    }

    /// Answers a vote request with a refusal at this node's term.
    fn deny_vote(&self, ctx: &mut Ctx<'_, Self>, msg: &Message<ElectionMsg>) {
        let deny = ElectionMsg::Vote {
            term: self.term,
            granted: false,
            table: None,
        };
        ctx.reply(msg, deny);
    }

    pub(super) fn on_request_vote(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        msg: &Message<ElectionMsg>,
        term: u64,
    ) {
        let bound = ctx.now() < self.promised_until || !self.recovered || !self.may_take_part(ctx);
        if bound || term < self.term || self.vote_forbidden(&msg.src, term) {
            return self.deny_vote(ctx, msg);
        }
        self.adopt_term(ctx, term);
        if self.voted_for.as_ref().is_some_and(|v| *v != msg.src) {
            return self.deny_vote(ctx, msg);
        }
        if !self.record_vote(ctx, &msg.src, term) {
            return self.deny_vote(ctx, msg);
        }
        self.voted_for = Some(msg.src.clone());
        self.promise(ctx);
        self.arm_election(ctx);
        let grant = ElectionMsg::Vote {
            term,
            granted: true,
            table: Some(self.table.clone()),
        };
        ctx.reply(msg, grant);
    }
}
