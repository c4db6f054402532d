//! Validators for everything a user types: hosts, durations, ports, names.
//!
//! Each returns a typed value or an [`InputError`] whose message names the bad value and says
//! what would be accepted. They run before any network or file access, so a refusal changes nothing.

use std::fmt;

/// A refused input: one line for the user, naming the value and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

fn refuse<T>(message: impl Into<String>) -> Result<T, InputError> {
    Err(InputError(message.into()))
}

// ---------------------------------------------------------------------------------------------
// Hosts

/// An external host as Istio's ServiceEntry `hosts` accepts it: a lower-case DNS name, optionally
/// with a leading `*.` wildcard.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Host(String);

impl Host {
    pub fn parse(input: &str) -> Result<Host, InputError> {
        let shown = input.escape_debug().to_string();
        if input.is_empty() {
            return refuse("host must not be empty: give a DNS name such as httpbin.org");
        }
        let address = input.trim_start_matches('[').trim_end_matches(']');
        if address.parse::<std::net::IpAddr>().is_ok()
            || probable_host(input).is_some_and(|h| h.parse::<std::net::Ipv4Addr>().is_ok())
        {
            return refuse(format!(
                "invalid host \"{shown}\": an IP address; this tool takes host names (a ServiceEntry for IPs needs addresses and resolution STATIC: write that one by hand)"
            ));
        }
        if input == "*" {
            return refuse(
                "host \"*\" would allow every destination: name the hosts, e.g. httpbin.org or *.example.com",
            );
        }
        if let Some(meant) = probable_host(input)
            && meant != input
            && Host::check(&meant).is_ok()
        {
            let why = if input.contains("://") {
                "a host, not a URL"
            } else if input.contains(':') && !input.contains('/') {
                "a host without a port (set ports with --port)"
            } else if input.chars().any(|c| c.is_ascii_uppercase()) {
                "a lower-case host"
            } else if input.ends_with('.') {
                "a host without the trailing dot"
            } else {
                "a host, without path or spaces"
            };
            return refuse(format!(
                "invalid host \"{shown}\": expected {why}; did you mean \"{meant}\"?"
            ));
        }
        Host::check(input).map(|()| Host(input.to_string()))
    }

    fn check(input: &str) -> Result<(), InputError> {
        let shown = input.escape_debug();
        if input.len() > 253 {
            return refuse(format!(
                "invalid host \"{shown}\": {} characters, the limit is 253",
                input.len()
            ));
        }
        let name = input.strip_prefix("*.").unwrap_or(input);
        if name.contains('*') {
            return refuse(format!(
                "invalid host \"{shown}\": a wildcard may only be a leading \"*.\", e.g. *.example.com"
            ));
        }
        for label in name.split('.') {
            if label.is_empty() {
                return refuse(format!(
                    "invalid host \"{shown}\": empty label (two dots, or a dot at either end)"
                ));
            }
            if label.len() > 63 {
                return refuse(format!(
                    "invalid host \"{shown}\": label \"{label}\" is {} characters, the limit is 63",
                    label.len()
                ));
            }
            if !is_rfc1123_label(label) {
                return refuse(format!(
                    "invalid host \"{shown}\": label \"{}\" must be lower-case letters, digits and '-', \
                     starting and ending with a letter or digit",
                    label.escape_debug()
                ));
            }
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }

    /// The first name the plugin tries for this host's ServiceEntry and VirtualService (taken
    /// names are worked around in core::naming): the host's first label (`httpbin.org` -> `httpbin`, as the exercise names it); a wildcard host gets
    /// `wildcard-` and its first concrete label (`*.wikipedia.org` -> `wildcard-wikipedia`).
    pub fn default_object_name(&self) -> String {
        match self.0.strip_prefix("*.") {
            Some(rest) => {
                let first = rest.split('.').next().unwrap_or(rest);
                let mut name = format!("wildcard-{first}");
                name.truncate(63);
                name.trim_end_matches('-').to_string()
            }
            None => self.0.split('.').next().unwrap_or(&self.0).to_string(),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the user probably meant: the host inside a URL, without port, path or spaces, lower-cased.
fn probable_host(input: &str) -> Option<String> {
    let trimmed = input.trim();
    let without_scheme = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    let without_user = without_scheme
        .rsplit_once('@')
        .map_or(without_scheme, |(_, rest)| rest);
    let host_and_port = without_user.split(['/', '?', '#']).next()?;
    let host = host_and_port.split(':').next()?.trim_end_matches('.');
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

fn is_rfc1123_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

// ---------------------------------------------------------------------------------------------
// Names and namespaces

/// Checks an object name or namespace: a DNS-1123 label, as Kubernetes requires for both.
pub fn dns_label(what: &str, value: &str) -> Result<String, InputError> {
    if is_rfc1123_label(value) {
        Ok(value.to_string())
    } else {
        refuse(format!(
            "invalid {what} \"{}\": must be at most 63 lower-case letters, digits and '-', \
             starting and ending with a letter or digit (e.g. student1)",
            value.escape_debug()
        ))
    }
}

/// Every `--export-to`, each checked, none twice (the API server would refuse the duplicate
/// only after the request).
pub fn export_to_list(values: &[String]) -> Result<Vec<String>, InputError> {
    let mut list: Vec<String> = vec![];
    for value in values {
        let entry = export_to(value)?;
        if list.contains(&entry) {
            return refuse(format!(
                "--export-to \"{}\" is given twice: give each namespace once",
                entry.escape_debug()
            ));
        }
        list.push(entry);
    }
    Ok(list)
}

/// An `exportTo` entry: `.` (this namespace), `*` (every namespace) or a namespace name.
pub fn export_to(value: &str) -> Result<String, InputError> {
    if value == "." || value == "*" || is_rfc1123_label(value) {
        Ok(value.to_string())
    } else {
        refuse(format!(
            "invalid --export-to \"{}\": use \".\" (this namespace), \"*\" (all) or a namespace name",
            value.escape_debug()
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Durations

/// A request timeout in Go's duration syntax, which Istio's CRD enforces with
/// `duration(self) >= duration('1ms')`. Keeps the text the user wrote (`0.5s` stays `0.5s`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeout {
    text: String,
    nanos: u128,
}

impl Timeout {
    const EXAMPLES: &'static str = "use Go syntax such as 0.5s, 500ms, 2s or 1m30s";

    pub fn parse(input: &str) -> Result<Timeout, InputError> {
        let shown = input.escape_debug();
        // Go accepts one leading '+' (`+1s`); it means nothing, so it is not written.
        let input = input.strip_prefix('+').unwrap_or(input);
        let Some(nanos) = go_duration_nanos(input) else {
            return refuse(format!("invalid duration \"{shown}\": {}", Self::EXAMPLES));
        };
        if nanos < 1_000_000 {
            return refuse(format!(
                "invalid duration \"{shown}\": Istio requires at least 1ms; {}",
                Self::EXAMPLES
            ));
        }
        if let Some(meant) = without_leading_zeros(input) {
            return refuse(format!(
                "invalid duration \"{shown}\": a number with leading zeros; did you mean \"{meant}\"?"
            ));
        }
        Ok(Timeout {
            text: input.to_string(),
            nanos,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn nanos(&self) -> u128 {
        self.nanos
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `input`, a duration Go would parse, without the leading zeros of its numbers (`0001s` ->
/// `1s`, `00.5s` -> `0.5s`, `01m30s` -> `1m30s`), or None when it has none. Go, and so the API
/// server and Istio, read `0000000000000000000000000000001s` as 1s; what a user types is refused
/// with the plain form suggested, as nobody means the zeros. A `0` before the point, and the
/// zeros of a fraction (`0.05s`), are no leading zeros.
pub fn without_leading_zeros(input: &str) -> Option<String> {
    let mut plain = String::with_capacity(input.len());
    let mut rest = input;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (whole, fraction) = rest[..number_len]
            .split_once('.')
            .map_or((&rest[..number_len], None), |(w, f)| (w, Some(f)));
        let trimmed = whole.trim_start_matches('0');
        plain.push_str(if trimmed.is_empty() && !whole.is_empty() {
            "0"
        } else {
            trimmed
        });
        if let Some(fraction) = fraction {
            plain.push('.');
            plain.push_str(fraction);
        }
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        plain.push_str(&rest[..unit_len]);
        rest = &rest[unit_len..];
    }
    (plain != input).then_some(plain)
}

/// Parses Go's `time.ParseDuration` syntax (one or more `<decimal><unit>`), refusing signs:
/// a timeout is never negative. Returns `None` for anything Go would refuse.
pub fn go_duration_nanos(input: &str) -> Option<u128> {
    if input.is_empty() || input.len() > 64 {
        return None;
    }
    let mut rest = input;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        rest = &rest[number_len..];
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return None;
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit_nanos: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut value = whole.checked_mul(unit_nanos)?;
        let mut scale = unit_nanos;
        for digit in fraction.bytes() {
            scale /= 10;
            value = value.checked_add(u128::from(digit - b'0') * scale)?;
        }
        total = total.checked_add(value)?;
    }
    // Go's time.Duration is an int64 of nanoseconds (about 2562047h).
    (total <= i64::MAX as u128).then_some(total)
}

// ---------------------------------------------------------------------------------------------
// Ports

/// Protocols Istio accepts on a ServiceEntry port.
pub const PROTOCOLS: [&str; 7] = ["HTTP", "HTTPS", "HTTP2", "GRPC", "TLS", "TCP", "MONGO"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub number: u16,
    pub protocol: String,
    /// None: the plugin names it (`http-port`, as the exercise does).
    pub name: Option<String>,
}

impl PortSpec {
    /// Parses `NUMBER[/PROTOCOL[/NAME]]`. Without a protocol, 80 is HTTP, 443 is HTTPS and other
    /// ports TCP.
    pub fn parse(input: &str) -> Result<PortSpec, InputError> {
        let shown = input.escape_debug();
        let mut parts = input.split('/');
        let number_text = parts.next().unwrap_or("");
        let number: u16 = match port_number(number_text) {
            Some(n) => n,
            None => {
                return refuse(format!(
                    "invalid --port \"{shown}\": port number must be 1-65535, as NUMBER[/PROTOCOL[/NAME]], e.g. 8080/HTTP"
                ));
            }
        };
        let protocol = match parts.next() {
            None => default_protocol(number).to_string(),
            Some(p) => {
                let upper = p.to_ascii_uppercase();
                if !PROTOCOLS.contains(&upper.as_str()) {
                    return refuse(format!(
                        "invalid --port \"{shown}\": unknown protocol \"{}\"; use one of {}",
                        p.escape_debug(),
                        PROTOCOLS.join(", ")
                    ));
                }
                upper
            }
        };
        let name = match parts.next() {
            None => None,
            Some(n) => Some(
                dns_label("port name", n)
                    .map_err(|e| InputError(format!("invalid --port \"{shown}\": {}", e.0)))?,
            ),
        };
        if parts.next().is_some() {
            return refuse(format!(
                "invalid --port \"{shown}\": expected NUMBER[/PROTOCOL[/NAME]], e.g. 8443/TLS/tls-port"
            ));
        }
        Ok(PortSpec {
            number,
            protocol,
            name,
        })
    }
}

/// A port number 1-65535 written as digits only (Rust's parser would also take `+80`).
pub fn port_number(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|n| *n > 0)
}

fn default_protocol(number: u16) -> &'static str {
    match number {
        80 | 8080 => "HTTP",
        443 | 8443 => "HTTPS",
        _ => "TCP",
    }
}

/// Whether traffic on this protocol is HTTP to the sidecar, so that a VirtualService `http`
/// route (and its timeout) can apply to it. HTTPS/TLS are opaque TLS streams (istio#47713).
pub fn is_http_protocol(protocol: &str) -> bool {
    matches!(
        protocol.to_ascii_uppercase().as_str(),
        "HTTP" | "HTTP2" | "GRPC"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_accepted() {
        for ok in [
            "httpbin.org",
            "api.example.com",
            "*.wikipedia.org",
            "a",
            "x1-2.io",
        ] {
            assert_eq!(Host::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn hosts_refused_with_suggestion() {
        let cases = [
            ("http://httpbin.org", "did you mean \"httpbin.org\""),
            (
                "https://httpbin.org/delay/1",
                "did you mean \"httpbin.org\"",
            ),
            ("httpbin.org:443", "did you mean \"httpbin.org\""),
            ("HTTPBIN.org", "did you mean \"httpbin.org\""),
            ("httpbin.org/get", "did you mean \"httpbin.org\""),
        ];
        for (bad, hint) in cases {
            let err = Host::parse(bad).unwrap_err().0;
            assert!(err.contains(hint), "{bad}: {err}");
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn hosts_refused() {
        let cases = [
            ("", "must not be empty"),
            ("*", "every destination"),
            ("a..b", "empty label"),
            (".a", "empty label"),
            ("a.", "trailing dot"),
            ("foo.*.com", "leading"),
            ("-a.com", "label \"-a\""),
            ("a b.com", "a b.com"),
            ("under_score.com", "under_score"),
        ];
        for (bad, hint) in cases {
            let err = Host::parse(bad).unwrap_err().0;
            assert!(err.contains(hint), "{bad:?}: {err}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(
            Host::parse(&long_label)
                .unwrap_err()
                .0
                .contains("limit is 63")
        );
        let long_host = vec!["abcdefghi"; 26].join(".");
        assert!(long_host.len() > 253);
        assert!(
            Host::parse(&long_host)
                .unwrap_err()
                .0
                .contains("limit is 253")
        );
    }

    #[test]
    fn object_names() {
        let name = |h: &str| Host::parse(h).unwrap().default_object_name();
        assert_eq!(name("httpbin.org"), "httpbin");
        assert_eq!(name("api.github.com"), "api");
        assert_eq!(name("*.wikipedia.org"), "wildcard-wikipedia");
        assert_eq!(name("localhost"), "localhost");
        let long = format!("*.{}.com", "b".repeat(63));
        let n = name(&long);
        assert!(n.len() <= 63 && is_rfc1123_label(&n), "{n}");
    }

    #[test]
    fn durations_accepted() {
        for (text, nanos) in [
            ("0.5s", 500_000_000u128),
            ("500ms", 500_000_000),
            ("1m30s", 90_000_000_000),
            ("1ms", 1_000_000),
            ("1.5h", 5_400_000_000_000),
            (".5s", 500_000_000),
            ("1000us", 1_000_000),
        ] {
            let t = Timeout::parse(text).unwrap();
            assert_eq!(t.nanos(), nanos, "{text}");
            assert_eq!(t.as_str(), text);
        }
        // Go allows one leading '+'; it is dropped from what is written.
        let plus = Timeout::parse("+1s").unwrap();
        assert_eq!((plus.as_str(), plus.nanos()), ("1s", 1_000_000_000));
    }

    #[test]
    fn durations_with_leading_zeros_are_refused_with_the_plain_form() {
        for (bad, meant) in [
            ("0000000000000000000000000000001s", "1s"),
            ("+0001s", "1s"),
            ("01m30s", "1m30s"),
            ("1m05s", "1m5s"),
            ("00.5s", "0.5s"),
            ("0500ms", "500ms"),
            ("002000us", "2000us"),
        ] {
            let err = Timeout::parse(bad).unwrap_err().0;
            assert_eq!(
                err,
                format!(
                    "invalid duration \"{bad}\": a number with leading zeros; did you mean \"{meant}\"?"
                )
            );
            assert!(Timeout::parse(meant).is_ok(), "{meant}");
        }
        // Below 1ms is said first: the plain form would be refused too.
        assert!(
            Timeout::parse("000s")
                .unwrap_err()
                .0
                .contains("at least 1ms")
        );
        // A 0 before the point, zeros inside a number or a fraction, are no leading zeros.
        for good in [
            "0.5s", "0.05s", "1.050s", "10s", "100ms", "1m0s", "1h0m30s", "0.001s",
        ] {
            assert_eq!(without_leading_zeros(good), None, "{good}");
            assert!(Timeout::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn ip_addresses_are_not_hosts() {
        for ip in ["10.0.0.1", "10.0.0.1:443", "::1", "[::1]", "2001:db8::1"] {
            let err = Host::parse(ip).unwrap_err().0;
            assert!(err.contains("IP address"), "{ip}: {err}");
        }
        assert!(Host::parse("1.example.com").is_ok());
    }

    #[test]
    fn ports_and_export_lists() {
        assert_eq!(port_number("80"), Some(80));
        for bad in ["+80", "-80", "0", "65536", "", " 80"] {
            assert_eq!(port_number(bad), None, "{bad}");
        }
        assert!(export_to_list(&[".".into(), "istio-system".into()]).is_ok());
        let twice = export_to_list(&[".".into(), ".".into()]).unwrap_err().0;
        assert!(twice.contains("given twice"), "{twice}");
    }

    #[test]
    fn durations_refused() {
        for bad in [
            "0.5",
            "-1s",
            "0s",
            "0.5ms",
            "5 seconds",
            "1d",
            "",
            "s",
            ".s",
            "1..5s",
            "++1s",
            "+-1s",
            "2562048h",
        ] {
            let err = Timeout::parse(bad).unwrap_err().0;
            assert!(err.contains("0.5s, 500ms"), "{bad}: {err}");
            assert!(
                err.contains(&bad.escape_debug().to_string()),
                "{bad}: {err}"
            );
        }
        assert!(
            Timeout::parse("999us")
                .unwrap_err()
                .0
                .contains("at least 1ms")
        );
    }

    #[test]
    fn ports() {
        assert_eq!(
            PortSpec::parse("80").unwrap(),
            PortSpec {
                number: 80,
                protocol: "HTTP".into(),
                name: None
            }
        );
        assert_eq!(PortSpec::parse("443").unwrap().protocol, "HTTPS");
        assert_eq!(PortSpec::parse("5432").unwrap().protocol, "TCP");
        assert_eq!(
            PortSpec::parse("8443/tls/tls-port").unwrap(),
            PortSpec {
                number: 8443,
                protocol: "TLS".into(),
                name: Some("tls-port".into())
            }
        );
        for (bad, hint) in [
            ("0", "1-65535"),
            ("65536", "1-65535"),
            ("http", "1-65535"),
            ("80/FTP", "unknown protocol \"FTP\""),
            ("80/HTTP/Bad_Name", "invalid port name"),
            ("80/HTTP/a/b", "NUMBER[/PROTOCOL[/NAME]]"),
        ] {
            let err = PortSpec::parse(bad).unwrap_err().0;
            assert!(err.contains(hint), "{bad}: {err}");
        }
    }

    #[test]
    fn names_and_export() {
        assert!(dns_label("namespace", "student1").is_ok());
        assert!(
            dns_label("namespace", "Student1")
                .unwrap_err()
                .0
                .contains("\"Student1\"")
        );
        assert!(dns_label("name", &"a".repeat(64)).is_err());
        assert!(
            export_to(".").is_ok() && export_to("*").is_ok() && export_to("istio-system").is_ok()
        );
        assert!(export_to("a/b").is_err());
    }

    #[test]
    fn http_protocols() {
        assert!(is_http_protocol("HTTP") && is_http_protocol("grpc"));
        assert!(!is_http_protocol("HTTPS") && !is_http_protocol("TLS") && !is_http_protocol("TCP"));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn host_parser_never_panics(input in "\\PC{0,300}") {
                let _ = Host::parse(&input);
            }

            #[test]
            fn accepted_hosts_follow_the_rules(input in "(\\*\\.)?[a-z0-9.-]{1,80}") {
                if let Ok(host) = Host::parse(&input) {
                    let name = host.as_str().strip_prefix("*.").unwrap_or(host.as_str());
                    prop_assert!(host.as_str().len() <= 253);
                    for label in name.split('.') {
                        prop_assert!(is_rfc1123_label(label), "{}", label);
                    }
                    prop_assert!(is_rfc1123_label(&host.default_object_name()));
                }
            }

            #[test]
            fn valid_dns_names_are_accepted(labels in prop::collection::vec("[a-z]([a-z0-9-]{0,20}[a-z0-9])?", 1..5)) {
                let host = labels.join(".");
                let parsed = Host::parse(&host).unwrap();
                prop_assert_eq!(parsed.as_str(), host.as_str());
            }

            #[test]
            fn duration_parser_never_panics(input in "\\PC{0,40}") {
                let _ = Timeout::parse(&input);
            }

            #[test]
            fn durations_agree_with_arithmetic(whole in 0u64..100_000, frac in 0u32..1000, unit in 0usize..4) {
                let (suffix, nanos) = [("ms", 1_000_000u128), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000)][unit];
                let text = format!("{whole}.{frac:03}{suffix}");
                let expected = u128::from(whole) * nanos + u128::from(frac) * nanos / 1000;
                match Timeout::parse(&text) {
                    Ok(t) => { prop_assert_eq!(t.nanos(), expected); prop_assert!(expected >= 1_000_000); }
                    Err(_) => prop_assert!(expected < 1_000_000),
                }
            }
        }
    }
}
