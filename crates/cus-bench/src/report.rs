//! The figures of every run, and the table of their medians the benchmark prints and writes.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::argon::Bound;
use crate::load::Outcome;
use crate::scenarios::NAMES;
use crate::stats::median;

/// One closed-loop run (and its open-loop run at half its rate, when made).
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub cpu_us: Option<f64>,
    pub peak_mib: Option<f64>,
    pub half_p99_ms: Option<f64>,
    pub half_errors: u64,
    pub exhausted: bool,
    pub first_error: Option<String>,
}

impl Figures {
    pub fn of(mut o: Outcome) -> Self {
        let p = o.latencies.percentiles(&[50.0, 99.0, 100.0]);
        Self {
            rate: o.rate(),
            p50_ms: p[0] as f64 / 1000.0,
            p99_ms: p[1] as f64 / 1000.0,
            max_ms: p[2] as f64 / 1000.0,
            errors: o.errors,
            cpu_us: o.cpu_per_request_us(),
            peak_mib: o.peak_kib.map(|k| k as f64 / 1024.0),
            exhausted: o.exhausted,
            first_error: o.first_error.take(),
            ..Self::default()
        }
    }

    pub fn half(&mut self, mut o: Outcome) {
        self.half_p99_ms = Some(o.latencies.percentiles(&[99.0])[0] as f64 / 1000.0);
        self.half_errors = o.errors;
        self.exhausted |= o.exhausted;
        if self.first_error.is_none() {
            self.first_error = o.first_error.take();
        }
    }
}

/// Runs by (target label, scenario number).
pub type Results = BTreeMap<(String, usize), Vec<Figures>>;

fn med(runs: &[Figures], f: impl Fn(&Figures) -> Option<f64>) -> Option<f64> {
    median(&runs.iter().filter_map(f).collect::<Vec<_>>())
}

fn cell(v: Option<f64>, decimals: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.decimals$}"))
}

pub struct Context<'a> {
    pub command: &'a str,
    pub targets: &'a [String],
    pub peer: Option<&'a str>,
    pub bound: &'a Bound,
    pub notes: &'a [String],
}

pub fn render(results: &Results, ctx: &Context<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# CUS benchmark\n\n`{}`\n", ctx.command);
    let _ = writeln!(
        out,
        "Medians of each figure over the repeats; errors are summed.\n"
    );
    let _ = writeln!(
        out,
        "| # | scenario | server | req/s | p50 ms | p99 ms | max ms | errors | CPU µs/req | peak RSS MiB | p99 ms at ½ peak |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in 1..=NAMES.len() {
        for target in ctx.targets.iter().map(String::as_str).chain(ctx.peer) {
            let Some(runs) = results.get(&(target.to_owned(), n)) else {
                continue;
            };
            let errors: u64 = runs.iter().map(|r| r.errors + r.half_errors).sum();
            let flag = if runs.iter().any(|r| r.exhausted) {
                " (codes ran out)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "| {n} | {}{flag} | {target} | {} | {} | {} | {} | {errors} | {} | {} | {} |",
                NAMES[n - 1],
                cell(med(runs, |r| Some(r.rate)), 0),
                cell(med(runs, |r| Some(r.p50_ms)), 2),
                cell(med(runs, |r| Some(r.p99_ms)), 2),
                cell(med(runs, |r| Some(r.max_ms)), 1),
                cell(med(runs, |r| r.cpu_us), 0),
                cell(med(runs, |r| r.peak_mib), 1),
                cell(med(runs, |r| r.half_p99_ms), 2),
            );
        }
    }
    if let Some(peer) = ctx.peer {
        let _ = writeln!(out, "\n## CUS / peer ({peer})\n");
        let _ = writeln!(
            out,
            "req/s: above 1 is CUS faster. CPU per request: below 1 is CUS cheaper.\n"
        );
        let _ = writeln!(
            out,
            "| # | scenario | server | req/s CUS/peer | CPU per request CUS/peer |"
        );
        let _ = writeln!(out, "|---|---|---|---:|---:|");
        for n in 1..=6 {
            let Some(theirs) = results.get(&(peer.to_owned(), n)) else {
                continue;
            };
            for target in ctx.targets {
                let Some(ours) = results.get(&(target.clone(), n)) else {
                    continue;
                };
                let ratio = |f: &dyn Fn(&Figures) -> Option<f64>| {
                    // No ratio against a peer that answered nothing.
                    let peer = med(theirs, f).filter(|v| *v > 0.0)?;
                    Some(med(ours, f)? / peer)
                };
                let _ = writeln!(
                    out,
                    "| {n} | {} | {target} | {} | {} |",
                    NAMES[n - 1],
                    cell(ratio(&|r| Some(r.rate)), 2),
                    cell(ratio(&|r| r.cpu_us), 2),
                );
            }
        }
    }
    let b = ctx.bound;
    let _ = writeln!(
        out,
        "\n## Logins against the argon2id bound\n\nOne hash (m={} KiB, t={}, p={}): {:.1} ms; bound = {} cores / {:.1} ms = {:.1} logins/s.\n",
        b.memory_kib,
        b.iterations,
        b.parallelism,
        b.hash_time.as_secs_f64() * 1000.0,
        b.cores,
        b.hash_time.as_secs_f64() * 1000.0,
        b.logins_per_second()
    );
    for target in ctx.targets {
        if let Some(rate) = results
            .get(&(target.clone(), 8))
            .and_then(|r| med(r, |f| Some(f.rate)))
        {
            let _ = writeln!(
                out,
                "- {target}: {rate:.1} logins/s = {:.0} % of the bound",
                100.0 * rate / b.logins_per_second()
            );
        }
    }
    let _ = writeln!(out, "\n## Notes\n");
    for note in ctx.notes {
        let _ = writeln!(out, "- {note}");
    }
    for ((target, n), runs) in results {
        if let Some(e) = runs.iter().find_map(|r| r.first_error.as_deref()) {
            let _ = writeln!(out, "- first error, {target}, scenario {n}: {e}");
        }
    }
    out
}
