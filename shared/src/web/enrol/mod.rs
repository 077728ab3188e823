//! The registrant's phone pages (manual ch.8 スマホでマイナンバー登録), under `/r/`: the link's
//! login page, ステップ1–6, 扶養家族, 登録情報一覧, 登録を終了. One column, no administrator
//! chrome, their own session cookie (`myna_rsid`); every page acts only on the registrant the
//! session names.
//!
//! This file holds the routes, the page header and the session extractor ([`Enrollee`]); the
//! pages live by concern in `login`, `steps` (ステップ1–3), `dependents` (扶養家族, ステップ5–6)
//! and `finish` (登録情報一覧, 登録を終了, logout).

mod dependents;
mod finish;
mod login;
mod steps;

pub(crate) use super::phone_message::{login_required, message};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::access::{Access, Routes};
use super::session::{Ctx, RequestContext};
use super::{AppState, WebError};
use crate::app::enrol;
use crate::app::keys::TenantScope;
use crate::app::record::RecordRef;
use crate::app::registrants::{self as regs, Registrant};
use crate::app::sessions::{self, Session, Stage};
use crate::app::tenants::{self, Tenant};
use dependents::{
    dep_delete, dep_delete_submit, dep_detail, dep_edit, dep_edit_submit, dep_new, dep_new_submit,
    dep_step5, dep_step6, dependents, family,
};
use finish::{done, finish, logged_out, logout, review};
use login::{entry, entry_submit, link_problem};
use steps::{complete, next_step, step1_form, step1_submit, step2, step3, ticket};

/// The phone pages. The link's entry page and the pages shown after a session ended are
/// public; everything under `/r/me` needs the registrant's session.
pub fn routes() -> Routes {
    let me = Access::Registrant;
    Routes::new()
        .get("/r/me", me, next_step)
        .get("/r/me/step1", me, step1_form)
        .post("/r/me/step1", me, step1_submit)
        .get("/r/me/step2", me, step2)
        .get("/r/me/step3", me, step3)
        .post("/r/me/images/{kind}/ticket", me, ticket)
        .post("/r/me/images/{kind}/complete", me, complete)
        .get("/r/me/family", me, family)
        .get("/r/me/dependents", me, dependents)
        .get("/r/me/dependents/new", me, dep_new)
        .post("/r/me/dependents/new", me, dep_new_submit)
        .get("/r/me/dependents/{dep}", me, dep_detail)
        .get("/r/me/dependents/{dep}/edit", me, dep_edit)
        .post("/r/me/dependents/{dep}/edit", me, dep_edit_submit)
        .get("/r/me/dependents/{dep}/delete", me, dep_delete)
        .post("/r/me/dependents/{dep}/delete", me, dep_delete_submit)
        .get("/r/me/dependents/{dep}/step5", me, dep_step5)
        .get("/r/me/dependents/{dep}/step6", me, dep_step6)
        .post("/r/me/dependents/{dep}/images/{kind}/ticket", me, ticket)
        .post(
            "/r/me/dependents/{dep}/images/{kind}/complete",
            me,
            complete,
        )
        .get("/r/me/review", me, review)
        .post("/r/me/finish", me, finish)
        .post("/r/me/logout", me, logout)
        // 登録完了 follows 登録を終了, and ログアウトしました follows the logout: both are shown
        // after the session may have ended, and carry nothing of the registrant.
        .get("/r/me/done", Access::Public, done)
        .get("/r/logged-out", Access::Public, logged_out)
        .get("/r/{tenant}/{token}", Access::Public, entry)
        .post("/r/{tenant}/{token}", Access::Public, entry_submit)
}

/// Header of every phone page: who is registering, for which company, and (behind the
/// registrant's session) the ログアウト form with the session's CSRF token.
struct Who {
    company: String,
    name: String,
    email: String,
    logout: Option<String>,
}

impl Who {
    /// The header of the link's login page: nobody is logged in yet.
    fn of(tenant: &Tenant, r: &Registrant) -> Who {
        Who {
            company: tenant.company_name.clone(),
            name: r.name(),
            email: r.email.clone().unwrap_or_default(),
            logout: None,
        }
    }
}

const LOCK_TITLE: &str = "ログインロックが有効になっています";
const LOCK_TEXT: &str = "マイナンバー情報が管理担当者に承認され、登録ステータスが「完了」になったため、情報改ざん防止の為にログインロックがかかっています。";
const LOCK_DETAIL: &str = "登録内容を変更する必要がある場合は、所属会社のマイナンバー管理担当者に、「登録者編集」画面からログインロックを解除するよう依頼してから、もう一度ログインしてください。";

fn locked_page() -> Response {
    message(
        StatusCode::FORBIDDEN,
        LOCK_TITLE,
        LOCK_TEXT,
        Some(LOCK_DETAIL),
    )
}

/// A registrant logged in on their phone.
pub struct Enrollee {
    pub ctx: RequestContext,
    pub session: Session,
    pub scope: TenantScope,
    pub tenant: Tenant,
    pub registrant: Registrant,
}

impl Enrollee {
    fn who(&self) -> Who {
        Who {
            logout: Some(self.csrf()),
            ..Who::of(&self.tenant, &self.registrant)
        }
    }

    fn actor(&self) -> crate::app::actor::Actor {
        enrol::actor(&self.registrant, &self.ctx.ip)
    }

    /// The registrant's own record, or (`dependent`) one of its dependents'.
    fn record(&self, dependent: Option<String>) -> RecordRef {
        RecordRef {
            registrant_id: self.registrant.id.clone(),
            dependent_id: dependent,
        }
    }

    fn csrf(&self) -> String {
        self.session.csrf.clone()
    }
}

impl FromRequestParts<AppState> for Enrollee {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let Ctx(ctx) = Ctx::from_request_parts(parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let gone = login_required;
        let Some(session) = ctx.session.clone().filter(|s| s.stage == Stage::Registrant) else {
            return Err(gone());
        };
        let scope = TenantScope::new(session.tenant.clone(), app.ports.store.clone());
        let fail = |e: crate::app::InfraError| WebError::from(e).into_response();
        let (tenant, registrant) = (
            tenants::load(&scope).await.map_err(fail)?,
            regs::get(&scope, &session.user_id).await.map_err(fail)?,
        );
        let (Some(tenant), Some(registrant)) = (tenant, registrant) else {
            sessions::end(app, &session).await.map_err(fail)?;
            return Err(gone());
        };
        if registrant.login_lock {
            sessions::end(app, &session).await.map_err(fail)?;
            return Err(locked_page());
        }
        let ended = enrol::link_ended(app, &scope, &registrant.id, session.link.as_deref())
            .await
            .map_err(fail)?;
        if let Some(ended) = ended {
            sessions::end(app, &session).await.map_err(fail)?;
            return Err(link_problem(&ended).unwrap_or_else(gone));
        }
        Ok(Enrollee {
            ctx,
            session,
            scope,
            tenant,
            registrant,
        })
    }
}
