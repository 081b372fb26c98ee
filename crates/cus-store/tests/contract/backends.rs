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

/// Two handles on one fresh database, as two nodes (or a node and the CLI) have.
pub async fn two_nodes(postgres: bool) -> (Arc<dyn Store>, Arc<dyn Store>) {
    let url = if postgres {
        testing::fresh_postgres_url().await
    } else {
        testing::fresh_sqlite_url()
    };
    let first = open(url.clone()).await;
    let second = cus_store::connect(&url, 4).await.expect("open store");
    (first, second)
}
