//! The データ破棄証明書 mailed to the contractor address when a purge has deleted everything:
//! tenant, customer number, what was destroyed (counts only) and when the key was destroyed.
//! Plain text laid out to be printed as it is (mail bodies are plain text, `ports::mailer`).

use time::OffsetDateTime;

use super::PurgeRecord;
use crate::app::App;
use crate::domain::date::format_slash;
use crate::ports::mailer::Mail;

pub const CERTIFICATE_SUBJECT: &str = "【マイナンバー管理】データ破棄証明書";

/// `YYYY/MM/DD HH:MM`, Japan time.
fn jst(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::macros::offset!(+9));
    format!(
        "{} {:02}:{:02}（日本時間）",
        format_slash(at.date()),
        at.hour(),
        at.minute()
    )
}

/// One line for the system log: no name, no number.
pub(super) fn summary(r: &PurgeRecord) -> String {
    format!(
        "解約によるデータ破棄（お客様番号 {}、登録者 {}人、扶養家族 {}人、画像 {}件、操作履歴 {}件）",
        r.customer_number,
        r.people,
        r.dependents,
        r.images,
        r.log_entries.unwrap_or(0)
    )
}

/// The certificate mail for a purge whose data steps are done.
pub fn certificate_mail(app: &App, r: &PurgeRecord, to: &str) -> Mail {
    let key_time = r.key_destroyed_at.map_or_else(|| "—".to_string(), jst);
    let body = format!(
        "データ破棄証明書\n\
         ==================================================\n\n\
         {company} 御中\n\n\
         ご解約に伴い、貴社のマイナンバー管理データを下記のとおり破棄したことを証明します。\n\
         破棄したデータは復元できません。\n\n\
         ■ ご契約\n\
         \x20 会社名/組織名: {company}\n\
         \x20 お客様番号: {customer}\n\
         \x20 解約日: {due}\n\n\
         ■ 破棄したデータ\n\
         \x20 登録者: {people}人（マイナンバー、氏名等の登録者情報）\n\
         \x20 扶養家族: {dependents}人\n\
         \x20 画像（通知カード・身分証明書等）: {images}件\n\
         \x20 操作履歴: {logs}件\n\
         \x20 ログインユーザ、登録用リンク、お知らせ、取り込み途中のデータ: すべて\n\n\
         ■ 暗号鍵の破棄\n\
         \x20 貴社専用の暗号鍵の破棄日時: {key_time}\n\
         \x20 この時点から、この鍵で暗号化されたデータは、バックアップに残る写しを含めて\n\
         \x20 復号できなくなりました。\n\n\
         破棄完了日時: {done}\n\n\
         この証明書は印刷して保管できます。本メールへの返信は受け付けておりません。\n\n\
         マイナクラウド\n\
         {base}\n",
        company = r.company_name,
        customer = r.customer_number,
        due = format_slash(r.due),
        people = r.people,
        dependents = r.dependents,
        images = r.images,
        logs = r.log_entries.unwrap_or(0),
        done = jst(app.now()),
        base = app.config.base_url,
    );
    Mail::new(to, CERTIFICATE_SUBJECT, body)
}
