//! Adapters: implementations of the ports. Binaries choose them; use cases never name them.
//! - `embedded` (feature `embedded`): one SQLite file, sealed local files, key files, outbox.
//! - `aws` (feature `aws`): DynamoDB, S3, KMS, SES, EventBridge, for the Lambda
//!   functions (`bootstrap` reads their settings from the environment).

#[cfg(feature = "embedded")]
pub mod embedded;

#[cfg(feature = "aws")]
pub mod aws;
