//! A KEK change (`cus keys rewrap`) and keys the KEK cannot open: listed, left out, and
//! never a reason for a node with usable keys to refuse to start.

use secrecy::ExposeSecret;
use serde_json::json;

use crate::helpers::cli::Cli;
use crate::helpers::{Backend, TestApp};

const NEW_KEK: &str = "bm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm4=";
const OTHER_KEK: &str = "b29vb29vb29vb29vb29vb29vb29vb29vb29vb29vb28=";

/// `cus keys <args>` on `app`'s database and development KEK (`kek` instead, when given):
/// its standard output, after checking it succeeded.
fn keys(cli: &Cli, app: &TestApp, kek: Option<&str>, args: &[&str]) -> String {
    let mut cmd = cli.cus();
    cmd.arg("keys")
        .args(args)
        .env("CUS_DATABASE__URL", app.config.database.url.expose_secret())
        .env("CUS_KEYS__DEV_KEK_PATH", &app.config.keys.dev_kek_path);
    if let Some(kek) = kek {
        cmd.env("CUS_KEYS__KEK", kek);
    }
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn lines_with(text: &str, word: &str) -> usize {
    text.lines().filter(|l| l.contains(word)).count()
}

/// After a rewrap the keys and the waiting generated CUS open only under the new KEK: a
/// node started with it signs, verifies the tokens signed before, and delivers the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrap_moves_keys_and_waiting_messages_to_the_new_kek() {
    let cli = Cli::new();
    let app = TestApp::spawn(Backend::Embedded).await;
    let now = app.state.clock.now();
    let before = app
        .state
        .keys
        .sign("ES256", "JWT", &json!({"sub": "antes"}), now)
        .expect("signed");
    let waiting = cus_server::lifecycle::messages::generated_sms(
        "+56912345678",
        "CUSSECRETA2345",
        now,
        &app.state.message_key,
    )
    .expect("sealed");
    app.state
        .store
        .queue_notifications(&[waiting])
        .await
        .expect("queued");
    let file = cli.path().join("new-kek");
    std::fs::write(&file, format!("{NEW_KEK}\n")).expect("file");

    let done = keys(
        &cli,
        &app,
        None,
        &["rewrap", "--new-kek-file", file.to_str().expect("utf-8")],
    );
    assert!(
        done.contains("resealed 3 key(s) and 1 waiting message(s)"),
        "{done}"
    );
    assert!(!done.contains(NEW_KEK), "no KEK in the output");
    let listed = keys(&cli, &app, None, &["list"]);
    assert_eq!(lines_with(&listed, "UNUSABLE"), 3, "the old KEK: {listed}");
    let listed = keys(&cli, &app, Some(NEW_KEK), &["list"]);
    assert_eq!(lines_with(&listed, "usable"), 3, "{listed}");
    assert_eq!(lines_with(&listed, "UNUSABLE"), 0, "{listed}");

    let mut config = app.config.clone();
    config.keys.kek = NEW_KEK.to_owned().into();
    let moved = TestApp::spawn_with(config).await;
    let (claims, _) = moved.state.keys.verify(&before).expect("verifies");
    assert_eq!(claims["sub"], "antes");
    let after = moved
        .state
        .keys
        .sign("RS256", "JWT", &json!({"sub": "después"}), now)
        .expect("signs");
    assert!(moved.state.keys.verify(&after).is_ok());
    assert_eq!(
        moved.deliver_with(&moved.config.outbox).await,
        1,
        "the generated CUS opens under the new KEK"
    );
}

/// A key sealed under another KEK is listed as unusable and left out; the node starts and
/// signs with the usable ones. Only a node without any usable key of an algorithm refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_under_another_kek_is_listed_unusable_and_does_not_stop_a_node() {
    let cli = Cli::new();
    let app = TestApp::spawn(Backend::Embedded).await;
    let file = cli.path().join("other-kek");
    std::fs::write(&file, OTHER_KEK).expect("file");
    let other = cus_server::secrets::Kek::from_file(&file).expect("kek");
    let strays = cus_server::keys::rotate(
        app.state.store.as_ref(),
        &other,
        app.state.clock.now(),
        time::Duration::ZERO,
    )
    .await
    .expect("rotated");

    let listed = keys(&cli, &app, None, &["list"]);
    for kid in &strays {
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with(kid.as_str()) && l.contains("UNUSABLE")),
            "{kid}: {listed}"
        );
    }
    assert_eq!(lines_with(&listed, "usable"), 3, "{listed}");

    let restarted = TestApp::spawn_with(app.config.clone()).await;
    let now = restarted.state.clock.now();
    let token = restarted
        .state
        .keys
        .sign("EdDSA", "JWT", &json!({"sub": "x"}), now)
        .expect("signs with a usable key");
    let kid = crate::helpers::oidc::kid(&token);
    assert!(!strays.contains(&kid), "not with {kid}");

    let mut config = app.config.clone();
    config.keys.kek = NEW_KEK.to_owned().into();
    let refused =
        cus_server::startup::Application::build(cus_server::config::Config::clone(&config))
            .await
            .err()
            .expect("no usable key: refused");
    let message = format!("{refused:#}");
    assert!(message.contains("no usable RS256 signing key"), "{message}");
    assert!(!message.contains(NEW_KEK), "{message}");
}
