//! The audit trail read a page at a time, and the retention purges of the worker.

use std::sync::Arc;

use cus_core::audit::{AuditEvent, AuditKind};
use cus_store::{AuditFilter, Change, RefreshToken, Store};
use time::Duration;
use uuid::Uuid;

use super::{audit, backends, client, created, notification, now};

contract!(
    audit_pages_run_newest_first_by_id_cursor,
    audit_pages_filter_by_kind_and_time,
    old_audit_events_are_purged_in_batches,
    only_old_finished_messages_are_purged,
    only_expired_refresh_tokens_are_purged,
    live_refresh_tokens_of_a_person_are_listed,
);

fn at(kind: AuditKind, subject: &str, when: time::OffsetDateTime) -> AuditEvent {
    AuditEvent::new(kind, when, Some(subject.to_owned()))
}

async fn audit_pages_run_newest_first_by_id_cursor(store: Arc<dyn Store>) {
    for i in 0..7 {
        let kind = if i % 2 == 0 {
            AuditKind::LoginSucceeded
        } else {
            AuditKind::LoginFailed
        };
        store
            .append_audit(&audit(kind, &format!("1111111{i}-1")))
            .await
            .expect("append");
    }
    let page = |before_id| AuditFilter {
        before_id,
        limit: 3,
        ..AuditFilter::default()
    };
    let first = store.audit_page(&page(None)).await.expect("read");
    assert_eq!(first.len(), 3);
    assert_eq!(
        first[0].event.subject.as_deref(),
        Some("11111116-1"),
        "newest first"
    );
    assert!(first.windows(2).all(|w| w[0].id > w[1].id));
    // An event added between pages does not shift the next page.
    store
        .append_audit(&audit(AuditKind::Logout, "99999999-9"))
        .await
        .expect("append");
    let mut seen: Vec<i64> = first.iter().map(|r| r.id).collect();
    let mut cursor = first.last().map(|r| r.id);
    loop {
        let next = store.audit_page(&page(cursor)).await.expect("read");
        if next.is_empty() {
            break;
        }
        seen.extend(next.iter().map(|r| r.id));
        cursor = next.last().map(|r| r.id);
    }
    assert_eq!(seen.len(), 7, "each of the first seven exactly once");
    assert!(seen.windows(2).all(|w| w[0] > w[1]));
    // The compatibility reader: the same events, oldest first.
    let all = store
        .audit_events(&AuditFilter::default())
        .await
        .expect("read");
    assert_eq!(all.len(), 8);
    assert_eq!(all[0].subject.as_deref(), Some("11111110-1"));
    assert_eq!(all[7].kind, AuditKind::Logout);
}

async fn audit_pages_filter_by_kind_and_time(store: Arc<dyn Store>) {
    let t0 = now();
    let events = [
        at(
            AuditKind::LoginSucceeded,
            "22222222-2",
            t0 - Duration::days(3),
        ),
        at(AuditKind::LoginFailed, "22222222-2", t0 - Duration::days(2)),
        at(AuditKind::CusChanged, "22222222-2", t0 - Duration::days(1)),
        at(AuditKind::LoginSucceeded, "33333333-3", t0),
    ];
    for e in &events {
        store.append_audit(e).await.expect("append");
    }
    let read = |filter: AuditFilter| {
        let store = store.clone();
        async move {
            store
                .audit_page(&filter)
                .await
                .expect("read")
                .into_iter()
                .map(|r| r.event)
                .collect::<Vec<_>>()
        }
    };
    let logins = read(AuditFilter {
        kinds: vec![AuditKind::LoginSucceeded, AuditKind::LoginFailed],
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        logins,
        [events[3].clone(), events[1].clone(), events[0].clone()]
    );
    let window = read(AuditFilter {
        since: Some(t0 - Duration::days(2)),
        until: Some(t0 - Duration::days(1)),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        window,
        [events[1].clone()],
        "since inclusive, until exclusive"
    );
    let one = read(AuditFilter {
        subject: Some("22222222-2".into()),
        kinds: vec![AuditKind::LoginSucceeded],
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(one, [events[0].clone()]);
}

async fn old_audit_events_are_purged_in_batches(store: Arc<dyn Store>) {
    let t0 = now();
    for i in 0..5 {
        store
            .append_audit(&at(
                AuditKind::LoginSucceeded,
                "44444444-4",
                t0 - Duration::days(800 + i),
            ))
            .await
            .expect("append");
    }
    let recent = at(
        AuditKind::LoginSucceeded,
        "44444444-4",
        t0 - Duration::days(10),
    );
    store.append_audit(&recent).await.expect("append");
    let cutoff = t0 - Duration::days(730);
    assert_eq!(store.purge_audit(cutoff, 2).await.expect("purge"), 2);
    assert_eq!(store.purge_audit(cutoff, 2).await.expect("purge"), 2);
    assert_eq!(store.purge_audit(cutoff, 2).await.expect("purge"), 1);
    assert_eq!(store.purge_audit(cutoff, 2).await.expect("purge"), 0);
    let left = store
        .audit_events(&AuditFilter::default())
        .await
        .expect("read");
    assert_eq!(left, [recent]);
}

async fn only_old_finished_messages_are_purged(store: Arc<dyn Store>) {
    let t0 = now();
    let old = |to: &str| {
        let mut n = notification(to);
        n.created_at = t0 - Duration::days(40);
        n
    };
    let (sent, abandoned, waiting) = (
        old("a@example.cl"),
        old("b@example.cl"),
        old("c@example.cl"),
    );
    let fresh_sent = notification("d@example.cl");
    store
        .queue_notifications(&[
            sent.clone(),
            abandoned.clone(),
            waiting.clone(),
            fresh_sent.clone(),
        ])
        .await
        .expect("queued");
    store.mark_sent(sent.id, t0).await.expect("sent");
    store.mark_sent(fresh_sent.id, t0).await.expect("sent");
    store
        .mark_abandoned(abandoned.id, t0, "too old")
        .await
        .expect("abandoned");
    let cutoff = t0 - Duration::days(30);
    assert_eq!(store.purge_outbox(cutoff, 1).await.expect("purge"), 1);
    assert_eq!(store.purge_outbox(cutoff, 10).await.expect("purge"), 1);
    assert_eq!(store.purge_outbox(cutoff, 10).await.expect("purge"), 0);
    let mut left: Vec<Uuid> = store
        .deliveries(None, 10)
        .await
        .expect("read")
        .into_iter()
        .map(|d| d.id)
        .collect();
    left.sort();
    let mut expected = vec![waiting.id, fresh_sent.id];
    expected.sort();
    assert_eq!(left, expected, "a waiting message stays, however old");
}

async fn refresh_tokens_fixture(store: &Arc<dyn Store>) -> (cus_core::AccountId, RefreshToken) {
    let new = created(store.as_ref(), "55.555.555-5").await;
    let c = client("portal-r");
    store
        .create_client(
            &c,
            Change::audited(&audit(AuditKind::ClientCreated, "portal-r")),
        )
        .await
        .expect("created");
    let token = RefreshToken {
        token_hash: String::new(),
        family_id: Uuid::now_v7(),
        account_id: new.account.id,
        client_id: c.client_id,
        grant_json: "{}".into(),
        created_at: now(),
        expires_at: now() + Duration::days(1),
        rotated_at: None,
        revoked_at: None,
    };
    (new.account.id, token)
}

async fn only_expired_refresh_tokens_are_purged(store: Arc<dyn Store>) {
    let (_, token) = refresh_tokens_fixture(&store).await;
    let t0 = now();
    for i in 0..3 {
        let expired = RefreshToken {
            token_hash: format!("expired-{i}"),
            expires_at: t0 - Duration::hours(1),
            ..token.clone()
        };
        store.insert_refresh_token(&expired).await.expect("insert");
    }
    let live = RefreshToken {
        token_hash: "live".into(),
        ..token
    };
    store.insert_refresh_token(&live).await.expect("insert");
    assert_eq!(
        store
            .purge_expired_refresh_tokens(t0, 2)
            .await
            .expect("purge"),
        2
    );
    assert_eq!(
        store
            .purge_expired_refresh_tokens(t0, 2)
            .await
            .expect("purge"),
        1
    );
    assert_eq!(
        store
            .purge_expired_refresh_tokens(t0, 2)
            .await
            .expect("purge"),
        0
    );
    assert!(
        store
            .refresh_token("expired-0")
            .await
            .expect("read")
            .is_none()
    );
    assert_eq!(store.refresh_token("live").await.expect("read"), Some(live));
}

async fn live_refresh_tokens_of_a_person_are_listed(store: Arc<dyn Store>) {
    let (account, token) = refresh_tokens_fixture(&store).await;
    let t0 = now();
    let with = |hash: &str| RefreshToken {
        token_hash: hash.into(),
        ..token.clone()
    };
    let live = with("live");
    let rotated = with("rotated");
    let revoked = RefreshToken {
        revoked_at: Some(t0),
        ..with("revoked")
    };
    let expired = RefreshToken {
        expires_at: t0 - Duration::seconds(1),
        ..with("expired")
    };
    for t in [&live, &rotated, &revoked, &expired] {
        store.insert_refresh_token(t).await.expect("insert");
    }
    assert!(
        store
            .rotate_refresh_token("rotated", t0)
            .await
            .expect("rotate")
    );
    let listed = store
        .live_refresh_tokens_of(account, t0)
        .await
        .expect("read");
    assert_eq!(listed, [live]);
    let stranger = cus_core::AccountId(Uuid::now_v7());
    assert!(
        store
            .live_refresh_tokens_of(stranger, t0)
            .await
            .expect("read")
            .is_empty()
    );
}
