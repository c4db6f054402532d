use super::failures::{NOT_A_STATUS, is_field_manager_conflict};
use super::*;
use serde_json::json;

#[test]
fn adopting_nulls_what_the_plugin_does_not_set_on_condition_of_the_read() {
    let before = json!({
        "metadata": {"name": "httpbin", "uid": "u-1", "resourceVersion": "42",
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {"hosts": ["httpbin.org"], "addresses": ["10.0.0.1"], "resolution": "STATIC"},
    });
    let object = json!({
        "metadata": {"name": "httpbin", "labels": {"app.kubernetes.io/managed-by": "kubectl-egress"}},
        "spec": {"hosts": ["httpbin.org"], "resolution": "DNS"},
    });
    assert_eq!(
        adoption_patch(&object, &before),
        json!({
            "metadata": {
                "uid": "u-1", "resourceVersion": "42",
                "labels": {"app.kubernetes.io/managed-by": "kubectl-egress"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": null},
            },
            "spec": {"hosts": ["httpbin.org"], "addresses": null, "resolution": "DNS"},
        })
    );
}

#[test]
fn field_manager_conflicts_are_told_from_failed_preconditions() {
    let status = |message: &str, causes: Vec<&str>| {
        serde_json::from_value::<kube::core::Status>(json!({
            "code": 409, "reason": "Conflict", "message": message,
            "details": {"causes": causes.iter().map(|r| json!({"reason": r})).collect::<Vec<_>>()}
        }))
        .unwrap()
    };
    assert!(is_field_manager_conflict(&status(
        "Apply failed with 1 conflict: conflict with \"other-tool\": .spec.resolution",
        vec!["FieldManagerConflict"]
    )));
    assert!(!is_field_manager_conflict(&status(
        "Operation cannot be fulfilled on serviceentries.networking.istio.io \"httpbin\": the object has been modified; please apply your changes to the latest version and try again",
        vec![]
    )));
}

fn described() -> Described<'static> {
    Described {
        verb: "list",
        what: "serviceentries.networking.istio.io",
        place: " in namespace s1".into(),
        api_server: "https://127.0.0.1:6443",
    }
}

fn status(code: u16, reason: &str, message: &str) -> kube::core::Status {
    serde_json::from_value(json!({"code": code, "reason": reason, "message": message})).unwrap()
}

#[test]
fn refusals_say_what_failed_and_what_to_do() {
    let (reason, message) = described().answered(&status(403, "Forbidden", "no\nway"));
    assert_eq!(reason, Reason::Forbidden);
    assert_eq!(
        message,
        "forbidden: cannot list serviceentries.networking.istio.io in namespace s1: no way; \
             ask the cluster admin for access, or choose your own namespace with -n"
    );
    let (reason, message) = described().answered(&status(
        403,
        "Forbidden",
        "unable to create new content in namespace s1 because it is being terminated",
    ));
    assert_eq!(reason, Reason::Config);
    assert!(message.ends_with("the namespace is being deleted; choose another namespace with -n"));
    let (reason, _) = described().answered(&status(429, "TooManyRequests", "slow down"));
    assert_eq!(reason, Reason::Unreachable);
    let (reason, message) = described().answered(&status(502, NOT_A_STATUS, "<html>"));
    assert_eq!(reason, Reason::Other);
    assert!(
        message.starts_with("unexpected response from https://127.0.0.1:6443 (HTTP 502: <html>)")
    );
    // A plain 404 page from the API server itself is no sign of another server.
    let (_, message) = described().answered(&status(404, NOT_A_STATUS, "404 page not found"));
    assert!(message.ends_with("(HTTP 404)"), "{message}");
}

#[test]
fn a_request_without_an_answer_says_how_long_it_waited() {
    let (reason, message) = described().timed_out(std::time::Duration::from_secs(5));
    assert_eq!(reason, Reason::Unreachable);
    assert!(
        message.contains("no whole answer within --request-timeout=5s"),
        "{message}"
    );
}
