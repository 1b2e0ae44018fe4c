//! The `highstorm` binary: the command line of [`highstorm::cli`] with the shipped systems, the
//! node roles of Bridge Four and the work queue, and Bridge Four's `corpus` subcommand.

#[path = "allocator.rs"]
mod allocator;

use anyhow::Context as _;
use clap::{value_parser, Arg, ArgMatches};
use highstorm::cli::{parse_peer, Cli, NodeArgs};
use highstorm::driver::DirBlobs;
use highstorm_nodes::storage::Blobs as _;
use highstorm_systems::bridge_four;
use serde_json::{Map, Value};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    allocator::keep_freed_memory();
    Cli::new(highstorm_systems::registry())
        .role(
            "bridge-four-leader",
            "bridge-four",
            "--id leader --listen 127.0.0.1:7000 --http 127.0.0.1:8080 --store DIR \
             --peers w1=127.0.0.1:7001",
            leader,
        )
        .role(
            "bridge-four-worker",
            "bridge-four",
            "--id w1 --listen 127.0.0.1:7001 --set slots=4 --leader leader=127.0.0.1:7000 \
             --blobs DIR",
            worker,
        )
        .role(
            "work-queue-manager",
            "work-queue",
            "--id n0 --listen 127.0.0.1:7100 --http 127.0.0.1:8081 --store DIR",
            manager,
        )
        .role(
            "work-queue-worker",
            "work-queue",
            "--id w1 --listen 127.0.0.1:7101 --leader n0=127.0.0.1:7100 (workers join by \
             asking the manager for jobs)",
            queue_worker,
        )
        .command(corpus_command(), corpus)
        .main()
}

/// Where a leader or manager serves its HTTP API unless `--http` says otherwise.
fn default_http(a: &mut NodeArgs) {
    a.http = a
        .http
        .or_else(|| Some(SocketAddr::from(([127, 0, 0, 1], 8080))));
}

/// Bridge Four's leader: `leader` is its own id.
fn leader(a: &mut NodeArgs, cfg: &mut Map<String, Value>) -> anyhow::Result<()> {
    let id = a.id.clone().context("--id is required")?;
    cfg.insert("leader".into(), id.into());
    default_http(a);
    Ok(())
}

/// A Bridge Four worker: `--leader name=host:port` is its leader (and a peer); `--set slots=N`
/// its task slots.
fn worker(a: &mut NodeArgs, cfg: &mut Map<String, Value>) -> anyhow::Result<()> {
    let leader = a
        .leader
        .clone()
        .context("--leader name=host:port is required")?;
    let (name, _) = parse_peer(&leader)?;
    cfg.insert("leader".into(), name.into());
    a.peers.push(leader);
    Ok(())
}

/// The work queue's manager (distributed-workers): `manager` is its own id.
fn manager(a: &mut NodeArgs, cfg: &mut Map<String, Value>) -> anyhow::Result<()> {
    let id = a.id.clone().context("--id is required")?;
    cfg.insert("manager".into(), id.into());
    default_http(a);
    Ok(())
}

/// A work-queue worker: `--leader name=host:port` is its manager (and a peer).
fn queue_worker(a: &mut NodeArgs, cfg: &mut Map<String, Value>) -> anyhow::Result<()> {
    let manager = a
        .leader
        .clone()
        .context("--leader name=host:port (the manager) is required")?;
    let (name, _) = parse_peer(&manager)?;
    cfg.insert("manager".into(), name.into());
    a.peers.push(manager);
    Ok(())
}

fn corpus_command() -> clap::Command {
    clap::Command::new("corpus")
        .about(
            "Write the deterministic generated corpus Bridge Four's jobs count words in \
             (`DIR/corpus/file-00000.txt`, ...); prints the blob paths, one a line.",
        )
        .arg(
            Arg::new("dir")
                .long("dir")
                .help("The blob directory to write into.")
                .default_value(".")
                .value_parser(value_parser!(PathBuf)),
        )
        .arg(
            Arg::new("files")
                .long("files")
                .help("How many files.")
                .default_value("20")
                .value_parser(value_parser!(u32)),
        )
        .arg(
            Arg::new("words")
                .long("words")
                .help("Words per file.")
                .default_value("5000")
                .value_parser(value_parser!(u32)),
        )
        .arg(
            Arg::new("seed")
                .long("seed")
                .help("The generator's seed.")
                .default_value("1")
                .value_parser(value_parser!(u64)),
        )
}

fn corpus(m: &ArgMatches) -> anyhow::Result<ExitCode> {
    let dir = m.get_one::<PathBuf>("dir").context("--dir")?;
    let spec = bridge_four::CorpusSpec {
        files: *m.get_one::<u32>("files").context("--files")?,
        words: *m.get_one::<u32>("words").context("--words")?,
        seed: *m.get_one::<u64>("seed").context("--seed")?,
    };
    let mut blobs = DirBlobs::new(dir);
    let mut paths = vec![];
    for (path, text) in bridge_four::corpus(&spec) {
        blobs
            .write(&path, &text)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("writing into {}", dir.display()))?;
        paths.push(path);
    }
    // Every file is written before anything is printed: a closed pipe cannot cut it short.
    let mut out = std::io::stdout().lock();
    for path in paths {
        if writeln!(out, "{path}").is_err() {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}
