//! Which Lambda function serves which routes: the one place that splits the product into
//! functions. A function serves the paths under the route prefixes [`PREFIXES`] gives it, and
//! a path belongs to the function of its most specific matching prefix, exactly as API Gateway
//! picks the most specific route of `template.yaml` (`/login/otp` goes to the second factor
//! although `/login` is the login function's). A route added to any module lands in the
//! function of its prefix without a line here, and a route no prefix covers fails this
//! module's tests.
//!
//! Each `functions/<name>/src/main.rs` runs [`function_router`] for its [`Function`]; the local
//! server and the tests run every route at once (`web::all`). Limits: this decides where a
//! route runs, not who may call it (that is the route's `Access`, `web::access`), and it names
//! only functions serving pages (the jobs are `app::worker::Job`).

use axum::Router;

use super::access::Routes;
use super::AppState;

/// A deployed function serving pages (the background jobs are not: they have no routes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    /// Sign-up, password login, reminders, logout, the top page, static files and the 404
    /// page of every unrouted path. Creates tenant keys at sign-up; opens none.
    Login,
    /// The login's second step (mail code or TOTP): the only login step that unwraps a key
    /// (a user's TOTP secret).
    SecondFactor,
    /// HOME, 操作ガイド, 退職者の処理, 廃棄 and 契約プラン.
    Home,
    /// マイナンバー管理: registrants, dependents, groups, images, number entry and reveal.
    Registrants,
    /// 承認: the approval list, its decisions and the document-image viewer.
    Approval,
    /// The CSV files (export, import) and the bulk-entry grid.
    Csv,
    /// 収集: send lists, mail pages, QR codes and the company passcode.
    Collection,
    /// The registrant's own phone pages under `/r/`.
    Enrol,
    /// Account administration: login users, 契約者情報 (and its postal-code table),
    /// セキュリティ.
    Account,
    /// The operation log (操作履歴), its reports and its verification.
    AuditLog,
}

/// Route prefixes and the function serving the paths under them. A prefix is a path of
/// segments, where `{…}` matches any one segment (as in API Gateway routes); it covers the
/// path itself and everything below it. `""` is the top page only.
pub const PREFIXES: &[(&str, Function)] = &[
    ("", Function::Login),
    ("/static", Function::Login),
    ("/signup", Function::Login),
    ("/login", Function::Login),
    ("/logout", Function::Login),
    ("/login/otp", Function::SecondFactor),
    ("/home", Function::Home),
    ("/guide", Function::Home),
    ("/retirement", Function::Home),
    ("/disposal", Function::Home),
    ("/plan", Function::Home),
    ("/registrants", Function::Registrants),
    ("/approval", Function::Approval),
    ("/registrants/csv", Function::Csv),
    ("/registrants/csv-upload", Function::Csv),
    ("/registrants/bulk", Function::Csv),
    ("/collection", Function::Collection),
    ("/registrants/{id}/qr", Function::Collection),
    ("/r", Function::Enrol),
    ("/users", Function::Account),
    ("/account", Function::Account),
    ("/contractor", Function::Account),
    ("/security", Function::Account),
    ("/postal", Function::Account),
    ("/audit-log", Function::AuditLog),
];

/// The segments of `path` (no leading slash; the top page has none).
fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// How specifically `prefix` matches `path`: `None` if it does not; else (segments, literal
/// segments), compared as API Gateway ranks routes (longer first, then more literal).
fn specificity(prefix: &str, path: &str) -> Option<(usize, usize)> {
    let (want, have) = (segments(prefix), segments(path));
    if want.is_empty() {
        // The top page only: every other path has a more specific owner or none.
        return have.is_empty().then_some((0, 0));
    }
    if have.len() < want.len() {
        return None;
    }
    let mut literal = 0;
    for (w, h) in want.iter().zip(&have) {
        if w.starts_with('{') && w.ends_with('}') {
            continue;
        }
        if w != h {
            return None;
        }
        literal += 1;
    }
    Some((want.len(), literal))
}

impl Function {
    /// Every function serving pages.
    pub const ALL: [Function; 10] = [
        Function::Login,
        Function::SecondFactor,
        Function::Home,
        Function::Registrants,
        Function::Approval,
        Function::Csv,
        Function::Collection,
        Function::Enrol,
        Function::Account,
        Function::AuditLog,
    ];

    /// The function's logical id in `template.yaml`.
    pub fn resource(self) -> &'static str {
        match self {
            Function::Login => "LoginFunction",
            Function::SecondFactor => "SecondFactorFunction",
            Function::Home => "HomeFunction",
            Function::Registrants => "RegistrantsFunction",
            Function::Approval => "ApprovalFunction",
            Function::Csv => "CsvFunction",
            Function::Collection => "CollectionFunction",
            Function::Enrol => "EnrolFunction",
            Function::Account => "AccountFunction",
            Function::AuditLog => "AuditLogFunction",
        }
    }

    /// The function's bit in a set of functions (`web::modules_serving`): a constant the
    /// optimiser folds, so a function's binary keeps only the modules it serves.
    pub const fn bit(self) -> u32 {
        1 << self as u32
    }

    /// The route prefixes this function serves.
    pub fn prefixes(self) -> impl Iterator<Item = &'static str> {
        PREFIXES
            .iter()
            .filter(move |(_, f)| *f == self)
            .map(|(p, _)| *p)
    }

    /// The function serving `path`: the one of the most specific matching prefix; `None` for
    /// a path no prefix covers (such a route would answer 404 in AWS: the tests refuse it).
    pub fn serving(path: &str) -> Option<Function> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        PREFIXES
            .iter()
            .filter_map(|(prefix, f)| specificity(prefix, path).map(|s| (s, *f)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, f)| f)
    }

    /// This function's routes, with their access: those of the modules it serves (see
    /// `web::modules_serving`), by path.
    #[inline(always)]
    pub fn routes(self) -> Routes {
        super::modules_serving(Some(self)).retain(|row| Function::serving(row.path) == Some(self))
    }
}

/// What `functions/<name>` hands to `lambda_http::run`: the function's routes behind the
/// shared middleware (sessions, CSRF, security headers, the 404 page).
#[inline(always)]
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
    fn each_module_names_exactly_the_functions_serving_its_routes() {
        let names = |mask: u32| {
            Function::ALL
                .into_iter()
                .filter(|f| mask & f.bit() != 0)
                .map(|f| format!("{f:?}"))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let wrong: Vec<String> = super::super::module_table()
            .into_iter()
            .filter_map(|(module, routes, named)| {
                let serving = routes
                    .table()
                    .iter()
                    .filter_map(|row| Function::serving(row.path))
                    .fold(0, |mask, f| mask | f.bit());
                (serving != named).then(|| format!("{module}: {}", names(serving)))
            })
            .collect();
        assert!(wrong.is_empty(), "web::modules! should name {wrong:#?}");
    }

    #[test]
    fn every_function_serves_some_routes_when_split() {
        for f in Function::ALL {
            assert!(!f.routes().table().is_empty(), "{f:?} serves nothing");
        }
    }

    #[test]
    fn serving_goes_by_the_most_specific_prefix_when_prefixes_nest() {
        let cases = [
            ("/", Some(Function::Login)),
            ("/login", Some(Function::Login)),
            ("/login/reminder", Some(Function::Login)),
            ("/login/otp", Some(Function::SecondFactor)),
            ("/login/otpx", Some(Function::Login)),
            ("/registrants", Some(Function::Registrants)),
            ("/registrants/{id}/edit", Some(Function::Registrants)),
            ("/registrants/{id}/number", Some(Function::Registrants)),
            ("/registrants/{id}/qr", Some(Function::Collection)),
            ("/registrants/01JX/qr", Some(Function::Collection)),
            ("/registrants/csv", Some(Function::Csv)),
            ("/registrants/csv?group=1", Some(Function::Csv)),
            ("/registrants/csv-upload/{id}/commit", Some(Function::Csv)),
            ("/registrants/bulk", Some(Function::Csv)),
            ("/registrants/csvx", Some(Function::Registrants)),
            ("/approval/{id}/images/{kind}", Some(Function::Approval)),
            ("/collection/send-list", Some(Function::Collection)),
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
    fn prefixes_are_distinct_when_every_function_is_listed() {
        let mut prefixes: Vec<_> = PREFIXES.iter().map(|(p, _)| *p).collect();
        let n = prefixes.len();
        prefixes.sort_unstable();
        prefixes.dedup();
        assert_eq!(prefixes.len(), n, "a prefix given to two functions");
        for f in Function::ALL {
            assert!(f.prefixes().next().is_some(), "{f:?} has no prefix");
        }
    }
}
