//! Which Lambda function serves which routes: the one place that splits the product into
//! functions. A function serves the areas of the site named by their first path segment
//! (`/registrants/…`, `/approval/…`), exactly as `template.yaml` routes them to it, so a route
//! added to any module lands in the function of its area without a line here, and a route in
//! an area no function serves fails this module's tests.
//!
//! Each `functions/<name>/src/main.rs` runs [`function_router`] for its [`Function`]; the local
//! server and the tests run every route at once (`web::all`). Limits: this decides where a
//! route runs, not who may call it (that is the route's `Access`, `web::access`).

use axum::Router;

use super::access::Routes;
use super::AppState;

/// A deployed function serving pages (the background worker is not one: it has no routes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    /// Sign-up, login with the second factor, reminders, logout, the top page, static files
    /// and the 404 page of every unrouted path.
    Auth,
    /// HOME, 操作ガイド and the places of capabilities still to come.
    Home,
    /// マイナンバー管理: registrants, dependents, groups, images, reveal, approval, collection,
    /// bulk entry and the CSV files.
    Registrants,
    /// The registrant's own phone pages under `/r/`.
    Enrol,
    /// Account administration: login users, 契約者情報 (and its postal-code table),
    /// セキュリティ.
    Account,
    /// The operation log (操作履歴), its reports and its verification.
    AuditLog,
}

impl Function {
    /// Every function serving pages.
    pub const ALL: [Function; 6] = [
        Function::Auth,
        Function::Home,
        Function::Registrants,
        Function::Enrol,
        Function::Account,
        Function::AuditLog,
    ];

    /// The function's logical id in `template.yaml`.
    pub fn resource(self) -> &'static str {
        match self {
            Function::Auth => "AuthFunction",
            Function::Home => "HomeFunction",
            Function::Registrants => "RegistrantsFunction",
            Function::Enrol => "EnrolFunction",
            Function::Account => "AccountFunction",
            Function::AuditLog => "AuditLogFunction",
        }
    }

    /// The first path segments of the areas this function serves (`""` is the top page).
    pub fn areas(self) -> &'static [&'static str] {
        match self {
            Function::Auth => &["", "static", "signup", "login", "logout"],
            Function::Home => &["home", "guide", "retirement", "disposal", "plan"],
            Function::Registrants => &["registrants", "approval", "collection"],
            Function::Enrol => &["r"],
            Function::Account => &["users", "account", "contractor", "security", "postal"],
            Function::AuditLog => &["audit-log"],
        }
    }

    /// The function serving `path`, by the path's first segment; `None` for an area no
    /// function serves (such a route would answer 404 in AWS: the tests refuse it).
    pub fn serving(path: &str) -> Option<Function> {
        let area = path
            .strip_prefix('/')
            .unwrap_or(path)
            .split('/')
            .next()
            .unwrap_or_default();
        Function::ALL
            .into_iter()
            .find(|f| f.areas().contains(&area))
    }

    /// This function's routes, with their access.
    pub fn routes(self) -> Routes {
        super::declared().retain(|row| Function::serving(row.path) == Some(self))
    }
}

/// What `functions/<name>` hands to `lambda_http::run`: the function's routes behind the
/// shared middleware (sessions, CSRF, security headers, the 404 page).
pub fn function_router(app: AppState, function: Function) -> Router {
    let routes = function.routes().into_router(&app);
    super::group(app, routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_served_by_exactly_one_function_when_the_product_is_split() {
        let all = super::super::declared().table();
        let mut split: Vec<_> = Function::ALL
            .into_iter()
            .flat_map(|f| f.routes().table())
            .collect();
        for row in &all {
            assert!(
                Function::serving(row.path).is_some(),
                "{} {} is in an area no function serves",
                row.method,
                row.path
            );
        }
        let key = |r: &crate::web::access::RouteEntry| (r.path, r.method.to_string());
        let mut all_keys: Vec<_> = all.iter().map(key).collect();
        all_keys.sort();
        split.sort_by_key(key);
        assert_eq!(split.iter().map(key).collect::<Vec<_>>(), all_keys);
    }

    #[test]
    fn every_function_serves_some_routes_when_split() {
        for f in Function::ALL {
            assert!(!f.routes().table().is_empty(), "{f:?} serves nothing");
        }
    }

    #[test]
    fn serving_goes_by_the_first_segment_when_paths_share_a_prefix() {
        let cases = [
            ("/", Some(Function::Auth)),
            ("/login/reminder", Some(Function::Auth)),
            ("/registrants/{id}/qr", Some(Function::Registrants)),
            ("/r/me", Some(Function::Enrol)),
            ("/retirement", Some(Function::Home)),
            ("/users/{id}/edit", Some(Function::Account)),
            ("/postal/100", Some(Function::Account)),
            ("/audit-log/verify", Some(Function::AuditLog)),
            ("/audit", None),
            ("/registrantsx", None),
        ];
        for (path, want) in cases {
            assert_eq!(Function::serving(path), want, "{path}");
        }
    }

    #[test]
    fn areas_are_disjoint_when_every_function_is_listed() {
        let mut areas: Vec<_> = Function::ALL
            .into_iter()
            .flat_map(|f| f.areas().iter().copied())
            .collect();
        let n = areas.len();
        areas.sort_unstable();
        areas.dedup();
        assert_eq!(areas.len(), n);
    }
}
