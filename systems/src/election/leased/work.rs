//! Work items: client submits, assignment to workers with a timeout, and results recorded
//! once (the table is replicated by the heartbeat rounds).

use super::{Election, Role};
use crate::election::{jitter, Attempt, ElectionMsg, ElectionNote, ElectionTimer, Record};
use highstorm_nodes::{Ctx, Duration, ErrorBody, ErrorCode, Message};
use std::collections::BTreeMap;

impl Election {
    /// Assigns every item that is neither done nor assigned in time.
    pub(super) fn distribute(&mut self, ctx: &mut Ctx<'_, Self>) {
        let now = ctx.now();
        let term = self.term;
        let me = ctx.id().to_owned();
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let todo: Vec<String> = self
            .table
            .iter()
            .filter(|(_, r)| r.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        let mut load: BTreeMap<String, usize> = l.workers.iter().map(|w| (w.clone(), 0)).collect();
        if load.is_empty() {
            load.insert(me.clone(), 0);
        }
        for (w, _, _) in l.assigned.values() {
            if let Some(n) = load.get_mut(w) {
                *n += 1;
            }
        }
        let mut local = vec![];
        for item in todo {
            if let Some((w, a, deadline)) = l.assigned.get(&item) {
                if now < *deadline {
                    continue;
                }
                ctx.reachable(super::super::points::WORK_TIMED_OUT);
                ctx.note_typed(&ElectionNote::WorkTimeout {
                    item: item.clone(),
                    worker: w.clone(),
                    attempt: *a,
                    term: Some(term),
                });
            }
            let Some(worker) = load.iter().min_by_key(|(_, n)| **n).map(|(w, _)| w.clone()) else {
                break;
            };
            *load.entry(worker.clone()).or_default() += 1;
            l.next_attempt += 1;
            let attempt = Attempt(term, l.next_attempt);
            let deadline = now + Duration::from_millis(self.cfg.work_timeout_ms);
            l.assigned
                .insert(item.clone(), (worker.clone(), attempt, deadline));
            ctx.note_typed(&ElectionNote::Assign {
                item: item.clone(),
                worker: worker.clone(),
                term: Some(term),
                attempt,
            });
            if worker == me {
                local.push((item, attempt));
            } else {
                ctx.send(
                    &worker,
                    ElectionMsg::Assign {
                        term,
                        item,
                        attempt,
                    },
                );
            }
        }
        for (item, attempt) in local {
            self.start_work(ctx, item, attempt, term, me.clone());
        }
    }

    pub(super) fn start_work(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        item: String,
        attempt: Attempt,
        term: u64,
        leader: String,
    ) {
        if self.working.get(&item) == Some(&attempt) {
            return;
        }
        self.working.insert(item.clone(), attempt);
        let d = jitter(ctx.rng(), self.cfg.work_min_ms, self.cfg.work_max_ms);
        ctx.set_timer(
            d,
            ElectionTimer::Work {
                item,
                attempt,
                term,
                leader,
            },
        );
    }

    /// A worker's result reaches the leader: recorded in the table, counted once committed.
    pub(super) fn work_done(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        item: String,
        attempt: Attempt,
        worker: &str,
    ) {
        if !self.lease_valid(ctx.now()) {
            return;
        }
        let term = self.term;
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let Some(entry) = self.table.get_mut(&item) else {
            return;
        };
        if entry.is_some() {
            return; // already done: recorded once, whoever finishes later
        }
        *entry = Some(Record {
            worker: worker.to_owned(),
            attempt,
            term,
            committed: false,
        });
        l.assigned.remove(&item);
        l.version += 1;
        l.stamps.insert(item.clone(), l.version);
        self.unsaved.insert(item);
    }

    pub(super) fn submit(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        msg: Message<ElectionMsg>,
        item: String,
        forwarded: bool,
    ) {
        if self.wedged && self.lease_valid(ctx.now()) {
            let e = ErrorBody::new(ErrorCode::TemporarilyUnavailable, "leader busy: try again");
            ctx.reply_error(&msg, e);
            return;
        }
        if self.lease_valid(ctx.now()) {
            let Role::Leader(l) = &mut self.role else {
                return;
            };
            if !self.table.contains_key(&item) {
                self.table.insert(item.clone(), None);
                self.unsaved.insert(item.clone());
                l.version += 1;
                l.stamps.insert(item.clone(), l.version);
            }
            let stamp = l.stamps.get(&item).copied().unwrap_or(0);
            l.waiting.push((msg, stamp));
            return;
        }
        match self.leader.clone() {
            Some(leader) if !forwarded && leader != ctx.id() => {
                let timeout = Duration::from_millis(self.cfg.forward_timeout_ms);
                let body = ElectionMsg::Submit {
                    item,
                    forwarded: true,
                };
                let id = ctx.rpc(&leader, body, timeout);
                self.forwarded.insert(id, msg);
            }
            _ => {
                let e = ErrorBody::new(ErrorCode::TemporarilyUnavailable, "no leader known");
                ctx.reply_error(&msg, e);
            }
        }
    }
}
