//! A real kubelet of a test's own: standalone (no API server), pods from static manifests, status
//! on the read-only port, driving the test's own runtime (containerd, or CRI-O), in that runtime's network and
//! mount namespaces; the host state it changes is put back when it is dropped (host_state.rs).
use crate::containerd::Containerd;
use crate::host_state::{CgroupRoot, Sysctls};
use crate::node::Node;
use crate::pod::CriDaemon;
use crate::process::{Running, SIGKILL, SIGTERM, eventually, last_lines, run_to_end, text, try_signal, wait_timeout};
use crate::scratch::Scratch;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The node's name (`--hostname-override`): a static pod `web` is the pod `web-pause-node`.
pub const NODE_NAME: &str = "pause-node";

/// The name kubelet gives the static pod whose manifest names it `pod`.
pub fn static_pod_name(pod: &str) -> String {
    format!("{pod}-{NODE_NAME}")
}
/// The node IP, on a veth of the namespace (kubelet wants a node address that is not loopback).
pub const NODE_IP: &str = "10.77.0.1";
/// kubelet's read-only port, on loopback of the namespace: `/pods` with each pod's status.
pub const READ_ONLY_PORT: u16 = 10255;
/// How long a pod may take from its manifest to Ready (image present, no pull).
pub const POD_READY_LIMIT: Duration = Duration::from_secs(120);

/// A pod as `/pods` reports it: the fields the tests read.
#[derive(Debug, Clone, Deserialize)]
pub struct Pod {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub status: PodStatus,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ObjectMeta {
    pub name: String,
    pub uid: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub conditions: Vec<PodCondition>,
    #[serde(default)]
    pub container_statuses: Vec<ContainerStatus>,
    #[serde(default, rename = "podIP")]
    pub pod_ip: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PodCondition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    pub name: String,
    pub ready: bool,
    pub restart_count: u32,
    #[serde(default, rename = "containerID")]
    pub container_id: String,
}

/// kubelet's PodList; `items` is null when there is no pod.
#[derive(Deserialize)]
struct PodList {
    items: Option<Vec<Pod>>,
}

impl Pod {
    /// Phase Running and condition Ready True: what `kubectl get pod` shows as Running, n/n ready.
    pub fn is_running_and_ready(&self) -> bool {
        self.status.phase == "Running" && self.status.conditions.iter().any(|c| c.kind == "Ready" && c.status == "True")
    }
}

/// kubelet's configuration file (KubeletConfiguration v1beta1) for this machine and a test's node:
/// what differs from kubelet's defaults, each for a reason.
fn config(dir: &std::path::Path, runtime: &impl CriDaemon, cgroup_root: &str) -> serde_json::Value {
    let d = |p: &str| dir.join(p).display().to_string();
    let endpoint = format!("unix://{}", runtime.socket().display());
    serde_json::json!({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        // Pods from manifests in a directory, looked at every second (the default is 20 s).
        "staticPodPath": d("manifests"),
        "fileCheckFrequency": "1s",
        "containerRuntimeEndpoint": endpoint,
        "imageServiceEndpoint": endpoint,
        // This machine is cgroup v1 (kubelet >= 1.35 refuses it without this) with no systemd.
        "failCgroupV1": false,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": cgroup_root,
        "failSwapOn": false,
        // No API server, no TLS: the read-only port on the namespace's loopback, nothing else.
        "enableServer": false,
        "address": "127.0.0.1",
        "readOnlyPort": READ_ONLY_PORT,
        "healthzPort": 0,
        "authentication": {"anonymous": {"enabled": true}, "webhook": {"enabled": false}},
        "authorization": {"mode": "AlwaysAllow"},
        // The host's iptables are not the test's; no cluster DNS, no host resolv.conf.
        "makeIPTablesUtilChains": false,
        "resolvConf": "",
        "podLogsDir": d("pod-logs"),
        "volumePluginDir": d("volume-plugins"),
        // A busy test machine's disk or memory must not evict the test's pods.
        "evictionHard": {"memory.available": "0%", "nodefs.available": "0%", "nodefs.inodesFree": "0%", "imagefs.available": "0%"},
        "mergeDefaultEvictionSettings": false,
        // Image garbage collection only where a test asks for it.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
    })
}

/// A standalone kubelet and the runtime it drives (containerd, or CRI-O). Dropping it stops
/// kubelet, then the runtime with every pod (the runtime's guard), removes every cgroup under the cgroupRoot, and, when no
/// other kubelet of the test process runs, writes back the sysctls kubelets changed; also when
/// the test fails.
pub struct Kubelet<R: CriDaemon = Containerd> {
    daemon: Option<Running>,
    /// The container runtime it drives (containerd, or CRI-O).
    pub runtime: R,
    pub cgroup_root: CgroupRoot,
    _sysctls: Sysctls,
    scratch: Scratch,
    _lease: Lease,
}

/// Kubelets of a test process run side by side (each holds a read lease) unless one runs alone
/// (the write lease), so that a test can see the host as it was before any kubelet.
static KUBELETS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Held, never read: dropping it ends the lease.
enum Lease {
    Shared { _guard: std::sync::RwLockReadGuard<'static, ()> },
    Alone { _guard: std::sync::RwLockWriteGuard<'static, ()> },
}

/// Whether a kubelet shares the test process with others or runs alone.
#[derive(Clone, Copy, PartialEq)]
pub enum Company {
    Shared,
    Alone,
}

impl Kubelet<Containerd> {
    /// containerd of `node` with this image as its sandbox image (Containerd::start), and a
    /// kubelet on it, up when its read-only port answers.
    pub fn start(node: &'static Node) -> Kubelet {
        Kubelet::start_with(node, serde_json::json!({}))
    }

    /// The same with `settings` (a KubeletConfiguration fragment) over the tests' configuration.
    pub fn start_with(node: &'static Node, settings: serde_json::Value) -> Kubelet {
        Kubelet::start_on(Company::Shared, settings, || Containerd::start(node))
    }
}

impl<R: CriDaemon> Kubelet<R> {
    /// A kubelet with `settings` over the tests' configuration, in `company`, on the runtime
    /// `runtime` starts.
    pub fn start_on(company: Company, settings: serde_json::Value, runtime: impl FnOnce() -> R) -> Kubelet<R> {
        crate::process::require("curl", "apt-get install curl (bash tests/run does)");
        // A test that failed poisons the lock; the next one may still run.
        let lease = match company {
            Company::Shared => Lease::Shared { _guard: KUBELETS.read().unwrap_or_else(|poisoned| poisoned.into_inner()) },
            Company::Alone => Lease::Alone { _guard: KUBELETS.write().unwrap_or_else(|poisoned| poisoned.into_inner()) },
        };
        let sysctls = Sysctls::record();
        let cgroup_root = CgroupRoot::make();
        let runtime = runtime();
        let scratch = Scratch::new("kubelet");
        for sub in ["manifests", "root", "pki", "pod-logs", "volume-plugins"] {
            std::fs::create_dir_all(scratch.join(sub)).unwrap();
        }
        let mut cfg = config(scratch.path(), &runtime, &cgroup_root.name);
        for (key, value) in settings.as_object().expect("settings are a JSON object") {
            cfg[key] = value.clone();
        }
        std::fs::write(scratch.join("config.json"), serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
        // kubelet writes container log links to the fixed /var/log/containers: a tmpfs of the
        // namespace's own. The node IP on a veth pair of the namespace.
        let ns = runtime.namespaces();
        ns.ok(&["mount", "-t", "tmpfs", "-o", "mode=0755", "pause-tests", "/var/log"]);
        ns.ok(&["ip", "link", "add", "node0", "type", "veth", "peer", "name", "node1"]);
        ns.ok(&["ip", "addr", "add", &format!("{NODE_IP}/24"), "dev", "node0"]);
        ns.ok(&["ip", "link", "set", "node0", "up"]);
        ns.ok(&["ip", "link", "set", "node1", "up"]);
        let mut k = Kubelet { daemon: None, runtime, cgroup_root, _sysctls: sysctls, scratch, _lease: lease };
        k.start_daemon();
        k
    }

    fn start_daemon(&mut self) {
        let program = crate::go_tools::tool("kubelet-1.37", "kubelet");
        let mut cmd = self.runtime.namespaces().enter();
        cmd.arg(program)
            .arg(format!("--config={}", self.scratch.join("config.json").display()))
            .arg(format!("--root-dir={}", self.scratch.join("root").display()))
            .arg(format!("--cert-dir={}", self.scratch.join("pki").display()))
            .arg(format!("--hostname-override={NODE_NAME}"))
            .arg(format!("--node-ip={NODE_IP}"))
            .arg("--v=2");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        self.daemon = Some(Running::spawn_to(cmd, std::process::Stdio::null(), log));
        let t = Instant::now();
        let up = eventually(Duration::from_secs(60), || {
            std::thread::sleep(Duration::from_millis(200));
            self.daemon.as_mut().unwrap().is_running() && self.try_pods().is_some()
        });
        assert!(up, "kubelet did not serve /pods within 60 s; its log ends:\n{}", self.log_tail(60));
        println!("kubelet up (read-only port answers) after {:.1?}", t.elapsed());
    }

    fn log_path(&self) -> PathBuf {
        self.scratch.join("kubelet.log")
    }

    /// The last `n` lines of kubelet's log.
    pub fn log_tail(&self, n: usize) -> String {
        last_lines(&text(&std::fs::read(self.log_path()).unwrap_or_default()), n)
    }

    /// kubelet's pid (on the host).
    pub fn pid(&self) -> u32 {
        self.daemon.as_ref().expect("kubelet is not running").pid
    }

    /// `/pods` of the read-only port, fetched in the namespace (curl; busybox 1.35's wget crashes
    /// with a timeout option); None if it does not answer.
    fn try_pods(&self) -> Option<Vec<Pod>> {
        let mut cmd = self.runtime.namespaces().enter_net();
        cmd.args(["curl", "--silent", "--fail", "--max-time", "5", &format!("http://127.0.0.1:{READ_ONLY_PORT}/pods")]);
        let out = run_to_end(cmd);
        if !out.status.success() {
            return None;
        }
        let list: PodList =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("/pods is not a PodList ({e}): {}", text(&out.stdout)));
        Some(list.items.unwrap_or_default())
    }

    /// Every pod kubelet reports.
    pub fn pods(&self) -> Vec<Pod> {
        self.try_pods().unwrap_or_else(|| panic!("kubelet's /pods does not answer; its log ends:\n{}", self.log_tail(40)))
    }

    /// The pod named `name` (the static pod's name with the node's: `web-pause-node`), if reported.
    pub fn pod(&self, name: &str) -> Option<Pod> {
        self.pods().into_iter().find(|p| p.metadata.name == name)
    }

    /// Writes the manifest `file` (YAML, as a user writes it) into the static pod directory, whole
    /// (a rename: kubelet never reads half a file).
    pub fn write_manifest(&self, file: &str, yaml: &str) {
        let dir = self.scratch.join("manifests");
        let tmp = dir.join(format!(".{file}.tmp"));
        std::fs::write(&tmp, yaml).unwrap();
        std::fs::rename(&tmp, dir.join(file)).unwrap();
    }

    /// Runs the static pod `pod` (its manifest's `metadata.name`): writes `manifest` as
    /// `<pod>.yaml` and waits until kubelet reports the pod, `<pod>-<node name>`, Running and
    /// Ready. Returns that name and what kubelet reported.
    pub fn run_static_pod(&self, pod: &str, manifest: &str) -> (String, Pod) {
        self.write_manifest(&format!("{pod}.yaml"), manifest);
        let name = static_pod_name(pod);
        let status = self.wait_ready(&name);
        (name, status)
    }

    /// Installs `profile` as the Localhost seccomp profile `name` (`localhostProfile: NAME`, which
    /// kubelet looks up in `<root-dir>/seccomp`).
    pub fn install_seccomp_profile(&self, name: &str, profile: &std::path::Path) {
        let dir = self.scratch.join("root/seccomp");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(profile, dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", profile.display()));
    }

    /// kubelet's own directory (root dir, manifests, logs, config).
    pub fn dir(&self) -> &std::path::Path {
        self.scratch.path()
    }

    /// Removes the manifest `file`: kubelet stops and removes the pod.
    pub fn remove_manifest(&self, file: &str) {
        std::fs::remove_file(self.scratch.join("manifests").join(file)).unwrap();
    }

    /// Waits until the pod `name` is Running and Ready; returns it and prints how long it took.
    pub fn wait_ready(&self, name: &str) -> Pod {
        let t = Instant::now();
        let mut last = None;
        let ready = eventually(POD_READY_LIMIT, || {
            std::thread::sleep(Duration::from_millis(200));
            last = self.pod(name);
            last.as_ref().is_some_and(Pod::is_running_and_ready)
        });
        assert!(
            ready,
            "pod {name} not Running and Ready within {POD_READY_LIMIT:?}: {last:#?}\nkubelet's log ends:\n{}",
            self.log_tail(40)
        );
        println!("pod {name} Running and Ready {:.1?} after waiting began", t.elapsed());
        last.unwrap()
    }

    /// The log of container `container` of pod `name` (kubelet's podLogsDir, CRI log format).
    pub fn container_log(&self, pod: &Pod, container: &str) -> String {
        let dir = self.scratch.join("pod-logs").join(format!("default_{}_{}", pod.metadata.name, pod.metadata.uid)).join(container);
        let mut all = String::new();
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            all.push_str(&text(&std::fs::read(e.path()).unwrap_or_default()));
        }
        all
    }

    /// Stops kubelet with SIGTERM (its pods keep running) and waits for it to end (SIGKILL after
    /// 30 s). Never fails: the guard calls it, also while a failed test unwinds.
    pub fn stop(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            // It may have ended by itself (ESRCH): nothing to stop then.
            let _ = try_signal(daemon.pid, SIGTERM);
            if let Some(child) = daemon.child.as_mut()
                && wait_timeout(child, Duration::from_secs(30)).is_none()
            {
                let _ = try_signal(daemon.pid, SIGKILL);
            }
        }
    }

    /// Stops kubelet and starts it again with the same configuration, root directory and pods.
    pub fn restart(&mut self) {
        self.stop();
        self.start_daemon();
    }
}

impl<R: CriDaemon> Drop for Kubelet<R> {
    fn drop(&mut self) {
        self.stop();
        // Then the fields, in order: the runtime (every pod, the shims, the namespaces), the
        // cgroups, the sysctls, the scratch directory.
    }
}
