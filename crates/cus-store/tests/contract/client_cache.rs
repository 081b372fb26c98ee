//! Each node keeps the clients it read in memory: a change is seen at once by the node
//! that wrote it and within a second by every other one (`client_cache`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use cus_core::audit::AuditKind;
use cus_core::{Client, ClientId};
use cus_store::{Change, Store};

use super::{audit, backends, client};

macro_rules! two_nodes {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (a, b) = super::backends::two_nodes(false).await;
                super::$name(a, b).await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (a, b) = super::backends::two_nodes(true).await;
                super::$name(a, b).await
            })*
        }
    };
}

two_nodes!(
    a_node_sees_its_own_client_changes_at_once,
    another_nodes_client_changes_reach_a_node_that_kept_the_client,
);

async fn read(store: &dyn Store, id: &ClientId) -> Option<Client> {
    store.client(id).await.expect("read client")
}

async fn save(store: &dyn Store, client: &Client) {
    store
        .update_client(
            client,
            Change::audited(&audit(AuditKind::ClientChanged, &client.client_id.0)),
        )
        .await
        .expect("updated");
}

/// Polls `node` until it reads what `wanted` says, for at most `within` (plus slack for a
/// loaded machine); the time it took.
async fn seen(
    node: &dyn Store,
    id: &ClientId,
    wanted: impl Fn(Option<Client>) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        if wanted(read(node, id).await) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the change was not seen within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_node_sees_its_own_client_changes_at_once(a: Arc<dyn Store>, _b: Arc<dyn Store>) {
    let c = client("portal-cache-a");
    let id = c.client_id.clone();
    assert_eq!(read(a.as_ref(), &id).await, None, "unknown before");
    a.create_client(
        &c,
        Change::audited(&audit(AuditKind::ClientCreated, "portal-cache-a")),
    )
    .await
    .expect("created");
    assert_eq!(
        read(a.as_ref(), &id).await,
        Some(c.clone()),
        "an unknown id is not remembered as unknown"
    );
    let mut disabled = c.clone();
    disabled.enabled = false;
    save(a.as_ref(), &disabled).await;
    assert_eq!(read(a.as_ref(), &id).await, Some(disabled));
    let deleted = a
        .delete_client(
            &id,
            Change::audited(&audit(AuditKind::ClientChanged, "portal-cache-a")),
        )
        .await
        .expect("deleted");
    assert!(deleted);
    assert_eq!(read(a.as_ref(), &id).await, None);
}

async fn another_nodes_client_changes_reach_a_node_that_kept_the_client(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let c = client("portal-cache-b");
    let id = c.client_id.clone();
    b.create_client(
        &c,
        Change::audited(&audit(AuditKind::ClientCreated, "portal-cache-b")),
    )
    .await
    .expect("created");
    assert_eq!(read(a.as_ref(), &id).await, Some(c.clone()));

    // Disabled on b: a, which keeps the enabled client, follows.
    let mut disabled = c.clone();
    disabled.enabled = false;
    save(b.as_ref(), &disabled).await;
    seen(a.as_ref(), &id, |read| read.is_some_and(|c| !c.enabled)).await;
    // Once seen, a keeps answering the new state (it is not flickering back).
    for _ in 0..5 {
        assert_eq!(read(a.as_ref(), &id).await, Some(disabled.clone()));
    }

    // Deleted on b: a stops knowing it.
    b.delete_client(
        &id,
        Change::audited(&audit(AuditKind::ClientChanged, "portal-cache-b")),
    )
    .await
    .expect("deleted");
    seen(a.as_ref(), &id, |read| read.is_none()).await;
}
