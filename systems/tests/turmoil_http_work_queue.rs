//! The work queue's HTTP API inside the simulator: the very router real mode serves, on a
//! simulated manager host over turmoil TCP, driven by a simulated HTTP client; workers over
//! turmoil UDP; one worker crashed while it holds a reservation and brought back. Every job
//! must be completed with the md5 of its payload, and bad input must get its 4xx.

#[path = "common/turmoil_api.rs"]
mod turmoil_api;

use highstorm::driver::{AddressBook, RealEnvironment};
use highstorm_nodes::NodeProcess;
use highstorm_systems::work_queue::http::router;
use highstorm_systems::work_queue::{result_of, WorkQueue, WorkQueueConfig};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use turmoil_api::{book_with, serve, serve_api, setup};

fn config() -> WorkQueueConfig {
    WorkQueueConfig {
        manager: "manager".into(),
        ttr_ms: 400,
        work_ms: 150,
        ..WorkQueueConfig::default()
    }
}

async fn node(id: &str) -> turmoil::Result {
    let process = NodeProcess::new(WorkQueue::new(config(), id), setup(id));
    let env = RealEnvironment::default();
    if id == "manager" {
        serve_api(id, process, env, AddressBook::default(), router).await
    } else {
        serve(process, env, book_with("manager")).await
    }
}

async fn http(method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    turmoil_api::http("manager", method, path, body).await
}

#[test]
fn the_work_queue_api_serves_over_turmoil_tcp_through_a_worker_crash() -> turmoil::Result {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(60))
        .rng_seed(5)
        .build();
    for id in ["manager", "w1", "w2"] {
        sim.host(id, move || node(id));
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
