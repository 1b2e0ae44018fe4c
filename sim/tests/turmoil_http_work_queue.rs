//! The work queue's HTTP API inside the simulator: the very router real mode serves, on a
//! simulated manager host over turmoil TCP, driven by a simulated HTTP client; workers over
//! turmoil UDP; one worker crashed while it holds a reservation and brought back. Every job
//! must be completed with the md5 of its payload, and bad input must get its 4xx.

use highstorm::http::{request, TurmoilListener};
use highstorm_nodes::http::work_queue::router;
use highstorm_nodes::run::{
    drive, AddressBook, DatagramSocket, Gateway, RealEnvironment, UdpTransport,
};
use highstorm_nodes::systems::work_queue::{result_of, WorkQueue, WorkQueueConfig};
use highstorm_nodes::{NodeProcess, ProcessSetup};
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

fn any(port: u16) -> SocketAddr {
    (IpAddr::V4(Ipv4Addr::UNSPECIFIED), port).into()
}

fn config() -> WorkQueueConfig {
    WorkQueueConfig {
        manager: "manager".into(),
        ttr_ms: 400,
        work_ms: 150,
        ..WorkQueueConfig::default()
    }
}

async fn node(id: &str, book: AddressBook) -> turmoil::Result {
    let setup = ProcessSetup {
        id: id.to_owned(),
        peers: vec![],
        seed: 7,
        boot: turmoil::sim_elapsed().unwrap_or_default().as_millis() as u64,
        durable: Default::default(),
    };
    let mut process = NodeProcess::new(WorkQueue::new(config(), id), setup);
    let mut env = RealEnvironment::default();
    let socket = Udp(turmoil::net::UdpSocket::bind(any(UDP)).await?);
    let transport = UdpTransport::new(socket, book);
    if id != "manager" {
        let mut transport = transport;
        drive(&mut process, &mut transport, &mut env).await?;
        return Ok(());
    }
    let (mut gateway, client) = Gateway::new(transport, id, "http");
    let api = router(client);
    let listener = TurmoilListener::bind(any(HTTP)).await?;
    tokio::select! {
        biased;
        r = drive(&mut process, &mut gateway, &mut env) => r?,
        r = highstorm_nodes::http::serve(listener, api) => r?,
    }
    Ok(())
}

/// An HTTP exchange, retried on connection errors (turmoil TCP breaks on faults).
async fn http(method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let to: SocketAddr = (turmoil::lookup("manager"), HTTP).into();
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
fn the_work_queue_api_serves_over_turmoil_tcp_through_a_worker_crash() -> turmoil::Result {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(60))
        .rng_seed(5)
        .build();
    for id in ["manager", "w1", "w2"] {
        sim.host(id, move || async move {
            let book = if id == "manager" {
                AddressBook::default()
            } else {
                AddressBook::new([(
                    "manager".to_owned(),
                    (turmoil::lookup("manager"), UDP).into(),
                )])
            };
            node(id, book).await
        });
    }
    let put: Arc<Mutex<Option<Duration>>> = Arc::default();
    let finished: Arc<Mutex<Option<(Duration, u64)>>> = Arc::default();
    let (p, fin) = (put.clone(), finished.clone());
    sim.client("client", async move {
        for (method, path, body, expected) in [
            ("POST", "/jobs", "{nope", 400),
            ("GET", "/jobs/77", "", 404),
            ("GET", "/jobs/x", "", 404),
        ] {
            let (status, v) = http(method, path, body).await;
            assert_eq!(status, expected, "{method} {path}: {v}");
        }
        let mut payloads = BTreeMap::new();
        for n in 0..20 {
            let payload = serde_json::json!({"n": n, "sim": true});
            let (status, r) = http("POST", "/jobs", &payload.to_string()).await;
            assert_eq!(status, 202, "{r}");
            payloads.insert(r["id"].as_u64().unwrap(), payload);
        }
        *p.lock().unwrap() = turmoil::sim_elapsed();
        let mut timeouts = 0;
        for (id, payload) in &payloads {
            loop {
                let (status, j) = http("GET", &format!("/jobs/{id}"), "").await;
                assert_eq!(status, 200, "{j}");
                if j["status"] == "completed" {
                    assert_eq!(j["result"].as_str(), Some(result_of(payload).as_str()));
                    assert_eq!(&j["payload"], payload);
                    timeouts += j["timeouts"].as_u64().unwrap_or(0);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        *fin.lock().unwrap() = turmoil::sim_elapsed().map(|t| (t, timeouts));
        Ok(())
    });

    // Crash w1 while it works on a job (each takes 150 ms); bring it back later.
    let (mut crashed, mut bounced) = (None, false);
    while !sim.step()? {
        let t = sim.elapsed();
        let Some(at) = *put.lock().unwrap() else {
            continue;
        };
        if crashed.is_none() && t >= at + Duration::from_millis(75) {
            sim.crash("w1");
            crashed = Some(t);
        }
        if !bounced && t >= at + Duration::from_millis(900) {
            sim.bounce("w1");
            bounced = true;
        }
    }
    let (done, timeouts) = finished.lock().unwrap().expect("every job completed");
    assert!(crashed.is_some_and(|c| c < done), "w1 crashed mid-run");
    assert!(
        timeouts >= 1,
        "w1's reservation expired and its job ran again elsewhere"
    );
    Ok(())
}
