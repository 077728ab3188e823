//! Benchmark: the cold start of every Lambda function of `template.yaml`, from its release
//! binary, under the local Lambda Runtime API of the Lambda suite (`myna_tests::lambda`), on
//! the moto server `infra/bench.sh coldstart` starts.
//!
//! Per function, `MYNA_COLDSTART_RUNS` (15) fresh processes, one after the other; for each:
//! - init: exec → its first `GET /next` (what Lambda bills as Init Duration);
//! - first answer: the first invocation, sent once it polls, until its response. An HTTP
//!   function gets a GET of one of its own routes without a session (a public page, or the
//!   redirect to the login); a job its rule's event for a record that does not exist, or the
//!   schedule's event (a run over the emulator's empty tables).
//!
//! Prints JSON on stdout: medians and extremes per function. The binaries come from
//! `MYNA_COLDSTART_BINARIES` (a directory holding each function's cargo binary, e.g.
//! `<target>/release`). Not a test: nothing here asserts a time.
//! Run: `infra/bench.sh coldstart` (builds the binaries and starts moto first).

// A benchmark: a failed `unwrap` stops the run, which is what it should do.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use myna_tests::emulator::Emulator;
use myna_tests::lambda::gateway::Gateway;
use myna_tests::lambda::runtime::{FunctionProcess, Launch, Outcome};
use myna_tests::lambda::template::{resolve, FunctionSpec, Template};
use myna_tests::lambda::{function_env, names};
use myna_tests::{Browser, TempDir};
use serde_json::{json, Value};

const DEFAULT_RUNS: usize = 15;
const INIT_LIMIT: Duration = Duration::from_secs(20);

/// A path API Gateway would send to `f` (its own route, variables filled in), preferring a
/// route without variables; `/` for the `$default` route.
fn first_path(f: &FunctionSpec) -> String {
    let mut routes: Vec<_> = f
        .routes
        .iter()
        .filter(|r| r.method == "ANY" || r.method == "GET")
        .collect();
    routes.sort_by_key(|r| r.path.contains('{'));
    match routes.first() {
        Some(r) => r
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/"),
        None => "/".into(),
    }
}

/// The event a job function gets first: its rule's last kind (a tenant job: `mail.send` would
/// need a whole mail) for a tenant and a record that do not exist, or a scheduled event.
fn job_event(f: &FunctionSpec) -> Value {
    let kind = f
        .rules
        .first()
        .and_then(|p| p["detail-type"].as_array())
        .and_then(|kinds| kinds.last())
        .and_then(Value::as_str)
        .unwrap_or("Scheduled Event");
    let missing = "01JZZZZZZZZZZZZZZZZZZZZZZZ";
    json!({
        "version": "0",
        "id": missing,
        "detail-type": kind,
        "source": if f.rules.is_empty() { "aws.scheduler" } else { "myna" },
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": { "tenant": missing, "blast": missing, "import": missing, "id": missing },
    })
}

/// One cold start: (init, first answer, exec → first answer, what the answer was).
async fn one_run(
    f: &FunctionSpec,
    binary: &std::path::Path,
    function_name: &str,
    env: &BTreeMap<String, String>,
    logs: &TempDir,
) -> (Duration, Duration, Duration, String) {
    let exec = Instant::now();
    let process = FunctionProcess::start(Launch {
        resource: &f.resource,
        binary,
        function_name,
        env,
        timeout: Duration::from_secs(f.timeout_s),
        memory_mb: f.memory_mb,
        log_dir: logs.path(),
    })
    .await;
    let init = match process.ready(INIT_LIMIT).await {
        Ok(took) => took,
        Err(failure) => panic!(
            "{} never reached GET /next: {failure:?}\n{}",
            f.resource,
            process.log_tail()
        ),
    };
    let asked = Instant::now();
    let answer = if f.routes.is_empty() && !f.default_route {
        match process.invoke(job_event(f)).await {
            Ok(Outcome::Response(_)) => "ok".to_string(),
            Ok(Outcome::Error(e)) => {
                let kind: Value = serde_json::from_str(&e).unwrap_or_default();
                format!("error {}", kind["errorType"].as_str().unwrap_or("?"))
            }
            Err(failure) => panic!("{} did not answer: {failure:?}", f.resource),
        }
    } else {
        // A gateway that knows only this function: the request goes to it or nowhere.
        let gateway = Arc::new(Gateway {
            template: Arc::new(Template {
                functions: vec![f.clone()],
                parameter_defaults: BTreeMap::new(),
            }),
            functions: vec![Arc::new(process)],
        });
        let path = first_path(f);
        let page = Browser::new(gateway.clone().router(), "203.0.113.9")
            .get(&path)
            .await;
        format!("GET {path} → {}", page.status.as_u16())
    };
    let first = asked.elapsed();
    (init, first, exec.elapsed(), answer)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let dir = PathBuf::from(
        std::env::var("MYNA_COLDSTART_BINARIES")
            .expect("MYNA_COLDSTART_BINARIES: the directory of the release binaries"),
    );
    let runs: usize = std::env::var("MYNA_COLDSTART_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_RUNS);
    // Unset or empty: every function.
    let only: Option<Vec<String>> = std::env::var("MYNA_COLDSTART_ONLY")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(str::to_string).collect());
    let emulator = Emulator::start().await;
    let template = Template::load();
    let names = names(&template, &emulator);
    let logs = TempDir::new("coldstart");
    let mut out = serde_json::Map::new();
    for f in &template.functions {
        if only.as_ref().is_some_and(|o| !o.contains(&f.binary)) {
            continue;
        }
        let binary = dir.join(&f.binary);
        assert!(binary.is_file(), "{} is not built", binary.display());
        // The template's own log level: what a deployed function pays for.
        let env = function_env(f, &names, &emulator, "info");
        let function_name = resolve("FunctionName", &f.function_name, &names);
        let (mut inits, mut firsts, mut totals, mut answers) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let (init, first, total, answer) =
                one_run(f, &binary, &function_name, &env, &logs).await;
            inits.push(init);
            firsts.push(first);
            totals.push(total);
            if !answers.contains(&answer) {
                answers.push(answer);
            }
        }
        let (min, max) = (
            inits.iter().min().copied().unwrap(),
            inits.iter().max().copied().unwrap(),
        );
        eprintln!(
            "{:<28} init median {:>6.2} ms, first answer median {:>7.2} ms ({})",
            f.binary,
            ms(median(inits.clone())),
            ms(median(firsts.clone())),
            answers.join("; ")
        );
        out.insert(
            f.binary.clone(),
            json!({
                "resource": f.resource,
                "memory_mb": f.memory_mb,
                "binary_bytes": std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0),
                "init_median_ms": ms(median(inits)),
                "init_min_ms": ms(min),
                "init_max_ms": ms(max),
                "first_answer_median_ms": ms(median(firsts)),
                "exec_to_first_answer_median_ms": ms(median(totals)),
                "first_event": answers,
            }),
        );
    }
    let report = json!({ "coldstart": { "runs": runs, "functions": out } });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
