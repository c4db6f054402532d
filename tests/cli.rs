//! The binary as a user runs it, with no cluster and no kubeconfig: help, the exercise's objects
//! rendered offline (snapshots), and every refusal's message and exit code.

use assert_cmd::Command;
use predicates::prelude::*;

#[path = "support/fixtures.rs"]
mod fixtures;

/// The plugin with an empty HOME and no KUBECONFIG: nothing to connect to.
fn egress() -> Command {
    let home = tempfile::tempdir().unwrap().keep();
    let mut cmd = Command::cargo_bin("kubectl-egress").unwrap();
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

fn stdout_of(args: &[&str]) -> String {
    let out = egress().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn allow_renders_the_exercise_service_entry() {
    insta::assert_snapshot!(stdout_of(&[
        "allow",
        "httpbin.org",
        "-n",
        "student1",
        "--dry-run=client",
        "-o",
        "yaml"
    ]));
}

/// HTTPS modes: TLS origination at the sidecar, passthrough through the gateway, retries.
#[test]
fn https_modes_render() {
    let render = |args: &[&str]| {
        stdout_of(
            &[
                args,
                &["-n", "student1", "--dry-run=client", "-o", "yaml"][..],
            ]
            .concat(),
        )
    };
    insta::assert_snapshot!(
        "allow_tls_origination",
        render(&["allow", "httpbin.org", "--tls-origination"])
    );
    insta::assert_snapshot!(
        "via_gateway_wildcard_tls",
        render(&["via-gateway", "*.wikipedia.org", "--tls"])
    );
    insta::assert_snapshot!(
        "via_gateway_tls_origination",
        render(&["via-gateway", "httpbin.org", "--tls-origination"])
    );
    // The admins' side, in istio-system.
    let admin =
        |args: &[&str]| stdout_of(&[args, &["--dry-run=client", "-o", "yaml"][..]].concat());
    insta::assert_snapshot!("gateway_tls", admin(&["gateway", "httpbin.org", "--tls"]));
    insta::assert_snapshot!(
        "gateway_tls_origination",
        admin(&["gateway", "httpbin.org", "--tls-origination"])
    );
    insta::assert_snapshot!(
        "gateway_wildcard_tls",
        admin(&[
            "gateway",
            "*.wikipedia.org",
            "--tls",
            "--upstream",
            "www.wikipedia.org"
        ])
    );
    insta::assert_snapshot!(
        "via_gateway_tls",
        render(&["via-gateway", "httpbin.org", "--tls"])
    );
    insta::assert_snapshot!(
        "retries",
        render(&[
            "retries",
            "httpbin.org",
            "--attempts",
            "3",
            "--per-try-timeout",
            "2s",
            "--retry-on",
            "5xx,connect-failure"
        ])
    );
}

/// Long on purpose: a table, a row a case (see tests/README.md).
#[test]
fn https_modes_refuse_what_cannot_work() {
    for (args, says) in [
        (
            &["allow", "*.wikipedia.org", "--tls-origination"][..],
            "concrete host",
        ),
        (
            &["allow", "httpbin.org", "--tls-origination", "--port", "443"][..],
            "leave --port out",
        ),
        (
            &["via-gateway", "*.wikipedia.org", "--tls-origination"][..],
            "one concrete host",
        ),
        (
            &["via-gateway", "httpbin.org", "--tls", "--tls-origination"][..],
            "cannot be used with",
        ),
        (
            &["gateway", "httpbin.org", "--tls", "--tls-origination"][..],
            "encrypt the passed-through TLS a second time",
        ),
        (
            &["gateway", "*.wikipedia.org", "--tls"][..],
            "without --upstream",
        ),
        (
            &[
                "gateway",
                "*.wikipedia.org",
                "--upstream",
                "www.wikipedia.org",
            ][..],
            "use --tls",
        ),
        (
            &[
                "gateway",
                "*.wikipedia.org",
                "--tls",
                "--tls-origination",
                "--upstream",
                "www.wikipedia.org",
            ][..],
            "--tls-origination",
        ),
        (
            &["gateway", "httpbin.org", "--upstream", "www.httpbin.org"][..],
            "--upstream is for wildcard hosts",
        ),
        (
            &[
                "gateway",
                "*.wikipedia.org",
                "--tls",
                "--upstream",
                "*.wikipedia.org",
            ][..],
            "invalid --upstream",
        ),
        (
            &["retries", "httpbin.org", "--attempts", "0"][..],
            "--attempts",
        ),
        (
            &[
                "retries",
                "httpbin.org",
                "--attempts",
                "3",
                "--retry-on",
                "sometimes",
            ][..],
            "\"sometimes\"",
        ),
        (
            &[
                "retries",
                "httpbin.org",
                "--attempts",
                "3",
                "--per-try-timeout",
                "1",
            ][..],
            "--per-try-timeout",
        ),
    ] {
        // gateway writes into the gateway's namespace: -n would be refused first.
        let namespace: &[&str] = if args[0] == "gateway" {
            &[]
        } else {
            &["-n", "student1"]
        };
        let out = egress()
            .args(args)
            .args(namespace)
            .arg("--dry-run=client")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn timeout_renders_the_exercise_virtual_service() {
    insta::assert_snapshot!(stdout_of(&[
        "timeout",
        "httpbin.org",
        "0.5s",
        "-n",
        "student1",
        "--dry-run=client",
        "-o",
        "yaml"
    ]));
}

#[test]
fn via_gateway_renders_the_exercise_routing_virtual_service() {
    insta::assert_snapshot!(stdout_of(&[
        "via-gateway",
        "httpbin.org",
        "-n",
        "student1",
        "--dry-run=client",
        "-o",
        "yaml"
    ]));
}

#[test]
fn allow_options_render() {
    insta::assert_snapshot!(stdout_of(&[
        "allow",
        "*.wikipedia.org",
        "api.github.com",
        "--port",
        "443/TLS",
        "--port",
        "8080",
        "--export-to",
        "istio-system",
        "--export-to",
        ".",
        "--location",
        "MESH_EXTERNAL",
        "-n",
        "student1",
        "--dry-run=client",
        "-o",
        "yaml",
        "--api-version",
        "v1"
    ]));
}

#[test]
fn hosts_that_share_a_first_label_get_distinct_names() {
    assert_eq!(
        stdout_of(&[
            "allow",
            "api.github.com",
            "api.gitlab.com",
            "--dry-run=client",
            "-o",
            "name"
        ]),
        "serviceentry.networking.istio.io/api\nserviceentry.networking.istio.io/api-gitlab\n"
    );
}

#[test]
fn via_gateway_options_render_as_json() {
    insta::assert_snapshot!(stdout_of(&[
        "via-gateway",
        "httpbin.org",
        "--subset",
        "httpbin",
        "--port",
        "8080",
        "--gateway-host",
        "egress.mesh-gateways.svc.cluster.local",
        "-n",
        "student1",
        "--dry-run=client",
        "-o",
        "json"
    ]));
}

#[test]
fn default_output_is_kubectl_like_and_names_are_stable() {
    assert_eq!(
        stdout_of(&["allow", "httpbin.org", "--dry-run=client"]),
        "serviceentry.networking.istio.io/httpbin created (dry run)\n"
    );
    assert_eq!(
        stdout_of(&["timeout", "httpbin.org", "2s", "--dry-run", "-o", "name"]),
        "virtualservice.networking.istio.io/httpbin\n"
    );
}

#[test]
fn namespace_comes_from_flag_then_student_ns_then_default() {
    let ns = |extra_env: Option<&str>, args: &[&str]| {
        let mut cmd = egress();
        if let Some(v) = extra_env {
            cmd.env("STUDENT_NS", v);
        }
        let out = cmd
            .args(["allow", "httpbin.org", "--dry-run=client", "-o", "json"])
            .args(args)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["metadata"]["namespace"].as_str().unwrap().to_string()
    };
    assert_eq!(ns(None, &[]), "default");
    assert_eq!(ns(Some("student7"), &[]), "student7");
    assert_eq!(ns(Some("student7"), &["-n", "student1"]), "student1");
}

#[test]
fn offline_rendering_says_so_on_stderr() {
    egress()
        .args(["allow", "httpbin.org", "--dry-run=client"])
        .assert()
        .success()
        .stderr(predicate::str::contains("no kubeconfig"));
}

#[test]
fn help_shows_kubectl_egress_and_examples() {
    let help = stdout_of(&["--help"]);
    assert!(help.contains("Usage: kubectl egress"), "{help}");
    assert!(help.contains("kubectl egress allow httpbin.org"), "{help}");
    assert!(help.contains("Exit codes"), "{help}");
    for sub in ["allow", "timeout", "via-gateway", "status", "cleanup"] {
        let help = stdout_of(&[sub, "-h"]);
        assert!(
            help.contains(&format!("kubectl egress {sub}")),
            "{sub}: {help}"
        );
        assert!(help.contains("Examples:"), "{sub}: {help}");
        assert!(help.contains("--namespace"), "{sub}: {help}");
    }
    // No arguments: the overview, successfully.
    egress()
        .assert()
        .success()
        .stdout(predicate::str::contains("kubectl egress allow"));
}

/// Every refusal: exit 2, one line on stderr naming the value, nothing on stdout.
/// Long on purpose: a table, a row a case (see tests/README.md).
#[test]
fn refusals() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["allow", "http://httpbin.org"],
            "did you mean \"httpbin.org\"",
        ),
        (
            &["allow", "httpbin.org:443"],
            "did you mean \"httpbin.org\"",
        ),
        (&["allow", "*"], "\"*\""),
        (&["allow", "a..b"], "\"a..b\""),
        (&["allow", "bad host.org"], "bad host.org"),
        (&["allow", "httpbin.org", "--port", "0"], "\"0\""),
        (&["allow", "httpbin.org", "--port", "70000"], "\"70000\""),
        (&["allow", "httpbin.org", "--port", "80/FTP"], "FTP"),
        (
            &["allow", "httpbin.org", "--port", "80", "--port", "80/TCP"],
            "--port 80",
        ),
        (
            &["allow", "*.wikipedia.org", "--resolution", "DNS"],
            "wildcard",
        ),
        (&["allow", "httpbin.org", "--resolution", "MAGIC"], "MAGIC"),
        (&["allow", "httpbin.org", "--name", "Bad_Name"], "Bad_Name"),
        (&["allow", "a.org", "b.org", "--name", "x"], "--name"),
        (&["allow", "httpbin.org", "--export-to", "a/b"], "a/b"),
        (&["allow", "httpbin.org", "-n", "Student1"], "\"Student1\""),
        (&["allow", "httpbin.org", "-o", "xml"], "\"xml\""),
        (&["allow", "httpbin.org", "-o", "wide"], "wide"),
        (&["allow", "httpbin.org", "--dry-run=maybe"], "\"maybe\""),
        (&["allow", "httpbin.org", "--api-version", "v2"], "\"v2\""),
        (
            &["allow", "httpbin.org", "--request-timeout", "soon"],
            "\"soon\"",
        ),
        (&["timeout", "httpbin.org", "0.5"], "\"0.5\""),
        (&["timeout", "httpbin.org", "-1s"], "\"-1s\""),
        (&["timeout", "httpbin.org", "0s"], "at least 1ms"),
        (&["timeout", "httpbin.org", "0.5ms"], "at least 1ms"),
        (&["timeout", "httpbin.org", "5 seconds"], "\"5 seconds\""),
        (&["timeout", "httpbin.org", "1d"], "\"1d\""),
        (
            &["via-gateway", "httpbin.org", "--port", "http"],
            "\"http\"",
        ),
        (&["via-gateway", "httpbin.org", "--subset", "A B"], "A B"),
        (&["via-gateway", "https://httpbin.org"], "did you mean"),
        (&["status", "-o", "name"], "-o name"),
        (&["cleanup", "HTTPBIN.org"], "did you mean \"httpbin.org\""),
        // Refused before any request, where the API server would refuse only after one.
        (
            &["allow", "httpbin.org", "--field-manager", "ci\njob"],
            "\"ci\\njob\": control characters",
        ),
        (
            &["allow", "httpbin.org", "--field-manager", "ci\tjob"],
            "control characters",
        ),
        (
            &["allow", "httpbin.org", "--field-manager", &"m".repeat(129)],
            "1-128 bytes",
        ),
        (
            &[
                "allow",
                "httpbin.org",
                "--export-to",
                ".",
                "--export-to",
                ".",
            ],
            "--export-to \".\" is given twice",
        ),
        (
            &[
                "timeout",
                "httpbin.org",
                "2s",
                "--export-to",
                "a",
                "--export-to",
                "a",
            ],
            "--export-to \"a\" is given twice",
        ),
        (&["allow", "httpbin.org", "--port", "+80"], "\"+80\""),
        (&["via-gateway", "httpbin.org", "--port", "+80"], "\"+80\""),
        (&["allow", "10.0.0.1"], "IP address"),
        (&["allow", "10.0.0.1:443"], "IP address"),
        (&["allow", "2001:db8::1"], "resolution STATIC"),
        (&["timeout", "[::1]", "2s"], "this tool takes host names"),
        (&["timeout", "httpbin.org", "++1s"], "\"++1s\""),
        (
            &["timeout", "httpbin.org", "0000000000000000000000000000001s"],
            "leading zeros; did you mean \"1s\"?",
        ),
        (
            &[
                "retries",
                "httpbin.org",
                "--attempts",
                "3",
                "--per-try-timeout",
                "02s",
            ],
            "invalid --per-try-timeout \"02s\": a number with leading zeros; did you mean \"2s\"?",
        ),
        (
            &["status", "--request-timeout", "010s"],
            "invalid --request-timeout \"010s\": a number with leading zeros; did you mean \"10s\"?",
        ),
        // A value that starts with '-' is the flag's value, as kubectl takes it: named with it.
        (
            &["allow", "httpbin.org", "--port", "-1"],
            "invalid --port \"-1\"",
        ),
        (
            &["via-gateway", "httpbin.org", "--port", "-1"],
            "invalid --port \"-1\"",
        ),
        (
            &["retries", "httpbin.org", "--attempts", "-1"],
            "invalid --attempts \"-1\"",
        ),
        (
            &["status", "--request-timeout", "-1s"],
            "invalid --request-timeout \"-1s\"",
        ),
    ];
    for (args, needle) in cases {
        let out = egress().args(*args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
        // One error line, then where the usage is, as for what clap refuses.
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}: {stderr}");
        assert!(lines[0].starts_with("error: "), "{args:?}: {stderr}");
        assert_eq!(
            lines[1],
            format!("See 'kubectl egress {} --help' for usage.", args[0]),
            "{args:?}"
        );
    }
}

#[test]
fn bad_student_ns_is_named() {
    egress()
        .env("STUDENT_NS", "Not_A_Namespace")
        .args(["allow", "httpbin.org", "--dry-run=client"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("$STUDENT_NS"));
}

/// Bad command lines, as clap and the plugin's own checks refuse them (split at spaces).
const BAD_INPUTS: &[&str] = &[
    // Issue 15, item 7.
    "allow httpbin.org --port -1",
    "-n -a",
    "timeout httpbin.org 2s --clear",
    "timeout httpbin.org",
    "allow x -o yaml -o json",
    "nosuchcommand",
    // Unknown flags, on each subcommand and before it.
    "--nosuch",
    "--nosuch allow httpbin.org",
    "allow httpbin.org --nosuch",
    "allow httpbin.org --nsmespace student1",
    "allow httpbin.org -z",
    "allow httpbin.org --tls-origination=yes",
    "timeout httpbin.org 2s --nosuch",
    "retries httpbin.org --attempts 3 --nosuch",
    "via-gateway httpbin.org --nosuch",
    "gateway httpbin.org --nosuch",
    "apply -f x.yaml --nosuch",
    "status --nosuch",
    "status -a",
    "cleanup --nosuch",
    "completion bash --nosuch",
    // Flags given twice.
    "allow httpbin.org -n a -n b",
    "allow httpbin.org --name a --name b",
    "allow httpbin.org --resolution DNS --resolution NONE",
    "allow httpbin.org --dry-run=client --dry-run=server",
    "allow httpbin.org --context a --context b",
    "allow httpbin.org --tls-origination --tls-origination",
    "timeout httpbin.org --clear --clear",
    "retries httpbin.org --attempts 1 --attempts 2",
    "via-gateway httpbin.org --subset a --subset b",
    "via-gateway httpbin.org --off --off",
    "gateway httpbin.org --upstream a.org --upstream b.org",
    "status -A -A",
    "status --exit-code --exit-code",
    // ... once before the subcommand and once after it.
    "-n a allow httpbin.org -n b",
    "--namespace=a timeout httpbin.org 2s --namespace b",
    "-o yaml status -o json",
    "--dry-run=client allow httpbin.org --dry-run=server",
    // Missing values.
    "allow httpbin.org --port",
    "allow httpbin.org -n",
    "allow httpbin.org -o",
    "allow httpbin.org --context",
    "allow httpbin.org --kubeconfig",
    "allow httpbin.org --request-timeout",
    "allow httpbin.org --field-manager",
    "allow httpbin.org --api-version",
    "allow httpbin.org --dry-run=",
    "timeout httpbin.org 2s --export-to",
    "retries httpbin.org --attempts",
    "retries httpbin.org --attempts 3 --per-try-timeout",
    "gateway httpbin.org --tls --upstream",
    "apply -f",
    "cleanup -f",
    // Missing arguments.
    "allow",
    "timeout",
    "retries httpbin.org",
    "via-gateway",
    "gateway",
    "apply",
    "completion",
    // Too many arguments.
    "timeout httpbin.org 2s 3s",
    "via-gateway httpbin.org example.org",
    "completion bash zsh",
    // Conflicting flags.
    "retries httpbin.org --clear --attempts 3",
    "retries httpbin.org --clear --retry-on 5xx",
    "via-gateway httpbin.org --off --tls",
    "via-gateway httpbin.org --tls --tls-origination",
    "gateway httpbin.org --off --tls",
    "cleanup httpbin.org -f x.yaml",
    "cleanup -A -f x.yaml",
    // Bad values.
    "allow httpbin.org -o xml",
    "allow httpbin.org --output=",
    "timeout httpbin.org 2s -o wide",
    "status -o name",
    "allow httpbin.org --dry-run=bogus",
    "allow httpbin.org --api-version v3",
    "allow httpbin.org --request-timeout -1s",
    "timeout httpbin.org 0000000000000000000000000000001s",
    "completion nosh",
    // Negative numbers.
    "via-gateway httpbin.org --port -1",
    "retries httpbin.org --attempts -1",
    "timeout httpbin.org -1",
    "allow httpbin.org --port -80/TCP",
    "allow httpbin.org --port --tls-origination",
    "status -Az",
    // Unknown subcommands.
    "alow httpbin.org",
    "Allow httpbin.org",
    "get serviceentries",
    "-n student1 nosuchcommand",
    "help nosuchcommand",
];

/// Runs the plugin with a kubeconfig whose server is a listener of this test's: a bad input must
/// be refused before anything connects to it.
fn refuse_offline(args: &[std::ffi::OsString]) -> (Option<i32>, String, String, bool) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://{}'}}\n\
             users:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\n\
             current-context: c\n",
            listener.local_addr().unwrap()
        ),
    )
    .unwrap();
    let out = egress()
        .env("KUBECONFIG", &kubeconfig)
        .args(args)
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        listener.accept().is_ok(),
    )
}

/// Every bad command line: exit 2, nothing on stdout, nothing contacted, and on stderr one
/// `error: ...` line, then at most kubectl's `See 'kubectl egress SUBCOMMAND --help' for usage.`
/// naming the subcommand it was given to.
#[test]
fn bad_inputs_get_one_error_line_and_exit_2() {
    let subcommands = [
        "allow",
        "timeout",
        "retries",
        "via-gateway",
        "gateway",
        "apply",
        "status",
        "cleanup",
        "completion",
    ];
    let mut cases: Vec<Vec<std::ffi::OsString>> = BAD_INPUTS
        .iter()
        .map(|args| args.split(' ').map(Into::into).collect())
        .collect();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        let latin1 = || std::ffi::OsString::from_vec(b"caf\xe9.org".to_vec());
        cases.push(vec!["allow".into(), latin1()]);
        cases.push(vec![
            "allow".into(),
            "httpbin.org".into(),
            "-n".into(),
            latin1(),
        ]);
        cases.push(vec![latin1()]);
        cases.push(vec![
            "timeout".into(),
            "httpbin.org".into(),
            std::ffi::OsString::from_vec(b"2\xffs".to_vec()),
        ]);
        cases.push(vec![
            "allow".into(),
            "httpbin.org".into(),
            std::ffi::OsString::from_vec(b"--\xff".to_vec()),
        ]);
    }
    let mut failures = vec![];
    for args in &cases {
        let (code, stdout, stderr, connected) = refuse_offline(args);
        let lines: Vec<&str> = stderr.lines().collect();
        let subcommand = args
            .iter()
            .filter_map(|a| a.to_str())
            .find(|a| subcommands.contains(a));
        let see_ok = |line: &str| {
            let Some(path) = line
                .strip_prefix("See 'kubectl egress")
                .and_then(|l| l.strip_suffix(" --help' for usage."))
            else {
                return false;
            };
            match path.strip_prefix(' ') {
                None => path.is_empty(),
                Some(name) => Some(name) == subcommand,
            }
        };
        let shape = match lines[..] {
            [error] => error.starts_with("error: "),
            [error, see] => error.starts_with("error: ") && see_ok(see),
            _ => false,
        };
        if code != Some(2) || !stdout.is_empty() || !shape || stderr.contains('\x1b') || connected {
            failures.push(format!(
                "{args:?}: exit {code:?}, connected {connected}, stdout {stdout:?}, stderr:\n{stderr}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// What a representative handful of bad command lines print, as kubectl would print them.
#[test]
fn usage_errors_read_like_kubectl() {
    let mut shown = String::new();
    for args in [
        &["allow", "httpbin.org", "--port", "-1"][..],
        &["-n", "-a"],
        &["timeout", "httpbin.org", "2s", "--clear"],
        &["timeout", "httpbin.org"],
        &["allow", "httpbin.org", "-o", "yaml", "-o", "json"],
        &["-n", "a", "allow", "httpbin.org", "-n", "b"],
        &["nosuchcommand"],
        &["alow", "httpbin.org"],
        &["allow", "httpbin.org", "--nsmespace", "student1"],
        &["status", "-Az"],
        &["apply", "-f"],
        &["completion", "nosh"],
    ] {
        let out = egress().args(args).output().unwrap();
        shown.push_str(&format!(
            "$ kubectl egress {}\n{}",
            args.join(" "),
            String::from_utf8(out.stderr).unwrap()
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        let out = egress()
            .arg("allow")
            .arg(std::ffi::OsString::from_vec(b"caf\xe9.org".to_vec()))
            .output()
            .unwrap();
        shown.push_str(&format!(
            "$ kubectl egress allow caf\\xe9.org\n{}",
            String::from_utf8(out.stderr).unwrap()
        ));
    }
    insta::assert_snapshot!(shown, @r#"
    $ kubectl egress allow httpbin.org --port -1
    error: invalid --port "-1": port number must be 1-65535, as NUMBER[/PROTOCOL[/NAME]], e.g. 8080/HTTP
    See 'kubectl egress allow --help' for usage.
    $ kubectl egress -n -a
    error: unknown shorthand flag: 'a' in -a
    See 'kubectl egress --help' for usage.
    $ kubectl egress timeout httpbin.org 2s --clear
    error: the argument '[DURATION]' cannot be used with '--clear'
    See 'kubectl egress timeout --help' for usage.
    $ kubectl egress timeout httpbin.org
    error: the following required arguments were not provided: <DURATION>
    See 'kubectl egress timeout --help' for usage.
    $ kubectl egress allow httpbin.org -o yaml -o json
    error: the argument '--output <FORMAT>' cannot be used multiple times
    See 'kubectl egress allow --help' for usage.
    $ kubectl egress -n a allow httpbin.org -n b
    error: the argument '--namespace <NAMESPACE>' cannot be used multiple times
    See 'kubectl egress allow --help' for usage.
    $ kubectl egress nosuchcommand
    error: unknown command "nosuchcommand" for "kubectl egress"
    See 'kubectl egress --help' for usage.
    $ kubectl egress alow httpbin.org
    error: unknown command "alow" for "kubectl egress"; did you mean allow?
    See 'kubectl egress --help' for usage.
    $ kubectl egress allow httpbin.org --nsmespace student1
    error: unknown flag: --nsmespace; did you mean --namespace?
    See 'kubectl egress allow --help' for usage.
    $ kubectl egress status -Az
    error: unknown shorthand flag: 'z' in -Az
    See 'kubectl egress status --help' for usage.
    $ kubectl egress apply -f
    error: flag needs an argument: --filename
    See 'kubectl egress apply --help' for usage.
    $ kubectl egress completion nosh
    error: invalid value 'nosh' for '<SHELL>' [possible values: bash, zsh, fish, powershell]; did you mean zsh?
    See 'kubectl egress completion --help' for usage.
    $ kubectl egress allow caf\xe9.org
    error: invalid UTF-8 was detected in one or more arguments: "caf\xE9.org"
    See 'kubectl egress allow --help' for usage.
    "#);
}

#[test]
fn writing_without_a_kubeconfig_is_a_config_error() {
    egress()
        .args(["allow", "httpbin.org"])
        .assert()
        .code(4)
        .stdout("")
        .stderr(predicate::str::contains("no kubeconfig found"));
    egress()
        .args(["status", "--kubeconfig", "/nonexistent/kubeconfig"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "/nonexistent/kubeconfig not found",
        ));
}

#[test]
fn completion_scripts_are_committed_and_current() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let generated = stdout_of(&["completion", shell]);
        let file = match shell {
            "bash" => "kubectl-egress.bash",
            "zsh" => "_kubectl-egress",
            "fish" => "kubectl-egress.fish",
            _ => "kubectl-egress.ps1",
        };
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("completions")
            .join(file);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is out of date: run scripts/update-completions",
            path.display()
        );
    }
}

/// The defaults reproduce the exercise's YAML exactly: the same object once the two additions
/// (metadata.namespace and the managed-by label) are taken away.
#[test]
fn defaults_equal_the_exercise_objects() {
    let cases: &[(&[&str], &str)] = &[
        (&["allow", "httpbin.org"], "api-egress-se.yaml"),
        (
            &["timeout", "httpbin.org", "0.5s"],
            "api-egress-vs-timeout.yaml",
        ),
        (
            &["via-gateway", "httpbin.org"],
            "api-egress-vs-gateway.yaml",
        ),
    ];
    for (args, fixture) in cases {
        let rendered = stdout_of(
            &[
                args,
                &["-n", "student1", "--dry-run=client", "-o", "yaml"][..],
            ]
            .concat(),
        );
        let mut ours: serde_json::Value = serde_saphyr::from_str(&rendered).unwrap();
        let meta = ours["metadata"].as_object_mut().unwrap();
        assert_eq!(meta.remove("namespace").unwrap(), "student1");
        let labels = meta.remove("labels").unwrap();
        assert_eq!(
            labels,
            serde_json::json!({"app.kubernetes.io/managed-by": "kubectl-egress"})
        );
        let seed = fixtures::seed(fixture);
        assert_eq!(ours, seed, "{args:?} differs from the exercise's {fixture}");
    }
}

/// The committed bash completion, sourced in a real bash and asked as the shell would ask it.
#[test]
fn bash_completion_completes_in_a_real_bash() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/kubectl-egress.bash");
    let ask = |line: &str| -> Vec<String> {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            r#"source '{}'
COMP_WORDS=({})
COMP_CWORD={}
COMP_LINE='{line}'
COMP_POINT=${{#COMP_LINE}}
_kubectl__egress kubectl-egress "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
            script.display(),
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1,
        );
        let out = std::process::Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    };
    let subcommands = ask("kubectl-egress ");
    for sub in [
        "allow",
        "timeout",
        "via-gateway",
        "status",
        "cleanup",
        "completion",
    ] {
        assert!(
            subcommands.contains(&sub.to_string()),
            "{sub}: {subcommands:?}"
        );
    }
    assert_eq!(ask("kubectl-egress via"), ["via-gateway"]);
    let flags = ask("kubectl-egress timeout httpbin.org 1s --cl");
    assert_eq!(flags, ["--clear"]);
}

/// An unknown context is named, with the known ones, before anything is contacted (exit 4).
#[test]
fn unknown_context_is_named_with_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n\
         users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: course\n  context: {cluster: c, user: u}\n\
         current-context: course\n",
    )
    .unwrap();
    egress()
        .env("KUBECONFIG", &kubeconfig)
        .args(["status", "--context", "kind-kind"])
        .assert()
        .code(4)
        .stdout("")
        .stderr(predicate::str::contains(
            "context \"kind-kind\" not found in the kubeconfig; known: course",
        ));
}

#[test]
fn via_gateway_off_takes_no_gateway_options() {
    for option in [
        &["--gateway-host", "egress.mesh.svc.cluster.local"][..],
        &["--port", "8080"],
        &["--subset", "httpbin"],
    ] {
        let out = egress()
            .args(["via-gateway", "httpbin.org", "--off"])
            .args(option)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{option:?}: {stderr}");
        assert!(
            stderr.contains("'--off' cannot be used with") && stderr.contains(option[0]),
            "{option:?}: {stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_duration_with_a_leading_plus_is_accepted_and_written_without_it() {
    let out = stdout_of(&[
        "timeout",
        "httpbin.org",
        "+1s",
        "--dry-run=client",
        "-o",
        "json",
    ]);
    let vs: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(vs["spec"]["http"][0]["timeout"], "1s");
}

/// `apply -f` of the exercise fixtures, offline: substituted, scoped, labelled.
fn apply_fixtures(extra_env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = egress();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("STUDENT_NS", "student1")
        .env("TRAINING_NAME", "egress");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.args(["apply", "--dry-run=client"]).args(args);
    cmd.output().unwrap()
}

#[test]
fn apply_renders_the_exercise_start_files() {
    let out = apply_fixtures(&[], &["-f", "tests/fixtures/exercise/", "-o", "yaml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

#[test]
fn apply_prints_a_line_per_object_like_kubectl() {
    let out = apply_fixtures(
        &[],
        &[
            "-f",
            "tests/fixtures/exercise/api.yaml",
            "-f",
            "tests/fixtures/exercise/sentences-ingress.yaml",
        ],
    );
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "deployment.apps/api-v1 created (dry run)\nservice/api created (dry run)\n\
         gateway.networking.istio.io/sentences created (dry run)\n\
         virtualservice.networking.istio.io/sentences created (dry run)\n"
    );
}

#[test]
fn apply_reads_stdin_and_lists() {
    let list = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"ns": "$STUDENT_NS"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"price": "\$5"}}]}"#;
    let out = egress()
        .env("STUDENT_NS", "student1")
        .args(["apply", "-f", "-", "--dry-run=client", "-o", "json"])
        .write_stdin(list)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["items"][0]["data"]["ns"], "student1");
    assert_eq!(value["items"][1]["data"]["price"], "$5");
    assert_eq!(value["items"][1]["metadata"]["namespace"], "student1");
}

fn refused(out: std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn apply_refuses_an_unset_variable_naming_file_line_and_variable() {
    let mut cmd = egress();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("STUDENT_NS", "student1")
        .args([
            "apply",
            "-f",
            "tests/fixtures/exercise/",
            "--dry-run=client",
        ]);
    let stderr = refused(cmd.output().unwrap());
    assert!(
        stderr.contains(
            "error: tests/fixtures/exercise/sentences-ingress.yaml:15: variable $TRAINING_NAME is not set"
        ),
        "{stderr}"
    );
}

fn apply_stdin(yaml: &str) -> std::process::Output {
    egress()
        .env("STUDENT_NS", "student1")
        .args(["apply", "-f", "-", "--dry-run=client"])
        .write_stdin(yaml)
        .output()
        .unwrap()
}

#[test]
fn apply_refuses_another_namespace_and_cluster_scoped_kinds() {
    let stderr = refused(apply_stdin(
        "apiVersion: v1\nkind: Service\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: istio-system\n",
    ));
    assert!(
        stderr.starts_with(
            "error: -:5: Service/api names namespace \"istio-system\", but this command writes only into namespace student1"
        ),
        "{stderr}"
    );
    let stderr = refused(apply_stdin(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: admin-ish}\n",
    ));
    assert!(
        stderr.starts_with("error: -:1: ClusterRole/admin-ish is cluster-scoped"),
        "{stderr}"
    );
}

#[test]
fn apply_names_the_line_of_malformed_yaml() {
    let stderr = refused(apply_stdin(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata:\n  a: [b\n",
    ));
    assert_eq!(stderr, "error: -:9: malformed YAML: unclosed bracket '['\n");
}

#[test]
fn apply_needs_objects() {
    let empty = tempfile::tempdir().unwrap();
    let out = egress()
        .args(["apply", "--dry-run=client", "-f"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert!(refused(out).contains("no objects in"));
}

/// The admins' hand-written objects of the course environment, the reference `gateway` reproduces.
fn admins_reference() -> Vec<serde_json::Value> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hack/cluster/egress-httpbin.yaml");
    std::fs::read_to_string(path)
        .unwrap()
        .split("\n---\n")
        .map(|doc| serde_saphyr::from_str(doc).unwrap())
        .collect()
}

#[test]
fn gateway_renders_the_admins_objects_apart_from_labels() {
    let out = stdout_of(&["gateway", "httpbin.org", "--dry-run=client", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut rendered = list["items"].as_array().unwrap().clone();
    for object in &mut rendered {
        let labels = object["metadata"].as_object_mut().unwrap().remove("labels");
        assert_eq!(
            labels,
            Some(serde_json::json!({
                "app.kubernetes.io/managed-by": "kubectl-egress",
                "app.kubernetes.io/component": "egress-gateway"
            }))
        );
    }
    let key = |o: &serde_json::Value| format!("{}/{}", o["kind"], o["metadata"]["name"]);
    let mut reference = admins_reference();
    rendered.sort_by_key(key);
    reference.sort_by_key(key);
    assert_eq!(rendered, reference);
    // Names and order as kubectl prints them: what a route names is written before the route.
    insta::assert_snapshot!(stdout_of(&["gateway", "httpbin.org", "--dry-run=client", "-o", "name"]), @r"
    serviceentry.networking.istio.io/httpbin
    destinationrule.networking.istio.io/egressgateway-for-httpbin
    gateway.networking.istio.io/httpbin-egressgateway
    virtualservice.networking.istio.io/httpbin-egressgateway
    ");
}

#[test]
fn gateway_options_render() {
    let out = stdout_of(&[
        "gateway",
        "api.example.org",
        "httpbin.org",
        "--gateway-namespace",
        "egress",
        "--gateway-service",
        "my-gateway",
        "--selector",
        "istio=my-gateway",
        "--dry-run=client",
        "-o",
        "json",
    ]);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 8);
    assert!(items.iter().all(|o| o["metadata"]["namespace"] == "egress"));
    assert_eq!(
        items[1]["spec"]["host"],
        "my-gateway.egress.svc.cluster.local"
    );
    assert_eq!(items[1]["spec"]["subsets"][0]["name"], "api");
    assert_eq!(
        items[2]["spec"]["selector"],
        serde_json::json!({"istio": "my-gateway"})
    );
    assert_eq!(items[6]["metadata"]["name"], "httpbin-egressgateway");
}

#[test]
fn gateway_refusals() {
    for (args, needle) in [
        (&["gateway", "*.wikipedia.org"][..], "wildcard"),
        (
            &["gateway", "httpbin.org", "-n", "student1"][..],
            "--gateway-namespace",
        ),
        (
            &["gateway", "httpbin.org", "--selector", "istio"][..],
            "--selector",
        ),
        (
            &["gateway", "httpbin.org", "--gateway-namespace", "Bad_NS"][..],
            "--gateway-namespace",
        ),
        (
            &["gateway", "httpbin.org", "--gateway-service", "a.b"][..],
            "--gateway-service",
        ),
    ] {
        egress()
            .args(args)
            .args(["--dry-run=client"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
    }
    // -n naming the gateway's namespace is fine.
    stdout_of(&[
        "gateway",
        "httpbin.org",
        "-n",
        "istio-system",
        "--dry-run=client",
    ]);
    // --off deletes only what it finds on the cluster.
    egress()
        .args(["gateway", "httpbin.org", "--off", "--dry-run=client"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("needs the cluster"));
    // STUDENT_NS does not move the objects out of the gateway's namespace.
    let out = egress()
        .env("STUDENT_NS", "student1")
        .args(["gateway", "httpbin.org", "--dry-run=client", "-o", "yaml"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("namespace: istio-system"));
}
