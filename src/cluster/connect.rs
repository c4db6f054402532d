//! Kubeconfig, context and namespace, as kubectl resolves them; the client.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::{Error, Reason, Result};
use crate::settings::{DryRun, Settings};

/// Where the work happens. `cluster` is None when there is no kubeconfig at all and the command
/// can work offline (`--dry-run=client`).
pub struct Session {
    pub namespace: String,
    pub cluster: Option<Cluster>,
}

pub struct Cluster {
    pub client: kube::Client,
    /// The API server's URL, for messages.
    pub server: String,
    /// --request-timeout: bounds each whole request, body and Retry-After waits included.
    pub request_timeout: Option<std::time::Duration>,
    /// The same credentials and TLS, HTTP/1.1 only: a WebSocket upgrade (port-forward, for
    /// --wait) cannot ride an HTTP/2 connection.
    pub upgrade_client: kube::Client,
}

/// kubectl's order: `--kubeconfig`, else every file in `$KUBECONFIG` that exists, else
/// `~/.kube/config`. Returns None when none of them is there.
fn load_kubeconfig(explicit: Option<&Path>) -> Result<Option<Kubeconfig>> {
    let read = |path: &Path| {
        Kubeconfig::read_from(path).map_err(|e| {
            Error::failed(
                Reason::Config,
                format!(
                    "cannot read kubeconfig {}: {}",
                    path.display(),
                    one_line(&e.to_string())
                ),
            )
        })
    };
    if let Some(path) = explicit {
        if !path.exists() {
            return Err(Error::failed(
                Reason::Config,
                format!(
                    "kubeconfig {} not found: check --kubeconfig",
                    path.display()
                ),
            ));
        }
        return read(path).map(Some);
    }
    let paths: Vec<PathBuf> = match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(list) => std::env::split_paths(&list)
            .filter(|p| p.exists())
            .collect(),
        None => std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".kube").join("config"))
            .filter(|p| p.exists())
            .into_iter()
            .collect(),
    };
    let mut merged: Option<Kubeconfig> = None;
    for path in paths {
        let next = read(&path)?;
        merged = Some(match merged {
            None => next,
            Some(m) => m.merge(next).map_err(|e| {
                Error::failed(
                    Reason::Config,
                    format!("cannot merge kubeconfig {}: {e}", path.display()),
                )
            })?,
        });
    }
    Ok(merged)
}

/// Opens a session that must reach a cluster (status, cleanup, completion): the namespace and
/// the cluster, or the error that says why there is none.
pub async fn open_cluster(settings: &Settings) -> Result<(String, Cluster)> {
    let session = open(settings, WithoutKubeconfig::Refuse).await?;
    match session.cluster {
        Some(cluster) => Ok((session.namespace, cluster)),
        // open(.., Refuse) returns an error instead of a session without a cluster.
        None => Err(Error::failed(Reason::Config, "no cluster to talk to")),
    }
}

/// The session of a command that writes: with --dry-run=client and no kubeconfig it renders
/// from the flags alone (a session without a cluster); otherwise a missing kubeconfig is an error.
pub async fn open_for_writing(settings: &Settings) -> Result<Session> {
    let without = match settings.dry_run {
        DryRun::Client => WithoutKubeconfig::RenderOffline,
        DryRun::None | DryRun::Server => WithoutKubeconfig::Refuse,
    };
    open(settings, without).await
}

/// What a missing kubeconfig means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WithoutKubeconfig {
    Refuse,
    RenderOffline,
}

async fn open(settings: &Settings, without: WithoutKubeconfig) -> Result<Session> {
    let Some(kubeconfig) = load_kubeconfig(settings.kubeconfig.as_deref())? else {
        if without == WithoutKubeconfig::RenderOffline {
            return Ok(Session {
                namespace: settings
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into()),
                cluster: None,
            });
        }
        return Err(Error::failed(
            Reason::Config,
            "no kubeconfig found ($KUBECONFIG, ~/.kube/config): point KUBECONFIG or --kubeconfig at \
             one, or use --dry-run=client to render offline",
        ));
    };
    let (context_name, context_namespace) = context(&kubeconfig, settings)?;
    let namespace = match (&settings.namespace, context_namespace) {
        (Some(ns), _) => ns.clone(),
        (None, Some(ns)) => {
            crate::core::objects::validate::dns_label("namespace", &ns).map_err(|e| {
                Error::failed(
                    Reason::Config,
                    format!("{} (from context {context_name})", e.0),
                )
            })?
        }
        (None, None) => "default".to_string(),
    };
    Ok(Session {
        namespace,
        cluster: Some(cluster(kubeconfig, context_name, settings).await?),
    })
}

/// The context to use (--context, else the current one) and its namespace, if it has one.
fn context(kubeconfig: &Kubeconfig, settings: &Settings) -> Result<(String, Option<String>)> {
    let context_name = settings
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_default();
    let Some(context) = kubeconfig.contexts.iter().find(|c| c.name == context_name) else {
        let known: Vec<&str> = kubeconfig
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        return Err(Error::failed(
            Reason::Config,
            if context_name.is_empty() {
                "the kubeconfig has no current context: pass --context".to_string()
            } else {
                format!(
                    "context \"{context_name}\" not found in the kubeconfig; known: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )
            },
        ));
    };
    let namespace = context.context.as_ref().and_then(|c| c.namespace.clone());
    Ok((context_name, namespace))
}

/// The client for the context: its credentials (an exec plugin run once, bounded), every
/// request bounded by --request-timeout and sent once.
async fn cluster(
    kubeconfig: Kubeconfig,
    context_name: String,
    settings: &Settings,
) -> Result<Cluster> {
    let options = KubeConfigOptions {
        context: Some(context_name.clone()),
        ..KubeConfigOptions::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| {
            Error::failed(
                Reason::Config,
                format!(
                    "cannot use context \"{context_name}\": {}",
                    one_line(&e.to_string())
                ),
            )
        })?;
    // The exec credential plugin, if any: once, bounded, before any request.
    super::exec::resolve(&mut config.auth_info, settings.request_timeout)?;
    config.connect_timeout = settings.request_timeout;
    config.read_timeout = settings.request_timeout;
    config.write_timeout = settings.request_timeout;
    config.reset_reader_on_write = true;
    // One request is one request: the audit log must match what the user asked for.
    config.default_retry = false;
    let server = config.cluster_url.to_string();
    let build = |versions| {
        build_client(config.clone(), versions).map_err(|e| {
            Error::failed(
                Reason::Config,
                format!(
                    "cannot create a client for {server}: {}",
                    one_line(&e.to_string())
                ),
            )
        })
    };
    let upgrade_client = build(Versions::Http1Only)?;
    let client = build(Versions::Http2Too)?;
    Ok(Cluster {
        client,
        server,
        request_timeout: settings.request_timeout,
        upgrade_client,
    })
}

/// The HTTP versions offered in TLS's ALPN.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Versions {
    Http2Too,
    Http1Only,
}

/// kube's own client stack, but with TCP_NODELAY and HTTP/2.
///
/// TCP_NODELAY: without it, Nagle's algorithm holds the first request behind the TLS handshake's
/// last packet until the server's delayed ACK, 40 ms on every run.
///
/// HTTP/2 (offered in TLS's ALPN next to HTTP/1.1, as kubectl does; the API server picks it):
/// the writes of many objects go concurrently (the write engine) over one connection instead
/// of one TLS handshake per request in flight. A server that does not offer h2 (and plain
/// http://) gets HTTP/1.1 as before.
///
/// With a proxy in the kubeconfig, kube's stock client (which knows proxies; HTTP/1.1) is used.
fn build_client(config: kube::Config, versions: Versions) -> kube::Result<kube::Client> {
    use kube::client::ConfigExt;
    if config.proxy_url.is_some() {
        return kube::Client::try_from(config);
    }
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let https = https_connector(&config, http, versions)?;
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    // Bounds the TCP connect and the TLS handshake together (a server that accepts and is silent).
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let http_client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        .service(http_client);
    Ok(kube::Client::new(
        super::transport::RetryAfter::new(service),
        config.default_namespace,
    ))
}

/// kube's rustls connector (`ConfigExt::rustls_https_connector_with_connector`: the same TLS
/// settings, certificates and server name), offering h2 as well as HTTP/1.1.
fn https_connector<H>(
    config: &kube::Config,
    http: H,
    versions: Versions,
) -> kube::Result<hyper_rustls::HttpsConnector<H>> {
    use kube::client::ConfigExt;
    let tls = config.rustls_client_config()?;
    let mut builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    if let Some(name) = &config.tls_server_name {
        let name = rustls::pki_types::ServerName::try_from(name.clone()).map_err(|e| {
            kube::Error::Service(format!("invalid tls-server-name {name:?}: {e}").into())
        })?;
        builder =
            builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name));
    }
    Ok(match versions {
        Versions::Http2Too => builder.enable_all_versions().wrap_connector(http),
        Versions::Http1Only => builder.enable_http1().wrap_connector(http),
    })
}

pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
