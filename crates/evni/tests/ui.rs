//! The dashboard in a real browser: headless Chromium driven over WebDriver
//! (fantoccini + chromedriver from Debian, installed by scripts/chromium.sh).
//! Runs when EVNI_TEST_BROWSER=1 (scripts/test.sh sets it when asked; CI
//! does); CHROMEDRIVER names the driver, default `chromedriver` on PATH.
//! Every page is saved as a screenshot under target/ui-screenshots/.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use helpers::*;
use serde_json::{json, Value};

fn enabled() -> bool {
    if std::env::var("EVNI_TEST_BROWSER").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("browser tests skipped: set EVNI_TEST_BROWSER=1 (scripts/chromium.sh installs Chromium)");
    false
}

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let program = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let child = Command::new(&program)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program} (scripts/chromium.sh installs it): {e}"));
    // Owned at once, so a failure below still stops it.
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on port {port}");
}

async fn browser(driver: &Driver, width: u32, height: u32) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        format!("--window-size={width},{height}")]}),
    );
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    // The driver is plain http; rustls still wants one provider chosen.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    ClientBuilder::rustls()
        .expect("rustls")
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("WebDriver session")
}

/// chromedriver's browser console log since the last call.
#[derive(Debug)]
struct ConsoleLog;

impl WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

/// Fails on any console message of level SEVERE (errors, CSP violations,
/// failed loads) since the last check.
async fn assert_clean_console(client: &Client, page: &str) {
    let log = client.issue_cmd(ConsoleLog).await.expect("console log");
    let errors: Vec<&Value> = log
        .as_array()
        .map(|entries| entries.iter().filter(|e| e["level"] == "SEVERE").collect())
        .unwrap_or_default();
    assert!(errors.is_empty(), "console errors on {page}: {errors:#?}");
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

async fn login(client: &Client, app: &TestApp, token: &str) {
    client.goto(&app.url("/ui/login")).await.unwrap();
    let form = client
        .form(Locator::Css("form[action='/ui/login']"))
        .await
        .unwrap();
    form.set_by_name("token", token).await.unwrap();
    form.submit().await.unwrap();
    client
        .wait()
        .for_element(Locator::Css("nav[aria-label='Main']"))
        .await
        .unwrap();
}

async fn text(client: &Client, css: &str) -> String {
    // A page still replacing the previous one can drop the element between
    // finding and reading it (StaleElementReference): find it again.
    for _ in 0..50 {
        let element = client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        match element.text().await {
            Ok(text) => return text,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("{css} kept going stale")
}

/// 11 kW for an hour, then the register falls by 2 kWh: KWH_DECREASE.
fn decreasing(id: &str, station: &str) -> Value {
    let mut values = steady_charge(60, 11.0, 48213.7);
    values.push(kwh(61, 48213.7 + 11.0 - 2.0));
    for m in (0..=60).step_by(5) {
        values.push(mv(m, "Power.Active.Import", "kW", 11.0));
        values.push(mv(m, "SoC", "Percent", 20.0 + m as f64 * 0.6));
    }
    session(id, station, values)
}

#[tokio::test]
async fn the_dashboard_in_chromium() {
    if !enabled() {
        return;
    }
    // Webhook URLs on 127.0.0.1 are allowed: nothing is delivered here.
    let app = TestApp::spawn_with(|c| c.webhook_allow_private = true).await;
    json_ok(
        app.post("/v1/sessions", &decreasing("sess-kwh-down", "CP-NL-AMS-0042"))
            .await,
    )
    .await;
    for i in 0..12 {
        let id = format!("sess-{i:03}");
        let station = format!("CP-NL-AMS-{:04}", 40 + i % 4);
        json_ok(
            app.post(
                "/v1/sessions",
                &session(&id, &station, steady_charge(45, 7.4, 1000.0 + i as f64)),
            )
            .await,
        )
        .await;
    }
    let driver = driver().await;
    let client = browser(&driver, 1280, 800).await;

    // Log in with a token.
    client.goto(&app.url("/ui/")).await.unwrap();
    assert!(client.current_url().await.unwrap().path().ends_with("/ui/login"));
    screenshot(&client, "login").await;
    assert_clean_console(&client, "login").await;
    login(&client, &app, &app.token).await;
    assert_eq!(client.current_url().await.unwrap().path(), "/ui/");
    assert!(
        text(&client, ".stats").await.contains("13"),
        "13 sessions on the overview"
    );
    let daily = client
        .wait()
        .for_element(Locator::Css("#by-category[data-drawn='true']"))
        .await
        .expect("anomalies per day drawn");
    assert_eq!(daily.attr("data-series").await.unwrap().as_deref(), Some("1"));
    screenshot(&client, "overview").await;
    assert_clean_console(&client, "overview").await;
    // Network events have their own section; this tenant has none.
    assert!(text(&client, "#network-events")
        .await
        .contains("No network events."));
    client
        .execute("document.getElementById('network-h').scrollIntoView();", vec![])
        .await
        .unwrap();
    screenshot(&client, "overview-network").await;

    // The sessions list shows the posted sessions.
    client.goto(&app.url("/ui/sessions")).await.unwrap();
    let table = text(&client, "table").await;
    assert!(
        table.contains("sess-kwh-down") && table.contains("sess-011"),
        "{table}"
    );
    screenshot(&client, "sessions").await;
    assert_clean_console(&client, "sessions").await;
    // Filtered by category through the form: only the KWH_DECREASE session,
    // its energy and category in the row.
    client
        .find(Locator::Css("#f-category"))
        .await
        .unwrap()
        .select_by_value("KWH_DECREASE")
        .await
        .unwrap();
    client
        .find(Locator::Css("form.filters button[type='submit']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The reloaded page marks the chosen category as an attribute.
    client
        .wait()
        .for_element(Locator::Css("#f-category option[value='KWH_DECREASE'][selected]"))
        .await
        .expect("the filtered page");
    let table = text(&client, "table").await;
    assert!(
        table.contains("sess-kwh-down") && table.contains("KWH_DECREASE") && !table.contains("sess-011"),
        "{table}"
    );
    assert_clean_console(&client, "sessions filtered by category").await;

    // The KWH_DECREASE session: chart drawn with its anomaly range.
    client
        .find(Locator::LinkText("sess-kwh-down"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let chart = client
        .wait()
        .for_element(Locator::Css("#chart[data-drawn='true']"))
        .await
        .expect("chart drawn");
    assert_eq!(
        chart.attr("data-anomaly-ranges").await.unwrap().as_deref(),
        Some("1")
    );
    client
        .find(Locator::Css("#chart canvas"))
        .await
        .expect("uPlot canvas");
    assert!(text(&client, "#anomalies").await.contains("KWH_DECREASE"));
    screenshot(&client, "session").await;
    assert_clean_console(&client, "session").await;

    // Explain, then feedback: the click sets is_incident as the API reports it.
    client
        .find(Locator::Css("button[value='explain']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(text(&client, "#answer").await.contains("KWH_DECREASE"));
    client
        .find(Locator::Id("feedback-incident"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text(&client, ".notice").await, "Feedback recorded: incident.");
    assert_eq!(text(&client, "#is-incident").await, "yes");
    assert_eq!(
        app.get_ok("/v1/sessions/sess-kwh-down").await["is_incident"],
        true
    );
    assert_clean_console(&client, "session after feedback").await;

    // A form posted without its CSRF token is refused and changes nothing.
    client
        .execute(
            "document.querySelector(\"form[action$='/feedback'] input[name=csrf]\").remove();",
            vec![],
        )
        .await
        .unwrap();
    client
        .find(Locator::Id("feedback-normal"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text(&client, "h1").await, "Form expired");
    // The 403 itself is the one expected console error.
    client.issue_cmd(ConsoleLog).await.unwrap();
    assert_eq!(
        app.get_ok("/v1/sessions/sess-kwh-down").await["is_incident"],
        true
    );

    // At phone width the session page still reads (screenshot to look at).
    client.set_window_size(390, 844).await.unwrap();
    client.goto(&app.url("/ui/sessions/sess-kwh-down")).await.unwrap();
    client
        .wait()
        .for_element(Locator::Css("#chart[data-drawn='true']"))
        .await
        .unwrap();
    screenshot(&client, "session-phone").await;
    client.set_window_size(1280, 800).await.unwrap();

    client.goto(&app.url("/ui/stations")).await.unwrap();
    assert!(text(&client, "table").await.contains("CP-NL-AMS-0042"));
    screenshot(&client, "stations").await;
    assert_clean_console(&client, "stations").await;
    client
        .goto(&app.url("/ui/stations/CP-NL-AMS-0042"))
        .await
        .unwrap();
    assert!(text(&client, "main").await.contains("KWH_DECREASE: 1"));
    client
        .wait()
        .for_element(Locator::Css("#daily[data-drawn='true']"))
        .await
        .expect("daily chart drawn");
    screenshot(&client, "station").await;
    assert_clean_console(&client, "station").await;

    client.goto(&app.url("/ui/settings")).await.unwrap();
    assert!(text(&client, "main").await.contains("Anomaly threshold"));
    screenshot(&client, "settings").await;
    assert_clean_console(&client, "settings").await;

    // A created webhook's secret is shown once and the webhook listed.
    client.goto(&app.url("/ui/webhooks")).await.unwrap();
    let form = client
        .form(Locator::Css("form[action='/ui/webhooks']"))
        .await
        .unwrap();
    form.set_by_name("url", "http://127.0.0.1:9/evni-hook")
        .await
        .unwrap();
    form.set_by_name("description", "ops pager").await.unwrap();
    form.submit().await.unwrap();
    let secret = text(&client, "#webhook-secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(text(&client, ".endpoint")
        .await
        .contains("http://127.0.0.1:9/evni-hook"));
    screenshot(&client, "webhook-created").await;
    assert_clean_console(&client, "webhook created").await;
    client.goto(&app.url("/ui/webhooks")).await.unwrap();
    let listed = text(&client, "main").await;
    assert!(
        listed.contains("http://127.0.0.1:9/evni-hook") && listed.contains("ops pager"),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "the secret is shown only once");
    // A test event is queued and listed (its target refuses: it stays pending).
    client
        .find(Locator::XPath("//button[normalize-space()='Send a test event']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::XPath("//p[contains(., 'Test event')]"))
        .await
        .expect("the test event's notice");
    let sent = text(&client, "main").await;
    assert!(sent.contains("Test event wh-evt-"), "{sent}");
    assert!(sent.contains("webhook.test"), "{sent}");
    screenshot(&client, "webhooks").await;
    assert_clean_console(&client, "webhooks").await;

    // A JSON-lines file uploaded from the browser becomes a batch.
    let file = std::env::temp_dir().join(format!("evni-ui-{}.jsonl", std::process::id()));
    let lines: Vec<String> = (0..4)
        .map(|i| {
            session(
                &format!("upl-{i}"),
                "CP-NL-AMS-0050",
                steady_charge(30, 7.4, 500.0),
            )
            .to_string()
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    client.goto(&app.url("/ui/batches")).await.unwrap();
    client
        .find(Locator::Id("file"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    client
        .find(Locator::Css("form[action='/ui/batches'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(text(&client, ".notice").await.contains("submitted"));
    client
        .wait()
        .for_element(Locator::Css("progress[value='4']"))
        .await
        .expect("the batch completes on the page");
    screenshot(&client, "batches").await;
    assert_clean_console(&client, "batches").await;
    let _ = std::fs::remove_file(&file);

    // A running fine-tune's progress moves on the page, without a reload.
    client.goto(&app.url("/ui/models")).await.unwrap();
    screenshot(&client, "models").await;
    assert_clean_console(&client, "models").await;
    let form = client
        .form(Locator::Css("form[action='/ui/models/fine-tune']"))
        .await
        .unwrap();
    form.set_by_name("name", "Amsterdam fleet").await.unwrap();
    form.set_by_name("epochs", "200").await.unwrap();
    form.submit().await.unwrap();
    assert!(text(&client, ".notice").await.contains("started"));
    client
        .execute("window.evniSamePage = true;", vec![])
        .await
        .unwrap();
    let epoch = || async {
        let shown = client
            .find(Locator::Css("#fine-tunes .epoch"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        shown.split(" / ").next()?.parse::<u64>().ok()
    };
    let start = std::time::Instant::now();
    let mut seen = Vec::new();
    while !(seen.len() >= 2 && seen[0] > 0 && seen.last() > seen.first()) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "progress seen: {seen:?}"
        );
        if let Some(e) = epoch().await {
            if e > 0 && seen.last() != Some(&e) {
                seen.push(e);
                if seen.len() == 2 {
                    screenshot(&client, "models-training").await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen[0] < 200, "first seen before the end: {seen:?}");
    assert_eq!(
        client
            .execute("return window.evniSamePage === true;", vec![])
            .await
            .unwrap(),
        json!(true),
        "the page was not reloaded"
    );
    assert_clean_console(&client, "models while training").await;

    // Every page at phone width (screenshots to look at), console clean.
    client.set_window_size(390, 844).await.unwrap();
    for (path, name) in [
        ("/ui/", "overview-phone"),
        ("/ui/sessions", "sessions-phone"),
        ("/ui/stations/CP-NL-AMS-0042", "station-phone"),
        ("/ui/webhooks", "webhooks-phone"),
        ("/ui/models", "models-phone"),
        ("/ui/batches", "batches-phone"),
        ("/ui/settings", "settings-phone"),
    ] {
        client.goto(&app.url(path)).await.unwrap();
        client.wait().for_element(Locator::Css("main h1")).await.unwrap();
        screenshot(&client, name).await;
        assert_clean_console(&client, name).await;
    }
    client.set_window_size(1280, 800).await.unwrap();

    // Another tenant sees no such session.
    client
        .find(Locator::Css("form[action='/ui/logout'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client.wait().for_element(Locator::Id("token")).await.unwrap();
    let other = app.new_tenant("other").await;
    login(&client, &app, &other).await;
    client.goto(&app.url("/ui/sessions/sess-kwh-down")).await.unwrap();
    assert_eq!(text(&client, "h1").await, "Not found");
    screenshot(&client, "not-found").await;

    client.close().await.unwrap();
}
