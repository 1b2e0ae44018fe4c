//! The one driver loop that moves a node's bytes, and the transports it runs over.
//!
//! [`drive`] feeds a [`Process`] from three sources — datagrams from a [`Transport`], its own
//! timers, and outside work it asked for — and carries out what it outputs. The same loop runs
//! over tokio UDP for real ([`udp`]), over turmoil UDP inside the simulator (the `highstorm`
//! crate wraps turmoil's socket in [`DatagramSocket`]), and over Maelstrom's stdio protocol
//! ([`stdio`]). What differs between those worlds — the clock, fault injection, recording — is
//! the [`Environment`].

pub mod dir;
pub mod gateway;
pub mod stdio;
pub mod udp;

use futures_util::stream::{FuturesUnordered, StreamExt};
use highstorm_nodes::LocalTime;
use highstorm_nodes::Process;
use highstorm_nodes::{Output, Transmit, WorkId, WorkRequest, WorkResult};
use std::future::Future;
use std::io;
use std::pin::Pin;

pub use dir::{DirBlobs, DirStore};
pub use gateway::{Gateway, GatewayClient, GatewayError};
pub use udp::{AddressBook, DatagramSocket, UdpTransport};

/// Moves encoded messages between nodes.
///
/// Both methods must be cancel-safe: the driver drops a pending `recv` when a timer fires first.
pub trait Transport {
    /// The next message's bytes, or `None` when the input is closed for good (end of stdin).
    fn recv(&mut self) -> impl Future<Output = io::Result<Option<Vec<u8>>>>;
    /// Sends one message to `t.dest`.
    fn send(&mut self, t: &Transmit) -> impl Future<Output = io::Result<()>>;
}

/// What a transmitted message should become. The simulator decides this per message to inject
/// faults; real mode always sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Put it on the wire.
    Send,
    /// Drop it, for the given reason (already recorded by the environment).
    Drop(String),
}

/// A boxed future of outside work.
pub type WorkFuture = Pin<Box<dyn Future<Output = WorkResult>>>;

/// Starts outside work for a real node.
pub type WorkRunner = Box<dyn FnMut(&WorkRequest) -> WorkFuture>;

/// Work in progress, each tagged with its id.
type PendingWork = FuturesUnordered<Pin<Box<dyn Future<Output = (WorkId, WorkResult)>>>>;

/// The world around a driven node: its clock, and hooks that observe and shape its traffic.
pub trait Environment {
    /// The node-local clock.
    fn now(&self) -> LocalTime;
    /// Completes when the local clock reaches `timer` (never, if `None`), or earlier when a
    /// held message becomes due.
    fn sleep(&self, timer: Option<LocalTime>) -> impl Future<Output = ()>;
    /// The node wants to send `t`: decide its fate (and record it).
    fn outbound(&mut self, t: &Transmit) -> Fate {
        let _ = t;
        Fate::Send
    }
    /// Completes when the node may run: a paused node's environment holds it here. Checked
    /// after every wake-up, before the node sees the event that woke it.
    fn gate(&self) -> impl Future<Output = ()> {
        std::future::ready(())
    }
    /// `bytes` came off the transport. Returns them to deliver now, or `None` to hold them
    /// (network latency, duplication): held messages come back through
    /// [`pop_arrival`](Environment::pop_arrival) once due.
    fn inbound(&mut self, bytes: Vec<u8>) -> Option<Vec<u8>> {
        Some(bytes)
    }
    /// A held message that is due now, if any.
    fn pop_arrival(&mut self) -> Option<Vec<u8>> {
        None
    }
    /// `bytes` are about to be handed to the node.
    fn delivered(&mut self, bytes: &[u8]) {
        let _ = bytes;
    }
    /// The node produced an output other than a transmission or a work request.
    fn record(&mut self, out: &Output) {
        let _ = out;
    }
    /// Runs outside work. The default refuses: the host has no work runner.
    fn run_work(&mut self, req: &WorkRequest) -> WorkFuture {
        let kind = req.kind.clone();
        Box::pin(async move {
            Err(format!(
                "this host runs no outside work (asked for `{kind}`)"
            ))
        })
    }
}

/// What woke the driver.
enum Wake {
    Time,
    Work(WorkId, WorkResult),
    Received(io::Result<Option<Vec<u8>>>),
}

/// Runs `process` until its transport closes (or forever, for sockets).
///
/// Event priority within one wake-up is fixed (`biased`): due timers and held messages, then
/// finished work, then the next datagram — so a run is a deterministic function of its inputs.
pub async fn drive<T: Transport, E: Environment>(
    process: &mut dyn Process,
    transport: &mut T,
    env: &mut E,
) -> io::Result<()> {
    let mut work = PendingWork::new();
    env.gate().await;
    process.handle_start(env.now());
    flush(process, transport, env, &mut work).await;
    loop {
        let deadline = process.poll_timeout();
        let wake = tokio::select! {
            biased;
            () = env.sleep(deadline) => Wake::Time,
            Some((id, result)) = work.next(), if !work.is_empty() => Wake::Work(id, result),
            received = transport.recv() => Wake::Received(received),
        };
        env.gate().await;
        match wake {
            Wake::Time => {
                while let Some(bytes) = env.pop_arrival() {
                    deliver(process, env, &bytes);
                }
                process.handle_timeout(env.now());
            }
            Wake::Work(id, result) => process.handle_work_done(env.now(), id, result),
            Wake::Received(Ok(Some(bytes))) => {
                if let Some(bytes) = env.inbound(bytes) {
                    deliver(process, env, &bytes);
                }
            }
            Wake::Received(Ok(None)) => return Ok(()),
            Wake::Received(Err(e)) => {
                tracing::warn!(node = process.id(), error = %e, "receive failed")
            }
        }
        flush(process, transport, env, &mut work).await;
    }
}

fn deliver<E: Environment>(process: &mut dyn Process, env: &mut E, bytes: &[u8]) {
    env.delivered(bytes);
    process.handle_datagram(env.now(), bytes);
}

async fn flush<T: Transport, E: Environment>(
    process: &mut dyn Process,
    transport: &mut T,
    env: &mut E,
    work: &mut PendingWork,
) {
    while let Some(out) = process.poll_output() {
        match &out {
            Output::Transmit(t) => {
                if env.outbound(t) == Fate::Send {
                    if let Err(e) = transport.send(t).await {
                        tracing::warn!(node = %t.src, dest = %t.dest, error = %e, "send failed");
                    }
                }
            }
            Output::Work(req) => {
                let id = req.id;
                let fut = env.run_work(req);
                work.push(Box::pin(async move { (id, fut.await) }));
                env.record(&out);
            }
            _ => env.record(&out),
        }
    }
}

/// The real clock: time since the driver started, read from tokio (so tokio's paused time in
/// tests moves it too).
#[derive(Clone, Copy, Debug)]
pub struct RealClock {
    start: tokio::time::Instant,
}

impl Default for RealClock {
    fn default() -> Self {
        RealClock {
            start: tokio::time::Instant::now(),
        }
    }
}

impl RealClock {
    /// Time since start.
    pub fn now(&self) -> LocalTime {
        LocalTime::from_duration(self.start.elapsed())
    }

    /// Sleeps until `at` on this clock.
    pub async fn sleep_until(&self, at: LocalTime) {
        tokio::time::sleep_until(self.start + at.as_duration()).await;
    }
}

/// Real mode: the real clock, every message sent, outputs logged through `tracing`, outside work
/// run on the blocking pool by `work`, durable writes kept in `store`.
#[derive(Default)]
pub struct RealEnvironment {
    /// The clock.
    pub clock: RealClock,
    /// Runs outside work, if this node needs any.
    pub work: Option<WorkRunner>,
    /// The node's durable storage, if it has a directory. Without one, writes are dropped
    /// (the node behaves as if every restart lost its disk).
    pub store: Option<DirStore>,
    /// Events handled so far (for yielding now and then).
    pub events: std::cell::Cell<u64>,
}

/// A real node yields to the other tasks on its thread once every this many events.
pub const YIELD_EVERY: u64 = 4;

/// A [`WorkRunner`] that runs a system's outside work on tokio's blocking pool over the blob
/// directory `blobs` (real mode only: the simulator never uses threads). Each piece of work
/// reports back no sooner than `at_least` after it started (zero for full speed; more for
/// demos and tests that must catch a worker mid-task).
pub fn blocking_work_runner(
    work: highstorm_nodes::WorkFn,
    blobs: DirBlobs,
    at_least: std::time::Duration,
) -> WorkRunner {
    Box::new(move |req: &WorkRequest| {
        let req = req.clone();
        let mut blobs = blobs.clone();
        let start = tokio::time::Instant::now();
        let task = tokio::task::spawn_blocking(move || work(&req, &mut blobs).result);
        Box::pin(async move {
            let result = task
                .await
                .unwrap_or_else(|e| Err(format!("work did not finish: {e}")));
            tokio::time::sleep_until(start + at_least).await;
            result
        })
    })
}

impl Environment for RealEnvironment {
    fn now(&self) -> LocalTime {
        self.clock.now()
    }

    async fn sleep(&self, timer: Option<LocalTime>) {
        match timer {
            Some(at) => self.clock.sleep_until(at).await,
            None => std::future::pending().await,
        }
    }

    /// Yields to the runtime every [`YIELD_EVERY`] events: a node flooded with datagrams
    /// (each of which may wait for a disk sync) still lets the tasks beside it on the same
    /// thread — its HTTP API's server and connections — run during the flood, not after it.
    async fn gate(&self) {
        let n = self.events.get().wrapping_add(1);
        self.events.set(n);
        if n % YIELD_EVERY == 0 {
            tokio::task::yield_now().await;
        }
    }

    fn record(&mut self, out: &Output) {
        match out {
            Output::Note(n) => tracing::info!(kind = %n.kind, data = %n.data, "note"),
            Output::Discarded { from, reason } => {
                tracing::warn!(from = ?from, %reason, "discarded input")
            }
            Output::TimerFired { timer } => tracing::trace!(%timer, "timer"),
            Output::Store(w) => {
                if let Some(store) = &mut self.store {
                    store.write(w.clone());
                }
            }
            Output::Sync => {
                if let Some(store) = &mut self.store {
                    if let Err(e) = store.sync() {
                        // The node is about to acknowledge what it believes durable: going on
                        // would break that promise. Stop instead, as a crash would.
                        tracing::error!(dir = %store.dir().display(), error = %e, "sync failed");
                        panic!("durable storage in {} failed: {e}", store.dir().display());
                    }
                }
            }
            other => tracing::debug!(?other, "output"),
        }
    }

    fn run_work(&mut self, req: &WorkRequest) -> WorkFuture {
        match &mut self.work {
            Some(run) => run(req),
            None => {
                let kind = req.kind.clone();
                Box::pin(async move { Err(format!("this node runs no outside work (`{kind}`)")) })
            }
        }
    }
}

/// How a node incarnation starts in real mode: its id, peers, seed, boot count and what its
/// store kept — and buggify off, always: real mode never takes buggify's rare paths.
pub fn real_setup(
    id: String,
    peers: Vec<String>,
    seed: u64,
    boot: u64,
    durable: highstorm_nodes::storage::Storage,
) -> highstorm_nodes::ProcessSetup {
    highstorm_nodes::ProcessSetup {
        id,
        peers: peers.into(),
        seed,
        boot,
        durable,
        buggify: highstorm_nodes::Buggify::Off,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::{Ctx, Message, NoTimer, Node, NodeProcess, ProcessSetup, WorkId};
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Asks for outside work at start and sends its result to `out`.
    struct Doubler;

    impl Node for Doubler {
        type Msg = serde_json::Value;
        type Timer = NoTimer;
        fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
            ctx.spawn_work("double", serde_json::json!(21));
        }
        fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: Message<serde_json::Value>) {}
        fn on_work_done(&mut self, ctx: &mut Ctx<'_, Self>, work: WorkId, result: WorkResult) {
            let v = result.unwrap_or_else(|e| serde_json::json!(e));
            ctx.send(
                "out",
                serde_json::json!({"type": "done", "work": work.0, "value": v}),
            );
        }
    }

    /// Records what is sent; closes once something was.
    struct Recorder(Rc<RefCell<Vec<Vec<u8>>>>);

    impl Transport for Recorder {
        async fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
            while self.0.borrow().is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            Ok(None)
        }
        async fn send(&mut self, t: &Transmit) -> io::Result<()> {
            self.0.borrow_mut().push(t.bytes.clone());
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn outside_work_runs_in_the_driver_and_comes_back_as_an_event() {
        let sent = Rc::new(RefCell::new(vec![]));
        let mut env = RealEnvironment {
            work: Some(Box::new(|req: &WorkRequest| {
                let n = req.input.as_i64().unwrap_or(0);
                Box::pin(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
                    Ok(serde_json::json!(n * 2))
                })
            })),
            ..RealEnvironment::default()
        };
        let setup = ProcessSetup {
            id: "n1".into(),
            peers: vec![].into(),
            seed: 0,
            boot: 0,
            durable: Default::default(),
            buggify: highstorm_nodes::Buggify::Off,
        };
        let mut process = NodeProcess::new(Doubler, setup);
        drive(&mut process, &mut Recorder(sent.clone()), &mut env)
            .await
            .unwrap();
        let sent = sent.borrow();
        assert_eq!(sent.len(), 1);
        let v: serde_json::Value = serde_json::from_slice(&sent[0]).unwrap();
        assert_eq!(v["body"]["value"], 42);
        assert_eq!(v["body"]["work"], 1);
        assert!(env.now().as_millis() >= 30);
    }

    /// Takes its rare path whenever buggify lets it, and notes that it did.
    struct Risky;

    impl Node for Risky {
        type Msg = serde_json::Value;
        type Timer = NoTimer;
        fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, _: Message<serde_json::Value>) {
            if ctx.buggify("rare-path") {
                ctx.note("took-the-rare-path", ());
            }
        }
    }

    /// How many times `Risky` took its rare path in 100 messages.
    fn rare_paths(setup: ProcessSetup) -> usize {
        use highstorm_nodes::{LocalTime, Output, Process};
        let mut p = NodeProcess::new(Risky, setup);
        p.handle_start(LocalTime::ZERO);
        let msg = br#"{"src":"c1","dest":"n1","body":{"type":"go","msg_id":1}}"#;
        for _ in 0..100 {
            p.handle_datagram(LocalTime::ZERO, msg);
        }
        std::iter::from_fn(|| p.poll_output())
            .filter(|o| matches!(o, Output::Note(n) if n.kind == "took-the-rare-path"))
            .count()
    }

    #[test]
    fn real_mode_never_takes_a_buggify_path() {
        let real = |seed| real_setup("n1".into(), vec![], seed, 0, Default::default());
        for seed in 0..40 {
            assert_eq!(rare_paths(real(seed)), 0, "seed {seed}");
        }
        // The same node and seeds with buggify on (as the simulator may run it) do take it.
        let simulated: usize = (0..40)
            .map(|seed| {
                rare_paths(ProcessSetup {
                    buggify: highstorm_nodes::Buggify::On,
                    ..real(seed)
                })
            })
            .sum();
        assert!(simulated > 0);
    }
}
