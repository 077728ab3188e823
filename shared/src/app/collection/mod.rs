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
//!   item per recipient. The worker prepares the recipient's new link, claims the recipient
//!   (`queued` → `sending`, conditional, recording the link it is about to mail), sends, and
//!   then finishes: the link becomes current, the 送信リスト entry goes, the log entry is
//!   written (once per blast and registrant, `ChainedAudit::record_once`), and last `sent` is
//!   recorded with the counters in one transaction. Events arrive at least once and a failed
//!   job is re-delivered, so a failure of any one call must neither lose nor double a mail:
//!   before the send, a failure leaves the recipient `queued` or hands it back (a passing
//!   mail-server error counts an attempt; the third is recorded as failed), so the re-delivery
//!   sends it; after the send, a failure leaves it `sending` with its link, and a run after
//!   the claim has lapsed ([`STALE_SENDING`], longer than any run holds one) finishes the
//!   bookkeeping without sending again. A claim without a recorded link (made by a worker
//!   before links were recorded) is reported as uncertain. What this cannot tell apart: a
//!   worker killed during the send itself counts as sent, so nobody gets two mails but that
//!   one may get none (its row says 送信済み; 再送信 from the list remains). The copy to the
//!   logged-in user is sent only by the run that marks the blast done, which hands the blast
//!   back (`running`) if the copy fails. A blast left standing (a failed run whose event was
//!   not delivered again after the claim lapsed) is handed to the worker again when its
//!   result page is viewed ([`continue_stalled`]).
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
pub use send::{continue_stalled, run_blast};

/// How long a registration link works (manual ch.7: 90日間).
pub const LINK_VALIDITY: Duration = Duration::days(90);
/// Subject of the collection mail (manual ch.7).
pub const SUBJECT: &str = "【マイナンバー管理】マイナンバー登録のお願い";
/// Rows of the 簡易登録 grid.
pub const QUICK_ROWS: usize = 10;
/// Event kind of a blast job (detail: `{tenant, blast}`).
pub const BLAST_JOB: &str = "collection.blast";
/// A recipient left in `sending` this long is held by no run any more (a blast run sends one
/// mail at a time, each in well under this).
const STALE_SENDING: i64 = 10 * 60;
/// Blast records are kept this long for the result page.
const BLAST_KEPT: Duration = Duration::days(30);
