//! A throwaway Docker Engine of one row of the engine table (engine.rs), in network and mount
//! namespaces of its own, every path of its own (data-root, exec-root, pidfile, socket, the CLI's
//! config): nothing it makes is seen by another daemon, test or checkout, and nothing is left.
use crate::containerd::kill_shims_of;
use crate::engine::Engine;
use crate::namespaces::{Namespaces, visible_copy};
use crate::process::{Running, SIGTERM, eventually, run_to_end, text, try_run_within, try_signal};
use crate::scratch::Scratch;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// A dockerd of this test's own and the docker CLI of the same engine. Dropping it removes every
/// container, stops the daemon (which stops its containerd), kills any shim left and the
/// namespaces, also when the test fails; the daemon and the holder also die with the test process.
pub struct Docker {
    pub engine: &'static Engine,
    namespaces: Option<Namespaces>,
    daemon: Option<Running>,
    scratch: Scratch,
}

impl Docker {
    pub fn start(engine: &'static Engine) -> Docker {
        crate::process::require("nsenter", "install util-linux (bash tests/run does)");
        engine.require_programs();
        let scratch = Scratch::new("docker");
        let dir = scratch.path().to_path_buf();
        // On the host's root: fresh /run (the daemon's default run and netns places), /var/lib
        // and /etc/docker (where dockerd 20.10 writes its key.json whatever it is told).
        let namespaces = Namespaces::new(&engine.root, &dir, &["/run", "/var/lib", "/etc/docker"]);
        let mut d = Docker { engine, namespaces: Some(namespaces), daemon: None, scratch };
        d.start_daemon();
        d
    }

    fn start_daemon(&mut self) {
        let (dockerd, _) = self.engine.programs();
        let dir = self.dir().to_path_buf();
        let mut cmd = self.namespaces.as_ref().unwrap().enter();
        cmd.env("PATH", self.engine.path()).arg(dockerd);
        cmd.arg("--data-root").arg(dir.join("data")).arg("--exec-root").arg(dir.join("exec"));
        cmd.arg("--pidfile").arg(dir.join("dockerd.pid")).arg("--host").arg(format!("unix://{}", self.socket().display()));
        cmd.arg("--config-file").arg(dir.join("daemon.json"));
        cmd.args(self.engine.store_flags());
        std::fs::write(dir.join("daemon.json"), "{}").unwrap();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        self.daemon = Some(Running::spawn_to(cmd, std::process::Stdio::null(), log));
        let mut version = String::new();
        let up = eventually(Duration::from_secs(60), || {
            let out = self.run(&["version", "--format", "{{.Server.Version}}"]);
            version = text(&out.stdout).trim().to_string();
            out.status.success()
        });
        assert!(up, "dockerd ({}) did not answer on {} within 60 s; its log:\n{}", self.engine.name, self.socket().display(), self.log());
        assert!(
            version.starts_with(self.engine.version_prefix),
            "engine {} runs Docker {version}, not {}*: update the engine table (support/engine.rs)",
            self.engine.name,
            self.engine.version_prefix
        );
    }

    /// The daemon's own directory (data-root, exec-root, socket, log, files it may read).
    pub fn dir(&self) -> &Path {
        self.scratch.path()
    }

    pub fn socket(&self) -> PathBuf {
        self.dir().join("docker.sock")
    }

    /// The daemon's network and mount namespaces.
    pub fn namespaces(&self) -> &Namespaces {
        self.namespaces.as_ref().unwrap()
    }

    /// dockerd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("dockerd.log")).unwrap_or_default()
    }

    /// `docker --host <socket> ARGS` with the engine's own CLI, in the daemon's namespaces, as a
    /// command to finish and run.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let (_, docker) = self.engine.programs();
        let mut cmd = self.namespaces().enter();
        cmd.env("DOCKER_CONFIG", self.dir().join("cli")).arg(docker).arg("--host").arg(format!("unix://{}", self.socket().display()));
        cmd.args(args);
        cmd
    }

    /// Runs `docker ARGS` to its end (30 s at most); returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        run_to_end(self.cmd(args))
    }

    /// Runs `docker ARGS`; panics with its output and the daemon's name if it fails. Returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{}: docker {args:?}: {}{}", self.engine.name, text(&out.stderr), text(&out.stdout));
        text(&out.stdout)
    }

    /// A copy of the host file `path` that the daemon and its CLI can read (in its directory).
    pub fn visible(&self, path: &Path) -> PathBuf {
        visible_copy(self.dir(), path)
    }

    /// `docker load -i <a copy of archive>`; returns the names it printed as loaded.
    pub fn load(&self, archive: &Path) -> Vec<String> {
        let file = self.visible(archive);
        let out = self.ok(&["load", "--input", file.to_str().unwrap()]);
        out.lines().filter_map(|l| l.strip_prefix("Loaded image: ")).map(String::from).collect()
    }

    /// One field of `docker inspect` of a container or image, by Go template.
    pub fn inspect(&self, what: &str, template: &str) -> String {
        self.ok(&["inspect", "--format", template, what]).trim().to_string()
    }

    /// The host pid of a running container's init (dockerd runs in the host's PID namespace).
    pub fn pid_of(&self, container: &str) -> u32 {
        let pid = self.inspect(container, "{{.State.Pid}}");
        pid.parse().unwrap_or_else(|_| panic!("{}: container {container} has no pid: {pid:?}", self.engine.name))
    }

    /// Waits (30 s at most) until a container has stopped; returns its exit code.
    pub fn exit_code(&self, container: &str) -> i32 {
        let stopped = eventually(Duration::from_secs(30), || self.inspect(container, "{{.State.Running}}") == "false");
        assert!(stopped, "{}: {container} is still running after 30 s", self.engine.name);
        self.inspect(container, "{{.State.ExitCode}}").parse().unwrap()
    }

    /// What a container printed (stdout and stderr, as `docker logs` shows them).
    pub fn logs(&self, container: &str) -> String {
        let out = self.run(&["logs", container]);
        assert!(out.status.success(), "{}: docker logs {container}: {}", self.engine.name, text(&out.stderr));
        text(&out.stdout) + &text(&out.stderr)
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        if self.daemon.is_some() {
            // Every container (bounded: the daemon may be what failed), then the daemon itself,
            // which stops its containerd.
            // Errors are not failures here (a panic while unwinding would abort the test binary
            // and skip every other guard): what is left is killed below.
            if let Ok(ids) = try_run_within(self.cmd(&["ps", "--all", "--quiet"]), Duration::from_secs(30)) {
                let ids: Vec<String> = text(&ids.stdout).split_whitespace().map(String::from).collect();
                if !ids.is_empty() {
                    let mut args = vec!["rm", "--force"];
                    args.extend(ids.iter().map(String::as_str));
                    let _ = try_run_within(self.cmd(&args), Duration::from_secs(30));
                }
            }
            let daemon = self.daemon.take().unwrap();
            let _ = try_signal(daemon.pid, SIGTERM);
            let _ = daemon.try_finish();
        }
        // Whatever is left: shims and their containers, then the holder (the namespaces go with it).
        kill_shims_of(&self.dir().join("exec/containerd/containerd.sock"));
        self.namespaces.take();
    }
}
