//! Many registrants with sealed numbers, written straight into a tenant's store (not through
//! the forms): how the CSV benchmark and the download's streaming tests get thousands of
//! people with sealed numbers in seconds. Each registrant is 完了 with a number; dependents
//! likewise. (`seed` on main seeds 未登録 registrants for the list benchmark: fold the two.)

use myna::app::dependents::Dependent;
use myna::app::keys::TenantScope;
use myna::app::person::{Names, PersonCore};
use myna::app::registrants::{Registrant, SealedNumber};
use myna::app::tenants::{self, Counters};
use myna::app::vault::TenantCipher;
use myna::app::App;
use myna::domain::my_number::MyNumber;
use myna::domain::person::{Attribute, DependentKind, Relationship, Sex};
use myna::domain::status::Status;
use myna::ports::store::WriteOp;

use crate::fixtures::valid_number;

/// What was seeded: the registrants' 社員コード (`X00000`, `X00001`, …) in id order, and the
/// number of dependents.
pub struct Seeded {
    pub codes: Vec<String>,
    pub dependents: usize,
}

fn core(family: String, given: &str, kana: &str, sex: Sex, now: i64) -> PersonCore {
    let mut person = PersonCore::new(
        Names {
            family_name: family,
            given_name: given.into(),
            family_kana: "シャイン".into(),
            given_kana: kana.into(),
        },
        Some(sex),
        Some(time::macros::date!(1980 - 01 - 01)),
        now,
    );
    person.status = Status::Completed;
    person
}

fn sealed(cipher: &TenantCipher, id: &str, seed: u64) -> SealedNumber {
    let n = MyNumber::parse(&valid_number(seed)).unwrap();
    SealedNumber {
        sealed: cipher.seal(id, &n),
        fingerprint: cipher.fingerprint(&n).unwrap(),
        last4: n.last4().to_string(),
    }
}

/// Writes `n` registrants, registrant `i` with `dependents_of(i)` dependents, every person
/// with a number (`valid_number` of a seed from `first_seed` on), and moves the HOME
/// counters. Ids are made in order, so the store's id order is `X00000`, `X00001`, ….
pub async fn registrants(
    app: &App,
    scope: &TenantScope,
    n: usize,
    first_seed: u64,
    dependents_of: impl Fn(usize) -> usize,
) -> Seeded {
    let tenant = tenants::load(scope).await.unwrap().unwrap();
    let cipher = app.vault.cipher(&tenant.keys).await.unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut ids = ulid::Generator::new();
    let mut seed = first_seed;
    let mut next_seed = || {
        seed += 1;
        seed
    };
    let mut ops = Vec::new();
    let mut codes = Vec::new();
    let mut all_dependents = 0;
    for i in 0..n {
        let id = ids.generate().unwrap().to_string();
        let mut person = core(
            format!("社員{}", i % 97),
            "太郎",
            "タロウ",
            Sex::ALL[i % 2],
            now,
        );
        person.number = Some(sealed(&cipher, &id, next_seed()));
        let dependents = dependents_of(i);
        let r = Registrant {
            id: id.clone(),
            group_id: None,
            code: format!("X{i:05}"),
            person,
            attribute: Attribute::ALL[i % 2],
            email: Some(format!("staff{i}@example.jp")),
            password_hash: None,
            login_lock: false,
            hire_date: None,
            note: String::new(),
            dependents: dependents as i64,
            dependents_unregistered: 0,
            dependents_pending: 0,
            dependents_status: (dependents > 0).then_some(Status::Completed),
            // The dependents below, written beside it: names CP932 holds.
            dependents_text_cp932: Some(true),
            retired_on: None,
            delete_on: None,
            last_declaration_year: None,
        };
        ops.push(WriteOp::put(r.to_item(scope)));
        for _ in 0..dependents {
            let dep_id = ids.generate().unwrap().to_string();
            let mut person = core(
                format!("社員{}", i % 97),
                "花子",
                "ハナコ",
                Sex::ALL[1],
                now,
            );
            person.number = Some(sealed(&cipher, &dep_id, next_seed()));
            let d = Dependent {
                id: dep_id,
                registrant_id: id.clone(),
                person,
                relationship: Relationship::ALL[1],
                kind: DependentKind::ALL[0],
            };
            ops.push(WriteOp::put(d.to_item(scope)));
        }
        all_dependents += dependents;
        codes.push(r.code);
        if ops.len() >= 5_000 {
            scope.batch_write(std::mem::take(&mut ops)).await.unwrap();
        }
    }
    scope.batch_write(ops).await.unwrap();
    let delta = Counters {
        registrants: n as i64,
        dependents: all_dependents as i64,
        ..Default::default()
    };
    scope
        .transact(vec![Counters::delta_op(scope, &delta).unwrap()])
        .await
        .unwrap();
    Seeded {
        codes,
        dependents: all_dependents,
    }
}
