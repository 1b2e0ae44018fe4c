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
//!   than its own. Items not done within `work_timeout` are reassigned.
//! - **The table on disk.** Every item is synced to disk before the node acknowledges holding
//!   it, so a restarted node reads back everything it acknowledged; one whose records are
//!   damaged votes and stands only after it recovered a table from a leader's heartbeat or
//!   from enough peers (see `stored_table.rs`).
//!
//! - **The vote record.** A vote is granted only once the term and candidate are synced to
//!   disk; a restarted node never votes below that term or for another candidate in it, and
//!   one whose record is damaged stays out of the next election (see `durable.rs`).
//!
//! Here: the node's state and the dispatch of messages and timers. Beside it: `vote.rs` (terms,
//! votes, promises, winning), `durable.rs` (the vote record), `stored_table.rs` (the table on
//! disk), `replication.rs` (heartbeat rounds, lease renewal, commit) and `work.rs` (submits,
//! assignments, results).

use super::notes::{ElectionNote, RecoveredFrom};
use super::{merge, Attempt, ElectionConfig, ElectionMsg, ElectionTimer, Table};
use highstorm_nodes::{Ctx, Duration, LocalTime, Message, MsgId, Node, RpcReply, TimerId};
use std::collections::{BTreeMap, BTreeSet};

mod durable;
mod replication;
mod stored_table;
mod vote;
mod work;

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
    /// Items changed since the table was last synced to disk.
    unsaved: BTreeSet<String>,
    /// Items whose records were damaged at start, rewritten once recovered.
    damaged_items: BTreeSet<String>,
    /// The disk does not hold the mark yet (`stored_table.rs`).
    unmarked: bool,
    /// The table version held (on disk) from the current term's leader.
    held: u64,
    election_timer: Option<TimerId>,
    /// Items this node is working on, as a worker: item -> attempt.
    working: BTreeMap<String, Attempt>,
    /// Client submits passed on to the leader: forward RPC -> the client's request.
    forwarded: BTreeMap<MsgId, Message<ElectionMsg>>,
    /// The planted bug of variant `wedged-leader`: once a lease of this node ran out, it
    /// refuses every submit whenever it leads again (while heartbeating, so nobody replaces
    /// it).
    wedge_on_expiry: bool,
    /// Refusing submits (`wedged-leader` only).
    wedged: bool,
    /// What the vote record on disk holds.
    voted: durable::VoteRecord,
    /// Staying out of elections: the vote record was damaged.
    abstention: Option<durable::Abstention>,
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
    rounds: BTreeMap<u64, Round>,
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

/// One heartbeat round of a leader.
#[derive(Debug)]
struct Round {
    /// When it was sent (the lease it renews runs from here).
    sent: LocalTime,
    /// The table version it carries.
    version: u64,
    /// Whether the leader's own disk held that version when it was sent.
    held_here: bool,
    /// The peers that hold it.
    acks: BTreeSet<String>,
}

impl Election {
    /// A node with `cfg`.
    pub fn new(cfg: ElectionConfig) -> Self {
        Election {
            cfg,
            ..Election::default()
        }
    }

    /// The variant `wedged-leader`, with a planted bug for testing the harness: a node whose
    /// lease once ran out refuses every submit whenever it leads again, while heartbeating as
    /// usual — a leader that holds on without serving.
    pub fn wedged_leader(cfg: ElectionConfig) -> Self {
        Election {
            wedge_on_expiry: true,
            ..Election::new(cfg)
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

    fn lease_valid(&self, now: LocalTime) -> bool {
        matches!(&self.role, Role::Leader(l) if now < l.lease_until)
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
        self.load_vote_record(ctx);
        // Boot 0 is a member of the initial cluster, which starts empty. A later incarnation
        // may have voted and promised before it crashed, and holds what its disk kept.
        let sound = self.load_table(ctx);
        self.recovered = ctx.boot() == 0 || sound;
        if ctx.boot() > 0 {
            self.promise(ctx);
        }
        if ctx.boot() == 0 {
            // The initial cluster starts empty: its disk holds every item (none) at once.
            let _ = self.persist(ctx);
        } else if self.recovered {
            ctx.reachable(super::points::RECOVERED_FROM_DISK);
            ctx.note_typed(&ElectionNote::Recovered {
                from: RecoveredFrom::Disk {
                    disk_items: self.table.len() as u64,
                },
                term: self.term,
            });
            self.end_abstention(ctx, false);
        }
        if !self.recovered {
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
                let granted =
                    self.recovered && ctx.now() >= self.promised_until && self.may_take_part(ctx);
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
                    self.end_abstention(ctx, false);
                    ctx.note_typed(&ElectionNote::Recovered {
                        from: RecoveredFrom::Peers(self.synced_from.clone()),
                        term: self.term,
                    });
                    self.heal_disk(ctx);
                }
            }
            ElectionMsg::Assign {
                term,
                item,
                attempt,
            } => {
                if *term < self.term {
                    ctx.reachable(super::points::STALE_ASSIGN_REFUSED);
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
                if self.unmarked && self.recovered {
                    // The mark's sync failed (or the whole table's after a recovery): again,
                    // before a restart could find the disk unmarked.
                    let _ = self.persist(ctx);
                }
                if self.is_leader() {
                    return;
                }
                if ctx.now() < self.promised_until || !self.recovered || !self.may_take_part(ctx) {
                    self.arm_election(ctx);
                    return;
                }
                self.pre_vote(ctx);
            }
            ElectionTimer::Heartbeat => {
                if self.is_leader() {
                    // A rare path: the leader skips a heartbeat round (a slow step), so
                    // followers' patience and the lease are tested.
                    if !ctx.buggify("election-heartbeat-skipped") {
                        self.heartbeat_round(ctx);
                    }
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
    use highstorm_nodes::storage::Damage;
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
    fn a_new_leader_proposes_every_result_it_took_over_in_its_own_term() {
        let mut h = node("n1", 0);
        let sent = h.advance(Duration::from_millis(500));
        let pre = sent
            .iter()
            .find(|m| m.body == ElectionMsg::PreVote)
            .expect("pre-vote");
        let pre_ok = ElectionMsg::PreVoteReply {
            term: 4,
            granted: true,
        };
        let after = reply(&mut h, "n0", pre, pre_ok);
        let ask = after
            .iter()
            .find(|m| matches!(m.body, ElectionMsg::RequestVote { term: 7 }))
            .expect("stands in term 7")
            .clone();
        // The voter holds a result of term 3 that no leader committed yet.
        let old = super::super::Record {
            worker: "n2".into(),
            attempt: Attempt(3, 1),
            term: 3,
            committed: false,
        };
        let vote = ElectionMsg::Vote {
            term: 7,
            granted: true,
            table: Some([("x".to_owned(), Some(old.clone()))].into()),
        };
        let beats = reply(&mut h, "n2", &ask, vote);
        assert!(h.node().is_leader());
        let proposed = beats
            .iter()
            .find_map(|m| match &m.body {
                ElectionMsg::Heartbeat { entries, .. } => entries.get("x").cloned(),
                _ => None,
            })
            .expect("the heartbeat carries x");
        assert_eq!(
            proposed,
            Some(super::super::Record { term: 7, ..old }),
            "the same result, restamped with the leader's term"
        );
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

        // Restarted with a table record damaged: bound, then still out until it recovers.
        let mut h = node("n0", 0);
        h.request("n2", 1, &heartbeat_with(2, &["x"]));
        assert!(h.damage_record("election/item/x", Damage::Truncate(5)));
        let mut restarted = h.crash_and_restart(Election::new(ElectionConfig::default()));
        let damaged = restarted.notes::<ElectionNote>();
        assert!(damaged.iter().any(|n| matches!(
            n,
            ElectionNote::TableRecordDamaged { record, .. } if record == "election/item/x"
        )));
        restarted.advance(ElectionConfig::default().promise() * 2);
        let deny = restarted.request("n1", 1, &ElectionMsg::RequestVote { term: 4 });
        assert!(!granted(&deny), "not recovered");
        // Restarted on a disk without the mark (real mode without `--store`): the same.
        let mut unmarked = node("n0", 1);
        unmarked.advance(ElectionConfig::default().promise() * 2);
        let deny = unmarked.request("n1", 1, &ElectionMsg::RequestVote { term: 4 });
        assert!(!granted(&deny), "its disk holds nothing it can vouch for");
    }

    fn heartbeat_with(term: u64, items: &[&str]) -> ElectionMsg {
        ElectionMsg::Heartbeat {
            term,
            round: 1,
            base: 0,
            version: 1,
            entries: items.iter().map(|i| (i.to_string(), None)).collect(),
        }
    }

    fn holds(out: &[Message<ElectionMsg>]) -> u64 {
        match out[0].body {
            ElectionMsg::HeartbeatOk {
                holds, ok: true, ..
            } => holds,
            ref other => panic!("not an ack: {other:?}"),
        }
    }

    #[test]
    fn a_follower_says_it_holds_a_version_only_once_its_items_are_synced() {
        let mut h = node("n0", 0);
        h.fail_syncs(1.0);
        let ack = h.request("n2", 1, &heartbeat_with(2, &["x", "y"]));
        assert_eq!(
            holds(&ack),
            0,
            "the sync failed: nothing new is acknowledged"
        );
        assert!(stored_table::read_back(&h.synced()).is_empty());
        assert!(h
            .notes::<ElectionNote>()
            .iter()
            .any(|n| matches!(n, ElectionNote::TableNotSynced { items: 2, .. })));
        // The next heartbeat (nothing new in it) writes the staged items again.
        h.fail_syncs(0.0);
        let ack = h.request("n2", 2, &heartbeat_with(2, &[]));
        assert_eq!(holds(&ack), 1);
        let on_disk = stored_table::read_back(&h.synced());
        assert_eq!(on_disk.keys().collect::<Vec<_>>(), ["x", "y"]);
    }

    #[test]
    fn a_restarted_node_reads_its_table_back_and_votes_after_its_promise() {
        let promise = ElectionConfig::default().promise();
        let mut h = node("n0", 0);
        assert_eq!(holds(&h.request("n2", 1, &heartbeat_with(2, &["x"]))), 1);
        let mut h = h.crash_and_restart(Election::new(ElectionConfig::default()));
        assert!(h.notes::<ElectionNote>().iter().any(|n| matches!(
            n,
            ElectionNote::Recovered {
                from: RecoveredFrom::Disk { disk_items: 1 },
                ..
            }
        )));
        // Bound at restart (it may have promised before the crash), then free to vote; its
        // vote carries the item it acknowledged before the crash.
        assert!(!granted(&h.request(
            "n1",
            1,
            &ElectionMsg::RequestVote { term: 4 }
        )));
        h.advance(promise * 2);
        let vote = h.request("n1", 2, &ElectionMsg::RequestVote { term: 4 });
        match &vote[0].body {
            ElectionMsg::Vote {
                granted: true,
                table: Some(t),
                ..
            } => assert!(t.contains_key("x")),
            other => panic!("no vote with the table: {other:?}"),
        }
    }

    #[test]
    fn a_node_with_a_damaged_table_heals_its_disk_once_a_leader_recovers_it() {
        let mut h = node("n0", 0);
        h.request("n2", 1, &heartbeat_with(2, &["x", "y"]));
        assert!(h.damage_record("election/item/y", Damage::FlipBit(9)));
        let mut h = h.crash_and_restart(Election::new(ElectionConfig::default()));
        // Its sound record is still what it holds; the leader's table restores the rest.
        assert!(h.node().table.contains_key("x"));
        assert!(!h.node().recovered);
        h.request("n2", 2, &heartbeat_with(5, &["x", "y", "z"]));
        assert!(h.node().recovered);
        let on_disk = stored_table::read_back(&h.synced());
        assert_eq!(on_disk.keys().collect::<Vec<_>>(), ["x", "y", "z"]);
        assert_eq!(
            h.synced().damaged().count(),
            0,
            "the damaged record is rewritten"
        );
    }

    fn granted(out: &[Message<ElectionMsg>]) -> bool {
        matches!(out[0].body, ElectionMsg::Vote { granted: true, .. })
    }

    fn heartbeat(term: u64) -> ElectionMsg {
        ElectionMsg::Heartbeat {
            term,
            round: 1,
            base: 0,
            version: 1,
            entries: Table::new(),
        }
    }

    #[test]
    fn a_vote_is_granted_only_once_recorded_and_a_restart_never_votes_below_it() {
        let mut h = node("n0", 0);
        assert!(granted(&h.request(
            "n1",
            1,
            &ElectionMsg::RequestVote { term: 4 }
        )));
        let record = h
            .synced()
            .get_json::<durable::VoteRecord>(durable::VOTE_RECORD);
        assert_eq!(
            record.map(|r| r.ok()),
            Some(Some(durable::VoteRecord {
                term: 4,
                voted_for: Some("n1".into())
            }))
        );
        // Restarted: it recovers from a leader of term 3 and waits out its promise, then is
        // asked to vote in term 3 — below the term it voted in before the crash.
        let mut h = h.crash_and_restart(Election::new(ElectionConfig::default()));
        h.request("n0", 2, &heartbeat(3));
        h.advance(ElectionConfig::default().promise() * 2);
        let deny = h.request("n2", 3, &ElectionMsg::RequestVote { term: 5 });
        assert!(granted(&deny), "term 5 is above the record");
        let mut h = node("n0", 0);
        h.request("n1", 1, &ElectionMsg::RequestVote { term: 4 });
        let mut h = h.crash_and_restart(Election::new(ElectionConfig::default()));
        h.request("n0", 2, &heartbeat(3));
        h.advance(ElectionConfig::default().promise() * 2);
        let deny = h.request("n2", 3, &ElectionMsg::RequestVote { term: 3 });
        assert!(!granted(&deny), "term 3 is below the vote on record");

        // A vote whose record cannot be synced is denied.
        let mut h = node("n0", 0);
        h.fail_syncs(1.0);
        assert!(!granted(&h.request(
            "n1",
            1,
            &ElectionMsg::RequestVote { term: 4 }
        )));
        assert!(h
            .notes::<ElectionNote>()
            .iter()
            .any(|n| matches!(n, ElectionNote::VoteNotRecorded { term: 4, .. })));
    }

    #[test]
    fn a_damaged_vote_record_keeps_the_node_out_until_a_leader_tells_it_the_term() {
        let promise = ElectionConfig::default().promise();
        let mut h = node("n0", 0);
        h.request("n1", 1, &ElectionMsg::RequestVote { term: 4 });
        assert!(h.damage_record(durable::VOTE_RECORD, Damage::FlipBit(3)));
        let mut h = h.crash_and_restart(Election::new(ElectionConfig::default()));
        assert!(h
            .notes::<ElectionNote>()
            .iter()
            .any(|n| matches!(n, ElectionNote::VoteRecordDamaged { .. })));
        // Recovered from its peers and past the restart's promise: a node with a sound record
        // would vote now; this one abstains (no pre-vote, no vote, no candidacy).
        for (peer, id) in [("n1", 2), ("n2", 3)] {
            let sync = ElectionMsg::SyncReply {
                term: 4,
                recovered: true,
                table: Table::new(),
            };
            h.request(peer, id, &sync);
        }
        let sent = h.advance(promise / 2 + promise);
        assert!(
            !sent.iter().any(|m| matches!(
                m.body,
                ElectionMsg::PreVote | ElectionMsg::RequestVote { .. }
            )),
            "abstaining: {sent:?}"
        );
        assert!(!granted(&h.request(
            "n1",
            4,
            &ElectionMsg::RequestVote { term: 7 }
        )));
        let pre = h.request("n1", 5, &ElectionMsg::PreVote);
        assert!(matches!(
            pre[0].body,
            ElectionMsg::PreVoteReply { granted: false, .. }
        ));
        // A leader of term 7 speaks: the node rewrites its record and votes again once its
        // promise to that leader ran out.
        h.request("n1", 6, &heartbeat(7));
        assert!(h
            .notes::<ElectionNote>()
            .iter()
            .any(|n| matches!(n, ElectionNote::VoteRecordRewritten { term: 7 })));
        h.advance(promise * 2);
        assert!(granted(&h.request(
            "n2",
            7,
            &ElectionMsg::RequestVote { term: 8 }
        )));
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
