//! Object names for hosts: deterministic, unique in the namespace, valid DNS-1123 labels.
//!
//! The first choice is the host's first label, as the course exercise names httpbin.org's objects
//! `httpbin`. When another host already has that name (an object in the namespace, or a host named
//! earlier in the same command) more of the host is used, label by label (`api`, `api-gitlab`,
//! `api-gitlab-com`); when every such name is taken or longer than 63 characters, the host's name
//! cut to fit plus a short hash of the whole host (`api-gitlab-com-a7de30db`). Pure: no I/O.

use super::validate::Host;

/// Kubernetes' limit for a DNS-1123 label, which object names of these kinds must be here.
const MAX_NAME: usize = 63;

/// The first name not `taken` among `preferred` (when given) and the host's candidates.
pub fn unique_name(host: &Host, preferred: Option<&str>, taken: impl Fn(&str) -> bool) -> String {
    unique_name_within(host, preferred, MAX_NAME, taken)
}

/// [`unique_name`] for a name that other names are made from (`gateway` writes
/// `egressgateway-for-NAME`): at most `max` characters (at least 18), so every name made from it
/// stays a DNS-1123 label. With `max` 63 it is exactly [`unique_name`].
pub fn unique_name_within(
    host: &Host,
    preferred: Option<&str>,
    max: usize,
    taken: impl Fn(&str) -> bool,
) -> String {
    let max = max.clamp(18, MAX_NAME);
    preferred
        .map(String::from)
        .into_iter()
        .chain(readable_candidates(host).filter(move |name| name.len() <= max))
        .chain(hashed_candidates(host, max))
        .find(|name| !taken(name))
        .expect("hashed candidates never end")
}

/// Names for several hosts of one command, in order: unique among themselves and not `taken`.
pub fn unique_names(hosts: &[Host], taken: impl Fn(&str) -> bool) -> Vec<String> {
    let mut picked: Vec<String> = vec![];
    for host in hosts {
        let name = unique_name(host, None, |n| taken(n) || picked.iter().any(|p| p == n));
        picked.push(name);
    }
    picked
}

/// `api`, `api-gitlab`, `api-gitlab-com` for api.gitlab.com; `wildcard-wikipedia`,
/// `wildcard-wikipedia-org` for *.wikipedia.org. Only names that fit in 63 characters, apart from
/// the first, which is cut to fit (the name earlier versions gave, kept so objects keep theirs).
fn readable_candidates(host: &Host) -> impl Iterator<Item = String> {
    let (prefix, rest) = match host.as_str().strip_prefix("*.") {
        Some(rest) => ("wildcard-", rest),
        None => ("", host.as_str()),
    };
    let labels: Vec<String> = rest.split('.').map(String::from).collect();
    let first = host.default_object_name();
    let longer = (2..=labels.len())
        .map(move |n| format!("{prefix}{}", labels[..n].join("-")))
        .filter(|name| name.len() <= MAX_NAME);
    std::iter::once(first).chain(longer)
}

/// The host's longest readable name, cut to leave room for `-` and 8 hex digits of a hash of the
/// host (then of the host and a counter, should that be taken too).
fn hashed_candidates(host: &Host, max: usize) -> impl Iterator<Item = String> {
    let full = match host.as_str().strip_prefix("*.") {
        Some(rest) => format!("wildcard-{}", rest.replace('.', "-")),
        None => host.as_str().replace('.', "-"),
    };
    let mut base = full;
    base.truncate(max - 9);
    let base = base.trim_end_matches('-').to_string();
    let host = host.as_str().to_string();
    (0u64..).map(move |attempt| {
        let seed = if attempt == 0 {
            host.clone()
        } else {
            format!("{host}#{attempt}")
        };
        format!("{base}-{:08x}", fnv1a(seed.as_bytes()) as u32)
    })
}

/// FNV-1a: a fixed, documented hash, so the same host gets the same name on every machine and in
/// every version (std's hasher is randomly seeded and may change).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::objects::validate::dns_label;

    fn host(h: &str) -> Host {
        Host::parse(h).unwrap()
    }

    fn names(hosts: &[&str], taken: &[&str]) -> Vec<String> {
        let hosts: Vec<Host> = hosts.iter().map(|h| host(h)).collect();
        unique_names(&hosts, |n| taken.contains(&n))
    }

    #[test]
    fn first_label_when_free() {
        assert_eq!(names(&["httpbin.org"], &[]), ["httpbin"]);
        assert_eq!(names(&["*.wikipedia.org"], &[]), ["wildcard-wikipedia"]);
    }

    #[test]
    fn more_of_the_host_when_taken() {
        assert_eq!(
            names(&["api.github.com", "api.gitlab.com"], &[]),
            ["api", "api-gitlab"]
        );
        assert_eq!(
            names(&["api.gitlab.com"], &["api", "api-gitlab"]),
            ["api-gitlab-com"]
        );
        assert_eq!(
            names(&["*.wikipedia.org"], &["wildcard-wikipedia"]),
            ["wildcard-wikipedia-org"]
        );
    }

    #[test]
    fn a_hash_when_every_readable_name_is_taken() {
        let n = names(
            &["api.gitlab.com"],
            &["api", "api-gitlab", "api-gitlab-com"],
        );
        // docs/commands.md shows this name: FNV-1a of the host, its low 32 bits in hex.
        assert_eq!(n, ["api-gitlab-com-a7de30db"]);
        // Stable: the same host gets the same name every time.
        assert_eq!(
            n,
            names(
                &["api.gitlab.com"],
                &["api", "api-gitlab", "api-gitlab-com"]
            )
        );
    }

    #[test]
    fn long_wildcards_that_share_a_cut_name_stay_apart() {
        let label = "b".repeat(63);
        let a = format!("*.{label}.com");
        let b = format!("*.{label}.org");
        let n = names(&[&a, &b], &[]);
        assert_ne!(n[0], n[1]);
        for name in &n {
            assert!(dns_label("name", name).is_ok(), "{name}");
        }
    }

    #[test]
    fn names_within_a_shorter_limit() {
        let h = host("httpbin.org");
        assert_eq!(unique_name_within(&h, None, 45, |_| false), "httpbin");
        assert_eq!(
            unique_name_within(&h, None, 45, |n| n == "httpbin"),
            "httpbin-org"
        );
        let long = host(&format!("{}.example.org", "a".repeat(50)));
        let n = unique_name_within(&long, None, 45, |_| false);
        assert!(n.len() <= 45 && dns_label("name", &n).is_ok(), "{n}");
        // 63 is the plain rule.
        assert_eq!(
            unique_name_within(&long, None, 63, |_| false),
            unique_name(&long, None, |_| false)
        );
    }

    #[test]
    fn preferred_name_first() {
        let h = host("api.github.com");
        assert_eq!(unique_name(&h, Some("github"), |_| false), "github");
        assert_eq!(unique_name(&h, Some("github"), |n| n == "github"), "api");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_host() -> impl Strategy<Value = String> {
            (
                any::<bool>(),
                prop::collection::vec("[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?", 1..5),
            )
                .prop_map(|(wildcard, labels)| {
                    let name = labels.join(".");
                    let name = if wildcard { format!("*.{name}") } else { name };
                    name.chars().take(253).collect::<String>()
                })
                .prop_filter("a valid host", |h| Host::parse(h).is_ok())
        }

        proptest! {
            #[test]
            fn distinct_hosts_get_distinct_valid_names(
                hosts in prop::collection::btree_set(any_host(), 1..8),
                taken in prop::collection::vec("[a-z]{1,4}(-[a-z]{1,4})?", 0..6),
            ) {
                let hosts: Vec<Host> = hosts.iter().map(|h| Host::parse(h).unwrap()).collect();
                let names = unique_names(&hosts, |n| taken.iter().any(|t| t == n));
                for (i, name) in names.iter().enumerate() {
                    prop_assert!(dns_label("name", name).is_ok(), "{name}");
                    prop_assert!(!taken.contains(name), "{name} was taken");
                    prop_assert!(!names[i + 1..].contains(name), "{name} given twice");
                }
            }
        }
    }
}
