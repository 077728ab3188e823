//! スマホで収集（簡易登録） and the 送信リスト: ten rows a page checked and saved at once, and who
//! is on the list for the next blast.

use crate::app::actor::Actor;
use crate::app::keys::{sk, TenantScope};
use crate::app::person::Names;
use crate::app::registrants::{self as regs, Registrant, SaveError, Valid};
use crate::app::tenants::Tenant;
use crate::app::{App, InfraError};
use crate::domain::identity::Email;
use crate::domain::person::Attribute;
use crate::domain::status::Status;
use crate::domain::text::refuse_my_number;
use crate::ports::store::{Condition, Item, Query};

/// One row of the 簡易登録 grid, as typed.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct QuickRow {
    pub attribute: String,
    pub family_name: String,
    pub given_name: String,
    pub email: String,
}

impl QuickRow {
    pub fn is_blank(&self) -> bool {
        self.family_name.trim().is_empty()
            && self.given_name.trim().is_empty()
            && self.email.trim().is_empty()
    }
}

/// A problem on one cell of the grid (row index from 0, field name).
pub type CellError = (usize, &'static str, String);

/// Checks the non-blank rows; `bulk_attribute` fills rows left without 属性 (一括選択).
pub fn validate_quick(
    rows: &[QuickRow],
    bulk_attribute: &str,
) -> Result<Vec<(usize, Valid)>, Vec<CellError>> {
    let mut errors = Vec::new();
    let mut valid = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if row.is_blank() {
            continue;
        }
        let attribute = if row.attribute.trim().is_empty() {
            bulk_attribute
        } else {
            row.attribute.trim()
        };
        let attribute = Attribute::from_code(attribute);
        if attribute.is_none() {
            errors.push((i, "attribute", "属性を選択してください。".into()));
        }
        let family = row.family_name.trim();
        if family.is_empty() {
            errors.push((
                i,
                "family_name",
                "登録者名（苗字）を入力してください。".into(),
            ));
        } else if family.chars().count() > 50 {
            errors.push((i, "family_name", "50文字以内で入力してください。".into()));
        } else if let Err(e) = refuse_my_number("登録者名（苗字）", family) {
            errors.push((i, "family_name", e.to_string()));
        }
        let given = row.given_name.trim();
        if given.chars().count() > 50 {
            errors.push((i, "given_name", "50文字以内で入力してください。".into()));
        } else if let Err(e) = refuse_my_number("登録者名（名前）", given) {
            errors.push((i, "given_name", e.to_string()));
        }
        let email = match Email::parse(row.email.trim()) {
            Ok(e) => Some(e.as_str().to_string()),
            Err(_) if row.email.trim().is_empty() => {
                errors.push((i, "email", "メールアドレスを入力してください。".into()));
                None
            }
            Err(_) => {
                errors.push((
                    i,
                    "email",
                    "メールアドレスの形式が正しくありません。".into(),
                ));
                None
            }
        };
        if let (Some(attribute), Some(email)) = (attribute, email) {
            valid.push((
                i,
                Valid {
                    group_id: None,
                    code: String::new(),
                    names: Names {
                        family_name: family.to_string(),
                        given_name: given.to_string(),
                        ..Names::default()
                    },
                    attribute,
                    email: Some(email),
                    password: None,
                    login_lock: false,
                    sex: None,
                    birth_date: None,
                    hire_date: None,
                    retention: Default::default(),
                    note: String::new(),
                    number: None,
                },
            ));
        }
    }
    if errors.is_empty() {
        Ok(valid)
    } else {
        Err(errors)
    }
}

/// Saves checked 簡易登録 rows (the whole page fits the plan or nothing is saved) and puts
/// them on the 送信リスト. Returns how many were added.
pub async fn save_quick(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    rows: Vec<Valid>,
) -> Result<usize, SaveError> {
    regs::check_plan(scope, tenant, rows.len() as u32).await?;
    let mut added = 0;
    for valid in rows {
        let r = regs::create(app, scope, tenant, actor, valid, false).await?;
        scope
            .put(
                Item::new(scope.key(&sk::send_list(&r.id))).with("added_at", r.person.created_at),
                Condition::None,
            )
            .await
            .map_err(InfraError::from)?;
        added += 1;
    }
    Ok(added)
}

/// Registrants on the 送信リスト, oldest first.
pub async fn send_list(scope: &TenantScope) -> Result<Vec<Registrant>, InfraError> {
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let page = scope
            .query(
                &Query::partition(scope.pk())
                    .prefix(sk::SEND_LIST_PREFIX)
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            if let Some(id) = item.key.sk.strip_prefix(sk::SEND_LIST_PREFIX) {
                ids.push((item.i64("added_at").unwrap_or(0), id.to_string()));
            }
        }
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    ids.sort();
    let ids: Vec<String> = ids.into_iter().map(|(_, id)| id).collect();
    regs::get_many(scope, &ids).await
}

/// Registrants 収集メール一括送信 lists: everyone not retired (manual ch.7: 退職者 are not
/// shown). Whom the page ticks at first is [`ticked_for_blast`]'s rule.
pub async fn blast_candidates(scope: &TenantScope) -> Result<Vec<Registrant>, InfraError> {
    let (all, _) = regs::load_all(scope, None).await?;
    Ok(all.into_iter().filter(|r| !r.is_retired()).collect())
}

/// Whether 収集メール一括送信 ticks `r` before the user changes anything: those who still have
/// to enter (未登録) or fix (差戻し) their number. The others stay listed so that a mail can be
/// sent to them deliberately (a 拒否 re-opened, a 完了 asked again).
pub fn ticked_for_blast(r: &Registrant) -> bool {
    matches!(r.person.status, Status::Unregistered | Status::SentBack)
}
