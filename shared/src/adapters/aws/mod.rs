//! AWS adapters (feature `aws`): DynamoDB `Store`, S3 `Blobs`, KMS `Keys`, SES v2 `Mailer`,
//! EventBridge `Events`, all on the official SDK with one rustls (ring) HTTP client.
//!
//! [`Settings::from_env`] reads the names the SAM template passes to every function;
//! [`ports`] builds the adapters without any network call (credentials resolve lazily on the
//! first request), so Lambda cold starts stay short. `MYNA_AWS_ENDPOINT` points every client at
//! an emulator (moto) for tests.

mod dynamodb;
mod eventbridge;
mod kms;
mod s3;
mod ses;

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};

pub use dynamodb::DynamoStore;
pub use eventbridge::EventBridgeEvents;
pub use kms::KmsKeys;
pub use s3::S3Blobs;
pub use ses::SesMailer;

use crate::ports::{Clock, Ports};

/// Where the deployment's resources are.
#[derive(Clone, Debug)]
pub struct Settings {
    pub region: String,
    /// Emulator endpoint for tests; `None` in AWS.
    pub endpoint_url: Option<String>,
    pub stage: String,
    pub table_main: String,
    pub table_audit: String,
    pub table_sessions: String,
    pub bucket: String,
    pub event_bus: String,
    pub mail_from: String,
    pub mail_configuration_set: Option<String>,
    /// Prefix of per-tenant key aliases, e.g. `alias/myna-prod-tenant-`.
    pub kms_alias_prefix: String,
}

#[derive(Debug, thiserror::Error)]
#[error("missing environment variable {0}")]
pub struct MissingSetting(pub &'static str);

impl Settings {
    /// From the environment the SAM template sets (`MYNA_*`, `AWS_REGION`).
    pub fn from_env() -> Result<Settings, MissingSetting> {
        let var = |name: &'static str| std::env::var(name).map_err(|_| MissingSetting(name));
        let optional = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Ok(Settings {
            region: var("AWS_REGION")?,
            endpoint_url: optional("MYNA_AWS_ENDPOINT"),
            stage: var("MYNA_STAGE")?,
            table_main: var("MYNA_TABLE_MAIN")?,
            table_audit: var("MYNA_TABLE_AUDIT")?,
            table_sessions: var("MYNA_TABLE_SESSIONS")?,
            bucket: var("MYNA_BUCKET")?,
            event_bus: var("MYNA_EVENT_BUS")?,
            mail_from: var("MYNA_MAIL_FROM")?,
            mail_configuration_set: optional("MYNA_MAIL_CONFIGURATION_SET"),
            kms_alias_prefix: var("MYNA_KMS_ALIAS_PREFIX")?,
        })
    }
}

/// The SDK configuration: one rustls-on-ring HTTP client shared by every service client.
pub async fn sdk_config(settings: &Settings) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new(settings.region.clone()));
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Every port on AWS (the clock is the caller's).
pub fn ports(sdk: &SdkConfig, settings: &Settings, clock: Arc<dyn Clock>) -> Ports {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let kms = Arc::new(KmsKeys::new(aws_sdk_kms::Client::new(sdk), settings));
    Ports {
        store: Arc::new(DynamoStore::new(dynamo.clone(), &settings.table_main)),
        audit_store: Arc::new(DynamoStore::new(dynamo.clone(), &settings.table_audit)),
        sessions: Arc::new(DynamoStore::new(dynamo, &settings.table_sessions)),
        keys: kms,
        blobs: Arc::new(S3Blobs::new(s3_client(sdk, settings), &settings.bucket)),
        mailer: Arc::new(SesMailer::new(aws_sdk_sesv2::Client::new(sdk), settings)),
        events: Arc::new(EventBridgeEvents::new(
            aws_sdk_eventbridge::Client::new(sdk),
            &settings.event_bus,
        )),
        clock,
    }
}

/// What a Lambda function needs, from its environment: settings, SDK clients, the app.
/// No network call happens here (credentials resolve on first use).
pub async fn bootstrap() -> Result<Arc<crate::app::App>, MissingSetting> {
    let settings = Settings::from_env()?;
    let sdk = sdk_config(&settings).await;
    let ports = ports(&sdk, &settings, Arc::new(crate::ports::SystemClock));
    Ok(crate::app::App::new(ports, lambda_config()))
}

/// The audit table alone, from `AWS_REGION`, `MYNA_TABLE_AUDIT` and `MYNA_AWS_ENDPOINT`: what
/// a check of the hash chains (`myna-local verify-audit --aws`) reads, without the other
/// settings a function needs.
pub async fn audit_store_from_env() -> Result<Arc<dyn crate::ports::Store>, MissingSetting> {
    let var = |name: &'static str| std::env::var(name).map_err(|_| MissingSetting(name));
    let settings = Settings {
        region: var("AWS_REGION")?,
        endpoint_url: std::env::var("MYNA_AWS_ENDPOINT")
            .ok()
            .filter(|v| !v.is_empty()),
        table_audit: var("MYNA_TABLE_AUDIT")?,
        stage: String::new(),
        table_main: String::new(),
        table_sessions: String::new(),
        bucket: String::new(),
        event_bus: String::new(),
        mail_from: String::new(),
        mail_configuration_set: None,
        kms_alias_prefix: String::new(),
    };
    let sdk = sdk_config(&settings).await;
    Ok(Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        &settings.table_audit,
    )))
}

/// The app configuration of a deployed function (`MYNA_BASE_URL`, `MYNA_SIGNUP`).
pub fn lambda_config() -> crate::app::Config {
    crate::app::Config {
        base_url: std::env::var("MYNA_BASE_URL").unwrap_or_default(),
        signup_open: std::env::var("MYNA_SIGNUP")
            .map(|v| v != "closed")
            .unwrap_or(true),
        secure_cookies: true,
        // API Gateway appends the address it saw to X-Forwarded-For.
        trust_forwarded_for: true,
        // Browsers PUT document images straight to the bucket (virtual-hosted URL).
        connect_src: match (std::env::var("MYNA_BUCKET"), std::env::var("AWS_REGION")) {
            (Ok(b), Ok(r)) => format!("'self' https://{b}.s3.{r}.amazonaws.com"),
            _ => "'self'".into(),
        },
        // The postal table ships as a Lambda layer (mounted under /opt), not in the binary.
        postal_dir: Some(
            std::env::var("MYNA_POSTAL_DIR")
                .unwrap_or_else(|_| "/opt/postal".into())
                .into(),
        ),
        ..crate::app::Config::default()
    }
}

/// S3 needs path-style addressing against an emulator (no bucket subdomains on 127.0.0.1).
pub fn s3_client(sdk: &SdkConfig, settings: &Settings) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(settings.endpoint_url.is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A service error's code and message, never the request (which may hold personal data).
pub(crate) fn describe<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> String
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    use aws_sdk_dynamodb::error::SdkError;
    match err {
        SdkError::ServiceError(e) => {
            let meta = e.err();
            format!(
                "{}: {}",
                meta.code().unwrap_or("ServiceError"),
                meta.message().unwrap_or("")
            )
        }
        SdkError::TimeoutError(_) => "timeout".into(),
        SdkError::DispatchFailure(e) => format!("dispatch failure: {e:?}"),
        other => format!("{other}"),
    }
}
