//! The `cus` binary run by the CLI tests, each test in a temporary folder of its own.

use std::path::Path;
use std::process::Command;

/// One test's `cus`: it runs in a temporary folder of its own, so the embedded defaults
/// (`data/cus.db`, the development KEK) never leak from one run or test into another, and
/// the folder goes when the test ends.
pub struct Cli {
    dir: tempfile::TempDir,
}

/// The OS login name `cus` sees in tests.
pub const OS_USER: &str = "mesa-de-ayuda";

impl Cli {
    pub fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("cus-cli-")
                .tempdir()
                .expect("a temporary folder"),
        }
    }

    /// The test's folder, for its files.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The binary, in the test's folder.
    pub fn cus(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cus"));
        cmd.current_dir(self.path());
        cmd.env_remove("RUST_LOG");
        // The operator a change is audited as, when a test gives no --operator.
        cmd.env("USER", OS_USER).env_remove("LOGNAME");
        cmd
    }

    /// `cus` pointed at a SQLite store and KEK in the test's folder, with cheap hashes; the
    /// store is created first (`cus migrate --create`) if it does not exist yet.
    pub fn with_store(&self) -> Command {
        if !self.path().join("cus.db").exists() {
            let created = self.on_store().args(["migrate", "--create"]).output();
            let created = created.expect("runs");
            assert!(
                created.status.success(),
                "{}",
                String::from_utf8_lossy(&created.stderr)
            );
        }
        self.on_store()
    }

    fn on_store(&self) -> Command {
        let mut cmd = self.cus();
        cmd.env(
            "CUS_DATABASE__URL",
            format!("sqlite://{}", self.path().join("cus.db").display()),
        )
        .env("CUS_KEYS__DEV_KEK_PATH", self.path().join("kek"))
        .env("CUS_HASH__MEMORY_KIB", "1024")
        .env("CUS_HASH__ITERATIONS", "1");
        cmd
    }

    /// `cus` with a production configuration every production check accepts, on
    /// `database` and `cache`.
    pub fn production(&self, database: &str, cache: &str) -> Command {
        let mut cmd = self.cus();
        cmd.env("CUS_ENVIRONMENT", "production")
            .env("CUS_DATABASE__URL", database)
            .env("CUS_CACHE__URL", cache)
            .env("CUS_SERVER__ISSUER", "https://autenticacion.sence.cl")
            .env("CUS_OUTBOX__ALLOW_FILES", "true")
            .env(
                "CUS_KEYS__KEK",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            );
        cmd
    }
}
