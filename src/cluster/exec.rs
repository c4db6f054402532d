//! The kubeconfig's exec credential plugin, run once per command and bounded.
//!
//! kube runs the plugin itself, synchronously and with no time limit, and twice while building a
//! client (once for the TLS identity, once for the auth layer): a plugin that hangs hangs the
//! command. So the plugin runs here instead, once, killed when `--request-timeout` expires, and
//! what it returned (a token, or a client certificate and key) replaces the exec entry in the
//! config kube is given. A command lasts seconds; the credential is not refreshed within one.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use kube::config::{AuthInfo, ExecConfig, ExecInteractiveMode};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Reason, Result};

#[derive(Serialize)]
struct ExecInfo<'a> {
    #[serde(rename = "apiVersion", skip_serializing_if = "Option::is_none")]
    api_version: Option<&'a str>,
    kind: &'static str,
    spec: ExecInfoSpec<'a>,
}

#[derive(Serialize)]
struct ExecInfoSpec<'a> {
    interactive: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<&'a kube::config::ExecAuthCluster>,
}

#[derive(Deserialize, Default)]
struct ExecCredential {
    status: Option<ExecStatus>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ExecStatus {
    token: Option<String>,
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
}

/// When the user's kubeconfig entry runs an exec plugin: runs it (at most `timeout`), and puts
/// what it returned in place of the exec entry.
pub fn resolve(auth_info: &mut AuthInfo, timeout: Option<Duration>) -> Result<()> {
    let Some(exec) = auth_info.exec.take() else {
        return Ok(());
    };
    let status = run(&exec, timeout)?;
    match (
        status.token,
        status.client_certificate_data,
        status.client_key_data,
    ) {
        (_, Some(cert), Some(key)) => {
            let b64 = base64::engine::general_purpose::STANDARD;
            auth_info.client_certificate_data = Some(b64.encode(cert));
            auth_info.client_key_data = Some(b64.encode(key).into());
        }
        (Some(token), _, _) => auth_info.token = Some(token.into()),
        _ => {
            return Err(Error::failed(
                Reason::Forbidden,
                format!(
                    "the exec credential plugin {} returned neither a token nor a client certificate",
                    command_name(&exec)
                ),
            ));
        }
    }
    Ok(())
}

fn command_name(exec: &ExecConfig) -> String {
    format!("\"{}\"", exec.command.as_deref().unwrap_or_default())
}

fn run(exec: &ExecConfig, timeout: Option<Duration>) -> Result<ExecStatus> {
    let name = command_name(exec);
    let Some(program) = exec.command.as_deref().filter(|c| !c.is_empty()) else {
        return Err(Error::failed(
            Reason::Config,
            "the kubeconfig's exec credential plugin has no command",
        ));
    };
    let mut child = command(exec, program).spawn().map_err(|e| {
        let hint = exec
            .install_hint
            .as_deref()
            .map(|h| format!("; {}", crate::cluster::connect::one_line(h)))
            .unwrap_or_default();
        Error::failed(
            Reason::Config,
            format!("cannot run the kubeconfig's exec credential plugin {name}: {e}{hint}"),
        )
    })?;
    let (status, out) = wait_within(&mut child, &name, timeout)?;
    if !status.success() {
        return Err(Error::failed(
            Reason::Forbidden,
            format!(
                "the kubeconfig's exec credential plugin {name} failed ({status}): log in again or check the plugin"
            ),
        ));
    }
    let credential: ExecCredential = serde_saphyr::from_slice(&out).map_err(|e| {
        Error::failed(
            Reason::Forbidden,
            format!(
                "the exec credential plugin {name} printed no ExecCredential: {}",
                crate::cluster::connect::one_line(&e.to_string())
            ),
        )
    })?;
    Ok(credential.status.unwrap_or_default())
}

/// The plugin's command as client-go runs it: its args and env, KUBERNETES_EXEC_INFO, stdin
/// only when it may ask the user, stdout read for the credential.
fn command(exec: &ExecConfig, program: &str) -> Command {
    let interactive = exec.interactive_mode != Some(ExecInteractiveMode::Never);
    let mut command = Command::new(program);
    command.args(exec.args.iter().flatten());
    for pair in exec.env.iter().flatten() {
        if let (Some(k), Some(v)) = (pair.get("name"), pair.get("value")) {
            command.env(k, v);
        }
    }
    for key in exec.drop_env.iter().flatten() {
        command.env_remove(key);
    }
    let info = ExecInfo {
        api_version: exec.api_version.as_deref(),
        kind: "ExecCredential",
        spec: ExecInfoSpec {
            interactive,
            cluster: exec
                .provide_cluster_info
                .then_some(exec.cluster.as_ref())
                .flatten(),
        },
    };
    command.env(
        "KUBERNETES_EXEC_INFO",
        serde_json::to_string(&info).unwrap_or_default(),
    );
    command
        .stdin(if interactive {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    command
}

/// Waits for the plugin to exit and reads what it printed, both within `timeout` (killed when
/// it runs longer).
fn wait_within(
    child: &mut std::process::Child,
    name: &str,
    timeout: Option<Duration>,
) -> Result<(std::process::ExitStatus, Vec<u8>)> {
    let mut stdout = child.stdout.take();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(pipe) = stdout.as_mut() {
            let _ = pipe.read_to_end(&mut out);
        }
        let _ = sender.send(out);
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                return Err(Error::runtime(format!(
                    "the exec credential plugin {name} could not be waited for: {e}"
                )));
            }
        }
        if timeout.is_some_and(|t| started.elapsed() >= t) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::failed(
                Reason::Unreachable,
                format!(
                    "the kubeconfig's exec credential plugin {name} did not finish within --request-timeout ({:?}): killed; raise --request-timeout or check the plugin",
                    timeout.unwrap_or_default()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // A plugin that exited but left a child holding its stdout open: wait no longer than the
    // time left.
    let left = timeout
        .map(|t| t.saturating_sub(started.elapsed()))
        .unwrap_or(Duration::from_secs(3600));
    Ok((status, receiver.recv_timeout(left).unwrap_or_default()))
}
