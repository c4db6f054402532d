# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_kubectl_egress_global_optspecs
    string join \n n/namespace= context= kubeconfig= o/output= dry-run= field-manager= api-version= request-timeout= h/help V/version
end

function __fish_kubectl_egress_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_kubectl_egress_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_kubectl_egress_using_subcommand
    set -l cmd (__fish_kubectl_egress_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -s n -l namespace -d 'Namespace to work in [default: $STUDENT_NS, else the context\'s namespace, else default]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -l context -d 'Kubeconfig context to use' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]' -r -F
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -s o -l output -d 'Output format: yaml, json or name (status: wide, yaml, json, dot)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -l dry-run -d 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -l field-manager -d 'Field manager for server-side apply' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -l api-version -d 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -l request-timeout -d 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -s V -l version -d 'Print version'
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -f -a "allow" -d 'Allow traffic to external hosts: one ServiceEntry per host'
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -f -a "timeout" -d 'Set or clear the request timeout on a host\'s VirtualService'
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -f -a "retries" -d 'Set or clear HTTP retries on a host\'s VirtualService'
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -f -a "via-gateway" -d 'Route a host\'s mesh traffic through the egress gateway'
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -f -a "gateway" -d 'For admins: the egress gateway\'s objects for hosts (Gateway, DestinationRule, ServiceEntry, VirtualService)'
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -f -a "apply" -d 'Apply manifests with $VAR substitution, into the namespace only'
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -f -a "status" -d 'Show what is allowed, how it is routed, and what is wrong'
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -f -a "cleanup" -d 'Delete what kubectl-egress created in the namespace, nothing else'
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -f -a "completion" -d 'Print a shell completion script'
complete -c kubectl-egress -n "__fish_kubectl_egress_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l port -d 'Port as NUMBER[/PROTOCOL[/NAME]]; repeatable, replaces the default 80/HTTP and 443/HTTPS' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l resolution -d 'DNS, NONE, STATIC or DNS_ROUND_ROBIN [default: DNS; NONE for wildcard hosts]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l export-to -d 'Namespaces that may see the ServiceEntry: ".", "*" or a name; repeatable [default: "."]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l location -d 'MESH_EXTERNAL or MESH_INTERNAL [default: unset, which Istio treats as MESH_EXTERNAL]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l name -d 'Object name [default: the host\'s first label, e.g. httpbin for httpbin.org]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l wait -d 'After the write, wait until each sidecar\'s live Envoy config has it (a port-forward to its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time, 11 when pods/portforward is forbidden; the write stands either way' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -s n -l namespace -d 'Namespace to work in [default: $STUDENT_NS, else the context\'s namespace, else default]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l context -d 'Kubeconfig context to use' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]' -r -F
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -s o -l output -d 'Output format: yaml, json or name (status: wide, yaml, json, dot)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l dry-run -d 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l field-manager -d 'Field manager for server-side apply' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l api-version -d 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l request-timeout -d 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l tls-origination -d 'The application speaks plain HTTP to port 80; the sidecar opens TLS to the host\'s 443 (a DestinationRule beside the ServiceEntry), so timeouts and retries apply'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l force-conflicts -d 'Take over fields another field manager owns (server-side apply --force-conflicts)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -l adopt -d 'Take over an existing hand-made object for the same host instead of refusing'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -s h -l help -d 'Print help'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand allow" -s V -l version -d 'Print version'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -l export-to -d 'Namespaces that may see the VirtualService; repeatable [default: "."]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -l wait -d 'After the write, wait until each sidecar\'s live Envoy config has it (a port-forward to its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time, 11 when pods/portforward is forbidden; the write stands either way' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -s n -l namespace -d 'Namespace to work in [default: $STUDENT_NS, else the context\'s namespace, else default]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -l context -d 'Kubeconfig context to use' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]' -r -F
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -s o -l output -d 'Output format: yaml, json or name (status: wide, yaml, json, dot)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -l dry-run -d 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -l field-manager -d 'Field manager for server-side apply' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -l api-version -d 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -l request-timeout -d 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -l clear -d 'Remove the timeout'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -l force -d 'Write even when Istio would ignore the route or answer it with an error (exit 3 otherwise)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -l force-conflicts -d 'Take over fields another field manager owns (server-side apply --force-conflicts)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -l adopt -d 'Take over an existing hand-made object for the same host instead of refusing'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -s h -l help -d 'Print help'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand timeout" -s V -l version -d 'Print version'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l attempts -d 'How many retries after the first try (Istio\'s retries.attempts): 3 tries up to 4 times' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l per-try-timeout -d 'Time allowed for each try, in Go syntax, e.g. 2s' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l retry-on -d 'When to retry: Envoy\'s conditions, comma-separated, e.g. 5xx,connect-failure' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l export-to -d 'Namespaces that may see the VirtualService; repeatable [default: "."]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l wait -d 'After the write, wait until each sidecar\'s live Envoy config has it (a port-forward to its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time, 11 when pods/portforward is forbidden; the write stands either way' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -s n -l namespace -d 'Namespace to work in [default: $STUDENT_NS, else the context\'s namespace, else default]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l context -d 'Kubeconfig context to use' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]' -r -F
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -s o -l output -d 'Output format: yaml, json or name (status: wide, yaml, json, dot)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l dry-run -d 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l field-manager -d 'Field manager for server-side apply' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l api-version -d 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l request-timeout -d 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l clear -d 'Remove the retries'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l force -d 'Write even when Istio would ignore the route or answer it with an error (exit 3 otherwise)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l force-conflicts -d 'Take over fields another field manager owns (server-side apply --force-conflicts)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -l adopt -d 'Take over an existing hand-made object for the same host instead of refusing'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -s h -l help -d 'Print help'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand retries" -s V -l version -d 'Print version'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l gateway-host -d 'The egress gateway Service\'s FQDN' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l port -d 'Port matched on the sidecar and used on the gateway' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l subset -d 'Subset of the admins\' DestinationRule for the egress gateway' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l export-to -d 'Namespaces that may see the VirtualService; repeatable [default: "."]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l wait -d 'After the write, wait until each sidecar\'s live Envoy config has it (a port-forward to its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time, 11 when pods/portforward is forbidden; the write stands either way' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -s n -l namespace -d 'Namespace to work in [default: $STUDENT_NS, else the context\'s namespace, else default]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l context -d 'Kubeconfig context to use' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]' -r -F
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -s o -l output -d 'Output format: yaml, json or name (status: wide, yaml, json, dot)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l dry-run -d 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l field-manager -d 'Field manager for server-side apply' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l api-version -d 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l request-timeout -d 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l tls -d 'Also send TLS on 443 to the gateway\'s 443, matched by SNI (passthrough)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l tls-origination -d 'The gateway originates TLS to the host\'s 443: the same route, refused unless the admins\' gateway does (gateway --tls-origination)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l off -d 'Route straight to the host again (HTTP and TLS)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l force -d 'Write even when Istio would ignore the route or answer it with an error (exit 3 otherwise)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l force-conflicts -d 'Take over fields another field manager owns (server-side apply --force-conflicts)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -l adopt -d 'Take over an existing hand-made object for the same host instead of refusing'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -s h -l help -d 'Print help'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand via-gateway" -s V -l version -d 'Print version'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l gateway-namespace -d 'The egress gateway\'s namespace: every object goes there (-n is not used)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l gateway-service -d 'The egress gateway Service\'s name in that namespace (the DestinationRule\'s host)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l selector -d 'A label of the egress gateway\'s pods, KEY=VALUE; repeatable, replaces the default [default: app=istio-egressgateway, istio=egressgateway]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l upstream -d 'For a wildcard host with --tls: the one concrete host the gateway connects to' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l wait -d 'After the write, wait until each sidecar\'s live Envoy config has it (a port-forward to its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time, 11 when pods/portforward is forbidden; the write stands either way' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -s n -l namespace -d 'Namespace to work in [default: $STUDENT_NS, else the context\'s namespace, else default]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l context -d 'Kubeconfig context to use' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]' -r -F
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -s o -l output -d 'Output format: yaml, json or name (status: wide, yaml, json, dot)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l dry-run -d 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l field-manager -d 'Field manager for server-side apply' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l api-version -d 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l request-timeout -d 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l tls -d 'Also pass TLS on 443 through the gateway, routed by SNI (a PASSTHROUGH server)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l tls-origination -d 'The gateway takes plain HTTP on 80 and opens TLS to the host\'s 443'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l off -d 'Remove the host\'s objects (only those kubectl-egress wrote)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l force-conflicts -d 'Take over fields another field manager owns (server-side apply --force-conflicts)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -l adopt -d 'Take over an existing hand-made object for the same host instead of refusing'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand gateway" -s V -l version -d 'Print version'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand apply" -s f -l filename -d 'A file, a directory (its *.yaml, *.yml, *.json) or - for stdin; repeatable' -r -F
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand apply" -l wait -d 'After the write, wait until each sidecar\'s live Envoy config has it (a port-forward to its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time, 11 when pods/portforward is forbidden; the write stands either way' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand apply" -s n -l namespace -d 'Namespace to work in [default: $STUDENT_NS, else the context\'s namespace, else default]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand apply" -l context -d 'Kubeconfig context to use' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand apply" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]' -r -F
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand apply" -s o -l output -d 'Output format: yaml, json or name (status: wide, yaml, json, dot)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand apply" -l dry-run -d 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand apply" -l field-manager -d 'Field manager for server-side apply' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand apply" -l api-version -d 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand apply" -l request-timeout -d 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand apply" -l force-conflicts -d 'Take over fields another field manager owns (server-side apply --force-conflicts)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand apply" -s V -l version -d 'Print version'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand status" -s n -l namespace -d 'Namespace to work in [default: $STUDENT_NS, else the context\'s namespace, else default]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand status" -l context -d 'Kubeconfig context to use' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand status" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]' -r -F
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand status" -s o -l output -d 'Output format: yaml, json or name (status: wide, yaml, json, dot)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand status" -l dry-run -d 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand status" -l field-manager -d 'Field manager for server-side apply' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand status" -l api-version -d 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand status" -l request-timeout -d 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand status" -s A -l all-namespaces -d 'Every namespace (adds a NAMESPACE column)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand status" -l exit-code -d 'Exit with 3 when there are findings of severity warning or error (or, with --proxies, a sidecar whose live config differs)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand status" -l proxies -d 'Also read each sidecar\'s live Envoy config (a port-forward to its admin port, as istioctl proxy-config does) and compare it with what status predicts for that pod'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand status" -l graph -d 'Draw the paths as a tree: workloads -> sidecar -> host and port -> direct or through the gateway -> what the client gets (-o dot for Graphviz)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand status" -s h -l help -d 'Print help'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand status" -s V -l version -d 'Print version'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand cleanup" -s f -l filename -d 'Delete the objects these files name (as apply -f reads them), if kubectl-egress made them' -r -F
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand cleanup" -l wait -d 'After the write, wait until each sidecar\'s live Envoy config has it (a port-forward to its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time, 11 when pods/portforward is forbidden; the write stands either way' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand cleanup" -s n -l namespace -d 'Namespace to work in [default: $STUDENT_NS, else the context\'s namespace, else default]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand cleanup" -l context -d 'Kubeconfig context to use' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand cleanup" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]' -r -F
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand cleanup" -s o -l output -d 'Output format: yaml, json or name (status: wide, yaml, json, dot)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand cleanup" -l dry-run -d 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand cleanup" -l field-manager -d 'Field manager for server-side apply' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand cleanup" -l api-version -d 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand cleanup" -l request-timeout -d 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand cleanup" -s A -l all-namespaces -d 'Every namespace the plugin wrote to'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand cleanup" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand cleanup" -s V -l version -d 'Print version'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand completion" -s n -l namespace -d 'Namespace to work in [default: $STUDENT_NS, else the context\'s namespace, else default]' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand completion" -l context -d 'Kubeconfig context to use' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand completion" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]' -r -F
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand completion" -s o -l output -d 'Output format: yaml, json or name (status: wide, yaml, json, dot)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand completion" -l dry-run -d 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand completion" -l field-manager -d 'Field manager for server-side apply' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand completion" -l api-version -d 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand completion" -l request-timeout -d 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes' -r
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand completion" -s h -l help -d 'Print help'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand completion" -s V -l version -d 'Print version'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand help; and not __fish_seen_subcommand_from allow timeout retries via-gateway gateway apply status cleanup completion help" -f -a "allow" -d 'Allow traffic to external hosts: one ServiceEntry per host'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand help; and not __fish_seen_subcommand_from allow timeout retries via-gateway gateway apply status cleanup completion help" -f -a "timeout" -d 'Set or clear the request timeout on a host\'s VirtualService'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand help; and not __fish_seen_subcommand_from allow timeout retries via-gateway gateway apply status cleanup completion help" -f -a "retries" -d 'Set or clear HTTP retries on a host\'s VirtualService'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand help; and not __fish_seen_subcommand_from allow timeout retries via-gateway gateway apply status cleanup completion help" -f -a "via-gateway" -d 'Route a host\'s mesh traffic through the egress gateway'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand help; and not __fish_seen_subcommand_from allow timeout retries via-gateway gateway apply status cleanup completion help" -f -a "gateway" -d 'For admins: the egress gateway\'s objects for hosts (Gateway, DestinationRule, ServiceEntry, VirtualService)'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand help; and not __fish_seen_subcommand_from allow timeout retries via-gateway gateway apply status cleanup completion help" -f -a "apply" -d 'Apply manifests with $VAR substitution, into the namespace only'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand help; and not __fish_seen_subcommand_from allow timeout retries via-gateway gateway apply status cleanup completion help" -f -a "status" -d 'Show what is allowed, how it is routed, and what is wrong'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand help; and not __fish_seen_subcommand_from allow timeout retries via-gateway gateway apply status cleanup completion help" -f -a "cleanup" -d 'Delete what kubectl-egress created in the namespace, nothing else'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand help; and not __fish_seen_subcommand_from allow timeout retries via-gateway gateway apply status cleanup completion help" -f -a "completion" -d 'Print a shell completion script'
complete -c kubectl-egress -n "__fish_kubectl_egress_using_subcommand help; and not __fish_seen_subcommand_from allow timeout retries via-gateway gateway apply status cleanup completion help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
