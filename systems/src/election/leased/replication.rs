//! The leader's heartbeat rounds: the work table replicated to followers by version, lease
//! renewal and commit once a majority holds a round, and worker liveness.

use super::{Election, Role, Round};
use crate::election::{merge, ElectionMsg, ElectionNote, ElectionTimer, RecoveredFrom, Table};
use highstorm_nodes::{Ctx, Duration, Message};
use std::collections::BTreeSet;

impl Election {
    /// The leader's round: lease check, heartbeats with table deltas, worker liveness, work.
    pub(super) fn heartbeat_round(&mut self, ctx: &mut Ctx<'_, Self>) {
        let now = ctx.now();
        if !self.lease_valid(now) {
            self.step_down(ctx, "lease expired");
            return;
        }
        self.promise(ctx);
        // The leader counts itself among a round's holders only once its disk holds the round.
        let held_here = self.persist(ctx);
        let term = self.term;
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        l.round += 1;
        let round = l.round;
        let r = Round {
            sent: now,
            version: l.version,
            held_here,
            acks: BTreeSet::new(),
        };
        l.rounds.insert(round, r);
        while l.rounds.len() > 64 {
            l.rounds.pop_first();
        }
        for p in ctx.peers().to_vec() {
            let base = l.acked.get(&p).map_or(0, |a| a.1);
            let entries: Table = l
                .stamps
                .iter()
                .filter(|(_, &v)| v > base)
                .filter_map(|(k, _)| Some((k.clone(), self.table.get(k)?.clone())))
                .collect();
            let msg = ElectionMsg::Heartbeat {
                term,
                round,
                base,
                version: l.version,
                entries,
            };
            ctx.send(&p, msg);
        }
        // Workers: joined when answering, lost when silent for worker_timeout.
        let timeout = Duration::from_millis(self.cfg.worker_timeout_ms);
        let alive: BTreeSet<String> = l
            .last_heard
            .iter()
            .filter(|(_, &t)| now.saturating_since(t) < timeout)
            .map(|(p, _)| p.clone())
            .collect();
        for w in alive.difference(&l.workers) {
            ctx.note_typed(&ElectionNote::WorkerJoined {
                worker: w.clone(),
                term: Some(term),
            });
        }
        for w in l.workers.difference(&alive) {
            ctx.note_typed(&ElectionNote::WorkerLost {
                worker: w.clone(),
                term: Some(term),
            });
        }
        l.workers = alive;
        self.distribute(ctx);
        if self.size == 1 && held_here {
            self.commit(ctx, round);
        }
    }

    /// A heartbeat round is held by a majority: renew the lease, commit its table version.
    fn commit(&mut self, ctx: &mut Ctx<'_, Self>, round: u64) {
        let now = ctx.now();
        if !self.lease_valid(now) {
            self.step_down(ctx, "lease expired");
            return;
        }
        let term = self.term;
        let lease = self.cfg.lease();
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let Some(&Round { sent, version, .. }) = l.rounds.get(&round) else {
            return;
        };
        if sent + lease > l.lease_until {
            l.lease_until = sent + lease;
            if let Some(t) = l.lease_timer.take() {
                ctx.cancel_timer(t);
            }
            l.lease_timer = Some(ctx.set_timer(
                l.lease_until.saturating_since(now),
                ElectionTimer::LeaseExpiry,
            ));
            let until = l.lease_until.as_duration().as_micros() as u64;
            ctx.note_typed(&ElectionNote::Lease {
                term,
                until_us: until,
            });
        }
        if version <= l.committed {
            return;
        }
        l.committed = version;
        let mut newly = vec![];
        for (item, &stamp) in &l.stamps {
            if stamp > version {
                continue;
            }
            if let Some(Some(r)) = self.table.get(item) {
                if !r.committed {
                    newly.push(item.clone());
                }
            }
        }
        self.unsaved.extend(newly.iter().cloned());
        for item in newly {
            if let Some(Some(r)) = self.table.get_mut(&item) {
                r.committed = true;
                ctx.note_typed(&ElectionNote::ResultRecorded {
                    item: item.clone(),
                    worker: r.worker.clone(),
                    attempt: r.attempt,
                    term: Some(term),
                });
                l.version += 1;
                l.stamps.insert(item, l.version);
            }
        }
        let committed = l.committed;
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut l.waiting)
            .into_iter()
            .partition(|(_, v)| *v <= committed);
        l.waiting = waiting;
        for (request, _) in ready {
            ctx.reply(&request, ElectionMsg::SubmitOk);
        }
    }

    pub(super) fn on_heartbeat(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        msg: &Message<ElectionMsg>,
        (term, round, base, version): (u64, u64, u64, u64),
        entries: &Table,
    ) {
        if term < self.term {
            let reply = ElectionMsg::HeartbeatOk {
                term: self.term,
                round,
                holds: 0,
                ok: false,
            };
            ctx.reply(msg, reply);
            return;
        }
        self.adopt_term(ctx, term);
        if matches!(
            self.role,
            Role::Candidate { .. } | Role::PreCandidate { .. }
        ) {
            self.role = Role::Follower;
        }
        self.leader = Some(msg.src.clone());
        self.end_abstention(ctx, true);
        self.promise(ctx);
        merge(&mut self.table, entries);
        self.stage(entries.keys());
        // What it says it holds is on its disk first; a failed sync acknowledges nothing new.
        let synced = self.persist(ctx);
        if base <= self.held {
            if synced {
                self.held = self.held.max(version);
            }
            if !self.recovered {
                self.recovered = true;
                ctx.reachable(super::super::points::RECOVERED_FROM_LEADER);
                ctx.note_typed(&ElectionNote::Recovered {
                    from: RecoveredFrom::Leader(msg.src.clone()),
                    term,
                });
                self.heal_disk(ctx);
            }
        }
        self.arm_election(ctx);
        let reply = ElectionMsg::HeartbeatOk {
            term,
            round,
            holds: self.held,
            ok: true,
        };
        ctx.reply(msg, reply);
    }

    pub(super) fn on_heartbeat_ok(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        src: &str,
        term: u64,
        round: u64,
        holds: u64,
        ok: bool,
    ) {
        if term > self.term {
            self.adopt_term(ctx, term);
            return;
        }
        if !ok || term != self.term {
            return;
        }
        let now = ctx.now();
        let quorum = self.quorum();
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        l.last_heard.insert(src.to_owned(), now);
        let last = l.acked.get(src).map_or(0, |a| a.0);
        if round >= last {
            l.acked.insert(src.to_owned(), (round, holds));
        }
        let Some(r) = l.rounds.get_mut(&round) else {
            return;
        };
        if holds < r.version || !r.acks.insert(src.to_owned()) {
            return;
        }
        if r.acks.len() + usize::from(r.held_here) == quorum {
            self.commit(ctx, round);
        }
    }
}
