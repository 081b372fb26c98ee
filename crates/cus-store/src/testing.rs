//! Fresh, isolated databases for tests against the real backends (this crate's contract
//! suite and the server's integration tests). PostgreSQL comes from `DATABASE_URL`, by
//! default the trust-auth server at 127.0.0.1:5432; without it tests fail loudly, saying
//! how to provide one — they are never skipped.

use sqlx::Executor;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

/// Where PostgreSQL tests connect to create their databases.
pub fn postgres_admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A `sqlite://` URL of a new file in the temporary folder.
pub fn fresh_sqlite_url() -> String {
    let path = std::env::temp_dir().join(format!("cus-test-{}.db", Uuid::new_v4().simple()));
    format!("sqlite://{}", path.display())
}

/// Creates an empty schema named `cus_test_<uuid>` in the `DATABASE_URL` database and
/// returns a URL whose connections use only it (`search_path`). A schema, not a database:
/// creating and dropping databases makes PostgreSQL checkpoint each time, which took
/// minutes for the few hundred a run makes; a schema goes with one cheap
/// `DROP SCHEMA … CASCADE` (`scripts/test` drops them all at the end of a run).
///
/// # Panics
/// When PostgreSQL is unreachable, with instructions to start it.
pub async fn fresh_postgres_url() -> String {
    let admin_url = postgres_admin_url();
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&admin_url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required by the tests and is not reachable at {admin_url}: {e}\n\
                 Start one (e.g. `pg_ctlcluster 15 main start`, or `docker run -d -p 5432:5432 \
                 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16`) or set DATABASE_URL."
            )
        });
    let name = format!("cus_test_{}", Uuid::new_v4().simple());
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
        .await
        .unwrap_or_else(|e| panic!("cannot create test schema {name}: {e}"));
    admin.close().await;
    in_schema(&admin_url, &name)
}

/// `url` with every connection's `search_path` set to `schema` alone.
fn in_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}
