//! `cus account import`, through the real `cus` binary: one account per hash format CUS
//! accepts (each hash made here with the format's reference crate), a bad row of each kind
//! reported with its line, a second run that imports nothing, and a login through the real
//! login page with each imported password, after which the stored hash is argon2id.

use std::collections::BTreeMap;
use std::path::Path;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use cus_core::Rut;
use pbkdf2::password_hash::CustomizedPasswordHasher;
use secrecy::ExposeSecret;

use crate::helpers::browse::login_attempt;
use crate::helpers::cli::Cli;
use crate::helpers::{Backend, TestApp, audit_count, on_both_backends};

on_both_backends!(imported_accounts_log_in_with_their_old_passwords);

const HEADER: [&str; 24] = [
    "rut",
    "tipo",
    "nombres",
    "apellido_paterno",
    "apellido_materno",
    "razon_social",
    "giro",
    "email",
    "celular",
    "telefono_particular",
    "calle",
    "numero",
    "departamento",
    "comuna",
    "pregunta",
    "respuesta",
    "respuesta_hash",
    "cus_hash",
    "rep_rut",
    "rep_nombres",
    "rep_apellidos",
    "rep_email",
    "rep_celular",
    "email_verificado",
];

const SALT: &[u8] = b"sal-de-pruebas-16";

fn argon(algorithm: Algorithm, password: &str) -> String {
    let params = Params::new(1024, 1, 1, None).expect("params");
    Argon2::new(algorithm, Version::V0x13, params)
        .hash_password_with_salt(password.as_bytes(), SALT)
        .expect("hash")
        .to_string()
}

fn pbkdf2(algorithm: &str, password: &str) -> String {
    let params = pbkdf2::Params::new(1000).expect("params");
    pbkdf2::Pbkdf2::default()
        .hash_password_customized(password.as_bytes(), SALT, Some(algorithm), None, params)
        .expect("hash")
        .to_string()
}

fn scrypt(password: &str) -> String {
    let params = scrypt::Params::new(4, 8, 1).expect("params");
    scrypt::Scrypt::default()
        .hash_password_customized(password.as_bytes(), SALT, None, None, params)
        .expect("hash")
        .to_string()
}

fn bcrypt(version: bcrypt::Version, password: &str) -> String {
    bcrypt::hash_with_result(password, 4)
        .expect("hash")
        .format_for_version(version)
}

fn rut(body: u32) -> String {
    Rut::from_body(body).expect("a RUT").to_string()
}

/// A persona natural row, changed by `with`.
fn natural(body: u32, with: &[(&'static str, String)]) -> BTreeMap<&'static str, String> {
    let mut row = BTreeMap::from([
        ("rut", rut(body)),
        ("tipo", "natural".into()),
        ("nombres", "Ana María".into()),
        ("apellido_paterno", "Rojas".into()),
        ("apellido_materno", "Soto".into()),
        ("email", format!("ana{body}@example.cl")),
        ("celular", "8765 4321".into()),
        ("calle", "Huérfanos".into()),
        ("numero", "1273".into()),
        ("comuna", "13101".into()),
        ("pregunta", "0".into()),
        ("respuesta", "Firulais".into()),
        ("email_verificado", "true".into()),
    ]);
    row.extend(with.iter().cloned());
    row
}

fn write_csv(path: &Path, rows: &[BTreeMap<&'static str, String>]) {
    let mut out = csv::Writer::from_path(path).expect("file");
    out.write_record(HEADER).expect("header");
    for row in rows {
        out.write_record(HEADER.map(|c| row.get(c).cloned().unwrap_or_default()))
            .expect("row");
    }
    out.flush().expect("written");
}

async fn imported_accounts_log_in_with_their_old_passwords(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cli = Cli::new();
    let database = app.config.database.url.expose_secret().to_owned();
    let import = |args: &[&str]| {
        let out = cli
            .cus()
            .args(["--operator", "migracion", "account", "import"])
            .args(args)
            .env("CUS_DATABASE__URL", &database)
            .env("CUS_HASH__MEMORY_KIB", "1024")
            .env("CUS_HASH__ITERATIONS", "1")
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.is_empty(), "no progress bar into a pipe: {stderr}");
        String::from_utf8(out.stdout).expect("utf-8")
    };

    // One account per format, each with its own old password.
    let formats: Vec<(u32, String, String)> = [
        ("argon2id", argon(Algorithm::Argon2id, "clave antigua 1")),
        ("argon2i", argon(Algorithm::Argon2i, "clave antigua 2")),
        ("pbkdf2-sha256", pbkdf2("pbkdf2-sha256", "clave antigua 3")),
        ("pbkdf2-sha512", pbkdf2("pbkdf2-sha512", "clave antigua 4")),
        ("scrypt", scrypt("clave antigua 5")),
        ("2a", bcrypt(bcrypt::Version::TwoA, "clave antigua 6")),
        ("2b", bcrypt(bcrypt::Version::TwoB, "clave antigua 7")),
        ("2y", bcrypt(bcrypt::Version::TwoY, "clave antigua 8")),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (_, hash))| {
        let i = u32::try_from(i).expect("few");
        (20_000_000 + i, hash, format!("clave antigua {}", i + 1))
    })
    .collect();
    for (_, hash, _) in &formats[..6] {
        assert!(hash.starts_with('$'), "{hash}");
    }
    let mut rows: Vec<_> = formats
        .iter()
        .map(|(body, hash, _)| natural(*body, &[("cus_hash", hash.clone())]))
        .collect();
    // Answers may come hashed, and comunas by name.
    rows[1].insert("respuesta", String::new());
    rows[1].insert("respuesta_hash", argon(Algorithm::Argon2id, "firulais"));
    rows[2].insert("comuna", "los angeles".into());
    let company_cus = "clave de la empresa";
    rows.push(BTreeMap::from([
        ("rut", rut(76_000_001)),
        ("tipo", "juridica".into()),
        ("razon_social", "Capacitaciones del Sur SpA".into()),
        ("giro", "Capacitación".into()),
        ("email", "contacto@sur.cl".into()),
        ("calle", "O'Higgins".into()),
        ("numero", "100".into()),
        ("comuna", "Concepción".into()),
        ("pregunta", "¿Cuál fue su primer trabajo?".into()),
        ("respuesta", "cajero".into()),
        ("cus_hash", bcrypt(bcrypt::Version::TwoB, company_cus)),
        ("rep_rut", rut(20_000_000)),
        ("rep_nombres", "Ana María".into()),
        ("rep_apellidos", "Rojas Soto".into()),
        ("rep_email", "ana@sur.cl".into()),
        ("rep_celular", "87654321".into()),
    ]));
    let without_cus = 20_000_100;
    rows.push(natural(without_cus, &[]));
    let good = rows.len();
    // One bad row of each kind: (what is changed, the column the report must name).
    let bad: [(&[(&'static str, String)], &str); 9] = [
        (
            &[("rut", "12.345.678-4".into())],
            "rut: El dígito verificador",
        ),
        (
            &[("comuna", "Gotham".into())],
            "comuna: no hay una comuna «Gotham»",
        ),
        (&[("email", "no-es-un-correo".into())], "email:"),
        (&[("celular", "1234".into())], "celular:"),
        (
            &[("cus_hash", "$md5$abc$def".into())],
            "cus_hash: formato de hash desconocido",
        ),
        (
            &[("nombres", String::new())],
            "nombres: Ingrese sus nombres",
        ),
        (
            &[("rut", rut(20_000_000))],
            "rut: el RUT ya está en la línea 2",
        ),
        (&[("tipo", "empresa".into())], "tipo:"),
        (
            &[("email_verificado", "quizas".into())],
            "email_verificado:",
        ),
    ];
    for (i, (change, _)) in bad.iter().enumerate() {
        let body = 30_000_000 + u32::try_from(i).expect("few");
        rows.push(natural(body, change));
    }
    let file = cli.path().join("cuentas.csv");
    write_csv(&file, &rows);
    let file = file.to_str().expect("utf-8 path");

    let dry = import(&[file, "--dry-run"]);
    assert!(
        dry.contains(&format!("dry run, nothing written: {good} valid")),
        "{dry}"
    );
    let nobody = Rut::parse(&rut(20_000_000)).expect("rut");
    assert!(
        app.state
            .store
            .account_by_rut(&nobody)
            .await
            .expect("read")
            .is_none()
    );

    let first = import(&[file]);
    assert!(
        first.contains(&format!(
            "imported {good}, already there 0, updated 0, bad {}",
            bad.len()
        )),
        "{first}"
    );
    let report = cli.path().join("cuentas.report.csv");
    assert!(first.contains(&report.display().to_string()), "{first}");
    let mut reported = csv::Reader::from_path(&report).expect("report");
    let reported: Vec<(usize, String)> = reported
        .records()
        .map(|r| {
            let r = r.expect("a record");
            (r[0].parse().expect("a line number"), r[2].to_owned())
        })
        .collect();
    assert_eq!(reported.len(), bad.len(), "{reported:?}");
    for (i, (_, reason)) in bad.iter().enumerate() {
        // The header is line 1: the k-th row (from 0) is on line k + 2.
        let line = good + i + 2;
        assert!(
            reported
                .iter()
                .any(|(l, r)| *l == line && r.contains(reason)),
            "line {line} should say {reason:?}: {reported:?}"
        );
    }
    assert_eq!(audit_count(&app, "account_imported", "ok").await, good);
    let events = app
        .state
        .store
        .audit_events(&cus_store::AuditFilter::default())
        .await
        .expect("audit");
    assert!(
        events
            .iter()
            .filter(|e| e.kind == "account_imported")
            .all(|e| e.operator.as_deref() == Some("cli:migracion"))
    );

    let second = import(&[file]);
    assert!(
        second.contains(&format!(
            "nothing new to import: imported 0, already there {good}"
        )),
        "{second}"
    );
    assert_eq!(audit_count(&app, "account_imported", "ok").await, good);

    // Each old password logs in once, and the hash it matched is argon2id afterwards.
    let mut logins: Vec<(String, String)> = formats
        .iter()
        .map(|(body, _, password)| (rut(*body), password.clone()))
        .collect();
    logins.push((rut(76_000_001), company_cus.to_owned()));
    for (rut, password) in &logins {
        let (status, _, page) = login_attempt(&app, &app.browser(), rut, password).await;
        assert_eq!(status, 200, "{rut}: {page}");
        assert!(page.contains("Sesión iniciada"), "{rut}");
        let parsed = Rut::parse(rut).expect("rut");
        let (_, credentials) = app
            .state
            .store
            .account_by_rut(&parsed)
            .await
            .expect("read")
            .expect("imported");
        assert!(
            credentials.cus_hash.starts_with("$argon2id$")
                && !app.state.hasher.needs_rehash(&credentials.cus_hash),
            "{rut}: {}",
            credentials.cus_hash
        );
        let (status, _, _) = login_attempt(&app, &app.browser(), rut, password).await;
        assert_eq!(status, 200, "{rut} logs in with the argon2id hash too");
    }

    // Without a CUS: told to use "Genere nueva CUS", in the words every failed login gets,
    // so the page does not tell a stranger which RUTs were imported without one.
    let (status, _, page) =
        login_attempt(&app, &app.browser(), &rut(without_cus), "cualquier cosa").await;
    assert_eq!(status, 401);
    assert!(page.contains("Genere nueva CUS"), "{page}");
    let (_, _, unknown) = login_attempt(&app, &app.browser(), &rut(40_000_000), "otra").await;
    assert_eq!(form_error(&page), form_error(&unknown));

    // --update overwrites contact data, never the secrets: the legacy hash stays replaced.
    let updated = import(&[file, "--update"]);
    assert!(updated.contains(&format!("updated {good}")), "{updated}");
    let (_, credentials) = app
        .state
        .store
        .account_by_rut(&nobody)
        .await
        .expect("read")
        .expect("there");
    assert!(credentials.cus_hash.starts_with("$argon2id$"));
}

fn form_error(page: &str) -> Option<&str> {
    let start = page.find("id=\"form-error\">")?;
    page[start..].split('<').next()
}
