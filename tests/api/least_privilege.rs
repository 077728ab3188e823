//! Least privilege per function, read from `template.yaml`: for each function the exact KMS,
//! DynamoDB (per table), S3, SES and EventBridge grants it holds are pinned here, so a grant
//! added to or dropped from any role fails until this table says so; and the rules that matter
//! to an attacker who takes over one function are checked across all of them.
//!
//! A grant is written `action@target`: the target is the table, `tables-key` (the tables' key,
//! usable through DynamoDB only), `tenant-key` (any of this stage's tenant keys: the numbers'
//! data keys among them), `tenant-key[purpose]` (only with that encryption-context purpose),
//! `documents` (the image objects), `documents-incoming` (only the browsers' uploads under
//! `<tenant>/incoming/`, not yet verified), `bucket`, `bus`, `mail` or `*`.

use std::collections::{BTreeMap, BTreeSet};

use myna::app::worker::Job;
use myna::web::functions::Function;

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap()
}

/// One IAM statement: its actions and what they apply to.
#[derive(Debug, Default)]
struct Grant {
    actions: Vec<String>,
    text: String,
}

impl Grant {
    fn target(&self) -> String {
        let t = &self.text;
        let purposes: Vec<_> = t
            .lines()
            .skip_while(|l| !l.contains("kms:EncryptionContext:purpose"))
            .map(str::trim)
            .take_while(|l| l.starts_with("kms:") || (l.starts_with("- ") && !l.contains(':')))
            .filter_map(|l| {
                l.strip_prefix("kms:EncryptionContext:purpose:")
                    .or_else(|| l.strip_prefix("- "))
                    .map(|v| v.trim().to_string())
            })
            .filter(|v| !v.is_empty())
            .collect();
        if t.contains("MainTable") {
            "main".into()
        } else if t.contains("AuditTable") {
            "audit".into()
        } else if t.contains("SessionsTable") {
            "sessions".into()
        } else if t.contains("TableKey") {
            "tables-key".into()
        } else if t.contains(":key/*") && purposes.is_empty() {
            "tenant-key".into()
        } else if t.contains(":key/*") {
            format!("tenant-key[{}]", purposes.join(","))
        } else if t.contains("${DocumentsBucket.Arn}/*/incoming/*") {
            "documents-incoming".into()
        } else if t.contains("${DocumentsBucket.Arn}/*") {
            "documents".into()
        } else if t.contains("DocumentsBucket.Arn") {
            "bucket".into()
        } else if t.contains("EventBus") {
            "bus".into()
        } else if t.contains(":identity/") {
            "mail".into()
        } else {
            "*".into()
        }
    }
}

/// Every function's grants of the five services, as `action@target`.
fn grants() -> BTreeMap<String, BTreeSet<String>> {
    let mut by_resource: BTreeMap<String, Vec<Grant>> = BTreeMap::new();
    let mut resource = String::new();
    let mut in_actions = false;
    for line in template().lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            resource = line.trim().trim_end_matches(':').to_string();
            continue;
        }
        let trimmed = line.trim();
        if trimmed.starts_with("- Sid:") {
            by_resource
                .entry(resource.clone())
                .or_default()
                .push(Grant::default());
            in_actions = false;
            continue;
        }
        let Some(grant) = by_resource.get_mut(&resource).and_then(|g| g.last_mut()) else {
            continue;
        };
        grant.text.push_str(line);
        grant.text.push('\n');
        if let Some(a) = trimmed.strip_prefix("Action:") {
            let a = a.trim();
            in_actions = a.is_empty();
            if !a.is_empty() {
                grant.actions.push(a.trim_matches('"').to_string());
            }
        } else if in_actions && trimmed.starts_with("- ") {
            grant.actions.push(trimmed[2..].trim().to_string());
        } else {
            in_actions = false;
        }
    }
    let services = ["kms:", "dynamodb:", "s3:", "ses:", "events:"];
    by_resource
        .into_iter()
        .filter(|(r, _)| r.ends_with("Function"))
        .map(|(r, gs)| {
            let set = gs
                .iter()
                .flat_map(|g| {
                    let target = g.target();
                    g.actions
                        .iter()
                        .filter(|a| services.iter().any(|s| a.starts_with(s)))
                        .map(move |a| format!("{a}@{target}"))
                })
                .collect();
            (r, set)
        })
        .collect()
}

const MAIN_RW: &[&str] = &[
    "dynamodb:GetItem@main",
    "dynamodb:PutItem@main",
    "dynamodb:UpdateItem@main",
    "dynamodb:DeleteItem@main",
    "dynamodb:Query@main",
    "dynamodb:BatchGetItem@main",
    "dynamodb:ConditionCheckItem@main",
];
const MAIN_READ: &[&str] = &[
    "dynamodb:GetItem@main",
    "dynamodb:Query@main",
    "dynamodb:BatchGetItem@main",
];
const SESSIONS_RW: &[&str] = &[
    "dynamodb:GetItem@sessions",
    "dynamodb:PutItem@sessions",
    "dynamodb:UpdateItem@sessions",
    "dynamodb:DeleteItem@sessions",
];
const AUDIT_APPEND: &[&str] = &[
    "dynamodb:GetItem@audit",
    "dynamodb:PutItem@audit",
    "dynamodb:Query@audit",
    "dynamodb:ConditionCheckItem@audit",
];
const TABLES_KEY: &[&str] = &[
    "kms:Decrypt@tables-key",
    "kms:Encrypt@tables-key",
    "kms:GenerateDataKey*@tables-key",
    "kms:DescribeKey@tables-key",
];
const MAIL: &[&str] = &["ses:SendEmail@mail"];
const PUBLISH: &[&str] = &["events:PutEvents@bus"];

/// The pinned map: function → everything it may do with the five services.
fn pinned() -> BTreeMap<&'static str, Vec<&'static str>> {
    let web = |extra: &[&[&'static str]]| -> Vec<&'static str> {
        [SESSIONS_RW, AUDIT_APPEND, TABLES_KEY]
            .into_iter()
            .chain(extra.iter().copied())
            .flatten()
            .copied()
            .collect()
    };
    let numbers = &["kms:Decrypt@tenant-key", "kms:GenerateDataKey@tenant-key"][..];
    // Number entry and image uploads (the admin's and the registrant's own phone pages); a
    // replaced or deleted image goes with every earlier version of its one key.
    let uploads = web(&[
        MAIN_RW,
        numbers,
        &[
            "s3:PutObject@documents",
            "s3:GetObject@documents-incoming",
            "s3:GetObjectVersion@documents-incoming",
            "s3:DeleteObject@documents",
            "s3:DeleteObjectVersion@documents",
            "s3:ListBucketVersions@bucket",
        ],
    ]);
    let mut map = BTreeMap::new();
    map.insert(
        "LoginFunction",
        web(&[
            MAIN_RW,
            MAIL,
            PUBLISH,
            &[
                "kms:CreateKey@*",
                "kms:TagResource@*",
                "kms:CreateAlias@*",
                "kms:CreateAlias@tenant-key",
                "kms:GenerateDataKey@tenant-key",
            ],
        ]),
    );
    map.insert(
        "SecondFactorFunction",
        web(&[MAIN_RW, &["kms:Decrypt@tenant-key[second-factor]"]]),
    );
    // Reads, and 解約申請 (a put and its withdrawal); sessions are read and ended, not counted.
    map.insert(
        "HomeFunction",
        [
            MAIN_READ,
            AUDIT_APPEND,
            TABLES_KEY,
            &[
                "dynamodb:PutItem@main",
                "dynamodb:DeleteItem@main",
                "dynamodb:ConditionCheckItem@main",
                "dynamodb:GetItem@sessions",
                "dynamodb:PutItem@sessions",
                "dynamodb:DeleteItem@sessions",
            ],
        ]
        .concat(),
    );
    map.insert("RegistrantsFunction", uploads.clone());
    map.insert(
        "ApprovalFunction",
        web(&[
            MAIN_RW
                .iter()
                .copied()
                .filter(|a| *a != "dynamodb:DeleteItem@main")
                .collect::<Vec<_>>()
                .leak(),
            &["kms:Decrypt@tenant-key", "s3:GetObject@documents"],
        ]),
    );
    map.insert("CsvFunction", web(&[MAIN_RW, numbers, PUBLISH]));
    map.insert(
        "CollectionFunction",
        web(&[
            MAIN_RW,
            PUBLISH,
            &[
                "dynamodb:BatchWriteItem@main",
                "kms:Decrypt@tenant-key[passcode]",
                "kms:GenerateDataKey@tenant-key[passcode]",
            ],
        ]),
    );
    map.insert("EnrolFunction", uploads.clone());
    map.insert(
        "AccountFunction",
        web(&[
            MAIN_RW,
            MAIL,
            &[
                "kms:Decrypt@tenant-key[second-factor,passcode]",
                "kms:GenerateDataKey@tenant-key[second-factor,passcode]",
            ],
        ]),
    );
    map.insert(
        "AuditLogFunction",
        [
            MAIN_READ,
            AUDIT_APPEND,
            TABLES_KEY,
            &[
                "dynamodb:GetItem@sessions",
                "dynamodb:PutItem@sessions",
                "dynamodb:DeleteItem@sessions",
            ],
        ]
        .concat(),
    );
    map.insert(
        "MailBlastFunction",
        [
            MAIL,
            TABLES_KEY,
            &[
                "dynamodb:PutItem@sessions",
                "dynamodb:DeleteItem@sessions",
                "dynamodb:GetItem@main",
                "dynamodb:PutItem@main",
                "dynamodb:UpdateItem@main",
                "dynamodb:DeleteItem@main",
                "dynamodb:Query@main",
                "dynamodb:ConditionCheckItem@main",
            ],
        ]
        .concat(),
    );
    // Commits staged imports: copies sealed numbers as they are (no tenant key), nothing to claim
    // (every step is conditional on the import's progress), hands a long import to a fresh event.
    map.insert(
        "ImportCommitFunction",
        [
            TABLES_KEY,
            AUDIT_APPEND,
            PUBLISH,
            &[
                "dynamodb:GetItem@main",
                "dynamodb:PutItem@main",
                "dynamodb:UpdateItem@main",
                "dynamodb:DeleteItem@main",
                "dynamodb:ConditionCheckItem@main",
            ],
        ]
        .concat(),
    );
    // Reads the tenant list, profiles, users and registrants; writes only its once-per-registrant
    // marks and drops purged tenants from its list; mails through the mail-blast job.
    map.insert(
        "RetentionRemindersFunction",
        [
            TABLES_KEY,
            PUBLISH,
            AUDIT_APPEND,
            &[
                "dynamodb:GetItem@main",
                "dynamodb:Query@main",
                "dynamodb:BatchGetItem@main",
                "dynamodb:PutItem@main",
                "dynamodb:BatchWriteItem@main",
                "dynamodb:DeleteItem@main",
            ],
        ]
        .concat(),
    );
    map.insert(
        "PurgeFunction",
        [
            TABLES_KEY,
            PUBLISH,
            &[
                "dynamodb:GetItem@main",
                "dynamodb:Query@main",
                "dynamodb:PutItem@main",
                "dynamodb:UpdateItem@main",
                "dynamodb:DeleteItem@main",
                "dynamodb:BatchWriteItem@main",
                "dynamodb:ConditionCheckItem@main",
                "dynamodb:GetItem@audit",
                "dynamodb:Query@audit",
                "dynamodb:PutItem@audit",
                "dynamodb:DeleteItem@audit",
                "dynamodb:BatchWriteItem@audit",
                "dynamodb:ConditionCheckItem@audit",
                "kms:ScheduleKeyDeletion@tenant-key",
                "kms:DescribeKey@tenant-key",
                "kms:ListAliases@*",
                "s3:ListBucket@bucket",
                "s3:ListBucketVersions@bucket",
                "s3:DeleteObject@documents",
                "s3:DeleteObjectVersion@documents",
            ],
        ]
        .concat(),
    );
    map
}

#[test]
fn every_function_holds_exactly_its_pinned_grants_when_the_template_is_read() {
    let actual = grants();
    let pinned = pinned();
    let names: BTreeSet<_> = actual.keys().map(String::as_str).collect();
    let want: BTreeSet<_> = pinned.keys().copied().collect();
    assert_eq!(names, want, "functions in template.yaml vs this table");
    for (function, grants) in &actual {
        let want: BTreeSet<String> = pinned[function.as_str()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let extra: Vec<_> = grants.difference(&want).collect();
        let missing: Vec<_> = want.difference(grants).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{function}: granted beyond the table {extra:?}; in the table but not granted {missing:?}"
        );
    }
}

#[test]
fn every_deployed_function_is_pinned_when_the_code_names_it() {
    let actual = grants();
    for f in Function::ALL {
        assert!(actual.contains_key(f.resource()), "{f:?} not in template");
    }
    for j in Job::ALL {
        assert!(actual.contains_key(j.resource()), "{j:?} not in template");
    }
}

#[test]
fn login_and_home_can_neither_decrypt_nor_read_documents_when_taken_over() {
    let actual = grants();
    for function in ["LoginFunction", "HomeFunction"] {
        for g in &actual[function] {
            assert!(
                !g.starts_with("kms:Decrypt") || g.ends_with("@tables-key"),
                "{function} may decrypt: {g}"
            );
            assert!(!g.starts_with("s3:"), "{function} may touch documents: {g}");
        }
    }
}

/// The functions holding a grant that starts with `action`, by name.
fn holders(action: &str) -> Vec<String> {
    grants()
        .into_iter()
        .filter(|(_, g)| g.iter().any(|a| a.starts_with(action)))
        .map(|(f, _)| f)
        .collect()
}

#[test]
fn only_approval_may_read_document_images() {
    // Approval views stored images. Registrants and enrol check an upload's first bytes and
    // copy that version (app::uploads::accept), which S3 authorises as GetObject(Version) on
    // the upload only.
    let readers = |target: &str| -> Vec<String> {
        grants()
            .into_iter()
            .filter(|(_, g)| {
                g.iter()
                    .any(|a| a.starts_with("s3:GetObject") && a.ends_with(&format!("@{target}")))
            })
            .map(|(f, _)| f)
            .collect()
    };
    assert_eq!(
        holders("s3:GetObject"),
        ["ApprovalFunction", "EnrolFunction", "RegistrantsFunction"]
    );
    assert_eq!(readers("documents"), ["ApprovalFunction"]);
    assert_eq!(
        readers("documents-incoming"),
        ["EnrolFunction", "RegistrantsFunction"]
    );
    let viewers: Vec<_> = myna::web::declared()
        .table()
        .iter()
        .filter(|r| r.path.ends_with("/images/{kind}"))
        .map(|r| (r.path, Function::serving(r.path)))
        .collect();
    assert!(!viewers.is_empty(), "no image viewer route found");
    for (path, function) in viewers {
        assert_eq!(function, Some(Function::Approval), "{path}");
    }
}

#[test]
fn only_the_purge_may_delete_audit_items_or_schedule_key_deletion() {
    for (function, grants) in grants() {
        let destroys = grants.iter().any(|g| {
            g.starts_with("kms:ScheduleKeyDeletion")
                || g.starts_with("kms:DisableKey")
                || (g.ends_with("@audit")
                    && ["DeleteItem", "BatchWriteItem", "UpdateItem"]
                        .iter()
                        .any(|a| g.contains(a)))
        });
        assert_eq!(destroys, function == "PurgeFunction", "{function}");
    }
}

#[test]
fn only_the_mail_blast_job_and_the_interactive_mailers_may_send_mail() {
    // Login codes and reminders (login), set-your-password mails (account) go out at once.
    assert_eq!(
        holders("ses:"),
        ["AccountFunction", "LoginFunction", "MailBlastFunction"]
    );
}

#[test]
fn each_job_rule_matches_exactly_the_kinds_its_function_handles() {
    let text = template();
    for job in Job::ALL {
        let block: String = text
            .split(&format!("\n  {}:\n", job.resource()))
            .nth(1)
            .unwrap_or_else(|| panic!("{job:?} not in template"))
            .lines()
            .take_while(|l| !l.starts_with("  ") || l.starts_with("   "))
            .collect::<Vec<_>>()
            .join("\n");
        let kinds = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("detail-type:"))
            .unwrap_or_else(|| panic!("{job:?}: its rule matches every kind"));
        let kinds: Vec<_> = kinds
            .trim()
            .trim_matches(['[', ']'])
            .split(',')
            .map(str::trim)
            .collect();
        assert_eq!(kinds, job.kinds(), "{job:?}");
    }
}
