//! `template.yaml` as the Lambda suite needs it: each `AWS::Serverless::Function` with its
//! binary, its environment, its HTTP API routes and its EventBridge rules, and API Gateway's
//! choice of route for a request. Read as YAML on every run, so whatever functions and routes
//! the template declares are the ones started and routed to; nothing here lists them.
//!
//! Not a CloudFormation engine: `!Ref` and `!Sub` are resolved from names the suite supplies
//! (parameters and the emulator's resources), and an unknown name fails loudly.

use std::collections::BTreeMap;

use serde_yaml::Value;

/// One function of the template.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// Its logical id, e.g. `AuthFunction`.
    pub resource: String,
    /// The cargo binary (`Metadata.BuildProperties.Binary`, what cargo-lambda builds).
    pub binary: String,
    /// `FunctionName`, unresolved (`!Sub "myna-${Stage}-auth"`).
    pub function_name: Value,
    /// Globals' variables overlaid with the function's own, still unresolved.
    pub env: BTreeMap<String, Value>,
    pub timeout_s: u64,
    pub memory_mb: u64,
    pub routes: Vec<HttpRoute>,
    /// Whether it holds the API's `$default` route (an `HttpApi` event without a path).
    pub default_route: bool,
    /// The `Pattern`s of its `EventBridgeRule` events (JSON).
    pub rules: Vec<serde_json::Value>,
    /// Its schedules (`Schedule`/`ScheduleV2` events): only named in the report.
    pub schedules: Vec<String>,
}

/// A route of the HTTP API: `ANY /signup/{proxy+}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    pub method: String,
    pub path: String,
}

/// How well a route matched a request: larger is more specific (API Gateway picks the most
/// specific route: no greedy variable before a greedy one, then more literal segments, then a
/// named method before `ANY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Specificity {
    not_greedy: bool,
    literals: usize,
    method_named: bool,
}

impl HttpRoute {
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Whether API Gateway would send `method path` here: how specifically, and the path
    /// parameters it would pass.
    pub fn matches(
        &self,
        method: &str,
        path: &str,
    ) -> Option<(Specificity, BTreeMap<String, String>)> {
        if self.method != "ANY" && !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let want: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        let got: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut params = BTreeMap::new();
        let mut literals = 0;
        let mut greedy = false;
        for (i, seg) in want.iter().enumerate() {
            let var = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
            match var {
                Some(name) if name.ends_with('+') => {
                    // Greedy: the rest of the path, at least one segment, and only last.
                    if i + 1 != want.len() || got.len() <= i {
                        return None;
                    }
                    params.insert(name.trim_end_matches('+').to_string(), got[i..].join("/"));
                    greedy = true;
                }
                Some(name) => {
                    params.insert(name.to_string(), (*got.get(i)?).to_string());
                }
                None if got.get(i) == Some(seg) => literals += 1,
                None => return None,
            }
        }
        if !greedy && got.len() != want.len() {
            return None;
        }
        Some((
            Specificity {
                not_greedy: !greedy,
                literals,
                method_named: self.method != "ANY",
            },
            params,
        ))
    }
}

/// The parsed template.
#[derive(Debug)]
pub struct Template {
    pub functions: Vec<FunctionSpec>,
    /// Each parameter's `Default`, where it has one.
    pub parameter_defaults: BTreeMap<String, String>,
}

/// The route API Gateway chooses for a request: the function's index in
/// [`Template::functions`], the route key, the path parameters.
#[derive(Debug, PartialEq, Eq)]
pub struct Chosen {
    pub function: usize,
    pub route_key: String,
    pub path_parameters: BTreeMap<String, String>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn yaml_to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

impl Template {
    /// The repository's `template.yaml`.
    pub fn load() -> Template {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
        let raw = std::fs::read_to_string(path).expect("template.yaml");
        Template::parse(&raw)
    }

    pub fn parse(raw: &str) -> Template {
        let doc: Value = serde_yaml::from_str(raw).expect("template.yaml is YAML");
        let globals = &doc["Globals"]["Function"];
        let mut parameter_defaults = BTreeMap::new();
        if let Some(params) = doc["Parameters"].as_mapping() {
            for (name, p) in params {
                if let (Some(name), Some(default)) = (name.as_str(), text(&p["Default"])) {
                    parameter_defaults.insert(name.to_string(), default);
                }
            }
        }
        let mut functions = Vec::new();
        for (id, resource) in doc["Resources"].as_mapping().expect("Resources") {
            if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            let resource_id = id.as_str().expect("resource id").to_string();
            let props = &resource["Properties"];
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{resource_id}: no Metadata.BuildProperties.Binary"))
                .to_string();
            let mut env = BTreeMap::new();
            for source in [
                &globals["Environment"]["Variables"],
                &props["Environment"]["Variables"],
            ] {
                if let Some(vars) = source.as_mapping() {
                    for (k, v) in vars {
                        env.insert(k.as_str().expect("variable name").to_string(), v.clone());
                    }
                }
            }
            let number = |key: &str, fallback: u64| {
                props[key]
                    .as_u64()
                    .or_else(|| globals[key].as_u64())
                    .unwrap_or(fallback)
            };
            let mut spec = FunctionSpec {
                function_name: match &props["FunctionName"] {
                    Value::Null => Value::String(resource_id.clone()),
                    name => name.clone(),
                },
                binary,
                env,
                timeout_s: number("Timeout", 3),
                memory_mb: number("MemorySize", 128),
                routes: Vec::new(),
                default_route: false,
                rules: Vec::new(),
                schedules: Vec::new(),
                resource: resource_id.clone(),
            };
            if let Some(events) = props["Events"].as_mapping() {
                for (name, event) in events {
                    let p = &event["Properties"];
                    match event["Type"].as_str() {
                        Some("HttpApi") => match (p["Path"].as_str(), p["Method"].as_str()) {
                            (Some(path), Some(method)) => spec.routes.push(HttpRoute {
                                method: method.to_ascii_uppercase(),
                                path: path.to_string(),
                            }),
                            (None, None) => spec.default_route = true,
                            _ => panic!("{resource_id}: {name:?} has a path or a method only"),
                        },
                        Some("EventBridgeRule") => spec.rules.push(yaml_to_json(&p["Pattern"])),
                        Some("Schedule" | "ScheduleV2") => spec.schedules.push(
                            text(&p["ScheduleExpression"]).unwrap_or_else(|| "schedule".into()),
                        ),
                        other => panic!("{resource_id}: event type {other:?} is not emulated"),
                    }
                }
            }
            functions.push(spec);
        }
        Template {
            functions,
            parameter_defaults,
        }
    }

    /// The route API Gateway would choose for `method path`, or `None` (its 404).
    pub fn route(&self, method: &str, path: &str) -> Option<Chosen> {
        let mut best: Option<(Specificity, Chosen)> = None;
        for (i, f) in self.functions.iter().enumerate() {
            for r in &f.routes {
                if let Some((rank, params)) = r.matches(method, path) {
                    if best.as_ref().is_none_or(|(b, _)| rank > *b) {
                        let chosen = Chosen {
                            function: i,
                            route_key: r.key(),
                            path_parameters: params,
                        };
                        best = Some((rank, chosen));
                    }
                }
            }
        }
        best.map(|(_, c)| c).or_else(|| {
            let function = self.functions.iter().position(|f| f.default_route)?;
            Some(Chosen {
                function,
                route_key: "$default".into(),
                path_parameters: BTreeMap::new(),
            })
        })
    }

    /// The functions whose EventBridge rules match `envelope` (an event as the bus delivers
    /// it), by index.
    pub fn rule_targets(&self, envelope: &serde_json::Value) -> Vec<usize> {
        (0..self.functions.len())
            .filter(|&i| {
                self.functions[i]
                    .rules
                    .iter()
                    .any(|p| pattern_matches(p, envelope))
            })
            .collect()
    }
}

/// EventBridge's pattern matching for the forms the template uses: a field lists the values
/// it accepts; an object matches the event's object field by field. Anything else (prefix,
/// numeric, exists matching) is not emulated and fails the run.
pub fn pattern_matches(pattern: &serde_json::Value, event: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    let Some(fields) = pattern.as_object() else {
        panic!("event pattern is not an object: {pattern}")
    };
    fields.iter().all(|(key, want)| match want {
        J::Array(values) => {
            if let Some(v) = values.iter().find(|v| v.is_object()) {
                panic!("event pattern field {key} uses {v}: not emulated")
            }
            values.contains(&event[key])
        }
        J::Object(_) => pattern_matches(want, &event[key]),
        other => panic!("event pattern field {key} is {other}: not emulated"),
    })
}

/// Resolves an environment value of the template: plain text, `!Ref NAME`, `!Sub "…${NAME}…"`,
/// with `names` for the parameters, resources and pseudo parameters. An unknown name panics
/// (a new variable the suite cannot fill must be taught to it, not silently left empty).
pub fn resolve(variable: &str, v: &Value, names: &BTreeMap<String, String>) -> String {
    let lookup = |name: &str| {
        names
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("{variable}: the Lambda suite has no value for {name}"))
    };
    match v {
        Value::Tagged(t) if t.tag == "!Ref" => lookup(t.value.as_str().unwrap_or_default()),
        Value::Tagged(t) if t.tag == "!Sub" => {
            let mut s = t.value.as_str().unwrap_or_default().to_string();
            while let Some(start) = s.find("${") {
                let end = s[start..]
                    .find('}')
                    .unwrap_or_else(|| panic!("{variable}: unclosed ${{"))
                    + start;
                let value = lookup(&s[start + 2..end]);
                s.replace_range(start..=end, &value);
            }
            s
        }
        other => text(other).unwrap_or_else(|| panic!("{variable}: {other:?} is not resolved")),
    }
}
