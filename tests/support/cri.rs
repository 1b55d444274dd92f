//! A CRI v1 client over a containerd socket, speaking as kubelet does: runtime and image services.
use crate::process::{last_lines, text};
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint, Uri};

/// A connected CRI client. Cloning it is cheap (one channel, one runtime), so a guard can keep
/// one to clean up with.
#[derive(Clone)]
pub struct Cri {
    rt: Arc<tokio::runtime::Runtime>,
    channel: Channel,
    /// The daemon's log, quoted when a call fails.
    log: PathBuf,
    /// The runtime's name and version, named when a call fails (a new version that breaks pause
    /// must be obvious).
    label: String,
}

/// What ExecSync returns.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecResult {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Cri {
    /// Connects to `socket` and asks for the runtime's status; Err if it does not answer.
    pub fn connect(socket: &Path, log: &Path) -> Result<Cri, String> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let channel = rt.block_on(channel(socket)).map_err(|e| e.to_string())?;
        let mut cri = Cri { rt: Arc::new(rt), channel, log: log.to_path_buf(), label: String::new() };
        cri.rt.block_on(cri.runtime().status(StatusRequest { verbose: false })).map_err(|e| e.to_string())?;
        let v = cri.ok("Version", cri.runtime().version(VersionRequest { version: "v1".into() }));
        cri.label = format!("{} {}", v.runtime_name, v.runtime_version);
        Ok(cri)
    }

    /// Waits up to `limit` for the daemon `who` (its log at `log`) to answer on `socket`, then
    /// checks that its CRI Version call starts with `version_prefix` (`table` says where to update
    /// it); fails the test otherwise.
    pub fn wait_for(who: &str, socket: &Path, log: &Path, limit: Duration, version_prefix: &str, table: &str) -> Cri {
        let mut cri = None;
        let up = crate::process::eventually(limit, || {
            cri = Cri::connect(socket, log).ok();
            cri.is_some()
        });
        let log_text = || std::fs::read_to_string(log).unwrap_or_default();
        assert!(up, "{who} did not answer on {} within {limit:?}; its log:\n{}", socket.display(), log_text());
        let cri = cri.unwrap();
        let version = cri.runtime_version().to_string();
        assert!(version.starts_with(version_prefix), "{who} runs {version}, not {version_prefix}*: update {table}");
        cri
    }

    fn runtime(&self) -> RuntimeServiceClient<Channel> {
        RuntimeServiceClient::new(self.channel.clone())
    }

    fn images(&self) -> ImageServiceClient<Channel> {
        ImageServiceClient::new(self.channel.clone())
    }

    /// The last 30 lines of the daemon's log.
    pub fn log_tail(&self) -> String {
        last_lines(&text(&std::fs::read(&self.log).unwrap_or_default()), 30)
    }

    /// Waits for `call`, failing the test with the daemon's log if it fails.
    fn ok<T>(&self, what: &str, call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>) -> T {
        match self.rt.block_on(call) {
            Ok(r) => r.into_inner(),
            Err(e) => panic!("{what} ({}): {e}\nthe daemon's log:\n{}", self.label, self.log_tail()),
        }
    }

    /// The runtime's name and version, as the CRI Version call reported them when it connected
    /// ("containerd 2.1.9+unknown").
    pub fn runtime_version(&self) -> &str {
        &self.label
    }

    /// RunPodSandbox, whose failure (the runtime's message) is what the test looks at.
    pub fn try_run_pod(&self, config: PodSandboxConfig) -> Result<String, String> {
        let r =
            self.rt.block_on(self.runtime().run_pod_sandbox(RunPodSandboxRequest { config: Some(config), runtime_handler: String::new() }));
        r.map(|r| r.into_inner().pod_sandbox_id).map_err(|e| e.message().to_string())
    }

    /// RunPodSandbox; returns the sandbox id.
    pub fn run_pod(&self, config: PodSandboxConfig) -> String {
        self.ok(
            "RunPodSandbox",
            self.runtime().run_pod_sandbox(RunPodSandboxRequest { config: Some(config), runtime_handler: String::new() }),
        )
        .pod_sandbox_id
    }

    /// PodSandboxStatus, verbose (its info holds the runtime's view, pid included).
    pub fn pod_status(&self, id: &str) -> PodSandboxStatusResponse {
        self.ok("PodSandboxStatus", self.runtime().pod_sandbox_status(PodSandboxStatusRequest { pod_sandbox_id: id.into(), verbose: true }))
    }

    pub fn pod_ready(&self, id: &str) -> bool {
        self.pod_status(id).status.unwrap().state == PodSandboxState::SandboxReady as i32
    }

    /// The runtime's view of the sandbox (pid, runtime spec, ...): the verbose status's "info".
    pub fn pod_info(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(self.pod_status(id).info.get("info").expect("verbose info")).unwrap()
    }

    /// The host pid of the sandbox's container (pause), from the verbose status.
    pub fn pause_pid(&self, id: &str) -> u32 {
        self.pod_info(id)["pid"].as_u64().expect("pid in the sandbox info") as u32
    }

    /// The host pid of a container's init, from its verbose status.
    pub fn container_pid(&self, id: &str) -> u32 {
        let r =
            self.ok("ContainerStatus", self.runtime().container_status(ContainerStatusRequest { container_id: id.into(), verbose: true }));
        let info: serde_json::Value = serde_json::from_str(r.info.get("info").expect("verbose info")).unwrap();
        info["pid"].as_u64().expect("pid in the container info") as u32
    }

    /// The sandbox's network namespace path, from the verbose status.
    pub fn netns_path(&self, id: &str) -> String {
        let info = self.pod_info(id);
        let namespaces = info["runtimeSpec"]["linux"]["namespaces"].as_array().expect("namespaces in the runtime spec").clone();
        namespaces.iter().find(|n| n["type"] == "network").and_then(|n| n["path"].as_str()).expect("a network namespace path").to_string()
    }

    pub fn stop_pod(&self, id: &str) {
        self.ok("StopPodSandbox", self.runtime().stop_pod_sandbox(StopPodSandboxRequest { pod_sandbox_id: id.into() }));
    }

    pub fn remove_pod(&self, id: &str) {
        self.ok("RemovePodSandbox", self.runtime().remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id.into() }));
    }

    /// Every sandbox the daemon knows.
    pub fn pod_ids(&self) -> Vec<String> {
        self.ok("ListPodSandbox", self.runtime().list_pod_sandbox(ListPodSandboxRequest { filter: None }))
            .items
            .into_iter()
            .map(|p| p.id)
            .collect()
    }

    /// Every sandbox the daemon knows, with its metadata (name, attempt) and state.
    pub fn pods(&self) -> Vec<PodSandbox> {
        self.ok("ListPodSandbox", self.runtime().list_pod_sandbox(ListPodSandboxRequest { filter: None })).items
    }

    /// StopPodSandbox + RemovePodSandbox of `ids`, bounded in time and ignoring errors: for
    /// guards, which run also when the daemon is what failed.
    pub fn stop_and_remove_quietly(&self, ids: &[String]) {
        let mut runtime = self.runtime();
        let _ = self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), async {
                for id in ids {
                    let _ = runtime.stop_pod_sandbox(StopPodSandboxRequest { pod_sandbox_id: id.clone() }).await;
                    let _ = runtime.remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id.clone() }).await;
                }
            })
            .await
        });
    }

    /// Every sandbox the daemon knows, or none if it does not answer within 10 s (for guards).
    pub fn pod_ids_quietly(&self) -> Vec<String> {
        let mut runtime = self.runtime();
        let r = self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), runtime.list_pod_sandbox(ListPodSandboxRequest { filter: None })).await
        });
        match r {
            Ok(Ok(r)) => r.into_inner().items.into_iter().map(|p| p.id).collect(),
            _ => Vec::new(),
        }
    }

    /// CreateContainer + StartContainer of `config` in the sandbox; returns its id.
    pub fn run_container(&self, pod: &str, pod_config: &PodSandboxConfig, config: ContainerConfig) -> String {
        let id = self
            .ok(
                "CreateContainer",
                self.runtime().create_container(CreateContainerRequest {
                    pod_sandbox_id: pod.into(),
                    config: Some(config),
                    sandbox_config: Some(pod_config.clone()),
                }),
            )
            .container_id;
        self.ok("StartContainer", self.runtime().start_container(StartContainerRequest { container_id: id.clone() }));
        id
    }

    /// ExecSync of `cmd` in a container, with a timeout in seconds.
    pub fn exec_sync(&self, container: &str, cmd: &[&str], timeout_s: i64) -> ExecResult {
        let r = self.ok(
            &format!("ExecSync {cmd:?}"),
            self.runtime().exec_sync(ExecSyncRequest {
                container_id: container.into(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                timeout: timeout_s,
            }),
        );
        ExecResult { exit_code: r.exit_code, stdout: text(&r.stdout), stderr: text(&r.stderr) }
    }

    /// ImageStatus of `image`, as kubelet asks before it uses one; None if the node does not have it.
    pub fn image_status(&self, image: &str) -> Option<Image> {
        let request = ImageStatusRequest { image: Some(ImageSpec { image: image.into(), ..Default::default() }), verbose: false };
        self.ok(&format!("ImageStatus {image}"), self.images().image_status(request)).image
    }

    /// PullImage, as kubelet pulls an image; returns the image reference containerd reports.
    pub fn pull_image(&self, image: &str) -> String {
        let request =
            PullImageRequest { image: Some(ImageSpec { image: image.into(), ..Default::default() }), auth: None, sandbox_config: None };
        self.ok(&format!("PullImage {image}"), self.images().pull_image(request)).image_ref
    }
}

/// A tonic channel over a unix socket.
async fn channel(socket: &Path) -> Result<Channel, tonic::transport::Error> {
    let socket = socket.to_path_buf();
    Endpoint::try_from("http://[::]:50051")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move { Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tokio::net::UnixStream::connect(socket).await?)) }
        }))
        .await
}
