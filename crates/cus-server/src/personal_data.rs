//! Personal-data requests (Chile's Ley 21.719): everything CUS holds about a person, as
//! one JSON document. One builder for both ways of asking — an operator at
//! `cus account export RUT` and the person at "Mis datos" — and each hand-out audited
//! before the data leaves, as an access to it.
//!
//! Never in it: the hashes of the CUS, of the secret answer, of a generated CUS or of a
//! verification token, nor any token. It says that a CUS and an answer are held.

use cus_cache::Cache;
use cus_core::audit::{AuditEvent, AuditKind};
use cus_core::{Account, Catalogue, Credentials, Rut};
use cus_store::{AuditFilter, Store};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::AppState;
use crate::config::{Oidc, Seconds};
use crate::oidc::session::{self, Session};
use crate::request::RequestMeta;

/// How far back the audit events of a person go.
const AUDIT_MONTHS: i64 = 12;
/// Events read per page while gathering them.
const AUDIT_PAGE: u32 = 1000;

/// Where the data comes from. `cache` is `None` when the sessions cannot be seen from
/// here (the `cus` command beside a node on the in-process cache).
pub struct Sources<'a> {
    pub store: &'a dyn Store,
    pub cache: Option<&'a dyn Cache>,
    pub oidc: &'a Oidc,
}

/// Who is asking, for the audit event written before the data is handed out.
pub enum Requester<'a> {
    /// The person, signed in, at "Mis datos": the event carries the request's address.
    Person(&'a crate::request::RequestMeta),
    /// A help-desk operator at the `cus` command (`cli:<name>`).
    Operator(&'a str),
}

/// The account a RUT names and its document, the hand-out audited first; `None` (and
/// nothing audited) when there is no such account. A failed audit write hands out nothing.
pub async fn export(
    sources: &Sources<'_>,
    rut: &Rut,
    requester: Requester<'_>,
    now: OffsetDateTime,
) -> anyhow::Result<Option<Value>> {
    let Some((account, credentials)) = sources.store.account_by_rut(rut).await? else {
        return Ok(None);
    };
    let subject = Some(rut.compact());
    let event = match requester {
        Requester::Person(meta) => {
            let mut event =
                crate::audit::of_request(AuditKind::PersonalDataExported, subject, meta);
            event.detail = Some("Mis datos".into());
            event
        }
        Requester::Operator(operator) => {
            let mut event =
                AuditEvent::new(AuditKind::PersonalDataExported, now, subject).by(operator);
            event.detail = Some("cus account export".into());
            event
        }
    };
    sources.store.append_audit(&event).await?;
    document(sources, &account, &credentials, now)
        .await
        .map(Some)
}

/// What "Mis datos" answers the signed-in person.
pub enum Own {
    /// Their document: the account is the session's, never one a request names.
    Document { rut: Rut, document: Value },
    /// The login is older than `accounts.export_max_auth_age`: the CUS again first.
    SignInAgain,
    /// The account went (deleted while the session lived).
    Gone,
}

/// Whether a session's login is recent enough to hand out its person's data: a browser
/// left signed in (a shared computer, a stolen cookie) must not be enough on its own.
pub fn login_is_recent(session: &Session, now: OffsetDateTime, max_age: &Seconds) -> bool {
    now.unix_timestamp() - session.auth_time <= max_age.secs()
}

/// "Mis datos": the signed-in person's document, to see or to take away. Either way it is
/// handed out only for a recent login (a browser left signed in is not enough) and audited
/// before it leaves.
pub async fn own(app: &AppState, session: &Session, meta: &RequestMeta) -> anyhow::Result<Own> {
    if !login_is_recent(session, meta.now, &app.config.accounts.export_max_auth_age) {
        return Ok(Own::SignInAgain);
    }
    let Some(account) = app.store.account_by_id(session.account_id).await? else {
        return Ok(Own::Gone);
    };
    let sources = Sources {
        store: app.store.as_ref(),
        cache: Some(app.cache.as_ref()),
        oidc: &app.config.oidc,
    };
    let document = export(&sources, &account.rut, Requester::Person(meta), meta.now).await?;
    Ok(document.map_or(Own::Gone, |document| Own::Document {
        rut: account.rut,
        document,
    }))
}

/// The document itself.
pub async fn document(
    sources: &Sources<'_>,
    account: &Account,
    credentials: &Credentials,
    now: OffsetDateTime,
) -> anyhow::Result<Value> {
    let store = sources.store;
    let mut consents = Vec::new();
    for consent in store.consents_of(account.id).await? {
        let client = store.client(&consent.client_id).await?;
        consents.push(json!({
            "client_id": consent.client_id.0,
            "client_name": client.map(|c| c.name),
            "scopes": consent.scopes,
            "granted_at": rfc3339(consent.granted_at),
        }));
    }
    let mut grants = Vec::new();
    for token in store.live_refresh_tokens_of(account.id, now).await? {
        let client = store.client(&token.client_id).await?;
        grants.push(json!({
            "client_id": token.client_id.0,
            "client_name": client.map(|c| c.name),
            "scopes": crate::oidc::tokens::refresh_scopes(&token),
            "issued_at": rfc3339(token.created_at),
            "expires_at": rfc3339(token.expires_at),
        }));
    }
    let sessions = match sources.cache {
        Some(cache) => Value::from(
            session::sessions_of_account(store, cache, sources.oidc, account.id, now)
                .await?
                .iter()
                .map(session_json)
                .collect::<Vec<_>>(),
        ),
        None => Value::Null,
    };
    let since = now - time::Duration::days(AUDIT_MONTHS * 365 / 12 + 1);
    Ok(json!({
        "generated_at": rfc3339(now),
        "account": account_json(account, credentials),
        "consents": consents,
        "sessions": sessions,
        "refresh_grants": grants,
        "audit_events": audit_events(store, &account.rut, since).await?,
    }))
}

fn account_json(account: &Account, credentials: &Credentials) -> Value {
    let catalogue = Catalogue::chile();
    let address = account.address.as_ref().map(|a| {
        let comuna = catalogue.comuna(a.codigo_comuna);
        let region = comuna.and_then(|c| catalogue.region(c.codigo_region));
        json!({
            "calle": a.calle,
            "numero": a.numero,
            "block": a.block,
            "departamento": a.departamento,
            "codigo_comuna": a.codigo_comuna,
            "comuna": comuna.map(|c| c.nombre.clone()),
            "region": region.map(|r| r.nombre.clone()),
        })
    });
    let representante = account.representante.as_ref().map(|r| {
        json!({
            "rut": r.rut.to_string(),
            "nombres": r.nombres,
            "apellidos": r.apellidos,
            "email": r.email,
            "celular": r.celular,
        })
    });
    json!({
        "id": account.id.to_string(),
        "rut": account.rut.to_string(),
        "tipo": account.tipo.as_str(),
        "nombres": account.nombres,
        "apellido_paterno": account.apellido_paterno,
        "apellido_materno": account.apellido_materno,
        "razon_social": account.razon_social,
        "giro": account.giro,
        "representante": representante,
        "email": account.email,
        "email_verified": account.email_verified,
        "celular": account.celular,
        "telefono_particular": account.telefono_particular,
        "telefono_trabajo": account.telefono_trabajo,
        "address": address,
        "created_at": rfc3339(account.created_at),
        "updated_at": rfc3339(account.updated_at),
        // What is held, never the hashes themselves.
        "cus": {
            "held": !credentials.cus_hash.is_empty(),
            "must_change": account.cus_must_change,
            "last_changed_at": rfc3339(account.tokens_valid_after),
            "generated_cus_pending": credentials.pending_cus_hash.is_some(),
        },
        "secret_question": {
            "question": account
                .secret_question
                .and_then(cus_core::contact::secret_question),
            "answer_held": credentials.secret_answer_hash.is_some(),
        },
    })
}

fn session_json(session: &Session) -> Value {
    let at = |unix: i64| {
        OffsetDateTime::from_unix_timestamp(unix)
            .map(rfc3339)
            .unwrap_or_default()
    };
    json!({
        "started_at": at(session.auth_time),
        "last_seen_at": at(session.last_seen),
        "ip": session.ip,
        "user_agent": session.user_agent,
    })
}

/// The person's events since `since`, newest first, every page of them.
async fn audit_events(
    store: &dyn Store,
    rut: &Rut,
    since: OffsetDateTime,
) -> anyhow::Result<Vec<Value>> {
    let mut events = Vec::new();
    let mut before_id = None;
    loop {
        let page = store
            .audit_page(&AuditFilter {
                subject: Some(rut.compact()),
                since: Some(since),
                before_id,
                limit: AUDIT_PAGE,
                ..AuditFilter::default()
            })
            .await?;
        before_id = page.last().map(|record| record.id);
        let full = page.len() == AUDIT_PAGE as usize;
        events.extend(page.iter().map(|record| {
            let e = &record.event;
            json!({
                "at": rfc3339(e.at),
                "kind": e.kind.as_str(),
                "outcome": e.outcome.as_str(),
                "ip": e.ip,
                "user_agent": e.user_agent,
                "operator": e.operator,
                "detail": e.detail,
            })
        }));
        if !full {
            return Ok(events);
        }
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}
