//! Document images of registrants and dependents (番号確認・身元確認), uploaded by the browser
//! straight to storage with a signed ticket, never through the API.
//!
//! Each upload goes to a fresh object name in the upload area (`incoming/<owner>/<kind>/<id>`);
//! `complete` copies it to `<owner>/<kind>/<id>`, a name no ticket can write, and only after
//! that copy passes verification (<= 4 MB, JPEG/PNG/GIF by content) does the record point at
//! it and the previous image get deleted. A refused upload is deleted and the record keeps its
//! previous image; a ticket replayed after `complete` writes only to the upload area, which
//! no record reads.

use serde_json::Value;

use super::keys::{sk, TenantScope};
use super::registrants::{self as regs, Actor};
use super::tenants::Tenant;
use super::uploads::{self, UploadError};
use super::{App, InfraError};
use crate::domain::image::{DocumentKind, ImageError};
use crate::ports::blobs::{BlobScope, UploadTicket, UPLOAD_PREFIX};
use crate::ports::store::{Condition, Item, StoreError};

/// Whose image: a registrant, or one of its dependents.
#[derive(Clone, Debug)]
pub struct Owner {
    pub registrant_id: String,
    pub dependent_id: Option<String>,
}

impl Owner {
    fn key_sk(&self) -> String {
        match &self.dependent_id {
            Some(d) => sk::dependent(&self.registrant_id, d),
            None => sk::registrant(&self.registrant_id),
        }
    }

    fn prefix(&self, kind: DocumentKind) -> String {
        match &self.dependent_id {
            Some(d) => format!(
                "registrants/{}/dependents/{d}/{}/",
                self.registrant_id,
                kind.code()
            ),
            None => format!("registrants/{}/{}/", self.registrant_id, kind.code()),
        }
    }
}

pub fn blob_scope(tenant: &Tenant, scope: &TenantScope) -> BlobScope {
    BlobScope {
        tenant_id: scope.tenant().to_string(),
        master_key: tenant.keys.master_key.clone(),
    }
}

/// The attribute on the owner's item naming its current image of `kind`.
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

async fn owner_item(scope: &TenantScope, owner: &Owner) -> Result<Item, ImageFlowError> {
    let ids_ok = super::keys::is_record_id(&owner.registrant_id)
        && owner
            .dependent_id
            .as_deref()
            .is_none_or(super::keys::is_record_id);
    if !ids_ok {
        return Err(ImageFlowError::NotFound);
    }
    scope
        .get(&scope.key(&owner.key_sk()))
        .await
        .map_err(InfraError::from)?
        .ok_or(ImageFlowError::NotFound)
}

/// A ticket for a new upload; `upload` (the object name) comes back to [`complete`].
pub async fn start(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    owner: &Owner,
    kind: DocumentKind,
    content_type: &str,
) -> Result<(UploadTicket, String), ImageFlowError> {
    owner_item(scope, owner).await?;
    let name = format!("{UPLOAD_PREFIX}{}{}", owner.prefix(kind), ulid::Ulid::new());
    let ticket = uploads::ticket(
        app.ports.blobs.as_ref(),
        &blob_scope(tenant, scope),
        &name,
        content_type,
    )
    .await?;
    Ok((ticket, name))
}

/// Verifies an upload and makes it the owner's image of `kind`.
pub async fn complete(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    owner: &Owner,
    kind: DocumentKind,
    upload: &str,
) -> Result<(), ImageFlowError> {
    owner_item(scope, owner).await?;
    // Only names this flow hands out for this owner and kind; the image keeps the upload's id.
    let prefix = owner.prefix(kind);
    let Some(verified) = upload.strip_prefix(UPLOAD_PREFIX).filter(|n| {
        n.strip_prefix(&prefix)
            .is_some_and(super::keys::is_record_id)
    }) else {
        return Err(UploadError::Rejected(ImageError::Missing).into());
    };
    let blobs = app.ports.blobs.as_ref();
    let bs = blob_scope(tenant, scope);
    uploads::accept(blobs, &bs, upload, verified).await?;
    let mut item = owner_item(scope, owner).await?;
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
        blobs.delete(&bs, &old).await.map_err(UploadError::from)?;
    }
    let registrant = regs::get(scope, &owner.registrant_id)
        .await?
        .ok_or(ImageFlowError::NotFound)?;
    let whose = if owner.dependent_id.is_some() {
        "扶養家族の"
    } else {
        ""
    };
    app.audit()
        .record(regs::audit_event(
            scope,
            actor,
            "image.upload",
            &registrant,
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

/// Deletes the image objects a removed record pointed at (after the record is gone; an object
/// left behind by a crash here is unreachable and dies with the tenant's key).
pub async fn remove_objects(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    images: &serde_json::Map<String, Value>,
) {
    let bs = blob_scope(tenant, scope);
    for (k, v) in images {
        if let (false, Some(name)) = (k.ends_with("_at"), v.as_str()) {
            if let Err(e) = app.ports.blobs.delete(&bs, name).await {
                tracing::warn!(error = %e, "image object not deleted");
            }
        }
    }
}
