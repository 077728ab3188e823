//! HTTP-level and contract tests, one module per capability (zero2prod's layout).

mod contract_embedded;
mod home;
mod login;
mod security;
mod signup;
