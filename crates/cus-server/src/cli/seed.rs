//! `cus account seed`: the command around `crate::import::seed` — refused in production,
//! progress and the rate on standard error, one summary line at the end.

use std::io::Write;

use super::{Operator, print_out};
use crate::config::{Config, Environment};
use crate::import::{self, seed};
use crate::startup;

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// How many accounts.
    #[arg(long)]
    pub count: u32,
    /// The RUT number (without check digit) of the first account; the next ones follow.
    /// Far above people's RUTs by default.
    #[arg(long, default_value_t = 40_000_000)]
    pub rut_from: u32,
    /// The CUS of every account (load tests log in with it).
    #[arg(long, default_value = "clave de carga 2026")]
    pub password: String,
}

pub async fn run(config: &Config, args: SeedArgs, operator: Operator<'_>) -> anyhow::Result<()> {
    if config.environment == Environment::Production {
        anyhow::bail!(
            "cus account seed is for load tests only (every account shares one CUS) and is \
             refused when environment = \"production\""
        );
    }
    let seed = seed::Seed {
        count: args.count,
        rut_from: args.rut_from,
        cus: args.password,
        operator: operator.name()?,
    };
    let store = startup::open_existing_store(config).await?;
    let hasher = import::answer_hasher(&config.hash)?;
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let started = std::time::Instant::now();
    let total = args.count;
    let seeded = seed::run(store, &hasher, &seed, now, &|done| {
        #[expect(clippy::cast_precision_loss, reason = "a rate for people to read")]
        let rate = done as f64 / started.elapsed().as_secs_f64().max(f64::EPSILON);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{done}/{total} accounts, {rate:.0} rows/s ");
        let _ = err.flush();
    })
    .await;
    eprintln!();
    let seeded = seeded?;
    print_out(&format!(
        "seeded {} accounts, {} already there; {:.1} s, {:.0} rows/s",
        seeded.created,
        seeded.existing,
        seeded.elapsed.as_secs_f64(),
        seeded.rate()
    ));
    Ok(())
}
