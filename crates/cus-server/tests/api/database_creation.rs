//! No command creates a database unless told: `cus migrate --create`, or `cus serve` in
//! development (the embedded default needs no set-up).

use crate::helpers::cli::Cli;

/// Every command but `cus serve` refuses a missing SQLite file, on one line saying how to
/// create it, and leaves no file behind; `cus migrate --create` creates it.
#[test]
fn only_migrate_create_makes_a_missing_sqlite_database() {
    let cli = Cli::new();
    let file = cli.path().join("mistyped").join("cus.db");
    let url = format!("sqlite://{}", file.display());
    let run = |args: &[&str]| {
        cli.cus()
            .args(args)
            .env("CUS_DATABASE__URL", &url)
            .env("CUS_KEYS__DEV_KEK_PATH", cli.path().join("kek"))
            .output()
            .expect("runs")
    };
    for args in [
        &["migrate"][..],
        &["migrate", "--status"],
        &["keys", "list"],
        &["keys", "rotate"],
        &["outbox"],
        &["audit"],
    ] {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} must refuse");
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("cus: error:"))
            .collect();
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(
            lines[0].contains(&format!("no database at {}", file.display()))
                && lines[0].contains("cus migrate --create"),
            "{args:?}: {err}"
        );
        assert!(!file.exists(), "{args:?} created {}", file.display());
    }

    let created = run(&["migrate", "--create"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(file.exists());
    let listed = run(&["outbox"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
}

/// With nothing configured, `cus serve` creates `data/cus.db` itself: zero set-up.
#[test]
fn serve_in_development_creates_the_embedded_database() {
    let cli = Cli::new();
    let mut server = cli
        .cus()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("CUS_OUTBOX__DIR", cli.path().join("outbox"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let file = cli.path().join("data").join("cus.db");
    let mut created = false;
    for _ in 0..100 {
        if file.exists() {
            created = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(created, "cus serve created {}", file.display());
}
