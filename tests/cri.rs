//! On a Kubernetes node: containerd 1.6's CRI runs this image as the pod sandbox, driven the way
//! kubelet drives it (CRI v1 over the socket), each test with a containerd of its own.
use k8s_cri::v1::NamespaceMode;
use pause_tests::containerd::*;
use pause_tests::image::list_name;
use pause_tests::prelude::*;
use std::time::{Duration, Instant};

/// NSpid of /proc/PID/status: the pid in each PID namespace, outermost first.
fn nspids(pid: u32) -> Vec<u32> {
    status_field(pid, "NSpid").unwrap().split_whitespace().map(|p| p.parse().unwrap()).collect()
}

fn pid_ns(pid: u32) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap()
}

/// A plain `ctr -n k8s.io images import` of the images command's oci-archive names the image
/// `localhost/pause:<version>` (no tag by hand), which is what the CRI looks up as sandbox image.
#[test]
fn a_plain_ctr_import_names_the_image_right() {
    let c = Containerd::start();
    let listed = c.ctr_ok(&["images", "ls", "-q"]);
    assert!(listed.lines().any(|l| l == list_name()), "{} is not among the imported images:\n{listed}", list_name());
    assert!(!listed.contains("import-"), "ctr made up a name:\n{listed}");
}

/// RunPodSandbox with kubelet's defaults (RuntimeDefault seccomp, PID namespace POD, CNI): READY
/// with an IP; pause is PID 1 of the pod's PID namespace, runs as the image's 65535:65535, under
/// a seccomp filter with no_new_privs, asleep, and uses no CPU over an idle second.
#[test]
fn sandbox_with_kubelet_defaults_is_ready_and_pause_sleeps_as_pid_1() {
    let mut c = Containerd::start();
    let config = pod_config(&c, "defaults", NamespaceMode::Pod, runtime_default());
    let t = Instant::now();
    let id = c.run_pod(config);
    println!("RunPodSandbox took {:?}", t.elapsed());
    let status = c.pod_status(&id).status.unwrap();
    assert!(c.pod_ready(&id), "sandbox state {}", status.state);
    let ip = status.network.map(|n| n.ip).unwrap_or_default();
    assert!(ip.starts_with("10.88."), "sandbox IP {ip:?}");
    let pid = pause_of(&mut c, &id);
    assert_eq!(*nspids(pid).last().unwrap(), 1, "pause is not PID 1 of its namespace: NSpid {:?}", nspids(pid));
    assert_eq!(status_field(pid, "Uid").unwrap().split_whitespace().next(), Some("65535"));
    assert_eq!(status_field(pid, "Gid").unwrap().split_whitespace().next(), Some("65535"));
    assert_eq!(status_field(pid, "Seccomp").as_deref(), Some("2"), "no seccomp filter");
    assert_eq!(status_field(pid, "NoNewPrivs").as_deref(), Some("1"));
    let cpu = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(stat(pid).unwrap().state, 'S');
    assert_eq!(cpu_ticks(pid), cpu, "pause used CPU while idle");
    println!("sandbox {id}: ip {ip}, pause pid {pid}");
}

/// The shipped seccomp.json as the sandbox's Localhost profile: READY, that filter installed
/// (Seccomp 2, with NoNewPrivs), pause asleep, and StopPodSandbox ends it.
#[test]
fn sandbox_with_the_shipped_profile_is_ready_and_stops() {
    let mut c = Containerd::start();
    let config = pod_config(&c, "profile", NamespaceMode::Pod, localhost_profile(&repo_root().join("seccomp.json")));
    let id = c.run_pod(config);
    assert!(c.pod_ready(&id));
    let pid = pause_of(&mut c, &id);
    assert_eq!(status_field(pid, "Seccomp").as_deref(), Some("2"), "no seccomp filter");
    assert_eq!(status_field(pid, "NoNewPrivs").as_deref(), Some("1"));
    // That filter, not another: the runtime spec holds the profile's default action and exactly
    // its syscall names. (containerd 1.6 does not filter rules by `includes.arches`: the arm64-only
    // ppoll rule is kept on amd64 too, which allows one more syscall and breaks nothing.)
    let info = c.pod_info(&id);
    let spec = &info["runtimeSpec"]["linux"]["seccomp"];
    assert_eq!(spec["defaultAction"], "SCMP_ACT_ERRNO", "{spec}");
    let names = |rules: &serde_json::Value| -> Vec<String> {
        let mut n: Vec<String> = rules.as_array().unwrap().iter().flat_map(|r| r["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string())).collect();
        n.sort();
        n.dedup();
        n
    };
    assert_eq!(names(&spec["syscalls"]), names(&pause_tests::seccomp::profile()["syscalls"]), "the sandbox's filter is not seccomp.json's");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(stat(pid).unwrap().state, 'S', "pause is not asleep under the profile");
    c.stop_pod(&id);
    assert!(eventually(Duration::from_secs(5), || stat(pid).is_none()), "pause still runs after StopPodSandbox");
}

/// A busybox container in a sandbox with a shared PID namespace: `ps` (ExecSync) shows /pause as
/// PID 1; an ExecSync leaving 1,000 orphans that exit later leaves no zombie in the pod, pause
/// adopts them all and uses no CPU for them.
#[test]
fn busybox_in_the_pod_sees_pause_as_pid_1_and_orphans_are_reaped() {
    let mut c = Containerd::start();
    let config = pod_config(&c, "busybox", NamespaceMode::Pod, runtime_default());
    let id = c.run_pod(config.clone());
    let pid = pause_of(&mut c, &id);
    let ctr = c.run_busybox(&id, &config, "worker", &["sleep", "600"]);
    let (code, ps, err) = c.exec_sync(&ctr, &["ps", "-o", "pid,args"], 10);
    assert_eq!(code, 0, "{err}");
    let pid1 = pid_1_line(&ps);
    assert!(pid1.trim_end().ends_with("/pause"), "PID 1 of the pod is not /pause:\n{ps}");

    let cpu = cpu_ticks(pid);
    let (code, _, err) = c.exec_sync(&ctr, &["sh", "-c", "for i in $(seq 1000); do sleep 4 >/dev/null 2>&1 & done; exit 0"], 60);
    assert_eq!(code, 0, "{err}");
    let mut most = 0;
    let adopted = eventually(Duration::from_secs(10), || {
        most = most.max(children_of(pid).len());
        most >= 1000
    });
    assert!(adopted, "pause adopted at most {most} of the 1,000 orphans");
    let gone = eventually(Duration::from_secs(30), || children_of(pid).is_empty());
    assert!(gone, "left under pause (zombies are children too): {} processes", children_of(pid).len());
    let used = cpu_ticks(pid) - cpu;
    println!("1,000 orphans: pause adopted them all, used {used} ticks");
    assert!(used <= 1, "pause used {used} clock ticks for 1,000 orphans");
}

/// PID namespace CONTAINER (kubelet's default without shareProcessNamespace): pause is PID 1 of
/// its own namespace and the busybox container has another, where /pause is not to be seen.
#[test]
fn with_pid_namespace_container_pause_and_busybox_each_have_their_own() {
    let mut c = Containerd::start();
    let config = pod_config(&c, "own-pid", NamespaceMode::Container, runtime_default());
    let id = c.run_pod(config.clone());
    let pid = pause_of(&mut c, &id);
    assert_eq!(*nspids(pid).last().unwrap(), 1);
    let ctr = c.run_busybox(&id, &config, "worker", &["sleep", "600"]);
    let (code, ps, err) = c.exec_sync(&ctr, &["ps", "-o", "pid,args"], 10);
    assert_eq!(code, 0, "{err}");
    assert!(!ps.contains("/pause"), "/pause is visible from the container:\n{ps}");
    let pid1 = pid_1_line(&ps);
    assert!(pid1.contains("sleep 600"), "PID 1 of the container is not its own command:\n{ps}");
    let sleeper = children_of_shims(&c).into_iter().find(|p| p != &pid && std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default().starts_with("sleep")).expect("the container's process");
    assert_ne!(pid_ns(sleeper), pid_ns(pid), "the container shares pause's PID namespace");
}

fn children_of_shims(c: &Containerd) -> Vec<u32> {
    c.shims().into_iter().flat_map(|s| children_of(s).into_iter().map(|(p, _)| p)).collect()
}

/// StopPodSandbox returns in under a second and pause is gone (the runtime kills it);
/// RemovePodSandbox leaves no process, mount or network namespace of the sandbox behind.
#[test]
fn stop_is_under_a_second_and_remove_leaves_nothing() {
    let mut c = Containerd::start();
    let config = pod_config(&c, "stop", NamespaceMode::Pod, runtime_default());
    let id = c.run_pod(config);
    let pid = pause_of(&mut c, &id);
    let netns = c.netns_path(&id);
    assert!(c.path_exists(&netns), "{netns} is not there while the sandbox runs");
    assert!(!c.mounts_of(&id).is_empty(), "no mount of the sandbox while it runs: the check below proves nothing");
    let t = Instant::now();
    c.stop_pod(&id);
    let took = t.elapsed();
    println!("StopPodSandbox took {took:?}");
    assert!(took < Duration::from_secs(1), "StopPodSandbox took {took:?}");
    assert!(stat(pid).is_none(), "pause still runs after StopPodSandbox");
    c.remove_pod(&id);
    assert_eq!(c.shims(), Vec::<u32>::new(), "shim processes left");
    assert_eq!(c.mounts_of(&id), Vec::<String>::new(), "mounts left");
    assert!(!c.path_exists(&netns), "{netns} left");
    assert!(c.pod_ids().is_empty());
}

/// `kill -9` of pause: PodSandboxStatus turns NOTREADY.
#[test]
fn killed_pause_makes_the_sandbox_notready() {
    let mut c = Containerd::start();
    let config = pod_config(&c, "killed", NamespaceMode::Pod, runtime_default());
    let id = c.run_pod(config);
    let pid = pause_of(&mut c, &id);
    signal(pid, SIGKILL);
    let notready = eventually(Duration::from_secs(10), || !c.pod_ready(&id));
    assert!(notready, "the sandbox is still READY 10 s after pause was killed");
}

/// containerd stopped and started again while two sandboxes run: the shims keep both (same pause
/// processes, still asleep), and both are READY again.
#[test]
fn sandboxes_survive_a_containerd_restart() {
    let mut c = Containerd::start();
    let ids: Vec<String> = ["one", "two"].iter().map(|n| { let cfg = pod_config(&c, n, NamespaceMode::Pod, runtime_default()); c.run_pod(cfg) }).collect();
    let pids: Vec<u32> = ids.iter().map(|id| pause_of(&mut c, id)).collect();
    c.restart();
    for (id, pid) in ids.iter().zip(&pids) {
        assert!(eventually(Duration::from_secs(10), || c.pod_ready(id)), "{id} is not READY after the restart");
        assert_eq!(c.pause_pid(id), *pid, "{id}: another pause process");
        wait_until_asleep(*pid);
    }
}

/// 50 sandboxes run, stopped and removed in a row: no process, mount or netns is left.
#[test]
fn fifty_sandboxes_in_a_loop_leak_nothing() {
    let mut c = Containerd::start();
    let mounts_before = c.mounts_of("").len();
    let t = Instant::now();
    for i in 0..50 {
        let config = pod_config(&c, &format!("loop-{i}"), NamespaceMode::Pod, runtime_default());
        let id = c.run_pod(config);
        pause_of(&mut c, &id);
        c.stop_pod(&id);
        c.remove_pod(&id);
    }
    println!("50 sandboxes run and removed in {:?}", t.elapsed());
    assert!(c.pod_ids().is_empty(), "sandboxes left: {:?}", c.pod_ids());
    assert_eq!(c.shims(), Vec::<u32>::new(), "shim processes left");
    assert_eq!(c.pinned_netns(), Vec::<String>::new(), "network namespaces left");
    assert_eq!(c.mounts_of("").len(), mounts_before, "mounts left in containerd's mount namespace");
}
