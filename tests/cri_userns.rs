//! User-namespaced pods (kubelet's `hostUsers: false`) on every node of the node table
//! (support/node.rs), driven as kubelet drives them (CRI v1 over the socket), each test with a
//! containerd of its own: pause runs as the image's user inside the pod's user namespace, and a
//! namespace that cannot map that user stops the sandbox from starting.
use k8s_cri::v1::NamespaceMode;
use pause_tests::containerd::*;
use pause_tests::for_each_node;
use pause_tests::pod::*;
use pause_tests::prelude::*;
use std::time::Duration;

/// A user-namespaced pod's ids, as kubelet gives them (`hostUsers: false`): 65,536 of them, from
/// host id 1,048,576 (kubelet's ranges start at 65,536 times a pod's index).
const USERNS_HOST_BASE: u32 = 1_048_576;
const USERNS_IDS: u32 = 65_536;

/// kubelet's defaults plus a user namespace (mode POD) mapping `length` ids, for uids and gids.
fn userns_pod(c: &Containerd, name: &str, length: u32) -> k8s_cri::v1::PodSandboxConfig {
    use k8s_cri::v1::{IdMapping, UserNamespace};
    let mut config = pod_config(c, name, NamespaceMode::Pod, runtime_default());
    let ids = vec![IdMapping { host_id: USERNS_HOST_BASE, container_id: 0, length }];
    let ns = config.linux.as_mut().unwrap().security_context.as_mut().unwrap().namespace_options.as_mut().unwrap();
    ns.userns_options = Some(UserNamespace { mode: NamespaceMode::Pod as i32, uids: ids.clone(), gids: ids });
    config
}

/// The first field (the real id) of a /proc status line such as Uid or Gid.
fn real_id(pid: u32, field: &str) -> u32 {
    status_field(pid, field).unwrap().split_whitespace().next().unwrap().parse().unwrap()
}

for_each_node! {
    /// A user-namespaced pod (`hostUsers: false`: a user namespace of mode POD mapping 65,536 ids
    /// from 1,048,576): pause runs as the image's 65535 inside, PID 1 of the pod, which is host uid
    /// and gid 1,114,111 outside; StopPodSandbox ends it. containerd 1.6 does not know the field:
    /// the pod runs in the host's user namespace, pause as the host's 65535.
    fn a_user_namespaced_pod_runs_pause_as_65535_inside_and_a_high_id_outside(node) {
        let c = Containerd::start(node);
        let pod = Sandbox::run(&c, userns_pod(&c, "userns", USERNS_IDS));
        let (uid, gid) = (real_id(pod.pause, "Uid"), real_id(pod.pause, "Gid"));
        let uid_map = std::fs::read_to_string(format!("/proc/{}/uid_map", pod.pause)).unwrap();
        let mapping: Vec<u32> = uid_map.split_whitespace().map(|n| n.parse().unwrap()).collect();
        if node.user_namespaces {
            assert_eq!((uid, gid), (USERNS_HOST_BASE + 65535, USERNS_HOST_BASE + 65535), "{}: host ids of pause", node.name);
            assert_eq!(mapping, [0, USERNS_HOST_BASE, USERNS_IDS], "{}: uid_map {uid_map}", node.name);
        } else {
            assert_eq!((uid, gid), (65535, 65535), "{}: host ids of pause", node.name);
            assert_eq!(mapping, [0, 0, u32::MAX], "{}: pause is not in the host's user namespace: {uid_map}", node.name);
        }
        assert_eq!(*nspids(pod.pause).last().unwrap(), 1, "pause is not PID 1 of the pod");
        c.cri().stop_pod(&pod.id);
        assert!(eventually(Duration::from_secs(5), || stat(pod.pause).is_none()), "pause still runs after StopPodSandbox");
    }
}

for_each_node! {
    /// A user namespace of 65,535 ids leaves the image's user, 65535, unmapped: where the node makes
    /// user namespaces, RunPodSandbox fails and no pause runs (what a user sees: the pod never
    /// starts, with the runtime's error); containerd 1.6 ignores the field and runs it as before.
    fn a_user_namespace_without_uid_65535_does_not_start_the_sandbox(node) {
        let c = Containerd::start(node);
        let result = c.cri().try_run_pod(userns_pod(&c, "userns-short", USERNS_IDS - 1));
        if node.user_namespaces {
            let err = result.expect_err("RunPodSandbox of a pod whose user namespace cannot hold uid 65535 succeeded");
            println!("{}: {err}", node.name);
            assert!(err.contains("unable to setup user"), "{}: RunPodSandbox failed for another reason: {err}", node.name);
            assert!(c.cri().pod_ids().iter().all(|id| !c.cri().pod_ready(id)), "a sandbox is READY");
            let pauses: Vec<u32> = c
                .shims()
                .iter()
                .flat_map(|shim| children_of(*shim))
                .filter(|child| text(&std::fs::read(format!("/proc/{}/cmdline", child.pid)).unwrap_or_default()).starts_with("/pause"))
                .map(|child| child.pid)
                .collect();
            assert!(pauses.is_empty(), "{}: pause runs: {pauses:?}", node.name);
        } else {
            let id = result.unwrap_or_else(|e| panic!("{}: RunPodSandbox: {e}", node.name));
            assert!(c.cri().pod_ready(&id));
        }
    }
}
