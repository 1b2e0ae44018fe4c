//! The Bridge Four HTTP API inside the simulator: the very router real mode serves, on a
//! simulated leader host over turmoil TCP, driven by a simulated HTTP client; workers over
//! turmoil UDP; one worker crashed mid-job and brought back. The job must reach Done with the
//! reference count, and bad input must get its 4xx.

#[path = "common/turmoil_api.rs"]
mod turmoil_api;

use highstorm::driver::{AddressBook, RealEnvironment, WorkRunner};
use highstorm_nodes::storage::{Blobs, SharedMemBlobs as SharedBlobs};
use highstorm_nodes::{NodeProcess, WorkRequest};
use highstorm_systems::bridge_four::http::router;
use highstorm_systems::bridge_four::{
    self, corpus, merge_counts, word_count, BridgeFour, BridgeFourConfig, CorpusSpec,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use turmoil_api::{book_with, serve, serve_api, setup};

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

async fn node(id: &str, cfg: BridgeFourConfig, blobs: SharedBlobs) -> turmoil::Result {
    let leader = cfg.leader == id;
    let process = NodeProcess::new(BridgeFour::new(cfg, id, false), setup(id));
    let env = RealEnvironment {
        work: Some(sim_work(blobs.clone())),
        ..RealEnvironment::default()
    };
    if leader {
        let api = |client| router(client, Arc::new(blobs));
        serve_api(id, process, env, AddressBook::default(), api).await
    } else {
        serve(process, env, book_with("leader")).await
    }
}

async fn http(method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    turmoil_api::http("leader", method, path, body).await
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
            node(id, cfg, blobs)
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
