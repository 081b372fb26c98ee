//! `AccountImports`: batches of imported accounts, on every backend.

use std::sync::Arc;

use cus_core::Rut;
use cus_core::audit::{AuditEvent, AuditKind};
use cus_store::{AuditFilter, ImportBatch, ImportCounts, Store};

use super::{backends, created, new_account, now};

contract!(
    an_import_creates_new_ruts_leaves_or_updates_existing_ones,
    a_seed_creates_new_ruts_skips_existing_ones_and_audits_none,
);

/// Above one multi-row statement (500 rows), so a batch spans several.
const MANY: u32 = 1201;

async fn an_import_creates_new_ruts_leaves_or_updates_existing_ones(store: Arc<dyn Store>) {
    let existing = created(store.as_ref(), "11.111.111-1").await;
    let mut accounts: Vec<_> = (0..MANY)
        .map(|i| {
            let rut = Rut::from_body(20_000_000 + i).expect("a RUT");
            let mut new = new_account(&rut.to_string());
            new.account.email = format!("persona{i}@example.cl");
            new.credentials.cus_hash =
                "$2b$04$abcdefghijklmnopqrstuOAbcdefghijklmnopqrstuvwxyz01234".into();
            new
        })
        .collect();
    accounts[0].credentials.cus_hash = String::new();
    let mut again = new_account("11.111.111-1");
    again.account.email = "nuevo@example.cl".into();
    again.credentials.cus_hash =
        "$2b$04$otherotherotherotherotOAbcdefghijklmnopqrstuvwxyz01234".into();
    accounts.push(again);
    let imported = AuditEvent::new(AuditKind::AccountImported, now(), None).by("cli:migra");
    let updated = AuditEvent::new(AuditKind::DataUpdated, now(), None).by("cli:migra");
    let batch = |update| ImportBatch {
        accounts: &accounts,
        update,
        created: &imported,
        updated: &updated,
    };

    let first = store.import_accounts(batch(false)).await.expect("imported");
    assert_eq!(
        first,
        ImportCounts {
            created: u64::from(MANY),
            existing: 1,
            updated: 0
        }
    );
    let (account, credentials) = store
        .account_by_rut(&accounts[7].account.rut)
        .await
        .expect("read")
        .expect("imported");
    assert_eq!(account, accounts[7].account);
    assert_eq!(credentials, accounts[7].credentials);
    let (_, no_cus) = store
        .account_by_rut(&accounts[0].account.rut)
        .await
        .expect("read")
        .expect("imported");
    assert_eq!(
        no_cus.cus_hash, "",
        "an account may come without a usable CUS"
    );
    let (left, kept) = store
        .account_by_rut(&existing.account.rut)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        (left, kept),
        (existing.account.clone(), existing.credentials.clone())
    );
    let events = trail(&store).await;
    let kinds = |kind: AuditKind| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(kinds(AuditKind::AccountImported), MANY as usize);
    assert!(
        events
            .iter()
            .filter(|e| e.kind == AuditKind::AccountImported)
            .all(|e| e.operator.as_deref() == Some("cli:migra") && e.subject.is_some())
    );

    let second = store.import_accounts(batch(false)).await.expect("again");
    assert_eq!(second.created + second.updated, 0, "idempotent");
    assert_eq!(second.existing, u64::from(MANY) + 1);
    assert_eq!(trail(&store).await.len(), events.len(), "nothing written");

    let third = store.import_accounts(batch(true)).await.expect("updated");
    assert_eq!(third.updated, u64::from(MANY) + 1);
    let (changed, secrets) = store
        .account_by_rut(&existing.account.rut)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        changed.email, "nuevo@example.cl",
        "contact data overwritten"
    );
    assert_eq!(changed.id, existing.account.id);
    assert_eq!(secrets, existing.credentials, "never the secrets");
    let events = trail(&store).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == AuditKind::DataUpdated)
            .count(),
        MANY as usize + 1
    );
}

/// `cus account seed`'s batches: the import's statements, existing RUTs skipped (a rerun
/// creates nothing), no audit event per account.
async fn a_seed_creates_new_ruts_skips_existing_ones_and_audits_none(store: Arc<dyn Store>) {
    let existing = created(store.as_ref(), "11.111.111-1").await;
    let before = trail(&store).await.len();
    let mut accounts: Vec<_> = (0..MANY)
        .map(|i| {
            let rut = Rut::from_body(30_000_000 + i).expect("a RUT");
            let mut new = new_account(&rut.to_string());
            new.account.email = format!("semilla{i}@example.cl");
            new
        })
        .collect();
    let mut again = new_account("11.111.111-1");
    again.account.email = "otro@example.cl".into();
    accounts.push(again);

    let first = store.seed_accounts(&accounts).await.expect("seeded");
    assert_eq!(first, u64::from(MANY), "the existing RUT is skipped");
    let (account, credentials) = store
        .account_by_rut(&accounts[600].account.rut)
        .await
        .expect("read")
        .expect("seeded");
    assert_eq!(
        (account, credentials),
        (
            accounts[600].account.clone(),
            accounts[600].credentials.clone()
        )
    );
    let (left, _) = store
        .account_by_rut(&existing.account.rut)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(left, existing.account, "left exactly as it was");
    assert_eq!(trail(&store).await.len(), before, "no event per account");

    let second = store.seed_accounts(&accounts).await.expect("again");
    assert_eq!(second, 0, "idempotent");
}

async fn trail(store: &Arc<dyn Store>) -> Vec<AuditEvent> {
    store
        .audit_events(&AuditFilter {
            limit: 10_000,
            ..AuditFilter::default()
        })
        .await
        .expect("audit")
}
