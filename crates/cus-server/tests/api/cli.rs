//! The `cus` binary itself: configuration output and start-up failures.

use std::process::Command;

fn cus() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cus"));
    cmd.current_dir(std::env::temp_dir());
    cmd.env_remove("RUST_LOG");
    cmd
}

#[test]
fn config_check_prints_effective_values_with_secrets_masked() {
    let out = cus()
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
    assert!(text.contains("postgres://cus:********@db.example:5432/cus"));
    assert!(text.contains("redis://cache.example:6379"));
    assert!(!text.contains("hunter2"));
    assert!(!text.contains("c2VjcmV0"));
    assert!(text.contains("kek = \"********\""));
}

#[test]
fn secrets_can_come_from_files() {
    let path = std::env::temp_dir().join(format!("cus-kek-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, "ZmlsZS1zZWNyZXQ=\n").expect("write");
    let out = cus()
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
    for (var, value, expect) in [
        (
            "CUS_DATABASE__URL",
            "mysql://x",
            "database.url must start with",
        ),
        ("CUS_CACHE__URL", "memcached://x", "cache.url must be"),
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
        let out = cus()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env(var, value)
            .env("CUS_DATABASE__URL_FALLBACK", "")
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

#[test]
fn production_refuses_test_only_settings() {
    let out = cus()
        .args(["config", "check"])
        .env("CUS_ENVIRONMENT", "production")
        .env("CUS_KEYS__KEK", "a2V5")
        .env("CUS_CAPTCHA__TEST_ANSWER", "abc")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("captcha.test_answer"));
}
