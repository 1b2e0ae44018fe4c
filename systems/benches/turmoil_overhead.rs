//! What highstorm's turmoil engine costs over bare turmoil.
//!
//! The same UDP request/reply traffic (Maelstrom `echo` over JSON) runs twice in one process:
//!
//! * through [`highstorm::engine::run`], which drives every node and client with highstorm's
//!   driver loop, sans-IO processes, fault hooks and full event trace;
//! * through a bare `turmoil::Sim` configured the same way (seeded rng, fixed epoch, 1 ms tick,
//!   1–10 ms latency, large UDP queues, random host order), where each node is a plain tokio
//!   loop on `turmoil::net::UdpSocket` that answers `echo` with `echo_ok`, and each client sends
//!   `echo` requests to random nodes at a fixed rate and counts the replies.
//!
//! Both sides have the same hosts (N nodes plus the clients), the same rate, the same JSON
//! encoding and the same drive loop (`while sim.elapsed() < duration { sim.step() }`). For each
//! size the bench prints simulated seconds per wall second on both sides, their ratio
//! (highstorm's cost factor; the target is at most 1.2x) and the round trips each side
//! completed, which must be comparable for the comparison to mean anything.
//!
//! ```text
//! cargo bench -p highstorm --bench turmoil_overhead
//! HIGHSTORM_BENCH_SIZES=5,25,50 HIGHSTORM_BENCH_REPEATS=5 cargo bench -p highstorm --bench turmoil_overhead
//! ```

use highstorm_systems::system;

use highstorm::nodes::OpPhase;
use highstorm::Scenario;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant, UNIX_EPOCH};

/// Simulated time per run.
const DURATION: Duration = Duration::from_secs(20);
/// Client hosts.
const CLIENTS: usize = 2;
/// Operations per second, over all clients.
const RATE: f64 = 200.0;
/// How long a client waits for a reply (highstorm clients stop invoking two of these before
/// the end, and so do the bare ones).
const TIMEOUT: Duration = Duration::from_millis(500);
/// turmoil's step.
const TICK: Duration = Duration::from_millis(1);
/// One-way latency bounds.
const MIN_LATENCY: Duration = Duration::from_millis(1);
const MAX_LATENCY: Duration = Duration::from_millis(10);
/// The port every host listens on.
const PORT: u16 = 7000;
/// The run seed (both sides are deterministic, so every repeat runs the same traffic).
const SEED: u64 = 1;
/// Sizes when `HIGHSTORM_BENCH_SIZES` is unset.
const DEFAULT_SIZES: &[usize] = &[5, 25];
/// Runs per configuration when `HIGHSTORM_BENCH_REPEATS` is unset; the fastest counts.
const DEFAULT_REPEATS: usize = 3;

/// Maelstrom's envelope, as in `highstorm_nodes::wire`.
#[derive(Serialize, Deserialize)]
struct Envelope<P> {
    src: String,
    dest: String,
    body: Body<P>,
}

/// A body: ids beside the `type`-tagged payload, as in `highstorm_nodes::wire`.
#[derive(Serialize, Deserialize)]
struct Body<P> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    msg_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    in_reply_to: Option<u64>,
    #[serde(flatten)]
    payload: P,
}

/// Echo's payloads, as in `highstorm_systems::echo`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum EchoMsg {
    Echo { echo: Value },
    EchoOk { echo: Value },
}

/// One side's best run.
#[derive(Clone, Copy)]
struct Measure {
    wall: Duration,
    sim: Duration,
    round_trips: u64,
}

impl Measure {
    fn speed(&self) -> f64 {
        self.sim.as_secs_f64() / self.wall.as_secs_f64()
    }

    fn keep_best(best: &mut Option<Measure>, m: Measure) {
        if best.is_none_or(|b| m.wall < b.wall) {
            *best = Some(m);
        }
    }
}

/// (a) highstorm's engine, trace and all.
fn run_highstorm(nodes: usize) -> Measure {
    let scenario = Scenario::new("bench", "echo")
        .nodes(nodes)
        .duration(DURATION)
        .latency(MIN_LATENCY..MAX_LATENCY)
        .loss(0.0)
        .workload(CLIENTS, RATE)
        .client_timeout(TIMEOUT);
    let start = Instant::now();
    let out = highstorm::engine::run(system(&scenario), &scenario, SEED).expect("highstorm run");
    let wall = start.elapsed();
    let round_trips = highstorm::check::history(&out.trace)
        .iter()
        .filter(|op| {
            op.completion
                .as_ref()
                .is_some_and(|c| c.phase == OpPhase::Ok)
        })
        .count() as u64;
    Measure {
        wall,
        sim: out.sim_time,
        round_trips,
    }
}

/// (b) bare turmoil, the same hosts and traffic.
fn run_bare(nodes: usize) -> Measure {
    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(SEED)
        .epoch(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .simulation_duration(DURATION + Duration::from_secs(3600))
        .tick_duration(TICK)
        .min_message_latency(MIN_LATENCY)
        .max_message_latency(MAX_LATENCY)
        .udp_capacity(1 << 16)
        .enable_random_order();
    let start = Instant::now();
    let mut sim = builder.build();
    let node_names: Vec<String> = (0..nodes).map(|i| format!("n{i}")).collect();
    for name in &node_names {
        let me = name.clone();
        sim.host(name.as_str(), move || echo_node(me.clone()));
    }
    let done = Rc::new(Cell::new(0u64));
    for c in 0..CLIENTS {
        let name = format!("c{c}");
        let (me, peers, done) = (name.clone(), node_names.clone(), done.clone());
        sim.host(name.as_str(), move || {
            echo_client(
                me.clone(),
                peers.clone(),
                SEED ^ (c as u64 + 1),
                done.clone(),
            )
        });
    }
    while sim.elapsed() < DURATION {
        sim.step().expect("bare turmoil step");
    }
    let sim_time = sim.elapsed();
    drop(sim);
    let wall = start.elapsed();
    Measure {
        wall,
        sim: sim_time,
        round_trips: done.get(),
    }
}

fn bind_addr() -> (IpAddr, u16) {
    (IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT)
}

/// A node: answer every `echo` with `echo_ok`.
async fn echo_node(name: String) -> turmoil::Result {
    let socket = turmoil::net::UdpSocket::bind(bind_addr()).await?;
    let mut buf = vec![0u8; 64 * 1024 + 1];
    let mut next_id = 0u64;
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        let Ok(req) = serde_json::from_slice::<Envelope<EchoMsg>>(&buf[..len]) else {
            continue;
        };
        let EchoMsg::Echo { echo } = req.body.payload else {
            continue;
        };
        let reply = Envelope {
            src: name.clone(),
            dest: req.src,
            body: Body {
                msg_id: Some(next_id),
                in_reply_to: req.body.msg_id,
                payload: EchoMsg::EchoOk { echo },
            },
        };
        next_id += 1;
        socket.send_to(&serde_json::to_vec(&reply)?, from).await?;
    }
}

/// A client: every `CLIENTS / RATE` seconds, `echo` a unique value to a random node; count the
/// matching replies. Like highstorm's clients, the first request comes at a random point of the
/// first interval, the next timer is armed when one fires, and invoking stops two timeouts
/// before the end.
async fn echo_client(
    name: String,
    nodes: Vec<String>,
    seed: u64,
    done: Rc<Cell<u64>>,
) -> turmoil::Result {
    let socket = turmoil::net::UdpSocket::bind(bind_addr()).await?;
    let addrs: Vec<SocketAddr> = nodes
        .iter()
        .map(|n| SocketAddr::new(turmoil::lookup(n.as_str()), PORT))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let interval = Duration::from_secs_f64(CLIENTS as f64 / RATE);
    let stop_at = DURATION.saturating_sub(TIMEOUT * 2);
    let mut buf = vec![0u8; 64 * 1024 + 1];
    let mut inflight: BTreeMap<u64, Value> = BTreeMap::new();
    let mut next_op = 0u64;
    let mut invoking = true;
    // An absolute deadline: the sleep future is rebuilt on every turn of the loop, so a
    // relative one would restart whenever a reply arrives.
    let mut next = tokio::time::Instant::now() + interval.mul_f64(rng.random_range(0.0..1.0));
    loop {
        tokio::select! {
            biased;
            () = tokio::time::sleep_until(next), if invoking => {
                let now = turmoil::sim_elapsed().unwrap_or_default();
                if now >= stop_at {
                    invoking = false;
                    continue;
                }
                let i = rng.random_range(0..nodes.len());
                let op = next_op;
                next_op += 1;
                let value = Value::String(format!("{name}-{op}"));
                let req = Envelope {
                    src: name.clone(),
                    dest: nodes[i].clone(),
                    body: Body {
                        msg_id: Some(op),
                        in_reply_to: None,
                        payload: EchoMsg::Echo { echo: value.clone() },
                    },
                };
                socket.send_to(&serde_json::to_vec(&req)?, addrs[i]).await?;
                inflight.insert(op, value);
                next = tokio::time::Instant::now() + interval;
            }
            received = socket.recv_from(&mut buf) => {
                let (len, _) = received?;
                let Ok(reply) = serde_json::from_slice::<Envelope<EchoMsg>>(&buf[..len]) else {
                    continue;
                };
                if let (Some(id), EchoMsg::EchoOk { echo }) =
                    (reply.body.in_reply_to, &reply.body.payload)
                {
                    if inflight.remove(&id).is_some_and(|sent| sent == *echo) {
                        done.set(done.get() + 1);
                    }
                }
            }
        }
    }
}

fn env_list(var: &str) -> Option<Vec<usize>> {
    let text = std::env::var(var).ok()?;
    let list: Vec<usize> = text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|e| panic!("{var}: bad number {s:?}: {e}"))
        })
        .collect();
    (!list.is_empty()).then_some(list)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter or other flags are not supported, so ignore them.
    let sizes = env_list("HIGHSTORM_BENCH_SIZES").unwrap_or_else(|| DEFAULT_SIZES.to_vec());
    let repeats = env_list("HIGHSTORM_BENCH_REPEATS")
        .and_then(|r| r.first().copied())
        .unwrap_or(DEFAULT_REPEATS)
        .max(1);
    println!(
        "turmoil overhead: highstorm engine vs bare turmoil, echo request/reply, {} s simulated, \
         {} ms tick, {CLIENTS} clients at {RATE} ops/s total, best of {repeats}",
        DURATION.as_secs(),
        TICK.as_millis()
    );
    println!(
        "{:<6} {:>19} {:>14} {:>8} {:>21}",
        "nodes", "highstorm(sim-s/s)", "bare(sim-s/s)", "cost(x)", "round-trips(hs/bare)"
    );
    for &n in &sizes {
        let (mut hs, mut bare) = (None, None);
        // Alternate the two sides so background load hits both alike.
        for _ in 0..repeats {
            Measure::keep_best(&mut hs, run_highstorm(n));
            Measure::keep_best(&mut bare, run_bare(n));
        }
        let (hs, bare) = (hs.expect("one run"), bare.expect("one run"));
        println!(
            "{:<6} {:>19.1} {:>14.1} {:>7.2}x {:>21}",
            n,
            hs.speed(),
            bare.speed(),
            bare.speed() / hs.speed(),
            format!("{}/{}", hs.round_trips, bare.round_trips)
        );
    }
}
