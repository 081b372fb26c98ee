//! "Mis sesiones": the signed-in person's live sessions (when, which browser, from which
//! approximate place or network, the portals each signed in to), and ending one or all the
//! others. Ending goes through the one session service (`oidc::session`), which tells the
//! portals by back-channel logout.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use cus_core::ClientId;
use cus_core::audit::AuditKind;
use cus_core::forms::EndOwnSessionForm;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::app::AppState;
use crate::audit;
use crate::http::csrf;
use crate::http::errors::{PageError, no_store};
use crate::http::extract::{CsrfForm, CurrentSession};
use crate::http::meta::RequestMeta;
use crate::oidc::backchannel;
use crate::oidc::session::{self, Session};

struct Item {
    handle: String,
    current: bool,
    started: String,
    last_seen: String,
    browser: String,
    /// "Santiago, Región Metropolitana de Santiago, Chile", when `geoip.database` knows it.
    place: Option<String>,
    network: String,
    portals: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "account/sessions.html")]
struct SessionsPage {
    csrf: String,
    items: Vec<Item>,
    others: bool,
    /// The GeoIP data's credit line, while places are shown (`geoip.attribution`).
    attribution: Option<Attribution>,
}

struct Attribution {
    text: String,
    url: Option<String>,
}

pub async fn list_sessions(
    State(app): State<AppState>,
    jar: CookieJar,
    session: CurrentSession,
) -> Result<Response, PageError> {
    let session = session.required("")?;
    let this = this_browser(&app, &jar);
    let mut items = Vec::new();
    for listed in listed(&app, &session).await? {
        let mut portals = Vec::new();
        for id in backchannel::clients_of(&app, &listed.session.sid).await? {
            let client = app.store.client(&ClientId(id.clone())).await?;
            portals.push(client.map_or(id, |c| c.name));
        }
        items.push(Item {
            current: this.as_deref() == Some(listed.id.as_str()),
            started: when(listed.session.auth_time),
            last_seen: when(listed.session.last_seen),
            browser: browser(listed.session.user_agent.as_deref()),
            place: place(&app, listed.session.ip.as_deref()),
            network: network(listed.session.ip.as_deref()),
            handle: listed.id,
            portals,
        });
    }
    let others = items.iter().any(|i| !i.current);
    let (jar, csrf) = csrf::token(&app, jar);
    let page = SessionsPage {
        csrf,
        items,
        others,
        attribution: attribution(&app),
    };
    Ok(no_store((jar, page).into_response()))
}

/// Ends one of the person's other sessions.
pub async fn end_one(
    State(app): State<AppState>,
    session: CurrentSession,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<EndOwnSessionForm>,
) -> Result<Response, PageError> {
    let session = session.required("")?;
    let handle = form.sesion.unwrap_or_default();
    if session::end_own(&app, session.account_id, &handle).await? {
        audited(&app, &session, &meta).await;
    }
    Ok(Redirect::to("/mis-sesiones").into_response())
}

/// Ends every session of the person but this browser's.
pub async fn end_others(
    State(app): State<AppState>,
    jar: CookieJar,
    session: CurrentSession,
    meta: RequestMeta,
    CsrfForm(_): CsrfForm<EndOwnSessionForm>,
) -> Result<Response, PageError> {
    let session = session.required("")?;
    let this = this_browser(&app, &jar);
    for listed in listed(&app, &session).await? {
        if Some(&listed.id) != this.as_ref()
            && session::end_own(&app, session.account_id, &listed.id).await?
        {
            audited(&app, &session, &meta).await;
        }
    }
    Ok(Redirect::to("/mis-sesiones").into_response())
}

async fn audited(app: &AppState, session: &Session, meta: &RequestMeta) {
    let subject = Some(session.account_id.to_string());
    let mut event = audit::of_request(AuditKind::Logout, subject, meta);
    event.detail = Some("ended from Mis sesiones".to_owned());
    audit::record(app, &event).await;
}

fn this_browser(app: &AppState, jar: &CookieJar) -> Option<String> {
    jar.get(session::cookie_name(app))
        .map(|c| session::id_of(c.value()))
}

/// The person's live sessions, the newest login first.
async fn listed(app: &AppState, current: &Session) -> anyhow::Result<Vec<session::Listed>> {
    let (store, cache, oidc) = (app.store.as_ref(), app.cache.as_ref(), &app.config.oidc);
    let now = app.clock.now();
    let mut listed =
        session::listed_sessions_of_account(store, cache, oidc, current.account_id, now).await?;
    listed.reverse();
    Ok(listed)
}

fn when(unix: i64) -> String {
    let format = format_description!("[day]-[month]-[year] a las [hour]:[minute] (UTC)");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// A browser and system a person recognises, from the `User-Agent` (the order matters:
/// Edge and Chrome also say "Safari", Edge also says "Chrome").
fn browser(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent else {
        return "Navegador desconocido".to_owned();
    };
    let name = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(token, _)| ua.contains(token))
    .map_or("Otro navegador", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(token, _)| ua.contains(token))
    .map_or("otro sistema", |(_, name)| name);
    format!("{name} en {system}")
}

/// The approximate place of a session's address, when a GeoIP database is configured and
/// knows it; else the page shows only the network.
fn place(app: &AppState, ip: Option<&str>) -> Option<String> {
    let ip = ip?.parse().ok()?;
    app.places.as_ref()?.place(ip).map(|p| p.to_string())
}

/// The credit line the GeoIP data's licence asks for, while that data is shown.
fn attribution(app: &AppState) -> Option<Attribution> {
    let geoip = &app.config.geoip;
    (app.places.is_some() && !geoip.attribution.trim().is_empty()).then(|| Attribution {
        text: geoip.attribution.clone(),
        url: (!geoip.attribution_url.is_empty()).then(|| geoip.attribution_url.clone()),
    })
}

/// Where a session started, as near as CUS can say without a location database: the
/// address's network (IPv4 /24, IPv6 /48), which a person can match to their provider.
fn network(ip: Option<&str>) -> String {
    match ip.and_then(|ip| ip.parse::<std::net::IpAddr>().ok()) {
        Some(std::net::IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("red {a}.{b}.{c}.0/24")
        }
        Some(std::net::IpAddr::V6(v6)) => {
            let mut segments = v6.segments();
            segments[3..].fill(0);
            format!("red {}/48", std::net::Ipv6Addr::from(segments))
        }
        None => "dirección desconocida".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_and_networks_read_as_a_person_would() {
        let chrome = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/126.0 Mobile Safari/537.36";
        assert_eq!(browser(Some(chrome)), "Chrome en Android");
        let edge = "Mozilla/5.0 (Windows NT 10.0) Chrome/126.0 Safari/537.36 Edg/126.0";
        assert_eq!(browser(Some(edge)), "Edge en Windows");
        assert_eq!(browser(None), "Navegador desconocido");
        assert_eq!(network(Some("200.27.14.9")), "red 200.27.14.0/24");
        assert_eq!(network(Some("2800:150:1:2:3::9")), "red 2800:150:1::/48");
        assert_eq!(network(None), "dirección desconocida");
    }
}
