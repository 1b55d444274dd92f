//! Under a real kubelet: kubelet 1.37 (built from the tests' Go module), standalone, runs static
//! pods written as a user writes them, on today's long-term node (containerd 2.3 with runc 1.5)
//! whose pinned sandbox image is this image. Each test has its own kubelet, containerd,
//! namespaces and cgroupRoot (support/kubelet.rs); the host's sysctls are put back afterwards.
//! Scenarios a, b, d and e also run on CRI-O 1.36 (`crio_*`), where a pod that does not share its
//! PID namespace has no infra process at all.
use pause_tests::busybox::BUSYBOX;
use pause_tests::crio::CriO;
use pause_tests::host_state::kubelet_sysctls;
use pause_tests::image::list_name;
use pause_tests::kubelet::*;
use pause_tests::node::CONTAINERD_2_3;
use pause_tests::pod::{CriDaemon, pause_adopts_and_reaps_1000_orphans};
use pause_tests::prelude::*;
use pause_tests::seccomp::names_of;
use std::time::{Duration, Instant};

/// The node kubelet drives: containerd 2.3 with runc 1.5.
const NODE: &pause_tests::node::Node = &CONTAINERD_2_3;

/// A pod of a busybox httpd and a client that fetches its page over localhost.
fn web_manifest() -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: server
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /www && echo hello from the server > /www/index.html && exec httpd -f -p 8080 -h /www"]
    readinessProbe:
      httpGet: {{path: /index.html, port: 8080}}
      periodSeconds: 1
  - name: client
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /tmp; until wget -q -O /tmp/got http://localhost:8080/index.html; do sleep 1; done; cat /tmp/got; exec sleep 1000000"]
    readinessProbe:
      exec: {{command: ["test", "-s", "/tmp/got"]}}
      periodSeconds: 1
"#
    )
}

/// The sandbox the runtime runs for the static pod `name` (kubelet's name for it): its id.
fn sandbox_of<R: CriDaemon>(k: &Kubelet<R>, name: &str) -> k8s_cri::v1::PodSandbox {
    let pods = k.runtime.cri().pods();
    let mut ready: Vec<_> = pods
        .into_iter()
        .filter(|p| p.metadata.as_ref().is_some_and(|m| m.name == name) && p.state == k8s_cri::v1::PodSandboxState::SandboxReady as i32)
        .collect();
    assert_eq!(ready.len(), 1, "not exactly one ready sandbox named {name}: {ready:#?}");
    ready.remove(0)
}

/// The image containerd recorded for a container (the sandbox's: its sandbox image), by `ctr`.
fn image_of(k: &Kubelet, container: &str) -> String {
    let info: serde_json::Value = serde_json::from_str(&k.runtime.ctr_ok(&["containers", "info", container])).unwrap();
    info["Image"].as_str().expect("Image in ctr containers info").to_string()
}

/// A pod of two containers, a busybox httpd and a client: /pods says Running and Ready; its
/// sandbox's image is this image by its pinned name; pause is the sandbox process, as 65535,
/// asleep; the client got the server's page over localhost (its log says so).
#[test]
fn a_two_container_pod_runs_with_pause_as_its_sandbox() {
    let k = Kubelet::start(NODE);
    let (name, pod) = k.run_static_pod("web", &web_manifest());
    assert_eq!(pod.status.container_statuses.len(), 2, "{pod:#?}");
    assert!(pod.status.container_statuses.iter().all(|c| c.ready && c.restart_count == 0), "{pod:#?}");
    let sandbox = sandbox_of(&k, &name);
    assert_eq!(image_of(&k, &sandbox.id), list_name(), "the sandbox is not this image");
    let pause = k.runtime.cri().pause_pid(&sandbox.id);
    assert_eq!(text(&std::fs::read(format!("/proc/{pause}/cmdline")).unwrap()).trim_end_matches('\0'), "/pause");
    assert_eq!(status_field(pause, "Uid").unwrap().split_whitespace().next(), Some("65535"));
    wait_until_asleep(pause);
    let log = k.container_log(&pod, "client");
    assert!(log.contains("hello from the server"), "the client's log has not the server's page:\n{log}");
}

/// The id containerd gave a container kubelet reports (`containerd://<id>`).
fn container_id(pod: &Pod, container: &str) -> String {
    let status =
        pod.status.container_statuses.iter().find(|c| c.name == container).unwrap_or_else(|| panic!("no container {container}: {pod:#?}"));
    // "containerd://ID" or "cri-o://ID".
    status.container_id.split_once("://").unwrap_or_else(|| panic!("container id {:?}", status.container_id)).1.to_string()
}

/// A pod whose containers share its PID namespace: one sleeping busybox, `sleeper`.
fn shared_pid_manifest() -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: shared
spec:
  shareProcessNamespace: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: sleeper
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: ["sleep", "1000000"]
  - name: other
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: ["sleep", "1000000"]
"#
    )
}

/// `shareProcessNamespace: true`: every container sees /pause as PID 1; pause adopts the 1,000
/// orphans a container leaves, reaps them all once they are killed (no zombie stays), and had no
/// wake-up for them (voluntary context switches).
#[test]
fn b_a_shared_pid_namespace_has_pause_as_pid_1_and_it_reaps_orphans() {
    shared_pid_namespace_has_pause_as_pid_1_and_it_reaps_orphans(Kubelet::start(NODE));
}

/// Scenario b on the kubelet `k`'s runtime.
fn shared_pid_namespace_has_pause_as_pid_1_and_it_reaps_orphans<R: CriDaemon>(k: Kubelet<R>) {
    let (name, pod) = k.run_static_pod("shared", &shared_pid_manifest());
    let pause = k.runtime.cri().pause_pid(&sandbox_of(&k, &name).id);
    for container in ["sleeper", "other"] {
        let r = k.runtime.cri().exec_sync(&container_id(&pod, container), &["cat", "/proc/1/cmdline"], 10);
        assert_eq!(r.stdout.trim_end_matches('\0'), "/pause", "{container} sees PID 1 as {r:?}");
    }
    pause_adopts_and_reaps_1000_orphans(&k.runtime, &container_id(&pod, "sleeper"), pause);
}

/// A pod whose securityContext sets the user, group, seccomp profile (the shipped seccomp.json,
/// Localhost) and a safe namespaced sysctl; its container asks for the runtime's default profile.
fn secured_manifest() -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: secured
spec:
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsUser: 4321
    runAsGroup: 8765
    seccompProfile:
      type: Localhost
      localhostProfile: pause.json
    sysctls:
    - name: net.ipv4.ip_unprivileged_port_start
      value: "100"
  containers:
  - name: sleeper
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: ["sleep", "1000000"]
    # The pod's profile is pause's (the sandbox's); a busybox needs more.
    securityContext:
      seccompProfile:
        type: RuntimeDefault
"#
    )
}

/// A pod that asks for the runtime's default seccomp profile.
fn runtime_default_manifest() -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: default-seccomp
spec:
  terminationGracePeriodSeconds: 1
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: sleeper
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: ["sleep", "1000000"]
"#
    )
}

/// The seccomp filter of a sandbox, as syscall names, from the runtime spec the runtime made.
fn sandbox_filter(k: &Kubelet, sandbox: &str) -> Vec<String> {
    let spec = &k.runtime.cri().pod_info(sandbox)["runtimeSpec"]["linux"]["seccomp"];
    names_of(&spec["syscalls"])
}

/// The pod's securityContext reaches the sandbox: pause runs as runAsUser/runAsGroup, asleep, in a
/// network namespace with the pod's sysctl. Its seccomp profile does not: kubelet gives every
/// sandbox RuntimeDefault whatever the pod asks for (kuberuntime_sandbox.go, kubernetes#84623),
/// so a pod with the shipped seccomp.json as its Localhost profile has pause under containerd's
/// default filter (Seccomp 2, no_new_privs), the same filter as a RuntimeDefault pod's sandbox.
#[test]
fn c_the_pods_security_context_reaches_the_sandbox_but_its_seccomp_profile_does_not() {
    let k = Kubelet::start(NODE);
    k.install_seccomp_profile("pause.json", &repo_root().join("seccomp.json"));
    k.write_manifest("secured.yaml", &secured_manifest());
    k.write_manifest("default-seccomp.yaml", &runtime_default_manifest());
    let mut filters = Vec::new();
    for name in ["secured", "default-seccomp"] {
        let name = static_pod_name(name);
        k.wait_ready(&name);
        let sandbox = sandbox_of(&k, &name);
        let pause = k.runtime.cri().pause_pid(&sandbox.id);
        wait_until_asleep(pause);
        assert_eq!(status_field(pause, "Seccomp").as_deref(), Some("2"), "{name}: no seccomp filter");
        assert_eq!(status_field(pause, "NoNewPrivs").as_deref(), Some("1"), "{name}");
        filters.push(sandbox_filter(&k, &sandbox.id));
    }
    assert_eq!(filters[0], filters[1], "the Localhost pod's sandbox filter differs from the RuntimeDefault pod's");
    assert_ne!(filters[0], names_of(&pause_tests::seccomp::profile()["syscalls"]), "kubelet passed the pod's profile to the sandbox");
    let sandbox = sandbox_of(&k, &static_pod_name("secured"));
    let pause = k.runtime.cri().pause_pid(&sandbox.id);
    assert_eq!(status_field(pause, "Uid").unwrap().split_whitespace().next(), Some("4321"));
    assert_eq!(status_field(pause, "Gid").unwrap().split_whitespace().next(), Some("8765"));
    let mut sysctl = pause_tests::namespaces::in_net_of(pause);
    sysctl.args(["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"]);
    assert_eq!(text(&run_to_end(sysctl).stdout).trim(), "100", "the pod's sysctl is not set in its network namespace");
}

/// pause killed with SIGKILL from the host: kubelet sees the sandbox die, makes a new one (attempt
/// 1) and starts the containers again; the pod is Ready again. The time it took is printed.
#[test]
fn d_a_killed_pause_is_recreated_by_kubelet() {
    killed_pause_is_recreated_by_kubelet(Kubelet::start(NODE), "web", &web_manifest());
}

/// Scenario d on the kubelet `k`'s runtime, with the pod `pod` of `manifest`.
fn killed_pause_is_recreated_by_kubelet<R: CriDaemon>(k: Kubelet<R>, pod: &str, manifest: &str) {
    let (name, _) = k.run_static_pod(pod, manifest);
    let first = sandbox_of(&k, &name);
    let pause = k.runtime.cri().pause_pid(&first.id);
    let t = Instant::now();
    signal(pause, SIGKILL);
    let mut again = None;
    let recreated = eventually(POD_READY_LIMIT, || {
        std::thread::sleep(Duration::from_millis(200));
        again = k.pod(&name).filter(|p| p.is_running_and_ready() && p.status.container_statuses.iter().all(|c| c.restart_count >= 1));
        again.is_some()
    });
    assert!(recreated, "the pod is not Ready again with restarted containers; kubelet's log ends:\n{}", k.log_tail(40));
    println!("from SIGKILL of pause to the pod Ready again: {:.1?}", t.elapsed());
    let second = sandbox_of(&k, &name);
    assert_ne!(second.id, first.id);
    assert_eq!(second.metadata.unwrap().attempt, 1, "the new sandbox's attempt");
    let new_pause = k.runtime.cri().pause_pid(&second.id);
    assert_ne!(new_pause, pause);
    assert_eq!(text(&std::fs::read(format!("/proc/{new_pause}/cmdline")).unwrap()).trim_end_matches('\0'), "/pause");
}

/// Scenario e's first half, on any runtime: the manifest `file` of the running `pod` (sandbox
/// `sandbox`) removed, its `containers` end, then pause (the test prints when). Returns when the
/// manifest was removed.
fn containers_end_before_pause<R: CriDaemon>(k: &Kubelet<R>, file: &str, pod: &Pod, sandbox: &str, containers: &[&str]) -> Instant {
    let pause = k.runtime.cri().pause_pid(sandbox);
    let inits: Vec<u32> = containers.iter().map(|c| k.runtime.cri().container_pid(&container_id(pod, c))).collect();
    let t = Instant::now();
    k.remove_manifest(file);
    let (mut containers_gone, mut pause_gone) = (None, None);
    let stopped = eventually(Duration::from_secs(60), || {
        if containers_gone.is_none() && inits.iter().all(|p| stat(*p).is_none()) {
            containers_gone = Some(t.elapsed());
        }
        if pause_gone.is_none() && stat(pause).is_none() {
            pause_gone = Some(t.elapsed());
        }
        containers_gone.is_some() && pause_gone.is_some()
    });
    assert!(stopped, "after the manifest was removed: containers gone {containers_gone:?}, pause gone {pause_gone:?}");
    println!("manifest removed: containers gone after {containers_gone:.1?}, pause after {pause_gone:.1?}");
    assert!(containers_gone <= pause_gone, "pause ended before the containers");
    t
}

/// The manifest removed: the containers stop, then the sandbox; then no pause, no shim, no mount
/// of the sandbox and no pinned network namespace is left.
#[test]
fn e_a_removed_manifest_leaves_nothing_behind() {
    let k = Kubelet::start(NODE);
    let (name, pod) = k.run_static_pod("web", &web_manifest());
    let sandbox = sandbox_of(&k, &name);
    let t = containers_end_before_pause(&k, "web.yaml", &pod, &sandbox.id, &["server", "client"]);
    let clean = eventually(Duration::from_secs(90), || {
        std::thread::sleep(Duration::from_millis(200));
        k.runtime.shims().is_empty()
            && k.runtime.mounts_of(&sandbox.id).is_empty()
            && k.runtime.pinned_netns().is_empty()
            && k.pod(&name).is_none()
    });
    assert!(
        clean,
        "left: shims {:?}, mounts {:?}, network namespaces {:?}, pod reported: {}",
        k.runtime.shims(),
        k.runtime.mounts_of(&sandbox.id),
        k.runtime.pinned_netns(),
        k.pod(&name).is_some()
    );
    println!("no shim, mount or network namespace left {:.1?} after the manifest was removed", t.elapsed());
}

/// kubelet restarted while the pod runs: it adopts the same sandbox (same id, attempt 0, same
/// pause) and the containers keep running (no restart).
#[test]
fn f_a_restarted_kubelet_adopts_the_running_sandbox() {
    let mut k = Kubelet::start(NODE);
    let (name, _) = k.run_static_pod("web", &web_manifest());
    let before = sandbox_of(&k, &name);
    let pause = k.runtime.cri().pause_pid(&before.id);
    k.restart();
    let pod = k.wait_ready(&name);
    // A few of kubelet's sync periods (1 s file checks, 1 s probes) to change its mind in.
    std::thread::sleep(Duration::from_secs(5));
    let after = sandbox_of(&k, &name);
    assert_eq!(after.id, before.id, "kubelet made a new sandbox");
    assert_eq!(after.metadata.unwrap().attempt, 0);
    assert_eq!(k.runtime.cri().pause_pid(&after.id), pause);
    assert!(stat(pause).is_some(), "pause {pause} is gone");
    let pod_now = k.pod(&name).unwrap();
    assert!(pod_now.status.container_statuses.iter().all(|c| c.restart_count == 0), "{pod:#?}");
}

/// What kubelet changed on the host is put back when the test's kubelet is dropped: the global
/// sysctls it writes, the cgroups under its cgroupRoot, and its mounts. (It runs alone: the
/// other tests' kubelets share the record, and the last of them writes the values back.)
#[test]
fn the_host_is_as_before_when_the_kubelet_is_gone() {
    let mut before = Vec::new();
    let k = Kubelet::start_on(Company::Alone, serde_json::json!({}), || {
        // No other kubelet runs now (this one holds the lease), and this one has not started.
        before = kubelet_sysctls();
        pause_tests::containerd::Containerd::start(NODE)
    });
    k.run_static_pod("web", &web_manifest());
    println!("sysctls before: {before:?}\nwhile kubelet runs: {:?}", kubelet_sysctls());
    let cgroups = k.cgroup_root.cgroups();
    assert!(cgroups.iter().any(|c| c.ends_with("kubepods")), "kubelet made no kubepods cgroup under {}: {cgroups:?}", k.cgroup_root.name);
    let root = k.cgroup_root.name.clone();
    let dir = k.dir().to_path_buf();
    drop(k);
    assert_eq!(kubelet_sysctls(), before, "sysctls not restored");
    let left: Vec<_> =
        pause_tests::host_state::hierarchies().iter().map(|h| h.join(root.trim_start_matches('/'))).filter(|p| p.exists()).collect();
    assert!(left.is_empty(), "cgroups left: {left:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(dir.to_str().unwrap()), "mounts left under {}", dir.display());
}

/// kubelet's image garbage collection set to collect every unused image at once: usage over 1%
/// of the image filesystem frees down to 0%, an image of any age.
fn collect_every_unused_image() -> serde_json::Value {
    serde_json::json!({"imageGCHighThresholdPercent": 1, "imageGCLowThresholdPercent": 0, "imageMinimumGCAge": "0s"})
}

/// A pod whose only container is this image (so it needs no image but the sandbox image).
fn pause_only_manifest() -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: after-gc
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: pause
    image: {}
    imagePullPolicy: Never
"#,
        list_name()
    )
}

/// Waits (up to kubelet's fixed 5-minute image GC period and a minute more) until kubelet's image
/// garbage collection has removed the unused busybox image; prints when.
fn wait_for_image_gc(k: &Kubelet) {
    let t = Instant::now();
    let collected = eventually(Duration::from_secs(6 * 60), || {
        std::thread::sleep(Duration::from_secs(1));
        k.runtime.cri().image_status(BUSYBOX).is_none()
    });
    assert!(collected, "kubelet's image GC did not remove the unused {BUSYBOX} in 6 minutes; kubelet's log ends:\n{}", k.log_tail(40));
    println!("kubelet's image GC removed the unused busybox image {:.1?} after kubelet was up", t.elapsed());
}

/// Image garbage collection that collects every unused image (not one pod runs): on containerd
/// 2.3, which pins its sandbox image, this image survives it, and a new pod then starts with no
/// pull (there is no registry to pull from).
#[test]
fn g_image_gc_keeps_the_pinned_sandbox_image() {
    let k = Kubelet::start_with(NODE, collect_every_unused_image());
    wait_for_image_gc(&k);
    let image = k.runtime.cri().image_status(&list_name());
    assert!(image.as_ref().is_some_and(|i| i.pinned), "the sandbox image after GC: {image:?}");
    k.run_static_pod("after-gc", &pause_only_manifest());
}

/// The hazard README warns of, shown: containerd 1.6 has no pinning, and the same garbage
/// collection deletes the sandbox image; a new pod then cannot get a sandbox.
#[test]
fn g_image_gc_deletes_the_sandbox_image_where_nothing_pins_it() {
    let k = Kubelet::start_with(&pause_tests::node::DEBIAN_12, collect_every_unused_image());
    wait_for_image_gc(&k);
    let image = k.runtime.cri().image_status(&list_name());
    assert!(image.is_none(), "the sandbox image is still there after GC on containerd 1.6: {image:?}");
}

/// A pod with `hostUsers: false`.
fn user_namespace_manifest() -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: userns
spec:
  hostUsers: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: sleeper
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: ["sleep", "1000000"]
"#
    )
}

/// `hostUsers: false`: kubelet gives the pod a user namespace of its own; pause runs as 65535
/// inside it and as another, unprivileged uid on the host.
#[test]
fn h_a_pod_without_host_users_has_pause_in_its_own_user_namespace() {
    let k = Kubelet::start(NODE);
    let (name, _) = k.run_static_pod("userns", &user_namespace_manifest());
    let pause = k.runtime.cri().pause_pid(&sandbox_of(&k, &name).id);
    wait_until_asleep(pause);
    let uid_map = std::fs::read_to_string(format!("/proc/{pause}/uid_map")).unwrap();
    let host_uid: u32 = status_field(pause, "Uid").unwrap().split_whitespace().next().unwrap().parse().unwrap();
    println!("pause's uid_map: {uid_map}host uid {host_uid}");
    assert_ne!(
        std::fs::read_link(format!("/proc/{pause}/ns/user")).unwrap(),
        std::fs::read_link("/proc/self/ns/user").unwrap(),
        "pause is in the host's user namespace"
    );
    let first: Vec<u32> = uid_map.split_whitespace().map(|f| f.parse().unwrap()).collect();
    assert_eq!(first[0], 0, "{uid_map}");
    assert!(first[2] >= 65536, "fewer than 65536 ids: {uid_map}");
    assert_eq!(host_uid, first[1] + 65535, "pause is not 65535 inside: {uid_map}");
}

// ---- The same kubelet on CRI-O 1.36 (support/crio.rs; docs/runtimes.md, CRI-O). ----

/// A kubelet on a CRI-O of its own, whose pause_image is this image.
fn on_crio() -> Kubelet<CriO> {
    Kubelet::start_on(Company::Shared, serde_json::json!({}), || CriO::start(std::path::Path::new(env!("CARGO_BIN_EXE_oci-wrapper"))))
}

/// Scenario a on CRI-O: the two-container pod (kubelet's default PID namespace, per container) is
/// Running and Ready and its client got the server's page, and CRI-O runs no infra process for it
/// (`drop_infra_ctr`): the sandbox is READY with no pid, and no /pause runs, only the two
/// containers under their conmons.
#[test]
fn crio_a_a_two_container_pod_runs_with_no_infra_process() {
    let k = on_crio();
    let (name, pod) = k.run_static_pod("web", &web_manifest());
    assert!(pod.status.container_statuses.iter().all(|c| c.ready && c.restart_count == 0), "{pod:#?}");
    let sandbox = sandbox_of(&k, &name);
    assert!(k.runtime.cri().pod_info(&sandbox.id).get("pid").is_none(), "the sandbox has an infra process");
    assert_eq!(k.runtime.pauses(), Vec::<u32>::new(), "pause runs");
    assert_eq!(k.runtime.conmons().len(), 2, "conmons: one per container, none for an infra container");
    assert!(k.container_log(&pod, "client").contains("hello from the server"), "the client's log: {}", k.container_log(&pod, "client"));
}

/// Scenario b on CRI-O: with `shareProcessNamespace: true` CRI-O keeps its infra container, this
/// image's pause; every container sees it as PID 1, and it reaps 1,000 orphans with no wake-up.
#[test]
fn crio_b_a_shared_pid_namespace_has_pause_as_pid_1_and_it_reaps_orphans() {
    shared_pid_namespace_has_pause_as_pid_1_and_it_reaps_orphans(on_crio());
}

/// Scenario d on CRI-O, on the shared-PID pod (the one with a pause): pause killed, kubelet makes
/// a new sandbox with a new pause and restarts the containers.
#[test]
fn crio_d_a_killed_pause_is_recreated_by_kubelet() {
    killed_pause_is_recreated_by_kubelet(on_crio(), "shared", &shared_pid_manifest());
}

/// Scenario e on CRI-O, on the shared-PID pod: the manifest removed, the containers end, then
/// pause; then no conmon, no pinned namespace and no pod is left.
#[test]
fn crio_e_a_removed_manifest_leaves_nothing_behind() {
    let k = on_crio();
    let (name, pod) = k.run_static_pod("shared", &shared_pid_manifest());
    assert!(!k.runtime.pinned_namespaces().is_empty(), "no pinned namespace while the pod runs: the check below proves nothing");
    containers_end_before_pause(&k, "shared.yaml", &pod, &sandbox_of(&k, &name).id, &["sleeper", "other"]);
    let clean = eventually(Duration::from_secs(90), || {
        std::thread::sleep(Duration::from_millis(200));
        k.runtime.conmons().is_empty() && k.runtime.pinned_namespaces().is_empty() && k.pod(&name).is_none()
    });
    assert!(
        clean,
        "left: conmons {:?}, pinned namespaces {:?}, pod reported: {}",
        k.runtime.conmons(),
        k.runtime.pinned_namespaces(),
        k.pod(&name).is_some()
    );
}
