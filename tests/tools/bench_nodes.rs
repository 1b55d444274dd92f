//! bench's node sections: each image as the sandbox image of a CRI runtime (every node of the node
//! table and CRI-O), and a full kubelet node of 110 pods on each.
use super::{kb, median};
use pause_tests::prelude::*;
use std::time::{Duration, Instant};

/// The sandbox image of the CRI section for catatonit: Debian's static catatonit run as
/// `catatonit -P` (podman's own pause process), as critest's comparison uses it.
fn catatonit_archive() -> (String, std::path::PathBuf) {
    (pause_tests::stand_ins::CATATONIT.to_string(), pause_tests::stand_ins::catatonit_archive())
}

/// The CRI section's metrics, with their units.
const METRICS: [(&str, &str); 5] = [
    ("RunPodSandbox to READY", "ms"),
    ("StopPodSandbox", "ms"),
    ("sandbox process RSS (VmRSS)", "KiB"),
    ("sandbox process PSS", "KiB"),
    ("sandbox cgroup memory (user + kernel)", "KiB"),
];

/// 20 sandboxes one after another on the daemon `c` (PID namespace POD, RuntimeDefault): the
/// medians of METRICS.
fn sandboxes(c: &impl pause_tests::pod::CriDaemon, image: &str) -> [f64; 5] {
    use k8s_cri::v1::NamespaceMode;
    use pause_tests::pod::*;
    let cri = c.cri();
    let (mut run, mut stop, mut rss, mut pss, mut charged) = (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..20 {
        let config = pod_config(c, &format!("bench-{i}"), NamespaceMode::Pod, runtime_default());
        let t = Instant::now();
        let id = cri.run_pod(config);
        assert!(cri.pod_ready(&id), "{image}: sandbox not READY");
        run.push(t.elapsed().as_secs_f64() * 1e3);
        let pid = cri.pause_pid(&id);
        assert!(
            eventually(Duration::from_secs(10), || stat(pid).is_some_and(|s| s.state == State::Sleeping)),
            "{image}: the sandbox process does not sleep"
        );
        std::thread::sleep(Duration::from_millis(50));
        rss.push(kb(pid, "status", "VmRSS"));
        pss.push(kb(pid, "smaps_rollup", "Pss"));
        charged.push(cgroup_memory_kib(pid));
        let t = Instant::now();
        cri.stop_pod(&id);
        stop.push(t.elapsed().as_secs_f64() * 1e3);
        cri.remove_pod(&id);
    }
    [median(run), median(stop), median(rss), median(pss), median(charged)]
}

/// The CRI section, on each node of the node table (containerd 1.6 with runc 1.1, 2.1 with runc
/// 1.3, 2.3 with runc 1.5, 2.4 with runc 1.4) and on CRI-O 1.36 with runc 1.5: each image as the
/// sandbox image of the same (throwaway) daemon, 20 sandboxes one after another: RunPodSandbox until it returns READY, StopPodSandbox, the sandbox
/// process's RSS and PSS once it sleeps, and the memory the kernel charges to the sandbox's own
/// cgroup (user and kernel memory of the cgroup that holds only that process). Medians.
pub(crate) fn cri_rows() -> Vec<(String, &'static str, Vec<f64>)> {
    use pause_tests::containerd::*;
    let ours = (pause_tests::image::list_name(), pause_tests::image::list_archive());
    let theirs = catatonit_archive();
    let mut rows = Vec::new();
    for node in pause_tests::node::NODES {
        let mut columns = Vec::new();
        for (image, archive) in [&ours, &theirs] {
            eprintln!("bench: CRI on {}, {image} as sandbox image (20 sandboxes)", node.name);
            let c = Containerd::start_with(node, image, std::slice::from_ref(archive));
            columns.push(sandboxes(&c, image));
        }
        for (i, (m, unit)) in METRICS.iter().enumerate() {
            rows.push((format!("{}: {m}", node.name), *unit, columns.iter().map(|c| c[i]).collect()));
        }
    }
    // CRI-O 1.36 (support/crio.rs): pods sharing their PID namespace (the only ones with an infra
    // process there); this image with CRI-O's default pause_command, catatonit with its entrypoint.
    let wrapper = std::env::current_exe().unwrap().with_file_name("oci-wrapper");
    let mut columns = Vec::new();
    for ((image, archive), command) in [(&ours, "/pause"), (&theirs, "")] {
        eprintln!("bench: CRI-O, {image} as pause_image (20 sandboxes)");
        let c = pause_tests::crio::CriO::start_with(&wrapper, image, command, &[(archive.clone(), image.clone())]);
        columns.push(sandboxes(&c, image));
    }
    for (i, (m, unit)) in METRICS.iter().enumerate() {
        rows.push((format!("cri-o-1.36: {m}"), *unit, columns.iter().map(|c| c[i]).collect()));
    }
    rows
}

/// The kubelet section: a full node (kubelet's default max-pods, 110 static pods of one busybox
/// `sleep` container each) on containerd 2.3 with runc 1.5, once with each image as the sandbox
/// image: the time from the manifests written to every pod Running and Ready, the memory charged
/// to the sandboxes' own cgroups (sum), and the node's memory at rest, the PSS of kubelet,
/// containerd, the shims and the sandbox processes, 10 s after the last pod got Ready.
pub(crate) fn kubelet_rows() -> Vec<(String, &'static str, Vec<f64>)> {
    use pause_tests::kubelet::{Company, Kubelet, NODE_NAME};
    const PODS: usize = 110;
    let ours = (pause_tests::image::list_name(), pause_tests::image::list_archive());
    let theirs = catatonit_archive();
    let mut columns = Vec::new();
    for (image, archive) in [&ours, &theirs] {
        eprintln!("bench: kubelet on containerd 2.3, {image} as sandbox image, {PODS} static pods");
        let archives = [archive.clone(), pause_tests::busybox::busybox_archive()];
        let k = Kubelet::start_on(Company::Alone, serde_json::json!({}), || {
            pause_tests::containerd::Containerd::start_with(&pause_tests::node::CONTAINERD_2_3, image, &archives)
        });
        let t = Instant::now();
        for i in 0..PODS {
            let manifest = format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: {}\n    imagePullPolicy: Never\n    command: [\"sleep\", \"1000000\"]\n",
                pause_tests::busybox::BUSYBOX
            );
            k.write_manifest(&format!("p{i}.yaml"), &manifest);
        }
        let all_ready = eventually(Duration::from_secs(15 * 60), || {
            std::thread::sleep(Duration::from_secs(1));
            let pods = k.pods();
            pods.len() == PODS && pods.iter().all(|p| p.is_running_and_ready())
        });
        assert!(all_ready, "{image}: not all {PODS} pods Ready in 15 minutes");
        let ready = t.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_secs(10));
        let cri = k.runtime.cri();
        let sandboxes: Vec<u32> = cri
            .pods()
            .iter()
            .filter(|p| p.metadata.as_ref().is_some_and(|m| m.name.ends_with(NODE_NAME)))
            .map(|p| cri.pause_pid(&p.id))
            .collect();
        assert_eq!(sandboxes.len(), PODS);
        let charged: f64 = sandboxes.iter().map(|p| cgroup_memory_kib(*p)).sum();
        let mut node = vec![k.pid(), k.runtime.daemon_pid()];
        node.extend(k.runtime.shims());
        node.extend(&sandboxes);
        let at_rest: f64 = node.iter().map(|p| kb(*p, "smaps_rollup", "Pss")).sum();
        columns.push([ready, charged / 1024.0, at_rest / 1024.0]);
    }
    let metrics = [
        ("manifests written to all 110 pods Ready", "s"),
        ("110 sandboxes' cgroup memory, sum", "MiB"),
        ("node at rest: kubelet + containerd + shims + sandboxes, PSS", "MiB"),
    ];
    metrics
        .iter()
        .enumerate()
        .map(|(i, (m, unit))| (format!("kubelet on containerd-2.3: {m}"), *unit, columns.iter().map(|c| c[i]).collect()))
        .collect()
}

/// The memory the kernel charges to the cgroup of `pid` (which holds only it), in KiB: cgroup v1's
/// memory.usage_in_bytes (user and kernel memory) where the memory controller is v1, as on the CI
/// machine, else cgroup v2's memory.current.
fn cgroup_memory_kib(pid: u32) -> f64 {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let v1 = cgroups.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        controllers.split(',').any(|c| c == "memory").then(|| format!("/sys/fs/cgroup/memory{path}/memory.usage_in_bytes"))
    });
    let file = v1.unwrap_or_else(|| {
        let path = cgroups.lines().find_map(|l| l.strip_prefix("0::")).expect("no cgroup v2 line");
        format!("/sys/fs/cgroup{path}/memory.current")
    });
    let bytes: f64 = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}")).trim().parse().unwrap();
    bytes / 1024.0
}
