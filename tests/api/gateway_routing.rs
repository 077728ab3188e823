//! The Lambda suite's reading of `template.yaml` (`myna_tests::lambda::template`): API
//! Gateway's choice of route, and every function of the real template reachable and startable.
//! Runs without moto, so a routing mistake of the harness shows in the plain `cargo test`.

use myna_tests::lambda::template::{pattern_matches, Template};
use serde_json::json;

const SMALL: &str = r#"
Resources:
  PagesFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: fn-pages
    Properties:
      Events:
        Area:
          Type: HttpApi
          Properties:
            Path: /things/{proxy+}
            Method: ANY
        One:
          Type: HttpApi
          Properties:
            Path: /things/{id}
            Method: ANY
        Root:
          Type: HttpApi
          Properties:
            Path: /things
            Method: ANY
  CsvFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: fn-csv
    Properties:
      Events:
        Export:
          Type: HttpApi
          Properties:
            Path: /things/csv
            Method: ANY
        Upload:
          Type: HttpApi
          Properties:
            Path: /things/{id}
            Method: POST
  JobFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: fn-job
    Properties:
      Events:
        Mail:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [myna]
              detail-type: [mail]
"#;

fn chosen(t: &Template, method: &str, path: &str) -> Option<(String, String)> {
    t.route(method, path)
        .map(|c| (t.functions[c.function].binary.clone(), c.route_key))
}

#[test]
fn the_gateway_chooses_the_most_specific_route_when_several_match() {
    // given routes that overlap: an area, a parameter, an exact path, a named method
    let t = Template::parse(SMALL);
    // then an exact path beats a parameter, which beats the greedy area
    assert_eq!(
        chosen(&t, "GET", "/things/csv"),
        Some(("fn-csv".into(), "ANY /things/csv".into()))
    );
    assert_eq!(
        chosen(&t, "GET", "/things/7"),
        Some(("fn-pages".into(), "ANY /things/{id}".into()))
    );
    assert_eq!(
        chosen(&t, "GET", "/things/7/edit"),
        Some(("fn-pages".into(), "ANY /things/{proxy+}".into()))
    );
    // and a named method beats ANY on the same path
    assert_eq!(
        chosen(&t, "POST", "/things/7"),
        Some(("fn-csv".into(), "POST /things/{id}".into()))
    );
    // and the greedy area needs a segment after its prefix
    assert_eq!(
        chosen(&t, "GET", "/things"),
        Some(("fn-pages".into(), "ANY /things".into()))
    );
}

#[test]
fn the_gateway_answers_404_itself_when_no_route_matches_and_there_is_no_default() {
    let t = Template::parse(SMALL);
    assert_eq!(t.route("GET", "/other"), None);
    assert_eq!(t.route("GET", "/"), None);
}

#[test]
fn the_gateway_passes_path_parameters_as_api_gateway_names_them() {
    let t = Template::parse(SMALL);
    let c = t.route("GET", "/things/7/edit/x").unwrap();
    assert_eq!(c.path_parameters["proxy"], "7/edit/x");
    let c = t.route("GET", "/things/7").unwrap();
    assert_eq!(c.path_parameters["id"], "7");
}

#[test]
fn the_bus_hands_an_event_only_to_functions_whose_rule_matches_it() {
    let t = Template::parse(SMALL);
    let mail = json!({ "source": "myna", "detail-type": "mail", "detail": {} });
    let other = json!({ "source": "myna", "detail-type": "import", "detail": {} });
    assert_eq!(t.rule_targets(&mail), vec![2]);
    assert!(t.rule_targets(&other).is_empty());
    assert!(!pattern_matches(
        &json!({ "source": ["myna"] }),
        &json!({ "source": "aws.events" })
    ));
}

#[test]
fn every_function_of_the_template_has_a_binary_and_an_event_that_reaches_it() {
    // given the real template
    let t = Template::load();
    assert!(
        t.functions.len() >= 2,
        "functions parsed: {:?}",
        t.functions
    );
    for f in &t.functions {
        // then each names the binary the Lambda suite starts, and something invokes it
        assert!(
            f.binary.starts_with("myna-fn-"),
            "{}: {}",
            f.resource,
            f.binary
        );
        assert!(
            !f.routes.is_empty()
                || f.default_route
                || !f.rules.is_empty()
                || !f.schedules.is_empty(),
            "{} has no event: nothing would ever invoke it",
            f.resource
        );
    }
    // and a path no route holds goes to the one function holding $default (its 404 page)
    let fallback = t.route("GET", "/no-such-page").expect("a $default route");
    assert_eq!(fallback.route_key, "$default");
    assert_eq!(t.functions.iter().filter(|f| f.default_route).count(), 1);
}
