//! Running podman and buildah, with the tests' own configuration (support/containers_conf.rs), and
//! guards that remove what a test made.
use crate::process::{run_within, text, try_run_within};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

/// How long one podman call may take (image builds included) before the test fails: a hung call
/// must not hang the suite, nor a guard's drop.
const LIMIT: Duration = Duration::from_secs(600);

/// An empty podman store of its own in a scratch directory (vfs), for pulls and loads whose
/// result must not depend on what an earlier test put in a store; removed with it.
pub struct EmptyStore(crate::scratch::Scratch);

impl EmptyStore {
    pub fn new(label: &str) -> EmptyStore {
        EmptyStore(crate::scratch::Scratch::new(label))
    }

    /// podman's global flags that select this store.
    pub fn args(&self) -> Vec<String> {
        let path = |p: &str| self.0.join(p).display().to_string();
        vec!["--root".into(), path("root"), "--runroot".into(), path("run"), "--storage-driver".into(), "vfs".into()]
    }
}

/// How to run podman: the user's own setup (the images command), or the tests' throwaway one.
#[derive(Clone, Default)]
pub struct Podman {
    env: Vec<(String, PathBuf)>,
}

impl Podman {
    /// podman as the user has it set up.
    pub fn user() -> Podman {
        Podman::default()
    }

    /// podman with the tests' own containers.conf and storage.conf (`test_confs`): runc, cgroupfs,
    /// rlimits this machine allows, vfs storage of this checkout's own. Nothing touches the
    /// user's setup or another checkout's store.
    pub fn for_tests() -> Podman {
        let (containers, storage) = crate::containers_conf::test_confs();
        Podman { env: vec![("CONTAINERS_CONF".into(), containers), ("CONTAINERS_STORAGE_CONF".into(), storage)] }
    }

    /// The same, with a containers.conf that extends the tests' one with the TOML `extra` (written
    /// into `scratch`, which must outlive the podman commands).
    pub fn with_conf_lines(&self, scratch: &crate::scratch::Scratch, extra: &str) -> Podman {
        let mut p = self.clone();
        if let Some(conf) = p.env.iter_mut().find(|(k, _)| k == "CONTAINERS_CONF") {
            let base = std::fs::read_to_string(&conf.1).unwrap();
            let path = scratch.join("containers.conf");
            std::fs::write(&path, crate::containers_conf::merge_conf(&base, extra)).unwrap();
            conf.1 = path;
        }
        p
    }

    pub fn cmd<I: AsRef<std::ffi::OsStr>>(&self, args: impl IntoIterator<Item = I>) -> Command {
        let mut c = self.other("podman");
        c.args(args);
        c
    }

    /// Another containers tool (buildah, skopeo) with the same configuration.
    pub fn other(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env());
        c
    }

    /// The environment that points podman (and its kin) at this configuration.
    pub fn env(&self) -> impl Iterator<Item = (&str, &std::path::Path)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_path()))
    }

    /// Runs podman with `args`; panics with its stderr if it fails. Returns stdout.
    pub fn ok<I: AsRef<std::ffi::OsStr>>(&self, args: impl IntoIterator<Item = I>) -> String {
        let c = self.cmd(args);
        let shown = format!("{c:?}");
        let out = try_run_within(c, LIMIT).unwrap_or_else(|e| panic!("{e}: is podman installed? (bash tests/run installs it)"));
        assert!(out.status.success(), "{shown} failed: {}{}", text(&out.stderr), text(&out.stdout));
        text(&out.stdout)
    }

    /// Runs podman with `args` (within LIMIT); returns its output, whatever its status.
    pub fn run<I: AsRef<std::ffi::OsStr>>(&self, args: impl IntoIterator<Item = I>) -> Output {
        run_within(self.cmd(args), LIMIT)
    }

    /// The same for guards: an error instead of a failure.
    pub fn try_run<I: AsRef<std::ffi::OsStr>>(&self, args: impl IntoIterator<Item = I>) -> std::io::Result<Output> {
        try_run_within(self.cmd(args), LIMIT)
    }

    /// The host pid of a container's init. Fails, with its status, exit code and log, if the
    /// container is not running (podman reports pid 0 then).
    pub fn running_pid(&self, container: &str) -> u32 {
        let state = self.ok(["inspect", "--format", "{{.State.Pid}} {{.State.Status}} {{.State.ExitCode}}", container]);
        let pid: u32 = state.split_whitespace().next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if pid == 0 {
            let logs = self.run(["logs", container]);
            panic!(
                "container {container} is not running (pid, status, exit code: {}); its log: {}{}",
                state.trim(),
                text(&logs.stdout),
                text(&logs.stderr)
            );
        }
        pid
    }
}

impl Podman {
    /// A container's exit code, once it has stopped.
    pub fn exit_code(&self, container: &str) -> i32 {
        let code = self.ok(["inspect", "--format", "{{.State.ExitCode}}", container]);
        code.trim().parse().unwrap_or_else(|_| panic!("{container}: exit code {code:?}"))
    }
    /// The infra container of a pod.
    pub fn infra_of(&self, pod: &str) -> String {
        self.ok(["pod", "inspect", "--format", "{{.InfraContainerID}}", pod]).trim().to_string()
    }
}

/// A container, pod or `kube play` a test made: removed when dropped, also when the test fails.
pub struct Made {
    podman: Podman,
    /// The podman arguments that remove it (`rm --force NAME`, `pod rm --force NAME`, ...).
    remove: Vec<String>,
    pub name: String,
}

impl Podman {
    /// Runs `podman run -d --name NAME ARGS...` and returns the container, removed when dropped.
    pub fn run_detached(&self, name: &str, args: &[&str]) -> Made {
        let made = self.made(["rm", "--force", name], name);
        self.ok(["run", "-d", "--name", name].iter().chain(args));
        made
    }
    /// Runs `podman pod create --name NAME ARGS...` and returns the pod, removed when dropped.
    pub fn pod_create(&self, name: &str, args: &[&str]) -> Made {
        let made = self.made(["pod", "rm", "--force", name], name);
        self.ok(["pod", "create", "--name", name].iter().chain(args));
        made
    }
    /// Runs `podman kube play --network none FILE` (pod `name`: loopback only, as every test
    /// container here), taken down and removed when dropped.
    pub fn kube_play(&self, file: &str, name: &str) -> Made {
        let made = self.made(["pod", "rm", "--force", name], name);
        self.ok(["kube", "play", "--network", "none", file]);
        made
    }
    /// A guard for something named `name` that `podman REMOVE...` removes.
    pub fn made<const N: usize>(&self, remove: [&str; N], name: &str) -> Made {
        Made { podman: self.clone(), remove: remove.map(String::from).to_vec(), name: name.to_string() }
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        let _ = self.podman.try_run(&self.remove);
    }
}
