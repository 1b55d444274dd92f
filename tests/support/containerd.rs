//! A throwaway containerd (1.6, CRI) in its own network and mount namespaces, and a CRI v1 client for it.
use crate::cargo::binary;
use crate::image::{busybox_archive, list_archive, list_name, BUSYBOX};
use crate::pause::wait_until_asleep;
use crate::process::{eventually, require, run_to_end, signal, text, Running, SIGKILL, SIGTERM};
use crate::procfs::children_of;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint, Uri};

/// containerd's CRI namespace, where kubelet's pods (and the sandbox image) live.
pub const K8S_NAMESPACE: &str = "k8s.io";

/// A containerd daemon of this test's own: root, state, socket and CNI state under `dir`, in a
/// network and mount namespace held open by `holder` (so that a restart keeps them). Dropping it
/// stops and removes every sandbox, then the daemon, the shims and the namespaces, also when the
/// test fails.
pub struct Containerd {
    pub dir: PathBuf,
    holder: Option<Running>,
    daemon: Option<Running>,
    rt: tokio::runtime::Runtime,
    runtime: Option<RuntimeServiceClient<Channel>>,
}

impl Containerd {
    /// Starts a fresh daemon with this image as sandbox image and imports it and busybox the way
    /// an air-gapped node does: plain `ctr -n k8s.io images import <archive>`, no tagging.
    pub fn start() -> Containerd {
        Containerd::start_with(&list_name(), &[list_archive(), busybox_archive()])
    }

    /// The same with another sandbox image, imported from the given oci-archives.
    pub fn start_with(sandbox_image: &str, archives: &[PathBuf]) -> Containerd {
        for (tool, package) in [("containerd", "containerd"), ("ctr", "containerd"), ("containerd-shim-runc-v2", "containerd"), ("runc", "runc"), ("nsenter", "util-linux")] {
            require(tool, &format!("install {package} (bash tests/run does)"));
        }
        for plugin in ["bridge", "host-local", "loopback"] {
            assert!(Path::new("/usr/lib/cni").join(plugin).is_file(), "/usr/lib/cni/{plugin} is missing: install containernetworking-plugins (bash tests/run does)");
        }
        static N: AtomicUsize = AtomicUsize::new(0);
        // Short: unix socket paths are limited to 108 bytes.
        let dir = PathBuf::from(format!("/var/tmp/pause-tests/ctrd-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("cni")).unwrap();
        std::fs::write(dir.join("config.toml"), config(&dir, sandbox_image)).unwrap();
        std::fs::write(dir.join("cni/10-pause-tests.conflist"), cni_config(&dir)).unwrap();
        // The namespaces' holder: pause itself, which sleeps and holds them until killed.
        let mut holder = Command::new("unshare");
        holder.args(["--net", "--mount", "--propagation", "private", "--"]).arg(binary(&crate::arch::AMD64));
        let holder = crate::pause::asleep(holder);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut c = Containerd { dir, holder: Some(holder), daemon: None, rt, runtime: None };
        c.nsenter_ok(&["ip", "link", "set", "lo", "up"]);
        c.start_daemon();
        for archive in archives {
            c.ctr_ok(&["images", "import", archive.to_str().unwrap()]);
        }
        c
    }

    /// The host pid of the process holding the daemon's network and mount namespaces.
    pub fn holder_pid(&self) -> u32 {
        self.holder.as_ref().unwrap().pid
    }

    /// Runs a command in the daemon's network and mount namespaces; panics if it fails.
    pub fn nsenter_ok(&self, argv: &[&str]) -> String {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.holder_pid().to_string(), "--net", "--mount", "--"]).args(argv);
        let out = run_to_end(cmd);
        assert!(out.status.success(), "{argv:?} in containerd's namespaces: {}", text(&out.stderr));
        text(&out.stdout)
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    /// `ctr --address <socket> -n k8s.io ARGS`; returns its output.
    pub fn ctr(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address").arg(self.socket()).args(["-n", K8S_NAMESPACE]).args(args);
        run_to_end(cmd)
    }

    pub fn ctr_ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(out.status.success(), "ctr {args:?}: {}{}", text(&out.stderr), text(&out.stdout));
        text(&out.stdout)
    }

    /// Starts the daemon in the holder's namespaces and waits until its CRI answers.
    fn start_daemon(&mut self) {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.holder_pid().to_string(), "--net", "--mount", "--", "containerd", "--config"]).arg(self.dir.join("config.toml"));
        cmd.stderr(std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("containerd.log")).unwrap());
        cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null());
        let child = cmd.spawn().expect("containerd");
        let pid = child.id();
        self.daemon = Some(Running { child: Some(child), pid });
        let socket = self.socket();
        let up = eventually(Duration::from_secs(30), || {
            let Ok(channel) = self.rt.block_on(connect(&socket)) else { return false };
            let mut client = RuntimeServiceClient::new(channel);
            let ok = self.rt.block_on(client.status(StatusRequest { verbose: false })).is_ok();
            if ok {
                self.runtime = Some(client);
            }
            ok
        });
        assert!(up, "containerd did not answer on {} within 30 s; its log:\n{}", socket.display(), self.log());
    }

    /// containerd's own log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    /// Stops the daemon with SIGTERM (the shims, and so the sandboxes, keep running) and starts it
    /// again in the same namespaces and state.
    pub fn restart(&mut self) {
        let daemon = self.daemon.take().unwrap();
        daemon.signal(SIGTERM);
        let out = daemon.finish();
        assert!(out.status.success() || out.status.code().is_none(), "containerd exited with {:?}", out.status);
        self.runtime = None;
        self.start_daemon();
    }

    /// The CRI runtime service.
    pub fn cri(&mut self) -> (&tokio::runtime::Runtime, &mut RuntimeServiceClient<Channel>) {
        (&self.rt, self.runtime.as_mut().unwrap())
    }

    /// RunPodSandbox; returns the sandbox id.
    pub fn run_pod(&mut self, config: PodSandboxConfig) -> String {
        let (rt, c) = self.cri();
        let r = rt.block_on(c.run_pod_sandbox(RunPodSandboxRequest { config: Some(config), runtime_handler: String::new() }));
        let log = self.log();
        r.unwrap_or_else(|e| panic!("RunPodSandbox: {e}\ncontainerd's log:\n{}", tail(&log))).into_inner().pod_sandbox_id
    }

    /// PodSandboxStatus, verbose (its info holds the runtime's view, pid included).
    pub fn pod_status(&mut self, id: &str) -> PodSandboxStatusResponse {
        let (rt, c) = self.cri();
        rt.block_on(c.pod_sandbox_status(PodSandboxStatusRequest { pod_sandbox_id: id.into(), verbose: true })).unwrap_or_else(|e| panic!("PodSandboxStatus: {e}")).into_inner()
    }

    pub fn pod_ready(&mut self, id: &str) -> bool {
        self.pod_status(id).status.unwrap().state == PodSandboxState::SandboxReady as i32
    }

    /// The runtime's view of the sandbox (pid, runtime spec, ...): the verbose status's "info".
    pub fn pod_info(&mut self, id: &str) -> serde_json::Value {
        serde_json::from_str(self.pod_status(id).info.get("info").expect("verbose info")).unwrap()
    }

    /// The host pid of the sandbox's container (pause), from the verbose status.
    pub fn pause_pid(&mut self, id: &str) -> u32 {
        self.pod_info(id)["pid"].as_u64().expect("pid in the sandbox info") as u32
    }

    /// The sandbox's network namespace path, from the verbose status.
    pub fn netns_path(&mut self, id: &str) -> String {
        let info = self.pod_info(id);
        let namespaces = info["runtimeSpec"]["linux"]["namespaces"].as_array().expect("namespaces in the runtime spec").clone();
        namespaces.iter().find(|n| n["type"] == "network").and_then(|n| n["path"].as_str()).expect("a network namespace path").to_string()
    }

    pub fn stop_pod(&mut self, id: &str) {
        let (rt, c) = self.cri();
        rt.block_on(c.stop_pod_sandbox(StopPodSandboxRequest { pod_sandbox_id: id.into() })).unwrap_or_else(|e| panic!("StopPodSandbox: {e}"));
    }

    pub fn remove_pod(&mut self, id: &str) {
        let (rt, c) = self.cri();
        rt.block_on(c.remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id.into() })).unwrap_or_else(|e| panic!("RemovePodSandbox: {e}"));
    }

    /// CreateContainer + StartContainer of busybox running `command` in the sandbox; returns its id.
    pub fn run_busybox(&mut self, pod: &str, pod_config: &PodSandboxConfig, name: &str, command: &[&str]) -> String {
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata { name: name.into(), attempt: 0 }),
            image: Some(ImageSpec { image: BUSYBOX.into(), ..Default::default() }),
            command: command.iter().map(|s| s.to_string()).collect(),
            log_path: format!("{name}.log"),
            linux: Some(LinuxContainerConfig {
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: pod_config.linux.as_ref().and_then(|l| l.security_context.as_ref()).and_then(|s| s.namespace_options.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let (rt, c) = self.cri();
        let id = rt
            .block_on(c.create_container(CreateContainerRequest { pod_sandbox_id: pod.into(), config: Some(config), sandbox_config: Some(pod_config.clone()) }))
            .unwrap_or_else(|e| panic!("CreateContainer: {e}"))
            .into_inner()
            .container_id;
        rt.block_on(c.start_container(StartContainerRequest { container_id: id.clone() })).unwrap_or_else(|e| panic!("StartContainer: {e}"));
        id
    }

    /// CRI PullImage, as kubelet pulls an image; returns the image reference containerd reports.
    pub fn pull_image(&mut self, image: &str) -> String {
        let socket = self.socket();
        let r = self.rt.block_on(async {
            let mut images = k8s_cri::v1::image_service_client::ImageServiceClient::new(connect(&socket).await.expect("connect"));
            images.pull_image(PullImageRequest { image: Some(ImageSpec { image: image.into(), ..Default::default() }), auth: None, sandbox_config: None }).await
        });
        r.unwrap_or_else(|e| panic!("PullImage {image}: {e}\ncontainerd's log:\n{}", tail(&self.log()))).into_inner().image_ref
    }

    /// ExecSync in a container; returns (exit code, stdout, stderr).
    pub fn exec_sync(&mut self, container: &str, cmd: &[&str], timeout_s: i64) -> (i32, String, String) {
        let (rt, c) = self.cri();
        let r = rt
            .block_on(c.exec_sync(ExecSyncRequest { container_id: container.into(), cmd: cmd.iter().map(|s| s.to_string()).collect(), timeout: timeout_s }))
            .unwrap_or_else(|e| panic!("ExecSync {cmd:?}: {e}"))
            .into_inner();
        (r.exit_code, text(&r.stdout), text(&r.stderr))
    }

    /// Every sandbox the daemon knows.
    pub fn pod_ids(&mut self) -> Vec<String> {
        let (rt, c) = self.cri();
        let r = rt.block_on(c.list_pod_sandbox(ListPodSandboxRequest { filter: None })).unwrap_or_else(|e| panic!("ListPodSandbox: {e}"));
        r.into_inner().items.into_iter().map(|p| p.id).collect()
    }

    /// The containerd-shim-runc-v2 processes serving this daemon.
    pub fn shims(&self) -> Vec<u32> {
        let socket = self.socket().to_string_lossy().into_owned();
        std::fs::read_dir("/proc").unwrap().flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
            .filter(|p| {
                let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                let cmdline = text(&cmdline);
                cmdline.starts_with("/usr/bin/containerd-shim-runc-v2") && cmdline.contains(&socket)
            })
            .collect()
    }

    /// Mounts in the daemon's mount namespace whose line mentions `what` (a sandbox id, say).
    pub fn mounts_of(&self, what: &str) -> Vec<String> {
        let info = std::fs::read_to_string(format!("/proc/{}/mountinfo", self.holder_pid())).unwrap();
        info.lines().filter(|l| l.contains(what)).map(String::from).collect()
    }

    /// Whether a path exists in the daemon's mount namespace.
    pub fn path_exists(&self, path: &str) -> bool {
        Path::new(&format!("/proc/{}/root{path}", self.holder_pid())).exists()
    }

    /// Network namespaces containerd has pinned in its mount namespace (/var/run/netns).
    pub fn pinned_netns(&self) -> Vec<String> {
        let dir = format!("/proc/{}/root/var/run/netns", self.holder_pid());
        std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Through the CRI first, as kubelet would (bounded: the daemon may be what failed).
        if self.runtime.is_some() {
            let rt = &self.rt;
            let c = self.runtime.as_mut().unwrap();
            let _ = rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(30), async {
                    if let Ok(r) = c.list_pod_sandbox(ListPodSandboxRequest { filter: None }).await {
                        for p in r.into_inner().items {
                            let _ = c.stop_pod_sandbox(StopPodSandboxRequest { pod_sandbox_id: p.id.clone() }).await;
                            let _ = c.remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: p.id }).await;
                        }
                    }
                })
                .await
            });
        }
        // Whatever is left: every container's init (a shim's child), then the shims, the daemon,
        // and the holder (the namespaces go with it).
        for shim in self.shims() {
            for (child, _) in children_of(shim) {
                let _ = std::panic::catch_unwind(|| signal(child, SIGKILL));
            }
            let _ = std::panic::catch_unwind(|| signal(shim, SIGKILL));
        }
        self.daemon.take();
        self.holder.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A tonic channel over containerd's unix socket.
async fn connect(socket: &Path) -> Result<Channel, tonic::transport::Error> {
    let socket = socket.to_path_buf();
    Endpoint::try_from("http://[::]:50051")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move { Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tokio::net::UnixStream::connect(socket).await?)) }
        }))
        .await
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The daemon's config (containerd 1.6, config version 2). Only what this machine and the tests
/// need differs from the defaults: its own paths; the sandbox image; `native` snapshots (nothing
/// to mount: this machine's overlay is in use by the tests' own vfs podman store); CNI from
/// Debian's plugins; and `restrict_oom_score_adj`, because runc may not lower oom_score_adj here
/// to the -998 containerd asks for a sandbox (without it every RunPodSandbox fails with "can't get
/// final child's PID from pipe: EOF"); and plain HTTP for the tests' registry on 127.0.0.1 in the
/// daemon's own network namespace (tests/registry.rs).
pub fn config(dir: &Path, sandbox_image: &str) -> String {
    let d = dir.display();
    let registry = crate::registry::ADDRESS;
    format!(
        r#"version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{d}/cni"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."{registry}"]
    endpoint = ["http://{registry}"]
"#
    )
}

/// A bridge network with host-local addresses (its state under the test's directory). The
/// bridge and the pod addresses exist only inside the daemon's own network namespace.
fn cni_config(dir: &Path) -> String {
    format!(
        r#"{{"cniVersion": "0.4.0", "name": "pause-tests", "plugins": [
  {{"type": "bridge", "bridge": "cni-pause0", "isGateway": true, "ipMasq": false,
    "ipam": {{"type": "host-local", "dataDir": "{}/cni-ipam", "ranges": [[{{"subnet": "10.88.0.0/16"}}]]}}}},
  {{"type": "loopback"}}
]}}"#,
        dir.display()
    )
}

/// kubelet's sandbox config for a pod `name`: RuntimeDefault seccomp, the given PID namespace
/// mode, the pod's own network (CNI), logs under the daemon's directory.
pub fn pod_config(c: &Containerd, name: &str, pid: NamespaceMode, seccomp: SecurityProfile) -> PodSandboxConfig {
    let logs = c.dir.join("logs").join(name);
    std::fs::create_dir_all(&logs).unwrap();
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata { name: name.into(), uid: format!("uid-{name}"), namespace: "default".into(), attempt: 0 }),
        hostname: name.into(),
        log_directory: logs.display().to_string(),
        linux: Some(LinuxPodSandboxConfig {
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption { network: NamespaceMode::Pod as i32, pid: pid as i32, ipc: NamespaceMode::Pod as i32, ..Default::default() }),
                seccomp: Some(seccomp),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// kubelet's default seccomp for a pod that asks for it: the runtime's own profile.
pub fn runtime_default() -> SecurityProfile {
    SecurityProfile { profile_type: security_profile::ProfileType::RuntimeDefault as i32, localhost_ref: String::new() }
}

/// A Localhost seccomp profile: the JSON file at `path`.
pub fn localhost_profile(path: &Path) -> SecurityProfile {
    SecurityProfile { profile_type: security_profile::ProfileType::Localhost as i32, localhost_ref: path.display().to_string() }
}

/// Waits until the sandbox's pause sleeps; returns its host pid.
pub fn pause_of(c: &mut Containerd, id: &str) -> u32 {
    let pid = c.pause_pid(id);
    wait_until_asleep(pid);
    pid
}
