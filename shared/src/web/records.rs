//! The record a path names, as an axum extractor: `{id}` (a registrant) and, under
//! `/dependents/`, `{dep}` (one of its dependents), plus `{kind}` for a document image. One
//! handler then serves a registrant's and a dependent's route alike. Also [`registrant`]: the
//! registrant a path names, read through the session's `TenantScope` (404 when it is not
//! this tenant's).
//!
//! Limits: the extractors only read the path; whether the ids exist, and in which tenant, is the use
//! case's check through the session's `TenantScope`.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use super::session::Authed;
use super::WebError;
use crate::app::record::RecordRef;
use crate::app::registrants::{self as regs, Registrant};

/// The registrant `id` names in this tenant, or 404.
pub(super) async fn registrant(authed: &Authed, id: &str) -> Result<Registrant, WebError> {
    regs::get(&authed.scope, id)
        .await?
        .ok_or(WebError::NotFound)
}

async fn params<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<HashMap<String, String>, WebError> {
    let Path(p) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(|_| WebError::NotFound)?;
    Ok(p)
}

impl<S: Send + Sync> FromRequestParts<S> for RecordRef {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let mut p = params(parts, state).await?;
        Ok(RecordRef {
            registrant_id: p.remove("id").ok_or(WebError::NotFound)?,
            dependent_id: p.remove("dep"),
        })
    }
}

/// The path's `{dep}`, if any: on the phone the session names the registrant, the path only
/// the dependent.
pub(super) struct DepParam(pub(super) Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for DepParam {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(DepParam(params(parts, state).await?.remove("dep")))
    }
}

/// The path's `{kind}` as written (a document kind's code); handlers parse it after their
/// permission check, so a forbidden user learns nothing from the path.
pub(super) struct KindParam(pub(super) String);

impl<S: Send + Sync> FromRequestParts<S> for KindParam {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let kind = params(parts, state).await?.remove("kind");
        Ok(KindParam(kind.ok_or(WebError::NotFound)?))
    }
}

/// Where a record's pages live: `<prefix>/{id}` or `<prefix>/{id}/dependents/{dep}`.
pub(super) fn path_of(prefix: &str, record: &RecordRef) -> String {
    match &record.dependent_id {
        Some(dep) => format!("{prefix}/{}/dependents/{dep}", record.registrant_id),
        None => format!("{prefix}/{}", record.registrant_id),
    }
}
