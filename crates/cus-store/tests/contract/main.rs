//! One contract, every backend: each test below runs against SQLite and PostgreSQL.
//! PostgreSQL comes from `DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/test);
//! each test gets a fresh database so tests run in parallel.

use std::sync::Arc;

use cus_core::audit::{AuditEvent, AuditKind};
use cus_core::notification::{Channel, Notification};
use cus_core::{
    Account, AccountId, Address, Client, ClientId, ClientKind, Credentials, GrantType, NewAccount,
    Rut, TipoPersona, TokenAuthMethod,
};
use cus_store::{AuditFilter, Change, Consent, RefreshToken, SigningKey, Store, StoreError};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

mod backends;
mod helpdesk;

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::backends::sqlite().await).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::backends::postgres().await).await })*
        }
    };
}

mod client_cache;
mod import;

contract!(
    account_round_trips,
    juridica_account_round_trips,
    same_rut_created_concurrently_yields_one_account,
    account_creation_is_atomic_with_its_outbox_and_audit,
    account_updates_are_atomic_and_revoke_tokens,
    clients_are_stored_and_unique,
    clients_are_updated_and_deleted_with_audit,
    initial_access_tokens_expire,
    signing_keys_rotate_and_prune,
    a_kek_change_reseals_keys_and_waiting_messages_together,
    audit_is_filtered_by_subject_and_time,
    outbox_delivers_pending_once,
    notices_queue_on_their_own_all_or_none,
    abandoned_notices_are_never_claimed,
    many_workers_lease_each_message_once,
    a_stale_copy_cannot_undo_a_cus_change,
    deliveries_show_each_state_and_keep_no_delivered_body,
    the_backlog_counts_waiting_messages_per_channel,
    consent_is_granted_and_withdrawn,
    a_consent_and_its_audit_event_are_written_together,
    a_withdrawal_and_its_audit_event_are_written_together,
    refresh_tokens_rotate_once_and_revoke_by_family,
);

mod retention;

fn now() -> OffsetDateTime {
    // Whole microseconds: what both databases keep.
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .expect("valid")
}

/// A new account for `rut`, created in `store` with its audit event.
async fn created(store: &dyn Store, rut: &str) -> NewAccount {
    let new = new_account(rut);
    let subject = new.account.rut.compact();
    store
        .create_account(
            &new,
            Change::audited(&audit(AuditKind::AccountCreated, &subject)),
        )
        .await
        .expect("created");
    new
}

fn new_account(rut: &str) -> NewAccount {
    let at = now();
    NewAccount {
        account: Account {
            id: AccountId(Uuid::now_v7()),
            rut: Rut::parse(rut).expect("valid rut"),
            tipo: TipoPersona::Natural,
            nombres: "María Carmen".into(),
            apellido_paterno: "Del Río".into(),
            apellido_materno: Some("González".into()),
            razon_social: None,
            giro: None,
            representante: None,
            email: "maria@example.cl".into(),
            email_verified: false,
            celular: Some("+56912345678".into()),
            telefono_particular: None,
            telefono_trabajo: Some("+56228706100".into()),
            address: Some(Address {
                calle: "Huérfanos".into(),
                numero: "1273".into(),
                block: None,
                departamento: Some("11".into()),
                codigo_comuna: 13101,
            }),
            secret_question: Some(3),
            cus_must_change: false,
            created_at: at,
            updated_at: at,
            tokens_valid_after: at,
            disabled_at: None,
        },
        credentials: Credentials {
            cus_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            secret_answer_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$YW5z".into()),
            ..Credentials::default()
        },
    }
}

fn audit(kind: AuditKind, subject: &str) -> AuditEvent {
    AuditEvent::new(kind, now(), Some(subject.to_owned()))
}

fn notification(to: &str) -> Notification {
    Notification {
        id: Uuid::now_v7(),
        channel: Channel::Email,
        recipient: to.into(),
        subject: "Bienvenido".into(),
        body: "Su cuenta fue creada.".into(),
        sealed: false,
        created_at: now(),
    }
}

fn client(id: &str) -> Client {
    Client {
        client_id: ClientId(id.into()),
        name: "Portal de prueba".into(),
        kind: ClientKind::Confidential,
        secret_hash: Some("$argon2id$hash".into()),
        redirect_uris: vec!["https://portal.sence.cl/cb".into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: vec!["openid".into(), "run".into()],
        token_endpoint_auth_method: TokenAuthMethod::ClientSecretBasic,
        id_token_signed_response_alg: "RS256".into(),
        first_party: true,
        enabled: true,
        previous_secret_hash: None,
        previous_secret_expires: None,
        backchannel_logout_uri: None,
        jwks: None,
        contacts: vec![],
        logo_uri: None,
        client_uri: None,
        registration_token_hash: None,
        created_at: now(),
        updated_at: now(),
    }
}

async fn account_round_trips(store: Arc<dyn Store>) {
    let new = created(store.as_ref(), "12.345.678-5").await;
    let (account, credentials) = store
        .account_by_rut(&new.account.rut)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(account, new.account);
    assert_eq!(credentials, new.credentials);
    assert_eq!(
        store.account_by_id(account.id).await.expect("read"),
        Some(new.account)
    );
    let absent = Rut::parse("1-9").expect("valid");
    assert!(store.account_by_rut(&absent).await.expect("read").is_none());
}

async fn juridica_account_round_trips(store: Arc<dyn Store>) {
    let mut new = new_account("76.086.428-5");
    new.account.tipo = TipoPersona::Juridica;
    new.account.razon_social = Some("Capacitaciones del Sur SpA".into());
    new.account.nombres = "Capacitaciones del Sur SpA".into();
    new.account.apellido_paterno = String::new();
    new.account.apellido_materno = None;
    new.account.giro = Some("Capacitación".into());
    new.account.representante = Some(cus_core::Representante {
        rut: Rut::parse("12.345.678-5").expect("valid"),
        nombres: "Ana".into(),
        apellidos: "Rojas Díaz".into(),
        email: "ana@sur.cl".into(),
        celular: Some("+56911112222".into()),
    });
    store
        .create_account(
            &new,
            Change::audited(&audit(AuditKind::AccountCreated, "76086428-5")),
        )
        .await
        .expect("created");
    let (read, _) = store
        .account_by_rut(&new.account.rut)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(read, new.account);
    let mut changed = read.clone();
    if let Some(r) = changed.representante.as_mut() {
        r.celular = None;
        r.email = "otra@sur.cl".into();
    }
    store
        .update_account(
            &changed,
            &new.credentials,
            Change::audited(&audit(AuditKind::DataUpdated, "76086428-5")),
        )
        .await
        .expect("updated");
    let (read, _) = store
        .account_by_rut(&new.account.rut)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(read, changed);
}

async fn same_rut_created_concurrently_yields_one_account(store: Arc<dyn Store>) {
    let attempts = (0..10).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .create_account(
                    &new_account("11.111.111-1"),
                    Change::audited(&audit(AuditKind::AccountCreated, "11111111-1"))
                        .with_notices(&[notification("a@example.cl")]),
                )
                .await
        })
    });
    let mut created = 0;
    for attempt in attempts {
        match attempt.await.expect("task ran") {
            Ok(()) => created += 1,
            Err(StoreError::AlreadyExists("account")) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(created, 1);
    // The losers wrote nothing: one notification, one audit event.
    assert_eq!(
        store.pending_notifications(100).await.expect("read").len(),
        1
    );
    let events = store
        .audit_events(&AuditFilter {
            subject: Some("11111111-1".into()),
            ..AuditFilter::default()
        })
        .await
        .expect("read");
    assert_eq!(events.len(), 1);
}

async fn account_creation_is_atomic_with_its_outbox_and_audit(store: Arc<dyn Store>) {
    let first = new_account("22.222.222-2");
    store
        .create_account(
            &first,
            Change::audited(&audit(AuditKind::AccountCreated, "22222222-2")).with_notices(&[
                notification("maria@example.cl"),
                notification("+56912345678"),
            ]),
        )
        .await
        .expect("created");
    let pending = store.pending_notifications(10).await.expect("read");
    assert_eq!(pending.len(), 2);
    let again = store
        .create_account(
            &new_account("22.222.222-2"),
            Change::audited(&audit(AuditKind::AccountCreated, "22222222-2"))
                .with_notices(&[notification("other@example.cl")]),
        )
        .await;
    assert!(matches!(again, Err(StoreError::AlreadyExists("account"))));
    assert_eq!(
        store.pending_notifications(10).await.expect("read").len(),
        2
    );
}

async fn account_updates_are_atomic_and_revoke_tokens(store: Arc<dyn Store>) {
    let new = created(store.as_ref(), "33.333.333-3").await;
    let c = client("portal-u");
    store
        .create_client(
            &c,
            Change::audited(&audit(AuditKind::ClientCreated, "portal-u")),
        )
        .await
        .expect("client");
    let family = Uuid::now_v7();
    store
        .insert_refresh_token(&RefreshToken {
            token_hash: "rt-u".into(),
            family_id: family,
            account_id: new.account.id,
            client_id: c.client_id.clone(),
            grant_json: "{}".into(),
            created_at: now(),
            expires_at: now() + Duration::days(1),
            rotated_at: None,
            revoked_at: None,
        })
        .await
        .expect("refresh token");

    let later = now() + Duration::seconds(5);
    let mut account = new.account.clone();
    account.email = "nuevo@example.cl".into();
    account.email_verified = false;
    account.address = None;
    account.cus_must_change = true;
    account.updated_at = later;
    account.tokens_valid_after = later;
    let credentials = Credentials {
        cus_hash: "$argon2id$new".into(),
        pending_cus_hash: Some("$argon2id$pending".into()),
        pending_cus_expires: Some(later + Duration::days(7)),
        email_verify_hash: Some("verify-hash".into()),
        email_verify_expires: Some(later + Duration::days(7)),
        ..new.credentials.clone()
    };
    store
        .update_account(
            &account,
            &credentials,
            Change::audited(&audit(AuditKind::CusChanged, "33333333-3"))
                .with_notices(&[notification("maria@example.cl")])
                .changing_cus(new.account.tokens_valid_after, later),
        )
        .await
        .expect("updated");
    let (read, read_credentials) = store
        .account_by_rut(&new.account.rut)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(read, account);
    assert_eq!(read_credentials, credentials);
    let by_token = store
        .account_by_email_verification("verify-hash")
        .await
        .expect("read")
        .expect("found by verification token");
    assert_eq!(by_token.0.id, account.id);
    assert!(
        store
            .account_by_email_verification("other")
            .await
            .expect("read")
            .is_none()
    );
    assert_eq!(
        store.pending_notifications(10).await.expect("read").len(),
        1
    );
    let revoked = store
        .refresh_token("rt-u")
        .await
        .expect("read")
        .expect("present");
    assert_eq!(revoked.revoked_at, Some(later));

    let mut ghost = account.clone();
    ghost.id = AccountId(Uuid::now_v7());
    let missing = store
        .update_account(
            &ghost,
            &credentials,
            Change::audited(&audit(AuditKind::CusChanged, "x"))
                .with_notices(&[notification("x@example.cl")]),
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound("account"))));
    assert_eq!(
        store.pending_notifications(10).await.expect("read").len(),
        1,
        "nothing half-written"
    );
}

async fn clients_are_stored_and_unique(store: Arc<dyn Store>) {
    let c = client("portal-a");
    store
        .create_client(
            &c,
            Change::audited(&audit(AuditKind::ClientCreated, "portal-a")),
        )
        .await
        .expect("created");
    assert_eq!(
        store.client(&c.client_id).await.expect("read"),
        Some(c.clone())
    );
    let dup = store
        .create_client(
            &c,
            Change::audited(&audit(AuditKind::ClientCreated, "portal-a")),
        )
        .await;
    assert!(matches!(dup, Err(StoreError::AlreadyExists("client"))));
    store
        .create_client(
            &client("portal-b"),
            Change::audited(&audit(AuditKind::ClientCreated, "portal-b")),
        )
        .await
        .expect("created");
    let ids: Vec<String> = store
        .list_clients()
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.client_id.0)
        .collect();
    assert_eq!(ids, ["portal-a", "portal-b"]);
    assert!(
        store
            .client(&ClientId("nope".into()))
            .await
            .expect("read")
            .is_none()
    );
}

async fn clients_are_updated_and_deleted_with_audit(store: Arc<dyn Store>) {
    let c = client("portal-e");
    store
        .create_client(
            &c,
            Change::audited(&audit(AuditKind::ClientCreated, "portal-e")),
        )
        .await
        .expect("created");
    let mut changed = c.clone();
    changed.name = "Portal renombrado".into();
    changed
        .redirect_uris
        .push("https://otro.sence.cl/cb".into());
    changed.previous_secret_hash = c.secret_hash.clone();
    changed.previous_secret_expires = Some(now() + Duration::hours(1));
    changed.secret_hash = Some("sha256$new".into());
    changed.contacts = vec!["dev@sence.cl".into()];
    changed.logo_uri = Some("https://portal.sence.cl/logo.png".into());
    changed.client_uri = Some("https://portal.sence.cl".into());
    changed.backchannel_logout_uri = Some("https://portal.sence.cl/bcl".into());
    changed.registration_token_hash = Some("rat-hash".into());
    changed.jwks = Some(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#.into());
    changed.enabled = false;
    changed.updated_at = now() + Duration::seconds(1);
    store
        .update_client(
            &changed,
            Change::audited(&audit(AuditKind::ClientChanged, "portal-e")),
        )
        .await
        .expect("updated");
    assert_eq!(
        store.client(&c.client_id).await.expect("read"),
        Some(changed.clone())
    );
    let mut ghost = changed.clone();
    ghost.client_id = ClientId("ghost".into());
    assert!(matches!(
        store
            .update_client(
                &ghost,
                Change::audited(&audit(AuditKind::ClientChanged, "ghost"))
            )
            .await,
        Err(StoreError::NotFound("client"))
    ));
    assert!(
        store
            .delete_client(
                &c.client_id,
                Change::audited(&audit(AuditKind::ClientChanged, "portal-e"))
            )
            .await
            .expect("deleted")
    );
    assert!(
        !store
            .delete_client(
                &c.client_id,
                Change::audited(&audit(AuditKind::ClientChanged, "portal-e"))
            )
            .await
            .expect("deleted")
    );
    assert!(store.client(&c.client_id).await.expect("read").is_none());
    let trail = store
        .audit_events(&AuditFilter {
            subject: Some("portal-e".into()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    let kinds: Vec<&str> = trail.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["client_created", "client_changed", "client_changed"],
        "one event per change, none for a no-op"
    );
}

async fn initial_access_tokens_expire(store: Arc<dyn Store>) {
    let t0 = now();
    store
        .insert_initial_access_token("iat-hash", t0, t0 + Duration::hours(1))
        .await
        .expect("inserted");
    assert!(
        store
            .initial_access_token_valid("iat-hash", t0)
            .await
            .expect("read")
    );
    assert!(
        !store
            .initial_access_token_valid("iat-hash", t0 + Duration::hours(2))
            .await
            .expect("read")
    );
    assert!(
        !store
            .initial_access_token_valid("other", t0)
            .await
            .expect("read")
    );
}

async fn signing_keys_rotate_and_prune(store: Arc<dyn Store>) {
    let key = |kid: &str, at: OffsetDateTime| SigningKey {
        kid: kid.into(),
        alg: "RS256".into(),
        public_jwk: "{}".into(),
        private_sealed: "sealed".into(),
        created_at: at,
        active_from: at,
        retired_at: None,
    };
    let t0 = now();
    store.insert_key(&key("k1", t0)).await.expect("insert");
    store
        .insert_key(&key("k2", t0 + Duration::seconds(1)))
        .await
        .expect("insert");
    assert!(matches!(
        store.insert_key(&key("k1", t0)).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(
        store
            .retire_keys_except("RS256", "k2", t0 + Duration::seconds(2))
            .await
            .expect("retire"),
        1
    );
    let keys = store.keys().await.expect("list");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].retired_at, Some(t0 + Duration::seconds(2)));
    assert_eq!(keys[1].retired_at, None);
    assert!(store.delete_key("k1").await.expect("delete"));
    assert!(!store.delete_key("k1").await.expect("delete"));
    assert_eq!(store.keys().await.expect("list").len(), 1);
}

async fn audit_is_filtered_by_subject_and_time(store: Arc<dyn Store>) {
    let t0 = now();
    let mut old = audit(AuditKind::LoginFailed, "44444444-4");
    old.at = t0 - Duration::days(2);
    store.append_audit(&old).await.expect("append");
    store
        .append_audit(&audit(AuditKind::LoginSucceeded, "44444444-4"))
        .await
        .expect("append");
    let by_operator = audit(AuditKind::AccountCreated, "55555555-5").by("cli:jperez");
    store.append_audit(&by_operator).await.expect("append");
    let recent = store
        .audit_events(&AuditFilter {
            subject: Some("44444444-4".into()),
            since: Some(t0 - Duration::days(1)),
            ..AuditFilter::default()
        })
        .await
        .expect("read");
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].kind, "login_succeeded");
    let all = store
        .audit_events(&AuditFilter::default())
        .await
        .expect("read");
    assert_eq!(all.len(), 3);
    assert_eq!(all[2], by_operator, "the operator is kept");
    assert_eq!(all[1].operator, None);
}

/// A write from a copy read before a CUS change (a slow "Actualice sus datos", a rehash at
/// login) must not put the old CUS back: it is refused, and a fresh copy goes through.
async fn a_stale_copy_cannot_undo_a_cus_change(store: Arc<dyn Store>) {
    let new = created(store.as_ref(), "55.555.555-5").await;
    let (stale, stale_credentials) = store
        .account_by_rut(&new.account.rut)
        .await
        .expect("read")
        .expect("present");
    let later = now() + Duration::seconds(5);
    let mut changed = stale.clone();
    changed.tokens_valid_after = later;
    let owners = Credentials {
        cus_hash: "$argon2id$owner".into(),
        ..stale_credentials.clone()
    };
    store
        .update_account(
            &changed,
            &owners,
            Change::audited(&audit(AuditKind::CusChanged, "55555555-5"))
                .changing_cus(stale.tokens_valid_after, later),
        )
        .await
        .expect("the owner's change");
    // A CUS change from the same stale copy (a form opened before the owner's change) is
    // refused too: it would otherwise put its own CUS over the owner's.
    let mut racing = stale.clone();
    racing.tokens_valid_after = later + Duration::seconds(1);
    let raced = store
        .update_account(
            &racing,
            &Credentials {
                cus_hash: "$argon2id$intruder".into(),
                ..stale_credentials.clone()
            },
            Change::audited(&audit(AuditKind::CusChanged, "55555555-5"))
                .changing_cus(stale.tokens_valid_after, later + Duration::seconds(1)),
        )
        .await;
    assert!(matches!(raced, Err(StoreError::Conflict(_))), "{raced:?}");
    let mut from_stale = stale.clone();
    from_stale.email = "intruso@example.cl".into();
    let refused = store
        .update_account(
            &from_stale,
            &stale_credentials,
            Change::audited(&audit(AuditKind::DataUpdated, "55555555-5")),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let (current, credentials) = store
        .account_by_rut(&new.account.rut)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(
        credentials.cus_hash, "$argon2id$owner",
        "the owner's CUS stays"
    );
    assert_ne!(current.email, "intruso@example.cl");
    let mut fresh = current.clone();
    fresh.email = "nuevo@example.cl".into();
    store
        .update_account(
            &fresh,
            &credentials,
            Change::audited(&audit(AuditKind::DataUpdated, "55555555-5")),
        )
        .await
        .expect("a fresh copy is written");
}

/// Several nodes' workers claiming batches at once from many due messages: every message is
/// leased to exactly one of them (a citizen never gets the same new CUS twice).
async fn many_workers_lease_each_message_once(store: Arc<dyn Store>) {
    let messages: Vec<_> = (0..200)
        .map(|i| notification(&format!("persona{i}@example.cl")))
        .collect();
    store
        .create_account(
            &new_account("66.666.666-6"),
            Change::audited(&audit(AuditKind::AccountCreated, "66666666-6"))
                .with_notices(&messages),
        )
        .await
        .expect("created");
    let t0 = now();
    let workers = (0..6).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store
                    .claim_notifications(25, t0, Duration::seconds(60))
                    .await
                    .expect("claim");
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|s| s.notification.id));
            }
        })
    });
    let mut leased = Vec::new();
    for worker in workers {
        leased.extend(worker.await.expect("ran"));
    }
    let distinct: std::collections::HashSet<_> = leased.iter().collect();
    assert_eq!(distinct.len(), 200, "every message leased");
    assert_eq!(leased.len(), 200, "and none twice");
}

async fn outbox_delivers_pending_once(store: Arc<dyn Store>) {
    store
        .create_account(
            &new_account("66.666.666-6"),
            Change::audited(&audit(AuditKind::AccountCreated, "66666666-6"))
                .with_notices(&[notification("x@example.cl")]),
        )
        .await
        .expect("created");
    let lease = Duration::seconds(60);
    let t0 = now();
    // Concurrent workers: exactly one leases the message.
    let claims = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.claim_notifications(10, t0, lease).await })
    });
    let mut leased = Vec::new();
    for claim in claims {
        leased.extend(claim.await.expect("ran").expect("claim"));
    }
    assert_eq!(leased.len(), 1);
    let id = leased[0].notification.id;
    assert_eq!(leased[0].notification.recipient, "x@example.cl");
    assert!(
        store
            .claim_notifications(10, t0, lease)
            .await
            .expect("claim")
            .is_empty(),
        "leased"
    );
    // A failure makes it due again at the retry time, not before.
    store
        .mark_failed(id, "smtp down", t0 + Duration::seconds(30))
        .await
        .expect("failed");
    assert!(
        store
            .claim_notifications(10, t0 + Duration::seconds(10), lease)
            .await
            .expect("claim")
            .is_empty()
    );
    let again = store
        .claim_notifications(10, t0 + Duration::seconds(31), lease)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    store.mark_sent(id, now()).await.expect("sent");
    assert!(
        store
            .pending_notifications(10)
            .await
            .expect("read")
            .is_empty()
    );
    assert!(
        store
            .claim_notifications(10, t0 + Duration::hours(1), lease)
            .await
            .expect("claim")
            .is_empty()
    );
}

async fn abandoned_notices_are_never_claimed(store: Arc<dyn Store>) {
    let gone = notification("+56911111111");
    let kept = notification("+56922222222");
    store
        .queue_notifications(&[gone.clone(), kept.clone()])
        .await
        .expect("queued");
    store
        .mark_abandoned(gone.id, now(), "abandoned: too old")
        .await
        .expect("abandoned");
    let pending = store.pending_notifications(10).await.expect("read");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].notification.id, kept.id);
    let claimed = store
        .claim_notifications(10, now() + Duration::days(30), Duration::seconds(60))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].notification.id, kept.id);
}

async fn the_backlog_counts_waiting_messages_per_channel(store: Arc<dyn Store>) {
    assert!(store.outbox_backlog().await.expect("read").is_empty());
    let t0 = now();
    let queued = |to: &str, channel: Channel, minutes_ago: i64| Notification {
        channel,
        created_at: t0 - Duration::minutes(minutes_ago),
        ..notification(to)
    };
    let oldest_mail = queued("ana@example.cl", Channel::Email, 30);
    let sent_mail = queued("ana@example.cl", Channel::Email, 90);
    let abandoned_sms = queued("+56911111111", Channel::Sms, 120);
    store
        .queue_notifications(&[
            oldest_mail.clone(),
            queued("luis@example.cl", Channel::Email, 5),
            sent_mail.clone(),
            queued("+56922222222", Channel::Sms, 10),
            abandoned_sms.clone(),
        ])
        .await
        .expect("queued");
    store.mark_sent(sent_mail.id, t0).await.expect("sent");
    store
        .mark_abandoned(abandoned_sms.id, t0, "abandoned: too old")
        .await
        .expect("abandoned");
    let backlog = store.outbox_backlog().await.expect("read");
    let summary: Vec<_> = backlog
        .iter()
        .map(|b| (b.channel.as_str(), b.pending, b.oldest))
        .collect();
    assert_eq!(
        summary,
        [
            ("email", 2, oldest_mail.created_at),
            ("sms", 1, t0 - Duration::minutes(10)),
        ],
        "sent and abandoned messages are not waiting"
    );
    let pool = store.pool_usage();
    assert!(pool.open >= 1 && pool.idle <= pool.open && pool.open <= pool.max);
}

async fn deliveries_show_each_state_and_keep_no_delivered_body(store: Arc<dyn Store>) {
    let sent = notification("ana@example.cl");
    let failing = notification("+56933333333");
    let abandoned = notification("+56944444444");
    let waiting = notification("ana@example.cl");
    store
        .queue_notifications(&[
            sent.clone(),
            failing.clone(),
            abandoned.clone(),
            waiting.clone(),
        ])
        .await
        .expect("queued");
    let t = now();
    store.mark_sent(sent.id, t).await.expect("sent");
    store
        .mark_failed(failing.id, "gateway said 500", t + Duration::seconds(10))
        .await
        .expect("failed");
    store
        .mark_abandoned(abandoned.id, t, "abandoned: too old")
        .await
        .expect("abandoned");
    let all = store.deliveries(None, 10).await.expect("read");
    assert_eq!(all.len(), 4);
    let of = |id: Uuid| all.iter().find(|d| d.id == id).expect("listed");
    assert_eq!(of(sent.id).sent_at, Some(t));
    assert!(!of(sent.id).body_kept, "a delivered body is not kept");
    assert_eq!(of(failing.id).attempts, 1);
    assert_eq!(
        of(failing.id).last_error.as_deref(),
        Some("gateway said 500")
    );
    assert!(of(failing.id).body_kept);
    assert_eq!(of(abandoned.id).abandoned_at, Some(t));
    assert!(!of(abandoned.id).body_kept);
    assert!(of(waiting.id).sent_at.is_none() && of(waiting.id).body_kept);
    let anas = store
        .deliveries(Some("ana@example.cl"), 10)
        .await
        .expect("read");
    assert_eq!(anas.len(), 2);
    assert!(anas.iter().all(|d| d.recipient == "ana@example.cl"));
    assert_eq!(store.deliveries(None, 1).await.expect("read").len(), 1);
}

async fn notices_queue_on_their_own_all_or_none(store: Arc<dyn Store>) {
    let first = Notification::logout("portal-a", "sid-1", "sub-1", now());
    let second = Notification {
        sealed: true,
        body: "eyJhbGciOiJkaXIi.sealed".into(),
        ..notification("+56912345678")
    };
    // A repeated id fails the batch: the first notice is not left behind alone.
    let err = store
        .queue_notifications(&[first.clone(), first.clone()])
        .await;
    assert!(err.is_err());
    assert!(
        store
            .pending_notifications(10)
            .await
            .expect("read")
            .is_empty()
    );
    store
        .queue_notifications(&[first.clone(), second.clone()])
        .await
        .expect("queued");
    let mut pending: Vec<Notification> = store
        .pending_notifications(10)
        .await
        .expect("read")
        .into_iter()
        .map(|p| p.notification)
        .collect();
    pending.sort_by_key(|n| n.channel != Channel::Logout);
    assert_eq!(
        pending,
        [first, second],
        "channel and sealed body round-trip"
    );
}

async fn consent_is_granted_and_withdrawn(store: Arc<dyn Store>) {
    let consent = person_and_portal(&store, "77.777.777-7", "portal-c").await;
    let (account, c) = (consent.account_id, client("portal-c"));
    store
        .grant_consent(
            &consent,
            Change::audited(&audit(AuditKind::ConsentGiven, "portal-c")),
        )
        .await
        .expect("granted");
    let wider = Consent {
        scopes: vec!["openid".into(), "run".into(), "email".into()],
        ..consent.clone()
    };
    store
        .grant_consent(
            &wider,
            Change::audited(&audit(AuditKind::ConsentGiven, "portal-c")),
        )
        .await
        .expect("granted again");
    assert_eq!(
        store.consent(account, &c.client_id).await.expect("read"),
        Some(wider.clone())
    );
    // The portal holds a refresh token from the person's login; another portal too.
    let other = client("portal-c2");
    store
        .create_client(
            &other,
            Change::audited(&audit(AuditKind::ClientCreated, "portal-c2")),
        )
        .await
        .expect("created");
    for (hash, client_id) in [("of-c", &c.client_id), ("of-c2", &other.client_id)] {
        store
            .insert_refresh_token(&RefreshToken {
                token_hash: hash.into(),
                family_id: Uuid::now_v7(),
                account_id: account,
                client_id: client_id.clone(),
                grant_json: "{}".into(),
                created_at: now(),
                expires_at: now() + Duration::days(1),
                rotated_at: None,
                revoked_at: None,
            })
            .await
            .expect("insert");
    }
    assert!(
        store
            .withdraw_consent(
                account,
                &c.client_id,
                Change::audited(&audit(AuditKind::ConsentWithdrawn, "portal-c"))
                    .revoking_tokens_at(now()),
            )
            .await
            .expect("withdrawn")
    );
    let revoked = |hash: &'static str| {
        let store = store.clone();
        async move {
            store
                .refresh_token(hash)
                .await
                .expect("read")
                .expect("present")
                .revoked_at
                .is_some()
        }
    };
    assert!(
        revoked("of-c").await,
        "the portal's refresh tokens end with the consent"
    );
    assert!(!revoked("of-c2").await, "another portal's do not");
    assert!(
        store
            .consent(account, &c.client_id)
            .await
            .expect("read")
            .is_none()
    );
}

/// An account and a client, created with their own audit events, to consent between.
async fn person_and_portal(store: &Arc<dyn Store>, rut: &str, client_id: &str) -> Consent {
    let new = new_account(rut);
    let subject = new.account.rut.compact();
    store
        .create_account(
            &new,
            Change::audited(&audit(AuditKind::AccountCreated, &subject)),
        )
        .await
        .expect("created");
    let c = client(client_id);
    store
        .create_client(
            &c,
            Change::audited(&audit(AuditKind::ClientCreated, client_id)),
        )
        .await
        .expect("created");
    Consent {
        account_id: new.account.id,
        client_id: c.client_id,
        scopes: vec!["openid".into(), "run".into()],
        granted_at: now(),
    }
}

/// The audit trail of one subject, oldest first.
async fn trail(store: &Arc<dyn Store>, subject: &str) -> Vec<AuditEvent> {
    store
        .audit_events(&AuditFilter {
            subject: Some(subject.into()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit")
}

/// A consent and the audit event that records it are one write: both are there when the
/// call returns, and a grant that fails (a client that does not exist) leaves no event of
/// a consent that never happened.
async fn a_consent_and_its_audit_event_are_written_together(store: Arc<dyn Store>) {
    let consent = person_and_portal(&store, "12.121.212-9", "portal-g").await;
    let mut given = audit(AuditKind::ConsentGiven, "portal-g");
    given.detail = Some(format!("account {} scopes openid run", consent.account_id));
    store
        .grant_consent(&consent, Change::audited(&given))
        .await
        .expect("granted");
    assert_eq!(
        store
            .consent(consent.account_id, &consent.client_id)
            .await
            .expect("read"),
        Some(consent.clone())
    );
    let events = trail(&store, "portal-g").await;
    assert_eq!(
        events.last(),
        Some(&given),
        "the consent's event is written"
    );
    assert_eq!(events.len(), 2, "client creation, then the consent");

    let to_nobody = Consent {
        client_id: ClientId("portal-ghost".into()),
        ..consent.clone()
    };
    let refused = store
        .grant_consent(
            &to_nobody,
            Change::audited(&audit(AuditKind::ConsentGiven, "portal-ghost")),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Database(_))),
        "{refused:?}"
    );
    assert!(
        trail(&store, "portal-ghost").await.is_empty(),
        "no event of a consent that was not written"
    );
}

/// Withdrawing a consent deletes it, revokes the portal's refresh tokens and writes its
/// audit event in one transaction; withdrawing one that is not there writes no event. The
/// tokens end at the change's revocation time, or at its event's time when it names none.
async fn a_withdrawal_and_its_audit_event_are_written_together(store: Arc<dyn Store>) {
    let consent = person_and_portal(&store, "13.131.313-6", "portal-w").await;
    let token = |hash: &str| RefreshToken {
        token_hash: hash.into(),
        family_id: Uuid::now_v7(),
        account_id: consent.account_id,
        client_id: consent.client_id.clone(),
        grant_json: "{}".into(),
        created_at: now(),
        expires_at: now() + Duration::days(1),
        rotated_at: None,
        revoked_at: None,
    };
    let granted = audit(AuditKind::ConsentGiven, "portal-w");
    for (hash, revoke_at) in [
        ("rt-w1", Some(now() + Duration::seconds(3))),
        ("rt-w2", None),
    ] {
        store
            .grant_consent(&consent, Change::audited(&granted))
            .await
            .expect("granted");
        store
            .insert_refresh_token(&token(hash))
            .await
            .expect("refresh token");
        let mut withdrawn = audit(AuditKind::ConsentWithdrawn, "portal-w");
        withdrawn.at += Duration::seconds(1);
        let change = Change {
            revoke_tokens_at: revoke_at,
            ..Change::audited(&withdrawn)
        };
        assert!(
            store
                .withdraw_consent(consent.account_id, &consent.client_id, change)
                .await
                .expect("withdrawn")
        );
        assert!(
            store
                .consent(consent.account_id, &consent.client_id)
                .await
                .expect("read")
                .is_none()
        );
        assert_eq!(
            trail(&store, "portal-w").await.last(),
            Some(&withdrawn),
            "the withdrawal's event is written"
        );
        let revoked = store
            .refresh_token(hash)
            .await
            .expect("read")
            .expect("present");
        assert_eq!(revoked.revoked_at, Some(revoke_at.unwrap_or(withdrawn.at)));
    }

    let before = trail(&store, "portal-w").await.len();
    assert!(
        !store
            .withdraw_consent(
                consent.account_id,
                &consent.client_id,
                Change::audited(&audit(AuditKind::ConsentWithdrawn, "portal-w")),
            )
            .await
            .expect("nothing to withdraw")
    );
    assert_eq!(
        trail(&store, "portal-w").await.len(),
        before,
        "no event for a consent that was not there"
    );
}

async fn refresh_tokens_rotate_once_and_revoke_by_family(store: Arc<dyn Store>) {
    let new = created(store.as_ref(), "88.888.888-8").await;
    let c = client("portal-d");
    store
        .create_client(
            &c,
            Change::audited(&audit(AuditKind::ClientCreated, "portal-d")),
        )
        .await
        .expect("created");
    let family = Uuid::now_v7();
    let token = |hash: &str| RefreshToken {
        token_hash: hash.into(),
        family_id: family,
        account_id: new.account.id,
        client_id: c.client_id.clone(),
        grant_json: "{}".into(),
        created_at: now(),
        expires_at: now() + Duration::days(1),
        rotated_at: None,
        revoked_at: None,
    };
    let h1 = token("h1");
    store.insert_refresh_token(&h1).await.expect("insert");
    assert_eq!(store.refresh_token("h1").await.expect("read"), Some(h1));
    // Of concurrent rotations exactly one wins.
    let racers = (0..20).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.rotate_refresh_token("h1", now()).await })
    });
    let mut won = 0;
    for r in racers {
        if r.await.expect("ran").expect("rotated") {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    store
        .insert_refresh_token(&token("h2"))
        .await
        .expect("insert");
    assert_eq!(
        store
            .revoke_refresh_family(family, now())
            .await
            .expect("revoke"),
        2
    );
    let h2 = store
        .refresh_token("h2")
        .await
        .expect("read")
        .expect("present");
    assert!(h2.revoked_at.is_some());
    assert!(
        !store
            .rotate_refresh_token("h2", now())
            .await
            .expect("rotate")
    );
    assert_eq!(
        store
            .revoke_account_refresh_tokens(new.account.id, now())
            .await
            .expect("revoke"),
        0,
        "already revoked"
    );
}

/// A KEK change reseals every key and every waiting sealed message at once; an unknown kid
/// undoes the whole change, and a delivered message (no body left) stays empty.
async fn a_kek_change_reseals_keys_and_waiting_messages_together(store: Arc<dyn Store>) {
    let key = |kid: &str| SigningKey {
        kid: kid.into(),
        alg: "ES256".into(),
        public_jwk: "{}".into(),
        private_sealed: format!("old-{kid}"),
        created_at: now(),
        active_from: now(),
        retired_at: None,
    };
    store.insert_key(&key("k1")).await.expect("insert");
    store.insert_key(&key("k2")).await.expect("insert");
    let sealed = |to: &str| Notification {
        sealed: true,
        body: format!("old-{to}"),
        ..notification(to)
    };
    let (waiting, delivered, plain) = (
        sealed("+56911111111"),
        sealed("+56922222222"),
        notification("maria@example.cl"),
    );
    store
        .queue_notifications(&[waiting.clone(), delivered.clone(), plain.clone()])
        .await
        .expect("queued");
    store.mark_sent(delivered.id, now()).await.expect("sent");
    let sealed_keys = |store: Arc<dyn Store>| async move {
        let mut keys: Vec<String> = store
            .keys()
            .await
            .expect("keys")
            .into_iter()
            .map(|k| k.private_sealed)
            .collect();
        keys.sort();
        keys
    };
    let bodies = |store: Arc<dyn Store>| async move {
        let mut bodies: Vec<String> = store
            .pending_notifications(10)
            .await
            .expect("pending")
            .into_iter()
            .map(|n| n.notification.body)
            .collect();
        bodies.sort();
        bodies
    };

    let keys = [("k1", "new-k1"), ("k9", "new-k9")].map(|(k, v)| (k.to_owned(), v.to_owned()));
    let messages = [(waiting.id, "new-waiting".to_owned())];
    assert!(matches!(
        store.reseal(&keys, &messages).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(sealed_keys(store.clone()).await, ["old-k1", "old-k2"]);
    assert_eq!(
        bodies(store.clone()).await,
        ["Su cuenta fue creada.", "old-+56911111111"]
    );

    let keys = [("k1", "new-k1"), ("k2", "new-k2")].map(|(k, v)| (k.to_owned(), v.to_owned()));
    let messages = [
        (waiting.id, "new-waiting".to_owned()),
        (delivered.id, "new-delivered".to_owned()),
        (plain.id, "new-plain".to_owned()),
    ];
    store.reseal(&keys, &messages).await.expect("resealed");
    assert_eq!(sealed_keys(store.clone()).await, ["new-k1", "new-k2"]);
    assert_eq!(
        bodies(store.clone()).await,
        ["Su cuenta fue creada.", "new-waiting"],
        "only the waiting sealed message"
    );
    let kept: Vec<bool> = store
        .deliveries(Some("+56922222222"), 10)
        .await
        .expect("deliveries")
        .iter()
        .map(|d| d.body_kept)
        .collect();
    assert_eq!(kept, [false], "a delivered message gets no body back");
}
