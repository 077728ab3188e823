//! 承認 (manual ch.9) and マイナンバー編集 (ch.10, 11) of registrants and dependents: the list of
//! people waiting (承認待), the approval view that shows the number in clear (audited as part of
//! 本人確認), its document images, the decisions 承認 / 差戻し / 拒否 and a new number.
//!
//! Which decision may follow which status is `domain::approval`. Each decision is one Store
//! transaction holding the record, the HOME counters' deltas and (for a dependent) the
//! registrant's dependents summary, conditional on the record being the version the approver
//! saw, so two approvers racing (or a number changed while the page was open) cannot
//! double-apply or approve something unseen. Audit entries name the record and the transition,
//! never the number, and give a reason's length, not its text.
//!
//! Limits: the number and the images are shown only while the record is 承認待 (what there is to
//! check); any other time a number is read through マイナンバー表示 with a purpose.

use serde_json::Value;

use super::actor::{audit_event, Actor};
use super::dependents::{self as deps, Dependent};
use super::images;
use super::keys::{RecordId, TenantScope};
use super::person::PersonCore;
pub use super::person::Review;
use super::record::RecordRef;
use super::registrants::{self as regs, Registrant, SaveError, SealedNumber};
use super::tenants::Tenant;
use super::{App, InfraError};
use crate::domain::approval::{self as rules, ApprovalError, Decision};
use crate::domain::image::{sniff, DocumentKind, ImageKind, SNIFF_BYTES};
use crate::domain::my_number::MyNumber;
use crate::domain::status::Status;

/// The person a decision is about: a registrant, or one of its dependents (with the registrant
/// and all its dependents, whose summary the registrant carries).
#[derive(Clone, Debug)]
pub struct Subject {
    pub registrant: Registrant,
    pub dependent: Option<Dependent>,
    siblings: Vec<Dependent>,
}

impl Subject {
    /// The record the decision is about: the dependent's if any, else the registrant's.
    pub fn person(&self) -> &PersonCore {
        self.dependent
            .as_ref()
            .map_or(&self.registrant.person, |d| &d.person)
    }

    pub fn status(&self) -> Status {
        self.person().status
    }

    pub fn number(&self) -> Option<&SealedNumber> {
        self.person().number.as_ref()
    }

    /// The id the number is sealed to.
    pub fn record_id(&self) -> &str {
        self.dependent
            .as_ref()
            .map_or(&self.registrant.id, |d| &d.id)
    }

    /// The version an approver saw; a decision applies only to that version.
    pub fn version(&self) -> i64 {
        self.person().updated_at
    }

    pub fn record(&self) -> RecordRef {
        RecordRef {
            registrant_id: self.registrant.id.clone(),
            dependent_id: self.dependent.as_ref().map(|d| d.id.clone()),
        }
    }

    /// 「山田 太郎」 or 「山田 花子（山田 太郎の配偶者）」.
    pub fn whose(&self) -> String {
        match &self.dependent {
            Some(d) => format!(
                "{}（{}の{}）",
                d.name(),
                self.registrant.name(),
                d.relationship.label()
            ),
            None => self.registrant.name(),
        }
    }

    pub fn name(&self) -> String {
        self.person().name()
    }

    pub fn kana(&self) -> String {
        self.person().kana()
    }

    pub fn review(&self) -> &Review {
        &self.person().review
    }

    pub fn images(&self) -> &serde_json::Map<String, Value> {
        &self.person().images
    }

    /// The stored object of this kind of document image, if any.
    pub fn image(&self, kind: DocumentKind) -> Option<&str> {
        self.images()
            .get(&images::attr(kind))
            .and_then(Value::as_str)
    }

    /// Whether approval needs both images (国民年金の第3号被保険者).
    pub fn images_required(&self) -> bool {
        self.dependent
            .as_ref()
            .is_some_and(|d| d.kind.requires_images())
    }

    fn parts_mut(&mut self) -> (&mut Option<SealedNumber>, &mut Status, &mut Review) {
        match &mut self.dependent {
            Some(d) => (
                &mut d.person.number,
                &mut d.person.status,
                &mut d.person.review,
            ),
            None => {
                let r = &mut self.registrant;
                (
                    &mut r.person.number,
                    &mut r.person.status,
                    &mut r.person.review,
                )
            }
        }
    }
}

/// The registrant (and dependent) `record_ref` names, in this tenant only.
pub async fn load(
    scope: &TenantScope,
    record_ref: &RecordRef,
) -> Result<Option<Subject>, InfraError> {
    let Some(registrant) = regs::get(scope, &record_ref.registrant_id).await? else {
        return Ok(None);
    };
    let Some(dep_id) = &record_ref.dependent_id else {
        return Ok(Some(Subject {
            registrant,
            dependent: None,
            siblings: Vec::new(),
        }));
    };
    if RecordId::parse(dep_id).is_none() {
        return Ok(None);
    }
    let siblings = deps::list(scope, &registrant.id).await?;
    Ok(siblings
        .iter()
        .find(|d| &d.id == dep_id)
        .cloned()
        .map(|d| Subject {
            registrant,
            dependent: Some(d),
            siblings,
        }))
}

/// Writes `after` over `before` in one transaction (with the counters, and for a dependent the
/// registrant's summary), conditional on `before` still being stored.
async fn save(
    app: &App,
    scope: &TenantScope,
    before: &Subject,
    after: &mut Subject,
) -> Result<(), SaveError> {
    let now = app.now().unix_timestamp();
    match (&before.dependent, &mut after.dependent) {
        (Some(b), Some(a)) => {
            a.person.updated_at = now.max(b.person.updated_at + 1);
            let all: Vec<Dependent> = before
                .siblings
                .iter()
                .map(|d| if d.id == a.id { a.clone() } else { d.clone() })
                .collect();
            after.registrant =
                deps::commit(scope, &before.registrant, Some(b), Some(a), &all, now).await?;
            after.siblings = all;
        }
        _ => {
            let r = &mut after.registrant;
            r.person.updated_at = now.max(before.registrant.person.updated_at + 1);
            regs::commit(scope, Some(&before.registrant), Some(r)).await?;
        }
    }
    Ok(())
}

/// Why an approval operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalFlowError {
    #[error(transparent)]
    Rule(#[from] ApprovalError),
    #[error("not found")]
    NotFound,
    #[error("他の操作で内容が変わりました。画面を開き直して、内容を確認してからもう一度操作してください。")]
    Conflict,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<SaveError> for ApprovalFlowError {
    fn from(e: SaveError) -> Self {
        match e {
            SaveError::NotFound => ApprovalFlowError::NotFound,
            SaveError::Infra(e) => ApprovalFlowError::Infra(e),
            // Nothing but the status, reasons and lock changes here, so any refused write
            // means someone else wrote first.
            _ => ApprovalFlowError::Conflict,
        }
    }
}

async fn load_or_404(
    scope: &TenantScope,
    record_ref: &RecordRef,
) -> Result<Subject, ApprovalFlowError> {
    load(scope, record_ref)
        .await?
        .ok_or(ApprovalFlowError::NotFound)
}

async fn record(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    action: &str,
    subject: &Subject,
    detail: String,
) -> Result<(), InfraError> {
    app.audit()
        .record(audit_event(
            scope,
            actor,
            action,
            &subject.registrant.id,
            detail,
        ))
        .await
        .map_err(InfraError::from)
}

/// The approval screen's content: the person and, while 承認待, the number in clear.
pub struct Viewed {
    pub subject: Subject,
    pub number: Option<MyNumber>,
}

/// Opens the approval screen. While the record is 承認待 the number is opened for the approver
/// and the showing is audited (one entry, written before the number is returned).
pub async fn view(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    record_ref: &RecordRef,
) -> Result<Viewed, ApprovalFlowError> {
    let subject = load_or_404(scope, record_ref).await?;
    let sealed = match (subject.status(), subject.number()) {
        (Status::Pending, Some(n)) => n.sealed.clone(),
        _ => {
            return Ok(Viewed {
                subject,
                number: None,
            })
        }
    };
    let number = app
        .vault
        .open_number(&tenant.keys, subject.record_id(), &sealed)
        .await?;
    record(
        app,
        scope,
        actor,
        "approval.view",
        &subject,
        format!(
            "{}のマイナンバー承認画面を表示（本人確認）",
            subject.whose()
        ),
    )
    .await?;
    Ok(Viewed {
        subject,
        number: Some(number),
    })
}

/// A document image for the approval screen: only while the record is 承認待, its type read from
/// the stored bytes. Audited like the screen itself (the images show the number).
pub async fn image(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    record_ref: &RecordRef,
    kind: DocumentKind,
) -> Result<(Vec<u8>, ImageKind), ApprovalFlowError> {
    let subject = load_or_404(scope, record_ref).await?;
    let name = match (subject.status(), subject.image(kind)) {
        (Status::Pending, Some(name)) => name.to_string(),
        _ => return Err(ApprovalFlowError::NotFound),
    };
    let bytes = app
        .ports
        .blobs
        .get(&images::blob_scope(tenant, scope), &name)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "document image not readable");
            ApprovalFlowError::NotFound
        })?
        .ok_or(ApprovalFlowError::NotFound)?
        .0;
    let Some(format) = sniff(&bytes[..bytes.len().min(SNIFF_BYTES)]) else {
        // Verified at upload; anything else is never served as an image.
        tracing::error!("stored document image is not an accepted image");
        return Err(ApprovalFlowError::NotFound);
    };
    record(
        app,
        scope,
        actor,
        "approval.image",
        &subject,
        format!(
            "{}の{}画像を表示（本人確認）",
            subject.whose(),
            kind.label()
        ),
    )
    .await?;
    Ok((bytes, format))
}

/// Takes a decision on the version of the record the approver saw. 承認 also sets the
/// registrant's ログインロック (so the registrant can no longer change the approved data) and
/// clears the reasons; 差戻し and 拒否 keep their reason on the record. 拒否 of a registrant
/// also voids their registration link (`collection::revoke_link`).
pub async fn decide(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    record_ref: &RecordRef,
    decision: Decision,
    reason: &str,
    seen_version: i64,
) -> Result<Subject, ApprovalFlowError> {
    let before = load_or_404(scope, record_ref).await?;
    let from = before.status();
    let to = rules::transition(from, decision)?;
    let reason = rules::reason(decision, reason)?;
    if decision == Decision::Approve {
        rules::check_approvable(
            before.number().is_some(),
            before.images_required(),
            before.image(DocumentKind::NumberProof).is_some(),
            before.image(DocumentKind::IdentityProof).is_some(),
        )?;
    }
    // The rules first (their message says what is wrong), then: is this what the approver saw?
    if before.version() != seen_version {
        return Err(ApprovalFlowError::Conflict);
    }
    let mut after = before.clone();
    let (_, status, review) = after.parts_mut();
    *status = to;
    match decision {
        Decision::Approve => *review = Review::default(),
        Decision::SendBack => review.sent_back_reason = reason.clone(),
        Decision::Refuse => review.refused_reason = reason.clone(),
    }
    if decision == Decision::Approve && after.dependent.is_none() {
        after.registrant.login_lock = true;
    }
    save(app, scope, &before, &mut after).await?;
    if decision == Decision::Refuse && after.dependent.is_none() {
        // 拒否 ends collection: the link and every session opened with it stop working, so
        // nothing can be saved under a 拒否 status. A new collection mail re-opens it.
        super::collection::revoke_link(scope, &after.registrant.id).await?;
    }
    let why = reason.map_or(String::new(), |r| {
        format!("、{}理由{}文字", decision.label(), r.chars().count())
    });
    record(
        app,
        scope,
        actor,
        &format!("approval.{}", decision.code()),
        &after,
        format!(
            "{}を{}（{}→{}{why}）",
            after.whose(),
            decision.label(),
            from.label(),
            to.label()
        ),
    )
    .await?;
    Ok(after)
}

/// マイナンバー編集: a new number for the record. The duplicate rule is the add/edit flows' own;
/// a changed number goes back to 承認待 whatever the status was (`domain::approval`).
pub async fn change_number(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    record_ref: &RecordRef,
    number: &MyNumber,
    allow_duplicate: bool,
) -> Result<Subject, SaveError> {
    let before = load(scope, record_ref).await?.ok_or(SaveError::NotFound)?;
    let sealed = regs::seal_unique(
        app,
        scope,
        tenant,
        before.record_id(),
        Some(number),
        allow_duplicate,
    )
    .await?
    .ok_or(SaveError::NotFound)?;
    let mut after = before.clone();
    let (stored, status, _) = after.parts_mut();
    let changed = regs::set_number(stored, status, sealed);
    if !changed {
        return Ok(before);
    }
    save(app, scope, &before, &mut after).await?;
    app.audit()
        .record(audit_event(
            scope,
            actor,
            "number.update",
            &after.registrant.id,
            format!(
                "{}のマイナンバーを編集（{}→{}）",
                after.whose(),
                before.status().label(),
                after.status().label()
            ),
        ))
        .await
        .map_err(InfraError::from)?;
    Ok(after)
}

/// A registrant waiting for approval itself or through a dependent, with those dependents.
pub struct Waiting {
    pub registrant: Registrant,
    pub dependents: Vec<Dependent>,
}

pub struct WaitingPage {
    pub rows: Vec<Waiting>,
    pub total: usize,
    pub page: usize,
    pub pages: usize,
}

/// One page (50 registrants, in 社員コード order) of the people waiting for approval.
pub async fn waiting(scope: &TenantScope, page: usize) -> Result<WaitingPage, InfraError> {
    let (all, _) = regs::load_all(scope, None).await?;
    let waiting: Vec<Registrant> = all
        .into_iter()
        .filter(|r| r.person.status == Status::Pending || r.dependents_pending > 0)
        .collect();
    let total = waiting.len();
    let pages = total.div_ceil(regs::PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    let mut rows = Vec::new();
    for registrant in waiting
        .into_iter()
        .skip((page - 1) * regs::PAGE_SIZE)
        .take(regs::PAGE_SIZE)
    {
        let dependents = if registrant.dependents_pending > 0 {
            deps::list(scope, &registrant.id)
                .await?
                .into_iter()
                .filter(|d| d.person.status == Status::Pending)
                .collect()
        } else {
            Vec::new()
        };
        rows.push(Waiting {
            registrant,
            dependents,
        });
    }
    Ok(WaitingPage {
        rows,
        total,
        page,
        pages,
    })
}
