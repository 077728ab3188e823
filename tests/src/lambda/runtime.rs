//! A local Lambda Runtime API (the 2018-06-01 interface a custom runtime polls) for one function
//! process, and that process: the function's binary started the way Lambda starts it, with
//! `AWS_LAMBDA_RUNTIME_API` pointing here. Invocations are handed out one at a time on
//! `GET …/invocation/next` and answered on `…/response` or `…/error`; `…/init/error` and an
//! exit before the first `/next` are init failures.
//!
//! Not Lambda's sandbox: no freeze between invocations, no memory limit, one instance.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{mpsc, oneshot, Notify};

/// What the function answered to one invocation.
#[derive(Debug)]
pub enum Outcome {
    Response(Bytes),
    /// `…/error`: the function's error document.
    Error(String),
}

/// Why a function is not serving.
#[derive(Debug)]
pub enum Failure {
    InitError(String),
    Exited(String),
    TimedOut(&'static str),
}

struct Invocation {
    id: String,
    payload: serde_json::Value,
}

struct Shared {
    function_arn: String,
    timeout: Duration,
    next: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    first_next: Mutex<Option<Instant>>,
    init_error: Mutex<Option<String>>,
    changed: Notify,
}

/// One function: its Runtime API and its process (killed when this is dropped).
pub struct FunctionProcess {
    pub resource: String,
    shared: Arc<Shared>,
    queue: mpsc::Sender<Invocation>,
    child: Mutex<Child>,
    started: Instant,
    pub log: PathBuf,
}

const RUNTIME: &str = "/2018-06-01/runtime";

async fn next(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    {
        let mut first = s.first_next.lock().unwrap();
        if first.is_none() {
            *first = Some(Instant::now());
            s.changed.notify_waiters();
        }
    }
    // One caller at a time, as one Lambda instance polls.
    let invocation = s.next.lock().await.recv().await;
    let Some(invocation) = invocation else {
        return (StatusCode::GONE, HeaderMap::new(), Vec::new());
    };
    let deadline = std::time::SystemTime::now() + s.timeout;
    let deadline_ms = deadline
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        headers.insert(name, HeaderValue::from_str(value).unwrap());
    };
    set("lambda-runtime-aws-request-id", &invocation.id);
    set("lambda-runtime-deadline-ms", &deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", &s.function_arn);
    set(
        "lambda-runtime-trace-id",
        &format!("Root=1-00000000-{}", invocation.id),
    );
    set("content-type", "application/json");
    let body = serde_json::to_vec(&invocation.payload).unwrap();
    (StatusCode::OK, headers, body)
}

fn settle(s: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match s.pending.lock().unwrap().remove(id) {
        Some(waiter) => {
            let _ = waiter.send(outcome);
            StatusCode::ACCEPTED
        }
        // Lambda answers an unknown or already answered request id with 400.
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(
    State(s): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    settle(&s, &id, Outcome::Response(body))
}

async fn error(
    State(s): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    settle(
        &s,
        &id,
        Outcome::Error(String::from_utf8_lossy(&body).into_owned()),
    )
}

async fn init_error(State(s): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    *s.init_error.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
    s.changed.notify_waiters();
    StatusCode::ACCEPTED
}

/// What the process is started with.
pub struct Launch<'a> {
    pub resource: &'a str,
    pub binary: &'a Path,
    pub function_name: &'a str,
    pub env: &'a BTreeMap<String, String>,
    pub timeout: Duration,
    pub memory_mb: u64,
    pub log_dir: &'a Path,
}

impl FunctionProcess {
    /// Serves a Runtime API on a free loopback port and execs the binary against it, with a
    /// clean environment: only `launch.env` and what Lambda itself sets.
    pub async fn start(launch: Launch<'_>) -> FunctionProcess {
        let (queue, receiver) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            function_arn: format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                launch.function_name
            ),
            timeout: launch.timeout,
            next: tokio::sync::Mutex::new(receiver),
            pending: Mutex::new(HashMap::new()),
            first_next: Mutex::new(None),
            init_error: Mutex::new(None),
            changed: Notify::new(),
        });
        let api = Router::new()
            .route(&format!("{RUNTIME}/invocation/next"), get(next))
            .route(
                &format!("{RUNTIME}/invocation/{{id}}/response"),
                post(response),
            )
            .route(&format!("{RUNTIME}/invocation/{{id}}/error"), post(error))
            .route(&format!("{RUNTIME}/init/error"), post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, api).await });

        let log = launch.log_dir.join(format!("{}.log", launch.resource));
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let started = Instant::now();
        let child = Command::new(launch.binary)
            .env_clear()
            .envs(launch.env)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", launch.function_name)
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                launch.memory_mb.to_string(),
            )
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", launch.function_name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("_HANDLER", "bootstrap")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("exec {}: {e}", launch.binary.display()));
        FunctionProcess {
            resource: launch.resource.to_string(),
            shared,
            queue,
            child: Mutex::new(child),
            started,
            log,
        }
    }

    fn exited(&self) -> Option<String> {
        let mut child = self.child.lock().unwrap();
        child
            .try_wait()
            .ok()
            .flatten()
            .map(|status| format!("exited with {status}"))
    }

    /// The time from exec to the first `GET /next`, once the function polls; an init error,
    /// an exit or no poll within `limit` is a failure.
    pub async fn ready(&self, limit: Duration) -> Result<Duration, Failure> {
        let until = Instant::now() + limit;
        loop {
            let notified = self.shared.changed.notified();
            if let Some(error) = self.shared.init_error.lock().unwrap().clone() {
                return Err(Failure::InitError(error));
            }
            if let Some(at) = *self.shared.first_next.lock().unwrap() {
                return Ok(at - self.started);
            }
            if let Some(exit) = self.exited() {
                return Err(Failure::Exited(exit));
            }
            if Instant::now() >= until {
                return Err(Failure::TimedOut("no GET /next"));
            }
            // Woken by the Runtime API, or every 20 ms to look at the process.
            let _ = tokio::time::timeout(Duration::from_millis(20), notified).await;
        }
    }

    /// One invocation with `payload`, answered within the function's timeout (plus a margin
    /// for a debug build on a busy machine).
    pub async fn invoke(&self, payload: serde_json::Value) -> Result<Outcome, Failure> {
        let id = ulid::Ulid::new().to_string().to_lowercase();
        let (tx, rx) = oneshot::channel();
        self.shared.pending.lock().unwrap().insert(id.clone(), tx);
        self.queue
            .send(Invocation {
                id: id.clone(),
                payload,
            })
            .await
            .map_err(|_| Failure::Exited("runtime API closed".into()))?;
        let limit = self.shared.timeout + Duration::from_secs(30);
        let wait = async {
            let mut rx = rx;
            loop {
                match tokio::time::timeout(Duration::from_millis(200), &mut rx).await {
                    Ok(Ok(outcome)) => return Ok(outcome),
                    Ok(Err(_)) => return Err(Failure::Exited("answer dropped".into())),
                    Err(_) => {
                        if let Some(exit) = self.exited() {
                            return Err(Failure::Exited(exit));
                        }
                    }
                }
            }
        };
        match tokio::time::timeout(limit, wait).await {
            Ok(result) => result,
            Err(_) => {
                self.shared.pending.lock().unwrap().remove(&id);
                Err(Failure::TimedOut("no answer to the invocation"))
            }
        }
    }

    /// The last lines the process wrote (for a failure's message).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
