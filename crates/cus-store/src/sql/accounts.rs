//! Accounts and their credentials: one row per person, natural or jurídica.

use async_trait::async_trait;
use cus_core::{Account, AccountId, Credentials, NewAccount, Rut};

use super::{Backend, Query, record, refresh_tokens};
use crate::model::AccountRow;
use crate::{Change, Result, StoreError};

/// The columns a write sets, in the order `bind_fields` binds them: `$1` to `$30`.
macro_rules! fields {
    () => {
        "nombres, apellido_paterno, apellido_materno, razon_social, email, email_verified, \
         celular, telefono_particular, telefono_trabajo, calle, numero, block, departamento, \
         codigo_comuna, secret_question, cus_hash, secret_answer_hash, cus_must_change, \
         updated_at, tokens_valid_after, pending_cus_hash, email_verify_hash, \
         email_verify_expires, giro, rep_rut, rep_nombres, rep_apellidos, rep_email, \
         rep_celular, pending_cus_expires"
    };
}

/// Every column: the fields, then what never changes after creation (`$31` to `$34`).
macro_rules! columns {
    () => {
        concat!(fields!(), ", id, rut, tipo, created_at")
    };
}

/// Every column, in the order an insert binds them (`bind_fields`, then the four above).
pub(super) const COLUMNS: &str = columns!();

const INSERT: &str = concat!(
    "INSERT INTO accounts (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34)"
);

/// `$32` is the `tokens_valid_after` the caller read: the write applies only while it is
/// still the stored one (no CUS change since), CUS changes included.
const UPDATE: &str = "UPDATE accounts SET nombres = $1, apellido_paterno = $2, \
     apellido_materno = $3, razon_social = $4, email = $5, email_verified = $6, celular = $7, \
     telefono_particular = $8, telefono_trabajo = $9, calle = $10, numero = $11, block = $12, \
     departamento = $13, codigo_comuna = $14, secret_question = $15, cus_hash = $16, \
     secret_answer_hash = $17, cus_must_change = $18, updated_at = $19, \
     tokens_valid_after = $20, pending_cus_hash = $21, email_verify_hash = $22, \
     email_verify_expires = $23, giro = $24, rep_rut = $25, rep_nombres = $26, \
     rep_apellidos = $27, rep_email = $28, rep_celular = $29, pending_cus_expires = $30 \
     WHERE id = $31 AND tokens_valid_after = $32";

const EXISTS: &str = "SELECT 1 FROM accounts WHERE id = $1";
const BY_RUT: &str = concat!("SELECT ", columns!(), " FROM accounts WHERE rut = $1");
const BY_ID: &str = concat!("SELECT ", columns!(), " FROM accounts WHERE id = $1");
const BY_EMAIL_VERIFICATION: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM accounts WHERE email_verify_hash = $1"
);

/// Binds every field a write sets, `$1` to `$30` in `fields!` order: the one list both
/// the insert and the update use, so a new column cannot be saved by one and not the other.
pub(super) fn bind_fields<'q>(query: Query<'q>, a: &Account, c: &Credentials) -> Query<'q> {
    let address = a.address.as_ref();
    let rep = a.representante.as_ref();
    query
        .bind(&a.nombres)
        .bind(&a.apellido_paterno)
        .bind(&a.apellido_materno)
        .bind(&a.razon_social)
        .bind(&a.email)
        .bind(a.email_verified)
        .bind(&a.celular)
        .bind(&a.telefono_particular)
        .bind(&a.telefono_trabajo)
        .bind(address.map(|d| &d.calle))
        .bind(address.map(|d| &d.numero))
        .bind(address.and_then(|d| d.block.as_ref()))
        .bind(address.and_then(|d| d.departamento.as_ref()))
        .bind(address.and_then(|d| i32::try_from(d.codigo_comuna).ok()))
        .bind(a.secret_question)
        .bind(&c.cus_hash)
        .bind(&c.secret_answer_hash)
        .bind(a.cus_must_change)
        .bind(a.updated_at)
        .bind(a.tokens_valid_after)
        .bind(&c.pending_cus_hash)
        .bind(&c.email_verify_hash)
        .bind(c.email_verify_expires)
        .bind(&a.giro)
        .bind(rep.map(|r| r.rut.compact()))
        .bind(rep.map(|r| &r.nombres))
        .bind(rep.map(|r| &r.apellidos))
        .bind(rep.map(|r| &r.email))
        .bind(rep.and_then(|r| r.celular.as_ref()))
        .bind(c.pending_cus_expires)
}

#[async_trait]
impl crate::Accounts for Backend {
    async fn create_account(&self, new: &NewAccount, change: Change<'_>) -> Result<()> {
        let a = &new.account;
        let mut tx = self.pool.begin().await?;
        bind_fields(sqlx::query(INSERT), a, &new.credentials)
            .bind(a.id.0)
            .bind(a.rut.compact())
            .bind(a.tipo.as_str())
            .bind(a.created_at)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::on_insert("account"))?;
        record(&mut tx, change).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn account_by_rut(&self, rut: &Rut) -> Result<Option<(Account, Credentials)>> {
        sqlx::query_as::<_, AccountRow>(BY_RUT)
            .bind(rut.compact())
            .fetch_optional(&self.pool)
            .await?
            .map(AccountRow::into_domain)
            .transpose()
    }

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>> {
        sqlx::query_as::<_, AccountRow>(BY_ID)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| row.into_domain().map(|(account, _)| account))
            .transpose()
    }

    async fn update_account(&self, a: &Account, c: &Credentials, change: Change<'_>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = bind_fields(sqlx::query(UPDATE), a, c)
            .bind(a.id.0)
            .bind(
                change
                    .read_tokens_valid_after
                    .unwrap_or(a.tokens_valid_after),
            )
            .execute(&mut *tx)
            .await
            .map_err(StoreError::on_insert("e-mail verification"))?;
        if done.rows_affected() == 0 {
            let exists = sqlx::query(EXISTS)
                .bind(a.id.0)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            return Err(if exists {
                StoreError::Conflict("account")
            } else {
                StoreError::NotFound("account")
            });
        }
        if let Some(at) = change.revoke_tokens_at {
            refresh_tokens::revoke_account(&mut *tx, a.id, at).await?;
        }
        record(&mut tx, change).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn account_by_email_verification(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Account, Credentials)>> {
        sqlx::query_as::<_, AccountRow>(BY_EMAIL_VERIFICATION)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?
            .map(AccountRow::into_domain)
            .transpose()
    }
}
