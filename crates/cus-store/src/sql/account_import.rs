//! `cus account import`: a batch of accounts in multi-row statements, one transaction per
//! batch, each created account with its audit event. `cus account seed` writes its
//! batches with the same statements, without an event per account.

use std::collections::HashSet;

use async_trait::async_trait;
use cus_core::audit::AuditEvent;
use cus_core::{Account, NewAccount};
use sqlx::Row;

use super::accounts::{COLUMNS, bind_contact, bind_fields};
use super::{Backend, Query, Transaction, audit, placeholders};
use crate::{ImportBatch, ImportCounts, Result};

/// Parameters per account row (`bind_fields`, then id, rut, tipo, created_at).
const WIDTH: usize = 34;
/// Rows per `INSERT`: 17,000 parameters, under SQLite's 32,766 and PostgreSQL's 65,535.
const ROWS: usize = 500;

/// What `update` overwrites: the contact data, never the secrets, the kind or the times a
/// CUS change keeps. A generated CUS still waiting is cancelled, as a contact change on the
/// web cancels it: it went to the old address or mobile.
const UPDATE_CONTACT: &str = "UPDATE accounts SET nombres = $1, apellido_paterno = $2, \
     apellido_materno = $3, razon_social = $4, email = $5, email_verified = $6, \
     celular = $7, telefono_particular = $8, telefono_trabajo = $9, calle = $10, \
     numero = $11, block = $12, departamento = $13, codigo_comuna = $14, giro = $15, \
     rep_rut = $16, rep_nombres = $17, rep_apellidos = $18, rep_email = $19, \
     rep_celular = $20, updated_at = $21, pending_cus_hash = NULL, \
     pending_cus_expires = NULL WHERE rut = $22";

#[async_trait]
impl crate::AccountImports for Backend {
    async fn import_accounts(&self, batch: ImportBatch<'_>) -> Result<ImportCounts> {
        let mut tx = self.writer.begin().await?;
        let mut created = HashSet::new();
        for chunk in batch.accounts.chunks(ROWS) {
            // An existing RUT is skipped, not an error: `RETURNING` names those created.
            let sql = format!("{} RETURNING rut", insert_sql(chunk.len()));
            let query = bind_rows(sqlx::query(sqlx::AssertSqlSafe(sql)), chunk);
            for row in query.fetch_all(&mut *tx).await? {
                created.insert(row.try_get::<String, _>(0)?);
            }
        }
        let mut counts = ImportCounts::default();
        let mut events = Vec::with_capacity(batch.accounts.len());
        for new in batch.accounts {
            let rut = new.account.rut.compact();
            if created.contains(&rut) {
                counts.created += 1;
                events.push(about(batch.created, rut));
            } else if batch.update {
                update_contact(&mut tx, &new.account).await?;
                counts.updated += 1;
                events.push(about(batch.updated, rut));
            } else {
                counts.existing += 1;
            }
        }
        audit::insert_many(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(counts)
    }

    async fn seed_accounts(&self, accounts: &[NewAccount]) -> Result<u64> {
        let mut tx = self.writer.begin().await?;
        let mut created = 0;
        for chunk in accounts.chunks(ROWS) {
            let sql = insert_sql(chunk.len());
            let query = bind_rows(sqlx::query(sqlx::AssertSqlSafe(sql)), chunk);
            created += query.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(created)
    }
}

/// One multi-row `INSERT` of `rows` accounts that skips the RUTs already there.
fn insert_sql(rows: usize) -> String {
    format!(
        "INSERT INTO accounts ({COLUMNS}) VALUES {} ON CONFLICT (rut) DO NOTHING",
        placeholders(rows, WIDTH)
    )
}

/// Binds the rows of [`insert_sql`].
fn bind_rows<'q>(mut query: Query<'q>, chunk: &'q [NewAccount]) -> Query<'q> {
    for new in chunk {
        let a = &new.account;
        query = bind_fields(query, a, &new.credentials)
            .bind(a.id.0)
            .bind(a.rut.compact())
            .bind(a.tipo.as_str())
            .bind(a.created_at);
    }
    query
}

/// `event` about the account `rut`.
fn about(event: &AuditEvent, rut: String) -> AuditEvent {
    AuditEvent {
        subject: Some(rut),
        ..event.clone()
    }
}

async fn update_contact(tx: &mut Transaction, a: &Account) -> Result<()> {
    let rep = a.representante.as_ref();
    bind_contact(sqlx::query(UPDATE_CONTACT), a)
        .bind(&a.giro)
        .bind(rep.map(|r| r.rut.compact()))
        .bind(rep.map(|r| &r.nombres))
        .bind(rep.map(|r| &r.apellidos))
        .bind(rep.map(|r| &r.email))
        .bind(rep.and_then(|r| r.celular.as_ref()))
        .bind(a.updated_at)
        .bind(a.rut.compact())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
