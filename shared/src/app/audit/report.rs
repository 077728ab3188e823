//! 取扱状況 (handling report): one month of a tenant's operation log summed up for the
//! person responsible for the numbers: who revealed or downloaded numbers for which purpose
//! and how often, and how many registrations, approvals, send-backs, refusals, deletions,
//! imports and logins there were.
//!
//! Derived from the log alone (the entries' action codes and the purpose the use cases wrote
//! into 操作内容), so it shows only what the log proves. It names people and purposes; it
//! never holds a number, since no entry does.

use std::collections::BTreeMap;

use time::{Date, Month, OffsetDateTime};

use super::log::japan_time;
use super::Entry;
use crate::app::download::{encode_download, Encoding};
use crate::app::keys::TenantScope;
use crate::app::{App, InfraError};
use crate::domain::purpose::Purpose;

/// A month of the calendar (Japan time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct YearMonth {
    pub year: i32,
    pub month: Month,
}

impl YearMonth {
    /// `2026-04` (also `2026/4`).
    pub fn parse(input: &str) -> Option<YearMonth> {
        let (y, m) = input.trim().split_once(['-', '/'])?;
        let year: i32 = y.parse().ok().filter(|y| (2000..=9999).contains(y))?;
        let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
        Some(YearMonth { year, month })
    }

    pub fn of(t: OffsetDateTime) -> YearMonth {
        let t = t.to_offset(time::macros::offset!(+9));
        YearMonth {
            year: t.year(),
            month: t.month(),
        }
    }

    /// `2026-04`, as the page's links write it.
    pub fn code(self) -> String {
        format!("{:04}-{:02}", self.year, u8::from(self.month))
    }

    /// `2026年4月`.
    pub fn label(self) -> String {
        format!("{}年{}月", self.year, u8::from(self.month))
    }

    pub fn previous(self) -> YearMonth {
        match self.month {
            Month::January => YearMonth {
                year: self.year - 1,
                month: Month::December,
            },
            m => YearMonth {
                year: self.year,
                month: m.previous(),
            },
        }
    }

    pub fn next(self) -> YearMonth {
        match self.month {
            Month::December => YearMonth {
                year: self.year + 1,
                month: Month::January,
            },
            m => YearMonth {
                year: self.year,
                month: m.next(),
            },
        }
    }

    fn contains(self, day: Date) -> bool {
        day.year() == self.year && day.month() == self.month
    }

    fn is_after(self, day: Date) -> bool {
        (day.year(), u8::from(day.month())) < (self.year, u8::from(self.month))
    }
}

/// Number uses of one kind, for one purpose, by one person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Use {
    /// 表示 or ダウンロード.
    pub kind: &'static str,
    pub purpose: String,
    pub actor: String,
    /// How many times.
    pub times: u64,
    /// How many people's numbers, summed.
    pub people: u64,
}

/// The month's report.
#[derive(Clone, Debug)]
pub struct Report {
    pub month: YearMonth,
    pub uses: Vec<Use>,
    /// (what, how many) in a fixed order, zeros included.
    pub totals: Vec<(&'static str, u64)>,
    /// Logins per person.
    pub logins: Vec<(String, u64)>,
}

/// What each counted action is called in the totals, in their order.
const COUNTED: [(&str, &[&str]); 11] = [
    ("登録者の登録", &["registrant.create"]),
    ("扶養家族の登録", &["dependent.create"]),
    ("一括登録・CSV取込", &["bulk.import", "csv.import"]),
    ("スマホ登録の完了", &["enrol.finish"]),
    ("承認", &["approval.approve"]),
    ("差戻し", &["approval.send_back"]),
    ("拒否", &["approval.refuse"]),
    (
        "削除（登録者・扶養家族）",
        &["registrant.delete", "dependent.delete"],
    ),
    (
        "マイナンバーの削除（廃棄）",
        &["registrant.number_delete", "dependent.number_delete"],
    ),
    ("ログイン", &["auth.login"]),
    ("ログイン失敗", &["auth.login_failed", "auth.otp_failed"]),
];

/// The report of `month` from the tenant's log.
pub async fn monthly(
    app: &App,
    scope: &TenantScope,
    month: YearMonth,
) -> Result<Report, InfraError> {
    let mut entries = Vec::new();
    app.audit
        .walk_back(scope.tenant(), None, 500, |e| {
            let Some(day) = japan_time(&e.at).map(OffsetDateTime::date) else {
                return true;
            };
            if month.contains(day) {
                entries.push(e);
            }
            // Older than the month: nothing further down belongs to it.
            !month.is_after(day)
        })
        .await?;
    Ok(summarise(month, &entries))
}

fn summarise(month: YearMonth, entries: &[Entry]) -> Report {
    let mut uses: BTreeMap<(&'static str, String, String), (u64, u64)> = BTreeMap::new();
    let mut counts = [0u64; COUNTED.len()];
    let mut logins: BTreeMap<String, u64> = BTreeMap::new();
    let actor = |e: &Entry| e.actor_name.clone().unwrap_or_default();
    for e in entries {
        let used = match e.action.as_str() {
            "number.reveal" => Some(("表示", purpose_in(&e.detail), 1)),
            "approval.view" => Some(("表示", "本人確認（承認画面）".to_string(), 1)),
            "csv.export" => Some(("ダウンロード", purpose_in(&e.detail), people_in(&e.detail))),
            _ => None,
        };
        if let Some((kind, purpose, people)) = used {
            let slot = uses.entry((kind, purpose, actor(e))).or_default();
            slot.0 += 1;
            slot.1 += people;
        }
        for (i, (_, actions)) in COUNTED.iter().enumerate() {
            if actions.contains(&e.action.as_str()) {
                counts[i] += 1;
            }
        }
        if e.action == "auth.login" {
            *logins.entry(actor(e)).or_default() += 1;
        }
    }
    Report {
        month,
        uses: uses
            .into_iter()
            .map(|((kind, purpose, actor), (times, people))| Use {
                kind,
                purpose,
                actor,
                times,
                people,
            })
            .collect(),
        totals: COUNTED
            .iter()
            .zip(counts)
            .map(|((label, _), n)| (*label, n))
            .collect(),
        logins: logins.into_iter().collect(),
    }
}

/// The purpose a use case wrote into 操作内容 (`…（利用目的: <label>）…`).
fn purpose_in(detail: &str) -> String {
    detail
        .split_once("利用目的: ")
        .and_then(|(_, rest)| {
            Purpose::ALL
                .iter()
                .map(|p| p.label())
                .find(|label| rest.starts_with(label))
        })
        .unwrap_or("（記録なし）")
        .to_string()
}

/// The people count a download wrote into 操作内容 (`…計N人`), at least 1.
fn people_in(detail: &str) -> u64 {
    detail
        .rsplit_once('計')
        .and_then(|(_, rest)| rest.split('人').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// The report as a CSV file: one section of uses, then the totals and logins.
pub fn to_csv(report: &Report, encoding: Encoding) -> Result<Vec<u8>, InfraError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(Vec::new());
    let io = |_| InfraError::Task;
    w.write_record([format!("取扱状況 {}", report.month.label())])
        .map_err(io)?;
    w.write_record(["区分", "利用目的", "実施者", "回数", "人数"])
        .map_err(io)?;
    for u in &report.uses {
        w.write_record([
            u.kind,
            u.purpose.as_str(),
            u.actor.as_str(),
            &u.times.to_string(),
            &u.people.to_string(),
        ])
        .map_err(io)?;
    }
    w.write_record(["項目", "件数"]).map_err(io)?;
    for (label, n) in &report.totals {
        w.write_record([*label, n.to_string().as_str()])
            .map_err(io)?;
    }
    w.write_record(["ログインユーザ", "ログイン回数"])
        .map_err(io)?;
    for (name, n) in &report.logins {
        w.write_record([name.as_str(), n.to_string().as_str()])
            .map_err(io)?;
    }
    let bytes = w.into_inner().map_err(|_| InfraError::Task)?;
    encode_download(bytes, encoding, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str, actor: &str, detail: &str) -> Entry {
        Entry {
            seq: 1,
            at: "2026-04-01T00:00:00Z".into(),
            actor_id: None,
            actor_name: Some(actor.into()),
            action: action.into(),
            target: None,
            detail: detail.into(),
            ip: None,
            user_agent: None,
            prev: String::new(),
        }
    }

    #[test]
    fn summarise_counts_uses_by_purpose_and_person_when_the_log_names_them() {
        let p = Purpose::SalaryWithholding.label();
        let entries = [
            entry(
                "number.reveal",
                "甲",
                &format!("山田のマイナンバー表示（利用目的: {p}）"),
            ),
            entry(
                "number.reveal",
                "甲",
                &format!("佐藤のマイナンバー表示（利用目的: {p}）"),
            ),
            entry(
                "csv.export",
                "乙",
                &format!("CSVダウンロード（利用目的: {p}）: 登録者2人・扶養家族1人、計3人"),
            ),
            entry("approval.refuse", "甲", "拒否"),
            entry("auth.login", "甲", "ログイン"),
        ];
        let month = YearMonth::parse("2026-04").unwrap();

        let r = summarise(month, &entries);

        assert_eq!(
            r.uses,
            vec![
                Use {
                    kind: "ダウンロード",
                    purpose: p.into(),
                    actor: "乙".into(),
                    times: 1,
                    people: 3
                },
                Use {
                    kind: "表示",
                    purpose: p.into(),
                    actor: "甲".into(),
                    times: 2,
                    people: 2
                },
            ]
        );
        assert!(r.totals.contains(&("拒否", 1)));
        assert!(r.totals.contains(&("承認", 0)));
        assert_eq!(r.logins, vec![("甲".to_string(), 1)]);
    }

    #[test]
    fn year_month_parses_both_forms_and_steps_over_the_year_end() {
        let m = YearMonth::parse("2025/12").unwrap();
        assert_eq!(m.code(), "2025-12");
        assert_eq!(m.next().code(), "2026-01");
        assert_eq!(YearMonth::parse("2026-01").unwrap().previous(), m);
        assert_eq!(YearMonth::parse("2026-13"), None);
        assert_eq!(YearMonth::parse("abc"), None);
    }
}
