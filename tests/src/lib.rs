//! Test support: a real product instance on the embedded adapters in a temporary directory,
//! driven through its router without a socket (zero2prod's `TestApp`, axum's `oneshot`), and
//! the port contract suites that every adapter set must pass. [`fixtures`] holds what the
//! journeys share (the owner, the forms, the 入力確認 step, page checks).
//!
//! All of it is test support: a failed `unwrap` here is a failed test, so it is allowed.

#![allow(clippy::unwrap_used)]

pub mod browser;
pub mod contract;
pub mod emulator;
pub mod faults;
pub mod fixtures;
pub mod http;
pub mod lambda;
pub mod logs;
pub mod seed;
pub mod seed_sealed;
pub mod smtp;
pub mod store_hook;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use myna::adapters::embedded::{Embedded, EventQueue, FileBlobs, Outbox};
use myna::app::passwords::Params;
use myna::app::{App, Config};
use myna::ports::store::Store;
use myna::ports::ManualClock;
use time::OffsetDateTime;
use tower::ServiceExt;

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("myna-{label}-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running product on a fresh data directory, with a clock the test moves.
pub struct TestApp {
    pub app: Arc<App>,
    pub router: Router,
    pub outbox: Arc<Outbox>,
    pub clock: Arc<ManualClock>,
    pub queue: EventQueue,
    pub files: Arc<FileBlobs>,
    pub dir: TempDir,
}

pub fn test_config() -> Config {
    Config {
        base_url: "http://127.0.0.1:8080".into(),
        secure_cookies: false,
        password_params: Params::TESTING,
        ..Config::default()
    }
}

impl TestApp {
    pub fn spawn() -> TestApp {
        Self::spawn_with(test_config())
    }

    pub fn spawn_with(config: Config) -> TestApp {
        Self::spawn_wrapping_store(config, |store| store)
    }

    /// A fresh product whose main store is `wrap`ped, e.g. to make some reads fail (fault
    /// injection) while everything else runs on the real embedded adapters.
    pub fn spawn_wrapping_store(
        config: Config,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> TestApp {
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        Self::open_wrapping(TempDir::new("test"), clock, config, |ports| {
            ports.store = wrap(ports.store.clone());
        })
    }

    /// A product on the data directory `dir` (new or prepared earlier, see `faults`) whose
    /// ports are first handed to `wrap`, e.g. to make the Nth call of one of them fail.
    pub fn open_wrapping(
        dir: TempDir,
        clock: Arc<ManualClock>,
        config: Config,
        wrap: impl FnOnce(&mut myna::ports::Ports),
    ) -> TestApp {
        let mut embedded = Embedded::open(dir.path(), "http://127.0.0.1:8080", clock.clone())
            .expect("embedded adapters");
        wrap(&mut embedded.ports);
        let app = App::new(embedded.ports, config);
        let router = myna::web::all(app.clone());
        TestApp {
            app,
            router,
            outbox: embedded.outbox,
            clock,
            queue: embedded.queue,
            files: embedded.files,
            dir,
        }
    }

    /// Runs the background jobs queued so far, as the worker would; returns how many ran.
    pub async fn run_jobs(&self) -> usize {
        let events = self.queue.drain();
        for e in &events {
            myna::app::worker::handle(&self.app, e).await.expect("job");
        }
        events.len()
    }

    /// A new browser (own cookie jar) coming from `ip`.
    pub fn browser(&self, ip: &str) -> Browser {
        Browser {
            router: self.router.clone(),
            cookies: BTreeMap::new(),
            ip: ip.to_string(),
        }
    }

    /// The code of the newest OTP mail to `email`.
    pub fn latest_otp(&self, email: &str) -> Option<String> {
        otp_in(&self.outbox, email)
    }

    /// Today in Japan on the test clock.
    pub fn clock_today(&self) -> time::Date {
        use myna::ports::Clock;
        self.clock.now().to_offset(time::macros::offset!(+9)).date()
    }

    /// The tenant scope of the (single) tenant where `email` is a login user.
    pub async fn scope_of(&self, email: &str) -> myna::app::keys::TenantScope {
        scope_of(&self.app, email).await
    }

    /// Gives the tenant's first login user `role` (the ログインユーザ screens are still 準備中;
    /// until they exist, tests change the role directly).
    pub async fn set_role(&self, scope: &myna::app::keys::TenantScope, role: &str) {
        let users = scope
            .query(&myna::ports::Query::partition(scope.pk()).prefix("USER#"))
            .await
            .unwrap();
        let mut user = users.items[0].clone();
        user.attrs.insert("role".into(), role.into());
        scope.put(user, myna::ports::Condition::None).await.unwrap();
    }

    /// Signs up a company through the form; returns its customer number (read from the mail).
    pub async fn signup(&self, company: &str, email: &str, password: &str) -> String {
        // Each sign-up from its own address: sign-ups are limited per address (SIGNUP_IP).
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut b = self.browser(&format!("198.51.{}.{}", 100 + n / 250 % 100, n % 250 + 1));
        let res = b
            .submit(
                "/signup",
                "/signup",
                &signup_fields(company, email, password),
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "signup failed: {}",
            res.body
        );
        self.run_jobs().await;
        let mail = self.outbox.latest_to(email).unwrap().expect("welcome mail");
        let line = mail
            .mail
            .body
            .lines()
            .find(|l| l.starts_with("お客様番号:"))
            .expect("customer number line");
        line.trim_start_matches("お客様番号:").trim().to_string()
    }

    /// Logs a new browser in through both factors.
    pub async fn login(&self, email: &str, password: &str, customer: Option<&str>) -> Browser {
        let mut b = self.browser("203.0.113.10");
        let res = b
            .submit(
                "/login",
                "/login",
                &[
                    ("email", email),
                    ("password", password),
                    ("customer_number", customer.unwrap_or("")),
                ],
            )
            .await;
        assert_eq!(
            res.location(),
            Some("/login/otp"),
            "password step failed: {}",
            res.body
        );
        let code = self.latest_otp(email).expect("otp mail");
        let res = b
            .submit("/login/otp", "/login/otp", &[("code", &code)])
            .await;
        assert_eq!(
            res.location(),
            Some("/home"),
            "otp step failed: {}",
            res.body
        );
        b
    }
}

/// A company signed up and its owner logged in, on any router built on embedded adapters (the
/// benchmarks, which measure their own `App`): the owner's browser and the tenant's scope.
pub async fn signed_up(
    app: &App,
    router: Router,
    outbox: &Outbox,
    email: &str,
    password: &str,
) -> (Browser, myna::app::keys::TenantScope) {
    let mut b = Browser::new(router, "203.0.113.1");
    b.submit(
        "/signup",
        "/signup",
        &signup_fields("株式会社ベンチ", email, password),
    )
    .await;
    b.submit(
        "/login",
        "/login",
        &[("email", email), ("password", password)],
    )
    .await;
    let code = otp_in(outbox, email).expect("otp mail");
    b.submit("/login/otp", "/login/otp", &[("code", &code)])
        .await;
    (b, scope_of(app, email).await)
}

/// The code of the newest OTP mail to `email` in `outbox`.
pub fn otp_in(outbox: &Outbox, email: &str) -> Option<String> {
    let mail = outbox.latest_to(email).ok()??;
    let line = mail
        .mail
        .body
        .lines()
        .find(|l| l.starts_with("第二認証コード:"))?;
    Some(
        line.trim_start_matches("第二認証コード:")
            .trim()
            .to_string(),
    )
}

/// The tenant scope of the (single) tenant where `email` is a login user.
pub async fn scope_of(app: &App, email: &str) -> myna::app::keys::TenantScope {
    let page = app
        .ports
        .store
        .query(&myna::ports::Query::partition(
            myna::app::keys::email_lookup_partition(email),
        ))
        .await
        .unwrap();
    let tenant = page.items[0].key.sk.trim_start_matches("T#");
    let tenant = myna::app::keys::TenantId::parse(tenant).unwrap();
    myna::app::keys::TenantScope::new(tenant, app.ports.store.clone())
}

pub fn signup_fields<'a>(
    company: &'a str,
    email: &'a str,
    password: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("company_name", company),
        ("family_name", "山田"),
        ("given_name", "太郎"),
        ("email", email),
        ("password", password),
        ("password_confirm", password),
    ]
}

/// The CSRF token of the first form in `html`.
pub fn csrf_in(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// A response read to the end.
pub struct Page {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
    /// The body as received (a download in another encoding than UTF-8).
    pub bytes: Vec<u8>,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    /// The CSRF token of the page's first form.
    pub fn csrf(&self) -> Option<String> {
        csrf_in(&self.body)
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }
}

/// A cookie-keeping client of the router.
pub struct Browser {
    router: Router,
    pub cookies: BTreeMap<String, String>,
    pub ip: String,
}

impl Browser {
    /// A browser on any router (e.g. one wired to the AWS adapters).
    pub fn new(router: Router, ip: &str) -> Browser {
        Browser {
            router,
            cookies: BTreeMap::new(),
            ip: ip.to_string(),
        }
    }

    pub async fn send(&mut self, mut req: Request<Body>) -> Page {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !cookie.is_empty() {
            req.headers_mut()
                .insert(header::COOKIE, cookie.join("; ").parse().unwrap());
        }
        let addr: SocketAddr = format!("{}:50000", self.ip).parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        let res: Response<Body> = self.router.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let page = Page {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes: bytes.to_vec(),
        };
        for c in page.set_cookies() {
            let first = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = first.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// POSTs exactly these fields (no token added).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).expect("form fields");
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// Opens `form_page`, takes its CSRF token, and uploads `bytes` as the file field `file`
    /// of a multipart form to `action` (the token first, as the page's form sends it), or
    /// without any token when `with_csrf` is false.
    pub async fn upload(
        &mut self,
        form_page: &str,
        action: &str,
        bytes: &[u8],
        with_csrf: bool,
    ) -> Page {
        let token = self.get(form_page).await.csrf().unwrap_or_default();
        let boundary = "----mynaboundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        if with_csrf {
            body.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n")
                    .bytes(),
            );
        }
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"staff.csv\"\r\nContent-Type: text/csv\r\n\r\n").bytes());
        body.extend_from_slice(bytes);
        body.extend(format!("\r\n--{boundary}--\r\n").bytes());
        self.send(
            Request::post(action)
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// Opens `form_page`, takes its CSRF token, and POSTs `fields` with it to `action`.
    pub async fn submit(&mut self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(form_page).await;
        let token = page
            .csrf()
            .unwrap_or_else(|| panic!("no csrf token on {form_page}: {}", page.body));
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }
}
