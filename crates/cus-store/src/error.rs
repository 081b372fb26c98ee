//! Store errors: the few outcomes callers decide on, and the rest as "unavailable".

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key (RUT, client id, kid) is taken.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The row changed since it was read in a way this write may not undo (a CUS change
    /// since the account was read): nothing was written.
    #[error("{0} changed meanwhile")]
    Conflict(&'static str),
    #[error("invalid database configuration: {0}")]
    Config(String),
    /// A row that does not map back to the domain (should never happen: a bug or tampering).
    #[error("corrupt {0} row: {1}")]
    Corrupt(&'static str, String),
    #[error("database unavailable: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Maps a unique violation to [`StoreError::AlreadyExists`], anything else to `Database`.
    pub(crate) fn on_insert(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |err| {
            if let sqlx::Error::Database(db) = &err
                && db.is_unique_violation()
            {
                return StoreError::AlreadyExists(what);
            }
            StoreError::Database(err)
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::Database(err)
    }
}
