//! Accounts and their credentials: one row per person, natural or jurídica.

use async_trait::async_trait;
use cus_core::{Account, AccountId, Credentials, NewAccount, Rut};

use super::{BINARY_ORDER, Backend, Query, record, refresh_tokens};
use crate::model::{AccountRow, AccountSearch};
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

/// What a read returns: every column, and the help desk's `disabled_at`, which no account
/// write sets (only [`DISABLE`] and [`ENABLE`] do).
macro_rules! read {
    () => {
        concat!("SELECT ", columns!(), ", disabled_at FROM accounts")
    };
}

const EXISTS: &str = "SELECT 1 FROM accounts WHERE id = $1";
const BY_RUT: &str = concat!(read!(), " WHERE rut = $1");
const BY_ID: &str = concat!(read!(), " WHERE id = $1");
const BY_EMAIL_VERIFICATION: &str = concat!(read!(), " WHERE email_verify_hash = $1");

/// Disabling ends everything issued before it: `tokens_valid_after` moves to the moment,
/// and a generated CUS still waiting is cancelled (it must not outlive the disabling).
const DISABLE: &str = "UPDATE accounts SET disabled_at = $1, updated_at = $1, \
     tokens_valid_after = $1, pending_cus_hash = NULL, pending_cus_expires = NULL WHERE id = $2";
const ENABLE: &str = "UPDATE accounts SET disabled_at = NULL, updated_at = $1 WHERE id = $2";
/// Consents and refresh tokens go with the account (`ON DELETE CASCADE`).
const DELETE: &str = "DELETE FROM accounts WHERE id = $1";

/// The help desk's searches, each one index lookup (`…_helpdesk.sql` migration).
const BY_EMAIL: &str = concat!(
    read!(),
    " WHERE lower(email) = $1 OR lower(rep_email) = $1 ORDER BY rut LIMIT $2"
);
const BY_CELULAR: &str = concat!(
    read!(),
    " WHERE celular = $1 OR rep_celular = $1 ORDER BY rut LIMIT $2"
);

/// A name prefix is a range of an index in byte order: `[$1, $2)`, read in index order so
/// the limit stops the scan. PostgreSQL says "byte order" with `COLLATE "C"` (the index is
/// built so); SQLite compares bytes already.
macro_rules! prefix {
    ($column:literal, $collate:literal) => {
        concat!(
            read!(),
            " WHERE lower(",
            $column,
            ")",
            $collate,
            " >= $1 AND lower(",
            $column,
            ")",
            $collate,
            " < $2 ORDER BY lower(",
            $column,
            ")",
            $collate,
            " LIMIT $3"
        )
    };
}

const BY_APELLIDO_PREFIX: &str = if BINARY_ORDER {
    prefix!("apellido_paterno", "")
} else {
    prefix!("apellido_paterno", " COLLATE \"C\"")
};
const BY_NOMBRES_PREFIX: &str = if BINARY_ORDER {
    prefix!("nombres", "")
} else {
    prefix!("nombres", " COLLATE \"C\"")
};

/// Binds every field a write sets, `$1` to `$30` in `fields!` order: the one list both
/// the insert and the update use, so a new column cannot be saved by one and not the other.
pub(super) fn bind_fields<'q>(query: Query<'q>, a: &Account, c: &Credentials) -> Query<'q> {
    let rep = a.representante.as_ref();
    bind_contact(query, a)
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

/// Binds a person's own contact data, in the order of `nombres` … `codigo_comuna` in
/// [`COLUMNS`]: the part of an account that an update of contact data (an import with
/// `--update`) writes too, so both write the same columns the same way.
pub(super) fn bind_contact<'q>(query: Query<'q>, a: &Account) -> Query<'q> {
    let address = a.address.as_ref();
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
}

impl Backend {
    /// Disables or enables account `id` (`statement`: [`DISABLE`] or [`ENABLE`]) with the
    /// change's token revocation, notices and audit event, in one transaction; `false`
    /// when there is no such account.
    async fn switch(
        &self,
        statement: &'static str,
        id: AccountId,
        at: time::OffsetDateTime,
        change: Change<'_>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(statement)
            .bind(at)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        if let Some(revoke_at) = change.revoke_tokens_at {
            refresh_tokens::revoke_account(&mut *tx, id, revoke_at).await?;
        }
        record(&mut tx, change).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[async_trait]
impl crate::Accounts for Backend {
    async fn create_account(&self, new: &NewAccount, change: Change<'_>) -> Result<()> {
        let a = &new.account;
        let mut tx = self.writer.begin().await?;
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
        let mut tx = self.writer.begin().await?;
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

    async fn disable_account(
        &self,
        id: AccountId,
        at: time::OffsetDateTime,
        change: Change<'_>,
    ) -> Result<bool> {
        self.switch(DISABLE, id, at, change).await
    }

    async fn enable_account(
        &self,
        id: AccountId,
        at: time::OffsetDateTime,
        change: Change<'_>,
    ) -> Result<bool> {
        self.switch(ENABLE, id, at, change).await
    }

    async fn delete_account(&self, id: AccountId, change: Change<'_>) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(DELETE).bind(id.0).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        record(&mut tx, change).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn find_accounts(&self, search: &AccountSearch, limit: u32) -> Result<Vec<Account>> {
        let limit = i64::from(limit.max(1));
        let rows = match search {
            AccountSearch::Email(email) => {
                sqlx::query_as::<_, AccountRow>(BY_EMAIL)
                    .bind(email.to_lowercase())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            AccountSearch::Celular(celular) => {
                sqlx::query_as::<_, AccountRow>(BY_CELULAR)
                    .bind(celular)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            AccountSearch::NamePrefix(prefix) => {
                let from = prefix.to_lowercase();
                let Some(until) = after_prefix(&from) else {
                    return Ok(Vec::new());
                };
                let mut rows = Vec::new();
                for sql in [BY_APELLIDO_PREFIX, BY_NOMBRES_PREFIX] {
                    rows.extend(
                        sqlx::query_as::<_, AccountRow>(sql)
                            .bind(&from)
                            .bind(&until)
                            .bind(limit)
                            .fetch_all(&self.pool)
                            .await?,
                    );
                }
                rows
            }
        };
        let mut accounts = rows
            .into_iter()
            .map(|row| row.into_domain().map(|(account, _)| account))
            .collect::<Result<Vec<_>>>()?;
        accounts.sort_by_key(|a| a.rut.compact());
        accounts.dedup_by_key(|a| a.id);
        accounts.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(accounts)
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

/// The first string after every string that starts with `prefix`, in byte (code point)
/// order: the prefix with its last character moved one on. `None` for an empty prefix
/// (which would be the whole table).
fn after_prefix(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::after_prefix;

    #[test]
    fn a_prefix_range_ends_just_after_its_last_character() {
        assert_eq!(after_prefix("gon").as_deref(), Some("goo"));
        assert_eq!(after_prefix("mu\u{f1}").as_deref(), Some("mu\u{f2}"));
        assert_eq!(after_prefix("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(after_prefix(""), None);
    }
}
