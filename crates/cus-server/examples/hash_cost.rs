//! What one argon2id hash costs at the configured parameters (`config/default.toml` and
//! `--config`-less `CUS_HASH__…` overrides), and the login bound that sets on this machine:
//! a login verifies one hash, so a node logs in at most `cores / hash time` people per
//! second. Used for sizing (docs/operations.md, Sizing).
//!
//! `cargo run --release -p cus-server --example hash_cost` (argon2 is optimised in every
//! profile, so a debug build measures the same).

use std::time::{Duration, Instant};

use cus_server::config::Config;
use cus_server::hashing::Hasher;

/// Hashes per measurement: enough to average out one slow one.
const ROUNDS: u32 = 24;

#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load(None)?;
    let hash = &config.hash;
    let hasher = Hasher::new(hash)?;
    let cores = std::thread::available_parallelism()?.get();
    hasher.hash("calentamiento").await?;

    let started = Instant::now();
    for _ in 0..ROUNDS {
        hasher.hash("una clave de ejemplo").await?;
    }
    let one = started.elapsed() / ROUNDS;

    // Every core hashing at once (as a node at a login peak, up to hash.max_concurrent).
    let parallel = match hash.max_concurrent {
        0 => cores,
        n => cores.min(n),
    };
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..parallel {
        let hasher = hasher.clone();
        tasks.spawn(async move {
            for _ in 0..ROUNDS {
                hasher.hash("una clave de ejemplo").await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let elapsed = started.elapsed();
    let hashes = f64::from(ROUNDS) * f64::from(u32::try_from(parallel)?);
    let rate = hashes / elapsed.as_secs_f64();

    println!(
        "argon2id m={} KiB t={} p={}: {} per hash on one core",
        hash.memory_kib,
        hash.iterations,
        hash.parallelism,
        millis(one)
    );
    println!(
        "bound: {cores} cores / {} = {:.0} logins/s per node",
        millis(one),
        f64::from(u32::try_from(cores)?) / one.as_secs_f64()
    );
    println!(
        "measured: {parallel} hashes at once: {rate:.0} hashes/s, {} MiB of hash memory",
        hash.memory_kib * u32::try_from(parallel)? / 1024
    );
    Ok(())
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
