//! `cus-bench`: the load benchmark of issue 15 (docs/benchmarks.md). Starts CUS (embedded,
//! and on PostgreSQL + Redis) and the peer, runs the scenarios against each over loopback,
//! and prints and writes the table. `scripts/bench` builds everything and runs it.

mod argon;
mod http;
mod load;
mod procfs;
mod report;
mod scenarios;
mod servers;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use load::{Mode, Plan};
use procfs::Process;
use report::{Figures, Results};
use scenarios::Target;
use servers::{Backend, Cus, Peer};

#[derive(Debug, Parser)]
#[command(about = "Load benchmark of CUS against oidc-provider (docs/benchmarks.md)")]
struct Args {
    /// The `cus` binary (a release build).
    #[arg(long, default_value = "target/release/cus")]
    cus: PathBuf,
    /// The peer's folder (bench/peer, with node_modules installed).
    #[arg(long, default_value = "bench/peer")]
    peer_dir: PathBuf,
    /// CUS's defaults, for the argon2id parameters of the login bound.
    #[arg(long, default_value = "config/default.toml")]
    defaults: PathBuf,
    /// Seconds measured per scenario (after the warm-up).
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds of warm-up per scenario, not counted.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Scenarios to run (1–9), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4,5,6,7,8,9")]
    scenarios: Vec<usize>,
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Backends of CUS: embedded, postgres.
    #[arg(long, value_delimiter = ',', default_value = "embedded,postgres")]
    backends: Vec<String>,
    /// Do not run the peer.
    #[arg(long)]
    no_peer: bool,
    /// Do not run scenarios 1–7 again at half their peak rate (open loop).
    #[arg(long)]
    no_half_rate: bool,
    /// Where the Markdown report is written.
    #[arg(long, default_value = "target/bench/report.md")]
    out: PathBuf,
    /// The command line to print in the report (scripts/bench passes its own).
    #[arg(long, default_value = "cus-bench")]
    command: String,
}

#[expect(clippy::print_stdout, reason = "a benchmark prints its table")]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.scenarios.iter().any(|n| !(1..=9).contains(n)) {
        bail!("scenarios are numbered 1 to 9");
    }
    let backends = args
        .backends
        .iter()
        .map(|b| match b.as_str() {
            "embedded" => Ok(Backend::Embedded),
            "postgres" => Ok(Backend::Postgres),
            other => bail!("unknown backend {other} (embedded, postgres)"),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let plan = Plan {
        mode: Mode::Closed,
        warmup: Duration::from_secs_f64(args.warmup),
        duration: Duration::from_secs_f64(args.duration),
    };

    let bound = argon::measure(&args.defaults)?;
    eprintln!(
        "argon2id: {:.1} ms per hash; bound {:.1} logins/s",
        bound.hash_time.as_secs_f64() * 1000.0,
        bound.logins_per_second()
    );
    let mut results = Results::new();
    let mut labels = Vec::new();
    let mut client = None;
    for backend in backends {
        let cus = Cus::start(&args.cus, backend)?;
        eprintln!("{}: {}", backend.label(), cus.base);
        let mut target = Target::discover(
            backend.label(),
            &cus.base,
            &cus.client_id,
            &cus.client_secret,
        )
        .await?;
        for i in 0..args.connections {
            let body = 30_000_000 + u32::try_from(i)?;
            let rut = format!("{body}-{}", cus_core::rut::check_digit(body));
            cus.account(&rut, scenarios::SECRET)?;
            target.accounts.push(rut);
        }
        let server = Process::new(cus.pid());
        let outcome = measure(
            &Arc::new(target),
            server,
            &args,
            plan,
            &args.scenarios,
            true,
            &mut results,
        )
        .await;
        if let Err(e) = outcome {
            eprintln!("--- CUS log ---\n{}", cus.log_tail());
            return Err(e);
        }
        labels.push(backend.label().to_owned());
        client.get_or_insert((cus.client_id.clone(), cus.client_secret.clone()));
    }

    let mut peer_label = None;
    let peer_scenarios: Vec<usize> = args.scenarios.iter().copied().filter(|n| *n <= 6).collect();
    if !args.no_peer && !peer_scenarios.is_empty() {
        let (id, secret) =
            client.unwrap_or_else(|| ("bench-client".into(), "bench-secret-0123456789".into()));
        let chains = args.connections * args.repeats;
        let peer = Peer::start(&args.peer_dir, &id, &secret, chains)?;
        let label = "oidc-provider";
        eprintln!("{label}: {}", peer.base);
        let mut target = Target::discover(label, &peer.base, &id, &secret).await?;
        target.peer_tokens = Some(peer.tokens.clone());
        let server = Process::new(peer.child.id());
        measure(
            &Arc::new(target),
            server,
            &args,
            plan,
            &peer_scenarios,
            false,
            &mut results,
        )
        .await?;
        peer_label = Some(label);
    }

    let notes = notes(&args);
    let ctx = report::Context {
        command: &args.command,
        targets: &labels,
        peer: peer_label,
        bound: &bound,
        notes: &notes,
    };
    let table = report::render(&results, &ctx);
    println!("{table}");
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, &table).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!("written to {}", args.out.display());
    let errors: u64 = results
        .values()
        .flatten()
        .map(|f| f.errors + f.half_errors)
        .sum();
    if errors > 0 {
        bail!("{errors} requests failed (see the notes of the report)");
    }
    Ok(())
}

/// Codes pre-issued per worker for scenario 7, at most (pre-issuing takes about as long as
/// spending them).
const MAX_CODES: usize = 4000;

/// Every repeat of `scenarios` on one target; with `half_rate`, 1–7 again in open loop at
/// half the rate just measured.
async fn measure(
    target: &Arc<Target>,
    server: Process,
    args: &Args,
    plan: Plan,
    scenarios: &[usize],
    half_rate: bool,
    results: &mut Results,
) -> anyhow::Result<()> {
    let workers = args.connections;
    let window = (plan.warmup + plan.duration).as_secs_f64();
    for round in 0..args.repeats {
        // Scenario 7 pre-issues about as many codes as client_credentials' rate would use.
        let mut estimate = 1500.0;
        for &n in scenarios {
            let codes = ((estimate * window * 1.5 / workers as f64) as usize + 10).min(MAX_CODES);
            let ready = scenarios::prepare(target, n, workers, round, codes).await?;
            let t = Arc::clone(target);
            let outcome = load::run(ready, plan, server, move |mut w| {
                let t = Arc::clone(&t);
                async move {
                    let s = scenarios::step(&t, n, &mut w).await;
                    (w, s)
                }
            })
            .await;
            let mut figures = Figures::of(outcome);
            if n == 3 {
                estimate = figures.rate;
            }
            if half_rate && !args.no_half_rate && n <= 7 {
                let rate = figures.rate / 2.0;
                let codes = ((rate * window * 1.2 / workers as f64) as usize + 10).min(MAX_CODES);
                let ready = scenarios::prepare(target, n, workers, round, codes).await?;
                let t = Arc::clone(target);
                let open = Plan {
                    mode: Mode::Open(rate),
                    ..plan
                };
                let outcome = load::run(ready, open, server, move |mut w| {
                    let t = Arc::clone(&t);
                    async move {
                        let s = scenarios::step(&t, n, &mut w).await;
                        (w, s)
                    }
                })
                .await;
                figures.half(outcome);
            }
            eprintln!(
                "{} #{n} {} (round {}): {:.0} req/s, p99 {:.2} ms, {} errors",
                target.label,
                scenarios::NAMES[n - 1],
                round + 1,
                figures.rate,
                figures.p99_ms,
                figures.errors + figures.half_errors
            );
            results
                .entry((target.label.clone(), n))
                .or_default()
                .push(figures);
        }
    }
    Ok(())
}

fn notes(args: &Args) -> Vec<String> {
    vec![
        format!(
            "{} keep-alive connections, {} s warm-up (not counted) + {} s measured per scenario, {} repeat(s); the load generator shares the machine with the server.",
            args.connections, args.warmup, args.duration, args.repeats
        ),
        format!(
            "Rate limits lifted for the run: {} = {}.",
            servers::LIFTED_LIMITS.join(", "),
            servers::LIFTED_TO
        ),
        format!(
            "Also set for the run: CUS_CAPTCHA__TEST_ANSWER (registration's captcha), CUS_OIDC__CODE_TTL={} (scenario 7's pre-issued codes), CUS_ENVIRONMENT=development, CUS_LOG__LEVEL=warn.",
            servers::CODE_TTL
        ),
        "Scenario 8 counts whole logins (5 requests: authorize, login page, POST /Account, resume, token); scenario 9 counts registration POSTs (each hashes the CUS and the secret answer).".into(),
        "Peer (oidc-provider, its in-memory adapter on an unbounded store instead of its 1000-entry LRU): refresh tokens and access tokens are minted at its start-up through its models; its userinfo and introspection take an opaque access token (it issues JWT access tokens only for a resource server, which its userinfo refuses); CUS's are ES256 JWTs. Its refresh answers carry a JWT access token for the resource server and an ID token, like CUS's.".into(),
        "CPU per request: the server's utime + stime (/proc/PID/stat) over the measured window / requests. Peak RSS: VmHWM after resetting it (/proc/PID/clear_refs) at the scenario's start.".into(),
    ]
}
