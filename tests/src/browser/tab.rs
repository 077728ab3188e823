//! One browser window of a journey, as a person uses it: fill fields, press buttons, follow
//! links. Every page it lands on is checked (`Tab::check`): nothing scrolls sideways at the
//! window's width, the console stays free of errors, and axe-core finds no serious or critical
//! WCAG 2 A/AA violation; a screenshot of each step goes to the artefact dir. Problems are
//! collected, not thrown at once, so one run lists every page's problems; functional failures
//! (a field or button that is not there) panic at once with the page's text.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use super::Driver;

/// What the checks found, across every tab of a journey.
#[derive(Clone, Default)]
pub struct Problems(Arc<Mutex<Vec<String>>>);

impl Problems {
    pub fn push(&self, problem: String) {
        self.0.lock().unwrap().push(problem);
    }
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A chromedriver endpoint fantoccini has no method for (`goog/cdp/execute`, `se/log`).
#[derive(Debug)]
struct Raw {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for Raw {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }
    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(self.body.to_string()))
    }
}

/// What the axe rules are run for: WCAG 2.0/2.1 A and AA.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
  .then((r) => done(r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => [v.id, v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 5).map((n) => n.target.join(' ') +
      ' [' + [...n.any, ...n.all].map((c) => c.message).join('; ').slice(0, 160) + ']').join(' | ')])))
  .catch((e) => done([['axe', 'axe failed: ' + e]]));
"#;

/// axe rules not enforced on a page (by a part of its address), each with its reason.
const EXEMPT: &[(&str, &str, &str)] = &[(
    "meta-refresh",
    "/reveal",
    "マイナンバーの表示 leaves the page by itself after 60 seconds by design: a revealed number \
     must not stay on an unattended screen (WCAG 2.2.1's essential exception; the page says so)",
)];

pub struct Tab {
    pub client: Client,
    pub name: &'static str,
    pub base: String,
    pub width: u32,
    axe: Arc<String>,
    shots: PathBuf,
    problems: Problems,
    /// Every address this tab landed on, for the plaintext scan.
    pub visited: Arc<Mutex<Vec<String>>>,
    step: usize,
    pub downloads: PathBuf,
    _profile: crate::TempDir,
}

impl Tab {
    /// A new Chromium (own fresh profile) at `width`×`height`, emulating a phone when `mobile`.
    #[allow(clippy::too_many_arguments)]
    pub async fn open(
        driver: &Driver,
        name: &'static str,
        base: &str,
        axe: Arc<String>,
        shots: PathBuf,
        problems: Problems,
        visited: Arc<Mutex<Vec<String>>>,
        (width, height, mobile): (u32, u32, bool),
    ) -> Tab {
        let profile = crate::TempDir::new("browser");
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            &format!(
                "--user-data-dir={}",
                profile.path().join("chrome").display()
            ),
        ];
        let caps = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": driver.chromium,
                "args": args,
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                },
            },
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("chromedriver starts a Chromium session");
        let mut tab = Tab {
            client,
            name,
            base: base.to_string(),
            width,
            axe,
            shots,
            problems,
            visited,
            step: 0,
            downloads: downloads.clone(),
            _profile: profile,
        };
        tab.resize(width, height, mobile).await;
        tab.cdp(
            "Browser.setDownloadBehavior",
            json!({ "behavior": "allow", "downloadPath": downloads }),
        )
        .await;
        tab
    }

    /// A DevTools protocol command through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.client
            .issue_cmd(Raw {
                path: "goog/cdp/execute",
                body: json!({ "cmd": cmd, "params": params }),
            })
            .await
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
    }

    /// The viewport (layout width) of this tab; a phone also gets touch and device-width.
    pub async fn resize(&mut self, width: u32, height: u32, mobile: bool) {
        self.width = width;
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await;
    }

    /// Opens `path` (relative to the server) and checks the page.
    pub async fn goto(&mut self, path: &str, label: &str) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        self.client.goto(&url).await.unwrap();
        self.check(label).await;
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    pub async fn text(&self) -> String {
        self.js("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Panics with the page's text unless it shows `expected`.
    pub async fn expect(&self, expected: &str) {
        let text = self.text().await;
        let path = self.path().await;
        assert!(
            text.contains(expected),
            "{}: {path} does not show {expected:?}:\n{text}",
            self.name
        );
    }

    async fn field(&self, name: &str) -> fantoccini::elements::Element {
        let css = format!("[name=\"{name}\"]");
        match self.client.find(Locator::Css(&css)).await {
            Ok(e) => e,
            Err(_) => panic!(
                "{}: no field {name} on {}:\n{}",
                self.name,
                self.path().await,
                self.text().await
            ),
        }
    }

    /// Types `value` into the (emptied) field `name`, as a keyboard does.
    pub async fn fill(&self, name: &str, value: &str) {
        let field = self.field(name).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Picks the option `value` of the select `name`.
    pub async fn pick(&self, name: &str, value: &str) {
        self.field(name).await.select_by_value(value).await.unwrap();
    }

    /// Picks the option shown as `label` of the select `name`.
    pub async fn pick_label(&self, name: &str, label: &str) {
        self.field(name).await.select_by_label(label).await.unwrap();
    }

    /// Chooses `file` in the page's own file input `css`, as the file picker would.
    pub async fn choose_file(&self, css: &str, file: &std::path::Path) {
        let input = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css}"));
        input.send_keys(&file.display().to_string()).await.unwrap();
    }

    /// Presses Tab until the field `name` has the keyboard focus (at most 40 times), checking
    /// that every element reached shows where the focus is (an outline or a shadow).
    pub async fn tab_to(&self, name: &str) {
        let tab = char::from(fantoccini::key::Key::Tab).to_string();
        for _ in 0..40 {
            let focused = self
                .js("const e = document.activeElement; const s = getComputedStyle(e); \
                     return [e.getAttribute('name') || e.tagName, e === document.body || s.outlineStyle !== 'none' || s.boxShadow !== 'none']")
                .await;
            assert_eq!(
                focused[1],
                Value::Bool(true),
                "{}: focus on {} is not visible",
                self.name,
                focused[0]
            );
            if focused[0] == name {
                return;
            }
            self.client
                .active_element()
                .await
                .unwrap()
                .send_keys(&tab)
                .await
                .unwrap();
        }
        panic!(
            "{}: the keyboard never reaches {name} on {}",
            self.name,
            self.path().await
        );
    }

    /// Types into the focused element (a keyboard user's typing, Enter included).
    pub async fn type_keys(&self, text: &str) {
        self.client
            .active_element()
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }

    /// Clicks the element `css` (a radio button, a check box, a viewer button).
    pub async fn click(&self, css: &str) {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.click().await.unwrap(),
            Err(_) => panic!(
                "{}: nothing matches {css} on {}:\n{}",
                self.name,
                self.path().await,
                self.text().await
            ),
        }
    }

    /// Clicks the visible button or link whose text is `label` and checks the page it leads to.
    pub async fn press(&mut self, label: &str, step: &str) {
        let xpath = format!(
            "//button[normalize-space(.)='{label}'] | //a[normalize-space(.)='{label}'] | //input[@type='submit' and @value='{label}']"
        );
        let mut found = None;
        for e in self.client.find_all(Locator::XPath(&xpath)).await.unwrap() {
            if e.is_displayed().await.unwrap_or(false) {
                found = Some(e);
                break;
            }
        }
        let Some(e) = found else {
            panic!(
                "{}: no button or link {label:?} on {}:\n{}",
                self.name,
                self.path().await,
                self.text().await
            )
        };
        e.click().await.unwrap();
        self.settle().await;
        self.check(step).await;
    }

    /// Waits until the page after a click has loaded.
    pub async fn settle(&self) {
        for _ in 0..100 {
            if self.js("return document.readyState").await == "complete" {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Waits up to 30 s for `script` (returning a boolean) to hold.
    pub async fn wait_until(&self, script: &str, what: &str) {
        for _ in 0..300 {
            if self.js(script).await == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "{}: {what} did not happen within 30 s on {}:\n{}",
            self.name,
            self.path().await,
            self.text().await
        );
    }

    /// The browser's console entries of level SEVERE since the last call.
    async fn console_errors(&self) -> Vec<String> {
        let log = self
            .client
            .issue_cmd(Raw {
                path: "se/log",
                body: json!({ "type": "browser" }),
            })
            .await
            .unwrap_or(Value::Null);
        log.as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The checks every page gets, and its screenshot (`<nn>-<tab>-<step>.png`).
    pub async fn check(&mut self, step: &str) {
        self.step += 1;
        let url = self.client.current_url().await.unwrap().to_string();
        self.visited.lock().unwrap().push(url.clone());
        let here = format!("{} @{} {step} ({url})", self.name, self.width);

        let layout = self
            .js("return [document.documentElement.scrollWidth, window.innerWidth, document.documentElement.lang]")
            .await;
        let (scroll, inner) = (
            layout[0].as_u64().unwrap_or(0),
            layout[1].as_u64().unwrap_or(0),
        );
        if scroll > inner {
            let wide = self
                .js("return [...document.body.querySelectorAll('*')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5).slice(0, 5).map((e) => e.tagName + (e.id ? '#' + e.id : '') + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().replace(/\\s+/g, '.') : '')).join(', ')")
                .await;
            self.problems.push(format!(
                "{here}: scrolls sideways ({scroll} > {inner}): {wide}"
            ));
        }
        if layout[2] != "ja" {
            self.problems
                .push(format!("{here}: <html lang> is {}", layout[2]));
        }
        for error in self.console_errors().await {
            self.problems
                .push(format!("{here}: console error: {error}"));
        }
        // axe-core and its run in one script, so a page that changes in between cannot lose
        // it; a page still navigating (a refresh) gets one more try once it has loaded.
        let script = format!("{}\n{AXE_RUN}", self.axe);
        let violations = match self.client.execute_async(&script, vec![]).await {
            Ok(v) => v,
            Err(_) => {
                self.settle().await;
                self.client
                    .execute_async(&script, vec![])
                    .await
                    .expect("axe runs")
            }
        };
        for v in violations.as_array().into_iter().flatten() {
            let rule = v[0].as_str().unwrap_or_default();
            if EXEMPT
                .iter()
                .any(|(r, page, _)| *r == rule && url.contains(page))
            {
                continue;
            }
            self.problems
                .push(format!("{here}: axe {}", v[1].as_str().unwrap_or_default()));
        }
        // The whole page, not only the viewport (after the checks: the capture may relayout).
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": true }),
            )
            .await;
        let file = self
            .shots
            .join(format!("{}-{:02}-{}.png", self.name, self.step, slug(step)));
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            shot["data"].as_str().unwrap_or_default(),
        )
        .unwrap();
        std::fs::write(&file, png).unwrap();
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

fn slug(step: &str) -> String {
    step.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}
