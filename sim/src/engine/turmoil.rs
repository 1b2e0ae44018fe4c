//! The turmoil engine: one turmoil host per node and per client, each running the very driver
//! loop real mode runs ([`highstorm_nodes::run::drive`]) over turmoil's simulated UDP.
//!
//! Determinism: turmoil's rng seed and epoch both come from the run seed, host order is
//! shuffled from that seed every step, and everything the hosts share (the trace, the fault
//! state) lives in one `Rc<RefCell<_>>` touched only from turmoil's single thread. Time stamps
//! are turmoil's simulated time, never the host clock.
//!
//! Fault semantics: partitions, loss and down nodes are decided by highstorm when a message is
//! sent (so every drop is in the trace); a message already in flight when a partition starts
//! is still delivered, as it was already on the wire. Latency is turmoil's: each message
//! draws from `[min, max]` on turmoil's exponential curve. A crash stops the node's host
//! (turmoil discards its state and whatever arrives while it is down); a restart runs the host
//! again, building the node afresh with its boot count plus one.

use super::{EngineError, NetModel, RunOutput};
use crate::scenario::{FaultAction, Scenario};
use crate::trace::{EventKind, Trace};
use crate::workload;
use highstorm_nodes::run::{drive, AddressBook, DatagramSocket, Environment, Fate, UdpTransport};
use highstorm_nodes::wire::Header;
use highstorm_nodes::{derive_seed, LocalTime, Output, Process, ProcessSetup, Transmit};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

/// The UDP port every simulated process listens on.
const PORT: u16 = 7000;

/// What every host of one run shares.
struct World {
    trace: Trace,
    net: NetModel,
    boots: BTreeMap<String, u64>,
}

type Shared = Rc<RefCell<World>>;

fn sim_now() -> Duration {
    ::turmoil::sim_elapsed().unwrap_or_default()
}

/// turmoil's UDP socket as a [`DatagramSocket`].
struct TurmoilSocket(::turmoil::net::UdpSocket);

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
    world: Shared,
}

impl Environment for SimEnvironment {
    fn now(&self) -> LocalTime {
        LocalTime::from_duration(sim_now())
    }

    async fn sleep_until(&self, at: LocalTime) {
        tokio::time::sleep(at.saturating_since(self.now())).await;
    }

    fn outbound(&mut self, t: &Transmit) -> Fate {
        let mut w = self.world.borrow_mut();
        let now = sim_now();
        w.trace.push(
            now,
            EventKind::Send {
                src: t.src.clone(),
                dest: t.dest.clone(),
                msg_id: t.msg_id,
                body: body_text(&t.bytes),
            },
        );
        match w.net.drop_reason(&t.src, &t.dest) {
            Some(reason) => {
                w.trace.push(
                    now,
                    EventKind::Drop {
                        src: t.src.clone(),
                        dest: t.dest.clone(),
                        msg_id: t.msg_id,
                        reason: reason.to_owned(),
                    },
                );
                Fate::Drop(reason.to_owned())
            }
            None => Fate::Send,
        }
    }

    fn inbound(&mut self, bytes: &[u8]) {
        let (src, msg_id) = match serde_json::from_slice::<Header>(bytes) {
            Ok(h) => (h.src, h.body.msg_id),
            Err(_) => ("?".to_owned(), None),
        };
        self.world.borrow_mut().trace.push(
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
            Output::Transmit(_) => return,
        };
        self.world.borrow_mut().trace.push(sim_now(), kind);
    }
}

/// The body of an envelope as text for the trace, without re-parsing it: in JSON a literal
/// `"body":` (with unescaped quotes) can only be the key, and our encoder writes the body last.
fn body_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.find("\"body\":") {
        Some(i) if text.ends_with('}') => text[i + 7..text.len() - 1].to_owned(),
        _ => text.into_owned(),
    }
}

/// A scheduled fault, with `restart_after` expanded into its own restart.
#[derive(Clone, Debug)]
enum Step {
    Fault(FaultAction),
    Restart(String),
}

/// Runs `scenario` at `seed` on turmoil.
pub fn run(scenario: &Scenario, seed: u64) -> Result<RunOutput, EngineError> {
    let system = highstorm_nodes::systems::lookup(&scenario.system)?;
    let nodes = scenario.node_names();
    let clients = scenario.client_names();
    // Start one incarnation outside the simulation first, so a bad variant or config is a
    // clear error rather than a failed host.
    system.spawn(
        scenario.variant.as_deref(),
        &scenario.config,
        setup(&nodes[0], &nodes, seed, 0),
    )?;

    let world: Shared = Rc::new(RefCell::new(World {
        trace: Trace::new(),
        net: NetModel::new(scenario.network.loss, derive_seed(seed, "network", 0)),
        boots: nodes.iter().map(|n| (n.clone(), 0)).collect(),
    }));

    let mut builder = ::turmoil::Builder::new();
    builder
        .rng_seed(derive_seed(seed, "turmoil", 0))
        .epoch(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seed % 100_000_000))
        .simulation_duration(scenario.duration + Duration::from_secs(3600))
        .tick_duration(scenario.tick)
        .min_message_latency(scenario.network.latency.start)
        .max_message_latency(scenario.network.latency.end)
        .udp_capacity(1 << 16)
        .enable_random_order();
    let mut sim = builder.build();

    let everyone: Vec<String> = nodes.iter().chain(&clients).cloned().collect();
    for host_name in &nodes {
        let (world, name, everyone, peers) = (
            world.clone(),
            host_name.clone(),
            everyone.clone(),
            nodes.clone(),
        );
        let scenario = scenario.clone();
        sim.host(host_name.as_str(), move || {
            let boot = world.borrow().boots.get(&name).copied().unwrap_or(0);
            let process = system
                .spawn(
                    scenario.variant.as_deref(),
                    &scenario.config,
                    setup(&name, &peers, seed, boot),
                )
                .map_err(|e| e.to_string());
            host(name.clone(), everyone.clone(), world.clone(), process)
        });
    }
    for name in &clients {
        let process = Ok(workload::spawn_client(
            scenario,
            ProcessSetup {
                id: name.clone(),
                peers: nodes.clone(),
                seed,
                boot: 0,
            },
        ));
        let (world, name2, everyone) = (world.clone(), name.clone(), everyone.clone());
        let cell = RefCell::new(Some(process));
        sim.host(name.as_str(), move || {
            // Clients are never crashed, so the host runs once.
            let process = cell
                .borrow_mut()
                .take()
                .unwrap_or_else(|| Err("client restarted".into()));
            host(name2.clone(), everyone.clone(), world.clone(), process)
        });
    }

    let mut schedule: Vec<(Duration, Step)> = vec![];
    for f in &scenario.faults {
        schedule.push((f.at, Step::Fault(f.action.clone())));
        if let FaultAction::Crash {
            node,
            restart_after: Some(after),
        } = &f.action
        {
            schedule.push((f.at + *after, Step::Restart(node.clone())));
        }
    }
    schedule.sort_by_key(|(at, _)| *at);
    let mut schedule = schedule.into_iter().peekable();

    while sim.elapsed() < scenario.duration {
        while let Some((_, step)) = schedule.next_if(|(at, _)| *at <= sim.elapsed()) {
            apply(&mut sim, &world, step);
        }
        sim.step().map_err(|e| EngineError::Sim(e.to_string()))?;
    }
    let sim_time = sim.elapsed();
    drop(sim);
    let world = Rc::try_unwrap(world)
        .map_err(|_| EngineError::Sim("hosts outlived the simulation".into()))?
        .into_inner();
    Ok(RunOutput {
        trace: world.trace,
        sim_time,
    })
}

fn setup(id: &str, nodes: &[String], seed: u64, boot: u64) -> ProcessSetup {
    ProcessSetup {
        id: id.to_owned(),
        peers: nodes.iter().filter(|n| *n != id).cloned().collect(),
        seed,
        boot,
    }
}

async fn host(
    name: String,
    everyone: Vec<String>,
    world: Shared,
    process: Result<Box<dyn Process>, String>,
) -> ::turmoil::Result {
    let mut process = process?;
    let socket = ::turmoil::net::UdpSocket::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT)).await?;
    let book = AddressBook::new(everyone.iter().map(|n| {
        (
            n.clone(),
            SocketAddr::new(::turmoil::lookup(n.as_str()), PORT),
        )
    }));
    let mut transport = UdpTransport::new(TurmoilSocket(socket), book);
    let mut env = SimEnvironment { name, world };
    drive(process.as_mut(), &mut transport, &mut env).await?;
    Ok(())
}

fn apply(sim: &mut ::turmoil::Sim<'_>, world: &Shared, step: Step) {
    let now = sim.elapsed();
    let mut w = world.borrow_mut();
    match step {
        Step::Fault(action @ (FaultAction::Partition(_) | FaultAction::PartitionOneway { .. })) => {
            let cause = match action {
                FaultAction::Partition(_) => "partition",
                _ => "partition-oneway",
            };
            for (from, to) in w.net.partition(&action) {
                w.trace.push(
                    now,
                    EventKind::Cut {
                        from,
                        to,
                        cause: cause.to_owned(),
                    },
                );
            }
        }
        Step::Fault(FaultAction::HealAll) => {
            w.net.heal_all();
            w.trace.push(
                now,
                EventKind::Heal {
                    scope: "all".to_owned(),
                },
            );
        }
        Step::Fault(FaultAction::Crash { node, .. }) => {
            if !w.net.is_down(&node) {
                crash(sim, &mut w, now, &node);
            }
        }
        Step::Fault(FaultAction::Restart(node)) | Step::Restart(node) => {
            if !w.net.is_down(&node) {
                // Restarting a running node is a crash and a restart.
                crash(sim, &mut w, now, &node);
            }
            let boot = {
                let b = w.boots.entry(node.clone()).or_insert(0);
                *b += 1;
                *b
            };
            w.net.set_down(&node, false);
            w.trace.push(
                now,
                EventKind::Restart {
                    node: node.clone(),
                    boot,
                },
            );
            drop(w);
            sim.bounce(node.as_str());
        }
    }
}

fn crash(sim: &mut ::turmoil::Sim<'_>, w: &mut World, now: Duration, node: &str) {
    w.net.set_down(node, true);
    w.trace.push(
        now,
        EventKind::Crash {
            node: node.to_owned(),
        },
    );
    sim.crash(node);
}

#[cfg(test)]
mod tests {
    use super::body_text;

    #[test]
    fn body_text_cuts_the_body_out_of_an_envelope() {
        let env = br#"{"src":"a\"body\":","dest":"n1","body":{"type":"echo","echo":"}"}}"#;
        assert_eq!(body_text(env), r#"{"type":"echo","echo":"}"}"#);
        assert_eq!(body_text(b"not json"), "not json");
    }
}
