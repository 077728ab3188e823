//! The AWS side under test: resources created in the moto server that `infra/test.sh emulator`
//! starts (`MYNA_MOTO_ENDPOINT`), through the real SDK, with names unique to each test so
//! tests can share one server. Also reads back what moto recorded: sent mail, and events
//! delivered by an EventBridge rule to an SQS queue.

use std::sync::Arc;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use myna::adapters::aws::{self, Settings};
use myna::ports::{Clock, Ports};
use serde_json::Value;

use crate::http;

pub struct Emulator {
    pub endpoint: String,
    pub settings: Settings,
    pub sdk: aws_config::SdkConfig,
    queue_url: String,
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap()
}

fn attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap()
}

fn gsi(name: &str) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(&format!("{name}pk"), KeyType::Hash))
        .key_schema(key(&format!("{name}sk"), KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .unwrap()
}

/// A fake SigV4 header naming `service`: moto routes by it and does not check signatures.
fn moto_auth(service: &str) -> (String, String) {
    (
        "authorization".into(),
        format!("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"),
    )
}

fn xml_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

impl Emulator {
    /// Fresh tables, bucket, sender identity, event bus and queue in the running emulator.
    pub async fn start() -> Emulator {
        let endpoint = std::env::var("MYNA_MOTO_ENDPOINT")
            .expect("MYNA_MOTO_ENDPOINT is not set: run these tests with `infra/test.sh emulator`, which starts moto");
        assert!(
            std::env::var("AWS_ACCESS_KEY_ID").is_ok(),
            "infra/test.sh sets dummy AWS credentials"
        );
        let id = ulid::Ulid::new().to_string().to_lowercase();
        let settings = Settings {
            region: "us-east-1".into(),
            endpoint_url: Some(endpoint.clone()),
            stage: "test".into(),
            table_main: format!("myna-{id}-main"),
            table_audit: format!("myna-{id}-audit"),
            table_sessions: format!("myna-{id}-sessions"),
            bucket: format!("myna-{id}-documents"),
            event_bus: format!("myna-{id}"),
            mail_from: format!("noreply-{id}@myna.example.jp"),
            mail_configuration_set: None,
            kms_alias_prefix: format!("alias/myna-{id}-tenant-"),
        };
        let sdk = aws::sdk_config(&settings).await;
        let queue_name = format!("events-{id}");
        let emulator = Emulator {
            queue_url: format!("{endpoint}/123456789012/{queue_name}"),
            endpoint,
            settings,
            sdk,
        };
        emulator.create_resources(&queue_name).await;
        emulator
    }

    /// Turns on versioning of the documents bucket, as the template's bucket has it.
    pub async fn version_bucket(&self) {
        aws::s3_client(&self.sdk, &self.settings)
            .put_bucket_versioning()
            .bucket(&self.settings.bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("bucket versioning");
    }

    async fn create_resources(&self, queue_name: &str) {
        let ddb = aws_sdk_dynamodb::Client::new(&self.sdk);
        for (table, with_indexes) in [
            (&self.settings.table_main, true),
            (&self.settings.table_audit, false),
            (&self.settings.table_sessions, false),
        ] {
            let mut req = ddb
                .create_table()
                .table_name(table)
                .billing_mode(BillingMode::PayPerRequest)
                .key_schema(key("pk", KeyType::Hash))
                .key_schema(key("sk", KeyType::Range))
                .attribute_definitions(attr("pk"))
                .attribute_definitions(attr("sk"));
            if with_indexes {
                for a in ["gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"] {
                    req = req.attribute_definitions(attr(a));
                }
                req = req
                    .global_secondary_indexes(gsi("gsi1"))
                    .global_secondary_indexes(gsi("gsi2"));
            }
            req.send().await.expect("create table");
        }
        aws::s3_client(&self.sdk, &self.settings)
            .create_bucket()
            .bucket(&self.settings.bucket)
            .send()
            .await
            .expect("create bucket");
        aws_sdk_sesv2::Client::new(&self.sdk)
            .create_email_identity()
            .email_identity(&self.settings.mail_from)
            .send()
            .await
            .expect("create sender identity");

        let body = format!("Action=CreateQueue&QueueName={queue_name}&Version=2012-11-05");
        let res = http::request(
            "POST",
            &format!("{}/", self.endpoint),
            &self.form_headers("sqs"),
            body.as_bytes(),
        )
        .await
        .unwrap();
        assert_eq!(res.status, 200, "create queue: {}", res.text());
        let eb = aws_sdk_eventbridge::Client::new(&self.sdk);
        eb.create_event_bus()
            .name(&self.settings.event_bus)
            .send()
            .await
            .expect("event bus");
        eb.put_rule()
            .name("to-worker")
            .event_bus_name(&self.settings.event_bus)
            .event_pattern(r#"{"source":["myna"]}"#)
            .send()
            .await
            .expect("rule");
        eb.put_targets()
            .rule("to-worker")
            .event_bus_name(&self.settings.event_bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(format!("arn:aws:sqs:us-east-1:123456789012:{queue_name}"))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("target");
    }

    fn form_headers(&self, service: &str) -> Vec<(String, String)> {
        vec![
            moto_auth(service),
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
        ]
    }

    /// Every port on the emulator, with `clock`.
    pub fn ports(&self, clock: Arc<dyn Clock>) -> Ports {
        aws::ports(&self.sdk, &self.settings, clock)
    }

    pub fn kms(&self) -> aws::KmsKeys {
        aws::KmsKeys::new(aws_sdk_kms::Client::new(&self.sdk), &self.settings)
    }

    /// Mail moto recorded as sent from this emulator's sender: (to, subject, body).
    pub async fn sent_mail(&self) -> Vec<(String, String, String)> {
        // moto builds data.json by walking every backend; while other tests write to the same
        // server the walk can fail (a 500 page, not JSON). Such a read is simply taken again.
        let mut data = None;
        for _ in 0..10 {
            let res = http::request(
                "GET",
                &format!("{}/moto-api/data.json", self.endpoint),
                &[],
                b"",
            )
            .await
            .unwrap();
            if let Ok(parsed) = serde_json::from_slice::<Value>(&res.body) {
                data = Some(parsed);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let data = data.expect("moto data.json answered JSON within 10 tries");
        let mut out = Vec::new();
        for m in data["ses"]["Message"].as_array().into_iter().flatten() {
            if m["source"].as_str() != Some(self.settings.mail_from.as_str()) {
                continue;
            }
            let subject = m["subject"].as_str().unwrap_or_default().to_string();
            let body = m["body"].as_str().unwrap_or_default().to_string();
            for to in m["destinations"]["ToAddresses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                out.push((to.to_string(), subject.clone(), body.clone()));
            }
        }
        out
    }

    /// Events the bus delivered to the queue since the last call (EventBridge envelopes).
    pub async fn delivered_events(&self) -> Vec<Value> {
        let body = format!(
            "Action=ReceiveMessage&QueueUrl={}&MaxNumberOfMessages=10&Version=2012-11-05",
            self.queue_url.replace(':', "%3A").replace('/', "%2F")
        );
        let res = http::request(
            "POST",
            &format!("{}/", self.endpoint),
            &self.form_headers("sqs"),
            body.as_bytes(),
        )
        .await
        .unwrap();
        let text = res.text();
        text.split("<Body>")
            .skip(1)
            .filter_map(|s| s.split("</Body>").next())
            .filter_map(|b| serde_json::from_str(&xml_unescape(b)).ok())
            .collect()
    }
}
