//! The correct variant: owned terms, majority votes, leader leases and a replicated work table.
//!
//! - **Terms** are owned: node `i` of `n` only stands in terms `t` with `t % n == i`, so no two
//!   nodes ever claim one term, even after a restart forgot which terms a node voted in.
//! - **Votes and promises.** A node grants a vote, or answers a heartbeat, only when it is not
//!   bound by an earlier promise; either act promises, for `promise` on its own clock
//!   ([`ElectionConfig::promise`]), not to vote for anybody else. A restarted node starts
//!   bound (it may have promised before it crashed).
//! - **Leases.** A leader's lease runs `lease` on its own clock from the moment it sent the
//!   request (vote request or heartbeat round) that a majority answered. Every answer is a
//!   promise made after that moment, so, under the clock assumption, the lease ends in true
//!   time before the promises of that majority do; any later leader needs a vote from one of
//!   them. Leases of different leaders never overlap. A leader acts (assigns, records, answers
//!   clients) only while its lease is valid, and steps down when it runs out.
//! - **Work.** Items live in a table replicated with the heartbeats (deltas by version); a
//!   submit is acknowledged, and a result counted as recorded, once a majority holds it. A new
//!   leader merges the tables its voters sent, so it knows every recorded result and never
//!   records a second. Assignments carry the term; a worker refuses one from an older term
//!   than its own. Items not done within `work_timeout` are reassigned. A restarted node votes
//!   and stands only after it recovered a table from a leader's heartbeat or from enough peers.

use super::notes::{ElectionNote, RecoveredFrom};
use super::{jitter, merge, Attempt, ElectionConfig, ElectionMsg, ElectionTimer, Record, Table};
use highstorm_nodes::{
    Ctx, Duration, ErrorBody, ErrorCode, LocalTime, Message, MsgId, Node, RpcReply, TimerId,
};
use std::collections::{BTreeMap, BTreeSet};

/// One node of the default election variant.
#[derive(Debug, Default)]
pub struct Election {
    cfg: ElectionConfig,
    /// This node's place among all nodes (sorted ids), and the cluster size.
    index: u64,
    size: u64,
    term: u64,
    voted_for: Option<String>,
    role: Role,
    /// The leader this node follows in `term`.
    leader: Option<String>,
    /// No vote for anybody before this (local time).
    promised_until: LocalTime,
    /// Whether this incarnation holds every recorded item (false after a restart until synced).
    recovered: bool,
    /// Recovered peers that sent their table since the restart.
    synced_from: BTreeSet<String>,
    table: Table,
    /// The table version held from the current term's leader.
    held: u64,
    election_timer: Option<TimerId>,
    /// Items this node is working on, as a worker: item -> attempt.
    working: BTreeMap<String, Attempt>,
    /// Client submits passed on to the leader: forward RPC -> the client's request.
    forwarded: BTreeMap<MsgId, Message<ElectionMsg>>,
}

#[derive(Debug, Default)]
enum Role {
    #[default]
    Follower,
    /// Asking whether a majority would vote before standing (and binding voters).
    PreCandidate {
        yes: BTreeSet<String>,
        max_term: u64,
    },
    Candidate {
        votes: BTreeSet<String>,
        asked_at: LocalTime,
    },
    Leader(Box<Leadership>),
}

/// What a leader keeps for its term.
#[derive(Debug, Default)]
struct Leadership {
    lease_until: LocalTime,
    lease_timer: Option<TimerId>,
    /// Table version and the version each item last changed at.
    version: u64,
    stamps: BTreeMap<String, u64>,
    committed: u64,
    round: u64,
    /// Round -> (sent at, table version, peers that hold it).
    rounds: BTreeMap<u64, (LocalTime, u64, BTreeSet<String>)>,
    /// Peer -> (the last round it answered, the version it holds).
    acked: BTreeMap<String, (u64, u64)>,
    last_heard: BTreeMap<String, LocalTime>,
    workers: BTreeSet<String>,
    /// Item -> (worker, attempt, deadline).
    assigned: BTreeMap<String, (String, Attempt, LocalTime)>,
    next_attempt: u64,
    /// Client submits waiting for their item's version to be committed.
    waiting: Vec<(Message<ElectionMsg>, u64)>,
}

impl Election {
    /// A node with `cfg`.
    pub fn new(cfg: ElectionConfig) -> Self {
        Election {
            cfg,
            ..Election::default()
        }
    }

    fn quorum(&self) -> usize {
        (self.size / 2 + 1) as usize
    }

    fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    fn role_name(&self) -> &'static str {
        match self.role {
            Role::Follower | Role::PreCandidate { .. } => "follower",
            Role::Candidate { .. } => "candidate",
            Role::Leader(_) => "leader",
        }
    }

    fn arm_election(&mut self, ctx: &mut Ctx<'_, Self>) {
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

    fn promise(&mut self, ctx: &Ctx<'_, Self>) {
        self.promised_until = self.promised_until.max(ctx.now() + self.cfg.promise());
    }

    /// Moves to a later term as a follower (stepping down if leading).
    fn adopt_term(&mut self, ctx: &mut Ctx<'_, Self>, term: u64) {
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

    fn step_down(&mut self, ctx: &mut Ctx<'_, Self>, reason: &str) {
        if let Role::Leader(l) = std::mem::take(&mut self.role) {
            if let Some(t) = l.lease_timer {
                ctx.cancel_timer(t);
            }
            ctx.note_typed(&ElectionNote::StepDown {
                term: Some(self.term),
                reason: Some(reason.to_owned()),
                to: None,
            });
            self.leader = None;
            for (request, _) in l.waiting {
                let e = ErrorBody::new(ErrorCode::Timeout, "leader stepped down; outcome unknown");
                ctx.reply_error(&request, e);
            }
            self.arm_election(ctx);
        }
    }

    fn lease_valid(&self, now: LocalTime) -> bool {
        matches!(&self.role, Role::Leader(l) if now < l.lease_until)
    }

    /// Asks the peers whether they would vote; stands once a majority would.
    fn pre_vote(&mut self, ctx: &mut Ctx<'_, Self>) {
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

    fn maybe_stand(&mut self, ctx: &mut Ctx<'_, Self>) {
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
        let mut l = Leadership {
            lease_until,
            version: 1,
            ..Leadership::default()
        };
        l.stamps = self.table.keys().map(|k| (k.clone(), 1)).collect();
        l.lease_timer = Some(ctx.set_timer(
            lease_until.saturating_since(ctx.now()),
            ElectionTimer::LeaseExpiry,
        ));
        self.role = Role::Leader(Box::new(l));
        self.leader = Some(ctx.id().to_owned());
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

    /// The leader's round: lease check, heartbeats with table deltas, worker liveness, work.
    fn heartbeat_round(&mut self, ctx: &mut Ctx<'_, Self>) {
        let now = ctx.now();
        if !self.lease_valid(now) {
            self.step_down(ctx, "lease expired");
            return;
        }
        self.promise(ctx);
        let term = self.term;
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        l.round += 1;
        let round = l.round;
        l.rounds.insert(round, (now, l.version, BTreeSet::new()));
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
        if self.size == 1 {
            self.commit(ctx, round);
        }
    }

    /// Assigns every item that is neither done nor assigned in time.
    fn distribute(&mut self, ctx: &mut Ctx<'_, Self>) {
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

    fn start_work(
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
    fn work_done(&mut self, ctx: &mut Ctx<'_, Self>, item: String, attempt: Attempt, worker: &str) {
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
        l.stamps.insert(item, l.version);
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
        let Some(&(sent, version, _)) = l.rounds.get(&round) else {
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

    fn submit(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        msg: Message<ElectionMsg>,
        item: String,
        forwarded: bool,
    ) {
        if self.lease_valid(ctx.now()) {
            let Role::Leader(l) = &mut self.role else {
                return;
            };
            if !self.table.contains_key(&item) {
                self.table.insert(item.clone(), None);
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

    fn on_heartbeat(
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
        self.promise(ctx);
        merge(&mut self.table, entries);
        if base <= self.held {
            self.held = self.held.max(version);
            if !self.recovered {
                self.recovered = true;
                ctx.note_typed(&ElectionNote::Recovered {
                    from: RecoveredFrom::Leader(msg.src.clone()),
                    term,
                });
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

    fn on_heartbeat_ok(
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
        let Some((_, version, acks)) = l.rounds.get_mut(&round) else {
            return;
        };
        if holds < *version || !acks.insert(src.to_owned()) {
            return;
        }
        if acks.len() + 1 == quorum {
            self.commit(ctx, round);
        }
    }

    fn on_vote(
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

    fn on_request_vote(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<ElectionMsg>, term: u64) {
        let bound = ctx.now() < self.promised_until || !self.recovered;
        if bound || term < self.term {
            let deny = ElectionMsg::Vote {
                term: self.term,
                granted: false,
                table: None,
            };
            ctx.reply(msg, deny);
            return;
        }
        self.adopt_term(ctx, term);
        if self.voted_for.as_ref().is_some_and(|v| *v != msg.src) {
            let deny = ElectionMsg::Vote {
                term: self.term,
                granted: false,
                table: None,
            };
            ctx.reply(msg, deny);
            return;
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

impl Node for Election {
    type Msg = ElectionMsg;
    type Timer = ElectionTimer;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        let mut all: Vec<String> = ctx.peers().to_vec();
        all.push(ctx.id().to_owned());
        all.sort();
        self.size = all.len() as u64;
        self.index = all.iter().position(|n| n == ctx.id()).unwrap_or(0) as u64;
        // Boot 0 is a member of the initial cluster, which starts empty. A later incarnation
        // may have voted and promised before it crashed, and lost the table it held.
        self.recovered = ctx.boot() == 0;
        if !self.recovered {
            self.promise(ctx);
            for p in ctx.peers().to_vec() {
                ctx.send(&p, ElectionMsg::SyncRequest);
            }
            ctx.set_timer(
                Duration::from_millis(self.cfg.heartbeat_ms.max(1) * 3),
                ElectionTimer::Sync,
            );
        }
        self.arm_election(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<ElectionMsg>) {
        match &msg.body {
            ElectionMsg::Submit { item, forwarded } => {
                let (item, forwarded) = (item.clone(), *forwarded);
                self.submit(ctx, msg, item, forwarded);
            }
            ElectionMsg::Status => {
                let leading = self.lease_valid(ctx.now());
                let reply = ElectionMsg::StatusOk {
                    role: if leading {
                        "leader"
                    } else if self.is_leader() {
                        "follower"
                    } else {
                        self.role_name()
                    }
                    .to_owned(),
                    term: self.term,
                    leader: self.leader.clone(),
                };
                ctx.reply(&msg, reply);
            }
            ElectionMsg::PreVote => {
                let granted = self.recovered && ctx.now() >= self.promised_until;
                let term = self.term;
                ctx.reply(&msg, ElectionMsg::PreVoteReply { term, granted });
            }
            ElectionMsg::PreVoteReply { term, granted } => {
                if let Role::PreCandidate { yes, max_term } = &mut self.role {
                    if *granted {
                        yes.insert(msg.src.clone());
                        *max_term = (*max_term).max(*term);
                        self.maybe_stand(ctx);
                    }
                }
            }
            ElectionMsg::RequestVote { term } => {
                let term = *term;
                self.on_request_vote(ctx, &msg, term);
            }
            ElectionMsg::Vote {
                term,
                granted,
                table,
            } => {
                let (term, granted) = (*term, *granted);
                self.on_vote(ctx, &msg.src, term, granted, table.as_ref());
            }
            ElectionMsg::Heartbeat {
                term,
                round,
                base,
                version,
                entries,
            } => {
                let head = (*term, *round, *base, *version);
                self.on_heartbeat(ctx, &msg, head, entries);
            }
            ElectionMsg::HeartbeatOk {
                term,
                round,
                holds,
                ok,
            } => {
                let (t, r, h, ok) = (*term, *round, *holds, *ok);
                self.on_heartbeat_ok(ctx, &msg.src, t, r, h, ok);
            }
            ElectionMsg::SyncRequest => {
                if self.recovered {
                    let reply = ElectionMsg::SyncReply {
                        term: self.term,
                        recovered: true,
                        table: self.table.clone(),
                    };
                    ctx.reply(&msg, reply);
                }
            }
            ElectionMsg::SyncReply {
                term,
                recovered,
                table,
            } => {
                if self.recovered || !*recovered {
                    return;
                }
                merge(&mut self.table, table);
                self.adopt_term(ctx, *term);
                self.synced_from.insert(msg.src.clone());
                // Any majority that holds a recorded item intersects this many other nodes.
                let needed = self.size as usize - self.quorum() + 1;
                if self.synced_from.len() >= needed {
                    self.recovered = true;
                    ctx.note_typed(&ElectionNote::Recovered {
                        from: RecoveredFrom::Peers(self.synced_from.clone()),
                        term: self.term,
                    });
                }
            }
            ElectionMsg::Assign {
                term,
                item,
                attempt,
            } => {
                if *term < self.term {
                    ctx.note_typed(&ElectionNote::AssignRefused {
                        item: item.clone(),
                        term: *term,
                        current: self.term,
                        from: msg.src.clone(),
                    });
                    let refuse = ElectionMsg::AssignRefused {
                        term: self.term,
                        item: item.clone(),
                    };
                    ctx.reply(&msg, refuse);
                    return;
                }
                let (item, attempt, term) = (item.clone(), *attempt, *term);
                self.start_work(ctx, item, attempt, term, msg.src.clone());
            }
            ElectionMsg::AssignRefused { term, .. } => {
                let term = *term;
                self.adopt_term(ctx, term);
            }
            ElectionMsg::WorkDone { item, attempt, .. } => {
                let (item, attempt) = (item.clone(), *attempt);
                self.work_done(ctx, item, attempt, &msg.src);
            }
            ElectionMsg::SubmitOk
            | ElectionMsg::StatusOk { .. }
            | ElectionMsg::Candidacy { .. }
            | ElectionMsg::Backing
            | ElectionMsg::Countdown { .. }
            | ElectionMsg::LeaderAlive { .. }
            | ElectionMsg::MemberAlive => {}
        }
    }

    fn on_rpc_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        request: MsgId,
        reply: RpcReply<ElectionMsg>,
    ) {
        let Some(client) = self.forwarded.remove(&request) else {
            return;
        };
        super::answer_forwarded(ctx, &client, reply);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: ElectionTimer) {
        match timer {
            ElectionTimer::Election => {
                self.election_timer = None;
                if self.is_leader() {
                    return;
                }
                if ctx.now() < self.promised_until || !self.recovered {
                    self.arm_election(ctx);
                    return;
                }
                self.pre_vote(ctx);
            }
            ElectionTimer::Heartbeat => {
                if self.is_leader() {
                    self.heartbeat_round(ctx);
                    if self.is_leader() {
                        ctx.set_timer(
                            Duration::from_millis(self.cfg.heartbeat_ms.max(1)),
                            ElectionTimer::Heartbeat,
                        );
                    }
                }
            }
            ElectionTimer::LeaseExpiry => {
                if let Role::Leader(l) = &mut self.role {
                    l.lease_timer = None;
                }
                if self.is_leader() && !self.lease_valid(ctx.now()) {
                    self.step_down(ctx, "lease expired");
                }
            }
            ElectionTimer::Sync => {
                if !self.recovered {
                    for p in ctx.peers().to_vec() {
                        ctx.send(&p, ElectionMsg::SyncRequest);
                    }
                    ctx.set_timer(
                        Duration::from_millis(self.cfg.heartbeat_ms.max(1) * 3),
                        ElectionTimer::Sync,
                    );
                }
            }
            ElectionTimer::Countdown => {}
            ElectionTimer::Work {
                item,
                attempt,
                term,
                leader,
            } => {
                if self.working.get(&item) != Some(&attempt) {
                    return;
                }
                self.working.remove(&item);
                if leader == ctx.id() {
                    let me = ctx.id().to_owned();
                    self.work_done(ctx, item, attempt, &me);
                } else {
                    ctx.send(
                        &leader,
                        ElectionMsg::WorkDone {
                            term,
                            item,
                            attempt,
                        },
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::testing::Harness;
    use highstorm_nodes::Process;

    fn node(id: &str, boot: u64) -> Harness<Election> {
        let peers: Vec<&str> = ["n0", "n1", "n2"]
            .into_iter()
            .filter(|p| *p != id)
            .collect();
        Harness::with_boot(Election::new(ElectionConfig::default()), id, &peers, boot)
    }

    fn reply(
        h: &mut Harness<Election>,
        src: &str,
        to: &Message<ElectionMsg>,
        body: ElectionMsg,
    ) -> Vec<Message<ElectionMsg>> {
        let bytes = highstorm_nodes::wire::encode(&highstorm_nodes::wire::Envelope {
            src: src.into(),
            dest: h.process().id().to_owned(),
            body: highstorm_nodes::wire::Body {
                msg_id: Some(1000),
                in_reply_to: to.msg_id,
                payload: body,
            },
        });
        h.deliver_bytes(&bytes)
    }

    #[test]
    fn a_node_stands_only_in_terms_it_owns_and_leads_on_a_majority() {
        let mut h = node("n1", 0);
        let sent = h.advance(Duration::from_millis(500));
        let pre = sent
            .iter()
            .find(|m| m.body == ElectionMsg::PreVote)
            .expect("pre-vote");
        let after = reply(
            &mut h,
            "n0",
            pre,
            ElectionMsg::PreVoteReply {
                term: 4,
                granted: true,
            },
        );
        let ask = after
            .iter()
            .find_map(|m| match m.body {
                ElectionMsg::RequestVote { term } => Some((m.clone(), term)),
                _ => None,
            })
            .expect("stands after a majority would vote");
        // Above every term it heard of, and its own: term % 3 == index of n1.
        assert_eq!(ask.1, 7);
        let vote = ElectionMsg::Vote {
            term: 7,
            granted: true,
            table: Some(Table::new()),
        };
        let beats = reply(&mut h, "n2", &ask.0, vote);
        assert!(h.node().is_leader());
        assert!(beats
            .iter()
            .any(|m| matches!(m.body, ElectionMsg::Heartbeat { term: 7, .. })));
    }

    #[test]
    fn a_promised_node_refuses_votes_and_a_restarted_one_waits_to_recover() {
        let mut h = node("n0", 0);
        let beat = ElectionMsg::Heartbeat {
            term: 2,
            round: 1,
            base: 0,
            version: 1,
            entries: Table::new(),
        };
        let ack = h.request("n2", 1, &beat);
        assert!(matches!(
            ack[0].body,
            ElectionMsg::HeartbeatOk { ok: true, .. }
        ));
        let deny = h.request("n1", 2, &ElectionMsg::RequestVote { term: 4 });
        assert!(matches!(
            deny[0].body,
            ElectionMsg::Vote {
                granted: false,
                term: 2,
                ..
            }
        ));
        h.advance(ElectionConfig::default().promise());
        let grant = h.request("n1", 3, &ElectionMsg::RequestVote { term: 4 });
        assert!(matches!(
            grant[0].body,
            ElectionMsg::Vote {
                granted: true,
                term: 4,
                ..
            }
        ));

        let mut restarted = node("n0", 1);
        restarted.advance(ElectionConfig::default().promise() * 2);
        let deny = restarted.request("n1", 1, &ElectionMsg::RequestVote { term: 4 });
        assert!(
            matches!(deny[0].body, ElectionMsg::Vote { granted: false, .. }),
            "not recovered"
        );
    }

    #[test]
    fn an_assignment_from_an_older_term_is_refused() {
        let mut h = node("n0", 0);
        let beat = ElectionMsg::Heartbeat {
            term: 5,
            round: 1,
            base: 0,
            version: 1,
            entries: Table::new(),
        };
        h.request("n2", 1, &beat);
        let stale = ElectionMsg::Assign {
            term: 4,
            item: "x".into(),
            attempt: Attempt(4, 1),
        };
        let out = h.request("n1", 2, &stale);
        assert!(matches!(
            out[0].body,
            ElectionMsg::AssignRefused { term: 5, .. }
        ));
        let fresh = ElectionMsg::Assign {
            term: 5,
            item: "x".into(),
            attempt: Attempt(5, 1),
        };
        h.request("n2", 3, &fresh);
        let done = h.advance(Duration::from_millis(400));
        assert!(done
            .iter()
            .any(|m| m.dest == "n2" && matches!(m.body, ElectionMsg::WorkDone { term: 5, .. })));
    }
}
