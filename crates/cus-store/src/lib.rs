//! Durable CUS state behind small traits, with one SQLite and one PostgreSQL
//! implementation sharing the same SQL (see `sql/mod.rs`) and proven equal by one contract
//! test suite (`tests/contract`).

mod change;
mod client_cache;
mod error;
mod import;
mod model;
mod postgres;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use async_trait::async_trait;
use cus_core::audit::AuditEvent;
use cus_core::notification::Notification;
use cus_core::{Account, AccountId, Client, ClientId, NewAccount, Rut};
use time::OffsetDateTime;
use uuid::Uuid;

pub use change::Change;
pub use error::StoreError;
pub use import::{ImportBatch, ImportCounts};
pub use model::{
    AccountSearch, AuditFilter, AuditRecord, Backlog, Consent, DeliveryStatus, PoolUsage,
    RefreshToken, SigningKey, StoredNotification,
};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Accounts and their secrets.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Creates the account together with the change's notices and audit event, atomically
    /// (a new account has no tokens to revoke). A RUT that already exists is
    /// [`StoreError::AlreadyExists`].
    async fn create_account(&self, account: &NewAccount, change: Change<'_>) -> Result<()>;
    async fn account_by_rut(&self, rut: &Rut) -> Result<Option<(Account, cus_core::Credentials)>>;
    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>>;
    /// Saves every mutable field of an account and its credentials, with the change's
    /// notices and audit event, atomically. The change's `revoke_tokens_at` also revokes
    /// the person's refresh tokens (a CUS change). A write that is not a CUS change
    /// (`None`) applies only while the account's `tokens_valid_after` is still the one it
    /// carries, i.e. no CUS change happened since it was read; otherwise nothing is
    /// written and the answer is [`StoreError::Conflict`]: a stale copy must never put an
    /// old CUS back.
    async fn update_account(
        &self,
        account: &Account,
        credentials: &cus_core::Credentials,
        change: Change<'_>,
    ) -> Result<()>;
    /// The help desk disables an account at `at`: its `disabled_at` and `tokens_valid_after`
    /// become `at` (every session and access token from before ends), a generated CUS still
    /// waiting is cancelled, the change's
    /// `revoke_tokens_at` revokes its refresh tokens, and the change's notices and audit
    /// event are written, all in one transaction. `false`, and nothing written, if the
    /// account does not exist.
    async fn disable_account(
        &self,
        id: AccountId,
        at: OffsetDateTime,
        change: Change<'_>,
    ) -> Result<bool>;
    /// Clears `disabled_at` (what ended while disabled stays ended), with the change's
    /// notices and audit event; `false`, and nothing written, if the account does not exist.
    async fn enable_account(
        &self,
        id: AccountId,
        at: OffsetDateTime,
        change: Change<'_>,
    ) -> Result<bool>;
    /// Deletes the account with its consents and refresh tokens, and writes the change's
    /// notices and audit event (the trail keeps the RUT: events name it, not the row);
    /// `false`, and nothing written, if it does not exist.
    async fn delete_account(&self, id: AccountId, change: Change<'_>) -> Result<bool>;
    /// The help desk's search: at most `limit` accounts, ordered by RUT, each search one
    /// index lookup or range however many accounts there are.
    async fn find_accounts(&self, search: &AccountSearch, limit: u32) -> Result<Vec<Account>>;
    /// The account whose pending e-mail verification token has this hash.
    async fn account_by_email_verification(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Account, cus_core::Credentials)>>;
}

/// Accounts brought over from the previous system (`cus account import`).
#[async_trait]
pub trait AccountImports: Send + Sync {
    /// Writes a batch of imported accounts in one transaction, with multi-row statements:
    /// each new RUT is created with its `created` event; a RUT that already has an account
    /// is left as it is, or with `update` gets the contact data of the import (never its
    /// secrets) and its `updated` event. Idempotent: the same batch again creates nothing.
    /// The RUTs within a batch must be distinct.
    async fn import_accounts(&self, batch: ImportBatch<'_>) -> Result<ImportCounts>;

    /// Writes a batch of synthetic accounts for load tests (`cus account seed`) in one
    /// transaction, with the import's multi-row statements but no audit event per account
    /// (the seed run writes one). A RUT that already has an account is skipped, so a
    /// rerun is idempotent; the number created. The RUTs within a batch must be distinct.
    async fn seed_accounts(&self, accounts: &[NewAccount]) -> Result<u64>;
}

/// Registered relying parties.
#[async_trait]
pub trait Clients: Send + Sync {
    /// Registers a client with the change's notices and audit event, atomically. A
    /// client id that already exists is [`StoreError::AlreadyExists`].
    async fn create_client(&self, client: &Client, change: Change<'_>) -> Result<()>;
    /// Saves every mutable field of a client, with the change's notices and audit event,
    /// atomically.
    async fn update_client(&self, client: &Client, change: Change<'_>) -> Result<()>;
    /// Deletes a client (its consents and refresh tokens go with it) and writes the change's
    /// notices and audit event with it; `false`, and nothing written, if unknown.
    async fn delete_client(&self, id: &ClientId, change: Change<'_>) -> Result<bool>;
    /// A client, from this node's memory once read: a change written through this handle
    /// is seen at once, one written elsewhere (another node, the CLI) within a second
    /// (`client_cache`). Unknown ids are never kept.
    async fn client(&self, id: &ClientId) -> Result<Option<Client>>;
    /// Stores the hash of an initial access token for dynamic registration (RFC 7591 §3).
    async fn insert_initial_access_token(
        &self,
        token_hash: &str,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()>;
    async fn initial_access_token_valid(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool>;
    async fn list_clients(&self) -> Result<Vec<Client>>;
}

/// Signing keys, private parts sealed by the caller.
#[async_trait]
pub trait SigningKeys: Send + Sync {
    async fn insert_key(&self, key: &SigningKey) -> Result<()>;
    async fn keys(&self) -> Result<Vec<SigningKey>>;
    /// Marks every key with `alg` other than `kid` as retired at `at`.
    async fn retire_keys_except(&self, alg: &str, kid: &str, at: OffsetDateTime) -> Result<u64>;
    async fn delete_key(&self, kid: &str) -> Result<bool>;
    /// A KEK change: replaces the sealed private part of each key in `keys` (kid, sealed)
    /// and the sealed body of each undelivered message in `messages` (id, body), all in one
    /// transaction, so the store never holds some secrets under the old KEK and some under
    /// the new one. An unknown kid is [`StoreError::NotFound`] and nothing is written; a
    /// message delivered meanwhile (its body already dropped) is left as it is.
    async fn reseal(&self, keys: &[(String, String)], messages: &[(Uuid, String)]) -> Result<()>;
}

/// The append-only audit trail.
#[async_trait]
pub trait Audit: Send + Sync {
    async fn append_audit(&self, event: &AuditEvent) -> Result<()>;
    /// The events `filter` selects, newest first, with their ids (the cursor of the next
    /// page: its `before_id`).
    async fn audit_page(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>>;
    /// The events of [`Audit::audit_page`], oldest first and without ids: the newest
    /// `limit` of them in the order they happened.
    async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>> {
        let mut page = self.audit_page(filter).await?;
        page.reverse();
        Ok(page.into_iter().map(|record| record.event).collect())
    }
    /// Retention: deletes at most `batch` of the oldest events from before `before`;
    /// how many went. Called until it deletes fewer than `batch`, so no statement holds
    /// the table long.
    async fn purge_audit(&self, before: OffsetDateTime, batch: u32) -> Result<u64>;
}

/// The durable notification outbox.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Queues notifications that go with no other change, all or none.
    async fn queue_notifications(&self, notifications: &[Notification]) -> Result<()>;
    /// The newest `limit` messages (to `recipient`, if given), delivered or not, for
    /// operators: no bodies.
    async fn deliveries(&self, recipient: Option<&str>, limit: u32) -> Result<Vec<DeliveryStatus>>;
    /// The undelivered messages per channel, how many and since when: the backlog an
    /// operator alerts on. Reads only waiting rows (the `outbox_pending` index).
    async fn outbox_backlog(&self) -> Result<Vec<Backlog>>;
    /// Every undelivered notification (for inspection and tests).
    async fn pending_notifications(&self, limit: u32) -> Result<Vec<StoredNotification>>;
    /// Leases up to `limit` due notifications to the caller for `lease`.
    async fn claim_notifications(
        &self,
        limit: u32,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Vec<StoredNotification>>;
    /// Records the delivery and drops the body.
    async fn mark_sent(&self, id: Uuid, at: OffsetDateTime) -> Result<()>;
    /// Gives up on a notification (too old to be worth sending): never claimed again, its
    /// body dropped, `reason` kept as its last error.
    async fn mark_abandoned(&self, id: Uuid, at: OffsetDateTime, reason: &str) -> Result<()>;
    /// Records a failed attempt; the notification is due again at `retry_at`.
    async fn mark_failed(&self, id: Uuid, error: &str, retry_at: OffsetDateTime) -> Result<()>;
    /// Retention: deletes at most `batch` delivered or abandoned messages queued before
    /// `before` (never a waiting one); how many went.
    async fn purge_outbox(&self, before: OffsetDateTime, batch: u32) -> Result<u64>;
}

/// Consent decisions per person and client.
#[async_trait]
pub trait Consents: Send + Sync {
    async fn consent(&self, account: AccountId, client: &ClientId) -> Result<Option<Consent>>;
    /// Records (or widens) a consent with the change's notices and audit event, in one
    /// transaction: no consent without its trail, no trail of a consent that failed.
    async fn grant_consent(&self, consent: &Consent, change: Change<'_>) -> Result<()>;
    /// Deletes the consent and, in the same transaction, revokes every refresh token the
    /// person's login gave that client: a withdrawn consent releases nothing more. The
    /// tokens are revoked at the change's `revoke_tokens_at`, or at its audit event's time
    /// when that is `None` (a withdrawal never leaves them live). The change's notices and
    /// audit event are written only when there was a consent; `false` when there was none.
    async fn withdraw_consent(
        &self,
        account: AccountId,
        client: &ClientId,
        change: Change<'_>,
    ) -> Result<bool>;
    /// Every consent a person gave, oldest first.
    async fn consents_of(&self, account: AccountId) -> Result<Vec<Consent>>;
}

/// Refresh tokens, stored by hash, grouped in rotation families.
#[async_trait]
pub trait RefreshTokens: Send + Sync {
    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<()>;
    async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshToken>>;
    /// Marks the token rotated if it was not already; `false` when another request won.
    async fn rotate_refresh_token(&self, token_hash: &str, at: OffsetDateTime) -> Result<bool>;
    async fn revoke_refresh_family(&self, family: Uuid, at: OffsetDateTime) -> Result<u64>;
    async fn revoke_account_refresh_tokens(
        &self,
        account: AccountId,
        at: OffsetDateTime,
    ) -> Result<u64>;
    /// The person's tokens still usable at `now` (neither rotated, revoked nor expired),
    /// newest first: the grants a personal-data export lists.
    async fn live_refresh_tokens_of(
        &self,
        account: AccountId,
        now: OffsetDateTime,
    ) -> Result<Vec<RefreshToken>>;
    /// Retention: deletes at most `batch` tokens that expired before `before`; how many
    /// went.
    async fn purge_expired_refresh_tokens(&self, before: OffsetDateTime, batch: u32)
    -> Result<u64>;
}

/// Everything durable. Implemented by [`SqliteStore`] and [`PgStore`].
#[async_trait]
pub trait Store:
    Accounts
    + AccountImports
    + Clients
    + SigningKeys
    + Audit
    + Outbox
    + Consents
    + RefreshTokens
    + Send
    + Sync
{
    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> Result<()>;
    /// Applies this release's pending migrations. Migrations a newer release already
    /// applied are left alone, so an older node keeps working on a newer schema during a
    /// rolling upgrade (migrations are additive for one release).
    async fn migrate(&self) -> Result<()>;
    /// This release's migrations the database has not applied, as `version description`,
    /// oldest first.
    async fn pending_migrations(&self) -> Result<Vec<String>>;
    /// Short backend name for logs: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// How many connections the pool holds and how many of them are idle.
    fn pool_usage(&self) -> PoolUsage;
}

/// The SQLite file `url` names, when it does not exist yet; `None` for PostgreSQL (CUS never
/// creates a PostgreSQL database: connecting to a missing one fails) and for a file that
/// exists.
pub fn missing_sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    url.starts_with("sqlite:")
        .then(|| sqlite::missing_file(url))
        .flatten()
}

/// Opens the store a `database.url` names: `sqlite://…` or `postgres://…`.
pub async fn connect(url: &str, max_connections: u32) -> Result<std::sync::Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(
            SqliteStore::connect(url, max_connections).await?,
        ))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(
            PgStore::connect(url, max_connections).await?,
        ))
    } else {
        Err(StoreError::Config(
            "database.url must start with sqlite:// or postgres://".to_owned(),
        ))
    }
}
