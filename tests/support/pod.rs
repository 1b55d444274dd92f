//! Pod sandboxes as kubelet asks for them: sandbox and container configs, seccomp profiles, and a
//! sandbox guard that stops and removes its sandbox when dropped, also when the test fails.
use crate::busybox::BUSYBOX;
use crate::cri::Cri;
use crate::pause::wait_until_asleep;
use k8s_cri::v1::*;
use std::path::Path;

/// A daemon serving the CRI in namespaces of its own (containerd.rs, crio.rs).
pub trait CriDaemon {
    /// The daemon's own directory.
    fn dir(&self) -> &Path;
    /// The CRI client (runtime and image services), as kubelet talks to the daemon.
    fn cri(&self) -> &Cri;
    /// The socket its CRI listens on.
    fn socket(&self) -> std::path::PathBuf;
    /// The network and mount namespaces it runs in (kubelet runs there too).
    fn namespaces(&self) -> &crate::namespaces::Namespaces;
    /// The socket NRI plugins connect to, where the daemon runs NRI.
    fn nri_socket(&self) -> Option<std::path::PathBuf>;
    /// The cgroup parent of its pods where no kubelet gives one ("": the runtime's default).
    fn cgroup_parent(&self) -> String {
        String::new()
    }
}

/// kubelet's sandbox config for a pod `name`: the given seccomp profile and PID namespace mode,
/// the pod's own network (CNI) and IPC, logs under the daemon's directory.
pub fn pod_config(c: &impl CriDaemon, name: &str, pid: NamespaceMode, seccomp: SecurityProfile) -> PodSandboxConfig {
    let logs = c.dir().join("logs").join(name);
    std::fs::create_dir_all(&logs).unwrap();
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata { name: name.into(), uid: format!("uid-{name}"), namespace: "default".into(), attempt: 0 }),
        hostname: name.into(),
        log_directory: logs.display().to_string(),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: c.cgroup_parent(),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Pod as i32,
                    pid: pid as i32,
                    ipc: NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
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

/// A busybox container running `command`, in the pod's namespaces as the pod config sets them.
pub fn busybox_container(pod_config: &PodSandboxConfig, name: &str, command: &[&str]) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata { name: name.into(), attempt: 0 }),
        // kubelet names the image as the pod spec wrote it too (CRI-O checks signatures against it).
        image: Some(ImageSpec { image: BUSYBOX.into(), user_specified_image: BUSYBOX.into(), ..Default::default() }),
        command: command.iter().map(|s| s.to_string()).collect(),
        log_path: format!("{name}.log"),
        linux: Some(LinuxContainerConfig {
            security_context: Some(LinuxContainerSecurityContext {
                namespace_options: pod_config
                    .linux
                    .as_ref()
                    .and_then(|l| l.security_context.as_ref())
                    .and_then(|s| s.namespace_options.clone()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A running sandbox whose pause sleeps: RunPodSandbox done, stopped and removed when dropped.
pub struct Sandbox {
    pub id: String,
    pub config: PodSandboxConfig,
    /// pause's host pid.
    pub pause: u32,
    cri: Cri,
}

impl Sandbox {
    /// RunPodSandbox of `config`, then waits until its pause sleeps.
    pub fn run(c: &impl CriDaemon, config: PodSandboxConfig) -> Sandbox {
        let cri = c.cri().clone();
        let id = cri.run_pod(config.clone());
        // The guard exists from here on, so a sandbox whose pause never sleeps is removed too.
        let mut sandbox = Sandbox { pause: 0, id, config, cri };
        sandbox.pause = sandbox.cri.pause_pid(&sandbox.id);
        wait_until_asleep(sandbox.pause);
        sandbox
    }

    /// A busybox container running `command` in this sandbox; returns its id.
    pub fn run_busybox(&self, name: &str, command: &[&str]) -> String {
        self.cri.run_container(&self.id, &self.config, busybox_container(&self.config, name, command))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.cri.stop_and_remove_quietly(std::slice::from_ref(&self.id));
    }
}

/// A busybox container in `pod` (which shares its PID namespace): `ps` (ExecSync) shows /pause as
/// PID 1, and pause adopts and reaps 1,000 orphans without a wake-up (below). The same on every
/// runtime.
pub fn pause_is_pid_1_and_reaps_orphans(c: &impl CriDaemon, pod: &Sandbox) {
    let ctr = pod.run_busybox("worker", &["sleep", "600"]);
    let ps = c.cri().exec_sync(&ctr, &["ps", "-o", "pid,args"], 10);
    assert_eq!(ps.exit_code, 0, "{}", ps.stderr);
    let pid1 = crate::pause::pid_1_line(&ps.stdout);
    assert!(pid1.trim_end().ends_with("/pause"), "PID 1 of the pod is not /pause:\n{}", ps.stdout);
    pause_adopts_and_reaps_1000_orphans(c, &ctr, pod.pause);
}

/// An ExecSync in the busybox container `ctr`, which shares the PID namespace of the infra process
/// `pause`, leaves 1,000 orphans: pause adopts all 1,000 (they sleep until killed, so none exits
/// before its shell does, however slow the machine); once they are killed, none is left (no
/// zombie) and pause was not woken for them (voluntary context switches).
pub fn pause_adopts_and_reaps_1000_orphans(c: &impl CriDaemon, ctr: &str, pause: u32) {
    use crate::process::{SIGKILL, eventually, signal};
    use crate::procfs::{State, WAKE_UPS_SLACK, children_in, children_of, voluntary_switches};
    use std::time::Duration;
    crate::pause::wait_until_asleep(pause);
    let woke = voluntary_switches(pause);
    let orphans = c.cri().exec_sync(ctr, &["sh", "-c", "for i in $(seq 1000); do sleep 600 >/dev/null 2>&1 & done; exit 0"], 60);
    assert_eq!(orphans.exit_code, 0, "{}", orphans.stderr);
    let mut adopted = Vec::new();
    let all = eventually(Duration::from_secs(30), || {
        adopted = children_in(pause, State::Sleeping);
        adopted.len() == 1000
    });
    assert!(all, "pause adopted {} of the 1,000 orphans", adopted.len());
    for orphan in &adopted {
        signal(*orphan, SIGKILL);
    }
    let gone = eventually(Duration::from_secs(30), || children_of(pause).is_empty());
    assert!(gone, "left under pause (zombies are children too): {:?}", children_of(pause));
    let wake_ups = voluntary_switches(pause) - woke;
    println!("1,000 orphans: pause adopted them all, voluntary context switches meanwhile: {wake_ups}");
    assert!(wake_ups <= WAKE_UPS_SLACK, "pause was woken {wake_ups} times by 1,000 orphans");
}
