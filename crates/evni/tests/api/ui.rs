//! The dashboard over HTTP (no browser): login cookie, CSRF, tenancy,
//! scopes and form errors. tests/ui.rs drives the same pages in Chromium.

use reqwest::{header, redirect, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

/// A client that keeps redirects and cookies in the test's hands.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of hidden input `csrf` in a page.
fn csrf_of(html: &str) -> String {
    let start = html
        .find(r#"name="csrf" value=""#)
        .expect("page has a csrf field")
        + 19;
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

/// `name=value` of the Set-Cookie header for cookie `name`.
fn set_cookie<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

fn pair(cookie: &str) -> String {
    cookie.split(';').next().unwrap().to_string()
}

/// Logs in with `token` as a browser would; returns the session cookie pair.
pub(crate) async fn login(app: &TestApp, token: &str) -> String {
    let (response, _) = login_response(app, token, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    pair(set_cookie(&response, "evni_session").expect("session cookie set"))
}

async fn login_response(app: &TestApp, token: &str, extra: &[(&str, &str)]) -> (reqwest::Response, String) {
    let client = browser();
    let form = client.get(app.url("/ui/login")).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let nonce = pair(set_cookie(&form, "evni_login").expect("login nonce cookie"));
    let csrf = csrf_of(&form.text().await.unwrap());
    let mut request = client
        .post(app.url("/ui/login"))
        .header(header::COOKIE, nonce)
        .form(&[("token", token), ("csrf", csrf.as_str())]);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    (request.send().await.unwrap(), csrf)
}

pub(crate) async fn page(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = browser()
        .get(app.url(path))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn post_form(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    browser()
        .post(app.url(path))
        .header(header::COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// A session with KWH_DECREASE: the register falls by 2 kWh at minute 61.
fn decreasing(id: &str, station: &str) -> Value {
    let mut values = steady_charge(60, 11.0, 48213.7);
    values.push(kwh(61, 48213.7 + 11.0 - 2.0));
    session(id, station, values)
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_that_ends_with_the_token() {
    let app = TestApp::spawn().await;
    let (response, _) = login_response(&app, &app.token, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/ui/");
    let cookie = set_cookie(&response, "evni_session").unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    // The helper's tokens live an hour: the cookie not longer.
    let max_age: i64 = cookie
        .split("Max-Age=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!((3500..=3600).contains(&max_age), "{cookie}");

    let (over_https, _) = login_response(&app, &app.token, &[("x-forwarded-proto", "https")]).await;
    assert!(set_cookie(&over_https, "evni_session")
        .unwrap()
        .contains("; Secure"));

    let (status, html) = page(&app, &pair(cookie), "/ui/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Overview") && html.contains("acme"), "{html}");
}

#[tokio::test]
async fn pages_without_a_session_lead_to_the_login_page_and_back() {
    let app = TestApp::spawn().await;
    let response = browser()
        .get(app.url("/ui/sessions?page=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        "/ui/login?next=/ui/sessions%3Fpage%3D2"
    );
    let root = browser().get(app.url("/")).send().await.unwrap();
    assert_eq!(root.headers()[header::LOCATION], "/ui/");
    // An expired or foreign token is no session either.
    let (status, _) = page(&app, "evni_session=not-a-token", "/ui/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_bad_token_is_shown_next_to_the_field_and_sets_no_cookie() {
    let app = TestApp::spawn().await;
    let (response, _) = login_response(&app, "nonsense", &[]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&response, "evni_session").is_none());
    let html = response.text().await.unwrap();
    assert!(
        html.contains(r#"id="token-error""#) && html.contains("invalid bearer token"),
        "{html}"
    );
}

#[tokio::test]
async fn a_login_without_its_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let response = browser()
        .post(app.url("/ui/login"))
        .form(&[("token", app.token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&response, "evni_session").is_none());
}

#[tokio::test]
async fn feedback_needs_the_csrf_token_and_then_sets_is_incident() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &decreasing("s-1", "CP-1")).await).await;
    let cookie = login(&app, &app.token).await;
    let (status, html) = page(&app, &cookie, "/ui/sessions/s-1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("KWH_DECREASE"), "{html}");
    let csrf = csrf_of(&html);

    for forged in ["", "forged", &csrf[1..]] {
        let mut form = vec![("label", "incident")];
        if !forged.is_empty() {
            form.push(("csrf", forged));
        }
        let refused = post_form(&app, &cookie, "/ui/sessions/s-1/feedback", &form).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(app.get_ok("/v1/sessions/s-1").await["is_incident"], false);

    // Another session's CSRF token is not this one's.
    let other = login(&app, &app.new_tenant("other").await).await;
    let (_, other_html) = page(&app, &other, "/ui/").await;
    let foreign = post_form(
        &app,
        &cookie,
        "/ui/sessions/s-1/feedback",
        &[("label", "incident"), ("csrf", &csrf_of(&other_html))],
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);

    let done = post_form(
        &app,
        &cookie,
        "/ui/sessions/s-1/feedback",
        &[
            ("label", "incident"),
            ("comment", "meter swapped"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_ok("/v1/sessions/s-1").await["is_incident"], true);
    let (_, html) = page(&app, &cookie, "/ui/sessions/s-1?feedback=incident").await;
    assert!(html.contains("Feedback recorded: incident."), "{html}");
}

#[tokio::test]
async fn a_rejected_feedback_form_shows_the_api_error_and_writes_nothing() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &decreasing("s-1", "CP-1")).await).await;
    let cookie = login(&app, &app.token).await;
    let (_, html) = page(&app, &cookie, "/ui/sessions/s-1").await;
    let csrf = csrf_of(&html);
    let long = "x".repeat(2001);
    let response = post_form(
        &app,
        &cookie,
        "/ui/sessions/s-1/feedback",
        &[("label", "incident"), ("comment", &long), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains(
            r#"<p id="comment-error" class="field-error" role="alert">longer than 2000 characters</p>"#
        ),
        "{html}"
    );
    assert_eq!(app.get_ok("/v1/sessions/s-1").await["is_incident"], false);
}

#[tokio::test]
async fn another_tenants_session_page_is_not_found() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &decreasing("s-1", "CP-1")).await).await;
    let other = login(&app, &app.new_tenant("other").await).await;
    let (status, html) = page(&app, &other, "/ui/sessions/s-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("request id"), "{html}");
    let (_, list) = page(&app, &other, "/ui/sessions").await;
    assert!(!list.contains("s-1"), "{list}");
}

#[tokio::test]
async fn a_read_token_sees_sessions_but_cannot_give_feedback() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &decreasing("s-1", "CP-1")).await).await;
    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let read = app
        .app_state
        .keys
        .issue(
            &tenant,
            evni_api::Scope::Read,
            std::time::Duration::from_secs(600),
        )
        .unwrap();
    let cookie = login(&app, &read).await;
    let (status, html) = page(&app, &cookie, "/ui/sessions/s-1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("/feedback\""), "no feedback form for read: {html}");
    let refused = post_form(
        &app,
        &cookie,
        "/ui/sessions/s-1/feedback",
        &[("label", "incident"), ("csrf", &csrf_of(&html))],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get_ok("/v1/sessions/s-1").await["is_incident"], false);
}

#[tokio::test]
async fn the_sessions_list_filters_pages_and_shows_filter_errors_by_field() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &decreasing("bad-1", "CP-1")).await).await;
    for i in 0..25 {
        let id = format!("ok-{i:02}");
        json_ok(
            app.post(
                "/v1/sessions",
                &session(&id, "CP-2", steady_charge(30, 7.0, 100.0)),
            )
            .await,
        )
        .await;
    }
    let cookie = login(&app, &app.token).await;
    let (status, html) = page(&app, &cookie, "/ui/sessions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("26 session(s) · page 1 of 2"), "{html}");
    assert!(html.contains(r#"rel="next""#));
    let (_, html) = page(&app, &cookie, "/ui/sessions?is_anomaly=true&charging_station_id=").await;
    assert!(
        html.contains("1 session(s)") && html.contains("bad-1") && !html.contains("ok-01"),
        "{html}"
    );
    // Another tenant's session of the same category and station stays out.
    let other = app.new_tenant("other").await;
    json_ok(
        app.post_as(&other, "/v1/sessions", &decreasing("bad-x", "CP-1"))
            .await,
    )
    .await;
    let (_, html) = page(&app, &cookie, "/ui/sessions?category=KWH_DECREASE").await;
    assert!(
        html.contains("1 session(s)") && html.contains("bad-1") && !html.contains("bad-x"),
        "{html}"
    );
    let (status, html) = page(&app, &cookie, "/ui/sessions?date_from=yesterday").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"<p id="e-from" class="field-error">"#), "{html}");
    assert!(html.contains(r#"value="yesterday""#));
}

#[tokio::test]
async fn logout_needs_the_csrf_token_and_clears_the_cookie() {
    let app = TestApp::spawn().await;
    let cookie = login(&app, &app.token).await;
    let refused = post_form(&app, &cookie, "/ui/logout", &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (_, html) = page(&app, &cookie, "/ui/").await;
    let out = post_form(&app, &cookie, "/ui/logout", &[("csrf", &csrf_of(&html))]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&out, "evni_session").unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn pages_carry_a_strict_csp_and_assets_are_cached_for_good() {
    let app = TestApp::spawn().await;
    let cookie = login(&app, &app.token).await;
    let response = browser()
        .get(app.url("/ui/"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let html = response.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script");
    let start = html.find("/ui/static/app.").unwrap();
    let href = &html[start..start + html[start..].find('"').unwrap()];
    let asset = browser().get(app.url(href)).send().await.unwrap();
    assert_eq!(asset.status(), StatusCode::OK);
    assert!(asset.headers()[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let stale = browser()
        .get(app.url("/ui/static/app.0000000000.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn settings_change_for_admins_only_and_errors_show_by_the_field() {
    let app = TestApp::spawn().await;
    let admin = login(&app, &app.token).await;
    let (_, html) = page(&app, &admin, "/ui/settings").await;
    let csrf = csrf_of(&html);
    let bad = post_form(
        &app,
        &admin,
        "/ui/settings",
        &[("anomaly_threshold", "1.5"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains(
            r#"<p id="threshold-error" class="field-error" role="alert">must be above 0 and at most 1</p>"#
        ),
        "{html}"
    );
    assert!(html.contains(r#"value="1.5""#));
    let before = app.get_ok("/v1/settings").await["anomaly_threshold"].clone();
    assert_ne!(before, json!(0.7));
    // The zone's error shows by its field, and the valid threshold beside
    // it is not saved either.
    let bad = post_form(
        &app,
        &admin,
        "/ui/settings",
        &[
            ("anomaly_threshold", "0.7"),
            ("time_zone", "Mars/Olympus"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains(r#"<p id="time-zone-error" class="field-error" role="alert">must be an IANA"#),
        "{html}"
    );
    assert!(!html.contains(r#"id="threshold-error""#), "{html}");
    assert_eq!(app.get_ok("/v1/settings").await["anomaly_threshold"], before);
    let saved = post_form(
        &app,
        &admin,
        "/ui/settings",
        &[
            ("anomaly_threshold", "0.6"),
            ("time_zone", "Europe/Amsterdam"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let now = app.get_ok("/v1/settings").await;
    assert_eq!(
        (now["anomaly_threshold"].clone(), now["time_zone"].clone()),
        (json!(0.6), json!("Europe/Amsterdam"))
    );
    let before = now["anomaly_threshold"].clone();

    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let write = app
        .app_state
        .keys
        .issue(
            &tenant,
            evni_api::Scope::Write,
            std::time::Duration::from_secs(600),
        )
        .unwrap();
    let writer = login(&app, &write).await;
    let (_, html) = page(&app, &writer, "/ui/settings").await;
    assert!(
        !html.contains(r#"name="anomaly_threshold""#),
        "no form for write: {html}"
    );
    let refused = post_form(
        &app,
        &writer,
        "/ui/settings",
        &[("anomaly_threshold", "0.7"), ("csrf", &csrf_of(&html))],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get_ok("/v1/settings").await["anomaly_threshold"], before);

    let saved = post_form(
        &app,
        &admin,
        "/ui/settings",
        &[("anomaly_threshold", "0.7"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_ok("/v1/settings").await["anomaly_threshold"], 0.7);
}

#[tokio::test]
async fn stations_list_their_counts_and_another_tenants_station_is_not_found() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &decreasing("s-1", "CP-1")).await).await;
    json_ok(
        app.post(
            "/v1/sessions",
            &session("s-2", "CP-1", steady_charge(30, 7.0, 10.0)),
        )
        .await,
    )
    .await;
    let cookie = login(&app, &app.token).await;
    let (status, html) = page(&app, &cookie, "/ui/stations").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<a href="/ui/stations/CP-1">CP-1</a>"#), "{html}");
    let (status, html) = page(&app, &cookie, "/ui/stations/CP-1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("KWH_DECREASE: 1"), "connector categories: {html}");
    // Daily totals against the baseline, ending with the newest data day.
    let daily = daily_of(&html);
    assert_eq!(daily["days"].as_array().unwrap().len(), 60);
    assert_eq!(daily["days"][59], 1_772_150_400, "{daily}");
    assert_eq!(daily["sessions"][59], 2.0, "{daily}");
    assert!(daily["energy"][59].as_f64().unwrap() > 0.0, "{daily}");
    assert!(
        daily["baseline_sessions"][59].is_null(),
        "no history before: {daily}"
    );
    // SHADE runs on change in the background: judged or not yet, either shows.
    assert!(
        html.contains(r#"<dd id="health"><span class="badge normal">healthy</span>"#)
            || html.contains(r#"<dd id="health">not judged yet"#),
        "{html}"
    );

    let other = login(&app, &app.new_tenant("other").await).await;
    let (status, _) = page(&app, &other, "/ui/stations/CP-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = page(&app, &other, "/ui/stations").await;
    assert!(!list.contains("CP-1"), "{list}");
}

#[tokio::test]
async fn webhooks_are_created_with_the_secret_shown_once_and_deleted_by_admins() {
    let app = TestApp::spawn_with(crate::webhooks::private_allowed).await;
    let admin = login(&app, &app.token).await;
    let (status, html) = page(&app, &admin, "/ui/webhooks").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No endpoints."), "{html}");
    let csrf = csrf_of(&html);

    // Refused: the API's error next to its field, the form kept, nothing stored.
    let bad = post_form(
        &app,
        &admin,
        "/ui/webhooks",
        &[
            ("url", "ftp://example.com/"),
            ("description", "ops"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains(r#"<p id="url-error" class="field-error" role="alert">"#),
        "{html}"
    );
    assert!(html.contains(r#"value="ops""#), "{html}");
    assert_eq!(app.get_ok("/v1/webhooks").await["items"], json!([]));

    // No CSRF token: 403, nothing stored.
    let forged = post_form(
        &app,
        &admin,
        "/ui/webhooks",
        &[("url", "http://127.0.0.1:9/hook")],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get_ok("/v1/webhooks").await["items"], json!([]));

    let created = post_form(
        &app,
        &admin,
        "/ui/webhooks",
        &[
            ("url", "http://127.0.0.1:9/hook"),
            ("authorization", "Bearer receiver-token"),
            ("description", "ops pager"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let html = created.text().await.unwrap();
    let start = html.find(r#"<code id="webhook-secret">"#).expect("secret shown") + 26;
    let secret = &html[start..start + html[start..].find('<').unwrap()];
    assert!(secret.starts_with("whsec_"), "{secret}");
    let listed = app.get_ok("/v1/webhooks").await;
    let id = listed["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(listed["items"][0]["description"], "ops pager");
    assert_eq!(listed["items"][0]["has_authorization"], true);

    // Listed afterwards, the secret never again.
    let (_, html) = page(&app, &admin, "/ui/webhooks").await;
    assert!(html.contains("http://127.0.0.1:9/hook"), "{html}");
    assert!(html.contains("No deliveries yet."), "{html}");
    assert!(!html.contains(secret), "secret shown again");
    assert!(!html.contains("receiver-token"), "authorization shown");

    // A read token sees the list but no forms, and may not delete.
    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let read = app
        .app_state
        .keys
        .issue(
            &tenant,
            evni_api::Scope::Read,
            std::time::Duration::from_secs(600),
        )
        .unwrap();
    let reader = login(&app, &read).await;
    let (_, html) = page(&app, &reader, "/ui/webhooks").await;
    assert!(html.contains("http://127.0.0.1:9/hook"), "{html}");
    assert!(!html.contains(r#"name="url""#), "no form for read: {html}");
    let delete = format!("/ui/webhooks/{id}/delete");
    let refused = post_form(&app, &reader, &delete, &[("csrf", &csrf_of(&html))]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let forged = post_form(&app, &admin, &delete, &[]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.get_ok("/v1/webhooks").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A test event: admins only, with the CSRF token; listed with its event.
    let test = format!("/ui/webhooks/{id}/test");
    let refused = post_form(&app, &reader, &test, &[("csrf", &csrf_of(&html))]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let forged = post_form(&app, &admin, &test, &[]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let deliveries = format!("/v1/webhooks/{id}/deliveries");
    assert_eq!(app.get_ok(&deliveries).await["total"], 0);
    let sent = post_form(&app, &admin, &test, &[("csrf", &csrf)]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let to = sent.headers()["location"].to_str().unwrap().to_string();
    let webhook_id = app.get_ok(&deliveries).await["items"][0]["webhook_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(to, format!("/ui/webhooks?tested={webhook_id}"));
    let (_, html) = page(&app, &admin, &to).await;
    assert!(
        html.contains(&format!("Test event <code>{webhook_id}</code> queued")),
        "{html}"
    );
    assert!(html.contains("webhook.test"), "{html}");

    let deleted = post_form(&app, &admin, &delete, &[("csrf", &csrf)]).await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_ok("/v1/webhooks").await["items"], json!([]));
    // Another tenant's endpoint is not found.
    let other = login(&app, &app.new_tenant("other").await).await;
    let (_, html) = page(&app, &other, "/ui/webhooks").await;
    let gone = post_form(&app, &other, &delete, &[("csrf", &csrf_of(&html))]).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_dashboard_link_from_the_cli_logs_in_once() {
    let app = TestApp::spawn().await;
    let out = crate::auth::evni_cli(
        &app,
        &[
            "dashboard-link",
            "--tenant",
            "acme",
            "--scope",
            "read",
            "--url",
            &app.base,
        ],
    );
    let url = out.trim().to_string();
    assert!(
        url.starts_with(&format!("{}/ui/login/link?token=", app.base)),
        "{url}"
    );
    let token = url.split_once("token=").unwrap().1.to_string();

    // The link is no bearer token for the API, and a changed link is refused.
    json_error(app.get_as(&token, "/v1/sessions").await, StatusCode::UNAUTHORIZED).await;
    let forged = format!("{}x", &url);
    let refused = browser().get(&forged).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&refused, "evni_session").is_none());

    let first = browser().get(&url).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(first.headers()[header::LOCATION], "/ui/");
    let cookie = set_cookie(&first, "evni_session")
        .expect("session cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let (status, html) = page(&app, &pair(&cookie), "/ui/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("acme · read"), "{html}");

    // Spent: refused on a second visit, also by a server restarted on the
    // same database (the use is recorded there, not in memory).
    let second = browser().get(&url).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&second, "evni_session").is_none());
    assert!(second.text().await.unwrap().contains("used already"));
    let app = app.restart().await;
    let url = url.replace(url.split("/ui/").next().unwrap(), &app.base);
    let again = browser().get(&url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}

/// Posts a multipart form as a browser does: `fields`, then `file`.
async fn post_file(
    app: &TestApp,
    cookie: &str,
    path: &str,
    fields: &[(&str, &str)],
    file: &str,
) -> reqwest::Response {
    let boundary = "evni-test-boundary-7f3a";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sessions.jsonl\"\r\nContent-Type: application/x-ndjson\r\n\r\n{file}\r\n--{boundary}--\r\n"
    ));
    browser()
        .post(app.url(path))
        .header(header::COOKIE, cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_json_lines_upload_becomes_a_batch_listed_with_its_progress() {
    let app = TestApp::spawn().await;
    let writer = login(&app, &app.token).await;
    let (status, html) = page(&app, &writer, "/ui/batches").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No batches yet."), "{html}");
    let csrf = csrf_of(&html);
    let lines: Vec<String> = (0..3)
        .map(|i| session(&format!("up-{i}"), "CP-UP", steady_charge(30, 7.0, 100.0)).to_string())
        .collect();
    let good = format!("{}\n\n{}\n{}\n", lines[0], lines[1], lines[2]);
    let batches = || async { app.get_ok("/v1/sessions/batch").await["items"].clone() };

    // Refused files: the problem next to the field, nothing stored.
    for (file, problem) in [
        ("{\"session_id\": \n", "line 1: is not one JSON value"),
        ("\n\n", "has no sessions"),
    ] {
        let refused = post_file(&app, &writer, "/ui/batches", &[("csrf", &csrf)], file).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = refused.text().await.unwrap();
        assert!(
            html.contains(r#"<p id="file-error" class="field-error" role="alert">"#)
                && html.contains(problem),
            "{html}"
        );
    }
    let invalid = format!(
        "{}\n{{\"charging_point_id\": \"CP-UP\", \"meter_values\": []}}\n",
        lines[0]
    );
    let refused = post_file(&app, &writer, "/ui/batches", &[("csrf", &csrf)], &invalid).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("session 2.session_id: is required"),
        "the API's error by line: {html}"
    );
    // Without the CSRF token, or with a read token: 403.
    let forged = post_file(&app, &writer, "/ui/batches", &[], &good).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let read = app
        .app_state
        .keys
        .issue(
            &tenant,
            evni_api::Scope::Read,
            std::time::Duration::from_secs(600),
        )
        .unwrap();
    let reader = login(&app, &read).await;
    let (_, html) = page(&app, &reader, "/ui/batches").await;
    assert!(!html.contains(r#"name="file""#), "no upload for read: {html}");
    let refused = post_file(&app, &reader, "/ui/batches", &[("csrf", &csrf_of(&html))], &good).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(batches().await, json!([]));

    let submitted = post_file(&app, &writer, "/ui/batches", &[("csrf", &csrf)], &good).await;
    assert_eq!(submitted.status(), StatusCode::SEE_OTHER);
    let listed = batches().await;
    assert_eq!(listed[0]["total_sessions"], 3, "{listed}");
    let id = listed[0]["batch_id"].as_str().unwrap().to_string();
    let start = std::time::Instant::now();
    while app.get_ok(&format!("/v1/sessions/batch/{id}")).await["status"] != "completed" {
        assert!(start.elapsed().as_secs() < 30, "batch not completed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, html) = page(&app, &reader, "/ui/batches").await;
    assert!(html.contains(&id), "{html}");
    assert!(html.contains(r#"<progress max="3" value="3""#), "{html}");
    assert!(!html.contains("hx-trigger"), "no polling once done: {html}");
    assert_eq!(app.get_ok("/v1/sessions/up-2").await["session_id"], "up-2");
}

#[tokio::test]
async fn models_fine_tune_from_the_form_and_activate_with_the_comparison_shown() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    for i in 0..12 {
        let s = session(
            &format!("ft-{i:02}"),
            "ST-FT",
            steady_charge(60 + 5 * i, 7.0 + i as f64, 100.0),
        );
        json_ok(app.post("/v1/sessions", &s).await).await;
    }
    let admin = login(&app, &app.token).await;
    let (status, html) = page(&app, &admin, "/ui/models").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<code>model-csar2-base</code>"), "{html}");
    assert!(html.contains("No fine-tunes yet."), "{html}");
    let csrf = csrf_of(&html);
    let jobs = || async { app.get_ok("/v1/models/fine-tune").await["items"].clone() };

    // Refused: each error next to its field, the form kept, nothing started.
    let bad = post_form(
        &app,
        &admin,
        "/ui/models/fine-tune",
        &[
            ("base_model_id", "model-csar2-base"),
            ("name", "Fleet"),
            ("station_id", "ST-FT"),
            ("date_from", "2026-13-01"),
            ("epochs", "0"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains(r#"<p id="epochs-error" class="field-error" role="alert">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<p id="date_from-error" class="field-error" role="alert">"#),
        "{html}"
    );
    assert!(html.contains(r#"value="ST-FT""#), "{html}");
    let forged = post_form(
        &app,
        &admin,
        "/ui/models/fine-tune",
        &[("name", "Fleet"), ("epochs", "3")],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(jobs().await, json!([]));

    let started = post_form(
        &app,
        &admin,
        "/ui/models/fine-tune",
        &[
            ("base_model_id", "model-csar2-base"),
            ("name", "Fleet"),
            ("station_id", "ST-FT"),
            ("date_from", "2026-01-01"),
            ("epochs", "3"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&app, &admin, "/ui/models").await;
    assert!(
        html.contains(r#"hx-trigger="every 1s""#),
        "polls while queued: {html}"
    );
    assert!(html.contains("queued"), "{html}");
    let worker = evni::worker(&app.app_state, evni_worker::WorkerConfig::default());
    while worker.step().await.unwrap() != evni_worker::StepOutcome::Empty {}
    let job = jobs().await[0].clone();
    assert_eq!(job["status"], "completed", "{job}");
    let model_id = job["result_model_id"].as_str().unwrap().to_string();

    let (_, html) = page(&app, &admin, "/ui/models").await;
    assert!(!html.contains("hx-trigger"), "no polling once done");
    assert!(html.contains(r#"<span class="epoch">3 / 3</span>"#), "{html}");
    assert!(
        html.contains(&format!(
            r#"id="compare-{model_id}">On the tenant&#39;s held-out sessions: false alarms "#
        )),
        "{html}"
    );
    let activate = format!("/ui/models/{model_id}/activate");
    assert!(html.contains(&format!(r#"action="{activate}""#)), "{html}");

    // Activation: admins only, with the CSRF token.
    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let write = app
        .app_state
        .keys
        .issue(
            &tenant,
            evni_api::Scope::Write,
            std::time::Duration::from_secs(600),
        )
        .unwrap();
    let writer = login(&app, &write).await;
    let (_, html) = page(&app, &writer, "/ui/models").await;
    assert!(
        !html.contains(&format!(r#"action="{activate}""#)),
        "no activate for write"
    );
    let refused = post_form(&app, &writer, &activate, &[("csrf", &csrf_of(&html))]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let forged = post_form(&app, &admin, &activate, &[]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let (_, html) = page(&app, &admin, "/ui/models").await;
    assert!(
        !html.contains(r#"<span class="badge normal">in use</span>"#),
        "{html}"
    );

    let done = post_form(&app, &admin, &activate, &[("csrf", &csrf)]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&app, &admin, "/ui/models").await;
    assert!(
        html.contains(r#"<span class="badge normal">in use</span>"#),
        "{html}"
    );
    assert!(html.contains("now analyses") || !html.contains("hx-trigger"));
}

#[tokio::test]
async fn station_rated_power_is_set_by_admins_with_the_apis_error_by_the_connector() {
    let app = TestApp::spawn().await;
    let mut s = session("p-1", "CP-P", steady_charge(30, 7.0, 10.0));
    s["connector_id"] = json!("1");
    json_ok(app.post("/v1/sessions", &s).await).await;
    let admin = login(&app, &app.token).await;
    let (status, html) = page(&app, &admin, "/ui/stations/CP-P").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"name="power.1""#), "{html}");
    let csrf = csrf_of(&html);
    let action = "/ui/stations/CP-P/metadata";
    let metadata = || async { app.get_ok("/v1/stations/CP-P").await["metadata"].clone() };
    let before = metadata().await;

    let bad = post_form(&app, &admin, action, &[("power.1", "5000"), ("csrf", &csrf)]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains(r#"<p id="power-1-error" class="field-error" role="alert">rated power must be a number of kW above 0 and at most 2000</p>"#),
        "{html}"
    );
    assert!(html.contains(r#"value="5000""#), "{html}");
    assert_eq!(metadata().await, before);
    let forged = post_form(&app, &admin, action, &[("power.1", "22")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let write = app
        .app_state
        .keys
        .issue(
            &tenant,
            evni_api::Scope::Write,
            std::time::Duration::from_secs(600),
        )
        .unwrap();
    let writer = login(&app, &write).await;
    let (_, html) = page(&app, &writer, "/ui/stations/CP-P").await;
    assert!(!html.contains(r#"name="power.1""#), "no form below admin");
    let refused = post_form(
        &app,
        &writer,
        action,
        &[("power.1", "22"), ("csrf", &csrf_of(&html))],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(metadata().await, before);

    let saved = post_form(&app, &admin, action, &[("power.1", "22"), ("csrf", &csrf)]).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(metadata().await["connectors"]["1"]["rated_power_kw"], 22.0);
    let (_, html) = page(&app, &admin, "/ui/stations/CP-P?saved=1").await;
    assert!(
        html.contains(r#"value="22.0""#) || html.contains(r#"value="22""#),
        "{html}"
    );
}

#[tokio::test]
async fn the_overview_counts_anomalous_sessions_per_day_by_category() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &decreasing("o-1", "CP-O")).await).await;
    json_ok(app.post("/v1/sessions", &decreasing("o-2", "CP-O")).await).await;
    json_ok(
        app.post(
            "/v1/sessions",
            &session("o-3", "CP-O", steady_charge(30, 7.0, 10.0)),
        )
        .await,
    )
    .await;
    let cookie = login(&app, &app.token).await;
    let (status, html) = page(&app, &cookie, "/ui/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("<tr><td>KWH_DECREASE</td><td class=\"num\">2</td></tr>"),
        "{html}"
    );
    let start = html
        .find(r#"<script type="application/json" id="by-category-data">"#)
        .unwrap()
        + 54;
    let data: Value =
        serde_json::from_str(&html[start..start + html[start..].find("</script>").unwrap()]).unwrap();
    let days = data["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    // The 30 days end with the tenant's newest data: 2026-02-27.
    assert_eq!(days[29], 1_772_150_400, "{data}");
    let series = &data["series"][0];
    assert_eq!(series["label"], "KWH_DECREASE");
    assert_eq!(series["values"][29], 2);
    assert_eq!(
        series["values"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_u64)
            .sum::<u64>(),
        2
    );
    assert!(html.contains("No failing deliveries."), "{html}");
    // Another tenant's overview counts none of them.
    let other = login(&app, &app.new_tenant("other").await).await;
    let (_, html) = page(&app, &other, "/ui/").await;
    assert!(
        html.contains("No anomalous sessions in the last 30 days."),
        "{html}"
    );
}

#[tokio::test]
async fn the_sessions_list_filters_by_category_and_shows_energy_and_categories() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &decreasing("bad-1", "CP-1")).await).await;
    json_ok(
        app.post(
            "/v1/sessions",
            &session("ok-1", "CP-1", steady_charge(30, 7.0, 100.0)),
        )
        .await,
    )
    .await;
    // Another tenant's session of the same category stays out of the list.
    let other = app.new_tenant("other").await;
    json_ok(
        app.post_as(&other, "/v1/sessions", &decreasing("theirs", "CP-9"))
            .await,
    )
    .await;
    let cookie = login(&app, &app.token).await;

    let (status, html) = page(&app, &cookie, "/ui/sessions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("2 session(s)"), "{html}");
    // 30 minutes at 7 kW: 3.5 kWh delivered.
    let ok_row = &html[html.find(">ok-1<").unwrap()..];
    let ok_row = &ok_row[..ok_row.find("</tr>").unwrap()];
    assert!(ok_row.contains(r#"<td class="num">3.50</td>"#), "{ok_row}");
    // Start is the first reading's time, not when evni received the session.
    assert!(ok_row.contains("<td>2026-02-27 10:00 UTC</td>"), "{ok_row}");
    assert!(!ok_row.contains("KWH_DECREASE"), "{ok_row}");
    let bad_row = &html[html.find(">bad-1<").unwrap()..];
    let bad_row = &bad_row[..bad_row.find("</tr>").unwrap()];
    assert!(
        bad_row.contains(r#"<span class="badge category">KWH_DECREASE</span>"#),
        "{bad_row}"
    );

    let (status, html) = page(&app, &cookie, "/ui/sessions?category=KWH_DECREASE").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("1 session(s)") && html.contains(">bad-1<") && !html.contains(">ok-1<"),
        "{html}"
    );
    assert!(!html.contains("theirs"), "{html}");
    assert!(
        html.contains(r#"<option value="KWH_DECREASE" selected>"#),
        "{html}"
    );
    let (_, html) = page(&app, &cookie, "/ui/sessions?category=POWER_SPIKE").await;
    assert!(
        html.contains("0 session(s)") && html.contains("No sessions."),
        "{html}"
    );

    let (status, html) = page(&app, &cookie, "/ui/sessions?category=NOPE").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"<p id="e-category" class="field-error">"#),
        "{html}"
    );
}

/// The station page's daily chart data.
fn daily_of(html: &str) -> Value {
    let start = html
        .find(r#"<script type="application/json" id="daily-data">"#)
        .unwrap()
        + 48;
    serde_json::from_str(&html[start..start + html[start..].find("</script>").unwrap()]).unwrap()
}

/// The day (Unix seconds of its midnight) and its sessions of the newest
/// day with sessions on the station's chart.
async fn newest_station_day(app: &TestApp, cookie: &str, station: &str) -> (i64, u64) {
    let (status, html) = page(app, cookie, &format!("/ui/stations/{station}")).await;
    assert_eq!(status, StatusCode::OK);
    let daily = daily_of(&html);
    let i = daily["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .rposition(|n| n.as_u64() > Some(0))
        .expect("a day with sessions");
    (
        daily["days"][i].as_i64().unwrap(),
        daily["sessions"][i].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn a_stations_days_are_its_local_days_and_follow_a_time_zone_change() {
    const FEB_26: i64 = 1_772_064_000;
    const FEB_27: i64 = FEB_26 + 86_400;
    let app = TestApp::spawn().await;
    let cookie = login(&app, &app.token).await;
    // 03:00-03:30 UTC on 27 February is the evening of the 26th in Denver.
    let early = |id: &str| {
        session(
            id,
            "CP-DEN",
            (0..=30).map(|m| kwh(m - 420, 10.0 + m as f64 * 0.1)).collect(),
        )
    };
    json_ok(app.post("/v1/sessions", &early("den-1")).await).await;
    assert_eq!(newest_station_day(&app, &cookie, "CP-DEN").await, (FEB_27, 1));

    // The station's own zone moves its history to its local days.
    let zone = |z: Value| json!({"metadata": {"time_zone": z}});
    json_ok(
        app.patch("/v1/stations/CP-DEN", &zone(json!("America/Denver")))
            .await,
    )
    .await;
    assert_eq!(newest_station_day(&app, &cookie, "CP-DEN").await, (FEB_26, 1));
    // A new session lands on its local day as it is written.
    json_ok(app.post("/v1/sessions", &early("den-2")).await).await;
    assert_eq!(newest_station_day(&app, &cookie, "CP-DEN").await, (FEB_26, 2));

    // Without its own zone the station follows the tenant's setting.
    json_ok(app.patch("/v1/stations/CP-DEN", &zone(Value::Null)).await).await;
    assert_eq!(newest_station_day(&app, &cookie, "CP-DEN").await, (FEB_27, 2));
    let set = app
        .patch("/v1/settings", &json!({"time_zone": "America/Denver"}))
        .await;
    assert_eq!(json_ok(set).await["time_zone"], "America/Denver");
    assert_eq!(newest_station_day(&app, &cookie, "CP-DEN").await, (FEB_26, 2));

    // Unknown zones are refused by field, and change nothing.
    let bad = json_error(
        app.patch("/v1/settings", &json!({"time_zone": "Mars/Olympus"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(bad.to_string().contains("time_zone"), "{bad}");
    let bad = json_error(
        app.patch("/v1/stations/CP-DEN", &zone(json!("GMT+25"))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(bad.to_string().contains("metadata.time_zone"), "{bad}");
    assert_eq!(app.get_ok("/v1/settings").await["time_zone"], "America/Denver");
    assert_eq!(newest_station_day(&app, &cookie, "CP-DEN").await, (FEB_26, 2));

    // The station page's form sets the station's own zone, with the API's
    // error by the field.
    let (_, html) = page(&app, &cookie, "/ui/stations/CP-DEN").await;
    let csrf = csrf_of(&html);
    let action = "/ui/stations/CP-DEN/metadata";
    let bad = post_form(
        &app,
        &cookie,
        action,
        &[("time_zone", "Mars/Olympus"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains(r#"<p id="time-zone-error" class="field-error" role="alert">must be an IANA"#),
        "{html}"
    );
    assert!(html.contains(r#"value="Mars/Olympus""#), "{html}");
    let saved = post_form(
        &app,
        &cookie,
        action,
        &[("time_zone", "Asia/Tokyo"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_ok("/v1/stations/CP-DEN").await["metadata"]["time_zone"],
        "Asia/Tokyo"
    );
    assert_eq!(newest_station_day(&app, &cookie, "CP-DEN").await, (FEB_27, 2));
}
