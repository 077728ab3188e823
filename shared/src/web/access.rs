//! Who may call each route, declared on the route itself: the one place the product decides
//! access. Every capability module lists its routes as [`Routes`] entries of (method, path,
//! [`Access`], handler); [`Routes::into_router`] puts a check in front of each handler that runs
//! after routing and before the handler's own extractors. Handlers do not check roles.
//!
//! The table is also data: [`Routes::table`] lists every (method, path, access), so a test can walk
//! every route of every function and try it as every kind of caller.
//!
//! Limits: this decides *whether* a caller may reach a route. Which records they may touch is
//! the tenant gate's job (`TenantScope`, bound to the session's tenant), and pages still decide
//! which buttons to show (`Authed::allows`).

use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{self, MethodRouter};
use axum::Router;

use super::session::{Authed, Ctx, PendingLogin};
use super::{AppState, WebError};
use crate::app::sessions::Stage;
use crate::domain::role::Permission;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: sign-up, login, reminders, static files, a registration link's entry page.
    Public,
    /// A login that has passed its password and waits for the second factor.
    SecondFactor,
    /// A registrant on their phone (a registrant session; the page checks the link is current).
    Registrant,
    /// Any logged-in administrator of the tenant, whatever the role (HOME, 操作ガイド, their
    /// own second factor).
    Staff,
    /// A logged-in administrator whose role, with the company's settings, allows this.
    Can(Permission),
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

struct Entry {
    row: RouteEntry,
    handler: MethodRouter<AppState>,
}

/// A capability's routes with their access, composed per function in `web::functions`.
#[derive(Default)]
#[must_use]
pub struct Routes {
    entries: Vec<Entry>,
}

impl Routes {
    pub fn new() -> Routes {
        Routes::default()
    }

    /// A GET route (HEAD is answered by the same handler).
    pub fn get<H, T>(self, path: &'static str, access: Access, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::GET, path, access, routing::get(handler))
    }

    /// A POST route.
    pub fn post<H, T>(self, path: &'static str, access: Access, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::POST, path, access, routing::post(handler))
    }

    fn add(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: MethodRouter<AppState>,
    ) -> Routes {
        self.entries.push(Entry {
            row: RouteEntry {
                method,
                path,
                access,
            },
            handler,
        });
        self
    }

    pub fn merge(mut self, other: Routes) -> Routes {
        self.entries.extend(other.entries);
        self
    }

    /// Only the routes whose row `keep` accepts (a function's share of the product).
    pub fn retain(mut self, keep: impl Fn(&RouteEntry) -> bool) -> Routes {
        self.entries.retain(|e| keep(&e.row));
        self
    }

    /// Every (method, path, access) of these routes.
    pub fn table(&self) -> Vec<RouteEntry> {
        self.entries.iter().map(|e| e.row.clone()).collect()
    }

    /// The routes as an axum router, each behind its access check and with its path's body
    /// limit (`web::body_limit`: only the CSV upload takes more than a form).
    pub fn into_router(self, app: &AppState) -> Router<AppState> {
        let mut router = Router::new();
        for Entry { row, handler } in self.entries {
            let checked = handler
                .route_layer(middleware::from_fn_with_state(
                    (app.clone(), row.access),
                    check,
                ))
                .layer(DefaultBodyLimit::max(super::body_limit(row.path)));
            // Two entries on one path (GET and POST) merge into one method router.
            router = router.route(row.path, checked);
        }
        router
    }
}

/// Lets the request through when the caller fits `access`; otherwise the login page (no
/// session), the registrant's "please log in" page, or 403.
async fn check(
    State((app, access)): State<(AppState, Access)>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let outcome: Result<(), Response> = match access {
        Access::Public => Ok(()),
        Access::SecondFactor => PendingLogin::from_request_parts(&mut parts, &app)
            .await
            .map(drop)
            .map_err(IntoResponse::into_response),
        Access::Registrant => match Ctx::from_request_parts(&mut parts, &app).await {
            Ok(Ctx(ctx))
                if ctx
                    .session
                    .as_ref()
                    .is_some_and(|s| s.stage == Stage::Registrant) =>
            {
                match ctx.session.as_ref() {
                    // Logging out writes nothing of the company's.
                    Some(s)
                        if !matches!(parts.method, Method::GET | Method::HEAD)
                            && !parts.uri.path().ends_with("/logout") =>
                    {
                        registrant_may_write(&app, &s.tenant).await
                    }
                    _ => Ok(()),
                }
            }
            Ok(_) => Err(super::phone_message::login_required()),
            Err(e) => Err(e.into_response()),
        },
        Access::Staff | Access::Can(_) => {
            match Authed::from_request_parts(&mut parts, &app).await {
                Ok(authed) => match access {
                    Access::Can(p) if !authed.allows(p) => Err(WebError::Forbidden.into_response()),
                    _ if authed.standing.read_only()
                        && writes_company_data(&parts.method, access) =>
                    {
                        Err(read_only_refusal())
                    }
                    _ => {
                        // The handler's `Authed` is this one: the user and tenant are read once.
                        parts.extensions.insert(authed);
                        Ok(())
                    }
                },
                Err(e) => Err(e.into_response()),
            }
        }
    };
    match outcome {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(refusal) => refusal,
    }
}

/// Whether a request changes the company's data, which a company whose trial ended without
/// 本契約 may not do. Reading stays open (pages, and the number reveals and downloads that are
/// POSTs only to carry a password), and so do the contract's own screens (plan, payment,
/// 本契約, cancellation: the way out of the state) and a user's own things (`Staff` routes:
/// their password, second factor, closing a notice).
pub fn writes_company_data(method: &Method, access: Access) -> bool {
    use Permission::*;
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    match access {
        Access::Can(p) => !matches!(
            p,
            RevealNumber | ExportCsv | ChangePlan | ManagePayment | CancelContract
        ),
        Access::Public | Access::SecondFactor | Access::Registrant | Access::Staff => false,
    }
}

/// A registrant's save reaches the company's data only while the company is not read-only.
async fn registrant_may_write(
    app: &AppState,
    tenant: &crate::app::keys::TenantId,
) -> Result<(), Response> {
    let scope = crate::app::keys::TenantScope::new(tenant.clone(), app.ports.store.clone());
    match crate::app::tenants::load(&scope).await {
        Ok(Some(t)) if crate::app::contract::standing(&t, app.now()).read_only() => {
            Err(super::phone_message::company_read_only())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(WebError::from(e).into_response()),
    }
}

/// The page a write gets while the company is read-only: why, and where to end it.
fn read_only_refusal() -> Response {
    super::render_status(
        axum::http::StatusCode::FORBIDDEN,
        &super::MessagePage {
            title: "閲覧のみご利用いただけます",
            message: "無料お試し期間が終了したため、本契約のお手続きが済むまで登録・編集・削除・メール送信などの操作はできません。登録済みのデータは削除されず、閲覧とダウンロードは引き続きご利用いただけます。本契約は最高権限のユーザが「契約プラン」から行えます。",
            back_href: "/plan",
            back_label: "契約プランへ",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ok() -> &'static str {
        "ok"
    }

    #[test]
    fn writes_company_data_only_for_posts_outside_reading_the_contract_and_own_things() {
        use Permission::*;
        // (method, access, writes)
        let cases = [
            (Method::GET, Access::Can(EditRegistrants), false),
            (Method::POST, Access::Can(EditRegistrants), true),
            (Method::POST, Access::Can(SendCollectionMail), true),
            (Method::POST, Access::Can(DisposeNumbers), true),
            (Method::POST, Access::Can(ManageUsers), true),
            (Method::POST, Access::Can(RevealNumber), false),
            (Method::POST, Access::Can(ExportCsv), false),
            (Method::POST, Access::Can(ChangePlan), false),
            (Method::POST, Access::Can(ManagePayment), false),
            (Method::POST, Access::Can(CancelContract), false),
            (Method::POST, Access::Staff, false),
            (Method::POST, Access::Public, false),
        ];
        for (method, access, writes) in cases {
            assert_eq!(
                writes_company_data(&method, access),
                writes,
                "{method} {access:?}"
            );
        }
    }

    #[test]
    fn table_lists_every_method_and_path_with_its_access() {
        let routes = Routes::new()
            .get("/x", Access::Can(Permission::ViewRegistrants), ok)
            .post("/x", Access::Can(Permission::EditRegistrants), ok)
            .merge(Routes::new().get("/login", Access::Public, ok));
        assert_eq!(
            routes.table(),
            vec![
                RouteEntry {
                    method: Method::GET,
                    path: "/x",
                    access: Access::Can(Permission::ViewRegistrants)
                },
                RouteEntry {
                    method: Method::POST,
                    path: "/x",
                    access: Access::Can(Permission::EditRegistrants)
                },
                RouteEntry {
                    method: Method::GET,
                    path: "/login",
                    access: Access::Public
                },
            ]
        );
    }
}
