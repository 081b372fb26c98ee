//! `cus audit` read a page at a time (newest first, `--after` the last id printed) while
//! events keep coming, its filters, its JSON lines; and the retention purge of the worker.

use std::collections::HashSet;

use cus_core::audit::{AuditEvent, AuditKind};
use secrecy::ExposeSecret;
use serde_json::Value;
use time::Duration;

use crate::helpers::cli::Cli;
use crate::helpers::{Backend, TestApp, on_both_backends};

on_both_backends!(
    paging_with_after_gives_every_event_once_newest_first_while_events_arrive,
    kind_and_until_filter_and_bad_kinds_are_refused,
    the_worker_purges_what_retention_no_longer_keeps,
);

/// `cus audit <args>` on `app`'s database: each JSON line, after checking it succeeded.
fn audit(cli: &Cli, app: &TestApp, args: &[&str]) -> Vec<Value> {
    let out = cli
        .cus()
        .arg("audit")
        .args(args)
        .env("CUS_DATABASE__URL", app.config.database.url.expose_secret())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

async fn append(app: &TestApp, kind: AuditKind, subject: &str, ago: Duration) {
    let at = app.state.clock.now() - ago;
    app.state
        .store
        .append_audit(&AuditEvent::new(kind, at, Some(subject.to_owned())))
        .await
        .expect("append");
}

async fn paging_with_after_gives_every_event_once_newest_first_while_events_arrive(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let cli = Cli::new();
    for i in 0..25 {
        append(
            &app,
            AuditKind::LoginSucceeded,
            &format!("page-{i}"),
            Duration::ZERO,
        )
        .await;
    }
    let mut seen: Vec<i64> = Vec::new();
    let mut subjects = HashSet::new();
    let mut after: Option<i64> = None;
    loop {
        let mut args = vec!["--json".to_owned(), "--limit".to_owned(), "10".to_owned()];
        if let Some(id) = after {
            args.extend(["--after".to_owned(), id.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let page = audit(&cli, &app, &args);
        if page.is_empty() {
            break;
        }
        for event in &page {
            seen.push(event["id"].as_i64().expect("an id"));
            assert!(event["at"].is_string() && event["kind"] == "login_succeeded");
            subjects.insert(event["subject"].as_str().expect("subject").to_owned());
        }
        after = seen.last().copied();
        // Between pages the trail keeps growing: nothing moves under the cursor.
        append(&app, AuditKind::Logout, "arrived-later", Duration::ZERO).await;
    }
    assert_eq!(seen.len(), 25, "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );
    assert_eq!(subjects.len(), 25, "each event exactly once");
    assert!(!subjects.contains("arrived-later"));
    // A fresh first page starts with what arrived meanwhile.
    let first = audit(&cli, &app, &["--json", "--limit", "1"]);
    assert_eq!(first[0]["subject"], "arrived-later");
}

async fn kind_and_until_filter_and_bad_kinds_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cli = Cli::new();
    append(
        &app,
        AuditKind::LoginFailed,
        "12345678-5",
        Duration::days(3),
    )
    .await;
    append(
        &app,
        AuditKind::LoginLocked,
        "12345678-5",
        Duration::days(2),
    )
    .await;
    append(
        &app,
        AuditKind::LoginSucceeded,
        "12345678-5",
        Duration::ZERO,
    )
    .await;
    let kinds = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let failures = audit(
        &cli,
        &app,
        &[
            "--json",
            "--rut",
            "12.345.678-5",
            "--kind",
            "login_failed",
            "--kind",
            "login_locked",
        ],
    );
    assert_eq!(kinds(&failures), ["login_locked", "login_failed"]);
    let yesterday = (app.state.clock.now() - Duration::days(1))
        .date()
        .to_string();
    let before = audit(&cli, &app, &["--json", "--until", &yesterday]);
    assert_eq!(kinds(&before), ["login_locked", "login_failed"]);
    let text = cli
        .cus()
        .args(["audit", "--kind", "login_succeeded"])
        .env("CUS_DATABASE__URL", app.config.database.url.expose_secret())
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("login_succeeded") && text.contains("12345678-5"),
        "{text}"
    );

    let bad = cli
        .cus()
        .args(["audit", "--kind", "login_hacked"])
        .env("CUS_DATABASE__URL", app.config.database.url.expose_secret())
        .output()
        .expect("runs");
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("not an audit kind") && err.contains("login_failed"),
        "{err}"
    );
}

async fn the_worker_purges_what_retention_no_longer_keeps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let keep = i64::from(app.config.audit.keep_days);
    // More old events than one batch: the round goes on until none is left.
    let old = usize::try_from(cus_server::retention::BATCH).expect("small") + 5;
    for i in 0..old {
        append(
            &app,
            AuditKind::LoginSucceeded,
            &format!("old-{i}"),
            Duration::days(keep + 1),
        )
        .await;
    }
    append(
        &app,
        AuditKind::LoginSucceeded,
        "recent",
        Duration::days(keep - 1),
    )
    .await;

    let now = app.state.clock.now();
    let mut old_message = cus_server::lifecycle::messages::data_updated("a@example.cl", "Ana", now);
    old_message.created_at = now - Duration::days(i64::from(app.config.outbox.keep_days) + 1);
    let recent_message = cus_server::lifecycle::messages::data_updated("b@example.cl", "Bea", now);
    let waiting = {
        let mut m = cus_server::lifecycle::messages::data_updated("c@example.cl", "Cata", now);
        m.created_at = old_message.created_at;
        m
    };
    app.state
        .store
        .queue_notifications(&[old_message.clone(), recent_message.clone(), waiting.clone()])
        .await
        .expect("queued");
    app.state
        .store
        .mark_sent(old_message.id, now)
        .await
        .expect("sent");
    app.state
        .store
        .mark_sent(recent_message.id, now)
        .await
        .expect("sent");

    let account = app.account().await;
    let client = app.client(false, false).await;
    let token = |hash: &str, expires_at| cus_store::RefreshToken {
        token_hash: hash.into(),
        family_id: uuid::Uuid::now_v7(),
        account_id: account.id,
        client_id: cus_core::ClientId(client.id.clone()),
        grant_json: "{}".into(),
        created_at: now - Duration::days(40),
        expires_at,
        rotated_at: None,
        revoked_at: None,
    };
    let store = &app.state.store;
    store
        .insert_refresh_token(&token("expired", now - Duration::hours(1)))
        .await
        .expect("insert");
    store
        .insert_refresh_token(&token("live", now + Duration::hours(1)))
        .await
        .expect("insert");

    let purged = cus_server::retention::purge_due(&app.state)
        .await
        .expect("purged");
    assert_eq!(purged.audit_events, u64::try_from(old).expect("small"));
    assert_eq!(purged.messages, 1);
    assert_eq!(purged.refresh_tokens, 1);

    let left = store
        .audit_events(&cus_store::AuditFilter {
            limit: 5000,
            ..Default::default()
        })
        .await
        .expect("read");
    assert!(left.iter().any(|e| e.subject.as_deref() == Some("recent")));
    assert!(
        !left
            .iter()
            .any(|e| e.subject.as_deref().is_some_and(|s| s.starts_with("old-")))
    );
    let messages: HashSet<uuid::Uuid> = store
        .deliveries(None, 10)
        .await
        .expect("read")
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(messages, HashSet::from([recent_message.id, waiting.id]));
    assert!(
        store
            .refresh_token("expired")
            .await
            .expect("read")
            .is_none()
    );
    assert!(store.refresh_token("live").await.expect("read").is_some());
    // A second round (another node's) finds nothing left to do.
    let again = cus_server::retention::purge_due(&app.state)
        .await
        .expect("purged");
    assert_eq!(again, cus_server::retention::Purged::default());
}
