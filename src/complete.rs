//! `kubectl_complete-egress`: what kubectl (1.26+) runs to complete `kubectl egress <TAB>`.
//!
//! kubectl calls it with the words after `egress`, the last one being the word under the
//! cursor (possibly empty), and reads back Cobra's `__complete` protocol: one candidate per line
//! (`value<TAB>description`), then `:<directive>`. The words are read against the same clap
//! definition the plugin parses with, so flags and subcommands can never drift apart. Only host
//! names need the cluster: one list of the namespace's ServiceEntries, within a short time limit,
//! and silence on any failure (a completion must never print an error).

use std::time::Duration;

use clap::{Arg, ArgAction, Command, CommandFactory};

use crate::cli::{Cli, GlobalArgs};
use crate::cluster::{api::IstioApi, connect};
use crate::core::objects::istio::{Kind, ServiceEntrySpec};
use crate::core::objects::plan::{LOCATIONS, RESOLUTIONS};
use crate::settings::Settings;

/// Cobra's ShellCompDirective values that the plugin uses.
pub mod directive {
    /// Let the shell complete file names (for --kubeconfig).
    pub const DEFAULT: u32 = 0;
    /// Offer only the candidates given, never file names.
    pub const NO_FILE_COMP: u32 = 4;
}

/// How long the one request for host names may take before completion gives up on it.
pub const HOST_LOOKUP_LIMIT: Duration = Duration::from_millis(1500);

/// What to offer for the word under the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Candidates (`value` or `value\tdescription`) and the directive.
    Values(Vec<String>, u32),
    /// The hosts of the namespace's ServiceEntries that start with `prefix`; needs the cluster.
    Hosts {
        prefix: String,
        connection: ConnectionFlags,
    },
}

/// The flags among the words that choose the cluster and namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionFlags {
    pub namespace: Option<String>,
    pub context: Option<String>,
    pub kubeconfig: Option<String>,
}

/// The pure half: the words after `egress` (the last is the one being completed) -> the answer.
pub fn answer(words: &[String]) -> Answer {
    let mut root = Cli::command();
    root.build();
    let (partial, done) = match words.split_last() {
        Some((last, rest)) => (last.as_str(), rest),
        None => ("", &[][..]),
    };
    let Line {
        command,
        positionals,
        pending,
        connection,
    } = read_line(&root, done);

    if let Some(arg) = pending {
        return flag_values(arg, partial, "", &connection);
    }
    if let Some((name, typed)) = partial.strip_prefix("--").and_then(|f| f.split_once('='))
        && let Some(arg) = command.get_arguments().find(|a| a.get_long() == Some(name))
    {
        return flag_values(arg, typed, &format!("--{name}="), &connection);
    }
    if partial.starts_with('-') {
        return Answer::Values(flags(command, partial), directive::NO_FILE_COMP);
    }
    if command.has_subcommands() {
        let subcommands = command
            .get_subcommands()
            .filter(|s| s.get_name() != "help" && s.get_name().starts_with(partial))
            .map(|s| described(s.get_name(), s.get_about()))
            .collect();
        return Answer::Values(subcommands, directive::NO_FILE_COMP);
    }
    positional_values(command.get_name(), positionals, partial, connection)
}

/// Where the finished words leave the line: the (sub)command they name, how many of its
/// positional arguments are given, a flag still waiting for its value, and the flags that
/// choose the cluster.
struct Line<'c> {
    command: &'c Command,
    positionals: usize,
    pending: Option<&'c Arg>,
    connection: ConnectionFlags,
}

fn read_line<'c>(root: &'c Command, done: &[String]) -> Line<'c> {
    let mut line = Line {
        command: root,
        positionals: 0,
        pending: None,
        connection: ConnectionFlags::default(),
    };
    for word in done {
        if let Some(arg) = line.pending.take() {
            remember(&mut line.connection, arg, word);
            continue;
        }
        let command = line.command;
        if let Some(flag) = word.strip_prefix("--").filter(|f| !f.is_empty()) {
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (flag, None),
            };
            if let Some(arg) = command.get_arguments().find(|a| a.get_long() == Some(name)) {
                match inline {
                    Some(value) => remember(&mut line.connection, arg, value),
                    None if expects_separate_value(arg) => line.pending = Some(arg),
                    None => {}
                }
            }
        } else if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = shorts.chars();
            if let Some(arg) = chars
                .next()
                .and_then(|c| command.get_arguments().find(|a| a.get_short() == Some(c)))
            {
                let rest = chars.as_str();
                if expects_separate_value(arg) {
                    if rest.is_empty() {
                        line.pending = Some(arg);
                    } else {
                        remember(&mut line.connection, arg, rest.trim_start_matches('='));
                    }
                }
            }
        } else if let Some(sub) = command
            .get_subcommands()
            .find(|s| s.get_name() == word && line.positionals == 0)
        {
            line.command = sub;
        } else {
            line.positionals += 1;
        }
    }
    line
}

/// Candidates for a command's positional argument (the `positionals`-th, from 0).
fn positional_values(
    command: &str,
    positionals: usize,
    partial: &str,
    connection: ConnectionFlags,
) -> Answer {
    match (command, positionals) {
        ("timeout" | "retries" | "via-gateway", 0) | ("status" | "cleanup", _) => {
            hosts(partial, connection)
        }
        ("timeout", 1) => matching(
            partial,
            &["0.5s", "1s", "2s", "5s", "30s"].map(String::from),
        ),
        ("completion", 0) => matching(
            partial,
            &["bash", "zsh", "fish", "powershell"].map(String::from),
        ),
        _ => Answer::Values(vec![], directive::NO_FILE_COMP),
    }
}

fn hosts(prefix: &str, connection: ConnectionFlags) -> Answer {
    Answer::Hosts {
        prefix: prefix.to_string(),
        connection,
    }
}

fn matching(prefix: &str, values: &[String]) -> Answer {
    Answer::Values(
        values
            .iter()
            .filter(|v| v.starts_with(prefix))
            .cloned()
            .collect(),
        directive::NO_FILE_COMP,
    )
}

/// A flag whose value is the next word (`-n student1`), not only `--flag=value`.
fn expects_separate_value(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Set | ArgAction::Append) && !arg.is_require_equals_set()
}

fn remember(connection: &mut ConnectionFlags, arg: &Arg, value: &str) {
    let slot = match arg.get_id().as_str() {
        "namespace" => &mut connection.namespace,
        "context" => &mut connection.context,
        "kubeconfig" => &mut connection.kubeconfig,
        _ => return,
    };
    *slot = Some(value.to_string());
}

fn described(value: &str, about: Option<&clap::builder::StyledStr>) -> String {
    match about {
        Some(about) => format!("{value}\t{about}"),
        None => value.to_string(),
    }
}

fn flags(command: &Command, partial: &str) -> Vec<String> {
    let mut out = vec![];
    for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
        let help = arg.get_help();
        if let Some(long) = arg.get_long() {
            let flag = format!("--{long}");
            if flag.starts_with(partial) {
                out.push(described(&flag, help));
            }
        }
        if let Some(short) = arg.get_short() {
            let flag = format!("-{short}");
            if partial == "-" || flag == partial {
                out.push(described(&flag, help));
            }
        }
    }
    out
}

/// Values for a flag: `typed` is what is already written of the value; `lead` is put in front
/// of each candidate (`--dry-run=` when the flag and value are one word).
fn flag_values(arg: &Arg, typed: &str, lead: &str, connection: &ConnectionFlags) -> Answer {
    let fixed: Vec<&str> = match arg.get_id().as_str() {
        "output" => vec!["yaml", "json", "name", "wide"],
        "dry_run" => vec!["none", "client", "server"],
        "api_version" => vec!["auto", "v1", "v1beta1"],
        "resolution" => RESOLUTIONS.to_vec(),
        "location" => LOCATIONS.to_vec(),
        "ports" => vec!["80/HTTP", "443/HTTPS", "443/TLS", "8080/HTTP", "5432/TCP"],
        "export_to" => vec![".", "*"],
        "request_timeout" => vec!["5s", "10s", "30s", "0"],
        "kubeconfig" | "filenames" => return Answer::Values(vec![], directive::DEFAULT),
        "context" => {
            let names = contexts(connection.kubeconfig.as_deref(), typed, lead);
            return Answer::Values(names, directive::NO_FILE_COMP);
        }
        _ => vec![],
    };
    Answer::Values(
        fixed
            .into_iter()
            .filter(|v| v.starts_with(typed))
            .map(|v| format!("{lead}{v}"))
            .collect(),
        directive::NO_FILE_COMP,
    )
}

/// Context names from the kubeconfig the command would use (`--kubeconfig` on the line, else
/// kubectl's default): local, no request.
fn contexts(kubeconfig: Option<&str>, typed: &str, lead: &str) -> Vec<String> {
    let config = match kubeconfig {
        Some(path) => kube::config::Kubeconfig::read_from(path),
        None => kube::config::Kubeconfig::read(),
    };
    let Ok(config) = config else {
        return vec![];
    };
    config
        .contexts
        .iter()
        .filter(|c| c.name.starts_with(typed))
        .map(|c| format!("{lead}{}", c.name))
        .collect()
}

/// The edge: hosts of the namespace's ServiceEntries, or nothing if the cluster cannot say
/// within [`HOST_LOOKUP_LIMIT`].
async fn cluster_hosts(prefix: &str, connection: &ConnectionFlags) -> Vec<String> {
    let args = GlobalArgs {
        namespace: connection.namespace.clone(),
        context: connection.context.clone(),
        kubeconfig: connection.kubeconfig.clone().map(Into::into),
        output: None,
        dry_run: "none".into(),
        field_manager: "kubectl-egress".into(),
        api_version: "auto".into(),
        request_timeout: format!("{}ms", HOST_LOOKUP_LIMIT.as_millis()),
    };
    let Ok(settings) = Settings::from_args(&args, std::env::var("STUDENT_NS").ok()) else {
        return vec![];
    };
    let lookup = async {
        let (namespace, cluster) = connect::open_cluster(&settings).await.ok()?;
        let api = IstioApi::new(&cluster, None);
        api.list_typed::<ServiceEntrySpec>(Kind::ServiceEntry, Some(&namespace), None)
            .await
            .ok()
    };
    let listed = tokio::time::timeout(HOST_LOOKUP_LIMIT, lookup)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let mut hosts: Vec<String> = listed
        .iter()
        .flat_map(|se| &se.spec.hosts)
        .filter(|h| h.starts_with(prefix))
        .cloned()
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// The protocol's text: candidates, one per line, then `:<directive>`.
pub fn protocol_text(values: &[String], directive: u32) -> String {
    let mut out = String::new();
    for value in values {
        out.push_str(value);
        out.push('\n');
    }
    out.push_str(&format!(":{directive}\n"));
    out
}

/// Runs a completion for `words` and prints the answer. Never fails: a completion that cannot
/// find anything offers nothing.
pub fn run(words: &[String]) {
    let (values, directive) = match answer(words) {
        Answer::Values(values, directive) => (values, directive),
        Answer::Hosts { prefix, connection } => {
            let hosts = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(cluster_hosts(&prefix, &connection)))
                .unwrap_or_default();
            (hosts, directive::NO_FILE_COMP)
        }
    };
    print!("{}", protocol_text(&values, directive));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let mut w: Vec<String> = text.split(' ').map(String::from).collect();
        if text.is_empty() {
            w = vec![String::new()];
        }
        w
    }

    fn values(text: &str) -> Vec<String> {
        match answer(&words(text)) {
            Answer::Values(v, _) => v
                .into_iter()
                .map(|v| v.split('\t').next().unwrap().to_string())
                .collect(),
            other => panic!("{text:?}: expected values, got {other:?}"),
        }
    }

    #[test]
    fn subcommands_first_with_descriptions() {
        let Answer::Values(v, d) = answer(&words("")) else {
            panic!()
        };
        assert_eq!(d, directive::NO_FILE_COMP);
        let names: Vec<&str> = v.iter().map(|c| c.split('\t').next().unwrap()).collect();
        assert_eq!(
            names,
            [
                "allow",
                "timeout",
                "retries",
                "via-gateway",
                "gateway",
                "apply",
                "status",
                "cleanup",
                "completion"
            ]
        );
        assert!(v[0].contains('\t'), "{v:?}");
        assert_eq!(values("ti"), ["timeout"]);
    }

    #[test]
    fn flags_of_the_subcommand_including_global_ones() {
        let v = values("allow httpbin.org --re");
        assert_eq!(v, ["--resolution", "--request-timeout"]);
        assert!(values("timeout --").contains(&"--clear".to_string()));
        assert!(!values("timeout --").contains(&"--resolution".to_string()));
        assert!(values("status -").contains(&"-A".to_string()));
    }

    #[test]
    fn flag_values_separate_or_joined() {
        assert_eq!(values("allow x -o "), ["yaml", "json", "name", "wide"]);
        assert_eq!(values("allow x -o j"), ["json"]);
        assert_eq!(values("allow x --dry-run=c"), ["--dry-run=client"]);
        assert_eq!(values("allow x --resolution D"), ["DNS", "DNS_ROUND_ROBIN"]);
        assert_eq!(
            answer(&words("status --kubeconfig ")),
            Answer::Values(vec![], directive::DEFAULT)
        );
    }

    #[test]
    fn hosts_come_from_the_cluster_with_the_connection_flags() {
        assert_eq!(
            answer(&words("-n student1 timeout http")),
            Answer::Hosts {
                prefix: "http".into(),
                connection: ConnectionFlags {
                    namespace: Some("student1".into()),
                    ..ConnectionFlags::default()
                }
            }
        );
        let Answer::Hosts { connection, .. } =
            answer(&words("cleanup --context=kind --kubeconfig /k a.org "))
        else {
            panic!()
        };
        assert_eq!(connection.context.as_deref(), Some("kind"));
        assert_eq!(connection.kubeconfig.as_deref(), Some("/k"));
        assert!(matches!(
            answer(&words("via-gateway ")),
            Answer::Hosts { .. }
        ));
        // The second word of timeout is a duration; allow takes new hosts, nothing to offer.
        assert_eq!(
            values("timeout httpbin.org "),
            ["0.5s", "1s", "2s", "5s", "30s"]
        );
        assert_eq!(values("allow "), Vec::<String>::new());
        assert_eq!(values("completion z"), ["zsh"]);
    }

    #[test]
    fn contexts_come_from_the_kubeconfig_on_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncontexts:\n- name: course\n  context: {cluster: c, user: u}\n- name: kind\n  context: {cluster: c, user: u}\n",
        )
        .unwrap();
        let line = format!("status --kubeconfig {} --context c", path.display());
        assert_eq!(values(&line), ["course"]);
        let line = format!("status --kubeconfig={} --context=", path.display());
        assert_eq!(values(&line), ["--context=course", "--context=kind"]);
    }

    #[test]
    fn the_finished_words_name_the_command_its_positionals_and_a_waiting_flag() {
        let mut root = Cli::command();
        root.build();
        let line = read_line(&root, &words("-n s1 timeout a.org 2s --context"));
        assert_eq!(line.command.get_name(), "timeout");
        assert_eq!(line.positionals, 2);
        assert_eq!(line.pending.map(|a| a.get_id().as_str()), Some("context"));
        assert_eq!(line.connection.namespace.as_deref(), Some("s1"));
        // A word that names no subcommand of the command is one of its positionals (hosts).
        let line = read_line(&root, &words("status a.org allow"));
        assert_eq!((line.command.get_name(), line.positionals), ("status", 2));
    }

    #[test]
    fn protocol_ends_with_the_directive() {
        assert_eq!(
            protocol_text(&["a".into(), "b\tdesc".into()], 4),
            "a\nb\tdesc\n:4\n"
        );
        assert_eq!(protocol_text(&[], 0), ":0\n");
    }
}
