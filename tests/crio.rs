//! On a CRI-O node: CRI-O 1.36 (built from the tests' Go module) with runc 1.5 and Debian 12's
//! conmon runs this image as its `pause_image`, driven as kubelet drives it (CRI v1 over its
//! socket), each test with a CRI-O of its own (support/crio.rs). CRI-O does not run an image's
//! entrypoint: it runs `pause_command` (default `/pause`), and with `drop_infra_ctr` (default true)
//! starts no infra process at all unless the pod shares its PID namespace.
use k8s_cri::v1::NamespaceMode;
use pause_tests::crio::{CriO, VERSION_PREFIX};
use pause_tests::image::list_name;
use pause_tests::pod::*;
use pause_tests::prelude::*;
use pause_tests::readme::release;
use pause_tests::runtime::RUNC_1_5;
use std::path::Path;
use std::time::{Duration, Instant};

fn crio() -> CriO {
    CriO::start(Path::new(env!("CARGO_BIN_EXE_oci-wrapper")))
}

/// A pod sandbox with kubelet's defaults (RuntimeDefault seccomp) and PID namespace POD, which is
/// what `shareProcessNamespace: true` asks: CRI-O keeps its infra container, pause.
fn shared_pid_pod(c: &CriO, name: &str) -> Sandbox {
    Sandbox::run(c, pod_config(c, name, NamespaceMode::Pod, runtime_default()))
}

/// The CRI Version call names CRI-O 1.36, and ImageStatus of the pause_image says `pinned: true`
/// (CRI-O pins its pause_image: kubelet's image garbage collection never deletes it).
#[test]
fn the_pause_image_is_pinned() {
    let c = crio();
    let version = c.cri().runtime_version().to_string();
    assert!(version.starts_with(VERSION_PREFIX), "{version}");
    let image = c.cri().image_status(&list_name()).unwrap_or_else(|| panic!("ImageStatus has no {}", list_name()));
    assert!(image.pinned, "the pause_image is not pinned: {image:?}");
}

/// docs/runtimes.md's CRI-O node table names the CRI-O, runc and conmon versions the node runs, as CRI-O's
/// CRI Version call, `runc --version` and `conmon --version` report them (so it cannot drift).
#[test]
fn the_readme_node_table_names_what_the_node_runs() {
    let c = crio();
    let conmon = run_to_end({
        let mut cmd = std::process::Command::new("conmon");
        cmd.arg("--version");
        cmd
    });
    let conmon = text(&conmon.stdout).lines().next().unwrap_or_default().to_string();
    let expected = [release(c.cri().runtime_version()), release(&RUNC_1_5.version()), release(&conmon)].map(str::to_string);
    let row = pause_tests::readme::row("`cri-o-1.36`");
    assert_eq!(row[1..4], expected, "docs/runtimes.md's CRI-O row: {row:?}");
    for (word, runs) in [("CRI-O", &expected[0]), ("conmon", &expected[2])] {
        let said = pause_tests::readme::versions_of(word, runs);
        assert!(said.iter().all(|v| v == runs), "README.md or docs/ name {word} {said:?}; the node runs {runs}");
    }
}

/// PID namespace POD: the sandbox is READY with an IP, and its infra process is this image's
/// pause, run as CRI-O's default `pause_command` (`/pause`, its only argument), as PID 1 of the
/// pod's PID namespace, under the RuntimeDefault filter, asleep, and not woken over an idle second
/// (voluntary context switches). Unlike containerd, CRI-O runs it as root (it sets no user for its
/// infra container: the image's 65535:65535 is not used) and without no_new_privs.
#[test]
fn a_pod_sharing_its_pid_namespace_runs_pause_command_as_pid_1_asleep() {
    let c = crio();
    let t = Instant::now();
    let pod = shared_pid_pod(&c, "shared");
    println!("RunPodSandbox until pause sleeps took {:?}", t.elapsed());
    let status = c.cri().pod_status(&pod.id).status.unwrap();
    assert!(c.cri().pod_ready(&pod.id), "sandbox state {}", status.state);
    let ip = status.network.map(|n| n.ip).unwrap_or_default();
    assert!(ip.starts_with("10.88."), "sandbox IP {ip:?}");
    let pid = pod.pause;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, b"/pause\0", "the infra process is not pause_command");
    let exe = std::fs::read(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(exe, std::fs::read(binary(&AMD64)).unwrap(), "the infra process is not this checkout's pause");
    assert_eq!(*nspids(pid).last().unwrap(), 1, "pause is not PID 1 of its namespace: NSpid {:?}", nspids(pid));
    assert_eq!(status_field(pid, "Uid").unwrap().split_whitespace().next(), Some("0"));
    assert_eq!(status_field(pid, "Gid").unwrap().split_whitespace().next(), Some("0"));
    assert_eq!(status_field(pid, "Seccomp").as_deref(), Some("2"), "no seccomp filter");
    assert_eq!(status_field(pid, "NoNewPrivs").as_deref(), Some("0"));
    // The idle second is the measurement, not a wait for something to happen.
    let woke = voluntary_switches(pid);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(stat(pid).unwrap().state, State::Sleeping);
    let wake_ups = voluntary_switches(pid) - woke;
    assert!(wake_ups <= WAKE_UPS_SLACK, "pause was woken {wake_ups} times over an idle second");
}

/// PID namespace CONTAINER (kubelet's default, without shareProcessNamespace): CRI-O drops the
/// infra container on purpose. The sandbox is READY with an IP and its namespaces pinned, and no
/// pause (no conmon, no process of the image) runs for it; a busybox container in it runs, PID 1
/// of its own PID namespace.
#[test]
fn a_pod_with_pid_namespace_container_is_ready_with_no_pause_process() {
    let c = crio();
    let config = pod_config(&c, "own-pid", NamespaceMode::Container, runtime_default());
    let id = c.cri().run_pod(config.clone());
    let status = c.cri().pod_status(&id).status.unwrap();
    assert!(c.cri().pod_ready(&id), "sandbox state {}", status.state);
    let ip = status.network.map(|n| n.ip).unwrap_or_default();
    assert!(ip.starts_with("10.88."), "sandbox IP {ip:?}");
    assert!(c.cri().pod_info(&id).get("pid").is_none(), "the sandbox has an infra process: {}", c.cri().pod_info(&id));
    assert_eq!(c.conmons(), Vec::<u32>::new(), "conmon runs for a sandbox without infra container");
    assert_eq!(c.pauses(), Vec::<u32>::new(), "pause runs");
    let ctr = c.cri().run_container(&id, &config, busybox_container(&config, "worker", &["sleep", "600"]));
    let ps = c.cri().exec_sync(&ctr, &["ps", "-o", "pid,args"], 10);
    assert_eq!(ps.exit_code, 0, "{}", ps.stderr);
    assert!(pid_1_line(&ps.stdout).contains("sleep 600"), "PID 1 of the container is not its own command:\n{}", ps.stdout);
    assert_eq!(c.pauses(), Vec::<u32>::new(), "pause runs");
    c.cri().stop_and_remove_quietly(&[id]);
}

/// The shipped seccomp.json as the pod's Localhost profile is refused: it allows what runc does
/// after installing the filter *with* no_new_privs (docs/seccomp.md, seccomp.json's rules), which containerd,
/// Docker and podman with `no-new-privileges` set for the sandbox. CRI-O's infra container has no
/// no_new_privs, so runc installs the filter before it drops privileges, and the first of those
/// calls fails: RunPodSandbox fails with runc's own error, and no pause is left.
#[test]
fn the_shipped_profile_as_localhost_is_refused_for_want_of_no_new_privs() {
    let c = crio();
    let profile = localhost_profile(&repo_root().join("seccomp.json"));
    let err = c.cri().try_run_pod(pod_config(&c, "profile", NamespaceMode::Pod, profile)).expect_err("RunPodSandbox succeeded");
    assert!(err.contains("unable to get last capability: operation not permitted"), "{err}");
    assert!(c.cri().pod_ids().is_empty(), "sandboxes left: {:?}", c.cri().pod_ids());
    assert_eq!(c.conmons(), Vec::<u32>::new(), "conmon left");
}

/// A busybox container in a pod sharing its PID namespace: `ps` (ExecSync) shows /pause as PID 1;
/// an ExecSync leaving 1,000 orphans is followed by pause adopting all 1,000; once they are
/// killed, none is left (no zombie) and pause was not woken for them (voluntary context switches).
#[test]
fn busybox_in_the_pod_sees_pause_as_pid_1_and_orphans_are_reaped() {
    let c = crio();
    let pod = shared_pid_pod(&c, "busybox");
    pause_is_pid_1_and_reaps_orphans(&c, &pod);
}

/// StopPodSandbox ends pause; RemovePodSandbox leaves no process (conmon, pause) and no pinned
/// namespace of the pod behind; 20 pods in a row leak nothing either.
#[test]
fn stop_ends_pause_and_remove_leaves_nothing() {
    let c = crio();
    let pinned = || c.pinned_namespaces();
    for i in 0..20 {
        let pod = shared_pid_pod(&c, &format!("loop-{i}"));
        assert!(!pinned().is_empty(), "no pinned namespace while a pod runs: the check below proves nothing");
        assert_eq!(c.conmons().len(), 1, "conmons while one pod runs");
        c.cri().stop_pod(&pod.id);
        assert!(stat(pod.pause).is_none(), "pause still runs after StopPodSandbox");
        c.cri().remove_pod(&pod.id);
        assert_eq!(c.conmons(), Vec::<u32>::new(), "conmon left");
        assert_eq!(pinned(), Vec::<String>::new(), "pinned namespaces left");
    }
    assert!(c.cri().pod_ids().is_empty(), "sandboxes left: {:?}", c.cri().pod_ids());
}
