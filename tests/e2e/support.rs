//! What every area shares: the clusters, the plugin's runs, a student's session, fixtures.

pub use std::path::PathBuf;
pub use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

pub use serde_json::Value;

pub use crate::fixtures::{exercise_dir, seed};

pub struct Cluster {
    pub dir: PathBuf,
}

impl Cluster {
    pub fn from_env(var: &str) -> Cluster {
        let dir = std::env::var_os(var).unwrap_or_else(|| {
            panic!("{var} is not set: run the end-to-end tests with scripts/test")
        });
        Cluster { dir: dir.into() }
    }

    pub fn main() -> Cluster {
        Cluster::from_env("EGRESS_E2E_V1")
    }

    pub fn kubeconfig(&self, user: &str) -> PathBuf {
        self.dir.join(format!("{user}.kubeconfig"))
    }

    /// kubectl as the cluster admin.
    pub fn admin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.kubectl_as("admin", args, stdin)
    }

    /// kubectl as `user`, with that user's kubeconfig.
    pub fn kubectl_as(&self, user: &str, args: &[&str], stdin: Option<&str>) -> Output {
        let mut kubectl = Command::new(self.dir.join("kubectl"));
        kubectl
            .arg("--kubeconfig")
            .arg(self.kubeconfig(user))
            .args(args);
        output_with_stdin(kubectl, stdin.unwrap_or(""))
    }

    pub fn admin_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.admin(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs each of `commands` as the admin when what it returns is dropped (however the test
    /// ends): what a test made that another test would see (istioctl analyze reads every
    /// namespace) goes again.
    #[must_use]
    pub fn undo_on_drop(&self, commands: &[&[&str]]) -> UndoOnDrop<'_> {
        UndoOnDrop {
            cluster: self,
            commands: commands
                .iter()
                .map(|c| c.iter().map(|a| a.to_string()).collect())
                .collect(),
        }
    }

    /// A fresh namespace where `user` has the course's student role.
    pub fn namespace(&self, prefix: &str, user: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let ns = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        self.admin_ok(&["create", "namespace", &ns], None);
        self.admin_ok(
            &[
                "create",
                "rolebinding",
                user,
                "-n",
                &ns,
                "--clusterrole=course:student",
                &format!("--user={user}"),
            ],
            None,
        );
        ns
    }

    /// The object as the admin sees it, or None.
    pub fn get(&self, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let out = self.admin(&["get", kind, name, "-n", ns, "-o", "json"], None);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    pub fn audit_mark(&self) -> usize {
        std::fs::read_to_string(self.dir.join("audit.log"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// Audit events since `mark` made by `user`.
    pub fn audit_since(&self, mark: usize, user: &str) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("audit.log"))
            .unwrap()
            .lines()
            .skip(mark)
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["user"]["username"] == user)
            .collect()
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `command`'s output, given `stdin` (closed after it).
pub fn output_with_stdin(mut command: Command, stdin: &str) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// The plugin as `user` of `cluster`, with an empty HOME and that user's kubeconfig.
pub fn egress(cluster: &Cluster, user: &str, args: &[&str]) -> Run {
    egress_with(cluster.kubeconfig(user), args)
}

/// No run of the plugin may hang the suite: past this it is killed and the test fails.
pub const RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

pub fn egress_with(kubeconfig: PathBuf, args: &[&str]) -> Run {
    egress_env(kubeconfig, &[], args)
}

/// [`egress_with`] with environment variables (apply -f substitutes them).
pub fn egress_env(kubeconfig: PathBuf, env: &[(&str, &str)], args: &[&str]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubectl-egress"))
        .env_clear()
        .env("HOME", home.path())
        .env("KUBECONFIG", kubeconfig)
        .envs(env.iter().copied())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read both pipes while it runs: output over the pipe's buffer (64 KiB) would block it.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                std::io::Read::read_to_string(&mut pipe, &mut text).unwrap();
            }
            text
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            child.kill().unwrap();
            panic!("kubectl-egress {args:?} still running after {RUN_LIMIT:?}: killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

pub fn ok(run: Run) -> Run {
    assert_eq!(
        run.code, 0,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    run
}

pub fn assert_managed(object: &Value) {
    assert_eq!(
        object["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kubectl-egress"
    );
}

pub const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

/// One user's runs of the plugin in one namespace: each run gets `-n NAMESPACE` after its
/// arguments, so `student1.ok(&["allow", "httpbin.org"])` is
/// `ok(egress(&c, "student1", &["allow", "httpbin.org", "-n", &ns]))`.
pub struct Session<'a> {
    cluster: &'a Cluster,
    user: &'a str,
    ns: &'a str,
}

impl<'a> Session<'a> {
    /// student1, the exercise's student, in `ns`.
    pub fn student1(cluster: &'a Cluster, ns: &'a str) -> Session<'a> {
        Session {
            cluster,
            user: "student1",
            ns,
        }
    }

    /// The plugin with `args` then `-n NAMESPACE`, whatever its exit code.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut args = args.to_vec();
        args.extend(["-n", self.ns]);
        egress(self.cluster, self.user, &args)
    }

    /// [`Session::run`], which must exit 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        ok(self.run(args))
    }
}

/// A kubeconfig like student1's whose server is `url`.
pub fn kubeconfig_pointing_at(c: &Cluster, url: &str) -> (tempfile::TempDir, PathBuf) {
    let text = std::fs::read_to_string(c.kubeconfig("student1")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    let rewritten: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("server:") {
                format!("    server: {url}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, rewritten).unwrap();
    (dir, path)
}

/// The API server's address, for a proxy in front of it.
pub fn api_server_addr(c: &Cluster) -> std::net::SocketAddr {
    let port = std::fs::read_to_string(c.dir.join("apiserver.port")).unwrap();
    format!("127.0.0.1:{}", port.trim()).parse().unwrap()
}

pub fn service_entry_names(c: &Cluster, ns: &str) -> Vec<String> {
    admin_list(c, "serviceentries", ns)
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

pub fn admin_list(c: &Cluster, kind: &str, ns: &str) -> Vec<Value> {
    let out = c.admin_ok(&["get", kind, "-n", ns, "-o", "json"], None);
    serde_json::from_str::<Value>(&out).unwrap()["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// See [`Cluster::undo_on_drop`].
pub struct UndoOnDrop<'a> {
    cluster: &'a Cluster,
    commands: Vec<Vec<String>>,
}

impl Drop for UndoOnDrop<'_> {
    fn drop(&mut self) {
        for command in &self.commands {
            let args: Vec<&str> = command.iter().map(String::as_str).collect();
            self.cluster.admin(&args, None);
        }
    }
}
