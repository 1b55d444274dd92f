//! A throwaway CNCF distribution registry on 127.0.0.1 inside a network namespace, and its access log.
use crate::namespaces::in_net_of;
use crate::process::{Running, eventually, require, run_to_end, text};
use crate::scratch::Scratch;
use std::path::Path;
use std::time::Duration;

/// Where the registry listens, inside its network namespace only.
pub const ADDRESS: &str = "127.0.0.1:5000";

/// The registry the tests' containerd 2.x and CRI-O daemons reach at ADDRESS, in their own network
/// namespace, instead of the internet (critest's NRI specs pull their busybox from it).
pub const MIRRORED: &str = "registry.k8s.io";

/// Debian's `docker-registry` (distribution 2.8), storage in a scratch directory of its own,
/// listening on 127.0.0.1 in the network namespace of `netns_pid` (nothing outside it can reach
/// it). Stopped and its storage removed when dropped, also when the test fails; it also dies with
/// the test process.
pub struct Registry {
    netns_pid: u32,
    daemon: Option<Running>,
    scratch: Scratch,
}

/// One line of the access log: a request and the bytes of the response body.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    pub method: String,
    pub path: String,
    pub bytes: u64,
}

impl Registry {
    pub fn start(netns_pid: u32) -> Registry {
        require("docker-registry", "install docker-registry (bash tests/run does)");
        let scratch = Scratch::new("registry");
        let dir = scratch.path().to_path_buf();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}/storage\nhttp:\n  addr: {ADDRESS}\n",
            dir.display()
        );
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let mut cmd = in_net_of(netns_pid);
        cmd.args(["docker-registry", "serve"]).arg(dir.join("config.yml"));
        let (access, errors) =
            (std::fs::File::create(dir.join("access.log")).unwrap(), std::fs::File::create(dir.join("registry.log")).unwrap());
        let daemon = Running::spawn_to(cmd, access, errors);
        let r = Registry { netns_pid, daemon: Some(daemon), scratch };
        let up = eventually(Duration::from_secs(20), || r.in_netns(&["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/5000"]).status.success());
        assert!(up, "the registry did not listen on {ADDRESS}: {}", r.log());
        r
    }

    fn dir(&self) -> &Path {
        self.scratch.path()
    }

    /// The pid whose network namespace the registry listens in.
    pub fn netns_pid(&self) -> u32 {
        self.netns_pid
    }

    /// Runs a command in the registry's network namespace.
    pub fn in_netns(&self, argv: &[&str]) -> std::process::Output {
        let mut cmd = in_net_of(self.netns_pid);
        cmd.args(argv);
        run_to_end(cmd)
    }

    /// Runs a command in the registry's network namespace; panics with its stderr if it fails.
    /// Returns stdout.
    pub fn in_netns_ok(&self, argv: &[&str]) -> String {
        let out = self.in_netns(argv);
        assert!(out.status.success(), "{argv:?} in the registry's network namespace: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// Body bytes served for the images of `repository` (manifests and blobs) since access-log
    /// line `from`, and the requests, once the log holds every one of `paths` (the requests the
    /// client made: the registry logs a request after its response, so a client may return first).
    pub fn image_bytes_since(&self, from: usize, repository: &str, paths: &[String]) -> (u64, Vec<Served>) {
        let served = self.served_once_logged(from, paths);
        let prefix = format!("/v2/{repository}/");
        let image: u64 = served.iter().filter(|s| s.method == "GET" && s.path.starts_with(&prefix)).map(|s| s.bytes).sum();
        (image, served)
    }

    /// Every request served so far, from the access log (combined log format).
    pub fn served(&self) -> Vec<Served> {
        let log = std::fs::read_to_string(self.dir().join("access.log")).unwrap_or_default();
        log.lines()
            .filter_map(|l| {
                // 127.0.0.1 - - [date] "GET /v2/... HTTP/1.1" STATUS BYTES "referer" "agent"
                let mut quoted = l.split('"');
                let request = quoted.nth(1)?;
                let after = quoted.next()?;
                let mut r = request.split_whitespace();
                let (method, path) = (r.next()?.to_string(), r.next()?.to_string());
                let mut a = after.split_whitespace();
                let _status = a.next()?;
                let bytes = a.next()?.parse().unwrap_or(0);
                Some(Served { method, path, bytes })
            })
            .collect()
    }

    /// The requests served since `from`, once the access log holds a request for every one of
    /// `paths` (waits up to 10 s, then fails naming what is missing).
    pub fn served_once_logged(&self, from: usize, paths: &[String]) -> Vec<Served> {
        let missing = || -> Vec<String> {
            let served = self.served_since(from);
            paths.iter().filter(|p| !served.iter().any(|s| &s.path == *p)).cloned().collect()
        };
        let logged = crate::process::eventually(std::time::Duration::from_secs(10), || missing().is_empty());
        assert!(logged, "the registry has not logged {:?}; since line {from} it logged {:?}", missing(), self.served_since(from));
        self.served_since(from)
    }

    /// The requests served since `from` (an index into `served()`).
    pub fn served_since(&self, from: usize) -> Vec<Served> {
        self.served().into_iter().skip(from).collect()
    }

    pub fn log(&self) -> String {
        text(&std::fs::read(self.dir().join("registry.log")).unwrap_or_default())
    }
}

/// An empty podman store of its own, for pulls, in a scratch directory.
pub struct Store(crate::podman::EmptyStore);

impl Store {
    pub fn new() -> Store {
        Store(crate::podman::EmptyStore::new("pull"))
    }

    /// `podman pull` (plain HTTP) into this store, in the registry's network namespace.
    pub fn pull(&self, r: &Registry, args: &[&str]) {
        let mut cmd = in_net_of(r.netns_pid());
        cmd.envs(crate::podman::Podman::for_tests().env()).arg("podman").args(self.0.args());
        cmd.args(["pull", "--quiet", "--tls-verify=false"]).args(args);
        let out = run_to_end(cmd);
        assert!(out.status.success(), "podman pull {args:?}: {}", text(&out.stderr));
    }
}

impl Default for Store {
    fn default() -> Store {
        Store::new()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Stopped before its storage is removed (the scratch field drops after this).
        self.daemon.take();
    }
}
