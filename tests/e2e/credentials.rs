//! Credentials: certificate problems and exec credential plugins.

use crate::support::*;

/// A kubeconfig like student1's with `certificate-authority` replaced.
fn kubeconfig_with_ca(
    c: &Cluster,
    server: &str,
    ca: &std::path::Path,
) -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = kubeconfig_pointing_at(c, server);
    let text = std::fs::read_to_string(&path).unwrap();
    let rewritten: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("certificate-authority:") {
                format!("    certificate-authority: {}", ca.display())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, rewritten).unwrap();
    (dir, path)
}

fn openssl(args: &[&str], dir: &std::path::Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Long on purpose: one session, each step starting from the state the last one left (see
/// tests/README.md).
#[test]
fn certificate_problems_are_named_first_and_exit_4() {
    let c = Cluster::main();
    let pki = tempfile::tempdir().unwrap();
    let dir = pki.path();
    // Another CA than the one that signed the API server's certificate.
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "other.key",
            "-out",
            "other.crt",
            "-subj",
            "/CN=other-ca",
            "-days",
            "1",
        ],
        dir,
    );
    let server = format!("https://{}", api_server_addr(&c));
    let (_d, path) = kubeconfig_with_ca(&c, &server, &dir.join("other.crt"));
    let run = egress_with(path, &["status"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("error: certificate signed by an unknown authority"),
        "{}",
        run.stderr
    );

    // A server whose certificate (signed by the right CA) has expired.
    let ca = c.dir.join("pki");
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "old.key",
            "-out",
            "old.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
        dir,
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "old.csr",
            "-CA",
            ca.join("ca.crt").to_str().unwrap(),
            "-CAkey",
            ca.join("ca.key").to_str().unwrap(),
            "-CAcreateserial",
            "-CAserial",
            "old.srl",
            "-days",
            "-1",
            "-extfile",
            "san.ext",
            "-out",
            "old.crt",
        ],
        dir,
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut tls_server = Command::new("openssl")
        .args([
            "s_server", "-quiet", "-www", "-cert", "old.crt", "-key", "old.key", "-accept",
        ])
        .arg(port.to_string())
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it listens.
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (_d, path) =
        kubeconfig_with_ca(&c, &format!("https://127.0.0.1:{port}"), &ca.join("ca.crt"));
    let run = egress_with(path, &["status"]);
    let _ = tls_server.kill();
    let _ = tls_server.wait();
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("error: certificate expired")
            || run.stderr.starts_with("error: certificate not valid yet"),
        "{}",
        run.stderr
    );
}

/// An exec credential plugin that counts its runs in `count` and then does `then` (a shell line).
fn exec_kubeconfig(c: &Cluster, dir: &std::path::Path, then: &str) -> PathBuf {
    let text = std::fs::read_to_string(c.kubeconfig("student1")).unwrap();
    let token = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .trim()
        .to_string();
    let script = dir.join("cred.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho $$ >> {count}\n{then}\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{token}\"}}}}'\n",
            count = dir.join("count").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let rewritten: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("token:") {
                format!(
                    "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never",
                    script.display()
                )
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir.join("kubeconfig");
    std::fs::write(&path, rewritten).unwrap();
    path
}

#[test]
fn an_exec_credential_plugin_runs_once_and_is_bounded() {
    let c = Cluster::main();
    let dir = tempfile::tempdir().unwrap();
    let path = exec_kubeconfig(&c, dir.path(), "true");
    let run = egress_with(path, &["status"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let runs = std::fs::read_to_string(dir.path().join("count")).unwrap();
    assert_eq!(runs.lines().count(), 1, "the exec plugin ran {runs}");

    // A plugin that hangs: killed at --request-timeout, the command fails.
    let dir = tempfile::tempdir().unwrap();
    let path = exec_kubeconfig(&c, dir.path(), "exec sleep 300");
    let run = egress_with(path, &["status", "--request-timeout=1s"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("did not finish within --request-timeout"),
        "{}",
        run.stderr
    );
    let pid = std::fs::read_to_string(dir.path().join("count")).unwrap();
    // kill -0 says "No such process" when it is gone, as it must be: not printed.
    let alive = Command::new("kill")
        .args(["-0", pid.trim()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(!alive, "the exec plugin {pid} is still running");
}
