//! Opens each backend for one test: a fresh SQLite file, or a fresh PostgreSQL database.

use std::sync::Arc;

use cus_store::{Store, testing};

async fn open(url: String) -> Arc<dyn Store> {
    let store = cus_store::connect(&url, 4).await.expect("open store");
    store.migrate().await.expect("migrate");
    store
}

pub async fn sqlite() -> Arc<dyn Store> {
    open(testing::fresh_sqlite_url()).await
}

pub async fn postgres() -> Arc<dyn Store> {
    open(testing::fresh_postgres_url().await).await
}
