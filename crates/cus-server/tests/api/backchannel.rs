//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0), on both backends: when a
//! session ends — by logout, or because a new CUS ends them all — every portal it signed
//! in to that has a `backchannel_logout_uri` receives a logout token it can verify with
//! the JWKS; a portal that fails is retried; one without the URI is not called.

use crate::helpers::backchannel::{
    deliver, logout_notices, portal, sign_in_claims, verified_logout_token,
};
use crate::helpers::fakes::portal_endpoints;
use crate::helpers::forms::{open_form, post};
use crate::helpers::{Backend, CUS, REDIRECT, RUT, TestApp, on_both_backends, outbox};

on_both_backends!(
    logout_tells_every_portal_of_the_session,
    a_new_cus_tells_the_portals_of_every_session,
    a_new_login_in_the_browser_ends_its_old_session,
);

async fn logout_tells_every_portal_of_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (endpoints, received) = portal_endpoints().await;
    app.account().await;
    let a = portal(&app, Some(format!("{endpoints}/a"))).await;
    let b = portal(&app, Some(format!("{endpoints}/b"))).await;
    let silent = portal(&app, None).await;
    let broken = portal(&app, Some(format!("{endpoints}/broken"))).await;
    let browser = app.browser();
    let (id_a, hint) = sign_in_claims(&app, &browser, &a).await;
    let (id_b, _) = sign_in_claims(&app, &browser, &b).await;
    sign_in_claims(&app, &browser, &silent).await;
    sign_in_claims(&app, &browser, &broken).await;
    assert_eq!(id_a["sid"], id_b["sid"], "one SSO session");
    // Someone else's session is not touched.
    let other_browser = app.browser();
    sign_in_claims(&app, &other_browser, &a).await;

    let response = browser
        .get(app.url(&format!("/end_session?id_token_hint={hint}")))
        .send()
        .await
        .expect("logout");
    assert!(response.status().is_success() || response.status().is_redirection());
    let mut expected = vec![a.id.clone(), b.id.clone(), broken.id.clone()];
    expected.sort();
    assert_eq!(logout_notices(&outbox(&app).await), expected);

    assert_eq!(deliver(&app).await, 2, "a and b; broken failed");
    let mut received = received.lock().expect("lock").clone();
    received.sort();
    assert_eq!(
        received.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    for ((_, token), client) in received.iter().zip([&a, &b]) {
        let claims = verified_logout_token(&app, token, &client.id).await;
        assert_eq!(claims["sid"], id_a["sid"]);
        assert_eq!(claims["sub"], id_a["sub"]);
    }
    // The failed notice waits for its retry, its attempt counted.
    let pending = app.pending().await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].notification.recipient, broken.id);
    assert_eq!(pending[0].attempts, 1);
    assert_eq!(deliver(&app).await, 0, "not due before its backoff");
}

async fn a_new_cus_tells_the_portals_of_every_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (endpoints, received) = portal_endpoints().await;
    app.account().await;
    let a = portal(&app, Some(format!("{endpoints}/a"))).await;
    let b = portal(&app, Some(format!("{endpoints}/b"))).await;
    let (at_work, _) = sign_in_claims(&app, &app.browser(), &a).await;
    let (at_home, _) = sign_in_claims(&app, &app.browser(), &b).await;
    assert_ne!(at_work["sid"], at_home["sid"], "two sessions");

    app.clock.advance(1);
    let browser = app.browser();
    let form = open_form(&app, &browser, "/natural/cambiar").await;
    let (status, page) = post(
        &app,
        &browser,
        "/natural/cambiar",
        &[
            ("csrf", form.csrf.clone()),
            ("captcha_id", form.captcha_id.clone()),
            ("captcha", form.captcha.clone()),
            ("rut", RUT.into()),
            ("cus", CUS.into()),
            ("cus_nueva", "otra clave bien larga".into()),
            ("cus_repetida", "otra clave bien larga".into()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let mut expected = vec![a.id.clone(), b.id.clone()];
    expected.sort();
    assert_eq!(logout_notices(&outbox(&app).await), expected);

    // The e-mail telling of the change, and both notices.
    assert_eq!(deliver(&app).await, 3);
    let received = received.lock().expect("lock").clone();
    assert_eq!(received.len(), 2);
    for (name, token) in &received {
        let (client, session) = if name == "a" {
            (&a, &at_work)
        } else {
            (&b, &at_home)
        };
        let claims = verified_logout_token(&app, token, &client.id).await;
        assert_eq!(claims["sid"], session["sid"]);
        assert_eq!(claims["sub"], session["sub"]);
    }
}

async fn a_new_login_in_the_browser_ends_its_old_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (endpoints, received) = portal_endpoints().await;
    app.account().await;
    let a = portal(&app, Some(format!("{endpoints}/a"))).await;
    let browser = app.browser();
    let (first, _) = sign_in_claims(&app, &browser, &a).await;
    // Someone signs in again at the same browser (`prompt=login` shows the form).
    let again = app.url(&format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={REDIRECT}&scope=openid\
         &state=s&prompt=login",
        a.id
    ));
    app.browse_to_callback(&browser, &again, RUT, CUS).await;
    assert_eq!(
        logout_notices(&outbox(&app).await),
        std::slice::from_ref(&a.id)
    );
    assert_eq!(deliver(&app).await, 1);
    let received = received.lock().expect("lock").clone();
    assert_eq!(received.len(), 1);
    let claims = verified_logout_token(&app, &received[0].1, &a.id).await;
    assert_eq!(
        claims["sid"], first["sid"],
        "the old session, not the new one"
    );
}
