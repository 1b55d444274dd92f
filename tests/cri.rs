//! On a Kubernetes node: containerd's CRI runs this image as the pod sandbox, driven the way
//! kubelet drives it (CRI v1 over the socket), each test with a containerd of its own, on every
//! node of the node table (support/node.rs): Debian 12's containerd 1.6 with runc 1.1, Debian
//! sid's containerd 2.1 with runc 1.3, and containerd 2.3 with runc 1.5 and 2.4 with runc 1.4 built
//! from the tests' Go module.
use k8s_cri::v1::NamespaceMode;
use pause_tests::containerd::*;
use pause_tests::for_each_node;
use pause_tests::image::list_name;
use pause_tests::pod::*;
use pause_tests::prelude::*;
use pause_tests::readme::release;
use pause_tests::seccomp::names_of;
use std::time::{Duration, Instant};

fn pid_ns(pid: u32) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap()
}

/// A sandbox named `name` with kubelet's defaults (RuntimeDefault seccomp) and the given PID
/// namespace mode, running, its pause asleep.
fn sandbox(c: &Containerd, name: &str, pid: NamespaceMode) -> Sandbox {
    Sandbox::run(c, pod_config(c, name, pid, runtime_default()))
}

for_each_node! {
    /// A plain `ctr -n k8s.io images import` of the images command's oci-archive names the image
    /// `localhost/pause:<version>` (no tag by hand), which is what the CRI looks up as sandbox image.
    fn a_plain_ctr_import_names_the_image_right(node) {
        let c = Containerd::start(node);
        let listed = c.ctr_ok(&["images", "ls", "-q"]);
        assert!(listed.lines().any(|l| l == list_name()), "{} is not among the imported images:\n{listed}", list_name());
        assert!(!listed.contains("import-"), "ctr made up a name:\n{listed}");
    }
}

for_each_node! {
    /// After that plain import, ImageStatus of the sandbox image says whether the node pinned it
    /// (kubelet's image garbage collection never deletes a pinned image): containerd 2.x does,
    /// containerd 1.6 has no pinning and says `pinned: false`.
    fn the_sandbox_image_is_pinned_where_the_node_pins(node) {
        let c = Containerd::start(node);
        let image = c.cri().image_status(&list_name()).unwrap_or_else(|| panic!("{}: ImageStatus has no {}", node.name, list_name()));
        assert_eq!(image.pinned, node.pins_sandbox_image, "{}: pinned: {}", node.name, image.pinned);
    }
}

/// README's check command that starts with `start`, with `<placeholder>`s filled in, run as written
/// by bash on the host against the daemon `c` (crictl and ctr find it through
/// CONTAINER_RUNTIME_ENDPOINT and CONTAINERD_ADDRESS, crictl is the one tests/run built, ctr the
/// host's); returns its stdout.
fn documented_check(c: &Containerd, start: &str, fill: &[(&str, &str)]) -> String {
    let line = fill.iter().fold(pause_tests::readme::line_starting(start), |l, (from, to)| l.replace(from, to));
    let crictl = pause_tests::go_tools::tool("cri-tools-1.37", "crictl");
    let path = format!("{}:{}", crictl.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let mut sh = std::process::Command::new(require("bash", "install bash"));
    sh.args(["-e", "-o", "pipefail", "-c", &line])
        .env("PATH", path)
        .env("CONTAINER_RUNTIME_ENDPOINT", format!("unix://{}", c.socket().display()))
        .env("CONTAINERD_ADDRESS", c.socket());
    let out = run_to_end(sh);
    assert!(out.status.success(), "`{line}`: {}{}", text(&out.stderr), text(&out.stdout));
    text(&out.stdout)
}

for_each_node! {
    /// README's commands that check a node took the image, run as written against the node:
    /// `crictl inspecti ... | jq .status.pinned` prints whether the node pins it (as ImageStatus
    /// says), `ctr -n k8s.io containers info <pod id> | jq -r .Image` of a running sandbox prints
    /// this image's name.
    fn the_documented_checks_show_the_sandbox_image(node) {
        let c = Containerd::start(node);
        require("jq", "install jq (bash tests/run does)");
        require("ctr", "install containerd (bash tests/run does)");
        let pinned = documented_check(&c, &format!("crictl inspecti {}", list_name()), &[]);
        assert_eq!(pinned.trim(), node.pins_sandbox_image.to_string(), "{}: crictl inspecti's pinned", node.name);
        let pod = sandbox(&c, "checked", NamespaceMode::Pod);
        let image = documented_check(&c, "ctr -n k8s.io containers info <pod id>", &[("<pod id>", &pod.id)]);
        assert_eq!(image.trim(), list_name(), "{}: the sandbox's image", node.name);
    }
}

for_each_node! {
    /// RunPodSandbox with kubelet's defaults (RuntimeDefault seccomp, PID namespace POD, CNI): READY
    /// with an IP; pause is PID 1 of the pod's PID namespace, runs as the image's 65535:65535, under
    /// a seccomp filter with no_new_privs, asleep, and is not woken over an idle second (voluntary
    /// context switches).
    fn sandbox_with_kubelet_defaults_is_ready_and_pause_sleeps_as_pid_1(node) {
        let c = Containerd::start(node);
        let t = Instant::now();
        let pod = sandbox(&c, "defaults", NamespaceMode::Pod);
        println!("RunPodSandbox until pause sleeps took {:?}", t.elapsed());
        let status = c.cri().pod_status(&pod.id).status.unwrap();
        assert!(c.cri().pod_ready(&pod.id), "sandbox state {}", status.state);
        let ip = status.network.map(|n| n.ip).unwrap_or_default();
        assert!(ip.starts_with("10.88."), "sandbox IP {ip:?}");
        let pid = pod.pause;
        assert_eq!(*nspids(pid).last().unwrap(), 1, "pause is not PID 1 of its namespace: NSpid {:?}", nspids(pid));
        assert_eq!(status_field(pid, "Uid").unwrap().split_whitespace().next(), Some("65535"));
        assert_eq!(status_field(pid, "Gid").unwrap().split_whitespace().next(), Some("65535"));
        assert_eq!(status_field(pid, "Seccomp").as_deref(), Some("2"), "no seccomp filter");
        assert_eq!(status_field(pid, "NoNewPrivs").as_deref(), Some("1"));
        // The idle second is the measurement, not a wait for something to happen.
        let woke = voluntary_switches(pid);
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(stat(pid).unwrap().state, State::Sleeping);
        let wake_ups = voluntary_switches(pid) - woke;
        assert!(wake_ups <= WAKE_UPS_SLACK, "pause was woken {wake_ups} times over an idle second");
        println!("sandbox {}: ip {ip}, pause pid {pid}", pod.id);
    }
}

for_each_node! {
    /// The shipped seccomp.json as the sandbox's Localhost profile: READY, that filter installed
    /// (Seccomp 2, with NoNewPrivs), pause asleep, and StopPodSandbox ends it.
    fn sandbox_with_the_shipped_profile_is_ready_and_stops(node) {
        let c = Containerd::start(node);
        let pod = Sandbox::run(&c, pod_config(&c, "profile", NamespaceMode::Pod, localhost_profile(&c.visible(&repo_root().join("seccomp.json")))));
        assert!(c.cri().pod_ready(&pod.id));
        let pid = pod.pause;
        assert_eq!(status_field(pid, "Seccomp").as_deref(), Some("2"), "no seccomp filter");
        assert_eq!(status_field(pid, "NoNewPrivs").as_deref(), Some("1"));
        // That filter, not another: the runtime spec holds the profile's default action and exactly
        // its syscall names. (containerd, 1.6 and 2.x alike, does not filter rules by `includes.arches`: the arm64-only
        // ppoll rule is kept on amd64 too, which allows one more syscall and breaks nothing.)
        let info = c.cri().pod_info(&pod.id);
        let spec = &info["runtimeSpec"]["linux"]["seccomp"];
        assert_eq!(spec["defaultAction"], "SCMP_ACT_ERRNO", "{spec}");
        assert_eq!(names_of(&spec["syscalls"]), names_of(&pause_tests::seccomp::profile()["syscalls"]), "the sandbox's filter is not seccomp.json's");
        c.cri().stop_pod(&pod.id);
        assert!(eventually(Duration::from_secs(5), || stat(pid).is_none()), "pause still runs after StopPodSandbox");
    }
}

for_each_node! {
    /// The shipped profile as the Localhost profile of 40 sandboxes in a row while three threads
    /// keep the CPUs busy, on the node's own runc (1.1 under containerd 1.6, 1.3 under 2.x): each
    /// one READY with pause asleep under the filter, then stopped and removed.
    fn forty_sandboxes_start_under_the_shipped_profile_on_a_busy_machine(node) {
        let c = Containerd::start(node);
        let profile = localhost_profile(&c.visible(&repo_root().join("seccomp.json")));
        under_load(|| {
            for i in 0..40 {
                let pod = Sandbox::run(&c, pod_config(&c, &format!("profile-{i}"), NamespaceMode::Pod, profile.clone()));
                assert_eq!(status_field(pod.pause, "Seccomp").as_deref(), Some("2"), "sandbox {i}: no seccomp filter");
                c.cri().stop_pod(&pod.id);
                c.cri().remove_pod(&pod.id);
            }
        });
    }
}

for_each_node! {
    /// A busybox container in a sandbox with a shared PID namespace: `ps` (ExecSync) shows /pause as
    /// PID 1; an ExecSync leaving 1,000 orphans is followed by pause adopting all 1,000 at once;
    /// once they are killed, none is left (no zombie) and pause was not woken for them (voluntary
    /// context switches).
    fn busybox_in_the_pod_sees_pause_as_pid_1_and_orphans_are_reaped(node) {
        let c = Containerd::start(node);
        let pod = sandbox(&c, "busybox", NamespaceMode::Pod);
        pause_is_pid_1_and_reaps_orphans(&c, &pod);
    }
}

for_each_node! {
    /// PID namespace CONTAINER (kubelet's default without shareProcessNamespace): pause is PID 1 of
    /// its own namespace and the busybox container has another, where /pause is not to be seen.
    fn with_pid_namespace_container_pause_and_busybox_each_have_their_own(node) {
        let c = Containerd::start(node);
        let pod = sandbox(&c, "own-pid", NamespaceMode::Container);
        let pid = pod.pause;
        assert_eq!(*nspids(pid).last().unwrap(), 1);
        let ctr = pod.run_busybox("worker", &["sleep", "600"]);
        let ps = c.cri().exec_sync(&ctr, &["ps", "-o", "pid,args"], 10);
        assert_eq!(ps.exit_code, 0, "{}", ps.stderr);
        assert!(!ps.stdout.contains("/pause"), "/pause is visible from the container:\n{}", ps.stdout);
        let pid1 = pid_1_line(&ps.stdout);
        assert!(pid1.contains("sleep 600"), "PID 1 of the container is not its own command:\n{}", ps.stdout);
        let sleeper = c
            .shims()
            .into_iter()
            .flat_map(|s| children_of(s).into_iter().map(|ch| ch.pid))
            .find(|p| p != &pid && std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default().starts_with("sleep"))
            .expect("the container's process");
        assert_ne!(pid_ns(sleeper), pid_ns(pid), "the container shares pause's PID namespace");
    }
}

for_each_node! {
    /// StopPodSandbox ends pause (the runtime kills it; the time it took is printed);
    /// RemovePodSandbox leaves no process, mount or network namespace of the sandbox behind.
    fn stop_ends_pause_and_remove_leaves_nothing(node) {
        let c = Containerd::start(node);
        let pod = sandbox(&c, "stop", NamespaceMode::Pod);
        let netns = c.cri().netns_path(&pod.id);
        assert!(netns.starts_with(c.netns_dir().to_str().unwrap()), "{netns} is not under this daemon's own {}", c.netns_dir().display());
        assert!(c.path_exists(&netns), "{netns} is not there while the sandbox runs");
        assert_eq!(c.pinned_netns().len(), 1, "pinned network namespaces while the sandbox runs: {:?}", c.pinned_netns());
        assert!(!c.mounts_of(&pod.id).is_empty(), "no mount of the sandbox while it runs: the check below proves nothing");
        let t = Instant::now();
        c.cri().stop_pod(&pod.id);
        let took = t.elapsed();
        println!("StopPodSandbox took {took:?}");
        assert!(stat(pod.pause).is_none(), "pause still runs after StopPodSandbox");
        c.cri().remove_pod(&pod.id);
        assert_eq!(c.shims(), Vec::<u32>::new(), "shim processes left");
        assert_eq!(c.mounts_of(&pod.id), Vec::<String>::new(), "mounts left");
        assert!(!c.path_exists(&netns), "{netns} left");
        assert!(c.cri().pod_ids().is_empty());
    }
}

for_each_node! {
    /// `kill -9` of pause: PodSandboxStatus turns NOTREADY.
    fn killed_pause_makes_the_sandbox_notready(node) {
        let c = Containerd::start(node);
        let pod = sandbox(&c, "killed", NamespaceMode::Pod);
        signal(pod.pause, SIGKILL);
        let notready = eventually(Duration::from_secs(10), || !c.cri().pod_ready(&pod.id));
        assert!(notready, "the sandbox is still READY 10 s after pause was killed");
    }
}

for_each_node! {
    /// containerd stopped and started again while two sandboxes run: the shims keep both (same pause
    /// processes, still asleep), and both are READY again.
    fn sandboxes_survive_a_containerd_restart(node) {
        let mut c = Containerd::start(node);
        let pods = [sandbox(&c, "one", NamespaceMode::Pod), sandbox(&c, "two", NamespaceMode::Pod)];
        c.restart();
        for pod in &pods {
            assert!(eventually(Duration::from_secs(10), || c.cri().pod_ready(&pod.id)), "{} is not READY after the restart", pod.id);
            assert_eq!(c.cri().pause_pid(&pod.id), pod.pause, "{}: another pause process", pod.id);
            wait_until_asleep(pod.pause);
        }
    }
}

for_each_node! {
    /// 50 sandboxes run, stopped and removed in a row: no process, mount or network namespace of
    /// this daemon is left (it pins its namespaces in its own state directory, which only it uses).
    fn fifty_sandboxes_in_a_loop_leak_nothing(node) {
        let c = Containerd::start(node);
        let mounts_before = c.mounts_of("").len();
        let t = Instant::now();
        for i in 0..50 {
            let pod = sandbox(&c, &format!("loop-{i}"), NamespaceMode::Pod);
            assert_eq!(c.pinned_netns().len(), 1, "pinned while one sandbox runs: {:?}", c.pinned_netns());
            c.cri().stop_pod(&pod.id);
            c.cri().remove_pod(&pod.id);
        }
        println!("50 sandboxes run and removed in {:?}", t.elapsed());
        assert!(c.cri().pod_ids().is_empty(), "sandboxes left: {:?}", c.cri().pod_ids());
        assert_eq!(c.shims(), Vec::<u32>::new(), "shim processes left");
        assert_eq!(c.pinned_netns(), Vec::<String>::new(), "network namespaces left");
        assert_eq!(c.mounts_of("").len(), mounts_before, "mounts left in containerd's mount namespace");
    }
}

for_each_node! {
    /// docs/runtimes.md's node table names the containerd and runc versions this node runs, as the daemon's
    /// CRI Version call and `runc --version` report them, and so does every mention of a
    /// containerd or runc release of the same minor line in README.md and docs/ (so neither the
    /// table nor the prose can drift).
    fn the_readme_node_table_names_what_the_node_runs(node) {
        let c = Containerd::start_with(node, "localhost/pause-not-used:0", &[]);
        let containerd = c.cri().runtime_version().rsplit(' ').next().unwrap().to_string();
        let runc = node.runc.version();
        let runc = runc.strip_prefix("runc version ").unwrap_or_else(|| panic!("{}: runc --version says {runc}", node.name));
        let row = pause_tests::readme::row(&format!("`{}`", node.name));
        assert_eq!((row[1].as_str(), row[2].as_str()), (release(&containerd), release(runc)), "docs/runtimes.md's row for {}: {row:?}", node.name);
        for (word, runs) in [("containerd", release(&containerd)), ("runc", release(runc))] {
            let said = pause_tests::readme::versions_of(word, runs);
            assert!(said.iter().all(|v| v == runs), "{}: README.md or docs/ name {word} {said:?}; the node runs {runs}", node.name);
        }
    }
}
