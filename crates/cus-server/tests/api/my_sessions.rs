//! "Mis sesiones", on both backends: a signed-in person sees their live sessions (when,
//! browser, network, the portals each signed in to) and ends one or all the others; the
//! portals of an ended session get a back-channel logout notice, and this browser's
//! session stays.

use crate::helpers::backchannel::{logout_notices, portal, sign_in_claims};
use crate::helpers::browse::sign_in;
use crate::helpers::fakes::portal_endpoints;
use crate::helpers::html::{html_of, input_value, location};
use crate::helpers::{Backend, CUS, RUT, TestApp, on_both_backends, outbox};

on_both_backends!(
    another_session_is_listed_and_ended_with_its_portals_told,
    all_other_sessions_end_and_this_one_stays,
    the_page_needs_a_session_and_ends_only_the_persons_own,
);

/// The status of `/mis-sesiones` for `browser`, and the page when it is shown.
async fn sessions_page(app: &TestApp, browser: &reqwest::Client) -> (u16, String) {
    let response = browser
        .get(app.url("/mis-sesiones"))
        .send()
        .await
        .expect("page");
    let status = response.status().as_u16();
    (status, response.text().await.expect("html"))
}

async fn another_session_is_listed_and_ended_with_its_portals_told(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (endpoints, _) = portal_endpoints().await;
    app.account().await;
    let told = portal(&app, Some(format!("{endpoints}/a"))).await;
    let at_work = app.browser();
    sign_in_claims(&app, &at_work, &told).await;
    let here = app.browser();
    sign_in(&app, &here, RUT, CUS).await;

    let (status, html) = sessions_page(&app, &here).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(html.matches("<h2>").count(), 2, "two sessions: {html}");
    assert_eq!(html.matches("Este navegador").count(), 1);
    assert!(
        html.contains("<dd>Portal</dd>"),
        "the portal it signed in to: {html}"
    );
    assert!(html.contains("<dd>red 127.0.0.0/24</dd>"), "{html}");
    assert!(
        !html.contains("(aprox.)") && !html.contains("según"),
        "no GeoIP database: no place, no credit line"
    );
    assert!(
        html.contains("Ninguno todavía"),
        "this one signed in to no portal yet"
    );

    let form = [
        ("csrf", input_value(&html, "csrf").expect("csrf")),
        (
            "sesion",
            input_value(&html, "sesion").expect("the other one's handle"),
        ),
    ];
    let response = here
        .post(app.url("/mis-sesiones/cerrar"))
        .form(&form)
        .send()
        .await
        .expect("end");
    assert_eq!(location(&response), "/mis-sesiones");
    assert_eq!(logout_notices(&outbox(&app).await), vec![told.id]);
    let (status, _) = sessions_page(&app, &at_work).await;
    assert_eq!(status, 303, "the other browser is signed out");
    let (_, html) = sessions_page(&app, &here).await;
    assert_eq!(html.matches("<h2>").count(), 1, "{html}");
    assert!(!html.contains("cerrar-otras"), "no others left to end");
}

async fn all_other_sessions_end_and_this_one_stays(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let others = [app.browser(), app.browser()];
    for browser in &others {
        sign_in(&app, browser, RUT, CUS).await;
    }
    let here = app.browser();
    sign_in(&app, &here, RUT, CUS).await;
    let (_, html) = sessions_page(&app, &here).await;
    assert_eq!(html.matches("<h2>").count(), 3, "{html}");
    let csrf = input_value(&html, "csrf").expect("csrf");
    let response = here
        .post(app.url("/mis-sesiones/cerrar-otras"))
        .form(&[("csrf", csrf)])
        .send()
        .await
        .expect("end others");
    assert_eq!(location(&response), "/mis-sesiones");
    for browser in &others {
        assert_eq!(sessions_page(&app, browser).await.0, 303);
    }
    let (status, html) = sessions_page(&app, &here).await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("<h2>").count(), 1, "{html}");
    assert!(html.contains("Este navegador"));
}

async fn the_page_needs_a_session_and_ends_only_the_persons_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let stranger = app.browser();
    let (status, _) = sessions_page(&app, &stranger).await;
    assert_eq!(status, 303, "signed out: to the login page");

    let here = app.browser();
    sign_in(&app, &here, RUT, CUS).await;
    let other = app.browser();
    sign_in(&app, &other, RUT, CUS).await;
    let html = html_of(&here, app.url("/mis-sesiones")).await;
    let csrf = input_value(&html, "csrf").expect("csrf");
    // A handle that names no session of this person ends nothing.
    let response = here
        .post(app.url("/mis-sesiones/cerrar"))
        .form(&[("csrf", csrf.as_str()), ("sesion", "no-es-una-sesion")])
        .send()
        .await
        .expect("end");
    assert_eq!(location(&response), "/mis-sesiones");
    assert_eq!(sessions_page(&app, &other).await.0, 200);
    // Without the page's CSRF token, nothing happens.
    let handle = input_value(&html, "sesion").expect("handle");
    let forged = here
        .post(app.url("/mis-sesiones/cerrar"))
        .form(&[("sesion", handle.as_str())])
        .send()
        .await
        .expect("end");
    assert!(forged.status().is_client_error(), "{}", forged.status());
    assert_eq!(sessions_page(&app, &other).await.0, 200);
}
