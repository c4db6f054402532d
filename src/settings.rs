//! Raw global flags -> validated settings, before any work starts: everything that can be wrong
//! with the input is found here, so a refusal contacts and writes nothing.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::GlobalArgs;
use crate::core::objects::istio::ApiVersion;
use crate::core::objects::validate::{
    InputError, dns_label, go_duration_nanos, without_leading_zeros,
};
use crate::core::render::ObjectFormat;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// kubectl's one line per object (`... created`), or status's table.
    Default,
    Wide,
    /// status's graph in Graphviz's language.
    Dot,
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
    /// A write's --wait (set from the subcommand's flags): how long to wait for the sidecars.
    pub wait: Option<Duration>,
}

impl Settings {
    /// Checks the flags in the order they are reported: the first wrong one is the error.
    pub fn from_args(
        args: &GlobalArgs,
        student_ns: Option<String>,
    ) -> Result<Settings, InputError> {
        let namespace = namespace(args.namespace.as_deref(), student_ns)?;
        let output = output(args.output.as_deref())?;
        let dry_run = dry_run(&args.dry_run)?;
        let api_version = api_version(&args.api_version)?;
        let request_timeout = request_timeout(&args.request_timeout)?;
        check_field_manager(&args.field_manager)?;
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
            wait: None,
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
            Output::Dot => Err(InputError(
                "-o dot is for status's graph: use yaml, json or name here".into(),
            )),
        }
    }
}

/// `-n` wins over `$STUDENT_NS` (ignored when empty); an error names where a bad one came from.
fn namespace(flag: Option<&str>, student_ns: Option<String>) -> Result<Option<String>, InputError> {
    match (flag, student_ns.filter(|s| !s.is_empty())) {
        (Some(ns), _) => Ok(Some(dns_label("namespace", ns)?)),
        (None, Some(ns)) => {
            Ok(Some(dns_label("namespace", &ns).map_err(|e| {
                InputError(format!("{} (from $STUDENT_NS)", e.0))
            })?))
        }
        (None, None) => Ok(None),
    }
}

fn output(flag: Option<&str>) -> Result<Output, InputError> {
    Ok(match flag {
        None => Output::Default,
        Some("yaml") => Output::Objects(ObjectFormat::Yaml),
        Some("json") => Output::Objects(ObjectFormat::Json),
        Some("name") => Output::Objects(ObjectFormat::Name),
        Some("wide") => Output::Wide,
        Some("dot") => Output::Dot,
        Some(other) => {
            return Err(InputError(format!(
                "unknown output format \"{}\": use yaml, json, name, wide or dot",
                other.escape_debug()
            )));
        }
    })
}

fn dry_run(flag: &str) -> Result<DryRun, InputError> {
    Ok(match flag {
        "none" => DryRun::None,
        "client" => DryRun::Client,
        "server" => DryRun::Server,
        other => {
            return Err(InputError(format!(
                "invalid --dry-run \"{}\": use none, client or server",
                other.escape_debug()
            )));
        }
    })
}

/// None: auto.
fn api_version(flag: &str) -> Result<Option<ApiVersion>, InputError> {
    Ok(match flag {
        "auto" => None,
        "v1" => Some(ApiVersion::V1),
        "v1beta1" => Some(ApiVersion::V1beta1),
        other => {
            return Err(InputError(format!(
                "invalid --api-version \"{}\": use v1, v1beta1 or auto",
                other.escape_debug()
            )));
        }
    })
}

/// A Go duration, as kubectl takes it; `0`: no limit (None).
fn request_timeout(flag: &str) -> Result<Option<Duration>, InputError> {
    if flag == "0" {
        return Ok(None);
    }
    match go_duration_nanos(flag) {
        Some(n) if n > 0 => {
            if let Some(meant) = without_leading_zeros(flag) {
                return Err(InputError(format!(
                    "invalid --request-timeout \"{}\": a number with leading zeros; did you mean \"{meant}\"?",
                    flag.escape_debug()
                )));
            }
            Ok(Some(Duration::from_nanos(
                u64::try_from(n).unwrap_or(u64::MAX),
            )))
        }
        _ => Err(InputError(format!(
            "invalid --request-timeout \"{}\": use a duration such as 5s or 1m, or 0 for no limit",
            flag.escape_debug()
        ))),
    }
}

/// The API server's own rules (ValidateFieldManager): at most 128 bytes, printable only.
fn check_field_manager(name: &str) -> Result<(), InputError> {
    if name.is_empty() || name.len() > 128 {
        return Err(InputError(format!(
            "invalid --field-manager \"{}\": give 1-128 bytes of printable characters (the API server's limit)",
            name.escape_debug()
        )));
    }
    if name
        .chars()
        .any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
    {
        return Err(InputError(format!(
            "invalid --field-manager \"{}\": control characters, newlines and tabs are not allowed; use printable characters, e.g. my-pipeline",
            name.escape_debug()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_flag_wins_over_student_ns_and_a_bad_one_says_where_it_came_from() {
        let env = || Some("s2".to_string());
        assert_eq!(namespace(Some("s1"), env()).unwrap().as_deref(), Some("s1"));
        assert_eq!(namespace(None, env()).unwrap().as_deref(), Some("s2"));
        assert_eq!(namespace(None, Some(String::new())).unwrap(), None);
        assert!(
            namespace(None, Some("S_2".into()))
                .unwrap_err()
                .0
                .ends_with("(from $STUDENT_NS)")
        );
        assert!(
            !namespace(Some("S_1"), env())
                .unwrap_err()
                .0
                .contains("STUDENT_NS")
        );
    }

    #[test]
    fn output_dry_run_and_api_version_take_only_their_words() {
        assert_eq!(output(None).unwrap(), Output::Default);
        assert_eq!(output(Some("wide")).unwrap(), Output::Wide);
        assert_eq!(output(Some("dot")).unwrap(), Output::Dot);
        assert_eq!(
            output(Some("name")).unwrap(),
            Output::Objects(ObjectFormat::Name)
        );
        assert!(output(Some("table")).is_err());
        assert_eq!(dry_run("server").unwrap(), DryRun::Server);
        assert!(dry_run("true").is_err());
        assert_eq!(api_version("auto").unwrap(), None);
        assert_eq!(api_version("v1beta1").unwrap(), Some(ApiVersion::V1beta1));
        assert!(api_version("v1alpha3").is_err());
    }

    #[test]
    fn request_timeout_is_a_positive_go_duration_or_zero() {
        assert_eq!(request_timeout("0").unwrap(), None);
        assert_eq!(
            request_timeout("1m").unwrap(),
            Some(Duration::from_secs(60))
        );
        assert!(request_timeout("0s").is_err());
        assert!(request_timeout("5").is_err());
        assert!(
            request_timeout("05s")
                .unwrap_err()
                .0
                .contains("did you mean \"5s\"")
        );
    }

    #[test]
    fn a_field_manager_is_1_to_128_printable_bytes() {
        assert!(check_field_manager("my pipeline").is_ok());
        assert!(check_field_manager(&"x".repeat(128)).is_ok());
        assert!(check_field_manager(&"x".repeat(129)).is_err());
        assert!(check_field_manager("").is_err());
        assert!(check_field_manager("a\tb").is_err());
    }
}
