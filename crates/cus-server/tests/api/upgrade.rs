//! Rolling upgrade: nodes are replaced one at a time, so the previous release's `cus`
//! (deploy/previous-release, built from git history by scripts/previous-release) must keep
//! serving on this release's schema, beside nodes of this release, sharing every session,
//! code and token with them. Migrations are expand-only for one release to allow it.

use std::path::{Path, PathBuf};
use std::process::Command;

use secrecy::ExposeSecret;
use serde_json::Value;

use crate::helpers::natural::{CUS, RUT};
use crate::helpers::node::{Node, register_at};
use crate::helpers::oidc::{authorize_url, code_of};
use crate::helpers::{Backend, TestApp, test_config};

/// The previous release's binary: `PREVIOUS_RELEASE_CUS` (scripts/test builds it
/// first), or built here by the same script.
fn previous_release() -> PathBuf {
    if let Some(binary) = std::env::var_os("PREVIOUS_RELEASE_CUS") {
        return binary.into();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/previous-release");
    let built = Command::new(script)
        .output()
        .expect("scripts/previous-release runs");
    assert!(
        built.status.success(),
        "the previous release could not be built:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    String::from_utf8(built.stdout)
        .expect("a path")
        .trim()
        .into()
}

/// `binary migrate [args]` on `database`; its output.
fn migrate(binary: &Path, database: &str, args: &[&str]) -> String {
    let out = Command::new(binary)
        .arg("migrate")
        .args(args)
        .env_remove("RUST_LOG")
        .env("CUS_DATABASE__URL", database)
        .output()
        .expect("cus migrate runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} migrate {args:?}: {}{}",
        binary.display(),
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_release_keeps_serving_on_this_schema_beside_this_one() {
    let previous = previous_release();
    // One public address for every node, as behind a load balancer: tokens name it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut config = test_config(Backend::Production).await;
    config.server.listen = format!("127.0.0.1:{port}").parse().expect("address");
    config.server.issuer = format!("http://127.0.0.1:{port}");
    let database = config.database.url.expose_secret().to_owned();

    // Before: the previous release, on its own schema.
    migrate(&previous, &database, &[]);
    let old = Node::start(&previous, &config, &config.server.issuer, &[]).await;

    // The upgrade: this release's migrations, while the old node serves; then a node of
    // this release beside it.
    crate::helpers::migrate(&config).await;
    let app = TestApp::spawn_with(config).await;
    assert!(
        migrate(&previous, &database, &["--status"]).contains("every migration is applied"),
        "the previous release sees nothing of its own pending on the newer schema"
    );

    // The old node still writes: a registration through its form, signed in on the new.
    register_at(&app, &old.base, RUT).await;
    let client = app.client(false, true).await;
    let browser = app.browser();
    let start = authorize_url(&app, &client.id, &[("scope", "openid profile email")]);
    let callback = app.browse_to_callback(&browser, &start, RUT, CUS).await;

    // A code from the new node is redeemed at the old one; the old one's tokens are read
    // and refreshed at the new one.
    let tokens = old.redeem(&client, &code_of(&callback)).await;
    let access = tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"));
    let (status, claims) = crate::helpers::oidc::userinfo(&app, access).await;
    assert_eq!(status, 200, "{claims}");
    assert_eq!(claims["email"], crate::helpers::node::email_of(RUT));
    let refreshed: Value = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                tokens["refresh_token"].as_str().expect("rt"),
            ),
        ])
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    assert!(refreshed["access_token"].is_string(), "{refreshed}");

    // And the new node's tokens at the old one.
    let new_access = refreshed["access_token"].as_str().expect("access token");
    let at_old = app
        .http
        .get(old.url("/userinfo"))
        .bearer_auth(new_access)
        .send()
        .await
        .expect("userinfo at the old node");
    assert_eq!(at_old.status(), 200);

    // A restarted old node (a rollback, or a node that crashed mid-upgrade) starts on the
    // newer schema.
    drop(old);
    let restarted = Node::start(&previous, &app.config, &app.base, &[]).await;
    let discovery = app
        .http
        .get(restarted.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery");
    assert_eq!(discovery.status(), 200);
}
