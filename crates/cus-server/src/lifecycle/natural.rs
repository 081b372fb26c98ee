//! Persona natural flows: register, generate a new CUS, change it, update one's data,
//! verify the e-mail, and the forced change after logging in with a generated CUS.

use std::time::Duration;

use cus_cache::{CacheExt, Key, Namespace};
use cus_core::audit::{AuditEvent, AuditKind, AuditOutcome};
use cus_core::contact::{self, mask_celular, mask_email};
use cus_core::contact_form::{self, ContactInput};
use cus_core::{Account, AccountId, Credentials, NewAccount, Rut, TipoPersona};
use cus_store::Change;
use time::OffsetDateTime;
use uuid::Uuid;

use super::credentials::{self, Attempt, Captcha, Verified};
use super::{FieldErrors, FlowError, invalid, messages};
use crate::app::AppState;
use crate::request::RequestMeta;
use crate::secrets::{random_token, token_hash};

/// How long an e-mail verification link works.
const VERIFY_LINK_DAYS: i64 = 7;
/// Secret answers (right or wrong) checked per RUT per hour.
const MAX_ANSWERS: u64 = 5;
const ANSWER_WINDOW: Duration = Duration::from_secs(3600);
/// How long the data form stays open after the CUS was checked.
const UPDATE_TICKET_TTL: Duration = Duration::from_secs(15 * 60);

/// Registration as typed.
#[derive(Debug, Default, Clone)]
pub struct RegistrationInput {
    pub rut: String,
    pub nombres: String,
    pub apellido_paterno: String,
    pub apellido_materno: String,
    pub contact: ContactInput,
    pub cus: String,
    pub cus_repetida: String,
}

/// Where the confirmation went, masked for the page.
pub struct Sent {
    /// `None` when nothing went by e-mail.
    pub email: Option<String>,
    pub celular: Option<String>,
}

/// Sets a new e-mail verification token in `credentials`; returns the link to send.
pub(crate) fn verification_link(
    app: &AppState,
    now: OffsetDateTime,
    credentials: &mut Credentials,
) -> String {
    let token = random_token();
    credentials.email_verify_hash = Some(token_hash(&token));
    credentials.email_verify_expires = Some(now + time::Duration::days(VERIFY_LINK_DAYS));
    format!("{}/verificar-correo?token={token}", app.issuer)
}

pub(super) fn audit(kind: AuditKind, rut: &Rut, meta: &RequestMeta) -> AuditEvent {
    crate::audit::of_request(kind, Some(rut.compact()), meta)
}

/// Regístrese: validates everything, then writes the account and its notifications in one
/// transaction.
pub async fn register(
    app: &AppState,
    input: &RegistrationInput,
    meta: &RequestMeta,
) -> Result<Sent, FlowError> {
    let mut errors = FieldErrors::new();
    let person = validate(
        input,
        true,
        AccountId(Uuid::now_v7()),
        meta.now,
        &mut errors,
    );
    let ((account, answer), cus) = super::with_new_cus(
        person,
        errors,
        &input.rut,
        &input.contact,
        (&input.cus, &input.cus_repetida),
    )?;
    save_registration(
        app,
        account,
        &cus,
        &answer.unwrap_or_default(),
        Vec::new(),
        meta,
    )
    .await
}

/// Everything Regístrese checks but the CUS, the one home of those rules (the web form and
/// `cus account import` both come here): the persona natural account `input` describes,
/// made with `id` at `now`, and its normalised secret answer; `None` when something is
/// wrong, each problem in `errors` beside its field. `answer_required` is false only where
/// the answer comes already hashed (an import).
pub fn validate(
    input: &RegistrationInput,
    answer_required: bool,
    id: AccountId,
    now: OffsetDateTime,
    errors: &mut FieldErrors,
) -> Option<(Account, Option<String>)> {
    let rut = Rut::parse(&input.rut)
        .map_err(|e| errors.insert("rut", e.to_string()))
        .ok();
    let nombres = contact_form::required(
        errors,
        "nombres",
        &input.nombres,
        "Ingrese sus nombres.",
        80,
    )
    .to_owned();
    let paterno = contact_form::required(
        errors,
        "apellido_paterno",
        &input.apellido_paterno,
        "Ingrese su apellido paterno.",
        80,
    )
    .to_owned();
    let materno = contact_form::optional(errors, "apellido_materno", &input.apellido_materno, 80);
    let contact = contact_form::parse(&input.contact, answer_required, errors);
    let (Some(rut), Some(contact), true) = (rut, contact, errors.is_empty()) else {
        return None;
    };
    let account = Account {
        id,
        rut,
        tipo: TipoPersona::Natural,
        nombres,
        apellido_paterno: paterno,
        apellido_materno: materno,
        razon_social: None,
        giro: None,
        representante: None,
        email: contact.email.into(),
        email_verified: false,
        celular: contact.celular,
        telefono_particular: contact.telefono_particular,
        telefono_trabajo: contact.telefono_trabajo,
        address: Some(contact.address),
        secret_question: Some(contact.question),
        cus_must_change: false,
        created_at: now,
        updated_at: now,
        tokens_valid_after: now,
        disabled_at: None,
    };
    Some((account, contact.answer))
}

/// Writes a validated registration (natural or jurídica): hashes the CUS and the answer,
/// queues the confirmation e-mail with its verification link, the SMS and `extra`
/// messages, all in one transaction with the account.
pub(super) async fn save_registration(
    app: &AppState,
    account: Account,
    cus: &str,
    answer: &str,
    extra: Vec<cus_core::notification::Notification>,
    meta: &RequestMeta,
) -> Result<Sent, FlowError> {
    let now = account.created_at;
    // One place in the hashing pool for both hashes, given back before the write: no
    // database connection is taken while a hash waits or runs.
    let ticket = app.hasher.admit()?;
    let mut credentials = Credentials {
        cus_hash: ticket.hash(cus).await?,
        secret_answer_hash: Some(ticket.hash(answer).await?),
        ..Credentials::default()
    };
    drop(ticket);
    let link = verification_link(app, now, &mut credentials);
    let mut notifications = vec![messages::registered(
        &account.email,
        &account.display_name(),
        &link,
        now,
    )];
    notifications.extend(extra);
    if let Some(celular) = &account.celular {
        notifications.push(messages::registered_sms(celular, now));
    }
    let event = audit(AuditKind::AccountCreated, &account.rut, meta);
    let new = NewAccount {
        account: account.clone(),
        credentials,
    };
    match app
        .store
        .create_account(&new, Change::audited(&event).with_notices(&notifications))
        .await
    {
        Ok(()) => {}
        Err(cus_store::StoreError::AlreadyExists(_)) => {
            return Err(invalid("rut", ALREADY_REGISTERED));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(account.id = %account.id, tipo = account.tipo.as_str(), "account registered");
    Ok(Sent {
        email: Some(mask_email(&account.email)),
        celular: account.celular.as_deref().map(mask_celular),
    })
}

/// Why a RUT cannot be registered again. The same words whatever kind of persona holds
/// it: registration must not tell a stranger whether a RUT is a person's or a company's.
pub(super) const ALREADY_REGISTERED: &str = "Este RUT ya tiene una Clave Única SENCE. Si no la recuerda, use «Genere nueva CUS»; si usted no la creó, llame al (56-2) 2870 61 00.";

/// Genere nueva CUS, step 1: the account's secret question. A RUT without an account (or
/// without a question) gets a plausible one, the same every time for that RUT, so this
/// step does not tell which RUTs have a CUS; its answer is never right.
pub async fn secret_question_of(app: &AppState, rut: &Rut) -> Result<&'static str, FlowError> {
    let own = app
        .store
        .account_by_rut(rut)
        .await?
        .and_then(|(a, _)| a.secret_question)
        .and_then(contact::secret_question);
    Ok(own.unwrap_or_else(|| plausible_question(app, rut)))
}

/// A question for a RUT that has none, chosen by a keyed hash of the RUT: stable, and not
/// predictable by someone without the server's key.
fn plausible_question(app: &AppState, rut: &Rut) -> &'static str {
    let digest = crate::secrets::hmac(
        &app.csrf_key,
        format!("question:{}", rut.compact()).as_bytes(),
    );
    let index = digest
        .bytes()
        .fold(0usize, |acc, b| (acc * 31 + usize::from(b)) % 9973);
    contact::SECRET_QUESTIONS[index % contact::SECRET_QUESTIONS.len()]
}

fn answer_lock(rut: &Rut) -> Key {
    Key::new(Namespace::Ticket, format!("answer-lock:{}", rut.compact()))
}

fn answer_attempts(rut: &Rut) -> Key {
    Key::new(Namespace::Counter, format!("answer:{}", rut.compact()))
}

/// Forgets the secret answers counted for the RUT and their lock (the help desk's unlock:
/// the person proved who they are to a person).
pub(crate) async fn clear_answer_limit(app: &AppState, rut: &Rut) -> anyhow::Result<()> {
    app.cache.delete(&answer_lock(rut)).await?;
    Ok(app.cache.delete(&answer_attempts(rut)).await?)
}

/// Genere nueva CUS, step 2: a right answer queues a new CUS to the registered mobile and,
/// when it is verified, e-mail (`accounts.new_cus_requires_verified_email`). At most five
/// answers per RUT per hour are checked; the sixth is refused unchecked. The attempt is
/// counted before the answer is checked, so concurrent answers cannot slip past the limit.
pub async fn generate(
    app: &AppState,
    rut: &Rut,
    answer: &str,
    meta: &RequestMeta,
) -> Result<Sent, FlowError> {
    let too_many = || {
        FlowError::Refused(
            "Demasiados intentos fallidos para este RUT. Intente más tarde (en una hora).".into(),
        )
    };
    if app.cache.get(&answer_lock(rut)).await?.is_some() {
        return Err(too_many());
    }
    // A place in the hashing pool for the answer and the new CUS, before the attempt is
    // counted: a refusal for load must not spend one of the hour's answers.
    let ticket = app.hasher.admit()?;
    let (number, left) = app.cache.incr(&answer_attempts(rut), ANSWER_WINDOW).await?;
    if number > MAX_ANSWERS {
        return Err(too_many());
    }
    let found = app.store.account_by_rut(rut).await?;
    let stored_answer = found
        .as_ref()
        .and_then(|(_, c)| c.secret_answer_hash.as_deref());
    let right = ticket
        .verify(&contact::normalize_answer(answer), stored_answer)
        .await;
    let Some((account, credentials)) = found.filter(|_| right) else {
        let mut event = audit(AuditKind::CusGenerated, rut, meta);
        event.outcome = AuditOutcome::WrongAnswer;
        crate::audit::record(app, &event).await;
        if number >= MAX_ANSWERS {
            app.cache.put(&answer_lock(rut), b"1", left).await?;
            return Err(too_many());
        }
        return Err(invalid("respuesta", "La respuesta no es correcta."));
    };
    let event = audit(AuditKind::CusGenerated, rut, meta);
    let sent = send_new_cus(app, &ticket, &account, credentials, &event).await?;
    // The secret answer unlocks logins (the new CUS must be usable) but keeps the lock
    // ladder, and the answer counts among the hour's five: knowing the answer must not
    // buy endless rounds of CUS guesses.
    super::lockout::unlock(app, rut).await?;
    Ok(sent)
}

/// Sends a new CUS to the account's registered channels: the mobile (for a company, its
/// legal representative's) and, when it is verified (`accounts.new_cus_requires_verified_email`),
/// the e-mail. The CUS is pending beside the current one until first used or
/// `accounts.generated_cus_ttl`. `event` is written with it. The one sender of a generated
/// CUS: "Genere nueva CUS" after the secret answer, and the help desk's forced one. A
/// disabled account gets none. `ticket`: the caller's place in the hashing pool.
pub(crate) async fn send_new_cus(
    app: &AppState,
    ticket: &crate::hashing::Ticket,
    account: &Account,
    mut credentials: Credentials,
    event: &AuditEvent,
) -> Result<Sent, FlowError> {
    if !account.usable() {
        return Err(FlowError::Refused(DISABLED.into()));
    }
    let now = event.at;
    let by_email = account.email_verified || !app.config.accounts.new_cus_requires_verified_email;
    if !by_email && account.celular.is_none() {
        return Err(FlowError::Refused(UNVERIFIED_EMAIL.into()));
    }
    let cus = crate::admin::generate_cus();
    credentials.pending_cus_hash = Some(ticket.hash(&cus).await?);
    credentials.pending_cus_expires = Some(now + app.config.accounts.generated_cus_ttl.time());
    let name = account.display_name();
    let mut notifications = Vec::new();
    if by_email {
        let days = app
            .config
            .accounts
            .generated_cus_ttl
            .time()
            .whole_days()
            .max(1);
        let key = &app.message_key;
        notifications.push(messages::generated(
            &account.email,
            &name,
            &cus,
            days,
            now,
            key,
        )?);
    }
    if let Some(celular) = &account.celular {
        notifications.push(messages::generated_sms(
            celular,
            &cus,
            now,
            &app.message_key,
        )?);
    }
    app.store
        .update_account(
            account,
            &credentials,
            Change::audited(event).with_notices(&notifications),
        )
        .await?;
    Ok(Sent {
        email: by_email.then(|| mask_email(&account.email)),
        celular: account.celular.as_deref().map(mask_celular),
    })
}

/// Why a new CUS cannot be sent: the only address on file was never verified.
const UNVERIFIED_EMAIL: &str = "Su correo electrónico no está verificado y no registró un celular, así que no podemos enviarle una nueva CUS. Use el enlace que le enviamos al registrarse, o llame al (56-2) 2870 61 00.";

/// Sets a new CUS the person chose: replaces any pending one, revokes every session and
/// refresh token, tells the owner by e-mail.
async fn set_cus(
    app: &AppState,
    account: Account,
    mut credentials: Credentials,
    cus: &str,
    repeated: &str,
    meta: &RequestMeta,
) -> Result<Account, FlowError> {
    let cus = super::new_cus(cus, repeated, &account.rut, &account.email, "cus_nueva")
        .map_err(|(field, message)| invalid(field, message))?;
    let now = meta.now;
    let mut account = account;
    credentials.cus_hash = app.hasher.hash(&cus).await?;
    credentials.pending_cus_hash = None;
    credentials.pending_cus_expires = None;
    account.cus_must_change = false;
    account.updated_at = now;
    let read = std::mem::replace(&mut account.tokens_valid_after, now);
    let mut notices = vec![messages::cus_changed(
        &account.email,
        &account.display_name(),
        now,
    )];
    notices.extend(crate::oidc::backchannel::all_sessions_ended(app, account.id).await?);
    let event = audit(AuditKind::CusChanged, &account.rut, meta);
    app.store
        .update_account(
            &account,
            &credentials,
            Change::audited(&event)
                .with_notices(&notices)
                .changing_cus(read, now),
        )
        .await?;
    // Lockouts and answer limits end with a CUS the owner chose.
    let _ = app.cache.delete(&answer_lock(&account.rut)).await;
    super::lockout::clear(app, &account.rut).await?;
    Ok(account)
}

/// Cambie su CUS: RUT + current CUS + new CUS twice (the form's captcha already solved).
pub async fn change(
    app: &AppState,
    rut: &Rut,
    current: &str,
    new: &str,
    repeated: &str,
    meta: &RequestMeta,
) -> Result<(), FlowError> {
    let verified = checked_cus(app, rut, current, "Cambie su CUS", meta).await?;
    set_cus(
        app,
        verified.account,
        verified.credentials,
        new,
        repeated,
        meta,
    )
    .await
    .map(|_| ())
}

/// A lifecycle form's RUT + CUS, through the same gate as the login page: the same lock,
/// the same ladder, the same audit.
async fn checked_cus(
    app: &AppState,
    rut: &Rut,
    cus: &str,
    place: &'static str,
    meta: &RequestMeta,
) -> Result<Verified, FlowError> {
    match credentials::attempt(app, rut, cus, Captcha::Solved, place, meta).await? {
        Attempt::Verified(verified) => Ok(*verified),
        Attempt::Wrong { .. } | Attempt::CaptchaRequired => {
            Err(invalid("cus", "RUT o Clave CUS incorrectos."))
        }
        Attempt::Locked => Err(FlowError::Refused(LOCKED.into())),
        Attempt::Disabled => Err(FlowError::Refused(DISABLED.into())),
        Attempt::Busy => Err(FlowError::Busy),
    }
}

/// The message while a RUT is locked (the login page's too).
pub const LOCKED: &str = "Por seguridad, el ingreso con este RUT está bloqueado temporalmente por demasiados intentos fallidos. Intente más tarde, o genere una nueva CUS.";

/// The message for a disabled account (the login page's too), shown only to whoever proved
/// they hold it (the right CUS or secret answer).
pub const DISABLED: &str = "Esta Clave Única SENCE está deshabilitada. Para habilitarla, llame a la mesa de ayuda de SENCE al (56-2) 2870 61 00.";

/// After logging in with a generated CUS: the person's own CUS, for the account `id`.
pub async fn replace_generated(
    app: &AppState,
    id: AccountId,
    new: &str,
    repeated: &str,
    meta: &RequestMeta,
) -> Result<Account, FlowError> {
    let account = app
        .store
        .account_by_id(id)
        .await?
        .ok_or_else(|| FlowError::Refused("La cuenta ya no existe.".into()))?;
    let (account, credentials) = app
        .store
        .account_by_rut(&account.rut)
        .await?
        .ok_or_else(|| FlowError::Refused("La cuenta ya no existe.".into()))?;
    if !account.usable() {
        return Err(FlowError::Refused(DISABLED.into()));
    }
    set_cus(app, account, credentials, new, repeated, meta).await
}

/// What an update ticket remembers: whose form it opened, and when. A CUS change after
/// that moment (which moves `tokens_valid_after`) ends the ticket with every session.
#[derive(serde::Serialize, serde::Deserialize)]
struct UpdateTicket {
    account: AccountId,
    opened_at: OffsetDateTime,
}

fn update_ticket_key(ticket: &str) -> Key {
    Key::new(Namespace::Ticket, format!("update:{}", token_hash(ticket)))
}

/// Who may change contact data at "Actualice sus datos": a persona natural. A company's
/// e-mail and mobile receive every new CUS of the company; they are changed only by the
/// help desk, which can check the proof of representation.
const COMPANY_DATA_BY_HELP_DESK: &str = "Los datos de una persona jurídica (correo, celular y representante legal) los actualiza la mesa de ayuda de SENCE: llame al (56-2) 2870 61 00.";

/// Actualice sus datos, step 1: RUT + CUS open the form for a while (a ticket).
pub async fn open_update(
    app: &AppState,
    rut: &Rut,
    cus: &str,
    meta: &RequestMeta,
) -> Result<(String, Account), FlowError> {
    let Verified { account, .. } = checked_cus(app, rut, cus, "Actualice sus datos", meta).await?;
    if account.tipo != TipoPersona::Natural {
        return Err(FlowError::Refused(COMPANY_DATA_BY_HELP_DESK.into()));
    }
    let ticket = random_token();
    let opened = UpdateTicket {
        account: account.id,
        opened_at: app.clock.now(),
    };
    app.cache
        .put_json(&update_ticket_key(&ticket), &opened, UPDATE_TICKET_TTL)
        .await?;
    Ok((ticket, account))
}

/// The account an update ticket opened, if the ticket is still valid: not expired, the
/// account a persona natural, and its CUS not changed since the ticket was opened.
pub async fn update_ticket(app: &AppState, ticket: &str) -> anyhow::Result<Option<Account>> {
    let Some(opened) = app
        .cache
        .get_json::<UpdateTicket>(&update_ticket_key(ticket))
        .await?
    else {
        return Ok(None);
    };
    Ok(app
        .store
        .account_by_id(opened.account)
        .await?
        .filter(|a| a.tipo == TipoPersona::Natural && opened.opened_at >= a.tokens_valid_after))
}

/// Actualice sus datos, step 2: saves contact data, address and secret question at once;
/// optionally a new CUS too. A new e-mail needs verifying; the old one is told.
pub async fn update(
    app: &AppState,
    ticket: &str,
    input: &ContactInput,
    new_cus: &str,
    repeated: &str,
    meta: &RequestMeta,
) -> Result<Sent, FlowError> {
    let account = update_ticket(app, ticket).await?.ok_or_else(|| {
        FlowError::Refused("El formulario venció. Ingrese nuevamente su RUT y Clave CUS.".into())
    })?;
    let mut errors = FieldErrors::new();
    let contact = contact_form::parse(input, false, &mut errors);
    let changing_cus = !new_cus.is_empty() || !repeated.is_empty();
    let new_cus = match &contact {
        Some(c) if changing_cus => super::new_cus(
            new_cus,
            repeated,
            &account.rut,
            c.email.as_str(),
            "cus_nueva",
        )
        .map_err(|(field, message)| errors.insert(field, message))
        .ok(),
        _ => None,
    };
    let Some(contact) = contact.filter(|_| errors.is_empty()) else {
        return Err(FlowError::Invalid(errors));
    };
    let (mut account, mut credentials) = app
        .store
        .account_by_rut(&account.rut)
        .await?
        .ok_or_else(|| FlowError::Refused("La cuenta ya no existe.".into()))?;
    let now = meta.now;
    let old_email = account.email.clone();
    let name = account.display_name();
    let mut notifications = Vec::new();
    if contact.email != old_email {
        let link = verification_link(app, now, &mut credentials);
        account.email_verified = false;
        notifications.push(messages::email_changed(
            &old_email,
            &mask_email(contact.email.as_str()),
            &name,
            now,
        ));
        notifications.push(messages::verify_new_email(
            contact.email.as_str(),
            &name,
            &link,
            now,
        ));
    } else {
        notifications.push(messages::data_updated(&old_email, &name, now));
    }
    if contact.email != old_email || contact.celular != account.celular {
        // A generated CUS went to the old e-mail and mobile: it must not outlive them.
        credentials.pending_cus_hash = None;
        credentials.pending_cus_expires = None;
    }
    account.email = contact.email.into();
    account.celular = contact.celular;
    account.telefono_particular = contact.telefono_particular;
    account.telefono_trabajo = contact.telefono_trabajo;
    account.address = Some(contact.address);
    account.secret_question = Some(contact.question);
    // One place in the hashing pool for the answer and the CUS, when either changes:
    // never refused halfway, and an update that hashes nothing is never refused.
    let hashes = contact.answer.is_some() || new_cus.is_some();
    let place = hashes.then(|| app.hasher.admit()).transpose()?;
    if let (Some(answer), Some(place)) = (contact.answer, &place) {
        credentials.secret_answer_hash = Some(place.hash(&answer).await?);
    }
    account.updated_at = now;
    let mut cus_read = None;
    if let (Some(cus), Some(place)) = (new_cus, &place) {
        credentials.cus_hash = place.hash(&cus).await?;
        credentials.pending_cus_hash = None;
        credentials.pending_cus_expires = None;
        account.cus_must_change = false;
        cus_read = Some(std::mem::replace(&mut account.tokens_valid_after, now));
        notifications.push(messages::cus_changed(&account.email, &name, now));
        notifications.extend(crate::oidc::backchannel::all_sessions_ended(app, account.id).await?);
    }
    drop(place);
    let mut event = audit(AuditKind::DataUpdated, &account.rut, meta);
    if cus_read.is_some() {
        event.detail = Some("data and CUS updated".into());
    }
    match app
        .store
        .update_account(
            &account,
            &credentials,
            match cus_read {
                Some(read) => Change::audited(&event)
                    .with_notices(&notifications)
                    .changing_cus(read, now),
                None => Change::audited(&event).with_notices(&notifications),
            },
        )
        .await
    {
        Ok(()) => {}
        // The CUS changed while the form was open: the form is over (its ticket died too).
        Err(cus_store::StoreError::Conflict(_)) => {
            return Err(FlowError::Refused(
                "Su Clave Única SENCE cambió mientras completaba el formulario. Ingrese nuevamente su RUT y Clave CUS.".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    // Used once: a second submission needs the CUS again.
    if let Err(e) = app.cache.delete(&update_ticket_key(ticket)).await {
        tracing::warn!(error = %e, "an used update ticket could not be deleted; it expires");
    }
    Ok(Sent {
        email: Some(mask_email(&account.email)),
        celular: account.celular.as_deref().map(mask_celular),
    })
}

/// The link of a verification e-mail: marks the address verified.
pub async fn verify_email(app: &AppState, token: &str) -> Result<Account, FlowError> {
    let expired = || {
        FlowError::Refused(
            "El enlace no es válido o venció. Puede pedir uno nuevo actualizando sus datos.".into(),
        )
    };
    let (mut account, mut credentials) = app
        .store
        .account_by_email_verification(&token_hash(token))
        .await?
        .ok_or_else(expired)?;
    let now = app.clock.now();
    if credentials.email_verify_expires.is_none_or(|e| e < now) {
        return Err(expired());
    }
    account.email_verified = true;
    account.updated_at = now;
    credentials.email_verify_hash = None;
    credentials.email_verify_expires = None;
    let event = AuditEvent::new(AuditKind::EmailVerified, now, Some(account.rut.compact()));
    app.store
        .update_account(&account, &credentials, Change::audited(&event))
        .await?;
    Ok(account)
}
