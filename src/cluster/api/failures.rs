//! A failed request told in one line: what failed, where, and what to do, from what the API
//! server answered (or that it did not).

use super::*;

/// A failed request as its messages name it: `cannot {verb} {what}{place}`.
pub(super) struct Described<'a> {
    pub(super) verb: &'a str,
    pub(super) what: &'a str,
    /// ` in namespace NS`, or ` in all namespaces`.
    pub(super) place: String,
    pub(super) api_server: &'a str,
}

impl Described<'_> {
    pub(super) fn timed_out(&self, limit: std::time::Duration) -> (Reason, String) {
        let Described {
            verb,
            what,
            place,
            api_server,
        } = self;
        (
            Reason::Unreachable,
            format!(
                "cannot {verb} {what}{place}: the API server at {api_server} did not answer in time: no whole answer within --request-timeout={limit:?} (raise --request-timeout if the server is slow)"
            ),
        )
    }

    /// The server answered with an error: the API server's Status, or something else's answer.
    pub(super) fn answered(&self, status: &kube::core::Status) -> (Reason, String) {
        let Described {
            verb,
            what,
            place,
            api_server,
        } = self;
        match status {
            // Not a Kubernetes Status: whatever answered is not (only) the API server.
            status
                if status.reason == NOT_A_STATUS
                    && status
                        .message
                        .contains("Client sent an HTTP request to an HTTPS server") =>
            {
                (
                    Reason::Config,
                    format!(
                        "the server at {api_server} speaks HTTPS, but the kubeconfig's server URL says http://: use https:// in the kubeconfig (cannot {verb} {what}{place})"
                    ),
                )
            }
            status if matches!(status.code, 429 | 503) => (
                Reason::Unreachable,
                format!(
                    "cannot {verb} {what}{place}: the API server at {api_server} is overloaded (HTTP {}{}) and asked to come back later than --request-timeout allows: {}; try again later",
                    status.code,
                    if status.code == 429 {
                        " Too Many Requests"
                    } else {
                        " Service Unavailable"
                    },
                    excerpt(&status.message)
                ),
            ),
            status if status.reason == NOT_A_STATUS && status.code != 404 => (
                Reason::Other,
                format!(
                    "unexpected response from {api_server} (HTTP {}: {}): not the Kubernetes API; check the kubeconfig's server URL (and any proxy in between) (cannot {verb} {what}{place})",
                    status.code,
                    excerpt(&status.message)
                ),
            ),
            status => self.refused(status),
        }
    }

    /// The API server's Status for a request it refused, by its code.
    pub(super) fn refused(&self, status: &kube::core::Status) -> (Reason, String) {
        let Described {
            verb,
            what,
            place,
            api_server,
        } = self;
        let server = one_line(&status.message);
        match status.code {
            // The NamespaceLifecycle admission answers 403 too, but it is not RBAC.
            403 if status.message.contains("because it is being terminated") => (
                Reason::Config,
                format!(
                    "cannot {verb} {what}{place}: the namespace is being deleted; choose another namespace with -n"
                ),
            ),
            403 => (
                Reason::Forbidden,
                format!(
                    "forbidden: cannot {verb} {what}{place}: {server}; ask the cluster admin for access, or choose your own namespace with -n"
                ),
            ),
            401 => (
                Reason::Forbidden,
                format!(
                    "unauthorized: the API server at {api_server} rejected the kubeconfig's credentials; log in again"
                ),
            ),
            404 if status
                .details
                .as_ref()
                .is_some_and(|d| d.kind == "namespaces") =>
            {
                (
                    Reason::Config,
                    format!(
                        "namespace \"{}\" does not exist: check -n or $STUDENT_NS (kubectl get namespaces)",
                        status
                            .details
                            .as_ref()
                            .map(|d| d.name.as_str())
                            .unwrap_or_default()
                    ),
                )
            }
            409 if !is_field_manager_conflict(status) => (
                Reason::Modified,
                format!("{what}{place} changed while this command was writing it: {server}"),
            ),
            409 => (
                Reason::Conflict,
                format!(
                    "conflict: cannot {verb} {what}{place}: {server}; rerun with --force-conflicts to take those fields over"
                ),
            ),
            422 | 400 => (
                Reason::Rejected,
                format!("the API server rejected {what}{place}: {server}"),
            ),
            _ => (
                Reason::Other,
                format!(
                    "cannot {verb} {what}{place}: {server} (HTTP {})",
                    status.code
                ),
            ),
        }
    }

    /// An answer that is not JSON (or not the JSON expected).
    pub(super) fn not_json(&self, error: &serde_json::Error) -> (Reason, String) {
        let Described {
            verb,
            what,
            place,
            api_server,
        } = self;
        (
            Reason::Other,
            format!(
                "unexpected response from {api_server}: not the Kubernetes API ({}); check the kubeconfig's server URL (and any proxy in between) (cannot {verb} {what}{place})",
                excerpt(&error.to_string())
            ),
        )
    }

    pub(super) fn not_text(&self) -> (Reason, String) {
        let Described {
            verb,
            what,
            place,
            api_server,
        } = self;
        (
            Reason::Other,
            format!(
                "unexpected response from {api_server}: not UTF-8 text, not the Kubernetes API; check the kubeconfig's server URL (cannot {verb} {what}{place})"
            ),
        )
    }

    /// No answer: the TLS connection failed, something else than TLS answered, or nothing did.
    pub(super) fn unanswered(&self, error: &kube::Error) -> (Reason, String) {
        let Described {
            verb,
            what,
            place,
            api_server,
        } = self;
        let text = one_line(&error_chain(error));
        if let Some(cause) = certificate_problem(&text) {
            return (
                Reason::Config,
                format!(
                    "{cause}: the TLS connection to {api_server} failed (cannot {verb} {what}{place}); check certificate-authority(-data) and the client certificate in the kubeconfig, and the server's certificate dates ({text})"
                ),
            );
        }
        if text.contains("corrupt message") || text.contains("InvalidContentType") {
            return (
                Reason::Other,
                format!(
                    "unexpected response from {api_server}: it does not speak TLS, not the Kubernetes API over https; check the kubeconfig's server URL (cannot {verb} {what}{place}) ({text})"
                ),
            );
        }
        let hint = if text.contains("elapsed")
            || text.contains("timed out")
            || text.contains("Timeout")
        {
            "did not answer in time (raise --request-timeout if the server is slow)"
        } else {
            "is unreachable: check that the cluster is running and --context/--kubeconfig point at it"
        };
        (
            Reason::Unreachable,
            format!("cannot {verb} {what}{place}: the API server at {api_server} {hint} ({text})"),
        )
    }
}

/// kube's `Status.reason` for an error answer whose body was not a Kubernetes Status.
pub(super) const NOT_A_STATUS: &str = "Failed to parse error data";

/// The start of a server's answer, on one line, for a message.
pub(super) fn excerpt(text: &str) -> String {
    let line = one_line(text);
    match line.char_indices().nth(100) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}

/// The certificate problem named in a TLS failure, cause first, if it is one.
pub(super) fn certificate_problem(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let cause = if lower.contains("expired") {
        "certificate expired"
    } else if lower.contains("notvalidyet") || lower.contains("not valid yet") {
        "certificate not valid yet"
    } else if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        "certificate signed by an unknown authority (not the kubeconfig's certificate-authority)"
    } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        "certificate not valid for the server's name"
    } else if lower.contains("invalid peer certificate")
        || lower.contains("badcertificate")
        || lower.contains("certificaterequired")
        || lower.contains("unknownca")
    {
        "certificate problem"
    } else {
        return None;
    };
    Some(cause.to_string())
}

/// A 409 from server-side apply because another field manager owns fields (retrying cannot
/// help: --force-conflicts is the user's call), as opposed to a failed precondition or an object
/// created meanwhile (a re-read and retry can).
pub(super) fn is_field_manager_conflict(status: &kube::core::Status) -> bool {
    status
        .details
        .as_ref()
        .is_some_and(|d| d.causes.iter().any(|c| c.reason == "FieldManagerConflict"))
        || status.message.starts_with("Apply failed with")
}

pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}
