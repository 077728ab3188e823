//! What every journey starts from, written once: the shared constants, a signed-up owner
//! (`TestApp::with_owner(..)`, as crates.io's `TestApp::init().with_user()`), the
//! registrant and dependent forms with their 入力確認 step, document images, the collection
//! mail and the registrant's phone login, and the page checks more than one capability makes.
//! Test modules import from here (zero2prod's `tests/api/helpers.rs`), never from each other.

use axum::http::StatusCode;

use crate::{Browser, Page, TestApp};

/// The password every test owner signs up with.
pub const PW: &str = "Sakura-2026x";
/// A valid マイナンバー (right check digit).
pub const NUMBER: &str = "621498320257";
/// The password a registrant sets on the phone at the first visit.
pub const REG_PW: &str = "Phone-Pass-77";
/// Text only the 入力確認 page carries.
pub const CONFIRM_PAGE: &str = "以下の内容で登録します。";

/// A valid number: `first11` and its check digit.
pub fn my_number(first11: &str) -> String {
    let digits: [u8; 11] = first11
        .bytes()
        .map(|b| b - b'0')
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    format!("{first11}{}", myna::domain::check_digit(&digits))
}

/// A valid number (right check digit) for each seed.
pub fn valid_number(seed: u64) -> String {
    my_number(&format!("{:011}", 30_000_000_000u64 + seed * 7919))
}

/// What the free-text check says for a field labelled `label`.
pub fn holds_number_message(label: &str) -> String {
    format!("{label}にマイナンバー（12桁の個人番号）が含まれています。")
}

/// A few bytes a PNG starts with.
pub fn png() -> Vec<u8> {
    [
        &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..],
        &[7u8; 200],
    ]
    .concat()
}

/// A few bytes a JPEG starts with.
pub fn jpeg() -> Vec<u8> {
    [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[5u8; 300]].concat()
}

/// The three number boxes of a form holding `number` (cut where it is short).
fn number_boxes(number: &str) -> [(&'static str, &str); 3] {
    [
        ("number1", &number[..number.len().min(4)]),
        (
            "number2",
            if number.len() >= 8 { &number[4..8] } else { "" },
        ),
        (
            "number3",
            if number.len() >= 12 {
                &number[8..12]
            } else {
                ""
            },
        ),
    ]
}

/// The registrant form's fields (an employee born S55/1/1, hired 2020/4/1).
pub fn person<'a>(
    family: &'a str,
    given: &'a str,
    code: &'a str,
    number: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("family_name", family),
        ("given_name", given),
        ("family_kana", "ヤマダ"),
        ("given_kana", "タロウ"),
        ("code", code),
        ("attribute", "employee1"),
        ("email", ""),
        ("sex", "male"),
        ("birth_date", "S55/1/1"),
        ("hire_date", "2020/4/1"),
    ];
    fields.extend(number_boxes(number));
    fields
}

/// The dependent form's fields (a 山田 born H22/4/1).
pub fn dependent<'a>(
    given: &'a str,
    relationship: &'a str,
    kind: &'a str,
    number: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("family_name", "山田"),
        ("given_name", given),
        ("relationship", relationship),
        ("kind", kind),
        ("sex", "female"),
        ("birth_date", "H22/4/1"),
    ];
    fields.extend(number_boxes(number));
    fields
}

fn html_unescape(s: &str) -> String {
    s.replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Page {
    /// The value of the page's field `name` (e.g. the approval screen's `version`).
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} on the page: {}", self.body))
            + marker.len();
        self.body[start..].split('"').next().unwrap().to_string()
    }

    /// Every hidden field of the page, in order and unescaped (what a 入力確認 page posts).
    pub fn hidden_fields(&self) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        for chunk in self.body.split("<input type=\"hidden\" name=\"").skip(1) {
            let name = chunk.split('"').next().unwrap().to_string();
            let value = chunk
                .split("value=\"")
                .nth(1)
                .and_then(|v| v.split('"').next())
                .unwrap_or("")
                .to_string();
            fields.push((name, html_unescape(&value)));
        }
        fields
    }

    /// The registrant id this response redirects to (`/registrants/{id}…`).
    pub fn registrant_id(&self) -> String {
        let loc = self
            .location()
            .unwrap_or_else(|| panic!("no redirect: {}", self.body));
        loc.trim_start_matches("/registrants/")
            .split('?')
            .next()
            .unwrap()
            .to_string()
    }
}

impl TestApp {
    /// The newest 200 entries of the tenant's operation log, newest first.
    pub async fn audit_of(
        &self,
        scope: &myna::app::keys::TenantScope,
    ) -> Vec<myna::app::audit::Entry> {
        self.app
            .audit
            .list(Some(scope.tenant()), 200, None)
            .await
            .unwrap()
            .0
    }

    /// Signs `company` up with `email` as its owner and logs the owner in.
    pub async fn owner(&self, company: &str, email: &str) -> Browser {
        self.signup(company, email, PW).await;
        self.login(email, PW, None).await
    }

    /// A fresh product with `company` signed up and its owner logged in: the start of most
    /// journeys (crates.io's `TestApp::init().with_user()`).
    pub async fn with_owner(company: &str, email: &str) -> (TestApp, Browser) {
        let t = TestApp::spawn();
        let b = t.owner(company, email).await;
        (t, b)
    }

    /// A login user of `role` in the tenant of `scope`, written straight into the store (the
    /// user, and the global `EMAIL#` look-up login goes through), then logged in through both
    /// factors with [`PW`].
    pub async fn with_user(
        &self,
        scope: &myna::app::keys::TenantScope,
        email: &str,
        role: myna::domain::role::Role,
    ) -> Browser {
        let user = myna::app::users::User {
            id: ulid::Ulid::new().to_string(),
            tenant: scope.tenant().clone(),
            email: email.to_string(),
            family_name: "試験".into(),
            given_name: role.label().into(),
            role,
            password_hash: myna::app::passwords::hash(
                self.app.config.password_params,
                PW.to_string(),
            )
            .await
            .unwrap(),
            created_at: time::OffsetDateTime::now_utc(),
            department: String::new(),
            kind: myna::app::users::UserKind::Employee,
            note: String::new(),
        };
        scope
            .put(user.to_item(scope), myna::ports::Condition::None)
            .await
            .unwrap();
        let lookup =
            myna::ports::store::Item::new(myna::app::keys::email_lookup(email, scope.tenant()))
                .with("user", user.id.as_str());
        self.app
            .ports
            .store
            .put(lookup, myna::ports::Condition::None)
            .await
            .unwrap();
        self.login(email, PW, None).await
    }

    /// Turns the company's setting 閲覧のみ may reveal and download numbers on or off.
    pub async fn set_view_only_may_reveal(&self, scope: &myna::app::keys::TenantScope, on: bool) {
        let key = scope.key(myna::app::keys::sk::PROFILE);
        let mut profile = scope.get(&key).await.unwrap().expect("tenant profile");
        profile
            .attrs
            .insert("view_only_may_reveal".into(), on.into());
        scope
            .put(profile, myna::ports::Condition::None)
            .await
            .unwrap();
    }

    /// The browser's PUT to the local upload URL of `ticket`.
    pub async fn put(&self, ticket: &serde_json::Value, content_type: &str, body: Vec<u8>) -> bool {
        let token = ticket["url"].as_str().unwrap().rsplit('/').next().unwrap();
        self.files
            .accept_upload(token, content_type, body)
            .await
            .is_ok()
    }

    /// Logs the registrant in through the link (first visit sets the password).
    pub async fn phone_login(&self, link: &str, passcode: &str, ip: &str) -> Browser {
        let mut phone = self.browser(ip);
        let res = phone
            .submit(
                link,
                link,
                &[
                    ("password", REG_PW),
                    ("password_confirm", REG_PW),
                    ("passcode", passcode),
                ],
            )
            .await;
        assert_eq!(res.location(), Some("/r/me"), "{}", res.body);
        phone
    }

    /// Uploads a JPEG of `kind` from the phone for the record at `base`.
    pub async fn phone_upload(&self, phone: &mut Browser, base: &str, kind: &str) {
        let csrf = phone.get("/r/me/review").await.csrf().unwrap();
        let res = phone
            .post(
                &format!("{base}/images/{kind}/ticket"),
                &[("csrf", &csrf), ("content_type", "image/jpeg")],
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let ticket: serde_json::Value = serde_json::from_str(&res.body).unwrap();
        let token = ticket["url"].as_str().unwrap().rsplit('/').next().unwrap();
        let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[7u8; 2000]].concat();
        self.files
            .accept_upload(token, "image/jpeg", jpeg)
            .await
            .unwrap();
        let res = phone
            .post(
                &format!("{base}/images/{kind}/complete"),
                &[
                    ("csrf", &csrf),
                    ("upload", ticket["upload"].as_str().unwrap()),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }

    /// The registrant ids on the send list of `owner`'s tenant, in order.
    pub async fn send_list_ids(&self, owner: &str) -> Vec<String> {
        let scope = self.scope_of(owner).await;
        myna::app::collection::send_list(&scope)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    }

    /// The registration link (path only) in the newest collection mail to `to`.
    pub fn link_in_mail(&self, to: &str) -> String {
        let mail = self.outbox.latest_to(to).unwrap().expect("collection mail");
        assert_eq!(mail.mail.subject, myna::app::collection::SUBJECT);
        let url = mail
            .mail
            .body
            .lines()
            .find(|l| l.contains("/r/"))
            .expect("link line")
            .trim()
            .to_string();
        url.trim_start_matches("http://127.0.0.1:8080").to_string()
    }

    /// A registrant of `owner`'s tenant added by 簡易登録 with `email` and mailed its link:
    /// its id and the link.
    pub async fn mailed_registrant(
        &self,
        b: &mut Browser,
        owner: &str,
        email: &str,
    ) -> (String, String) {
        b.quick(&[("山田", "花子", email)], "list").await;
        let id = self.send_list_ids(owner).await.pop().unwrap();
        b.send_collection_mail(
            &format!("/collection/mail?ids={id}"),
            std::slice::from_ref(&id),
            &[],
        )
        .await;
        self.run_jobs().await;
        (id, self.link_in_mail(email))
    }
}

impl Browser {
    /// The CSVダウンロード form's fields for a filter `query` (its hidden fields: the CSRF
    /// token and the list's filter), with the password, a purpose and `encoding` ("cp932" or
    /// "utf8"): what a user posts to download.
    pub async fn csv_download_fields(
        &mut self,
        query: &str,
        encoding: &str,
    ) -> Vec<(String, String)> {
        let mut fields = self
            .get(&format!("/registrants/csv{query}"))
            .await
            .hidden_fields();
        for (k, v) in [
            ("password", PW),
            ("purpose", "salary_withholding"),
            ("encoding", encoding),
        ] {
            fields.push((k.into(), v.into()));
        }
        fields
    }

    /// 登録 on a CSVアップロード confirm page (入力確認): posts its commit form; returns the
    /// import id. The commit itself is the `import.commit` job's (`TestApp::run_jobs`).
    pub async fn confirm_import(&mut self, staged: &Page) -> String {
        let start = staged
            .body
            .find("/commit\"")
            .unwrap_or_else(|| panic!("no confirm page: {}", staged.body));
        let id = staged.body[start - 26..start].to_string();
        let token = staged.csrf().expect("csrf field");
        let res = self
            .post(
                &format!("/registrants/csv-upload/{id}/commit"),
                &[("csrf", &token)],
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        id
    }

    /// Posts the registrant form (入力確認), then the confirm page's hidden fields (登録).
    pub async fn add_registrant(
        &mut self,
        fields: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Page {
        let confirm = self
            .submit("/registrants/new", "/registrants/new", fields)
            .await;
        if !confirm.body.contains(CONFIRM_PAGE) {
            return confirm;
        }
        self.post_confirm(&confirm, "/registrants/new", extra).await
    }

    /// Posts the dependent form of `registrant` (入力確認), then its confirm page (登録).
    pub async fn add_dependent(
        &mut self,
        registrant: &str,
        fields: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Page {
        let path = format!("/registrants/{registrant}/dependents/new");
        let confirm = self.submit(&path, &path, fields).await;
        if !confirm.body.contains(CONFIRM_PAGE) {
            return confirm;
        }
        self.post_confirm(&confirm, &path, extra).await
    }

    /// Sets the company passcode (企業パスコード) registrants enter on the phone.
    pub async fn set_passcode(&mut self, passcode: &str) {
        let res = self
            .submit(
                "/collection/passcode",
                "/collection/passcode",
                &[("passcode", passcode)],
            )
            .await;
        assert_eq!(res.location(), Some("/collection/passcode?done=1"));
    }

    /// 解約申請 through its page: 入力確認, then 申請.
    pub async fn request_cancellation(&mut self) {
        let confirm = self
            .submit(
                "/plan/cancel",
                "/plan/cancel/confirm",
                &[("acknowledged", "on")],
            )
            .await;
        assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
        assert!(
            confirm.body.contains("解約申請（入力確認）"),
            "{}",
            confirm.body
        );
        let csrf = confirm.csrf().unwrap();
        let done = self
            .post("/plan/cancel", &[("csrf", &csrf), ("acknowledged", "on")])
            .await;
        assert_eq!(
            done.location(),
            Some("/plan/cancel?done=requested"),
            "{}",
            done.body
        );
    }

    /// 廃棄 through its screens: opens the deletion page `path` (e.g.
    /// `/registrants/{id}/number/delete`), gives the reason, passes 入力確認 and presses 削除.
    /// Returns the 入力確認 page and the answer to 削除.
    pub async fn dispose(&mut self, path: &str, reason: &str, text: &str) -> (Page, Page) {
        let form = self.get(path).await;
        assert_eq!(form.status, StatusCode::OK, "{path}: {}", form.body);
        let csrf = form.csrf().expect("a csrf token");
        let record = form.hidden("record");
        let confirm = self
            .post(
                path,
                &[
                    ("csrf", &csrf),
                    ("record", &record),
                    ("reason", reason),
                    ("reason_text", text),
                ],
            )
            .await;
        assert_eq!(confirm.status, StatusCode::OK, "{path}: {}", confirm.body);
        let done = self
            .post_confirm(&confirm, path, &[("step", "commit")])
            .await;
        (confirm, done)
    }

    /// Posts the confirm page's hidden fields, and `extra`, to `action`.
    pub async fn post_confirm(
        &mut self,
        confirm: &Page,
        action: &str,
        extra: &[(&str, &str)],
    ) -> Page {
        let mut fields = confirm.hidden_fields();
        for (k, v) in extra {
            fields.push((k.to_string(), v.to_string()));
        }
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.post(action, &refs).await
    }

    /// Asks `path` for an upload ticket: the status and the JSON answer.
    pub async fn ticket(
        &mut self,
        path: &str,
        content_type: &str,
    ) -> (StatusCode, serde_json::Value) {
        let csrf = self.get("/home").await.csrf().unwrap();
        let res = self
            .post(path, &[("csrf", &csrf), ("content_type", content_type)])
            .await;
        (
            res.status,
            serde_json::from_str(&res.body).unwrap_or_default(),
        )
    }

    /// Tells `path` the upload is done: the status and the JSON answer.
    pub async fn complete(&mut self, path: &str, upload: &str) -> (StatusCode, serde_json::Value) {
        let csrf = self.get("/home").await.csrf().unwrap();
        let res = self
            .post(path, &[("csrf", &csrf), ("upload", upload)])
            .await;
        (
            res.status,
            serde_json::from_str(&res.body).unwrap_or_default(),
        )
    }

    /// Opens the approval screen at `base` and posts `action` with its version and `reason`.
    pub async fn decide(&mut self, base: &str, action: &str, reason: &str) -> Page {
        let view = self.get(base).await;
        let version = view.hidden("version");
        self.submit(
            base,
            &format!("{base}/{action}"),
            &[("version", &version), ("reason", reason)],
        )
        .await
    }

    /// Posts the 簡易登録 grid with these (family, given, email) rows.
    pub async fn quick(&mut self, rows: &[(&str, &str, &str)], next: &str) -> Page {
        let names: Vec<[String; 3]> = (0..rows.len())
            .map(|i| {
                [
                    format!("family_name_{i}"),
                    format!("given_name_{i}"),
                    format!("email_{i}"),
                ]
            })
            .collect();
        let mut fields: Vec<(&str, &str)> = vec![("attribute_all", "employee1"), ("next", next)];
        for (i, (f, g, e)) in rows.iter().enumerate() {
            fields.push((&names[i][0], f));
            fields.push((&names[i][1], g));
            fields.push((&names[i][2], e));
        }
        self.submit("/collection/quick", "/collection/quick", &fields)
            .await
    }

    /// Sends the mail form at `page` to `ids`; returns the blast page it redirects to.
    pub async fn send_collection_mail(
        &mut self,
        page: &str,
        ids: &[String],
        extra: &[(&str, &str)],
    ) -> String {
        let mut fields: Vec<(&str, &str)> = ids.iter().map(|id| ("ids", id.as_str())).collect();
        fields.extend_from_slice(extra);
        let res = self.submit(page, page, &fields).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        res.location().unwrap().to_string()
    }

    /// Every link in `html` opens a page (200) that is not a 準備中 place; returns how many.
    pub async fn assert_links_lead_to_working_screens(&mut self, html: &str, from: &str) -> usize {
        let hrefs: Vec<&str> = html
            .split("href=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .collect();
        for href in &hrefs {
            let target = href.split('#').next().unwrap_or(href);
            let res = self.get(target).await;
            assert_eq!(res.status, StatusCode::OK, "{from} links {href}");
            assert!(
                !res.body.contains("この機能は現在準備中です"),
                "{from} links {href} (準備中)"
            );
        }
        hrefs.len()
    }
}

/// The items of the `<ul class="documents…" data-documents="{list}">` lists on a page.
pub fn list_items(body: &str, list: &str) -> Vec<String> {
    let marker = format!("data-documents=\"{list}\">");
    body.split(&marker)
        .skip(1)
        .flat_map(|rest| {
            let ul = rest.split("</ul>").next().unwrap_or_default();
            ul.split("<li>")
                .skip(1)
                .map(|li| li.split("</li>").next().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A page showing 番号確認 documents offers the current ones only: 個人番号通知書 is named as
/// refused, 通知カード only with its condition.
pub fn assert_number_documents_current(body: &str, page: &str) {
    let number = list_items(body, "number");
    assert!(!number.is_empty(), "{page}: no 番号確認 list");
    assert!(
        number.iter().all(|d| !d.contains("個人番号通知書")),
        "{page}: 個人番号通知書 offered as 番号確認"
    );
    assert!(
        number
            .iter()
            .filter(|d| d.contains("通知カード"))
            .all(|d| d.contains("住民票と一致している場合に限ります")),
        "{page}: 通知カード offered without its condition"
    );
    assert!(list_items(body, "not-number")
        .iter()
        .any(|d| d.contains("「個人番号通知書」は使えません")));
}

/// A page showing 身元確認 documents offers 資格確認書, and 健康保険証 / 年金手帳 only as what
/// they are today.
pub fn assert_identity_documents_current(body: &str, page: &str) {
    let current: Vec<String> = list_items(body, "photo")
        .into_iter()
        .chain(list_items(body, "no-photo"))
        .collect();
    assert!(!current.is_empty(), "{page}: no 身元確認 list");
    assert!(
        current.iter().any(|d| d.contains("資格確認書")),
        "{page}: 資格確認書 missing"
    );
    assert!(
        current.iter().all(|d| !d.contains("健康保険証")),
        "{page}: 健康保険証 offered as current"
    );
    assert!(
        current.iter().any(|d| d.contains("基礎年金番号通知書")),
        "{page}: 基礎年金番号通知書 missing"
    );
    assert!(!body.contains("各種保険証"), "{page}: 各種保険証");
}

/// The status of registrant `id`, read from the store.
pub async fn status_of(
    scope: &myna::app::keys::TenantScope,
    id: &str,
) -> myna::domain::status::Status {
    myna::app::registrants::get(scope, id)
        .await
        .unwrap()
        .unwrap()
        .person
        .status
}

/// An operation-log event of `tenant` with `detail` (tests that fill or tamper with a log).
pub fn audit_event(tenant: &myna::app::keys::TenantId, detail: String) -> myna::ports::AuditEvent {
    myna::ports::AuditEvent {
        tenant_id: Some(tenant.to_string()),
        actor_id: None,
        actor_name: Some("記録 係".into()),
        action: "test".into(),
        target: None,
        detail,
        ip: Some("192.0.2.9".into()),
    }
}

/// A registrant as a save writes it, straight from a person: a new id, no group, no number,
/// no dependents, no dates (benchmarks and tests seeding the store set what they need).
pub fn bare_registrant(
    code: String,
    person: myna::app::person::PersonCore,
) -> myna::app::registrants::Registrant {
    myna::app::registrants::Registrant {
        id: ulid::Ulid::new().to_string(),
        group_id: None,
        code,
        person,
        attribute: myna::domain::person::Attribute::ALL[0],
        email: None,
        password_hash: None,
        login_lock: false,
        hire_date: None,
        note: String::new(),
        dependents: 0,
        dependents_unregistered: 0,
        dependents_pending: 0,
        dependents_status: None,
        dependents_text_cp932: Some(true),
        retired_on: None,
        delete_on: None,
        last_declaration_year: None,
    }
}
