//! Raw global flags -> validated settings, before any work starts: everything that can be wrong
//! with the input is found here, so a refusal contacts and writes nothing.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::GlobalArgs;
use crate::core::istio::ApiVersion;
use crate::core::render::ObjectFormat;
use crate::core::validate::{InputError, dns_label, go_duration_nanos, without_leading_zeros};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// kubectl's one line per object (`... created`), or status's table.
    Default,
    Wide,
    Objects(ObjectFormat),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRun {
    None,
    Client,
    Server,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `-n`, or `$STUDENT_NS`; None: the kubeconfig context's namespace, else `default`.
    pub namespace: Option<String>,
    pub context: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    pub output: Output,
    pub dry_run: DryRun,
    pub field_manager: String,
    /// None: auto (ask the cluster; offline v1beta1).
    pub api_version: Option<ApiVersion>,
    /// None: no limit.
    pub request_timeout: Option<Duration>,
}

impl Settings {
    pub fn from_args(
        args: &GlobalArgs,
        student_ns: Option<String>,
    ) -> Result<Settings, InputError> {
        let namespace = match (&args.namespace, student_ns.filter(|s| !s.is_empty())) {
            (Some(ns), _) => Some(dns_label("namespace", ns)?),
            (None, Some(ns)) => Some(
                dns_label("namespace", &ns)
                    .map_err(|e| InputError(format!("{} (from $STUDENT_NS)", e.0)))?,
            ),
            (None, None) => None,
        };
        let output = match args.output.as_deref() {
            None => Output::Default,
            Some("yaml") => Output::Objects(ObjectFormat::Yaml),
            Some("json") => Output::Objects(ObjectFormat::Json),
            Some("name") => Output::Objects(ObjectFormat::Name),
            Some("wide") => Output::Wide,
            Some(other) => {
                return Err(InputError(format!(
                    "unknown output format \"{}\": use yaml, json, name or wide",
                    other.escape_debug()
                )));
            }
        };
        let dry_run = match args.dry_run.as_str() {
            "none" => DryRun::None,
            "client" => DryRun::Client,
            "server" => DryRun::Server,
            other => {
                return Err(InputError(format!(
                    "invalid --dry-run \"{}\": use none, client or server",
                    other.escape_debug()
                )));
            }
        };
        let api_version = match args.api_version.as_str() {
            "auto" => None,
            "v1" => Some(ApiVersion::V1),
            "v1beta1" => Some(ApiVersion::V1beta1),
            other => {
                return Err(InputError(format!(
                    "invalid --api-version \"{}\": use v1, v1beta1 or auto",
                    other.escape_debug()
                )));
            }
        };
        let request_timeout = match args.request_timeout.as_str() {
            "0" => None,
            text => match go_duration_nanos(text) {
                Some(n) if n > 0 => {
                    if let Some(meant) = without_leading_zeros(text) {
                        return Err(InputError(format!(
                            "invalid --request-timeout \"{}\": a number with leading zeros; did you mean \"{meant}\"?",
                            text.escape_debug()
                        )));
                    }
                    Some(Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX)))
                }
                _ => {
                    return Err(InputError(format!(
                        "invalid --request-timeout \"{}\": use a duration such as 5s or 1m, or 0 for no limit",
                        text.escape_debug()
                    )));
                }
            },
        };
        // The API server's own rules (ValidateFieldManager): at most 128 bytes, printable only.
        if args.field_manager.is_empty() || args.field_manager.len() > 128 {
            return Err(InputError(format!(
                "invalid --field-manager \"{}\": give 1-128 bytes of printable characters (the API server's limit)",
                args.field_manager.escape_debug()
            )));
        }
        if args
            .field_manager
            .chars()
            .any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
        {
            return Err(InputError(format!(
                "invalid --field-manager \"{}\": control characters, newlines and tabs are not allowed; use printable characters, e.g. my-pipeline",
                args.field_manager.escape_debug()
            )));
        }
        if let Some(context) = &args.context
            && context.is_empty()
        {
            return Err(InputError("--context must not be empty".into()));
        }
        Ok(Settings {
            namespace,
            context: args.context.clone(),
            kubeconfig: args.kubeconfig.clone(),
            output,
            dry_run,
            field_manager: args.field_manager.clone(),
            api_version,
            request_timeout,
        })
    }

    /// The object format, refusing `wide` where no table is printed.
    pub fn object_format(&self) -> Result<Option<ObjectFormat>, InputError> {
        match self.output {
            Output::Default => Ok(None),
            Output::Objects(f) => Ok(Some(f)),
            Output::Wide => Err(InputError(
                "-o wide is for status's table: use yaml, json or name here".into(),
            )),
        }
    }
}
