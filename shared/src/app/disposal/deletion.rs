//! What each kind of 廃棄 (manual ch.12) removes, in one transaction with its deletion record:
//! - マイナンバー削除: the registrant's sealed number, its fingerprint (duplicate check) and its
//!   image attributes; the registrant stays, back to 未登録;
//! - 登録者削除: the registrant with its dependents, its 社員コード claim and number fingerprints
//!   and its place on the send list;
//! - 扶養家族マイナンバー削除 / 扶養家族の削除: the same for one dependent, with the registrant's
//!   summary of its dependents rewritten.
//!
//! The image objects themselves are deleted after the transaction by `app::disposal`, from the
//! names the record keeps until then. The one use case that needs registrants, dependents,
//! collection and images at once, so it sits above them and none of them imports another for it.
//!
//! Not here: the record, the reason and the retry rules (`app::disposal`); a registrant deleting
//! its own dependent on the phone (`app::dependents::delete`).

use serde_json::Map;

use super::{DisposalError, DisposalRecord};
use crate::app::keys::TenantScope;
use crate::app::{collection, dependents as deps, images, registrants as regs, App};
use crate::domain::disposal::DisposalKind;
use crate::domain::status::Status;

/// Removes what `record` names and writes the record (pending) in the same transaction, filling
/// in whom it was about and which image objects are left to delete.
pub(super) async fn remove(
    app: &App,
    scope: &TenantScope,
    record: &mut DisposalRecord,
) -> Result<(), DisposalError> {
    let before = regs::get(scope, &record.registrant_id)
        .await?
        .ok_or(DisposalError::NotFound)?;
    record.registrant_name = before.name();
    record.registrant_code = before.code.clone();
    let now = app.now().unix_timestamp();
    match (record.kind, record.dependent_id.clone()) {
        (DisposalKind::Number, _) => {
            let mut after = before.clone();
            strip_number(
                &mut after.person.number,
                &mut after.person.status,
                &mut after.person.images,
                record,
            )?;
            after.person.review = Default::default();
            after.person.updated_at = now.max(before.person.updated_at + 1);
            let op = record.create_op(scope);
            regs::commit_with(scope, Some(&before), Some(&after), vec![op]).await?;
        }
        (DisposalKind::Registrant, _) => {
            let dependents = deps::list(scope, &before.id).await?;
            record.objects = images::object_names(&before.person.images);
            for d in &dependents {
                record
                    .objects
                    .extend(images::object_names(&d.person.images));
                record.dependents.push(label(d));
            }
            record.images = record.objects.len();
            let mut ops = deps::delete_ops(scope, &before.id).await?;
            ops.extend(collection::forget_ops(scope, &before.id));
            ops.push(record.create_op(scope));
            regs::commit_with(scope, Some(&before), None, ops).await?;
        }
        (kind, Some(dep_id)) => {
            let mut all = deps::list(scope, &before.id).await?;
            let old = all
                .iter()
                .find(|d| d.id == dep_id)
                .cloned()
                .ok_or(DisposalError::NotFound)?;
            record.dependent_label = Some(label(&old));
            let after = if kind == DisposalKind::DependentNumber {
                let mut d = old.clone();
                strip_number(
                    &mut d.person.number,
                    &mut d.person.status,
                    &mut d.person.images,
                    record,
                )?;
                d.person.review = Default::default();
                d.person.updated_at = now.max(old.person.updated_at + 1);
                all.retain(|x| x.id != dep_id);
                all.push(d.clone());
                Some(d)
            } else {
                record.objects = images::object_names(&old.person.images);
                record.images = record.objects.len();
                all.retain(|x| x.id != dep_id);
                None
            };
            let op = record.create_op(scope);
            deps::commit_with(
                scope,
                &before,
                Some(&old),
                after.as_ref(),
                &all,
                now,
                vec![op],
            )
            .await?;
        }
        (_, None) => return Err(DisposalError::NotFound),
    }
    Ok(())
}

/// Takes the number and the images off a person who stays (back to 未登録), noting the image
/// objects in the record; refuses when there is nothing to delete.
fn strip_number(
    number: &mut Option<regs::SealedNumber>,
    status: &mut Status,
    pictures: &mut Map<String, serde_json::Value>,
    record: &mut DisposalRecord,
) -> Result<(), DisposalError> {
    if number.is_none() && pictures.is_empty() {
        return Err(DisposalError::NothingToDelete);
    }
    record.objects = images::object_names(pictures);
    record.images = record.objects.len();
    *number = None;
    pictures.clear();
    *status = Status::Unregistered;
    Ok(())
}

/// 「山田 花子（配偶者）」.
fn label(d: &deps::Dependent) -> String {
    format!("{}（{}）", d.name(), d.relationship.label())
}
