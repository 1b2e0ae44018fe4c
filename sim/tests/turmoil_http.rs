//! The Bridge Four HTTP API inside the simulator: the very router real mode serves, on a
//! simulated leader host over turmoil TCP, driven by a simulated HTTP client; workers over
//! turmoil UDP; one worker crashed mid-job and brought back. The job must reach Done with the
//! reference count, and bad input must get its 4xx.

use highstorm::http::{request, TurmoilListener};
use highstorm_nodes::http::bridge_four::router;
use highstorm_nodes::run::{
    drive, AddressBook, DatagramSocket, Gateway, RealEnvironment, UdpTransport, WorkRunner,
};
use highstorm_nodes::storage::{Blobs, SharedMemBlobs as SharedBlobs};
use highstorm_nodes::systems::bridge_four::{
    self, corpus, merge_counts, word_count, BridgeFour, BridgeFourConfig, CorpusSpec,
};
use highstorm_nodes::{NodeProcess, ProcessSetup, WorkRequest};
use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const UDP: u16 = 7000;
const HTTP: u16 = 8080;

struct Udp(turmoil::net::UdpSocket);

impl DatagramSocket for Udp {
    async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.send_to(buf, to).await
    }
    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.recv_from(buf).await
    }
}

/// Runs Bridge Four's work at once against the shared store, reporting after 100 ms of
/// simulated time.
fn sim_work(blobs: SharedBlobs) -> WorkRunner {
    Box::new(move |req: &WorkRequest| {
        let mut blobs = blobs.clone();
        let result = bridge_four::work(req, &mut blobs).result;
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            result
        })
    })
}

fn any(port: u16) -> SocketAddr {
    (IpAddr::V4(Ipv4Addr::UNSPECIFIED), port).into()
}

async fn node(
    id: &str,
    cfg: BridgeFourConfig,
    book: AddressBook,
    blobs: SharedBlobs,
) -> turmoil::Result {
    let setup = ProcessSetup {
        id: id.to_owned(),
        peers: vec![],
        seed: 7,
        boot: turmoil::sim_elapsed().unwrap_or_default().as_millis() as u64,
        durable: Default::default(),
    };
    let leader = cfg.leader == id;
    let mut process = NodeProcess::new(BridgeFour::new(cfg, id, false), setup);
    let mut env = RealEnvironment {
        work: Some(sim_work(blobs.clone())),
        ..RealEnvironment::default()
    };
    let socket = Udp(turmoil::net::UdpSocket::bind(any(UDP)).await?);
    let transport = UdpTransport::new(socket, book);
    if !leader {
        let mut transport = transport;
        drive(&mut process, &mut transport, &mut env).await?;
        return Ok(());
    }
    let (mut gateway, client) = Gateway::new(transport, id, "http");
    let api = router(client, Arc::new(blobs));
    let listener = TurmoilListener::bind(any(HTTP)).await?;
    tokio::select! {
        r = drive(&mut process, &mut gateway, &mut env) => r?,
        r = highstorm_nodes::http::serve(listener, api) => r?,
    }
    Ok(())
}

/// An HTTP exchange, retried on connection errors (turmoil TCP breaks on faults).
async fn http(method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let to: SocketAddr = (turmoil::lookup("leader"), HTTP).into();
    for _ in 0..100 {
        match request(to, method, path, body).await {
            Ok((status, text)) => {
                let v = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
                return (status, v);
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("{method} {path}: no answer");
}

#[test]
fn the_bridge_four_api_serves_over_turmoil_tcp_through_a_worker_crash() -> turmoil::Result {
    let spec = CorpusSpec {
        files: 12,
        words: 400,
        seed: 3,
    };
    let mut blobs = SharedBlobs::default();
    let mut reference = BTreeMap::new();
    let mut inputs = vec![];
    for (path, text) in corpus(&spec) {
        merge_counts(&mut reference, &word_count(&text));
        blobs.write(&path, &text).unwrap();
        inputs.push(path);
    }
    let cfg = BridgeFourConfig {
        leader: "leader".into(),
        slots: 2,
        ..BridgeFourConfig::default()
    };

    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(60))
        .rng_seed(5)
        .build();
    for id in ["leader", "w1", "w2"] {
        let (cfg, blobs) = (cfg.clone(), blobs.clone());
        sim.host(id, move || {
            let (cfg, blobs) = (cfg.clone(), blobs.clone());
            async move {
                let book = if id == "leader" {
                    AddressBook::default()
                } else {
                    AddressBook::new([(
                        "leader".to_owned(),
                        (turmoil::lookup("leader"), UDP).into(),
                    )])
                };
                node(id, cfg, book, blobs).await
            }
        });
    }
    // When the job was submitted (simulated time), so the crash below hits it mid-job.
    let submitted: Arc<Mutex<Option<Duration>>> = Arc::default();
    let finished: Arc<Mutex<Option<Duration>>> = Arc::default();
    let (sub, fin) = (submitted.clone(), finished.clone());
    sim.client("client", async move {
        for (body, expected) in [("{nope", 400), (r#"{"kind":"grep","inputs":["a"]}"#, 422)] {
            let (status, v) = http("POST", "/jobs", body).await;
            assert_eq!(status, expected, "{body}: {v}");
        }
        // Wait for both workers before submitting.
        loop {
            let (_, c) = http("GET", "/cluster", "").await;
            if c["workers"].as_array().is_some_and(|w| w.len() == 2) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let job = serde_json::json!({"name": "sim", "inputs": inputs}).to_string();
        let (status, r) = http("POST", "/jobs", &job).await;
        assert_eq!(status, 202, "{r}");
        let id = r["id"].as_u64().unwrap();
        *sub.lock().unwrap() = turmoil::sim_elapsed();
        let (status, _) = http("GET", &format!("/jobs/{id}/data"), "").await;
        assert_eq!(status, 409);
        let (status, _) = http("GET", "/jobs/77", "").await;
        assert_eq!(status, 404);
        loop {
            let (status, j) = http("GET", &format!("/jobs/{id}"), "").await;
            assert_eq!(status, 200, "{j}");
            if j["status"] == "Done" {
                *fin.lock().unwrap() = turmoil::sim_elapsed();
                let retried = j["tasks"].as_array().unwrap().iter();
                assert!(
                    retried.filter(|t| t["attempt"].as_u64() > Some(1)).count() > 0,
                    "some task ran again after the crash: {j}"
                );
                break;
            }
            assert_ne!(j["status"], "Error", "{j}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (status, data) = http("GET", &format!("/jobs/{id}/data"), "").await;
        assert_eq!(status, 200, "{data}");
        let got: BTreeMap<String, u64> = serde_json::from_value(data)?;
        assert_eq!(got, reference);
        Ok(())
    });

    // Crash w1 while the job runs; bring it back later.
    let (mut crashed, mut bounced) = (None, false);
    while !sim.step()? {
        let t = sim.elapsed();
        let Some(at) = *submitted.lock().unwrap() else {
            continue;
        };
        if crashed.is_none() && t >= at + Duration::from_millis(150) {
            sim.crash("w1");
            crashed = Some(t);
        }
        if !bounced && t >= at + Duration::from_millis(600) {
            sim.bounce("w1");
            bounced = true;
        }
    }
    let done = finished.lock().unwrap().expect("the job finished");
    eprintln!(
        "submitted {:?}, w1 crashed {crashed:?}, done {done:?}",
        submitted.lock().unwrap()
    );
    assert!(crashed.is_some_and(|c| c < done), "w1 crashed mid-job");
    assert!(bounced, "w1 came back before the job finished");
    Ok(())
}
