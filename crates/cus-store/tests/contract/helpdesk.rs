//! The help desk's store methods: disabling and enabling an account, deleting it, and the
//! searches. On both backends, like the rest of the contract.

use std::sync::Arc;

use cus_core::audit::AuditKind;
use cus_core::{AccountId, Rut};
use cus_store::{AccountSearch, Change, RefreshToken, Store};
use time::Duration;
use uuid::Uuid;

use super::{audit, client, created, new_account, now, person_and_portal, trail};

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(crate::backends::sqlite().await).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(crate::backends::postgres().await).await })*
        }
    };
}

contract!(
    disabling_ends_tokens_with_its_event_and_enabling_keeps_them_ended,
    an_account_update_never_enables_a_disabled_account,
    deleting_takes_consents_and_tokens_and_keeps_the_trail,
    accounts_are_found_by_email_mobile_and_name_prefix,
);

async fn live_token(store: &Arc<dyn Store>, account: AccountId, client_id: &str, hash: &str) {
    store
        .insert_refresh_token(&RefreshToken {
            token_hash: hash.into(),
            family_id: Uuid::now_v7(),
            account_id: account,
            client_id: cus_core::ClientId(client_id.into()),
            grant_json: "{}".into(),
            created_at: now(),
            expires_at: now() + Duration::days(1),
            rotated_at: None,
            revoked_at: None,
        })
        .await
        .expect("inserted");
}

async fn disabling_ends_tokens_with_its_event_and_enabling_keeps_them_ended(store: Arc<dyn Store>) {
    let consent = person_and_portal(&store, "12.345.678-5", "portal-h").await;
    let id = consent.account_id;
    live_token(&store, id, "portal-h", "hd1").await;
    let rut = Rut::parse("12.345.678-5").expect("valid");
    let (account, mut credentials) = store
        .account_by_rut(&rut)
        .await
        .expect("read")
        .expect("there");
    credentials.pending_cus_hash = Some("$argon2id$generated".into());
    credentials.pending_cus_expires = Some(now() + Duration::days(7));
    store
        .update_account(
            &account,
            &credentials,
            Change::audited(&audit(AuditKind::CusGenerated, "12345678-5")),
        )
        .await
        .expect("a CUS generated");
    let at = now() + Duration::seconds(1);
    let event = audit(AuditKind::AccountDisabled, "12345678-5").by("cli:ana");
    let disabled = store
        .disable_account(id, at, Change::audited(&event).revoking_tokens_at(at))
        .await
        .expect("disabled");
    assert!(disabled);
    let account = store.account_by_id(id).await.expect("read").expect("there");
    assert_eq!(account.disabled_at, Some(at));
    assert!(!account.usable());
    assert_eq!(account.tokens_valid_after, at, "sessions from before end");
    let (_, credentials) = store
        .account_by_rut(&rut)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        (
            credentials.pending_cus_hash,
            credentials.pending_cus_expires
        ),
        (None, None),
        "the generated CUS is cancelled"
    );
    let token = store
        .refresh_token("hd1")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(token.revoked_at, Some(at));
    let events = trail(&store, "12345678-5").await;
    let last = events.last().expect("an event");
    assert_eq!(
        (last.kind, last.operator.as_deref()),
        (AuditKind::AccountDisabled, Some("cli:ana"))
    );

    let later = at + Duration::seconds(1);
    let enable = audit(AuditKind::AccountEnabled, "12345678-5");
    assert!(
        store
            .enable_account(id, later, Change::audited(&enable))
            .await
            .expect("enabled")
    );
    let account = store.account_by_id(id).await.expect("read").expect("there");
    assert!(account.usable());
    assert_eq!(account.tokens_valid_after, at, "what ended stays ended");
    let token = store
        .refresh_token("hd1")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(token.revoked_at, Some(at));

    // An unknown account: nothing happens, no event.
    let before = trail(&store, "12345678-5").await.len();
    let nobody = AccountId(Uuid::now_v7());
    assert!(
        !store
            .disable_account(nobody, at, Change::audited(&event))
            .await
            .expect("ran")
    );
    assert!(
        !store
            .enable_account(nobody, at, Change::audited(&enable))
            .await
            .expect("ran")
    );
    assert_eq!(trail(&store, "12345678-5").await.len(), before);
}

/// `disabled_at` is written only by disable and enable: a copy read before the account was
/// disabled, saved afterwards, leaves it disabled.
async fn an_account_update_never_enables_a_disabled_account(store: Arc<dyn Store>) {
    let new = created(store.as_ref(), "11.111.111-1").await;
    let (stale, credentials) = store
        .account_by_rut(&new.account.rut)
        .await
        .expect("read")
        .expect("there");
    let at = now();
    let event = audit(AuditKind::AccountDisabled, "11111111-1");
    store
        .disable_account(stale.id, at, Change::audited(&event))
        .await
        .expect("disabled");
    let (fresh, _) = store
        .account_by_rut(&new.account.rut)
        .await
        .expect("read")
        .expect("there");
    let mut changed = fresh.clone();
    changed.disabled_at = None;
    changed.telefono_particular = Some("+56221234567".into());
    store
        .update_account(
            &changed,
            &credentials,
            Change::audited(&audit(AuditKind::DataUpdated, "11111111-1")),
        )
        .await
        .expect("updated");
    let read = store
        .account_by_id(stale.id)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(read.telefono_particular.as_deref(), Some("+56221234567"));
    assert_eq!(read.disabled_at, Some(at));
}

async fn deleting_takes_consents_and_tokens_and_keeps_the_trail(store: Arc<dyn Store>) {
    let consent = person_and_portal(&store, "22.222.222-2", "portal-i").await;
    let id = consent.account_id;
    store
        .grant_consent(
            &consent,
            Change::audited(&audit(AuditKind::ConsentGiven, "22222222-2")),
        )
        .await
        .expect("granted");
    live_token(&store, id, "portal-i", "hd2").await;
    let event = audit(AuditKind::AccountDeleted, "22222222-2").by("client:mesa/ana");
    assert!(
        store
            .delete_account(id, Change::audited(&event))
            .await
            .expect("deleted")
    );
    assert_eq!(store.account_by_id(id).await.expect("read"), None);
    let rut = Rut::parse("22.222.222-2").expect("valid");
    assert!(store.account_by_rut(&rut).await.expect("read").is_none());
    assert!(store.consents_of(id).await.expect("read").is_empty());
    assert_eq!(store.refresh_token("hd2").await.expect("read"), None);
    let kinds: Vec<_> = trail(&store, "22222222-2")
        .await
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            AuditKind::AccountCreated,
            AuditKind::ConsentGiven,
            AuditKind::AccountDeleted
        ]
    );
    // The client and its other data are untouched; deleting again finds nothing.
    assert!(
        store
            .client(&client("portal-i").client_id)
            .await
            .expect("read")
            .is_some()
    );
    assert!(
        !store
            .delete_account(id, Change::audited(&event))
            .await
            .expect("ran")
    );
}

async fn accounts_are_found_by_email_mobile_and_name_prefix(store: Arc<dyn Store>) {
    let people = [
        (
            "12.345.678-5",
            "Gonzalez",
            "Ana",
            "Ana@Example.cl",
            "+56911111111",
        ),
        (
            "11.111.111-1",
            "Gonzaga",
            "Luis",
            "luis@example.cl",
            "+56922222222",
        ),
        (
            "22.222.222-2",
            "Goñi",
            "Rosa",
            "rosa@example.cl",
            "+56933333333",
        ),
        (
            "33.333.333-3",
            "Perez",
            "Gonzalo",
            "gp@example.cl",
            "+56944444444",
        ),
    ];
    for (rut, apellido, nombres, email, celular) in people {
        let mut new = new_account(rut);
        new.account.apellido_paterno = apellido.into();
        new.account.nombres = nombres.into();
        new.account.email = email.into();
        new.account.celular = Some(celular.into());
        store
            .create_account(
                &new,
                Change::audited(&audit(AuditKind::AccountCreated, rut)),
            )
            .await
            .expect("created");
    }
    let ruts = |found: Vec<cus_core::Account>| -> Vec<String> {
        found.iter().map(|a| a.rut.compact()).collect()
    };
    let find = |by: AccountSearch, limit: u32| {
        let store = store.clone();
        async move { store.find_accounts(&by, limit).await.expect("found") }
    };
    assert_eq!(
        ruts(find(AccountSearch::Email("ana@example.CL".into()), 10).await),
        ["12345678-5"],
        "e-mail ignores case"
    );
    assert_eq!(
        ruts(find(AccountSearch::Celular("+56922222222".into()), 10).await),
        ["11111111-1"]
    );
    assert!(
        find(AccountSearch::Celular("+56900000000".into()), 10)
            .await
            .is_empty()
    );
    // "gonz" starts two apellidos and one first name, not "Goñi".
    assert_eq!(
        ruts(find(AccountSearch::NamePrefix("GONZ".into()), 10).await),
        ["11111111-1", "12345678-5", "33333333-3"]
    );
    assert_eq!(
        ruts(find(AccountSearch::NamePrefix("goñ".into()), 10).await),
        ["22222222-2"]
    );
    assert_eq!(
        find(AccountSearch::NamePrefix("gonz".into()), 2)
            .await
            .len(),
        2
    );
    assert!(
        find(AccountSearch::NamePrefix("x".into()), 10)
            .await
            .is_empty()
    );
}
