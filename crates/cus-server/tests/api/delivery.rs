//! Delivery through real protocols: an SMTP conversation with lettre, and the SMS webhook;
//! failures stay in the outbox for a retry.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::helpers::{Backend, TestApp, test_config};

/// A minimal SMTP server that accepts every message and keeps its DATA.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            store
                                .lock()
                                .expect("lock")
                                .push(data.take().unwrap_or_default());
                            let _ = write.write_all(b"250 queued\r\n").await;
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (port, received)
}

/// An SMS gateway that answers `status` and keeps what it was sent.
async fn sms_gateway(status: StatusCode) -> (u16, Arc<Mutex<Vec<serde_json::Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    let app = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |Json(body): Json<serde_json::Value>| {
            let store = store.clone();
            async move {
                store.lock().expect("lock").push(body);
                status
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, received)
}

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
