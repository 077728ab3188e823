//! Seeding for the benchmarks: large tenants written straight to the store (what thousands of
//! registrations would leave behind, without paying for them through the pages), and the CSV
//! file an import of that size uploads. Not a fixture for the journeys: those register through
//! the product's forms.

use myna::app::dependents::Dependent;
use myna::app::groups;
use myna::app::keys::TenantScope;
use myna::app::person::{Names, PersonCore};
use myna::app::registrants::Registrant;
use myna::app::tenants::Counters;
use myna::domain::my_number::check_digit;
use myna::domain::person::{Attribute, DependentKind, Relationship, Sex};
use myna::domain::status::Status;
use myna::ports::store::WriteOp;

/// What [`registrants`] wrote.
pub struct Seeded {
    pub group_ids: Vec<String>,
    pub registrant_ids: Vec<String>,
}

/// `count` registrants (社員コード `E00000`…, name 社員{i % 97} 太郎 / シャイン タロウ, an
/// email each, 未登録) with one dependent each, spread over `groups` groups (部署00…), and the
/// tenant's counters to match.
pub async fn registrants(scope: &TenantScope, count: usize, groups: usize) -> Seeded {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let groups: Vec<_> = (0..groups)
        .map(|i| groups::new_group(format!("部署{i:02}"), time::OffsetDateTime::now_utc()))
        .collect();
    let mut ops: Vec<WriteOp> = groups
        .iter()
        .map(|g| WriteOp::put(g.to_item(scope)))
        .collect();
    let mut registrant_ids = Vec::with_capacity(count);
    for i in 0..count {
        let id = ulid::Ulid::new().to_string();
        let family_name = format!("社員{}", i % 97);
        let r = Registrant {
            id: id.clone(),
            group_id: Some(groups[i % groups.len()].id.clone()),
            code: format!("E{i:05}"),
            person: PersonCore::new(
                Names {
                    family_name: family_name.clone(),
                    given_name: "太郎".into(),
                    family_kana: "シャイン".into(),
                    given_kana: "タロウ".into(),
                },
                Some(Sex::ALL[i % 2]),
                None,
                now,
            ),
            attribute: Attribute::ALL[i % 2],
            email: Some(format!("staff{i}@example.jp")),
            password_hash: None,
            login_lock: false,
            hire_date: None,
            note: String::new(),
            dependents: 1,
            dependents_unregistered: 1,
            dependents_pending: 0,
            dependents_status: Some(Status::Unregistered),
            // The dependent below, written beside it: a name CP932 holds.
            dependents_text_cp932: Some(true),
            retired_on: None,
            delete_on: None,
            last_declaration_year: None,
        };
        let d = Dependent {
            id: ulid::Ulid::new().to_string(),
            registrant_id: id.clone(),
            person: PersonCore::new(
                Names {
                    family_name,
                    given_name: "花子".into(),
                    ..Names::default()
                },
                None,
                None,
                now,
            ),
            relationship: Relationship::ALL[0],
            kind: DependentKind::ALL[0],
        };
        ops.push(WriteOp::put(r.to_item(scope)));
        ops.push(WriteOp::put(d.to_item(scope)));
        registrant_ids.push(id);
    }
    scope.batch_write(ops).await.unwrap();
    let n = count as i64;
    let delta = Counters {
        registrants: n,
        unregistered: n,
        dependents: n,
        dependents_unregistered: n,
        ..Default::default()
    };
    scope
        .transact(vec![Counters::delta_op(scope, &delta).unwrap()])
        .await
        .unwrap();
    Seeded {
        group_ids: groups.into_iter().map(|g| g.id).collect(),
        registrant_ids,
    }
}

/// A valid My Number (check digit right), different for every `seed`.
pub fn my_number(seed: u64) -> String {
    let base = format!("{:011}", 20_000_000_000u64 + seed * 7919);
    let mut first = [0u8; 11];
    for (d, c) in first.iter_mut().zip(base.bytes()) {
        *d = c - b'0';
    }
    format!("{base}{}", check_digit(&first))
}

/// A CSVアップロード file in CP932: `registrants` registrants (社員コード `E00000`…) with
/// `dependents_each` dependents each, every row with its own valid number.
pub fn import_csv(registrants: usize, dependents_each: usize) -> Vec<u8> {
    let mut text = String::from("種別,社員コード,属性,氏名（姓）,氏名（名）,フリガナ（セイ）,フリガナ（メイ）,生年月日,性別,マイナンバー,続柄,入社日,メールアドレス,グループ,備考\r\n");
    let mut seed = 0;
    for i in 0..registrants {
        seed += 1;
        text.push_str(&format!(
            "登録者,E{i:05},従業員1,社員{i},太郎,シャイン,タロウ,S55/1/1,男性,{},,2020/4/1,staff{i}@example.jp,,\r\n",
            my_number(seed)
        ));
        for j in 0..dependents_each {
            seed += 1;
            text.push_str(&format!(
                "扶養家族,E{i:05},扶養者,社員{i},家族{j},,,H22/4/1,女性,{},子,,,,\r\n",
                my_number(seed)
            ));
        }
    }
    encoding_rs::SHIFT_JIS.encode(&text).0.into_owned()
}

/// Puts the tenant on the plan of `size` registrants (プラン1000 for the largest imports).
pub async fn set_plan(scope: &TenantScope, size: u16) {
    let mut item = scope.get(&scope.key("PROFILE")).await.unwrap().unwrap();
    item.attrs.insert("plan".into(), size.into());
    scope
        .put(item, myna::ports::store::Condition::None)
        .await
        .unwrap();
}
