//! The command line as the user types it (raw, unvalidated). `settings.rs` turns it into
//! validated settings before any work starts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str =
    "Let traffic out of an Istio mesh that runs outboundTrafficPolicy: REGISTRY_ONLY.";

const LONG_ABOUT: &str = "\
Let traffic out of an Istio mesh that runs outboundTrafficPolicy: REGISTRY_ONLY.

Writes the ServiceEntry that allows an external host, and one VirtualService per host that
carries its request timeout and its route through the egress gateway (Istio never merges two
VirtualServices for one host). Objects are scoped to the namespace (exportTo: [\".\"]) and
labelled app.kubernetes.io/managed-by=kubectl-egress; cleanup removes only those.

The namespace is -n, else $STUDENT_NS, else the kubeconfig context's namespace, else default.";

const EXAMPLES: &str = "\
Examples:
  # The course exercise, step by step
  kubectl egress allow httpbin.org
  kubectl egress timeout httpbin.org 0.5s
  kubectl egress via-gateway httpbin.org
  kubectl egress status
  kubectl egress cleanup

  # Its first and last steps: the applications, with $STUDENT_NS and $TRAINING_NAME substituted
  kubectl egress apply -f 04-egress-traffic/start/
  kubectl egress cleanup -f 04-egress-traffic/start/

  # See the objects without writing them
  kubectl egress allow httpbin.org -n student1 --dry-run=client -o yaml

Exit codes: 0 success; 2 invalid input (nothing contacted or written); 3 status found problems
(with --exit-code); 4 no kubeconfig, context or namespace; 5 API server unreachable or too slow;
6 Istio CRDs not installed; 7 forbidden (RBAC); 8 conflict with another owner or writer;
9 rejected by the API server's validation; 10 --wait: written, but not live in every sidecar
in time; 11 --wait: written, but pods/portforward is forbidden; 1 any other failure.";

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-egress",
    bin_name = "kubectl egress",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    arg_required_else_help = true,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

// Flags whose values are checked strictly (ports, counts, durations) take a value that starts
// with '-', as kubectl's flags do: `--port -1` is refused naming --port and -1, not as an unknown
// flag -1.

/// Flags spelled as kubectl spells them, accepted before or after the subcommand.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Namespace to work in [default: $STUDENT_NS, else the context's namespace, else default]
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// Kubeconfig context to use
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// Output format: yaml, json or name (status: wide, yaml, json, dot)
    #[arg(short = 'o', long, global = true, value_name = "FORMAT")]
    pub output: Option<String>,

    /// none: apply; client: print what would be sent; server: send with dryRun, persist nothing
    #[arg(
        long,
        global = true,
        value_name = "MODE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "client",
        default_value = "none"
    )]
    pub dry_run: String,

    /// Field manager for server-side apply
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        default_value = "kubectl-egress"
    )]
    pub field_manager: String,

    /// networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)
    #[arg(long, global = true, value_name = "VERSION", default_value = "auto")]
    pub api_version: String,

    /// How long to wait for each API request, e.g. 10s; 0 waits as long as it takes
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        default_value = "10s",
        allow_hyphen_values = true
    )]
    pub request_timeout: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Allow traffic to external hosts: one ServiceEntry per host
    #[command(after_help = "\
Examples:
  # The exercise's ServiceEntry: ports 80/HTTP and 443/HTTPS, resolution DNS, exportTo [\".\"]
  kubectl egress allow httpbin.org

  # Several hosts at once, only HTTPS
  kubectl egress allow api.github.com uploads.github.com --port 443

  # A wildcard (resolution NONE) and a custom name
  kubectl egress allow '*.wikipedia.org' --port 443/TLS --name wikipedia

  # The application calls http://httpbin.org; the sidecar opens TLS to httpbin.org:443,
  # so timeouts and retries apply to it (ServiceEntry + DestinationRule)
  kubectl egress allow httpbin.org --tls-origination")]
    Allow(AllowArgs),

    /// Set or clear the request timeout on a host's VirtualService
    #[command(after_help = "\
Examples:
  # The exercise's VirtualService: calls to httpbin.org time out after 0.5s
  kubectl egress timeout httpbin.org 0.5s

  # Longer than httpbin's /delay/1, so calls succeed again
  kubectl egress timeout httpbin.org 2s

  # Remove the timeout (the gateway route, if any, stays)
  kubectl egress timeout httpbin.org --clear")]
    Timeout(TimeoutArgs),

    /// Set or clear HTTP retries on a host's VirtualService
    #[command(after_help = "\
Examples:
  # Up to 3 retries (4 tries in all), each try given 2s, on 5xx and connection failures
  kubectl egress retries httpbin.org --attempts 3 --per-try-timeout 2s --retry-on 5xx,connect-failure

  # Remove the retries (the timeout and gateway route, if any, stay)
  kubectl egress retries httpbin.org --clear")]
    Retries(RetriesArgs),

    /// Route a host's mesh traffic through the egress gateway
    #[command(after_help = "\
Examples:
  # The exercise's routing VirtualService, to istio-egressgateway.istio-system port 80
  kubectl egress via-gateway httpbin.org

  # Use the admins' DestinationRule subset
  kubectl egress via-gateway httpbin.org --subset httpbin

  # HTTPS too: TLS on 443 goes to the gateway by SNI, untouched (needs the admins' TLS server)
  kubectl egress via-gateway httpbin.org --tls

  # Plain HTTP to the gateway, which opens TLS to the host's 443 (checks that the admins'
  # gateway does; a timeout then applies to what is HTTPS on the wire)
  kubectl egress via-gateway httpbin.org --tls-origination

  # A wildcard: only its TLS goes through the gateway
  kubectl egress via-gateway '*.wikipedia.org' --tls

  # Route straight to the host again (a timeout, if any, stays)
  kubectl egress via-gateway httpbin.org --off")]
    ViaGateway(ViaGatewayArgs),

    /// For admins: the egress gateway's objects for hosts (Gateway, DestinationRule, ServiceEntry, VirtualService)
    #[command(
        long_about = "\
For admins: the egress gateway's objects for hosts, in the gateway's namespace.

Writes, per host, into --gateway-namespace (default istio-system) what the course's admins write by
hand: a Gateway NAME-egressgateway (the egress gateway's pods, server port 80 HTTP for the host),
a DestinationRule egressgateway-for-NAME (the egress gateway Service, subset NAME), a ServiceEntry
NAME (port 80 HTTP, exportTo [\".\"], so the gateway can see the host) and the VirtualService
NAME-egressgateway (the hop from the Gateway to the host on port 80). NAME follows the naming rules
of allow (httpbin for httpbin.org). One object of each kind per host: --off deletes whole objects,
only the plugin's. The server checks all of them (dry run) before any is written.

--tls adds a Gateway server on 443 (TLS, PASSTHROUGH), port 443 TLS on the ServiceEntry and a tls
route by SNI to the host's 443. --tls-origination sends the gateway's plain HTTP from 80 to the
host's 443 (port 443 HTTPS on the ServiceEntry) with a DestinationRule originate-tls-for-NAME
(tls.mode SIMPLE, sni the host, exportTo [\".\"]). Not both: they share the host's 443. A wildcard
host goes with --tls and --upstream HOST only. Each run writes what its flags ask: run again
without --tls to remove the TLS server and route.

Students then route through it with: kubectl egress via-gateway HOST [--subset NAME]",
        after_help = "\
Examples:
  # The course's admins' objects for httpbin.org, in istio-system
  kubectl egress gateway httpbin.org

  # See them without writing
  kubectl egress gateway httpbin.org --dry-run=client -o yaml

  # HTTPS too: TLS on 443 passes through the gateway by SNI (students: via-gateway --tls)
  kubectl egress gateway httpbin.org --tls

  # The gateway opens TLS to the host's 443 for plain HTTP on 80 (students: via-gateway
  # --tls-origination; their timeouts and retries then apply to HTTPS)
  kubectl egress gateway httpbin.org --tls-origination

  # A wildcard: TLS only, to one hosting server
  kubectl egress gateway '*.wikipedia.org' --tls --upstream www.wikipedia.org

  # Another gateway deployment
  kubectl egress gateway api.example.org --gateway-namespace egress \\
      --gateway-service my-egressgateway --selector istio=my-egressgateway

  # Remove them (only what kubectl-egress wrote)
  kubectl egress gateway httpbin.org --off"
    )]
    Gateway(GatewayArgs),

    /// Apply manifests with $VAR substitution, into the namespace only
    #[command(
        long_about = "\
Apply manifests with $VAR substitution, into the namespace only.

Reads files, directories (their *.yaml, *.yml and *.json, sorted, not recursive) and - (stdin),
multi-document YAML and Lists. Before parsing, $VAR and ${VAR} are replaced from the environment,
as envsubst does, but an unset variable is an error naming the file, line and variable. Write \\$
for a literal $ (a $ not followed by a letter, _ or { is left as it is).

Every object goes into the namespace (-n, $STUDENT_NS, the context's), labelled
app.kubernetes.io/managed-by=kubectl-egress, by server-side apply. An object naming another
namespace, or a cluster-scoped kind, is refused before anything is sent. With several objects the
server checks them all first (dry run), so a rejection leaves nothing half done.",
        after_help = "\
Examples:
  # The exercise's first step (instead of: for f in start/*.yaml; do envsubst < $f | kubectl apply -f -; done)
  kubectl egress apply -f 04-egress-traffic/start/

  # Several files, and stdin
  kubectl egress apply -f api.yaml -f sentences.yaml
  cat gateway.yaml | kubectl egress apply -f -

  # See what would be sent, substituted and scoped, without a cluster
  kubectl egress apply -f 04-egress-traffic/start/ -n student1 --dry-run=client -o yaml

  # The exercise's last step (instead of: kubectl delete -f 04-egress-traffic/start/)
  kubectl egress cleanup -f 04-egress-traffic/start/"
    )]
    Apply(ApplyArgs),

    /// Show what is allowed, how it is routed, and what is wrong
    #[command(after_help = "\
Reads the namespace's ServiceEntries, VirtualServices, DestinationRules, Sidecars,
EnvoyFilters and WasmPlugins, other namespaces' ServiceEntries, VirtualServices and DestinationRules exported to it
(a cluster-wide list; where RBAC refuses it, istio-system's alone and the rest named unknown),
istio-system's gateway objects, the root namespace's Sidecars, EnvoyFilters and WasmPlugins and the mesh
config (its default exportTo applied). The Sidecar that applies is followed as istiod reads it (the hosts its egress
imports, its outboundTrafficPolicy); workloads a Sidecar's selector picks out get their own
answers (`workloads app=sentences,mode=api`), and a request on a port with an egress listener of its
own meets that listener's imports. What it cannot read is listed as unknown; an egress listener it
cannot follow (bind, captureMode), an EnvoyFilter or a WasmPlugin makes the answers unknown, naming
the object, rather than guessed.

--graph draws the same answers as a tree: per group of workloads, the sidecar, each host and port
with the objects that decided it, the path (direct, through the gateway) and what the client gets;
coloured on a terminal unless NO_COLOR is set. -o dot prints that graph for Graphviz
(`kubectl egress status -o dot | dot -Tsvg > egress.svg`).

--proxies reads each running sidecar's live Envoy config (its clusters and routes, through a
port-forward to its admin port: RBAC create on pods/portforward) and compares it with what status
predicts for that pod, host by host and port by port: `agrees`, or what differs; the live config
is shown for ports status cannot predict, and clusters for hosts status shows no row for are named.
Exit 11 when port-forwarding is forbidden; with --exit-code, 3 when a sidecar differs.

Examples:
  kubectl egress status
  kubectl egress status httpbin.org -o wide
  kubectl egress status -A -o json
  kubectl egress status --exit-code || echo 'egress needs attention'
  kubectl egress status --graph
  kubectl egress status -o dot | dot -Tsvg > egress.svg
  kubectl egress status --proxies
  kubectl egress status httpbin.org --proxies -o json | jq '.proxies[] | {pod, agrees}'")]
    Status(StatusArgs),

    /// Delete what kubectl-egress created in the namespace, nothing else
    #[command(
        long_about = "\
Delete what kubectl-egress created in the namespace, nothing else.

Without -f: only Istio objects, the ServiceEntries and VirtualServices labelled
app.kubernetes.io/managed-by=kubectl-egress (allow, timeout, via-gateway; also those apply -f
wrote), all of them or the named hosts'. Other kinds apply -f wrote (Deployments, Services,
Gateways) stay: name their files with -f.

With -f: exactly the objects those files name (after $VAR substitution), if they carry the label;
the others are skipped, and said so on stderr.",
        after_help = "\
Examples:
  kubectl egress cleanup
  kubectl egress cleanup httpbin.org
  kubectl egress cleanup --dry-run=client
  kubectl egress cleanup -f 04-egress-traffic/start/"
    )]
    Cleanup(CleanupArgs),

    /// Print a shell completion script
    #[command(after_help = "\
Examples:
  source <(kubectl egress completion bash)
  kubectl egress completion zsh > \"${fpath[1]}/_kubectl-egress\"")]
    Completion(CompletionArgs),
}

impl Command {
    /// The write's --wait, if given.
    pub fn wait(&self) -> Option<std::time::Duration> {
        match self {
            Command::Allow(a) => a.wait.wait,
            Command::Timeout(a) => a.wait.wait,
            Command::Retries(a) => a.wait.wait,
            Command::ViaGateway(a) => a.wait.wait,
            Command::Gateway(a) => a.wait.wait,
            Command::Apply(a) => a.wait.wait,
            Command::Cleanup(a) => a.wait.wait,
            Command::Status(_) | Command::Completion(_) => None,
        }
    }
}

/// --wait on every write: after writing, until every sidecar the change applies to has it live.
#[derive(Debug, Args, Clone, Default)]
pub struct WaitArgs {
    /// After the write, wait until each sidecar's live Envoy config has it (a port-forward to
    /// its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time,
    /// 11 when pods/portforward is forbidden; the write stands either way
    #[arg(
        long,
        value_name = "DURATION",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "60s",
        allow_hyphen_values = true,
        value_parser = wait_duration
    )]
    pub wait: Option<std::time::Duration>,
}

/// A Go duration over zero, e.g. 60s, 2m, 1m30s, 500ms.
fn wait_duration(value: &str) -> Result<std::time::Duration, String> {
    match crate::core::objects::validate::go_duration_nanos(value) {
        Some(0) => Err("use a duration over zero, e.g. 60s (or leave out --wait)".into()),
        Some(nanos) if nanos <= u128::from(u64::MAX) => {
            Ok(std::time::Duration::from_nanos(nanos as u64))
        }
        _ => Err("use a duration such as 60s, 2m or 500ms".into()),
    }
}

/// Flags every writing command shares.
#[derive(Debug, Args, Clone, Default)]
pub struct WriteArgs {
    /// Take over fields another field manager owns (server-side apply --force-conflicts)
    #[arg(long)]
    pub force_conflicts: bool,

    /// Take over an existing hand-made object for the same host instead of refusing
    #[arg(long)]
    pub adopt: bool,
}

#[derive(Debug, Args)]
pub struct AllowArgs {
    /// External hosts, e.g. httpbin.org or *.example.com
    #[arg(value_name = "HOST", required = true)]
    pub hosts: Vec<String>,

    /// Port as NUMBER[/PROTOCOL[/NAME]]; repeatable, replaces the default 80/HTTP and 443/HTTPS
    #[arg(long = "port", value_name = "PORT", allow_hyphen_values = true)]
    pub ports: Vec<String>,

    /// DNS, NONE, STATIC or DNS_ROUND_ROBIN [default: DNS; NONE for wildcard hosts]
    #[arg(long, value_name = "MODE")]
    pub resolution: Option<String>,

    /// Namespaces that may see the ServiceEntry: ".", "*" or a name; repeatable [default: "."]
    #[arg(long = "export-to", value_name = "NAMESPACE")]
    pub export_to: Vec<String>,

    /// MESH_EXTERNAL or MESH_INTERNAL [default: unset, which Istio treats as MESH_EXTERNAL]
    #[arg(long, value_name = "LOCATION")]
    pub location: Option<String>,

    /// Object name [default: the host's first label, e.g. httpbin for httpbin.org]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// The application speaks plain HTTP to port 80; the sidecar opens TLS to the host's 443
    /// (a DestinationRule beside the ServiceEntry), so timeouts and retries apply
    #[arg(long)]
    pub tls_origination: bool,

    #[command(flatten)]
    pub write: WriteArgs,

    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct TimeoutArgs {
    /// External host, e.g. httpbin.org
    #[arg(value_name = "HOST")]
    pub host: String,

    /// Request timeout in Go syntax, e.g. 0.5s, 500ms, 1m30s
    #[arg(
        value_name = "DURATION",
        required_unless_present = "clear",
        allow_hyphen_values = true
    )]
    pub duration: Option<String>,

    /// Remove the timeout
    #[arg(long, conflicts_with = "duration")]
    pub clear: bool,

    /// Namespaces that may see the VirtualService; repeatable [default: "."]
    #[arg(long = "export-to", value_name = "NAMESPACE")]
    pub export_to: Vec<String>,

    #[command(flatten)]
    pub check: CheckArgs,

    #[command(flatten)]
    pub write: WriteArgs,

    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct RetriesArgs {
    /// External host, e.g. httpbin.org
    #[arg(value_name = "HOST")]
    pub host: String,

    /// How many retries after the first try (Istio's retries.attempts): 3 tries up to 4 times
    #[arg(
        long,
        value_name = "N",
        required_unless_present = "clear",
        allow_hyphen_values = true
    )]
    pub attempts: Option<String>,

    /// Time allowed for each try, in Go syntax, e.g. 2s
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub per_try_timeout: Option<String>,

    /// When to retry: Envoy's conditions, comma-separated, e.g. 5xx,connect-failure
    #[arg(long, value_name = "LIST")]
    pub retry_on: Option<String>,

    /// Remove the retries
    #[arg(long, conflicts_with_all = ["attempts", "per_try_timeout", "retry_on"])]
    pub clear: bool,

    /// Namespaces that may see the VirtualService; repeatable [default: "."]
    #[arg(long = "export-to", value_name = "NAMESPACE")]
    pub export_to: Vec<String>,

    #[command(flatten)]
    pub check: CheckArgs,

    #[command(flatten)]
    pub write: WriteArgs,

    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Write even when Istio would ignore the route or answer it with an error (exit 3 otherwise)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ViaGatewayArgs {
    /// External host, e.g. httpbin.org
    #[arg(value_name = "HOST")]
    pub host: String,

    /// The egress gateway Service's FQDN
    #[arg(long, value_name = "FQDN", default_value = crate::core::objects::istio::DEFAULT_EGRESS_GATEWAY_HOST)]
    pub gateway_host: String,

    /// Port matched on the sidecar and used on the gateway
    #[arg(
        long,
        value_name = "NUMBER",
        default_value = "80",
        allow_hyphen_values = true
    )]
    pub port: String,

    /// Subset of the admins' DestinationRule for the egress gateway
    #[arg(long, value_name = "NAME")]
    pub subset: Option<String>,

    /// Also send TLS on 443 to the gateway's 443, matched by SNI (passthrough)
    #[arg(long)]
    pub tls: bool,

    /// The gateway originates TLS to the host's 443: the same route, refused unless the
    /// admins' gateway does (gateway --tls-origination)
    #[arg(long, conflicts_with = "tls")]
    pub tls_origination: bool,

    /// Route straight to the host again (HTTP and TLS)
    #[arg(long, conflicts_with_all = ["subset", "gateway_host", "port", "tls", "tls_origination"])]
    pub off: bool,

    /// Namespaces that may see the VirtualService; repeatable [default: "."]
    #[arg(long = "export-to", value_name = "NAMESPACE")]
    pub export_to: Vec<String>,

    #[command(flatten)]
    pub check: CheckArgs,

    #[command(flatten)]
    pub write: WriteArgs,

    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// External hosts, e.g. httpbin.org (a wildcard needs --tls --upstream)
    #[arg(value_name = "HOST", required = true)]
    pub hosts: Vec<String>,

    /// The egress gateway's namespace: every object goes there (-n is not used)
    #[arg(long, value_name = "NAMESPACE", default_value = crate::core::plans::gateway::DEFAULT_GATEWAY_NAMESPACE)]
    pub gateway_namespace: String,

    /// The egress gateway Service's name in that namespace (the DestinationRule's host)
    #[arg(long, value_name = "NAME", default_value = crate::core::plans::gateway::DEFAULT_GATEWAY_SERVICE)]
    pub gateway_service: String,

    /// A label of the egress gateway's pods, KEY=VALUE; repeatable, replaces the default
    /// [default: app=istio-egressgateway, istio=egressgateway]
    #[arg(long = "selector", value_name = "KEY=VALUE")]
    pub selector: Vec<String>,

    /// Also pass TLS on 443 through the gateway, routed by SNI (a PASSTHROUGH server)
    #[arg(long)]
    pub tls: bool,

    /// The gateway takes plain HTTP on 80 and opens TLS to the host's 443
    #[arg(long)]
    pub tls_origination: bool,

    /// For a wildcard host with --tls: the one concrete host the gateway connects to
    #[arg(long, value_name = "HOST")]
    pub upstream: Option<String>,

    /// Remove the host's objects (only those kubectl-egress wrote)
    #[arg(long, conflicts_with_all = ["gateway_service", "selector", "tls", "tls_origination", "upstream"])]
    pub off: bool,

    #[command(flatten)]
    pub write: WriteArgs,

    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only these hosts
    #[arg(value_name = "HOST")]
    pub hosts: Vec<String>,

    /// Every namespace (adds a NAMESPACE column)
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,

    /// Exit with 3 when there are findings of severity warning or error (or, with --proxies,
    /// a sidecar whose live config differs)
    #[arg(long)]
    pub exit_code: bool,

    /// Also read each sidecar's live Envoy config (a port-forward to its admin port, as
    /// istioctl proxy-config does) and compare it with what status predicts for that pod
    #[arg(long)]
    pub proxies: bool,

    /// Draw the paths as a tree: workloads -> sidecar -> host and port -> direct or through the
    /// gateway -> what the client gets (-o dot for Graphviz)
    #[arg(long, conflicts_with = "proxies")]
    pub graph: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A file, a directory (its *.yaml, *.yml, *.json) or - for stdin; repeatable
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub filenames: Vec<PathBuf>,

    /// Take over fields another field manager owns (server-side apply --force-conflicts)
    #[arg(long)]
    pub force_conflicts: bool,

    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Only these hosts' objects
    #[arg(value_name = "HOST")]
    pub hosts: Vec<String>,

    /// Delete the objects these files name (as apply -f reads them), if kubectl-egress made them
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "PATH",
        conflicts_with_all = ["hosts", "all_namespaces"]
    )]
    pub filenames: Vec<PathBuf>,

    /// Every namespace the plugin wrote to
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,

    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}
