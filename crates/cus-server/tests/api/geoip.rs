//! The approximate place of "Mis sesiones" (`geoip.database`), read from a real `.mmdb`
//! file the tests write themselves (helpers::mmdb): the lookup module, the page of a
//! server started with the setting, and a start-up that refuses a file it cannot use.

use std::path::{Path, PathBuf};

use cus_server::config::Config;
use cus_server::geoip::{Place, Places};
use cus_server::startup::Application;

use crate::helpers::browse::{login_forwarded_for, sign_in};
use crate::helpers::cli::Cli;
use crate::helpers::html::html_of;
use crate::helpers::mmdb::{Value, Writer, map, names, text};
use crate::helpers::{Backend, CUS, RUT, TestApp, on_both_backends, test_config};

on_both_backends!(the_sessions_page_names_the_place_of_each_session);

/// A GeoIP2 City record.
fn city(city: &[(&str, &str)], region: &[(&str, &str)], country: &[(&str, &str)]) -> Value {
    map([
        (
            "city",
            map([
                ("geoname_id", Value::U32(3_871_336)),
                ("names", names(city)),
            ]),
        ),
        (
            "country",
            map([("iso_code", text("CL")), ("names", names(country))]),
        ),
        (
            "subdivisions",
            Value::Array(vec![map([
                ("iso_code", text("RM")),
                ("names", names(region)),
            ])]),
        ),
    ])
}

const CHILE: [(&str, &str); 2] = [("en", "Chile"), ("es", "Chile")];

/// A City database in `dir`: Santiago (IPv4), Valparaíso (IPv6), a city with English names
/// only, a country without a city, and a private network (which must never be looked up).
fn city_database(dir: &Path) -> PathBuf {
    let mut db = Writer::new("GeoLite2-City");
    let santiago = city(
        &[("en", "Santiago"), ("es", "Santiago")],
        &[
            ("en", "Santiago Metropolitan"),
            ("es", "Región Metropolitana de Santiago"),
        ],
        &CHILE,
    );
    db.insert("200.27.0.0/16", &santiago);
    db.insert("10.0.0.0/8", &santiago);
    db.insert(
        "2800:150::/32",
        &city(
            &[("en", "Valparaiso"), ("es", "Valparaíso")],
            &[("en", "Valparaíso Region"), ("es", "Región de Valparaíso")],
            &CHILE,
        ),
    );
    db.insert(
        "181.160.0.0/16",
        &city(
            &[("en", "Concepcion")],
            &[("en", "Biobio")],
            &[("en", "Chile")],
        ),
    );
    db.insert(
        "190.96.0.0/16",
        &map([("country", map([("names", names(&CHILE))]))]),
    );
    let bytes = db.finish();
    // The writer is test code too: MaxMind's own reader checks every part of its file.
    maxminddb::Reader::from_source(bytes.as_slice())
        .expect("opens")
        .verify()
        .expect("a well-formed MaxMind DB");
    let path = dir.join("city.mmdb");
    std::fs::write(&path, bytes).expect("written");
    path
}

#[test]
fn known_addresses_map_to_their_place_and_the_rest_to_none() {
    let dir = tempfile::tempdir().expect("dir");
    let places = Places::open(&city_database(dir.path())).expect("opens");
    let place = |ip: &str| places.place(ip.parse().expect("an address"));

    let santiago = place("200.27.14.9").expect("Santiago");
    assert_eq!(
        santiago,
        Place {
            city: "Santiago".into(),
            region: Some("Región Metropolitana de Santiago".into()),
            country: Some("Chile".into()),
        }
    );
    assert_eq!(
        santiago.to_string(),
        "Santiago, Región Metropolitana de Santiago, Chile"
    );
    assert_eq!(place("::ffff:200.27.14.9"), Some(santiago), "IPv4-mapped");
    assert_eq!(
        place("2800:150:1:2::9").map(|p| p.to_string()).as_deref(),
        Some("Valparaíso, Región de Valparaíso, Chile"),
        "Spanish names first"
    );
    assert_eq!(
        place("181.160.3.4").map(|p| p.to_string()).as_deref(),
        Some("Concepcion, Biobio, Chile"),
        "English when there is no Spanish"
    );
    for nowhere in [
        "190.96.1.1",      // a country but no city
        "8.8.8.8",         // not in the database
        "2001:4860::8888", // not in the database
        "10.1.2.3",        // private, although the database names it
        "127.0.0.1",
        "::1",
        "100.64.0.1",
        "fd00::1",
    ] {
        assert_eq!(place(nowhere), None, "{nowhere}");
    }
}

#[test]
fn only_a_readable_city_database_opens() {
    let dir = tempfile::tempdir().expect("dir");
    let country = dir.path().join("country.mmdb");
    let mut db = Writer::new("GeoLite2-Country");
    db.insert(
        "200.27.0.0/16",
        &map([("country", map([("names", names(&CHILE))]))]),
    );
    std::fs::write(&country, db.finish()).expect("written");
    let refused = Places::open(&country).err().expect("not a City database");
    assert!(refused.to_string().contains("City database"), "{refused}");

    let garbage = dir.path().join("garbage.mmdb");
    std::fs::write(&garbage, b"not a database").expect("written");
    let refused = Places::open(&garbage).err().expect("garbage");
    assert!(
        refused.to_string().contains("not a MaxMind DB"),
        "{refused}"
    );
}

/// A server started with `geoip.database` names each session's place, in Spanish, above
/// its network; a session from an internal address keeps the network alone; the
/// attribution line links where the configuration says.
async fn the_sessions_page_names_the_place_of_each_session(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = test_config(backend).await;
    // The test client is the "balancer": its X-Forwarded-For names each person's address.
    config.server.trusted_proxies = vec!["127.0.0.0/8".parse().expect("net")];
    config.geoip.database = city_database(dir.path()).display().to_string();
    config.geoip.attribution = "IP Geolocation by DB-IP".into();
    config.geoip.attribution_url = "https://db-ip.com".into();
    let app = TestApp::spawn_with(config).await;
    app.account().await;
    for from in ["200.27.14.9", "2800:150:1:2::9"] {
        assert_eq!(login_forwarded_for(&app, &app.browser(), from).await, 200);
    }
    let here = app.browser();
    sign_in(&app, &here, RUT, CUS).await;

    let html = html_of(&here, app.url("/mis-sesiones")).await;
    assert_eq!(html.matches("<h2>").count(), 3, "{html}");
    assert!(
        html.contains(
            "<dd>Santiago, Región Metropolitana de Santiago, Chile (aprox.)<br><small>red 200.27.14.0/24</small></dd>"
        ),
        "{html}"
    );
    assert!(
        html.contains(
            "<dd>Valparaíso, Región de Valparaíso, Chile (aprox.)<br><small>red 2800:150:1::/48</small></dd>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<dd>red 127.0.0.0/24</dd>"),
        "loopback: no place, the network: {html}"
    );
    assert!(
        html.contains(r#"<a href="https://db-ip.com">IP Geolocation by DB-IP</a>"#),
        "{html}"
    );
}

/// `cus serve` with a `geoip.database` it cannot use stops, naming the setting and the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_invalid_geoip_database_stops_the_start() {
    let dir = tempfile::tempdir().expect("dir");
    let garbage = dir.path().join("garbage.mmdb");
    std::fs::write(&garbage, b"not a database").expect("written");
    let missing = dir.path().join("GeoLite2-City.mmdb");
    for (path, says) in [(&missing, "cannot read"), (&garbage, "not a MaxMind DB")] {
        let mut config = test_config(Backend::Embedded).await;
        config.geoip.database = path.display().to_string();
        let refused = Application::build(Config::clone(&config))
            .await
            .err()
            .expect("refused");
        let message = format!("{refused:#}");
        assert!(message.starts_with("geoip.database: "), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(says), "{message}");
    }
}

/// The same through the binary and its environment variable: `cus serve` exits non-zero
/// with the one line an operator needs.
#[test]
fn cus_serve_with_a_missing_geoip_database_exits_naming_it() {
    let cli = Cli::new();
    let missing = cli.path().join("GeoLite2-City.mmdb");
    let refused = cli
        .with_store()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("CUS_GEOIP__DATABASE", &missing)
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "geoip.database: cannot read {}",
            missing.display()
        )),
        "{stderr}"
    );
}
