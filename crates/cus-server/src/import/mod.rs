//! `cus account import`: accounts brought over from the previous system, from a CSV file.
//! Each row is validated by the rules of registration (`row`); the bad ones are listed in a
//! report with their line and reason, and the rest written in batches, one transaction per
//! batch, each account with its audit event (`cus_store::AccountImports`). Plain answers
//! are hashed with argon2id on every core; exported hashes are kept as they are, and a
//! legacy CUS hash is replaced by argon2id at the person's first login.

mod columns;
mod row;
pub mod seed;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use cus_core::audit::{AuditEvent, AuditKind};
use cus_core::{AccountId, Credentials, NewAccount};
use cus_store::{ImportBatch, ImportCounts, Store};
use time::OffsetDateTime;
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

use crate::hashing::Hasher;
use columns::Columns;
use row::{Answer, Valid};

/// Rows validated and hashed before they go to the store together: the store writes them
/// in one transaction, while the next batch is being read.
const BATCH: usize = 2000;

/// What to import, and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub file: PathBuf,
    /// Where the bad rows are listed.
    pub report: PathBuf,
    /// Overwrite the contact data of the accounts that already exist.
    pub update: bool,
    /// Validate and report only: nothing is written to the store.
    pub dry_run: bool,
}

/// The report's default place: beside the file, `cuentas.csv` → `cuentas.report.csv`.
pub fn default_report(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map_or_else(|| "import".into(), |s| s.to_string_lossy().into_owned());
    file.with_file_name(format!("{stem}.report.csv"))
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Rows that passed every rule (written, already there or updated).
    pub valid: u64,
    pub bad: u64,
    pub counts: ImportCounts,
    pub elapsed: Duration,
}

impl Summary {
    /// Rows read per second.
    pub fn rate(&self) -> f64 {
        (self.valid + self.bad) as f64 / self.elapsed.as_secs_f64().max(1e-6)
    }
}

/// The hasher for plain answers: the configured argon2id parameters, as many at once as
/// the machine has cores, and a queue without practical limit: the import hands it a whole
/// batch at once and wants it to wait, not to refuse.
pub fn answer_hasher(config: &crate::config::Hash) -> anyhow::Result<Hasher> {
    Hasher::new(&crate::config::Hash {
        max_concurrent: 0,
        max_queue: usize::MAX / 2,
        ..config.clone()
    })
}

/// Where the writes go: `None` for a dry run.
pub struct Target {
    pub store: Arc<dyn Store>,
    /// Who runs the import, for the audit trail (`cli:<name>`).
    pub operator: String,
}

/// Imports `options.file`; `progress` is told how many bytes of it were read, now and then.
pub async fn run(
    target: Option<Target>,
    hasher: &Hasher,
    options: &Options,
    now: OffsetDateTime,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let file = std::fs::File::open(&options.file)
        .with_context(|| format!("cannot open {}", options.file.display()))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let header = reader.headers().context("cannot read the header row")?;
    let columns = Columns::from_header(header)?;
    let mut report = csv::Writer::from_path(&options.report)
        .with_context(|| format!("cannot write the report {}", options.report.display()))?;
    report.write_record(["linea", "rut", "motivo"])?;
    let source = options
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let writer = target.map(|t| Writer::new(t, &source, options.update, now));
    let mut summary = Summary::default();
    let mut seen: HashMap<u32, u64> = HashMap::new();
    let mut batch = Vec::with_capacity(BATCH);
    let mut pending: Option<JoinHandle<anyhow::Result<ImportCounts>>> = None;
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                return Err(e).context("cannot read the file");
            }
            Err(e) => {
                // A row the CSV reader cannot take (invalid UTF-8, a wrong number of
                // fields): reported like any bad row.
                let at = e.position().map_or(line, csv::Position::line);
                report.write_record([
                    at.to_string(),
                    String::new(),
                    report_cell(&format!("fila ilegible: {e}")),
                ])?;
                summary.bad += 1;
                continue;
            }
        }
        let line = record.position().map_or(line, csv::Position::line);
        let checked =
            row::validate(&columns, &record, AccountId(Uuid::now_v7()), now).and_then(|valid| {
                let body = valid.account.rut.body();
                match seen.insert(body, line) {
                    Some(first) => {
                        seen.insert(body, first);
                        Err(format!("rut: el RUT ya está en la línea {first}"))
                    }
                    None => Ok(valid),
                }
            });
        match checked {
            Ok(valid) => {
                summary.valid += 1;
                batch.push(valid);
            }
            Err(reason) => {
                summary.bad += 1;
                report.write_record([
                    line.to_string(),
                    report_cell(columns.get(&record, "rut")),
                    report_cell(&reason),
                ])?;
            }
        }
        if batch.len() == BATCH {
            progress(reader.position().byte());
            if let Some(writer) = &writer {
                let accounts = with_credentials(hasher, std::mem::take(&mut batch)).await?;
                if let Some(previous) = pending.take() {
                    summary.counts += previous.await??;
                }
                pending = Some(writer.write(accounts));
            } else {
                batch.clear();
            }
        }
    }
    if let Some(writer) = &writer {
        let accounts = with_credentials(hasher, batch).await?;
        if let Some(previous) = pending.take() {
            summary.counts += previous.await??;
        }
        summary.counts += writer.write(accounts).await??;
    }
    progress(reader.position().byte());
    report.flush()?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The accounts of `rows` with their credentials: plain answers hashed in parallel (the
/// hasher bounds how many at once), exported hashes as they are.
async fn with_credentials(hasher: &Hasher, rows: Vec<Valid>) -> anyhow::Result<Vec<NewAccount>> {
    let mut hashing = JoinSet::new();
    for (i, valid) in rows.iter().enumerate() {
        if let Answer::Plain(answer) = &valid.answer {
            let (hasher, answer) = (hasher.clone(), answer.clone());
            hashing.spawn(async move { (i, hasher.hash(&answer).await) });
        }
    }
    let mut hashed = HashMap::new();
    while let Some(done) = hashing.join_next().await {
        let (i, hash) = done?;
        hashed.insert(i, hash?);
    }
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, valid)| NewAccount {
            account: valid.account,
            credentials: Credentials {
                cus_hash: valid.cus_hash,
                secret_answer_hash: Some(match valid.answer {
                    Answer::Hashed(hash) => hash,
                    Answer::Plain(_) => hashed.remove(&i).unwrap_or_default(),
                }),
                ..Credentials::default()
            },
        })
        .collect())
}

/// Writes batches to the store, each account audited as imported by the operator.
struct Writer {
    store: Arc<dyn Store>,
    update: bool,
    created: Arc<AuditEvent>,
    updated: Arc<AuditEvent>,
}

impl Writer {
    fn new(target: Target, source: &str, update: bool, now: OffsetDateTime) -> Self {
        let mut created =
            AuditEvent::new(AuditKind::AccountImported, now, None).by(&target.operator);
        created.detail = Some(format!("imported from {source}"));
        let mut updated = AuditEvent::new(AuditKind::DataUpdated, now, None).by(&target.operator);
        updated.detail = Some(format!(
            "contact data overwritten by the import of {source}"
        ));
        Self {
            store: target.store,
            update,
            created: Arc::new(created),
            updated: Arc::new(updated),
        }
    }

    /// Starts writing `accounts`: the next batch is read meanwhile.
    fn write(&self, accounts: Vec<NewAccount>) -> JoinHandle<anyhow::Result<ImportCounts>> {
        let (store, created, updated) = (
            Arc::clone(&self.store),
            Arc::clone(&self.created),
            Arc::clone(&self.updated),
        );
        let update = self.update;
        tokio::spawn(async move {
            store
                .import_accounts(ImportBatch {
                    accounts: &accounts,
                    update,
                    created: &created,
                    updated: &updated,
                })
                .await
                .context("cannot write a batch of accounts")
        })
    }
}

/// A report cell as a spreadsheet shows it, never runs it: what the file held is echoed
/// there, and a cell starting with `=`, `+`, `-`, `@`, a tab or a return is a formula to
/// Excel and LibreOffice (CSV injection), so it gets a leading `'`.
fn report_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod report_tests {
    use super::report_cell;

    #[test]
    fn formulas_in_the_report_are_shown_not_run() {
        assert_eq!(
            report_cell("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(report_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(report_cell("12.345.678-5"), "12.345.678-5");
    }
}
