//! The source's protocol, faithfully (Scrap Worker), flaws included.
//!
//! Every node starts a member. A member that hears no leader within `member_timeout` becomes a
//! candidate and broadcasts its candidacy with its rank. A node that sees a higher-ranked
//! candidate becomes a voter for it (never both voter and candidate); a tie makes a candidate
//! lower its rank by a random 1–10 and stand again. A candidate that hears no higher rank for a
//! while runs an acceptance countdown (3, 2, 1, 0), which a higher-ranked candidate interrupts;
//! the first to broadcast 0 is leader. The leader heartbeats, learns its workers from their
//! answers, hands out items, and reassigns items not done in time; it records results itself
//! and acknowledges submits at once.
//!
//! No terms, no quorum, no leases: the two sides of a partition each elect a leader, and a
//! paused leader that wakes up still believes it leads. Items live only on the leader.

use super::{jitter, Attempt, ElectionConfig, ElectionMsg, ElectionNote, ElectionTimer};
use highstorm_nodes::{
    Ctx, Duration, ErrorBody, ErrorCode, LocalTime, Message, MsgId, Node, RpcReply,
};
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};

/// One node of the naive (source-faithful) variant.
#[derive(Debug, Default)]
pub struct NaiveElection {
    cfg: ElectionConfig,
    rank: i64,
    role: Role,
    leader: Option<String>,
    heard_leader: LocalTime,
    /// The candidate's countdown, if running.
    countdown: Option<u32>,
    countdown_timer: Option<highstorm_nodes::TimerId>,
    /// Leader: item -> result (worker, attempt), if done.
    items: BTreeMap<String, Option<(String, Attempt)>>,
    assigned: BTreeMap<String, (String, Attempt, LocalTime)>,
    next_attempt: u64,
    last_heard: BTreeMap<String, LocalTime>,
    workers: BTreeSet<String>,
    working: BTreeMap<String, Attempt>,
    forwarded: BTreeMap<MsgId, Message<ElectionMsg>>,
}

#[derive(Debug, Default, PartialEq)]
enum Role {
    #[default]
    Member,
    Candidate,
    Voter(String),
    Leader,
}

impl NaiveElection {
    /// A node with `cfg`.
    pub fn new(cfg: ElectionConfig) -> Self {
        NaiveElection {
            cfg,
            ..NaiveElection::default()
        }
    }

    fn broadcast(&self, ctx: &mut Ctx<'_, Self>, msg: ElectionMsg) {
        for p in ctx.peers().to_vec() {
            ctx.send(&p, msg.clone());
        }
    }

    fn stand(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.role = Role::Candidate;
        self.countdown = None;
        ctx.note_typed(&ElectionNote::Candidate {
            term: None,
            rank: Some(self.rank),
        });
        self.broadcast(ctx, ElectionMsg::Candidacy { rank: self.rank });
        // Quiet for a while: start the countdown.
        if let Some(t) = self.countdown_timer.take() {
            ctx.cancel_timer(t);
        }
        self.countdown_timer = Some(ctx.set_timer(
            Duration::from_millis(self.cfg.heartbeat_ms * 3),
            ElectionTimer::Countdown,
        ));
    }

    fn become_leader(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.role = Role::Leader;
        self.leader = Some(ctx.id().to_owned());
        ctx.reachable(super::points::LEADER_ELECTED);
        ctx.note_typed(&ElectionNote::Leader {
            term: None,
            lease_until_us: None,
            rank: Some(self.rank),
        });
        self.round(ctx);
    }

    fn round(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Leader {
            return;
        }
        self.broadcast(ctx, ElectionMsg::LeaderAlive { rank: self.rank });
        let now = ctx.now();
        let timeout = Duration::from_millis(self.cfg.worker_timeout_ms);
        let alive: BTreeSet<String> = self
            .last_heard
            .iter()
            .filter(|(_, &t)| now.saturating_since(t) < timeout)
            .map(|(p, _)| p.clone())
            .collect();
        for w in alive.difference(&self.workers) {
            let worker = w.clone();
            ctx.note_typed(&ElectionNote::WorkerJoined { worker, term: None });
        }
        for w in self.workers.difference(&alive) {
            let worker = w.clone();
            ctx.note_typed(&ElectionNote::WorkerLost { worker, term: None });
        }
        self.workers = alive;
        self.distribute(ctx);
        ctx.set_timer(
            Duration::from_millis(self.cfg.heartbeat_ms.max(1)),
            ElectionTimer::Heartbeat,
        );
    }

    fn distribute(&mut self, ctx: &mut Ctx<'_, Self>) {
        let now = ctx.now();
        let me = ctx.id().to_owned();
        let mut load: BTreeMap<String, usize> =
            self.workers.iter().map(|w| (w.clone(), 0)).collect();
        if load.is_empty() {
            load.insert(me.clone(), 0);
        }
        for (w, _, _) in self.assigned.values() {
            if let Some(n) = load.get_mut(w) {
                *n += 1;
            }
        }
        let todo: Vec<String> = self
            .items
            .iter()
            .filter(|(_, r)| r.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        for item in todo {
            if let Some((w, a, deadline)) = self.assigned.get(&item) {
                if now < *deadline {
                    continue;
                }
                ctx.note_typed(&ElectionNote::WorkTimeout {
                    item: item.clone(),
                    worker: w.clone(),
                    attempt: *a,
                    term: None,
                });
            }
            let Some(worker) = load.iter().min_by_key(|(_, n)| **n).map(|(w, _)| w.clone()) else {
                break;
            };
            *load.entry(worker.clone()).or_default() += 1;
            self.next_attempt += 1;
            let attempt = Attempt(0, self.next_attempt);
            let deadline = now + Duration::from_millis(self.cfg.work_timeout_ms);
            self.assigned
                .insert(item.clone(), (worker.clone(), attempt, deadline));
            ctx.note_typed(&ElectionNote::Assign {
                item: item.clone(),
                worker: worker.clone(),
                term: None,
                attempt,
            });
            if worker == me {
                self.start_work(ctx, item, attempt, me.clone());
            } else {
                let msg = ElectionMsg::Assign {
                    term: 0,
                    item,
                    attempt,
                };
                ctx.send(&worker, msg);
            }
        }
    }

    fn start_work(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        item: String,
        attempt: Attempt,
        leader: String,
    ) {
        if self.working.get(&item) == Some(&attempt) {
            return;
        }
        self.working.insert(item.clone(), attempt);
        let d = jitter(ctx.rng(), self.cfg.work_min_ms, self.cfg.work_max_ms);
        let timer = ElectionTimer::Work {
            item,
            attempt,
            term: 0,
            leader,
        };
        ctx.set_timer(d, timer);
    }

    fn work_done(&mut self, ctx: &mut Ctx<'_, Self>, item: String, attempt: Attempt, worker: &str) {
        if self.role != Role::Leader {
            return;
        }
        if let Some(entry) = self.items.get_mut(&item) {
            if entry.is_none() {
                *entry = Some((worker.to_owned(), attempt));
                self.assigned.remove(&item);
                ctx.note_typed(&ElectionNote::ResultRecorded {
                    item: item.clone(),
                    worker: worker.to_owned(),
                    attempt,
                    term: None,
                });
            }
        }
    }

    fn step_down(&mut self, ctx: &mut Ctx<'_, Self>, to: &str) {
        if self.role == Role::Leader {
            ctx.reachable(super::points::STEPPED_DOWN);
            ctx.note_typed(&ElectionNote::StepDown {
                term: None,
                reason: None,
                to: Some(to.to_owned()),
            });
        }
        self.role = Role::Member;
    }
}

impl Node for NaiveElection {
    type Msg = ElectionMsg;
    type Timer = ElectionTimer;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.rank = ctx.rng().random_range(1..=20);
        self.heard_leader = ctx.now();
        let wait = jitter(
            ctx.rng(),
            self.cfg.member_timeout_ms,
            self.cfg.member_timeout_ms * 3 / 2,
        );
        ctx.set_timer(wait, ElectionTimer::Election);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<ElectionMsg>) {
        match &msg.body {
            ElectionMsg::Candidacy { rank } => match self.role {
                Role::Leader => {
                    ctx.reply(&msg, ElectionMsg::LeaderAlive { rank: self.rank });
                }
                Role::Candidate if *rank > self.rank => {
                    self.role = Role::Voter(msg.src.clone());
                    self.countdown = None;
                    ctx.reply(&msg, ElectionMsg::Backing);
                }
                Role::Candidate if *rank == self.rank => {
                    self.rank -= ctx.rng().random_range(1..=10);
                    self.stand(ctx);
                }
                Role::Candidate => {
                    ctx.reply(&msg, ElectionMsg::Candidacy { rank: self.rank });
                }
                Role::Member | Role::Voter(_) => {
                    self.role = Role::Voter(msg.src.clone());
                    ctx.reply(&msg, ElectionMsg::Backing);
                }
            },
            ElectionMsg::Countdown { rank, count } => {
                if self.role == Role::Candidate && *rank < self.rank {
                    // Interrupt a lower-ranked countdown.
                    ctx.reply(&msg, ElectionMsg::Candidacy { rank: self.rank });
                } else if self.role == Role::Candidate && *rank > self.rank {
                    self.role = Role::Voter(msg.src.clone());
                    self.countdown = None;
                } else if *count == 0 && self.role != Role::Leader {
                    self.leader = Some(msg.src.clone());
                    self.heard_leader = ctx.now();
                    self.role = Role::Member;
                }
            }
            ElectionMsg::Backing => {}
            ElectionMsg::LeaderAlive { rank } => {
                if self.role == Role::Leader {
                    if (*rank, msg.src.as_str()) > (self.rank, ctx.id()) {
                        self.step_down(ctx, &msg.src);
                    } else {
                        return;
                    }
                }
                self.role = Role::Member;
                self.countdown = None;
                self.leader = Some(msg.src.clone());
                self.heard_leader = ctx.now();
                ctx.reply(&msg, ElectionMsg::MemberAlive);
            }
            ElectionMsg::MemberAlive => {
                let now = ctx.now();
                self.last_heard.insert(msg.src.clone(), now);
            }
            ElectionMsg::Submit { item, forwarded } => {
                if self.role == Role::Leader {
                    self.items.entry(item.clone()).or_insert(None);
                    ctx.reply(&msg, ElectionMsg::SubmitOk);
                } else if let Some(leader) = self.leader.clone().filter(|_| !*forwarded) {
                    let body = ElectionMsg::Submit {
                        item: item.clone(),
                        forwarded: true,
                    };
                    let timeout = Duration::from_millis(self.cfg.forward_timeout_ms);
                    let id = ctx.rpc(&leader, body, timeout);
                    self.forwarded.insert(id, msg);
                } else {
                    let e = ErrorBody::new(ErrorCode::TemporarilyUnavailable, "no leader known");
                    ctx.reply_error(&msg, e);
                }
            }
            ElectionMsg::Status => {
                let role = match self.role {
                    Role::Member => "member",
                    Role::Candidate => "candidate",
                    Role::Voter(_) => "voter",
                    Role::Leader => "leader",
                };
                let reply = ElectionMsg::StatusOk {
                    role: role.to_owned(),
                    term: 0,
                    leader: self.leader.clone(),
                };
                ctx.reply(&msg, reply);
            }
            ElectionMsg::Assign { item, attempt, .. } => {
                let (item, attempt) = (item.clone(), *attempt);
                self.start_work(ctx, item, attempt, msg.src.clone());
            }
            ElectionMsg::WorkDone { item, attempt, .. } => {
                let (item, attempt) = (item.clone(), *attempt);
                self.work_done(ctx, item, attempt, &msg.src);
            }
            _ => {}
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
                let timeout = Duration::from_millis(self.cfg.member_timeout_ms);
                let quiet = ctx.now().saturating_since(self.heard_leader) >= timeout;
                if quiet && matches!(self.role, Role::Member | Role::Voter(_)) {
                    self.leader = None;
                    self.stand(ctx);
                }
                let wait = jitter(
                    ctx.rng(),
                    self.cfg.member_timeout_ms / 2,
                    self.cfg.member_timeout_ms,
                );
                ctx.set_timer(wait, ElectionTimer::Election);
            }
            ElectionTimer::Countdown => {
                self.countdown_timer = None;
                if self.role != Role::Candidate {
                    return;
                }
                let count = match self.countdown {
                    None => 3,
                    Some(c) => c.saturating_sub(1),
                };
                self.countdown = Some(count);
                self.broadcast(
                    ctx,
                    ElectionMsg::Countdown {
                        rank: self.rank,
                        count,
                    },
                );
                if count == 0 {
                    self.become_leader(ctx);
                } else {
                    self.countdown_timer = Some(ctx.set_timer(
                        Duration::from_millis(self.cfg.heartbeat_ms),
                        ElectionTimer::Countdown,
                    ));
                }
            }
            ElectionTimer::Heartbeat => self.round(ctx),
            ElectionTimer::Work {
                item,
                attempt,
                leader,
                ..
            } => {
                if self.working.get(&item) != Some(&attempt) {
                    return;
                }
                self.working.remove(&item);
                if leader == ctx.id() {
                    let me = ctx.id().to_owned();
                    self.work_done(ctx, item, attempt, &me);
                } else {
                    let msg = ElectionMsg::WorkDone {
                        term: 0,
                        item,
                        attempt,
                    };
                    ctx.send(&leader, msg);
                }
            }
            ElectionTimer::LeaseExpiry | ElectionTimer::Sync => {}
        }
    }
}
