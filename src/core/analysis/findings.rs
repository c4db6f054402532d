//! The findings catalogue: every code `status` can report, with its severity, what it means and
//! its message. Pure.
//!
//! Adding a finding: a line here, its analyzer in `analyzers/mod.rs` (the `ANALYZERS` table; its
//! unit test in `analyzers/tests.rs`), and its row in docs/status.md's findings table. The tests check that the three
//! agree: each code has exactly one analyzer, which emits that code only, and docs/status.md lists
//! exactly these codes with these severities and meanings. A finding can only be made from a
//! [`Code`], so no code outside the catalogue can be reported.

use std::fmt::Display;

use serde::Serialize;

use crate::core::objects::words::words;

words! {
    /// How much a finding matters; `--exit-code` fails on `warning` and `error`.
    pub enum Severity {
        Info = "info",
        Warning = "warning",
        Error = "error",
    }
}

/// A finding as `status` reports it (`{"code": "EGR007", "severity": "info", "message": "..."}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
}

/// One line of the catalogue.
#[derive(Debug)]
pub struct Entry {
    pub code: Code,
    /// What its analyzer reports (tls_twice lowers EGR019 to info in the gateway's namespace).
    pub severity: Severity,
    /// What the code means, word for word as in docs/status.md's findings table.
    pub meaning: &'static str,
    /// The message, with `{name}` where [`Code::finding`] puts a value.
    pub message: &'static str,
}

/// Makes [`Code`] and [`CATALOGUE`] from one list, so that each code has exactly one entry.
macro_rules! catalogue {
    ($(
        $name:ident = $code:literal, $severity:ident,
            meaning: $meaning:literal,
            message: $message:literal;
    )*) => {
        words! {
            /// A finding's code: `EGR001` to `EGR023`. Its severity, meaning and message are in
            /// [`CATALOGUE`] ([`Code::entry`]).
            pub enum Code {
                $( $name = $code, )*
            }
        }

        /// Every code, in order.
        pub const CATALOGUE: &[Entry] = &[$(
            Entry {
                code: Code::$name,
                severity: Severity::$severity,
                meaning: $meaning,
                message: $message,
            },
        )*];
    };
}

catalogue! {
    DuplicateVirtualService = "EGR001", Error,
        meaning: "two or more VirtualServices route the host: Istio applies one and ignores the rest",
        message: "{count} VirtualServices route {host} ({names}): Istio applies the oldest, {first}, and silently ignores the rest; keep one";
    NoServiceEntry = "EGR002", Warning,
        meaning: "a VirtualService routes the host but no ServiceEntry allows it",
        message: "VirtualService {virtual_service} routes {host} but no ServiceEntry allows it: run kubectl egress allow {host}";
    ExportedBeyondNamespace = "EGR003", Warning,
        meaning: "the ServiceEntry is visible beyond its namespace (`exportTo` other than `.`, or none; istio-system does not count for a host routed via the gateway, which needs it)",
        message: "ServiceEntry {service_entry} is visible beyond its namespace, to {to}: other namespaces may call {host}";
    TimeoutWithoutHttp = "EGR004", Warning,
        meaning: "a timeout on a host with no HTTP port: it never applies (HTTPS/TLS is opaque)",
        message: "timeout {timeout} never applies: {host} has no HTTP port, and HTTPS/TLS traffic is opaque to the sidecar; to time HTTPS calls, let the sidecar open the TLS: kubectl egress allow {host} --tls-origination (the application then calls http://{host})";
    NoGatewayForHost = "EGR005", Error,
        meaning: "routed via the gateway, but no Gateway in istio-system exposes the host",
        message: "no Gateway in istio-system exposes {host}: traffic sent to the egress gateway has no exit (404); ask the mesh admins for one";
    NoEgressGatewayService = "EGR006", Error,
        meaning: "routed via the gateway, but Service istio-egressgateway does not exist",
        message: "Service {service} does not exist: routed traffic to {host} has nowhere to go (503)";
    MeshPolicy = "EGR007", Info,
        meaning: "the mesh's outboundTrafficPolicy (from ConfigMap istio-system/istio)",
        message: "the mesh runs outboundTrafficPolicy {mode}: {effect}";
    TimeoutNotOnHttps = "EGR008", Info,
        meaning: "the timeout applies to the host's HTTP ports only, not to its HTTPS/TLS ones",
        message: "timeout {timeout} applies to HTTP only, not to {ports} (TLS is opaque to the sidecar){hint}";
    Unknown = "EGR009", Info,
        meaning: "something could not be checked (e.g. istio-system is not readable)",
        message: "cannot tell whether {what}: {why}";
    HostHiddenFromGateway = "EGR010", Error,
        meaning: "routed via the gateway, but no ServiceEntry for the host is visible in istio-system: with `exportTo: [\".\"]` the gateway cannot see the host and drops the traffic (istio#48300); fix: the admins add one there, or `allow HOST --export-to . --export-to istio-system`",
        message: "the egress gateway cannot see {host}: no ServiceEntry for it is visible in {namespace} (exportTo \".\" hides this namespace's), so the gateway drops the traffic (istio#48300); ask the mesh admins for one, or run kubectl egress allow {host} --export-to . --export-to {namespace}";
    RouteIgnored = "EGR011", Warning,
        meaning: "a VirtualService route for a port Istio ignores (the port is TLS/HTTPS, or the ServiceEntry lacks it), e.g. `via-gateway --port 443`",
        message: "VirtualService {virtual_service}'s route for port {port} is ignored by Istio: {why}; requests to port {port} go {where}";
    NoCluster = "EGR012", Error,
        meaning: "requests to a port get `503 NC`: the route names a cluster Istio does not push (no ServiceEntry for the destination port, a `--subset` no DestinationRule defines, a `--gateway-host` Service that does not exist)",
        message: "requests to {host}:{port} get {response}: {why}";
    TcpPortCatchesAll = "EGR013", Warning,
        meaning: "a TCP port with no `addresses`: every TCP connection on that port from the namespace, to any destination, goes to this host (istioctl IST0134)",
        message: "port {port}/{protocol} of ServiceEntry {service_entry} has no addresses: every TCP connection on port {port} from this namespace, to any destination, goes to {host} (istioctl IST0134); add --port {port}/TLS for TLS, or addresses";
    RoutedByListenerPort = "EGR014", Info,
        meaning: "the VirtualService names no destination port on a host with several: Istio routes each request to the port it came on (istioctl analyze reports IST0112 for the exercise's timeout VirtualService; harmless)",
        message: "VirtualService {virtual_service} names no destination port for {host}, which has {count} ports: Istio routes each request to the port it came on (istioctl analyze reports this as IST0112; harmless here)";
    NotThroughGateway = "EGR015", Info,
        meaning: "routed via the gateway, but only the HTTP ports a route matches go through it; the others (HTTPS 443) still leave directly",
        message: "only HTTP goes through the egress gateway: {ports} still leaves {host} directly from the sidecar";
    DuplicateServiceEntry = "EGR016", Error,
        meaning: "several ServiceEntries in the namespace name the host: Istio builds listeners from all of them but clusters only from the oldest and those alike in resolution, labels, workloadSelector and exportTo (their ports merged), so a port of another gets 503 NC; keep one",
        message: "{count} ServiceEntries name {host} ({names}): Istio builds listeners from all of them but clusters only from the oldest and those it can merge with it, so a port of another may get 503 NC; keep one";
    TlsRouteNotOnTlsPort = "EGR017", Warning,
        meaning: "a `tls` route (`via-gateway --tls`) for a port the ServiceEntry does not declare as TLS or HTTPS: Istio routes TLS by SNI only on those, so the route is ignored",
        message: "VirtualService {virtual_service}'s tls route for port {port} is ignored by Istio: ServiceEntry {service_entry} gives {host} {what}, and TLS is routed by SNI only on TLS or HTTPS ports{where}; fix: kubectl egress allow {host} --port {port}/TLS (or the defaults, 443/HTTPS)";
    PlainHttpToTlsPort = "EGR018", Error,
        meaning: "plain HTTP leaves for the host's 443 with no TLS originated (a `targetPort: 443`, or the gateway's second hop to 443, without the DestinationRule): an HTTPS server answers with an error; fix: `allow HOST --tls-origination` or `gateway HOST --tls-origination`",
        message: "HTTP to port {port} leaves {proxy} for {destination} in plain text: an HTTPS server there answers with an error; no DestinationRule originates TLS for it (fix: {fix})";
    TlsTwice = "EGR019", Error,
        meaning: "the application's TLS is wrapped in TLS again: a DestinationRule originates TLS on the port its TLS leaves on",
        message: "TLS to port {port} of {host} is wrapped in TLS again ({mode}) on its way to {destination}: the server sees a handshake inside a handshake and the connection fails; the DestinationRule that originates TLS there must not apply to a port that carries the application's own TLS";
    NoTlsServerAtGateway = "EGR020", Error,
        meaning: "TLS sent to the egress gateway (`via-gateway --tls`) finds no passthrough server or route there for the host: the connection is reset; fix: `gateway HOST --tls`",
        message: "TLS to {host}:{port} is sent to the egress gateway, which has no TLS passthrough server and route for it: the connection is reset; the admins run kubectl egress gateway {host} --tls";
    GatewaySideFails = "EGR021", Error,
        meaning: "(in the gateway's namespace) a request that reaches the egress gateway for the host fails there: no route (404), a host it cannot see (503 NC), no TLS route (reset)",
        message: "at the egress gateway, {what} for {host} on port {port} get{response} ({outcome}){why}";
    TlsToPlainPort = "EGR022", Warning,
        meaning: "a proxy opens TLS to port 80 of the host (a DestinationRule originates TLS there without the ServiceEntry's `targetPort: 443`): a web server there speaks plain HTTP and the handshake fails",
        message: "TLS is opened to {destination} (port {port} of the client): a web server there speaks plain HTTP, and the handshake fails; a DestinationRule originates TLS for the port without the ServiceEntry sending it to 443 (kubectl egress allow {host} --tls-origination writes both)";
    SidecarDoesNotImport = "EGR023", Warning,
        meaning: "a Sidecar that scopes the namespace's workloads (or some of them) does not import the host's ServiceEntry or VirtualService: those sidecars never get it; fix: add `./HOST` to the Sidecar's egress hosts (the plugin never edits a Sidecar)",
        message: "{whose} never get{what} for {host}: the Sidecar {sidecar} imports only {imports}; add ./{host} to its egress hosts (the plugin does not edit Sidecars)";
}

impl Code {
    /// The code's line in the catalogue.
    pub fn entry(self) -> &'static Entry {
        // CATALOGUE lists the codes in the order they are declared (one macro makes both).
        &CATALOGUE[self as usize]
    }

    /// A finding of this code, at its catalogue severity, its message made from the catalogue's
    /// with each `{name}` replaced by the value given for it. Every name in the message must be
    /// given, and nothing else (checked in debug builds, which the tests are).
    pub fn finding(self, values: &[(&str, &dyn Display)]) -> Finding {
        let entry = self.entry();
        Finding {
            code: self,
            severity: entry.severity,
            message: fill(self, entry.message, values),
        }
    }
}

/// `message` with each `{name}` replaced by its value; values are not read for names again.
fn fill(code: Code, message: &str, values: &[(&str, &dyn Display)]) -> String {
    let mut out = String::with_capacity(message.len() + 64);
    let mut used = vec![false; values.len()];
    let mut rest = message;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        out.push_str(&rest[..open]);
        let name = &rest[open + 1..close];
        match values.iter().position(|(n, _)| *n == name) {
            Some(i) => {
                out.push_str(&values[i].1.to_string());
                used[i] = true;
            }
            None => {
                debug_assert!(false, "{code}: no value for {{{name}}}");
                out.push_str(&rest[open..=close]);
            }
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    debug_assert!(
        used.iter().all(|u| *u),
        "{code}: values its message does not name: {:?}",
        values
            .iter()
            .zip(&used)
            .filter(|(_, u)| !**u)
            .map(|((n, _), _)| *n)
            .collect::<Vec<_>>()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_lists_each_code_once_in_order() {
        assert_eq!(CATALOGUE.len(), Code::ALL.len());
        for (i, (entry, code)) in CATALOGUE.iter().zip(Code::ALL).enumerate() {
            assert_eq!(entry.code, *code);
            assert_eq!(code.entry().code, *code);
            assert_eq!(code.as_str(), format!("EGR{:03}", i + 1));
        }
    }

    /// Names in a message are `{lower_case}`, and braces come only in pairs around them.
    #[test]
    fn messages_name_their_values_plainly() {
        for entry in CATALOGUE {
            let mut rest = entry.message;
            while let Some(open) = rest.find(['{', '}']) {
                assert_eq!(&rest[open..=open], "{", "{}: a lone }}", entry.code);
                let close = rest[open..].find('}').expect("a closing brace") + open;
                let name = &rest[open + 1..close];
                assert!(
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{}: {{{name}}}",
                    entry.code
                );
                rest = &rest[close + 1..];
            }
        }
    }

    #[test]
    fn a_finding_fills_its_message_and_takes_its_severity() {
        let f = Code::NoCluster.finding(&[
            ("host", &"httpbin.org"),
            ("port", &80),
            ("response", &"503 NC"),
            ("why", &"{host} is not read again"),
        ]);
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(
            f.message,
            "requests to httpbin.org:80 get 503 NC: {host} is not read again"
        );
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"code":"EGR012","severity":"error","message":"requests to httpbin.org:80 get 503 NC: {host} is not read again"}"#
        );
    }

    #[test]
    #[should_panic(expected = "no value for {why}")]
    fn a_missing_value_is_caught() {
        Code::NoCluster.finding(&[("host", &"a.org"), ("port", &80), ("response", &"502")]);
    }

    /// docs/status.md's findings table: `| code | severity | meaning |`, one row per code.
    fn readme_table(readme: &str) -> Vec<(String, String, String)> {
        let table = readme
            .split("\n### Findings\n")
            .nth(1)
            .expect("docs/status.md has a \"### Findings\" section");
        table
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .map(|row| {
                let cells: Vec<&str> = row
                    .trim_start_matches("| ")
                    .trim_end_matches(" |")
                    .splitn(3, " | ")
                    .collect();
                assert_eq!(cells.len(), 3, "docs/status.md row: {row}");
                (cells[0].into(), cells[1].into(), cells[2].into())
            })
            .collect()
    }

    #[test]
    fn readme_lists_exactly_the_catalogue() {
        let readme = readme_table(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/status.md"
        )));
        let catalogue: Vec<(String, String, String)> = CATALOGUE
            .iter()
            .map(|e| {
                (
                    e.code.to_string(),
                    e.severity.to_string(),
                    e.meaning.to_string(),
                )
            })
            .collect();
        for (ours, theirs) in catalogue.iter().zip(&readme) {
            assert_eq!(
                ours, theirs,
                "docs/status.md's findings table and the catalogue differ"
            );
        }
        assert_eq!(catalogue.len(), readme.len(), "docs/status.md: {readme:?}");
    }

    #[test]
    fn the_readme_check_can_fail() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/status.md"));
        let table = readme_table(readme);
        assert_eq!(table.len(), CATALOGUE.len());
        // A meaning reworded, a severity changed, a row dropped: each differs.
        let reworded = readme.replacen(
            "Istio applies one and ignores the rest",
            "Istio merges them",
            1,
        );
        assert_ne!(readme_table(&reworded), table);
        let lowered = readme.replacen("| EGR001 | error |", "| EGR001 | warning |", 1);
        assert_ne!(readme_table(&lowered), table);
        let dropped = readme.replacen("| EGR022 |", "EGR022 |", 1);
        assert_ne!(readme_table(&dropped).len(), table.len());
    }
}
