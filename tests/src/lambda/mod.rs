//! The product as Lambda runs it, on one machine: every function of `template.yaml` started from
//! its debug binary under a local Runtime API ([`runtime`]), all of them on the AWS adapters
//! against the moto server that `infra/test.sh lambda` starts, requests routed to them by the
//! template's route table ([`gateway`]) and bus events by its EventBridge rules.
//!
//! The binaries are the workspace's `target/debug` ones next to the running test: build them
//! first (`cargo build --workspace --bins`, which infra/test.sh does). Not a deployment test:
//! IAM is not enforced here (tests/api/template_routes.rs reads the policies).

pub mod gateway;
pub mod runtime;
pub mod template;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::emulator::Emulator;
use crate::{Browser, TempDir};
use gateway::Gateway;
use runtime::{FunctionProcess, Launch, Outcome};
use template::{resolve, FunctionSpec, Template};

/// How long a function may take from exec to its first `GET /next` before the run fails.
const INIT_LIMIT: Duration = Duration::from_secs(20);

pub struct Stack {
    pub emulator: Emulator,
    pub template: Arc<Template>,
    gateway: Arc<Gateway>,
    /// Exec → first `/next` of each function, in the template's order.
    pub init_times: Vec<(String, Duration)>,
    pub logs: TempDir,
}

/// Where cargo put the binaries: the test executable lives in `<target>/debug/deps`.
fn binary_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .to_path_buf()
}

/// What `!Ref` and `!Sub` resolve to on the emulator: the template's parameter defaults, the
/// emulator's resources and the pseudo parameters.
pub fn names(template: &Template, emulator: &Emulator) -> BTreeMap<String, String> {
    let s = &emulator.settings;
    let mut names = template.parameter_defaults.clone();
    for (k, v) in [
        ("Stage", s.stage.clone()),
        ("DomainName", "localhost".into()),
        ("SenderAddress", s.mail_from.clone()),
        ("SesIdentity", s.mail_from.clone()),
        ("SesConfigurationSet", String::new()),
        ("MainTable", s.table_main.clone()),
        ("AuditTable", s.table_audit.clone()),
        ("SessionsTable", s.table_sessions.clone()),
        ("DocumentsBucket", s.bucket.clone()),
        ("EventBus", s.event_bus.clone()),
        ("AWS::Region", s.region.clone()),
        ("AWS::AccountId", "123456789012".into()),
        ("AWS::Partition", "aws".into()),
    ] {
        names.insert(k.into(), v);
    }
    names
}

/// The environment Lambda gives the function `f` (the template's variables resolved), pointed
/// at the emulator with dummy credentials, logging at `rust_log`.
pub fn function_env(
    f: &FunctionSpec,
    names: &BTreeMap<String, String>,
    emulator: &Emulator,
    rust_log: &str,
) -> BTreeMap<String, String> {
    let s = &emulator.settings;
    let mut env: BTreeMap<String, String> = f
        .env
        .iter()
        .map(|(k, v)| (k.clone(), resolve(k, v, names)))
        .collect();
    for (k, v) in [
        ("AWS_REGION", s.region.clone()),
        ("AWS_DEFAULT_REGION", s.region.clone()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_SESSION_TOKEN", "test".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("MYNA_AWS_ENDPOINT", emulator.endpoint.clone()),
        ("TZ", ":UTC".into()),
        ("RUST_LOG", rust_log.into()),
    ] {
        env.insert(k.into(), v);
    }
    env
}

impl Stack {
    /// Fresh resources in moto, then every function of the template, one after the other (so
    /// each init time is its own, not a share of a crowded start).
    pub async fn start() -> Stack {
        let emulator = Emulator::start().await;
        let template = Arc::new(Template::load());
        assert!(
            !template.functions.is_empty(),
            "no functions in template.yaml"
        );
        let names = names(&template, &emulator);
        let logs = TempDir::new("lambda-logs");
        let dir = binary_dir();
        let mut functions = Vec::new();
        let mut init_times = Vec::new();
        for f in &template.functions {
            // Debug, not the template's info: the journey scans the logs for personal data,
            // and at info a healthy journey writes no line to scan at all.
            let env = function_env(f, &names, &emulator, "debug");
            let function_name = resolve("FunctionName", &f.function_name, &names);
            let binary = dir.join(&f.binary);
            assert!(
                binary.is_file(),
                "{} is not built: run `cargo build --workspace --bins` first (infra/test.sh lambda does)",
                binary.display()
            );
            let process = FunctionProcess::start(Launch {
                resource: &f.resource,
                binary: &binary,
                function_name: &function_name,
                env: &env,
                timeout: Duration::from_secs(f.timeout_s),
                memory_mb: f.memory_mb,
                log_dir: logs.path(),
            })
            .await;
            match process.ready(INIT_LIMIT).await {
                Ok(took) => init_times.push((f.resource.clone(), took)),
                Err(failure) => panic!(
                    "{} ({}) never reached GET /next: {failure:?}\n{}",
                    f.resource,
                    f.binary,
                    process.log_tail()
                ),
            }
            functions.push(Arc::new(process));
        }
        let gateway = Arc::new(Gateway {
            template: template.clone(),
            functions,
        });
        Stack {
            emulator,
            template,
            gateway,
            init_times,
            logs,
        }
    }

    /// The init times as a table for the test output.
    pub fn init_report(&self) -> String {
        let mut out = String::from(
            "function                 binary                 init (exec → first GET /next)\n",
        );
        for ((resource, took), f) in self.init_times.iter().zip(&self.template.functions) {
            out.push_str(&format!(
                "{resource:<24} {:<22} {:>8.1} ms\n",
                f.binary,
                took.as_secs_f64() * 1000.0
            ));
        }
        out
    }

    /// A browser whose requests go through the HTTP API to the functions.
    pub fn browser(&self, ip: &str) -> Browser {
        Browser::new(self.gateway.clone().router(), ip)
    }

    /// The function process of the template's resource `resource`.
    pub fn function(&self, resource: &str) -> &FunctionProcess {
        let i = self
            .template
            .functions
            .iter()
            .position(|f| f.resource == resource)
            .unwrap_or_else(|| panic!("no {resource} in template.yaml"));
        &self.gateway.functions[i]
    }

    /// The events the bus has delivered (to the suite's queue) since the last call, waiting up
    /// to `patience` for at least one, each handed to every function whose EventBridge rule
    /// matches it, as EventBridge would. Returns (detail-type, function) per delivery; a job
    /// that fails, or an event no function's rule takes, fails the test.
    pub async fn deliver_events(&self, patience: Duration) -> Vec<(String, String)> {
        let until = std::time::Instant::now() + patience;
        let mut events = Vec::new();
        loop {
            events.extend(self.emulator.delivered_events().await);
            if !events.is_empty() || std::time::Instant::now() >= until {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // A short drain: events put together arrive together or just after.
        tokio::time::sleep(Duration::from_millis(200)).await;
        events.extend(self.emulator.delivered_events().await);
        let mut handled = Vec::new();
        for envelope in events {
            let kind = envelope["detail-type"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let targets = self.template.rule_targets(&envelope);
            assert!(
                !targets.is_empty(),
                "no function's rule in template.yaml takes the event {kind}"
            );
            for i in targets {
                let function = &self.gateway.functions[i];
                match function.invoke(envelope.clone()).await {
                    Ok(Outcome::Response(_)) => {
                        handled.push((kind.clone(), function.resource.clone()))
                    }
                    Ok(Outcome::Error(e)) => panic!(
                        "{} failed the event {kind}: {e}\n{}",
                        function.resource,
                        function.log_tail()
                    ),
                    Err(f) => panic!(
                        "{} did not answer the event {kind}: {f:?}\n{}",
                        function.resource,
                        function.log_tail()
                    ),
                }
            }
        }
        handled
    }

    /// Everything the functions wrote to their logs.
    pub fn all_logs(&self) -> String {
        let mut out = String::new();
        for f in &self.gateway.functions {
            out.push_str(&std::fs::read_to_string(&f.log).unwrap_or_default());
        }
        out
    }
}
