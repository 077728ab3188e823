//! Document images of registrants and dependents (番号確認・身元確認), uploaded by the browser
//! straight to storage with a signed ticket, never through the API.
//!
//! Each upload goes to a fresh object name in the upload area (`incoming/<record>/<kind>/<id>`);
//! `complete` copies it to `<record>/<kind>/<id>`, a name no ticket can write, and only after
//! that copy passes verification (<= 4 MB, JPEG/PNG/GIF by content) does the record point at
//! it and the previous image get deleted. A refused upload is deleted and the record keeps its
//! previous image; a ticket replayed after `complete` writes only to the upload area, which
//! no record reads.

use serde_json::Value;

use super::actor::{audit_event, Actor};
use super::keys::{RecordId, TenantScope};
use super::record::RecordRef;
use super::registrants::{self as regs};
use super::tenants::Tenant;
use super::uploads::{self, UploadError};
use super::{App, InfraError};
use crate::domain::image::{DocumentKind, ImageError};
use crate::ports::blobs::{BlobScope, UploadTicket, UPLOAD_PREFIX};
use crate::ports::store::{Condition, Item, StoreError};

/// Where uploads for `record`'s image of `kind` go (under the upload area) and stay.
fn object_prefix(record: &RecordRef, kind: DocumentKind) -> String {
    match &record.dependent_id {
        Some(d) => format!(
            "registrants/{}/dependents/{d}/{}/",
            record.registrant_id,
            kind.code()
        ),
        None => format!("registrants/{}/{}/", record.registrant_id, kind.code()),
    }
}

pub fn blob_scope(tenant: &Tenant, scope: &TenantScope) -> BlobScope {
    BlobScope {
        tenant_id: scope.tenant().to_string(),
        master_key: tenant.keys.master_key.clone(),
    }
}

/// The attribute on the record's item naming its current image of `kind`.
pub fn attr(kind: DocumentKind) -> String {
    format!("image_{}", kind.code())
}

#[derive(Debug, thiserror::Error)]
pub enum ImageFlowError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error("他の操作で内容が変わりました。画面を開き直してください。")]
    Conflict,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

async fn record_item(scope: &TenantScope, record: &RecordRef) -> Result<Item, ImageFlowError> {
    let ids_ok = RecordId::parse(&record.registrant_id).is_some()
        && record
            .dependent_id
            .as_deref()
            .is_none_or(|d| RecordId::parse(d).is_some());
    if !ids_ok {
        return Err(ImageFlowError::NotFound);
    }
    scope
        .get(&scope.key(&record.sk()))
        .await
        .map_err(InfraError::from)?
        .ok_or(ImageFlowError::NotFound)
}

/// A ticket for a new upload; `upload` (the object name) comes back to [`complete`].
pub async fn start(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    record: &RecordRef,
    kind: DocumentKind,
    content_type: &str,
) -> Result<(UploadTicket, String), ImageFlowError> {
    record_item(scope, record).await?;
    let name = format!(
        "{UPLOAD_PREFIX}{}{}",
        object_prefix(record, kind),
        ulid::Ulid::new()
    );
    let ticket = uploads::ticket(
        app.ports.blobs.as_ref(),
        &blob_scope(tenant, scope),
        &name,
        content_type,
    )
    .await?;
    Ok((ticket, name))
}

/// Verifies an upload and makes it the record's image of `kind`.
pub async fn complete(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    record: &RecordRef,
    kind: DocumentKind,
    upload: &str,
) -> Result<(), ImageFlowError> {
    let current = record_item(scope, record).await?;
    // Only names this flow hands out for this record and kind; the image keeps the upload's id.
    let prefix = object_prefix(record, kind);
    let Some(verified) = upload.strip_prefix(UPLOAD_PREFIX).filter(|n| {
        n.strip_prefix(&prefix)
            .is_some_and(|id| RecordId::parse(id).is_some())
    }) else {
        return Err(UploadError::Rejected(ImageError::Missing).into());
    };
    let blobs = app.ports.blobs.as_ref();
    let bs = blob_scope(tenant, scope);
    // An upload is accepted once: if the record already shows it, whatever sits at `upload`
    // now came through a replayed ticket. The record knows this; storage is not asked (the
    // functions accepting uploads may not read verified images).
    if current.str(&attr(kind)) == Some(verified) {
        blobs.delete(&bs, upload).await.map_err(UploadError::from)?;
        return Err(UploadError::Rejected(ImageError::Missing).into());
    }
    uploads::accept(blobs, &bs, upload, verified).await?;
    let mut item = record_item(scope, record).await?;
    let updated_at = item.i64("updated_at").unwrap_or(0);
    let previous = item.str(&attr(kind)).map(str::to_string);
    item.attrs.insert(attr(kind), Value::from(verified));
    item.attrs.insert(
        format!("{}_at", attr(kind)),
        Value::from(app.now().unix_timestamp()),
    );
    item.attrs.insert(
        "updated_at".into(),
        Value::from(app.now().unix_timestamp().max(updated_at + 1)),
    );
    match scope
        .put(
            item,
            Condition::Equals("updated_at".into(), Value::from(updated_at)),
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            blobs
                .delete(&bs, verified)
                .await
                .map_err(UploadError::from)?;
            return Err(ImageFlowError::Conflict);
        }
        Err(e) => return Err(InfraError::from(e).into()),
    }
    if let Some(old) = previous.filter(|o| o != verified) {
        // The record points at the new image now: failing here would report a done upload as
        // failed and leave it unaudited. The old object is unreachable and dies with the
        // tenant's key (as in `remove_objects`).
        if let Err(e) = blobs.delete(&bs, &old).await {
            tracing::warn!(error = %e, "previous image object not deleted");
        }
    }
    let registrant = regs::get(scope, &record.registrant_id)
        .await?
        .ok_or(ImageFlowError::NotFound)?;
    let whose = if record.dependent_id.is_some() {
        "扶養家族の"
    } else {
        ""
    };
    app.audit()
        .record(audit_event(
            scope,
            actor,
            "image.upload",
            &registrant.id,
            format!(
                "{}さんの{whose}{}画像をアップロード",
                registrant.name(),
                kind.label()
            ),
        ))
        .await
        .map_err(InfraError::from)?;
    Ok(())
}

/// The object names a record's image attributes point at (not their `_at` times).
pub fn object_names(images: &serde_json::Map<String, Value>) -> Vec<String> {
    images
        .iter()
        .filter(|(k, _)| !k.ends_with("_at"))
        .filter_map(|(_, v)| v.as_str().map(str::to_string))
        .collect()
}

/// Deletes the image objects a removed record pointed at (after the record is gone; an object
/// left behind by a crash here is unreachable and dies with the tenant's key).
pub async fn remove_objects(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    images: &serde_json::Map<String, Value>,
) {
    let bs = blob_scope(tenant, scope);
    for name in object_names(images) {
        if let Err(e) = app.ports.blobs.delete(&bs, &name).await {
            tracing::warn!(error = %e, "image object not deleted");
        }
    }
}
