//! The `cus` binary itself: configuration output and start-up failures.

use crate::helpers::cli::Cli;

#[test]
fn config_check_prints_effective_values_with_secrets_masked() {
    let cli = Cli::new();
    let out = cli
        .cus()
        .args(["config", "check"])
        .env(
            "CUS_DATABASE__URL",
            "postgres://cus:hunter2@db.example:5432/cus",
        )
        .env(
            "CUS_KEYS__KEK",
            "c2VjcmV0LWtleS1lbmNyeXB0aW9uLWtleS0zMmJ5dGVz",
        )
        .env("CUS_CACHE__URL", "redis://cache.example:6379")
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("postgres://********:********@db.example:5432/cus"));
    assert!(text.contains("redis://cache.example:6379"));
    assert!(!text.contains("hunter2"));
    assert!(!text.contains("c2VjcmV0"));
    assert!(text.contains("kek = \"********\""));
}

#[test]
fn secrets_can_come_from_files() {
    let cli = Cli::new();
    let path = cli.path().join("kek-file");
    std::fs::write(&path, "ZmlsZS1zZWNyZXQ=\n").expect("write");
    let out = cli
        .cus()
        .args(["config", "check"])
        .env("CUS_KEYS__KEK_FILE", &path)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("kek = \"********\""));
    assert!(!text.contains("ZmlsZS1zZWNyZXQ"));
}

#[test]
fn bad_configuration_fails_with_one_line_and_no_panic() {
    let cli = Cli::new();
    for (var, value, expect) in [
        (
            "CUS_DATABASE__URL",
            "mysql://x",
            "database.url must start with",
        ),
        ("CUS_CACHE__URL", "memcached://x", "cache.url must be"),
        (
            "CUS_SERVER__TRUSTED_PROXIES",
            "[\"10.0.0.0/33\"]",
            "\"10.0.0.0/33\" is neither an IP address nor a CIDR range",
        ),
        (
            "CUS_SERVER__LISTEN",
            "not-an-address",
            "invalid configuration",
        ),
        (
            "CUS_DATABASE__URL",
            "postgres://cus:pw@127.0.0.1:1/cus",
            "cannot open the database",
        ),
    ] {
        let out = cli
            .cus()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env(var, value)
            .output()
            .expect("runs");
        assert!(!out.status.success(), "{var}={value} must fail");
        let err = String::from_utf8(out.stderr).expect("utf-8");
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("cus: error:"))
            .collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(lines[0].contains(expect), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!err.contains(":pw@"), "no password in errors: {err}");
    }
}

/// Production refuses, one line each, everything only the embedded or test set-up may use.
#[test]
fn production_names_every_unsafe_setting() {
    let cli = Cli::new();
    let out = cli
        .cus()
        .args(["config", "check"])
        .env("CUS_ENVIRONMENT", "production")
        .env("CUS_CAPTCHA__TEST_ANSWER", "abc")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "database.url:",
        "cache.url:",
        "server.issuer:",
        "outbox.smtp_url:",
        "outbox.sms_webhook_url:",
        "keys.kek:",
        "captcha.test_answer:",
    ] {
        assert_eq!(
            err.lines()
                .filter(|l| l.trim_start().starts_with(key))
                .count(),
            1,
            "{key}: {err}"
        );
    }
}

/// The same check passes a production configuration, and `outbox.allow_files` makes the
/// file outbox a choice.
#[test]
fn production_accepts_shared_backends_and_https() {
    let cli = Cli::new();
    let out = cli
        .production(
            "postgres://cus@db.example:5432/cus",
            "redis://cache.example:6379",
        )
        .args(["config", "check"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A misspelt setting, in a variable or in a file, stops the program naming it: it never
/// falls back silently to the default.
#[test]
fn a_misspelt_setting_is_an_error() {
    let cli = Cli::new();
    let out = cli
        .cus()
        .args(["config", "check"])
        .env("CUS_LIMITS__FORM_PER_IPP__MAX", "5")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("form_per_ipp"), "{err}");

    let file = cli.path().join("cus.toml");
    std::fs::write(&file, "[lockout]\ncaptcha_afer = 5\n").expect("file");
    let out = cli
        .cus()
        .args(["--config", file.to_str().expect("utf-8"), "config", "check"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("captcha_afer"), "{err}");
}

#[test]
fn client_create_prints_the_secret_once_and_refuses_bad_uris() {
    let cli = Cli::new();
    let out = cli
        .with_store()
        .args([
            "client",
            "create",
            "--name",
            "Portal",
            "--redirect-uri",
            "https://portal.sence.cl/cb",
            "--json",
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        created["client_id"]
            .as_str()
            .expect("id")
            .starts_with("cus-")
    );
    assert_eq!(created["client_secret"].as_str().expect("secret").len(), 43);

    let bad = cli
        .with_store()
        .args([
            "client",
            "create",
            "--name",
            "Portal",
            "--redirect-uri",
            "http://portal.sence.cl/cb",
        ])
        .output()
        .expect("runs");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("must use https"));

    let public = cli
        .with_store()
        .args([
            "client",
            "create",
            "--name",
            "App",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1:5000/cb",
        ])
        .output()
        .expect("runs");
    let text = String::from_utf8(public.stdout).expect("utf-8");
    assert!(
        text.contains("client_id") && text.contains("public") && !text.contains("client_secret")
    );
}

#[test]
fn account_create_reads_the_cus_from_stdin_or_generates_one() {
    use std::io::Write;
    let cli = Cli::new();
    let mut child = cli
        .with_store()
        .args([
            "account",
            "create",
            "--rut",
            "12.345.678-5",
            "--nombres",
            "Ana",
            "--apellidos",
            "Pérez",
            "--email",
            "ana@example.cl",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"una clave larga y propia\n")
        .expect("write");
    let out = child.wait_with_output().expect("waits");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("created for RUT 12.345.678-5"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("una clave larga"));

    let again = cli
        .with_store()
        .args([
            "account",
            "create",
            "--rut",
            "123456785",
            "--nombres",
            "Ana",
            "--apellidos",
            "Pérez",
            "--email",
            "ana@example.cl",
            "--generate",
        ])
        .output()
        .expect("runs");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has an account"));

    let generated = cli
        .with_store()
        .args([
            "account",
            "create",
            "--rut",
            "11.111.111-1",
            "--nombres",
            "Luis",
            "--apellidos",
            "Soto",
            "--email",
            "luis@example.cl",
            "--generate",
        ])
        .output()
        .expect("runs");
    assert!(generated.status.success());
    assert!(String::from_utf8_lossy(&generated.stdout).contains("generated CUS: "));

    let bad_rut = cli
        .with_store()
        .args([
            "account",
            "create",
            "--rut",
            "11.111.111-2",
            "--nombres",
            "X",
            "--apellidos",
            "Y",
            "--email",
            "x@example.cl",
            "--generate",
        ])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&bad_rut.stderr).contains("dígito verificador"));

    // The form's rule, not just an `@`: a domain without a dot is refused before the store.
    let bad_email = cli
        .with_store()
        .args([
            "account",
            "create",
            "--rut",
            "22.222.222-2",
            "--nombres",
            "X",
            "--apellidos",
            "Y",
            "--email",
            "x@localhost",
            "--generate",
        ])
        .output()
        .expect("runs");
    assert!(!bad_email.status.success());
    assert!(String::from_utf8_lossy(&bad_email.stderr).contains("--email: El correo"));
}

#[test]
fn keys_rotate_then_prune_after_tokens_expire() {
    let cli = Cli::new();
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let out = cli
            .with_store()
            .args(args)
            .env("CUS_KEYS__PUBLISH_LEAD_SECONDS", "0")
            .envs(envs.iter().copied())
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    assert!(run(&["keys", "rotate"], &[]).contains("new keys rs256-"));
    assert!(run(&["keys", "rotate"], &[]).contains("es256-"));
    // The first set is retired but its tokens may live 10 more minutes: kept.
    assert!(run(&["keys", "prune"], &[]).contains("pruned 0 key(s)"));
    // With tokens that live no time at all, the retired set goes; the current one stays.
    let zero = [
        ("CUS_OIDC__ACCESS_TOKEN_TTL", "0"),
        ("CUS_OIDC__ID_TOKEN_TTL", "0"),
    ];
    assert!(run(&["keys", "prune"], &zero).contains("pruned 3 key(s)"));
    assert!(run(&["keys", "prune"], &zero).contains("pruned 0 key(s)"));
}

#[test]
fn every_client_command_works_and_bad_input_changes_nothing() {
    let cli = Cli::new();
    let run = |args: &[&str]| {
        let out = cli.with_store().args(args).output().expect("runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(&[
        "client",
        "create",
        "--name",
        "Portal",
        "--client-id",
        "portal",
        "--redirect-uri",
        "https://portal.sence.cl/cb",
        "--first-party",
        "--contact",
        "dev@sence.cl",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("client_secret") && out.contains("first_party    true"));
    let (ok, _, err) = run(&[
        "client",
        "create",
        "--name",
        "Otro",
        "--client-id",
        "portal",
        "--redirect-uri",
        "https://x.sence.cl/cb",
    ]);
    assert!(
        !ok && err.contains("already_exists"),
        "duplicate client id: {err}"
    );
    let (ok, _, err) = run(&[
        "client",
        "create",
        "--name",
        "Malo",
        "--redirect-uri",
        "https://x.sence.cl/cb",
        "--grant-type",
        "implicit",
    ]);
    assert!(!ok && err.contains("unknown grant type implicit"), "{err}");

    let (_, out, _) = run(&["client", "list"]);
    assert!(out.contains("portal") && out.contains("Portal") && out.lines().count() == 2);
    let (_, out, _) = run(&["client", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert!(
        !out.contains("secret_hash") && !out.contains("sha256$"),
        "no secret material"
    );

    let (ok, out, _) = run(&[
        "client",
        "update",
        "portal",
        "--name",
        "Portal Nuevo",
        "--redirect-uri",
        "https://nuevo.sence.cl/cb",
        "--json",
    ]);
    assert!(ok);
    let shown: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(shown["client_name"], "Portal Nuevo");
    assert_eq!(
        shown["redirect_uris"],
        serde_json::json!(["https://nuevo.sence.cl/cb"])
    );
    assert_eq!(
        shown["contacts"],
        serde_json::json!(["dev@sence.cl"]),
        "untouched fields stay"
    );
    let (ok, _, err) = run(&[
        "client",
        "update",
        "portal",
        "--redirect-uri",
        "https://nuevo.sence.cl/cb#frag",
    ]);
    assert!(!ok && err.contains("invalid_redirect_uri"), "{err}");
    let (_, out, _) = run(&["client", "show", "portal", "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        shown["redirect_uris"],
        serde_json::json!(["https://nuevo.sence.cl/cb"]),
        "a refused update changed nothing"
    );

    let (ok, out, _) = run(&[
        "client",
        "rotate-secret",
        "portal",
        "--overlap",
        "1h",
        "--json",
    ]);
    assert!(ok);
    let rotated: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(rotated["client_secret"].as_str().map(str::len), Some(43));
    assert!(rotated["previous_secret_expires_at"].is_i64());

    assert!(
        run(&["client", "disable", "portal"])
            .1
            .contains("portal disabled")
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&run(&["client", "show", "portal", "--json"]).1)
            .expect("json")["enabled"],
        false
    );
    assert!(
        run(&["client", "enable", "portal"])
            .1
            .contains("portal enabled")
    );
    assert!(
        run(&["client", "delete", "portal"])
            .1
            .contains("portal deleted")
    );
    let (ok, _, err) = run(&["client", "show", "portal"]);
    assert!(!ok && err.contains("not_found"));
    let (ok, _, err) = run(&["client", "delete", "portal"]);
    assert!(!ok && err.contains("not_found"));

    let (ok, out, _) = run(&["registration-token", "create", "--expires", "2h"]);
    assert!(ok && out.contains("initial access token"));
    let (ok, _, err) = run(&["registration-token", "create", "--expires", "soon"]);
    assert!(!ok && err.contains("not a duration"));
}

#[test]
fn audit_prints_the_trail_of_a_rut() {
    let cli = Cli::new();
    let create = cli
        .with_store()
        .args([
            "account",
            "create",
            "--rut",
            "12.345.678-5",
            "--nombres",
            "Ana",
            "--apellidos",
            "Pérez",
            "--email",
            "ana@example.cl",
            "--generate",
            "--operator",
            "jperez",
        ])
        .output()
        .expect("runs");
    assert!(create.status.success());
    let out = cli
        .with_store()
        .args(["audit", "--rut", "12345678-5", "--since", "2026-01-01"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.contains("account_created") && text.contains("12345678-5"),
        "{text}"
    );
    assert!(
        text.contains("by=cli:jperez"),
        "the operator is named: {text}"
    );
    let later = cli
        .with_store()
        .args(["audit", "--rut", "12345678-5", "--since", "2999-01-01"])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&later.stdout).trim().is_empty());
    let bad = cli
        .with_store()
        .args(["audit", "--since", "ayer"])
        .output()
        .expect("runs");
    assert!(
        !bad.status.success()
            && String::from_utf8_lossy(&bad.stderr).contains("--since")
            && String::from_utf8_lossy(&bad.stderr).contains("must be a date")
    );
}

/// `cus outbox` tells an operator where each message went and how its delivery went —
/// never its text, not even of a generated CUS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_shows_delivery_states_never_texts() {
    use secrecy::ExposeSecret;

    let cli = Cli::new();
    let app = crate::helpers::TestApp::spawn(crate::helpers::Backend::Embedded).await;
    let now = app.state.clock.now();
    let messages = [
        cus_server::lifecycle::messages::data_updated("maria@example.cl", "María", now),
        cus_server::lifecycle::messages::generated_sms(
            "+56912345678",
            "CUSSECRETA2345",
            now,
            &app.state.message_key,
        )
        .expect("sealed"),
    ];
    app.state
        .store
        .queue_notifications(&messages)
        .await
        .expect("queued");
    let database = app.config.database.url.expose_secret().to_owned();
    let outbox = |args: &[&str]| {
        let out = cli
            .cus()
            .arg("outbox")
            .args(args)
            .env("CUS_DATABASE__URL", &database)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };

    let mine = outbox(&["--to", "maria@example.cl"]);
    assert_eq!(mine.lines().count(), 1, "{mine}");
    assert!(mine.contains("email") && mine.contains("pending") && mine.contains("Sus datos"));
    assert_eq!(app.deliver_with(&app.config.outbox).await, 2);
    let all = outbox(&[]);
    assert_eq!(
        all.lines().filter(|l| l.contains(" sent ")).count(),
        2,
        "{all}"
    );
    let json = outbox(&["--json"]);
    for text in [&mine, &all, &json] {
        assert!(!text.contains("CUSSECRETA2345") && !text.contains("Hola"));
    }
    let first: serde_json::Value =
        serde_json::from_str(json.lines().next().expect("a line")).expect("json");
    assert!(
        first["state"]
            .as_str()
            .is_some_and(|s| s.starts_with("sent "))
    );
}

/// After SIGTERM a plain-HTTP node gives in-flight requests `server.shutdown_grace_seconds`
/// and then exits, even when a client never finishes its request (here: headers sent
/// half-way, as a stuck or hostile client would). It also logs one `info` line per request,
/// with the route template, status and latency, and no colour codes into a pipe.
#[test]
fn sigterm_exits_after_the_grace_period_even_with_a_stuck_client() {
    use std::io::{BufRead, BufReader, Write};
    let cli = Cli::new();
    let mut server = cli
        .with_store()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("CUS_SERVER__SHUTDOWN_GRACE_SECONDS", "1")
        .env("CUS_OUTBOX__DIR", cli.path().join("outbox"))
        .env("CUS_LOG__LEVEL", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let address = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let at = line.find("http://")?;
            let rest = &line[at + 7..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == ':'))
                .unwrap_or(rest.len());
            Some(rest[..end].to_owned())
        })
        .expect("the listening address is logged");
    let mut ok = std::net::TcpStream::connect(&address).expect("connects");
    ok.write_all(b"GET /healthz HTTP/1.1\r\nHost: cus\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut ok, &mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let access = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.contains("/healthz") && line.contains("status=200"))
        .expect("an access log line");
    assert!(
        access.contains("INFO") && access.contains("latency"),
        "{access}"
    );
    assert!(
        !access.contains('\u{1b}'),
        "no colour codes into a pipe: {access}"
    );

    let mut stuck = std::net::TcpStream::connect(&address).expect("connects");
    stuck
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: cus\r\n")
        .expect("half a request");
    let asked = std::time::Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let exited = loop {
        if let Some(status) = server.try_wait().expect("wait") {
            break status;
        }
        if asked.elapsed() > std::time::Duration::from_secs(15) {
            let _ = server.kill();
            panic!("still running 15 s after SIGTERM with a 1 s grace period");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(exited.success(), "{exited}");
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(6),
        "exited {:?} after SIGTERM",
        asked.elapsed()
    );
    drop(stuck);
}

/// In production only `cus migrate` changes the schema: `cus serve` (and every other
/// command) refuses a database with pending migrations, naming them; `cus migrate
/// --status` lists them and changes nothing; `cus migrate` applies them.
#[tokio::test]
async fn production_serves_only_a_migrated_database() {
    let cli = Cli::new();
    let database = cus_store::testing::fresh_postgres_url().await;
    let production = |args: &[&str]| {
        cli.production(&database, &crate::helpers::redis_url())
            .args(args)
            .output()
            .expect("runs")
    };
    let refused = production(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("pending migration") && err.contains("cus migrate"),
        "{err}"
    );

    let status = production(&["migrate", "--status"]);
    assert!(status.status.success());
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(out.contains("pending: 20261125000001 initial"), "{out}");
    let still = production(&["migrate", "--status"]);
    assert_eq!(still.stdout, status.stdout, "--status changes nothing");

    let applied = production(&["migrate"]);
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let status = production(&["migrate", "--status"]);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("every migration is applied"),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
}

/// A change is audited as the `--operator` given, else as the OS login name; with neither,
/// the command refuses to change anything rather than record nobody.
#[test]
fn changes_are_audited_as_the_operator_or_refused_without_one() {
    let cli = Cli::new();
    let create = |rut: &str| {
        let mut cmd = cli.with_store();
        cmd.args([
            "account",
            "create",
            "--rut",
            rut,
            "--nombres",
            "Ana",
            "--apellidos",
            "Pérez",
            "--email",
            "ana@example.cl",
            "--generate",
        ]);
        cmd
    };
    let by_os_user = create("12.345.678-5").output().expect("runs");
    assert!(by_os_user.status.success());

    let nobody = create("11.111.111-1")
        .env_remove("USER")
        .env_remove("LOGNAME")
        .output()
        .expect("runs");
    assert!(!nobody.status.success());
    assert!(
        String::from_utf8_lossy(&nobody.stderr).contains("--operator NAME"),
        "{}",
        String::from_utf8_lossy(&nobody.stderr)
    );
    let listed = cli
        .with_store()
        .env_remove("USER")
        .args(["client", "list"])
        .output()
        .expect("runs");
    assert!(listed.status.success(), "reading needs no operator");

    let trail = cli
        .with_store()
        .args(["audit", "--json"])
        .output()
        .expect("runs");
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&trail.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let created: Vec<_> = events
        .iter()
        .filter(|e| e["kind"] == "account_created")
        .map(|e| (e["subject"].as_str(), e["operator"].as_str()))
        .collect();
    let os_operator = format!("cli:{}", crate::helpers::cli::OS_USER);
    assert_eq!(
        created,
        [(Some("12345678-5"), Some(os_operator.as_str()))],
        "one account, by the OS user; none without an operator"
    );
}

/// `cus account seed`: valid accounts that log in with the given CUS, a rerun skips those
/// already there, one audit event per run; refused in production before anything is
/// written.
#[tokio::test]
async fn seed_creates_accounts_idempotently_and_is_refused_in_production() {
    let cli = Cli::new();
    let seed = |count: &str| {
        let out = cli
            .with_store()
            .args(["--operator", "carga", "account", "seed", "--count", count])
            .args([
                "--rut-from",
                "40000000",
                "--password",
                "clave de carga 2026",
            ])
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(seed("1200").contains("seeded 1200 accounts, 0 already there"));
    assert!(seed("1300").contains("seeded 100 accounts, 1200 already there"));

    let store = cus_store::connect(
        &format!("sqlite://{}", cli.path().join("cus.db").display()),
        1,
    )
    .await
    .expect("store");
    let rut = cus_core::Rut::from_body(40_001_299).expect("rut");
    let (account, credentials) = store
        .account_by_rut(&rut)
        .await
        .expect("read")
        .expect("the last account seeded");
    assert_eq!(account.email, "semilla40001299@carga.example.cl");
    let hasher = cus_server::hashing::Hasher::new(&cus_server::config::Hash {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 1,
        max_queue: 1,
    })
    .expect("hasher");
    assert!(
        hasher
            .verify("clave de carga 2026", Some(&credentials.cus_hash))
            .await
            .expect("admitted")
    );
    let events = store
        .audit_events(&cus_store::AuditFilter {
            limit: 10_000,
            ..cus_store::AuditFilter::default()
        })
        .await
        .expect("audit");
    assert_eq!(events.len(), 2, "one event per run");
    assert!(
        events
            .iter()
            .all(|e| e.operator.as_deref() == Some("cli:carga"))
    );

    let database = cus_store::testing::fresh_postgres_url().await;
    let refused = cli
        .production(&database, &crate::helpers::redis_url())
        .args(["--operator", "carga", "account", "seed", "--count", "10"])
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("load tests only") && err.contains("production"),
        "{err}"
    );
}
