//! Pure domain core of the My Number vault: value types, validation rules and
//! business tables (statuses, roles, purposes, plans, people).
//!
//! Limits: no I/O, no async, no persistence and no crypto. Everything here is
//! deterministic and depends only on `std`, `time` and `thiserror`, so it can
//! be compiled and tested on its own. User-facing error messages are Japanese.

pub mod approval;
pub mod contractor;
pub mod date;
pub mod disposal;
pub mod documents;
pub mod identity;
pub mod image;
pub mod my_number;
pub mod person;
pub mod plan;
pub mod purpose;
pub mod retention;
pub mod role;
pub mod search;
pub mod status;

pub mod text;

pub use date::{format_slash, parse_date, parse_year_month, to_wareki, DateError, Era};
pub use identity::{
    check_password_strength, CustomerNumber, CustomerNumberError, Email, EmailError,
};
pub use my_number::{check_digit, MyNumber, MyNumberError};
pub use person::{Attribute, DependentKind, Relationship, Sex};
pub use plan::{Plan, PlanLimitError};
pub use purpose::Purpose;
pub use role::{Permission, Role};
pub use status::{aggregate, Status, StatusColour};
