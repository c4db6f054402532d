
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'kubectl-egress' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'kubectl-egress'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'kubectl-egress' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing')
            [CompletionResult]::new('--field-manager', '--field-manager', [CompletionResultType]::ParameterName, 'Field manager for server-side apply')
            [CompletionResult]::new('--api-version', '--api-version', [CompletionResultType]::ParameterName, 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('allow', 'allow', [CompletionResultType]::ParameterValue, 'Allow traffic to external hosts: one ServiceEntry per host')
            [CompletionResult]::new('timeout', 'timeout', [CompletionResultType]::ParameterValue, 'Set or clear the request timeout on a host''s VirtualService')
            [CompletionResult]::new('retries', 'retries', [CompletionResultType]::ParameterValue, 'Set or clear HTTP retries on a host''s VirtualService')
            [CompletionResult]::new('via-gateway', 'via-gateway', [CompletionResultType]::ParameterValue, 'Route a host''s mesh traffic through the egress gateway')
            [CompletionResult]::new('gateway', 'gateway', [CompletionResultType]::ParameterValue, 'For admins: the egress gateway''s objects for hosts (Gateway, DestinationRule, ServiceEntry, VirtualService)')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Apply manifests with $VAR substitution, into the namespace only')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show what is allowed, how it is routed, and what is wrong')
            [CompletionResult]::new('cleanup', 'cleanup', [CompletionResultType]::ParameterValue, 'Delete what kubectl-egress created in the namespace, nothing else')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-egress;allow' {
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port as NUMBER[/PROTOCOL[/NAME]]; repeatable, replaces the default 80/HTTP and 443/HTTPS')
            [CompletionResult]::new('--resolution', '--resolution', [CompletionResultType]::ParameterName, 'DNS, NONE, STATIC or DNS_ROUND_ROBIN [default: DNS; NONE for wildcard hosts]')
            [CompletionResult]::new('--export-to', '--export-to', [CompletionResultType]::ParameterName, 'Namespaces that may see the ServiceEntry: ".", "*" or a name; repeatable [default: "."]')
            [CompletionResult]::new('--location', '--location', [CompletionResultType]::ParameterName, 'MESH_EXTERNAL or MESH_INTERNAL [default: unset, which Istio treats as MESH_EXTERNAL]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Object name [default: the host''s first label, e.g. httpbin for httpbin.org]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the write, wait until each sidecar''s live Envoy config has it (a port-forward to its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time, 11 when pods/portforward is forbidden; the write stands either way')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing')
            [CompletionResult]::new('--field-manager', '--field-manager', [CompletionResultType]::ParameterName, 'Field manager for server-side apply')
            [CompletionResult]::new('--api-version', '--api-version', [CompletionResultType]::ParameterName, 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes')
            [CompletionResult]::new('--tls-origination', '--tls-origination', [CompletionResultType]::ParameterName, 'The application speaks plain HTTP to port 80; the sidecar opens TLS to the host''s 443 (a DestinationRule beside the ServiceEntry), so timeouts and retries apply')
            [CompletionResult]::new('--force-conflicts', '--force-conflicts', [CompletionResultType]::ParameterName, 'Take over fields another field manager owns (server-side apply --force-conflicts)')
            [CompletionResult]::new('--adopt', '--adopt', [CompletionResultType]::ParameterName, 'Take over an existing hand-made object for the same host instead of refusing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kubectl-egress;timeout' {
            [CompletionResult]::new('--export-to', '--export-to', [CompletionResultType]::ParameterName, 'Namespaces that may see the VirtualService; repeatable [default: "."]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the write, wait until each sidecar''s live Envoy config has it (a port-forward to its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time, 11 when pods/portforward is forbidden; the write stands either way')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing')
            [CompletionResult]::new('--field-manager', '--field-manager', [CompletionResultType]::ParameterName, 'Field manager for server-side apply')
            [CompletionResult]::new('--api-version', '--api-version', [CompletionResultType]::ParameterName, 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes')
            [CompletionResult]::new('--clear', '--clear', [CompletionResultType]::ParameterName, 'Remove the timeout')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Write even when Istio would ignore the route or answer it with an error (exit 3 otherwise)')
            [CompletionResult]::new('--force-conflicts', '--force-conflicts', [CompletionResultType]::ParameterName, 'Take over fields another field manager owns (server-side apply --force-conflicts)')
            [CompletionResult]::new('--adopt', '--adopt', [CompletionResultType]::ParameterName, 'Take over an existing hand-made object for the same host instead of refusing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kubectl-egress;retries' {
            [CompletionResult]::new('--attempts', '--attempts', [CompletionResultType]::ParameterName, 'How many retries after the first try (Istio''s retries.attempts): 3 tries up to 4 times')
            [CompletionResult]::new('--per-try-timeout', '--per-try-timeout', [CompletionResultType]::ParameterName, 'Time allowed for each try, in Go syntax, e.g. 2s')
            [CompletionResult]::new('--retry-on', '--retry-on', [CompletionResultType]::ParameterName, 'When to retry: Envoy''s conditions, comma-separated, e.g. 5xx,connect-failure')
            [CompletionResult]::new('--export-to', '--export-to', [CompletionResultType]::ParameterName, 'Namespaces that may see the VirtualService; repeatable [default: "."]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the write, wait until each sidecar''s live Envoy config has it (a port-forward to its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time, 11 when pods/portforward is forbidden; the write stands either way')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing')
            [CompletionResult]::new('--field-manager', '--field-manager', [CompletionResultType]::ParameterName, 'Field manager for server-side apply')
            [CompletionResult]::new('--api-version', '--api-version', [CompletionResultType]::ParameterName, 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes')
            [CompletionResult]::new('--clear', '--clear', [CompletionResultType]::ParameterName, 'Remove the retries')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Write even when Istio would ignore the route or answer it with an error (exit 3 otherwise)')
            [CompletionResult]::new('--force-conflicts', '--force-conflicts', [CompletionResultType]::ParameterName, 'Take over fields another field manager owns (server-side apply --force-conflicts)')
            [CompletionResult]::new('--adopt', '--adopt', [CompletionResultType]::ParameterName, 'Take over an existing hand-made object for the same host instead of refusing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kubectl-egress;via-gateway' {
            [CompletionResult]::new('--gateway-host', '--gateway-host', [CompletionResultType]::ParameterName, 'The egress gateway Service''s FQDN')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port matched on the sidecar and used on the gateway')
            [CompletionResult]::new('--subset', '--subset', [CompletionResultType]::ParameterName, 'Subset of the admins'' DestinationRule for the egress gateway')
            [CompletionResult]::new('--export-to', '--export-to', [CompletionResultType]::ParameterName, 'Namespaces that may see the VirtualService; repeatable [default: "."]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the write, wait until each sidecar''s live Envoy config has it (a port-forward to its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time, 11 when pods/portforward is forbidden; the write stands either way')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing')
            [CompletionResult]::new('--field-manager', '--field-manager', [CompletionResultType]::ParameterName, 'Field manager for server-side apply')
            [CompletionResult]::new('--api-version', '--api-version', [CompletionResultType]::ParameterName, 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Also send TLS on 443 to the gateway''s 443, matched by SNI (passthrough)')
            [CompletionResult]::new('--tls-origination', '--tls-origination', [CompletionResultType]::ParameterName, 'The gateway originates TLS to the host''s 443: the same route, refused unless the admins'' gateway does (gateway --tls-origination)')
            [CompletionResult]::new('--off', '--off', [CompletionResultType]::ParameterName, 'Route straight to the host again (HTTP and TLS)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Write even when Istio would ignore the route or answer it with an error (exit 3 otherwise)')
            [CompletionResult]::new('--force-conflicts', '--force-conflicts', [CompletionResultType]::ParameterName, 'Take over fields another field manager owns (server-side apply --force-conflicts)')
            [CompletionResult]::new('--adopt', '--adopt', [CompletionResultType]::ParameterName, 'Take over an existing hand-made object for the same host instead of refusing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kubectl-egress;gateway' {
            [CompletionResult]::new('--gateway-namespace', '--gateway-namespace', [CompletionResultType]::ParameterName, 'The egress gateway''s namespace: every object goes there (-n is not used)')
            [CompletionResult]::new('--gateway-service', '--gateway-service', [CompletionResultType]::ParameterName, 'The egress gateway Service''s name in that namespace (the DestinationRule''s host)')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'A label of the egress gateway''s pods, KEY=VALUE; repeatable, replaces the default [default: app=istio-egressgateway, istio=egressgateway]')
            [CompletionResult]::new('--upstream', '--upstream', [CompletionResultType]::ParameterName, 'For a wildcard host with --tls: the one concrete host the gateway connects to')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the write, wait until each sidecar''s live Envoy config has it (a port-forward to its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time, 11 when pods/portforward is forbidden; the write stands either way')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing')
            [CompletionResult]::new('--field-manager', '--field-manager', [CompletionResultType]::ParameterName, 'Field manager for server-side apply')
            [CompletionResult]::new('--api-version', '--api-version', [CompletionResultType]::ParameterName, 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Also pass TLS on 443 through the gateway, routed by SNI (a PASSTHROUGH server)')
            [CompletionResult]::new('--tls-origination', '--tls-origination', [CompletionResultType]::ParameterName, 'The gateway takes plain HTTP on 80 and opens TLS to the host''s 443')
            [CompletionResult]::new('--off', '--off', [CompletionResultType]::ParameterName, 'Remove the host''s objects (only those kubectl-egress wrote)')
            [CompletionResult]::new('--force-conflicts', '--force-conflicts', [CompletionResultType]::ParameterName, 'Take over fields another field manager owns (server-side apply --force-conflicts)')
            [CompletionResult]::new('--adopt', '--adopt', [CompletionResultType]::ParameterName, 'Take over an existing hand-made object for the same host instead of refusing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kubectl-egress;apply' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'A file, a directory (its *.yaml, *.yml, *.json) or - for stdin; repeatable')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'A file, a directory (its *.yaml, *.yml, *.json) or - for stdin; repeatable')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the write, wait until each sidecar''s live Envoy config has it (a port-forward to its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time, 11 when pods/portforward is forbidden; the write stands either way')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing')
            [CompletionResult]::new('--field-manager', '--field-manager', [CompletionResultType]::ParameterName, 'Field manager for server-side apply')
            [CompletionResult]::new('--api-version', '--api-version', [CompletionResultType]::ParameterName, 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes')
            [CompletionResult]::new('--force-conflicts', '--force-conflicts', [CompletionResultType]::ParameterName, 'Take over fields another field manager owns (server-side apply --force-conflicts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kubectl-egress;status' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing')
            [CompletionResult]::new('--field-manager', '--field-manager', [CompletionResultType]::ParameterName, 'Field manager for server-side apply')
            [CompletionResult]::new('--api-version', '--api-version', [CompletionResultType]::ParameterName, 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Every namespace (adds a NAMESPACE column)')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'Every namespace (adds a NAMESPACE column)')
            [CompletionResult]::new('--exit-code', '--exit-code', [CompletionResultType]::ParameterName, 'Exit with 3 when there are findings of severity warning or error (or, with --proxies, a sidecar whose live config differs)')
            [CompletionResult]::new('--proxies', '--proxies', [CompletionResultType]::ParameterName, 'Also read each sidecar''s live Envoy config (a port-forward to its admin port, as istioctl proxy-config does) and compare it with what status predicts for that pod')
            [CompletionResult]::new('--graph', '--graph', [CompletionResultType]::ParameterName, 'Draw the paths as a tree: workloads -> sidecar -> host and port -> direct or through the gateway -> what the client gets (-o dot for Graphviz)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kubectl-egress;cleanup' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Delete the objects these files name (as apply -f reads them), if kubectl-egress made them')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Delete the objects these files name (as apply -f reads them), if kubectl-egress made them')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the write, wait until each sidecar''s live Envoy config has it (a port-forward to its admin port); bare --wait waits up to 60s. Exit 10 when some did not in time, 11 when pods/portforward is forbidden; the write stands either way')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing')
            [CompletionResult]::new('--field-manager', '--field-manager', [CompletionResultType]::ParameterName, 'Field manager for server-side apply')
            [CompletionResult]::new('--api-version', '--api-version', [CompletionResultType]::ParameterName, 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Every namespace the plugin wrote to')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'Every namespace the plugin wrote to')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kubectl-egress;completion' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace to work in [default: $STUDENT_NS, else the context''s namespace, else default]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: yaml, json or name (status: wide, yaml, json, dot)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'none: apply; client: print what would be sent; server: send with dryRun, persist nothing')
            [CompletionResult]::new('--field-manager', '--field-manager', [CompletionResultType]::ParameterName, 'Field manager for server-side apply')
            [CompletionResult]::new('--api-version', '--api-version', [CompletionResultType]::ParameterName, 'networking.istio.io version: v1, v1beta1, or auto (ask the cluster; offline: v1beta1)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long to wait for each API request, e.g. 10s; 0 waits as long as it takes')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kubectl-egress;help' {
            [CompletionResult]::new('allow', 'allow', [CompletionResultType]::ParameterValue, 'Allow traffic to external hosts: one ServiceEntry per host')
            [CompletionResult]::new('timeout', 'timeout', [CompletionResultType]::ParameterValue, 'Set or clear the request timeout on a host''s VirtualService')
            [CompletionResult]::new('retries', 'retries', [CompletionResultType]::ParameterValue, 'Set or clear HTTP retries on a host''s VirtualService')
            [CompletionResult]::new('via-gateway', 'via-gateway', [CompletionResultType]::ParameterValue, 'Route a host''s mesh traffic through the egress gateway')
            [CompletionResult]::new('gateway', 'gateway', [CompletionResultType]::ParameterValue, 'For admins: the egress gateway''s objects for hosts (Gateway, DestinationRule, ServiceEntry, VirtualService)')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Apply manifests with $VAR substitution, into the namespace only')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show what is allowed, how it is routed, and what is wrong')
            [CompletionResult]::new('cleanup', 'cleanup', [CompletionResultType]::ParameterValue, 'Delete what kubectl-egress created in the namespace, nothing else')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-egress;help;allow' {
            break
        }
        'kubectl-egress;help;timeout' {
            break
        }
        'kubectl-egress;help;retries' {
            break
        }
        'kubectl-egress;help;via-gateway' {
            break
        }
        'kubectl-egress;help;gateway' {
            break
        }
        'kubectl-egress;help;apply' {
            break
        }
        'kubectl-egress;help;status' {
            break
        }
        'kubectl-egress;help;cleanup' {
            break
        }
        'kubectl-egress;help;completion' {
            break
        }
        'kubectl-egress;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
