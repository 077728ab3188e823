//! HTTP-level and contract tests, one module per capability (zero2prod's layout).

mod approval;
mod bulk;
mod collection;
mod contract_embedded;
mod guide;
mod home;
mod lambda_shape;
mod login;
mod mail;
mod phone;
mod registrants;
mod security;
mod signup;
mod template_routes;
mod uploads;
mod usage;
