//! Delivery through real protocols: an SMTP conversation with lettre, and the SMS webhook;
//! failures stay in the outbox for a retry.

use axum::http::StatusCode;

use crate::helpers::fakes::{sms_gateway, smtp_sink};
use crate::helpers::{Backend, TestApp, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_and_webhook_deliver_and_failures_are_retried() {
    let (smtp_port, mails) = smtp_sink().await;
    let (ok_port, sms) = sms_gateway(StatusCode::OK).await;
    let gateway = sms.clone();
    let mut config = test_config(Backend::Embedded).await;
    config.outbox.smtp_url = format!("smtp://127.0.0.1:{smtp_port}").into();
    config.outbox.sms_webhook_url = format!("http://127.0.0.1:{ok_port}/sms").into();
    let app = TestApp::spawn_with(config.clone()).await;
    app.account().await;
    queue_messages(&app).await;

    assert_eq!(app.deliver_with(&config.outbox).await, 2);
    let mails = mails.lock().expect("lock").clone();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("To: maria@example.cl"));
    assert!(mails[0].contains("Subject: =?utf-8?") || mails[0].contains("Subject: Sus datos"));
    assert!(mails[0].contains("multipart/alternative"));
    let sms = sms.lock().expect("lock").clone();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0]["to"], "+56912345678");
    assert!(app.pending().await.is_empty());

    // A sealed message (a generated CUS) is opened only to be sent.
    let now = app.state.clock.now();
    let secret_sms = cus_server::lifecycle::messages::generated_sms(
        "+56912345678",
        "CUSGENERADA2345",
        now,
        &app.state.message_key,
    )
    .expect("sealed");
    assert!(!secret_sms.body.contains("CUSGENERADA2345"));
    app.state
        .store
        .queue_notifications(&[secret_sms])
        .await
        .expect("queued");
    assert_eq!(app.deliver_with(&config.outbox).await, 1);
    let sent = gateway.lock().expect("lock").last().cloned().expect("sms");
    assert!(
        sent["body"]
            .as_str()
            .is_some_and(|b| b.contains("CUSGENERADA2345"))
    );

    // A message that waited longer than outbox.give_up_hours is abandoned, not sent.
    let late = cus_server::lifecycle::messages::registered_sms("+56912345678", now);
    app.state
        .store
        .queue_notifications(&[late])
        .await
        .expect("queued");
    app.clock.advance(49 * 3600);
    let before = gateway.lock().expect("lock").len();
    assert_eq!(app.deliver_with(&config.outbox).await, 0);
    assert_eq!(gateway.lock().expect("lock").len(), before, "not sent");
    assert!(app.pending().await.is_empty(), "and not tried again");

    // A gateway that fails: the SMS stays pending, with its attempt counted.
    let (bad_port, _) = sms_gateway(StatusCode::INTERNAL_SERVER_ERROR).await;
    let mut failing = config.outbox.clone();
    failing.sms_webhook_url = format!("http://127.0.0.1:{bad_port}/sms").into();
    queue_messages(&app).await;
    assert_eq!(app.deliver_with(&failing).await, 1, "the e-mail went");
    let pending = app.pending().await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].attempts, 1);
    // Not due again until its backoff passed.
    assert_eq!(app.deliver_with(&failing).await, 0);
}

/// Queues an e-mail and an SMS for the test account, as a data update would.
async fn queue_messages(app: &TestApp) {
    let rut = cus_core::Rut::parse(crate::helpers::RUT).expect("rut");
    let (account, credentials) = app
        .state
        .store
        .account_by_rut(&rut)
        .await
        .expect("read")
        .expect("present");
    let now = app.state.clock.now();
    let event = cus_core::audit::AuditEvent::new(
        cus_core::audit::AuditKind::DataUpdated,
        now,
        Some(rut.compact()),
    );
    let messages = [
        cus_server::lifecycle::messages::data_updated(&account.email, "María", now),
        cus_server::lifecycle::messages::registered_sms("+56912345678", now),
    ];
    app.state
        .store
        .update_account(
            &account,
            &credentials,
            cus_store::Change::audited(&event).with_notices(&messages),
        )
        .await
        .expect("queued");
}
