//! `cus account seed`: synthetic persona natural accounts for load tests, written fast.
//! Each account is a registration form filled by a machine and judged by the rules of
//! Regístrese (`lifecycle::natural::validate`, as the import's rows are); the CUS and the
//! answer are hashed once and that hash is reused by every account — which is why this is
//! for load tests only, and refused in production. Batches go through the import's
//! multi-row statements (`Store::seed_accounts`), RUTs already there skipped; the run
//! writes one audit event, not one per account.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cus_core::audit::{AuditEvent, AuditKind};
use cus_core::contact_form::{ContactInput, FieldErrors};
use cus_core::{AccountId, Credentials, NewAccount, Rut};
use cus_store::Store;
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::hashing::Hasher;
use crate::lifecycle::natural::{self, RegistrationInput};

/// Accounts per transaction: 10 multi-row statements of the import's 500 rows.
const BATCH: u32 = 5_000;

/// The secret answer of every seeded account.
pub const ANSWER: &str = "semilla";

/// What to seed.
pub struct Seed {
    pub count: u32,
    /// The RUT body of the first account; the next ones follow it.
    pub rut_from: u32,
    /// The CUS of every account.
    pub cus: String,
    /// Who runs it, for the audit trail (`cli:<name>`).
    pub operator: String,
}

/// What a seed run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    pub created: u64,
    /// RUTs that already had an account, left as they were.
    pub existing: u64,
    pub elapsed: Duration,
}

impl Seeded {
    /// Accounts written or skipped per second.
    pub fn rate(&self) -> f64 {
        #[expect(clippy::cast_precision_loss, reason = "a rate for people to read")]
        let rows = (self.created + self.existing) as f64;
        rows / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Seeds `seed.count` accounts; `progress` is told the accounts done so far after each
/// batch.
pub async fn run(
    store: Arc<dyn Store>,
    hasher: &Hasher,
    seed: &Seed,
    now: OffsetDateTime,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let last = seed
        .rut_from
        .checked_add(seed.count.saturating_sub(1))
        .filter(|last| Rut::from_body(*last).is_ok() && seed.rut_from > 0)
        .ok_or_else(|| anyhow::anyhow!("--rut-from plus --count passes the largest RUT"))?;
    let credentials = Credentials {
        cus_hash: hasher.hash(&seed.cus).await?,
        secret_answer_hash: Some(hasher.hash(ANSWER).await?),
        ..Credentials::default()
    };
    let mut seeded = Seeded::default();
    let mut pending: Option<JoinHandle<cus_store::Result<u64>>> = None;
    let mut from = seed.rut_from;
    while seed.count > 0 && from <= last {
        let to = from.saturating_add(BATCH - 1).min(last);
        // The next batch is built while the previous one is written.
        let batch = (from..=to)
            .map(|body| account(body, &credentials, now))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let size = u64::from(to - from + 1);
        if let Some(previous) = pending.take() {
            seeded.created += previous.await??;
        }
        let store = Arc::clone(&store);
        pending = Some(tokio::spawn(
            async move { store.seed_accounts(&batch).await },
        ));
        progress(u64::from(from - seed.rut_from) + size);
        from = to.saturating_add(1);
        if to == last {
            break;
        }
    }
    if let Some(previous) = pending.take() {
        seeded.created += previous.await??;
    }
    seeded.existing = u64::from(seed.count) - seeded.created;
    seeded.elapsed = started.elapsed();
    let mut event = AuditEvent::new(AuditKind::AccountCreated, now, None).by(&seed.operator);
    event.detail = Some(format!(
        "seed for load tests: {} accounts created, {} already there, RUT {} to {}",
        seeded.created, seeded.existing, seed.rut_from, last
    ));
    store.append_audit(&event).await?;
    Ok(seeded)
}

/// The account of RUT `body`: a machine-filled registration, judged by its rules. Its
/// e-mail and mobile are made from the RUT, so they are unique as it is.
fn account(
    body: u32,
    credentials: &Credentials,
    now: OffsetDateTime,
) -> anyhow::Result<NewAccount> {
    let rut = Rut::from_body(body).map_err(|e| anyhow::anyhow!("RUT {body}: {e}"))?;
    let input = RegistrationInput {
        rut: rut.to_string(),
        nombres: "Persona".into(),
        apellido_paterno: "Semilla".into(),
        apellido_materno: "Carga".into(),
        contact: ContactInput {
            pregunta: "1".into(),
            respuesta: ANSWER.into(),
            calle: "Avenida de Prueba".into(),
            numero: (body % 10_000).to_string(),
            region: "13".into(),
            comuna: "13101".into(),
            email: format!("semilla{body}@carga.example.cl"),
            celular: format!("{:08}", body % 100_000_000),
            ..ContactInput::default()
        },
        cus: String::new(),
        cus_repetida: String::new(),
    };
    let mut errors = FieldErrors::new();
    let (account, _) = natural::validate(&input, true, AccountId(Uuid::now_v7()), now, &mut errors)
        .ok_or_else(|| anyhow::anyhow!("RUT {rut}: the seeded form is invalid: {errors:?}"))?;
    Ok(NewAccount {
        account,
        credentials: credentials.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every seeded account passes registration's rules, with a RUT whose check digit
    /// is right and an e-mail and mobile of its own.
    #[test]
    fn seeded_accounts_are_valid_registrations() {
        let now = OffsetDateTime::now_utc();
        let credentials = Credentials::default();
        let a = account(40_000_000, &credentials, now).expect("valid");
        let b = account(40_000_001, &credentials, now).expect("valid");
        assert_eq!(a.account.rut.to_string(), "40.000.000-K");
        assert_ne!(a.account.email, b.account.email);
        assert_ne!(a.account.celular, b.account.celular);
    }
}
