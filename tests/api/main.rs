//! HTTP-level and contract tests, one module per capability (zero2prod's layout). What they
//! share (the owner builder, forms, the 入力確認 step, images, page checks) lives in
//! `myna_tests::fixtures`; no module here imports another.

// Tests and their helpers: a failed `unwrap` is a failed test.
#![allow(clippy::unwrap_used)]

mod access;
mod approval;
mod audit_log;
mod bulk;
mod bulk_stream;
mod cancel;
mod collection;
mod contract_embedded;
mod contractor;
mod directory;
mod disposal;
mod download_one_walk;
mod faults;
mod fuzz_csv;
mod gateway_routing;
mod guide;
mod home;
mod import_job;
mod import_tidy;
mod lambda_shape;
mod layout;
mod least_privilege;
mod login;
mod mail;
mod person;
mod phone;
mod plan;
mod registrants;
mod reminders;
mod request_log;
mod retention;
mod second_factor;
mod security;
mod signup;
mod template_routes;
mod uploads;
mod usage;
mod users;
