//! Collection (manual ch.6 スマホで収集, ch.7 収集メール, ch.8 QRコード): registration links,
//! the 送信リスト of quickly added registrants, and collection-mail blasts run by the worker.
//!
//! - A registration link is `<base>/r/<tenant>/<token>`: a random single-purpose token whose
//!   SHA-256 is stored (`TOKEN#<hash>`), valid 90 days. Issuing a new link for a registrant
//!   marks the previous token `replaced` (kept until its expiry so its page can say why it no
//!   longer works) and points `LINK#<registrant>` at the new one, in one transaction.
//!   拒否 marks the current token `revoked` and removes `LINK#<registrant>`. A registrant's
//!   phone session records the hash of the link it was opened with and checks it on every
//!   request (`resolve_hash`), so a new link (mail or QR code) or 拒否 ends every session of
//!   the old one.
//! - A blast is a `BLAST#<id>` item with its counters plus one `BLAST#<id>#TO#<registrant>`
//!   item per recipient. The worker claims each recipient (`queued` → `sending`, conditional),
//!   sends, then records `sent` or `failed` with the counters in one transaction. A re-run
//!   (events arrive at least once, a crashed worker is retried) only picks `queued`
//!   recipients, and one stuck in `sending` is reported as uncertain instead of sent again:
//!   nobody gets two mails from one blast.
//!
//! This file: the shared constants; `links` (registration links), `quick` (簡易登録 and the
//! 送信リスト), `blast` (starting and reading a blast) and `send` (the worker's run).

use time::Duration;

mod blast;
mod links;
mod quick;
mod send;
pub use blast::{
    blast_event, load_blast, start_blast, validate_mail_options, Blast, MailOptions, Recipient,
    RecipientState,
};
pub use links::{
    forget_ops, issue_link, link_expiry, link_url, resolve, resolve_hash, revoke_link, IssuedLink,
    LinkState,
};
pub use quick::{
    blast_candidates, save_quick, send_list, ticked_for_blast, validate_quick, CellError, QuickRow,
};
pub use send::run_blast;

/// How long a registration link works (manual ch.7: 90日間).
pub const LINK_VALIDITY: Duration = Duration::days(90);
/// Subject of the collection mail (manual ch.7).
pub const SUBJECT: &str = "【マイナンバー管理】マイナンバー登録のお願い";
/// Rows of the 簡易登録 grid.
pub const QUICK_ROWS: usize = 10;
/// Event kind of a blast job (detail: `{tenant, blast}`).
pub const BLAST_JOB: &str = "collection.blast";
/// A recipient left in `sending` this long is taken as a crashed send.
const STALE_SENDING: i64 = 10 * 60;
/// Blast records are kept this long for the result page.
const BLAST_KEPT: Duration = Duration::days(30);
