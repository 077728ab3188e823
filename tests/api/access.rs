//! Who may call what (role × route): every route of every function (`web::functions`), tried
//! as every kind of caller — nobody, a login waiting for its second factor, a registrant on
//! the phone, the 最高権限 of another company, and this company's 最高権限, 管理担当者 and 閲覧のみ
//! (with the company's 閲覧のみ may reveal setting off and on). Each answer must be what the
//! route's `Access` and the role table say: refused (the login page, the phone's login page,
//! 403) or let through (anything else, never a 5xx). A route cannot exist outside the table
//! (the table is the router), so a new route is in this matrix the day it is added.
//!
//! Beside the derived matrix, a few rules are pinned by hand (the public pages, what 閲覧のみ
//! may post, what a 管理担当者 may not open), so a wrong `Access` on a route fails here too.

use axum::http::{Method, StatusCode};
use myna::app::keys::TenantScope;
use myna::domain::role::{Permission, Role};
use myna::web::access::{Access, RouteEntry};
use myna::web::functions::Function;
use myna::web::session::{session_cookie_for, CSRF_COOKIE};
use myna_tests::fixtures::{dependent, person, NUMBER, PW};
use myna_tests::{csrf_in, Browser, Page, TestApp};

const OWNER: &str = "owner@honke.example.jp";
const COMPANY: &str = "株式会社本家";
/// The family name of the owner's registrant: no other company may ever see it.
const SECRET_NAME: &str = "秘匿";
const VIEWER: &str = "viewer@honke.example.jp";
const PASSCODE: &str = "Kaisha42";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    /// Passed the password, not yet the second factor.
    PendingLogin,
    /// A registrant of the company, logged in on the phone.
    Registrant,
    /// The 最高権限 of another company.
    OtherTenant,
    Owner,
    Manager,
    ViewOnly,
    /// 閲覧のみ where the company lets 閲覧のみ reveal and download numbers.
    ViewOnlyMayReveal,
}

/// The order the callers are tried in: the ones that change nothing first, so the records the
/// paths name still exist when the other company tries them.
const CALLERS: [Caller; 8] = [
    Caller::Anonymous,
    Caller::PendingLogin,
    Caller::Registrant,
    Caller::OtherTenant,
    Caller::ViewOnly,
    Caller::ViewOnlyMayReveal,
    Caller::Manager,
    Caller::Owner,
];

impl Caller {
    /// The role of a logged-in administrator, and whether their company lets 閲覧のみ reveal.
    fn staff(self) -> Option<(Role, bool)> {
        match self {
            Caller::Anonymous | Caller::PendingLogin | Caller::Registrant => None,
            Caller::OtherTenant | Caller::Owner => Some((Role::Owner, false)),
            Caller::Manager => Some((Role::Manager, false)),
            Caller::ViewOnly => Some((Role::ViewOnly, false)),
            Caller::ViewOnlyMayReveal => Some((Role::ViewOnly, true)),
        }
    }
}

/// The specification: whether `caller` gets through a route declared with `access`.
fn may_call(access: Access, caller: Caller) -> bool {
    match access {
        Access::Public => true,
        Access::SecondFactor => caller == Caller::PendingLogin,
        Access::Registrant => caller == Caller::Registrant,
        Access::Staff => caller.staff().is_some(),
        Access::Can(p) => caller.staff().is_some_and(|(role, may_reveal)| {
            let numbers = matches!(p, Permission::RevealNumber | Permission::ExportCsv);
            role.allows(p) && !(numbers && role == Role::ViewOnly && !may_reveal)
        }),
    }
}

/// How a request was refused, if it was.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// Redirected to the administrators' login page.
    Login,
    /// The phone's "please log in" page (401).
    RegistrantLogin,
    /// 権限がありません (403).
    Forbidden,
}

fn refusal(page: &Page) -> Option<Refusal> {
    if let Some(to) = page.location() {
        if to == "/login" || to.starts_with("/login?") {
            return Some(Refusal::Login);
        }
    }
    if page.status == StatusCode::UNAUTHORIZED && page.body.contains("メールに記載されたURL")
    {
        return Some(Refusal::RegistrantLogin);
    }
    if page.status == StatusCode::FORBIDDEN && page.body.contains("権限がありません") {
        return Some(Refusal::Forbidden);
    }
    None
}

/// The company, its records, and a browser for each caller.
struct World {
    t: TestApp,
    scope: TenantScope,
    registrant: String,
    dependent: String,
    browsers: Vec<(Caller, Browser, String)>,
}

impl World {
    async fn new() -> World {
        let (t, mut owner) = TestApp::with_owner(COMPANY, OWNER).await;
        let scope = t.scope_of(OWNER).await;
        owner.set_passcode(PASSCODE).await;
        let registrant = owner
            .add_registrant(&person(SECRET_NAME, "太郎", "S-001", NUMBER), &[])
            .await
            .registrant_id();
        owner
            .add_dependent(
                &registrant,
                &dependent("花子", "spouse", "dependent", ""),
                &[],
            )
            .await;
        let deps = scope
            .query(
                &myna::ports::Query::partition(scope.pk()).prefix(format!("REG#{registrant}#DEP#")),
            )
            .await
            .unwrap();
        let dependent = deps.items[0].key.sk.rsplit('#').next().unwrap().to_string();
        let (_, link) = t
            .mailed_registrant(&mut owner, OWNER, "hanako@honke.example.jp")
            .await;
        let phone = t.phone_login(&link, PASSCODE, "198.51.100.40").await;

        let mut pending = t.browser("203.0.113.20");
        let res = pending
            .submit(
                "/login",
                "/login",
                &[("email", OWNER), ("password", PW), ("customer_number", "")],
            )
            .await;
        assert_eq!(res.location(), Some("/login/otp"));

        t.signup("株式会社よそ", "other@yoso.example.jp", PW).await;
        let other = t.login("other@yoso.example.jp", PW, None).await;
        let manager = t
            .with_user(&scope, "manager@honke.example.jp", Role::Manager)
            .await;
        let view_only = t.with_user(&scope, VIEWER, Role::ViewOnly).await;

        let mut browsers = Vec::new();
        for (caller, mut b, token_page) in [
            (Caller::Anonymous, t.browser("203.0.113.21"), "/login"),
            (Caller::PendingLogin, pending, "/login/otp"),
            (Caller::Registrant, phone, "/r/me/review"),
            (Caller::OtherTenant, other, "/home"),
            (Caller::ViewOnly, view_only, "/home"),
            (Caller::Manager, manager, "/home"),
            (Caller::Owner, owner, "/home"),
        ] {
            let page = b.get(token_page).await;
            let csrf = csrf_in(&page.body)
                .unwrap_or_else(|| panic!("{caller:?}: no token on {token_page}"));
            browsers.push((caller, b, csrf));
        }
        World {
            t,
            scope,
            registrant,
            dependent,
            browsers,
        }
    }

    /// `path` with its parameters filled: the company's real records where the route names
    /// one, made-up ids elsewhere.
    fn fill(&self, path: &str) -> String {
        let id = if path.starts_with("/registrants/groups/")
            || path.starts_with("/registrants/csv-upload/")
            || path.starts_with("/collection/blasts/")
        {
            "01JZZZZZZZZZZZZZZZZZZZZZZZ"
        } else if path.starts_with("/home/notices/") {
            "welcome"
        } else {
            self.registrant.as_str()
        };
        path.replace("{id}", id)
            .replace("{dep}", &self.dependent)
            .replace("{kind}", "identity_proof")
            .replace("{tenant}", "01JZZZZZZZZZZZZZZZZZZZZZZZ")
            .replace("{token}", "not-a-token")
    }

    /// Sends `row` as `caller` (a POST with the caller's token and nothing else).
    async fn call(&mut self, caller: Caller, row: &RouteEntry) -> Page {
        let path = self.fill(row.path);
        let (_, b, csrf) = self
            .browsers
            .iter_mut()
            .find(|(c, _, _)| *c == caller)
            .unwrap();
        let page = if row.method == Method::POST {
            // The session a path is under (`/r/` has the phone's) carries the token; without
            // one, the browser's anonymous token does.
            let token = match b.cookies.contains_key(session_cookie_for(&path)) {
                true => csrf.clone(),
                false => b.cookies.get(CSRF_COOKIE).cloned().unwrap_or_default(),
            };
            b.post(&path, &[("csrf", token.as_str())]).await
        } else {
            b.get(&path).await
        };
        assert!(
            !(page.status == StatusCode::FORBIDDEN && page.body.contains("不正なリクエスト")),
            "{caller:?} {} {path}: the test's CSRF token was refused",
            row.method
        );
        page
    }
}

/// Every route of every function, sessions ending (logout) last so each caller keeps theirs.
fn every_route() -> Vec<(Function, RouteEntry)> {
    let mut rows: Vec<_> = Function::ALL
        .into_iter()
        .flat_map(|f| f.routes().table().into_iter().map(move |r| (f, r)))
        .collect();
    rows.sort_by_key(|(_, r)| r.path.ends_with("/logout"));
    rows
}

#[tokio::test]
async fn every_route_answers_each_caller_as_its_access_and_the_role_table_say() {
    // GIVEN a company with a registrant, a dependent and a registrant on the phone, and a
    // browser for every kind of caller
    let mut w = World::new().await;
    let rows = every_route();
    assert!(rows.len() > 100, "only {} routes", rows.len());
    let mut wrong = Vec::new();
    for caller in CALLERS {
        if caller == Caller::ViewOnlyMayReveal {
            // The same 閲覧のみ user once the company allows reveals (logged in again: the
            // first round ended with their logout).
            w.t.set_view_only_may_reveal(&w.scope, true).await;
            let mut b = w.t.login(VIEWER, PW, None).await;
            let csrf = b.get("/home").await.csrf().unwrap();
            w.browsers.push((Caller::ViewOnlyMayReveal, b, csrf));
        }
        for (function, row) in &rows {
            // WHEN the caller sends the route's method to it
            let page = w.call(caller, row).await;
            // THEN it is refused exactly when the table says so, and never fails
            let refused = refusal(&page);
            let allowed = may_call(row.access, caller);
            let right = match row.access {
                // A public page may itself send a visitor on to the login page (`/`).
                Access::Public => {
                    !matches!(refused, Some(Refusal::Forbidden | Refusal::RegistrantLogin))
                }
                _ => allowed == refused.is_none(),
            };
            if !right || page.status.is_server_error() {
                wrong.push(format!(
                    "{caller:?} {} {} ({function:?}, {:?}): {} {refused:?}",
                    row.method, row.path, row.access, page.status
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn another_company_never_sees_or_changes_this_companys_records() {
    // GIVEN a company's registrant and dependent, and the 最高権限 of another company
    let mut w = World::new().await;
    let before = myna::app::registrants::get(&w.scope, &w.registrant)
        .await
        .unwrap()
        .unwrap();
    let other_scope = w.t.scope_of("other@yoso.example.jp").await;
    let other_user = other_scope
        .query(&myna::ports::Query::partition(other_scope.pk()).prefix("USER#"))
        .await
        .unwrap()
        .items[0]
        .key
        .sk
        .trim_start_matches("USER#")
        .to_string();
    // WHEN they try every route with this company's record ids in it
    for (_, row) in every_route() {
        if !row.path.contains("{id}") || row.path.ends_with("/logout") {
            continue;
        }
        let page = w.call(Caller::OtherTenant, &row).await;
        // THEN nothing of the record shows, and a page naming it is not found
        assert!(
            !page.body.contains(SECRET_NAME) && !page.body.contains(COMPANY),
            "{} {} shows the other company's record",
            row.method,
            row.path
        );
        if row.method == Method::GET && !row.path.starts_with("/registrants/groups/") {
            assert!(
                matches!(page.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{} {}: {}",
                row.method,
                row.path,
                page.status
            );
        }
    }
    // AND the records are as they were, and the company's log names no outsider
    let after = myna::app::registrants::get(&w.scope, &w.registrant)
        .await
        .unwrap()
        .expect("the registrant is still there");
    assert_eq!(
        (after.person.updated_at, after.person.status),
        (before.person.updated_at, before.person.status)
    );
    assert!(
        myna::app::dependents::get(&w.scope, &w.registrant, &w.dependent)
            .await
            .unwrap()
            .is_some()
    );
    let by_outsider: Vec<_> =
        w.t.audit_of(&w.scope)
            .await
            .into_iter()
            .filter(|e| e.actor_id.as_deref() == Some(other_user.as_str()))
            .map(|e| e.action)
            .collect();
    assert!(by_outsider.is_empty(), "{by_outsider:?}");
}

#[test]
fn public_routes_are_exactly_the_pages_anyone_may_open() {
    let public: Vec<_> = every_route()
        .into_iter()
        .filter(|(_, r)| r.access == Access::Public)
        .map(|(_, r)| format!("{} {}", r.method, r.path))
        .collect();
    let mut want = vec![
        "GET /",
        "GET /static/app.css",
        "GET /static/favicon.png",
        "GET /static/progress.js",
        "GET /static/upload.js",
        "GET /static/collection.js",
        "GET /static/viewer.js",
        "GET /static/enrol.js",
        "GET /signup",
        "POST /signup",
        "GET /signup/done",
        "GET /login",
        "POST /login",
        "GET /login/reminder",
        "POST /login/reminder",
        "GET /login/reminder/code",
        "POST /login/reminder/code",
        "GET /login/reminder/password",
        "POST /login/reminder/password",
        "GET /static/contractor.js",
        "POST /logout",
        "GET /r/me/done",
        "GET /r/logged-out",
        "GET /r/{tenant}/{token}",
        "POST /r/{tenant}/{token}",
    ];
    let mut public: Vec<&str> = public.iter().map(String::as_str).collect();
    public.sort_unstable();
    want.sort_unstable();
    assert_eq!(public, want);
}

#[test]
fn view_only_users_post_nothing_but_reveals_and_downloads_the_company_allows() {
    let may_post = |may_reveal: bool| -> Vec<&'static str> {
        let caller = if may_reveal {
            Caller::ViewOnlyMayReveal
        } else {
            Caller::ViewOnly
        };
        let mut paths: Vec<_> = every_route()
            .into_iter()
            .filter(|(_, r)| r.method == Method::POST && r.access != Access::Public)
            .filter(|(_, r)| may_call(r.access, caller))
            .map(|(_, r)| r.path)
            .collect();
        paths.sort_unstable();
        paths
    };
    // Their own things only, never the company's data: closing a HOME notice (hidden for this
    // user), their own password and their own second factor.
    let own = [
        "/account/password",
        "/home/notices/{id}/dismiss",
        "/security/mail",
        "/security/method",
        "/security/totp",
    ];
    assert_eq!(may_post(false), own.to_vec());
    assert_eq!(
        may_post(true),
        vec![
            "/account/password",
            "/home/notices/{id}/dismiss",
            "/registrants/csv",
            "/registrants/{id}/dependents/{dep}/reveal",
            "/registrants/{id}/reveal",
            "/security/mail",
            "/security/method",
            "/security/totp",
        ]
    );
}

#[test]
fn managers_may_not_open_login_users_plan_changes_payment_or_cancellation() {
    for p in [
        Permission::ManageUsers,
        Permission::ChangePlan,
        Permission::ManagePayment,
        Permission::CancelContract,
    ] {
        assert!(!may_call(Access::Can(p), Caller::Manager), "{p:?}");
        assert!(may_call(Access::Can(p), Caller::Owner), "{p:?}");
    }
    let mut refused = every_route()
        .into_iter()
        .filter(|(_, r)| !may_call(r.access, Caller::Manager) && r.access != Access::Public)
        .filter(|(_, r)| !matches!(r.access, Access::SecondFactor | Access::Registrant))
        .map(|(_, r)| r.path)
        .collect::<Vec<_>>();
    refused.sort_unstable();
    refused.dedup();
    assert_eq!(
        refused,
        vec![
            "/plan/cancel",
            "/plan/cancel/confirm",
            "/plan/cancel/withdraw",
            "/plan/change",
            "/plan/contract",
            "/plan/payment",
            "/plan/payment/transfer-done",
            "/plan/payment/transfer-form",
            "/users",
            "/users/new",
            "/users/{id}/delete",
            "/users/{id}/edit",
            "/users/{id}/password",
            "/users/{id}/second-factor/reset",
        ]
    );
}

#[tokio::test]
async fn every_link_on_home_and_its_menus_opens_for_the_role_that_sees_it() {
    // given a company with a 最高権限, a 管理担当者 and a 閲覧のみ user
    let (t, owner) = TestApp::with_owner(COMPANY, OWNER).await;
    let scope = t.scope_of(OWNER).await;
    let manager = t
        .with_user(&scope, "manager@honke.example.jp", Role::Manager)
        .await;
    let viewer = t.with_user(&scope, VIEWER, Role::ViewOnly).await;
    for (role, mut b) in [
        ("最高権限", owner),
        ("管理担当者", manager),
        ("閲覧のみ", viewer),
    ] {
        // when each opens HOME and follows every link on it (menus, header, buttons, panel)
        let home = b.get("/home").await;
        assert_eq!(home.status, StatusCode::OK);
        let links: Vec<String> = home
            .body
            .split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter(|href| href.starts_with('/') && !href.starts_with("/static/"))
            .map(str::to_string)
            .collect();
        assert!(links.iter().any(|l| l == "/home"), "{role}: {links:?}");
        // then every link opens (no 403, no 404)
        for href in &links {
            let page = b.get(href).await;
            assert_eq!(page.status, StatusCode::OK, "{role} → {href}");
        }
        // and only the roles that manage users see ログインユーザ
        assert_eq!(
            links.iter().any(|l| l == "/users"),
            role == "最高権限",
            "{role}: {links:?}"
        );
    }
}
