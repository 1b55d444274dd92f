//! A throwaway CNCF distribution registry on 127.0.0.1 inside a network namespace, and its access log.
use crate::process::{eventually, require, run_to_end, text, Running};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Where the registry listens, inside its network namespace only.
pub const ADDRESS: &str = "127.0.0.1:5000";

/// Debian's `docker-registry` (distribution 2.8), storage under the test store, listening on
/// 127.0.0.1 in the network namespace of `netns_pid` (nothing outside it can reach it). Stopped and
/// its storage removed when dropped, also when the test fails.
pub struct Registry {
    pub dir: PathBuf,
    netns_pid: u32,
    daemon: Option<Running>,
}

/// One line of the access log: a request and the bytes of the response body.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub bytes: u64,
}

impl Registry {
    pub fn start(netns_pid: u32) -> Registry {
        require("docker-registry", "install docker-registry (bash tests/run does)");
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = PathBuf::from(format!("/var/tmp/pause-tests/registry-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}/storage\nhttp:\n  addr: {ADDRESS}\n",
            dir.display()
        );
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &netns_pid.to_string(), "--net", "--", "docker-registry", "serve"]).arg(dir.join("config.yml"));
        cmd.stdin(Stdio::null());
        cmd.stdout(std::fs::File::create(dir.join("access.log")).unwrap());
        cmd.stderr(std::fs::File::create(dir.join("registry.log")).unwrap());
        let child = cmd.spawn().expect("docker-registry");
        let pid = child.id();
        let r = Registry { dir, netns_pid, daemon: Some(Running { child: Some(child), pid }) };
        let up = eventually(Duration::from_secs(20), || r.in_netns(&["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/5000"]).status.success());
        assert!(up, "the registry did not listen on {ADDRESS}: {}", std::fs::read_to_string(r.dir.join("registry.log")).unwrap_or_default());
        r
    }

    /// The pid whose network namespace the registry listens in.
    pub fn netns_pid(&self) -> u32 {
        self.netns_pid
    }

    /// Runs a command in the registry's network namespace.
    pub fn in_netns(&self, argv: &[&str]) -> std::process::Output {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.netns_pid.to_string(), "--net", "--"]).args(argv);
        run_to_end(cmd)
    }

    /// Every request served so far, from the access log (combined log format).
    pub fn served(&self) -> Vec<Served> {
        let log = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
        log.lines()
            .filter_map(|l| {
                // 127.0.0.1 - - [date] "GET /v2/... HTTP/1.1" 200 1234 "referer" "agent"
                let mut quoted = l.split('"');
                let request = quoted.nth(1)?;
                let after = quoted.next()?;
                let mut r = request.split_whitespace();
                let (method, path) = (r.next()?.to_string(), r.next()?.to_string());
                let mut a = after.split_whitespace();
                let status = a.next()?.parse().ok()?;
                let bytes = a.next()?.parse().unwrap_or(0);
                Some(Served { method, path, status, bytes })
            })
            .collect()
    }

    /// The requests served since `from` (an index into `served()`).
    pub fn served_since(&self, from: usize) -> Vec<Served> {
        self.served().into_iter().skip(from).collect()
    }

    pub fn log(&self) -> String {
        text(&std::fs::read(self.dir.join("registry.log")).unwrap_or_default())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.daemon.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
