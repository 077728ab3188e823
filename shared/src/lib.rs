//! `myna`: the My Number vault's shared library.
//!
//! Layers, innermost first; each uses only the layers listed before it:
//! - [`domain`]: pure rules and types (check digit, era dates, statuses, roles, purposes, plans).
//! - [`ports`]: the traits the use cases need (Store, Blobs, Keys, Mailer, Clock, Audit).
//! - [`app`]: use cases, one module per capability, written once on top of the ports.
//! - [`web`]: axum routers per capability, sessions, CSRF and askama views.
//! - [`adapters`]: implementations of the ports, chosen only by the binaries
//!   (`infra/local`, `functions/*`).
//!
//! [`fuzzing`] (feature `fuzzing`, and in tests) holds the property checks the fuzz targets in
//! `fuzz/` and the proptests run over the parsers.

pub mod adapters;
pub mod app;
pub mod crypto;
pub mod domain;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod ports;
pub mod web;
