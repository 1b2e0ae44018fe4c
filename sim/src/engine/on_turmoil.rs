//! The turmoil engine: one turmoil host per node and per client, each running the very driver
//! loop real mode runs ([`crate::driver::drive`]) over turmoil's simulated UDP.
//!
//! Determinism: turmoil's rng seed and epoch both come from the run seed, host order is
//! shuffled from that seed every step, and everything the hosts share (the trace, the fault
//! state) lives in one `Rc<RefCell<_>>` touched only from turmoil's single thread. Time stamps
//! are turmoil's simulated time, never the host clock.
//!
//! Fault semantics (see [`crate::faults`]): loss, partitions and down receivers are decided
//! when a message is sent, so every drop is in the trace; a message already in flight when a
//! partition starts is still delivered. Latency and duplication are highstorm's, not
//! turmoil's: turmoil carries each datagram in one tick, and the receiving host holds it for
//! the rest of its drawn latency (each duplicate draws its own, so duplicates also reorder).
//! A crash stops the node's host, losing its state and whatever it was holding; a restart runs
//! the host again, building the node afresh with its boot count plus one. A pause freezes the
//! host's driver loop: nothing is handled until it resumes, and what arrived meanwhile waits.
//! Each node reads its own clock (skew and drift); trace stamps are true simulated time.

use super::{setup, EngineError, RunOutput};
use crate::driver::{drive, AddressBook, DatagramSocket, Environment, Fate, Gateway, UdpTransport};
use crate::faults::{timeline_of_run, World};
use crate::http_api::{HttpFn, HttpSetup};
use crate::scenario::{Api, FaultAction, Scenario};
use crate::sim_http::TurmoilListener;
use crate::system::System;
use crate::trace::{EventKind, Trace};
use crate::workload::http::{HttpClient, Record, HTTP_PORT};
use highstorm_nodes::wire::Header;
use highstorm_nodes::{derive_seed, LocalTime, Output, Process, ProcessSetup, Transmit};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

/// The UDP port every simulated process listens on.
const PORT: u16 = 7000;

/// The pseudo-client an HTTP API sends its requests to its node as.
const GATEWAY: &str = "http";

/// What every host of one run shares: the trace, the world the faults act on, and the tick.
struct Commons {
    trace: Trace,
    sometimes: crate::sometimes::Sometimes,
    world: World,
    tick: Duration,
    /// Turns a host's driver loop may take at one instant ([`super::step_budget`]).
    budget: u64,
    /// The first host found looping at one instant: its name, the instant, its turns there.
    stuck: Option<(String, Duration, u64)>,
}

type Shared = Rc<RefCell<Commons>>;

fn sim_now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}

/// turmoil's UDP socket as a [`DatagramSocket`].
struct TurmoilSocket(turmoil::net::UdpSocket);

impl DatagramSocket for TurmoilSocket {
    async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.send_to(buf, to).await
    }
    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.recv_from(buf).await
    }
}

/// One host's view of the simulated world.
struct SimEnvironment {
    name: String,
    shared: Shared,
    /// Messages that arrived and wait out the rest of their latency: (due, seq) -> bytes.
    held: BTreeMap<(Duration, u64), Vec<u8>>,
    seq: u64,
    /// The pseudo-client an HTTP API beside the node sends its requests as: in-process, so
    /// neither the network nor its faults stand between them.
    local: Option<&'static str>,
    /// The instant of the driver loop's last turn, and how many turns it took there.
    turns: std::cell::Cell<(Duration, u64)>,
    /// How many turns one instant may take.
    budget: u64,
}

impl SimEnvironment {
    fn new(name: String, shared: Shared, local: Option<&'static str>) -> Self {
        let budget = shared.borrow().budget;
        SimEnvironment {
            name,
            shared,
            held: BTreeMap::new(),
            seq: 0,
            local,
            turns: std::cell::Cell::new((Duration::ZERO, 0)),
            budget,
        }
    }

    /// Counts a turn of the driver loop at `now`. `true` once the host has taken more turns
    /// at this instant than the budget allows: it is recorded as stuck (the run stops with
    /// an error after this step), and must wait forever.
    fn spins(&self, now: Duration) -> bool {
        let (instant, turns) = self.turns.get();
        let turns = if instant == now { turns + 1 } else { 0 };
        self.turns.set((now, turns));
        if turns <= self.budget {
            return false;
        }
        let mut w = self.shared.borrow_mut();
        w.stuck
            .get_or_insert_with(|| (self.name.clone(), now, turns));
        true
    }
}

impl Environment for SimEnvironment {
    fn now(&self) -> LocalTime {
        self.shared
            .borrow_mut()
            .world
            .local_time(&self.name, sim_now())
    }

    async fn sleep(&self, timer: Option<LocalTime>) {
        // Timers run on the node's clock, held messages on true time: wait in true time for
        // whichever comes first.
        let now = sim_now();
        if self.spins(now) {
            return std::future::pending().await;
        }
        let timer = timer.map(|at| self.shared.borrow().world.true_time_of(&self.name, now, at));
        let arrival = self.held.first_key_value().map(|(&(due, _), _)| due);
        let due = match (timer, arrival) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return std::future::pending().await,
        };
        tokio::time::sleep(due.saturating_sub(now)).await;
    }

    async fn gate(&self) {
        loop {
            let (paused, tick) = {
                let w = self.shared.borrow();
                (w.world.is_paused(&self.name), w.tick)
            };
            if !paused {
                return;
            }
            tokio::time::sleep(tick).await;
        }
    }

    fn outbound(&mut self, t: &Transmit) -> Fate {
        let mut w = self.shared.borrow_mut();
        let now = sim_now();
        w.trace.push(
            now,
            EventKind::Send {
                src: t.src.clone(),
                dest: t.dest.clone(),
                msg_id: t.msg_id,
                in_reply_to: t.in_reply_to,
                body: body_text(&t.bytes),
            },
        );
        if self.local == Some(t.dest.as_str()) {
            return Fate::Send;
        }
        match w.world.send(&t.src, &t.dest) {
            Err(reason) => {
                w.trace.push(
                    now,
                    EventKind::Drop {
                        src: t.src.clone(),
                        dest: t.dest.clone(),
                        msg_id: t.msg_id,
                        reason: reason.as_str().to_owned(),
                    },
                );
                Fate::Drop(reason.as_str().to_owned())
            }
            Ok(()) => Fate::Send,
        }
    }

    fn inbound(&mut self, bytes: Vec<u8>) -> Option<Vec<u8>> {
        let (src, msg_id) = header(&bytes);
        if self.local == Some(src.as_str()) {
            return Some(bytes);
        }
        let now = sim_now();
        let mut w = self.shared.borrow_mut();
        let (first, second) = w.world.delays(&src, &self.name);
        if second.is_some() {
            w.trace.push(
                now,
                EventKind::Duplicate {
                    src,
                    dest: self.name.clone(),
                    msg_id,
                },
            );
        }
        // turmoil already carried the datagram for one tick.
        let tick = w.tick;
        for d in std::iter::once(first).chain(second) {
            self.seq += 1;
            self.held
                .insert((now + d.saturating_sub(tick), self.seq), bytes.clone());
        }
        None
    }

    fn pop_arrival(&mut self) -> Option<Vec<u8>> {
        let (&(due, _), _) = self.held.first_key_value()?;
        if due > sim_now() {
            return None;
        }
        self.held.pop_first().map(|(_, bytes)| bytes)
    }

    fn delivered(&mut self, bytes: &[u8]) {
        let (src, msg_id) = header(bytes);
        self.shared.borrow_mut().trace.push(
            sim_now(),
            EventKind::Deliver {
                src,
                dest: self.name.clone(),
                msg_id,
            },
        );
    }

    fn record(&mut self, out: &Output) {
        let node = self.name.clone();
        let kind = match out {
            Output::TimerFired { timer } => EventKind::Timer {
                node,
                timer: timer.clone(),
            },
            Output::Note(n) => EventKind::Note {
                node,
                kind: n.kind.clone(),
                data: n.data.clone(),
            },
            Output::Client(op) => EventKind::Client {
                client: node,
                op: op.clone(),
            },
            Output::Discarded { from, reason } => EventKind::Discard {
                node,
                from: from.clone(),
                reason: reason.clone(),
            },
            Output::Work(w) => EventKind::Work {
                node,
                id: w.id.0,
                kind: w.kind.clone(),
            },
            Output::Store(_) | Output::Sync | Output::SyncFailed(_) => {
                let mut w = self.shared.borrow_mut();
                for kind in w.world.storage(&self.name, out) {
                    w.trace.push(sim_now(), kind);
                }
                return;
            }
            Output::Sometimes { point, hit } => {
                self.shared.borrow_mut().sometimes.record(point, *hit);
                return;
            }
            Output::Transmit(_) => return,
        };
        self.shared.borrow_mut().trace.push(sim_now(), kind);
    }

    fn run_work(&mut self, req: &highstorm_nodes::WorkRequest) -> crate::driver::WorkFuture {
        let (result, took) = self.shared.borrow_mut().world.run_work(req);
        Box::pin(async move {
            tokio::time::sleep(took).await;
            result
        })
    }
}

/// The sender and message id of an envelope.
fn header(bytes: &[u8]) -> (String, Option<u64>) {
    match serde_json::from_slice::<Header>(bytes) {
        Ok(h) => (h.src, h.body.msg_id),
        Err(_) => ("?".to_owned(), None),
    }
}

/// The body of an envelope as text for the trace, without re-parsing it: in JSON a literal
/// `"body":` (with unescaped quotes) can only be the key, and our encoder writes the body last.
pub(crate) fn body_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.find("\"body\":") {
        Some(i) if text.ends_with('}') => text[i + 7..text.len() - 1].to_owned(),
        _ => text.into_owned(),
    }
}

/// Runs `scenario` at `seed` on turmoil.
pub(crate) fn run(
    system: &System,
    scenario: &Scenario,
    seed: u64,
) -> Result<RunOutput, EngineError> {
    // The cluster's member list, built once and shared by every node's `Peers`.
    let nodes: std::sync::Arc<[String]> = scenario.node_names().into();
    let clients = scenario.client_names();
    // Start one incarnation outside the simulation first, so a bad variant or config is a
    // clear error rather than a failed host.
    system.spawn(
        scenario.variant.as_deref(),
        &scenario.config,
        setup(scenario, &nodes, 0, seed, 0),
    )?;

    let mut world = World::of_system(system, scenario, seed);
    for n in nodes.iter() {
        world.set_listening(n, false);
    }
    let shared: Shared = Rc::new(RefCell::new(Commons {
        trace: Trace::new(),
        sometimes: Default::default(),
        world,
        tick: scenario.tick,
        budget: super::step_budget(scenario),
        stuck: None,
    }));

    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(derive_seed(seed, "turmoil", 0))
        .epoch(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seed % 100_000_000))
        .simulation_duration(scenario.duration + Duration::from_secs(3600))
        .tick_duration(scenario.tick)
        // Latency is ours (held at the receiver); turmoil carries each datagram in one tick.
        .min_message_latency(Duration::ZERO)
        .max_message_latency(Duration::ZERO)
        .udp_capacity(1 << 16)
        .enable_random_order();
    let mut sim = builder.build();

    let http = match scenario.workload.api {
        Api::Http => match system.http_api() {
            Some(http) => Some(http),
            None => {
                return Err(EngineError::Unsupported(format!(
                    "system `{}` has no HTTP API and workload",
                    scenario.system
                )))
            }
        },
        Api::Messages => None,
    };

    let everyone: Vec<String> = nodes.iter().chain(&clients).cloned().collect();
    for (at, host_name) in nodes.iter().enumerate() {
        let (shared, name, everyone, peers) = (
            shared.clone(),
            host_name.clone(),
            everyone.clone(),
            nodes.clone(),
        );
        let scenario = scenario.clone();
        let api = http.map(|(api, _)| api);
        let system = system.clone();
        sim.host(host_name.as_str(), move || {
            let boot = shared.borrow().world.boot(&name);
            let durable = {
                let mut w = shared.borrow_mut();
                let (durable, events) = w.world.boot_storage(&name);
                for e in events {
                    w.trace.push(sim_now(), e);
                }
                durable
            };
            let sync_faults = shared.borrow().world.sync_faults(&name, boot);
            let process = system
                .spawn(
                    scenario.variant.as_deref(),
                    &scenario.config,
                    ProcessSetup {
                        durable,
                        ..setup(&scenario, &peers, at, seed, boot)
                    },
                )
                .map(|mut p| {
                    if let Some(f) = sync_faults {
                        p.handle_sync_faults(f);
                    }
                    Box::new(DiskFollower {
                        inner: p,
                        shared: shared.clone(),
                        name: name.clone(),
                        full: false,
                    }) as Box<dyn Process>
                })
                .map_err(|e| e.to_string());
            let api = api.map(|f| (f, scenario.clone()));
            host(name.clone(), everyone.clone(), shared.clone(), process, api)
        });
    }
    if let Some((_, http_client)) = http {
        for (index, name) in clients.iter().enumerate() {
            let w = shared.clone();
            let client = name.clone();
            let record = Box::new(move |r| {
                let kind = match r {
                    Record::Op(op) => EventKind::Client {
                        client: client.clone(),
                        op,
                    },
                    Record::Exchange(data) => EventKind::Note {
                        node: client.clone(),
                        kind: "http".into(),
                        data,
                    },
                };
                w.borrow_mut().trace.push(sim_now(), kind);
            });
            let resolve = |node: &str| SocketAddr::new(turmoil::lookup(node), HTTP_PORT);
            let c = HttpClient::new(name, scenario.workload.timeout, record, resolve);
            let run = http_client(scenario, index as u64, c);
            sim.client(name.as_str(), async move {
                run.await;
                Ok(())
            });
        }
    }
    for name in clients.iter().filter(|_| http.is_none()) {
        let process = Ok(system.spawn_client(
            scenario,
            ProcessSetup {
                id: name.clone(),
                peers: highstorm_nodes::Peers::all(nodes.clone()),
                seed,
                boot: 0,
                durable: Default::default(),
                buggify: highstorm_nodes::Buggify::Off,
            },
        ));
        let (shared, name2, everyone) = (shared.clone(), name.clone(), everyone.clone());
        let cell = RefCell::new(Some(process));
        sim.host(name.as_str(), move || {
            // Clients are never crashed, so the host runs once.
            let process = cell
                .borrow_mut()
                .take()
                .unwrap_or_else(|| Err("client restarted".into()));
            host(
                name2.clone(),
                everyone.clone(),
                shared.clone(),
                process,
                None,
            )
        });
    }

    let mut schedule: VecDeque<(Duration, FaultAction)> = timeline_of_run(scenario, seed).into();
    while sim.elapsed() < scenario.duration {
        while schedule.front().is_some_and(|(at, _)| *at <= sim.elapsed()) {
            if let Some((_, action)) = schedule.pop_front() {
                apply(&mut sim, &shared, &action);
                if http.is_some() {
                    cut_tcp(&sim, &shared, &clients, &nodes);
                }
            }
        }
        sim.step().map_err(|e| EngineError::Sim(e.to_string()))?;
        let stuck = shared.borrow_mut().stuck.take();
        if let Some((node, at, turns)) = stuck {
            let trace = &shared.borrow().trace;
            return Err(super::stuck(scenario, trace, &node, at, seed, turns));
        }
    }
    let sim_time = sim.elapsed();
    drop(sim);
    let shared = Rc::try_unwrap(shared)
        .map_err(|_| EngineError::Sim("hosts outlived the simulation".into()))?
        .into_inner();
    Ok(RunOutput {
        trace: shared.trace,
        sim_time,
        sometimes: shared.sometimes,
    })
}

async fn host(
    name: String,
    everyone: Vec<String>,
    shared: Shared,
    process: Result<Box<dyn Process>, String>,
    api: Option<(HttpFn, Scenario)>,
) -> turmoil::Result {
    let mut process = process?;
    let socket = turmoil::net::UdpSocket::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT)).await?;
    let book = AddressBook::new(everyone.iter().map(|n| {
        (
            n.clone(),
            SocketAddr::new(turmoil::lookup(n.as_str()), PORT),
        )
    }));
    let mut transport = UdpTransport::new(TurmoilSocket(socket), book);
    let Some((api, scenario)) = api else {
        // From now on datagrams reach this process.
        shared.borrow_mut().world.set_listening(&name, true);
        let mut env = SimEnvironment::new(name, shared, None);
        drive(process.as_mut(), &mut transport, &mut env).await?;
        return Ok(());
    };
    let (mut gateway, client) = Gateway::new(transport, &name, GATEWAY);
    let blobs = shared.borrow().world.blobs();
    let router = api(HttpSetup {
        node: &name,
        variant: scenario.variant.as_deref().unwrap_or("default"),
        config: &scenario.config,
        gateway: client,
        blobs: std::sync::Arc::new(blobs),
    })?;
    let Some(router) = router else {
        // No API on this node (a worker): it serves the network alone.
        shared.borrow_mut().world.set_listening(&name, true);
        let mut env = SimEnvironment::new(name, shared, None);
        drive(process.as_mut(), &mut gateway, &mut env).await?;
        return Ok(());
    };
    let listener =
        TurmoilListener::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), HTTP_PORT).into()).await?;
    // From now on datagrams reach this process.
    shared.borrow_mut().world.set_listening(&name, true);
    let mut env = SimEnvironment::new(name, shared, Some(GATEWAY));
    tokio::select! {
        biased;
        r = drive(process.as_mut(), &mut gateway, &mut env) => r?,
        r = crate::http_api::serve(listener, router) => r?,
    }
    Ok(())
}

/// Carries the partitions between clients and nodes over to turmoil's links, which carry the
/// clients' TCP connections to the nodes' HTTP APIs (datagrams between nodes never take those
/// links, and highstorm decides their fate itself).
fn cut_tcp(sim: &turmoil::Sim<'_>, shared: &Shared, clients: &[String], nodes: &[String]) {
    let w = shared.borrow();
    for c in clients {
        for n in nodes {
            for (from, to) in [(c, n), (n, c)] {
                if w.world.is_cut(from, to) {
                    sim.partition_oneway(from.as_str(), to.as_str());
                } else {
                    sim.repair_oneway(from.as_str(), to.as_str());
                }
            }
        }
    }
}

/// A node process whose disk follows the world's `disk_full` faults: a turmoil host owns its
/// process inside the driver loop, so the world's word reaches it here, before each input.
struct DiskFollower {
    inner: Box<dyn Process>,
    shared: Shared,
    name: String,
    full: bool,
}

impl DiskFollower {
    fn follow(&mut self) {
        let full = self.shared.borrow().world.disk_full(&self.name);
        if full != self.full {
            self.full = full;
            self.inner.handle_disk_full(full);
        }
    }
}

impl Process for DiskFollower {
    fn id(&self) -> &str {
        self.inner.id()
    }
    fn handle_start(&mut self, now: LocalTime) {
        self.follow();
        self.inner.handle_start(now);
    }
    fn handle_datagram(&mut self, now: LocalTime, bytes: &[u8]) {
        self.follow();
        self.inner.handle_datagram(now, bytes);
    }
    fn handle_timeout(&mut self, now: LocalTime) {
        self.follow();
        self.inner.handle_timeout(now);
    }
    fn handle_work_done(
        &mut self,
        now: LocalTime,
        work: highstorm_nodes::WorkId,
        result: highstorm_nodes::WorkResult,
    ) {
        self.follow();
        self.inner.handle_work_done(now, work, result);
    }
    fn handle_sync_faults(&mut self, faults: highstorm_nodes::SyncFaults) {
        self.inner.handle_sync_faults(faults);
    }
    fn handle_disk_full(&mut self, full: bool) {
        self.full = full;
        self.inner.handle_disk_full(full);
    }
    fn poll_timeout(&self) -> Option<LocalTime> {
        self.inner.poll_timeout()
    }
    fn poll_output(&mut self) -> Option<Output> {
        self.inner.poll_output()
    }
    fn stats(&self) -> highstorm_nodes::ProcessStats {
        self.inner.stats()
    }
}

/// Applies one fault between steps: the world, the trace, and for crashes and
/// restarts the host itself.
fn apply(sim: &mut turmoil::Sim<'_>, shared: &Shared, action: &FaultAction) {
    let now = sim.elapsed();
    let mut w = shared.borrow_mut();
    match action {
        FaultAction::Crash { node, .. } if !sim.is_host_running(node.as_str()) => {}
        FaultAction::Crash { node, .. } => {
            for e in w.world.apply(now, action) {
                w.trace.push(now, e);
            }
            sim.crash(node.as_str());
        }
        FaultAction::Restart(node) => {
            // Restarting a running node is a crash and a restart.
            let running = sim.is_host_running(node.as_str());
            if running {
                sim.crash(node.as_str());
            }
            let (_, events) = w.world.restart(node, running);
            for e in events {
                w.trace.push(now, e);
            }
            drop(w);
            sim.bounce(node.as_str());
        }
        other => {
            for e in w.world.apply(now, other) {
                w.trace.push(now, e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::body_text;

    #[test]
    fn body_text_cuts_the_body_out_of_an_envelope() {
        let env = br#"{"src":"a\"body\":","dest":"n1","body":{"type":"say","text":"}"}}"#;
        assert_eq!(body_text(env), r#"{"type":"say","text":"}"}"#);
        assert_eq!(body_text(b"not json"), "not json");
    }
}
