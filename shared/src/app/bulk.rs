//! Adding many people at once: 複数一括登録 (manual ch.6, a grid of ten rows with their
//! dependents) and the rows of a CSVアップロード (`app::csv_io`) are checked here, the same way,
//! before anything is written; then `app::staging` writes them all or nothing.
//!
//! Every row is checked with the single forms' own rules (`registrants::validate`,
//! `dependents::validate`: required fields, check digit, era dates), then across the batch and
//! against the tenant: a 社員コード or a number twice in the batch, a 社員コード already claimed,
//! a number already held by another record, more registrants than the plan allows. Every
//! problem is reported on its row and field; the numbers are sealed only when all is well.

use std::collections::{HashMap, HashSet};

use super::actor::Actor;
use super::dependents::{self as deps, Dependent, DependentForm, ValidDependent};
use super::groups;
use super::keys::{sk, TenantScope};
use super::person::PersonCore;
use super::registrants::{self as regs, Registrant, RegistrantForm, SealedNumber};
use super::staging::{self, Budget, Import, Source};
use super::tenants::{self, Tenant};
use super::vault::{fingerprint_with, TenantCipher};
use super::{App, InfraError};
use crate::domain::my_number::MyNumber;
use crate::domain::status::Status;
use crate::ports::store::{Key, Query};

/// Rows per 複数一括登録 page (manual: 一度に最大10人分, dependents without limit).
pub const GRID_ROWS: usize = 10;

/// Where an input row is: its line (CSV) or row (grid, from 1), and which dependent of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct At {
    pub row: usize,
    pub dependent: Option<usize>,
}

/// One problem, on its row and field (the forms' field names: `code`, `number`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub at: At,
    pub field: &'static str,
    pub message: String,
}

/// A registrant as typed, with its dependents.
#[derive(Clone, Debug)]
pub struct NewPerson {
    pub at: At,
    pub form: RegistrantForm,
    pub dependents: Vec<(At, DependentForm)>,
}

/// What differs between the grid and the CSV.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// Status of a record entered with its number (the grid: 完了, documents checked).
    pub status_with_number: Status,
    /// Whether every registrant and dependent must come with a number.
    pub number_required: bool,
}

/// The outcome of [`check`].
pub enum Checked {
    /// Every row is fine: the records to write, numbers sealed.
    Ready(Vec<(Registrant, Vec<Dependent>)>),
    /// Nothing may be written: the problems of the rows, and of the batch as a whole.
    Refused {
        rows: Vec<RowError>,
        general: Vec<String>,
    },
}

struct Valid {
    registrant: regs::Valid,
    dependents: Vec<(At, ValidDependent)>,
}

fn number_missing(errors: &mut Vec<RowError>, at: At, raw: &str) {
    if raw.trim().is_empty() {
        errors.push(RowError {
            at,
            field: "number",
            message: "マイナンバーを入力してください。".into(),
        });
    }
}

fn field_errors(errors: &mut Vec<RowError>, at: At, list: regs::FieldErrors) {
    errors.extend(
        list.into_iter()
            .map(|(field, message)| RowError { at, field, message }),
    );
}

fn dependent_number_input(f: &DependentForm) -> String {
    format!("{}{}{}", f.number1, f.number2, f.number3)
}

/// Checks a batch of new people (see the module docs). Reads only: nothing is written.
pub async fn check(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    people: &[NewPerson],
    rules: Rules,
) -> Result<Checked, InfraError> {
    let groups = groups::list(scope).await?;
    let today = regs::today(app.now());
    let mut errors = Vec::new();
    let mut valid = Vec::new();
    for p in people {
        if rules.number_required {
            number_missing(&mut errors, p.at, &p.form.number_input());
        }
        let years = tenant.settings.retention_years;
        let registrant = regs::validate(&p.form, &groups, today, years)
            .map_err(|e| field_errors(&mut errors, p.at, e))
            .ok();
        if p.dependents.len() > deps::MAX_DEPENDENTS {
            errors.push(RowError {
                at: p.at,
                field: "dependents",
                message: format!("扶養家族は{}人まで登録できます。", deps::MAX_DEPENDENTS),
            });
        }
        let mut dependents = Vec::new();
        for (at, f) in &p.dependents {
            if rules.number_required {
                number_missing(&mut errors, *at, &dependent_number_input(f));
            }
            match deps::validate(f, today) {
                Ok(d) => dependents.push((*at, d)),
                Err(e) => field_errors(&mut errors, *at, e),
            }
        }
        if let Some(registrant) = registrant {
            valid.push(Valid {
                registrant,
                dependents,
            });
        }
    }
    let cipher = app.vault.cipher(&tenant.keys).await?;
    cross_check(scope, &cipher, people, &mut errors).await?;
    let mut general = Vec::new();
    let (active, retired) = regs::counted_people(&tenants::counters(scope).await?);
    let adding = u32::try_from(people.len()).unwrap_or(u32::MAX);
    if let Err(e) = tenant.plan.check_add(active, retired, adding) {
        general.push(format!(
            "{e}（登録可能人数: {}人、登録しようとした人数: {adding}人）",
            tenant.plan.remaining(active, retired)
        ));
    }
    if !errors.is_empty() || !general.is_empty() {
        errors.sort_by_key(|e| (e.at.row, e.at.dependent));
        return Ok(Checked::Refused {
            rows: errors,
            general,
        });
    }
    let now = app.now().unix_timestamp();
    let mut ids = Ids(ulid::Generator::new());
    Ok(Checked::Ready(
        valid
            .into_iter()
            .map(|v| build(&cipher, &mut ids, v, rules, now))
            .collect(),
    ))
}

/// 社員コード and numbers: twice in the batch, or already in the tenant. Works on the input as
/// typed, so a row wrong in some other field is still compared.
async fn cross_check(
    scope: &TenantScope,
    cipher: &TenantCipher,
    people: &[NewPerson],
    errors: &mut Vec<RowError>,
) -> Result<(), InfraError> {
    let mut codes: HashMap<&str, At> = HashMap::new();
    for p in people.iter().filter(|p| !p.form.code.trim().is_empty()) {
        let code = p.form.code.trim();
        match codes.get(code) {
            Some(first) => errors.push(RowError {
                at: p.at,
                field: "code",
                message: format!("社員コード「{code}」が{}行目と重複しています。", first.row),
            }),
            None => {
                codes.insert(code, p.at);
            }
        }
    }
    let keys: Vec<Key> = codes.keys().map(|c| scope.key(&sk::code(c))).collect();
    for item in scope.batch_get(&keys).await? {
        if let Some((code, at)) = item
            .key
            .sk
            .strip_prefix("REGCODE#")
            .and_then(|c| codes.get_key_value(c))
        {
            errors.push(RowError {
                at: *at,
                field: "code",
                message: format!("社員コード「{code}」はすでに登録されています。"),
            });
        }
    }

    let mac_key = cipher.fingerprint_key()?;
    let mut numbers: Vec<(At, String)> = Vec::new();
    for p in people {
        let mine = std::iter::once((p.at, p.form.number_input()));
        let theirs = p
            .dependents
            .iter()
            .map(|(at, d)| (*at, dependent_number_input(d)));
        numbers.extend(mine.chain(theirs).filter_map(|(at, raw)| {
            let n = MyNumber::parse(&raw).ok()?;
            Some((at, fingerprint_with(&mac_key, &n)))
        }));
    }
    let mut seen: HashMap<&str, At> = HashMap::new();
    for (at, fp) in &numbers {
        match seen.get(fp.as_str()) {
            Some(first) => errors.push(RowError {
                at: *at,
                field: "number",
                message: format!("同じマイナンバーが{}行目にもあります。", first.row),
            }),
            None => {
                seen.insert(fp, *at);
            }
        }
    }
    let held = held_numbers(scope, seen.keys().copied().collect()).await?;
    for (at, fp) in &numbers {
        if let Some(label) = held.get(fp) {
            errors.push(RowError {
                at: *at,
                field: "number",
                message: format!("このマイナンバーはすでに登録されています（{label}）。"),
            });
        }
    }
    Ok(())
}

/// Which of these fingerprints the tenant already holds, with whose they are: one query per
/// number for a few, one walk over every fingerprint for many.
async fn held_numbers(
    scope: &TenantScope,
    fps: HashSet<&str>,
) -> Result<HashMap<String, String>, InfraError> {
    let mut held = HashMap::new();
    if fps.len() <= 50 {
        for fp in fps {
            if let Some(d) = regs::duplicates(scope, fp, None).await?.into_iter().next() {
                held.insert(fp.to_string(), d.label);
            }
        }
        return Ok(held);
    }
    let mut cursor = None;
    loop {
        let page = scope
            .query(
                &Query::partition(scope.pk())
                    .prefix(sk::FINGERPRINTS)
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            let fp = item
                .key
                .sk
                .strip_prefix(sk::FINGERPRINTS)
                .and_then(|rest| rest.split('#').next())
                .unwrap_or_default();
            if fps.contains(fp) {
                let label = item.str("label").unwrap_or("登録者").to_string();
                held.entry(fp.to_string()).or_insert(label);
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(held),
        }
    }
}

/// Record ids in input order (a ULID generator is monotonic within a millisecond), so lists
/// ordered by id (dependents) keep the order of the file or the grid.
struct Ids(ulid::Generator);

impl Ids {
    fn next(&mut self) -> String {
        self.0
            .generate()
            .unwrap_or_else(|_| ulid::Ulid::new())
            .to_string()
    }
}

fn seal(cipher: &TenantCipher, id: &str, n: Option<&MyNumber>) -> Option<SealedNumber> {
    n.map(|n| SealedNumber {
        sealed: cipher.seal(id, n),
        // The key was derived once in `cross_check`; deriving again cannot fail either.
        fingerprint: cipher.fingerprint(n).unwrap_or_default(),
        last4: n.last4().to_string(),
    })
}

fn status_of(number: &Option<SealedNumber>, rules: Rules) -> Status {
    if number.is_some() {
        rules.status_with_number
    } else {
        Status::Unregistered
    }
}

fn dependent(
    cipher: &TenantCipher,
    id: String,
    registrant_id: &str,
    d: ValidDependent,
    rules: Rules,
    now: i64,
) -> Dependent {
    let number = seal(cipher, &id, d.number.as_ref());
    let mut person = PersonCore::new(d.names, d.sex, d.birth_date, now);
    person.status = status_of(&number, rules);
    person.number = number;
    Dependent {
        registrant_id: registrant_id.to_string(),
        person,
        relationship: d.relationship,
        kind: d.kind,
        id,
    }
}

fn build(
    cipher: &TenantCipher,
    ids: &mut Ids,
    v: Valid,
    rules: Rules,
    now: i64,
) -> (Registrant, Vec<Dependent>) {
    let id = ids.next();
    let number = seal(cipher, &id, v.registrant.number.as_ref());
    let status = status_of(&number, rules);
    let r = Registrant::new(id, v.registrant, number, None, status, now);
    let dependents: Vec<Dependent> = v
        .dependents
        .into_iter()
        .map(|(_, d)| dependent(cipher, ids.next(), &r.id, d, rules, now))
        .collect();
    let mut r = deps::summarised(&r, &dependents, now);
    r.person.updated_at = now;
    (r, dependents)
}

/// The outcome of saving one 複数一括登録 page.
pub enum Saved {
    /// Everything was written: the registrants (for the page's 完了 column).
    Done(Vec<Registrant>),
    Refused {
        rows: Vec<RowError>,
        general: Vec<String>,
    },
}

/// 複数一括登録: checks a page and, only if every row is fine, writes it all (status 完了).
pub async fn save_grid(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    people: &[NewPerson],
) -> Result<Saved, InfraError> {
    let rules = Rules {
        status_with_number: Status::Completed,
        number_required: true,
    };
    let ready = match check(app, scope, tenant, people, rules).await? {
        Checked::Ready(ready) => ready,
        Checked::Refused { rows, general } => return Ok(Saved::Refused { rows, general }),
    };
    let import = staging::stage(app, scope, actor, Source::Bulk, "", &ready).await?;
    let done = commit(app, scope, tenant, &import).await?;
    if done.state.visible() {
        Ok(Saved::Done(ready.into_iter().map(|(r, _)| r).collect()))
    } else {
        Ok(Saved::Refused {
            rows: Vec::new(),
            general: done.error.into_iter().collect(),
        })
    }
}

/// Starts a staged import and runs it to the end (a page of the grid is small).
async fn commit(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    import: &Import,
) -> Result<Import, InfraError> {
    staging::start(app, scope, import).await?;
    staging::run(app, scope, tenant, &import.id, Budget::unlimited()).await
}
