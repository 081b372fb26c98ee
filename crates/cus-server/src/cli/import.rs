//! `cus account import FILE.csv`: the command around `crate::import` — a progress bar on a
//! terminal, and one summary line at the end.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;

use super::{Operator, print_out};
use crate::config::Config;
use crate::import::{self, Options, Target};
use crate::startup;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The CSV file: UTF-8, comma-separated, a header row naming the columns (see
    /// docs/operations.md, "Importing accounts").
    pub file: PathBuf,
    /// Overwrite the contact data of accounts that already exist (by default they are left
    /// exactly as they are).
    #[arg(long)]
    pub update: bool,
    /// Validate every row and write the report; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where to list the bad rows, with their line and reason (default: beside FILE, as
    /// FILE.report.csv).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

pub async fn run(config: &Config, args: ImportArgs, operator: Operator<'_>) -> anyhow::Result<()> {
    let options = Options {
        report: args
            .report
            .unwrap_or_else(|| import::default_report(&args.file)),
        file: args.file,
        update: args.update,
        dry_run: args.dry_run,
    };
    let target = if options.dry_run {
        None
    } else {
        let operator = operator.name()?;
        Some(Target {
            store: startup::open_existing_store(config).await?,
            operator,
        })
    };
    let hasher = import::answer_hasher(&config.hash)?;
    let size = std::fs::metadata(&options.file)
        .with_context(|| format!("cannot open {}", options.file.display()))?
        .len();
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .context("progress bar")?,
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let summary = import::run(target, &hasher, &options, now, &|read| {
        bar.set_position(read)
    })
    .await;
    bar.finish_and_clear();
    let summary = summary?;
    let c = summary.counts;
    let outcome = if options.dry_run {
        format!("dry run, nothing written: {} valid", summary.valid)
    } else if c.created == 0 && c.updated == 0 {
        format!(
            "nothing new to import: imported 0, already there {}",
            c.existing
        )
    } else {
        format!(
            "imported {}, already there {}, updated {}",
            c.created, c.existing, c.updated
        )
    };
    print_out(&format!(
        "{outcome}, bad {} (report: {}); {} rows in {:.1} s, {:.0} rows/s",
        summary.bad,
        options.report.display(),
        summary.valid + summary.bad,
        summary.elapsed.as_secs_f64(),
        summary.rate()
    ));
    Ok(())
}
