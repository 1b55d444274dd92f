//! The pause image run by podman, as a container and as a pod's infra container: `podman stop`,
//! a pod with a shared PID namespace, `podman kube play`, and every foreign platform under
//! emulation. podman runs with the containers.conf and storage.conf the tests write under the
//! checkout's scratch root (support/podman.rs: throwaway storage).
use pause_tests::busybox::busybox;
use pause_tests::image::*;
use pause_tests::podman::Podman;
use pause_tests::prelude::*;
use std::time::{Duration, Instant};

fn podman() -> Podman {
    Podman::for_tests()
}

/// `podman run -d` then `podman stop`: exit 0 (the 10 s SIGKILL fallback would give 137) and the
/// log holds exactly the shutdown line (as PID 1 of its container there is no warning): SIGTERM
/// ended it. How long the stop took is printed, a figure, not the verdict (a busy machine slows it).
#[test]
fn podman_stop_ends_it_at_once_with_exit_0() {
    images();
    let c = podman().run_detached(&format!("pause-test-stop-{}", std::process::id()), &[&image_name(&AMD64)]);
    wait_until_asleep(podman().running_pid(&c.name));
    let t = Instant::now();
    podman().ok(["stop", "--time", "10", &c.name]);
    let took = t.elapsed();
    let logs = podman().run(["logs", &c.name]);
    println!("podman stop took {took:?}");
    assert_eq!(podman().exit_code(&c.name), 0);
    assert_eq!(text(&logs.stdout) + &text(&logs.stderr), SHUTDOWN_TERM);
}

/// Checks, from the host, that pause (host pid `init`) is asleep as PID 1 of the pod's PID
/// namespace, adopts the orphans a container leaves, and releases them all (zombies included)
/// without being woken for them (voluntary context switches).
fn orphans_are_adopted_and_reaped(init: u32, run_in_pod: &dyn Fn(&str)) {
    wait_until_asleep(init);
    let woke = voluntary_switches(init);
    // A process whose children outlive it: 20 that sleep until killed and 20 that exit at once
    // (zombies of the shell, if they die before it exits), all reparented to PID 1 when it exits.
    // (pid1.rs's harness makes zombies that are certain to be zombies before their parent exits.)
    run_in_pod("for i in $(seq 20); do sleep 600 & done; for i in $(seq 20); do true & done; exit 0");
    let mut adopted = Vec::new();
    let all = eventually(Duration::from_secs(10), || {
        adopted = children_in(init, State::Sleeping);
        adopted.len() == 20
    });
    assert!(all, "the 20 orphans were not reparented to pause: its children are {:?}", children_of(init));
    for orphan in &adopted {
        signal(*orphan, SIGKILL);
    }
    let gone = eventually(Duration::from_secs(20), || children_of(init).is_empty());
    assert!(gone, "left under pause (zombies are children too): {:?}", children_of(init));
    let wake_ups = voluntary_switches(init) - woke;
    assert!(wake_ups <= WAKE_UPS_SLACK, "pause was woken {wake_ups} times by 40 orphans");
}

/// A pod with this image as infra (net, ipc, uts and pid shared): pause is PID 1 for the other
/// containers, orphans left in the pod are adopted and leave no zombie, and two containers talk
/// over 127.0.0.1.
#[test]
fn pod_infra_holds_the_namespaces_and_reaps() {
    images();
    let bb = busybox();
    let pod = podman()
        .pod_create(&format!("pause-test-pod-{}", std::process::id()), &["--infra-image", &list_name(), "--share", "net,ipc,uts,pid"]);
    podman().ok(["pod", "start", &pod.name]);
    let infra = podman().infra_of(&pod.name);
    let ps = podman().ok(["run", "--rm", "--pod", &pod.name, bb, "ps", "-o", "pid,user,args"]);
    let pid1 = pid_1_line(&ps);
    assert!(pid1.trim_end().ends_with("/pause"), "PID 1 of the pod is not /pause:\n{ps}");

    // Orphans come from `podman exec` into a running container: a container that ends takes
    // its leftover processes with it (its cgroup is killed), which would prove nothing.
    let worker = podman().ok(["run", "-d", "--pod", &pod.name, bb, "sleep", "600"]);
    let init = podman().running_pid(&infra);
    orphans_are_adopted_and_reaped(init, &|script| {
        podman().ok(["exec", worker.trim(), "sh", "-c", script]);
    });

    podman().ok(["run", "-d", "--pod", &pod.name, bb, "sh", "-c", "echo hello-from-the-pod | nc -l -p 8765"]);
    // The server is up when its socket listens in the pod's network namespace (pause's).
    let listening = eventually(Duration::from_secs(30), || listening_tcp_ports(init).contains(&8765));
    assert!(listening, "the server never listened on 8765 in the pod: {:?}", listening_tcp_ports(init));
    let out = podman().run(["run", "--rm", "--pod", &pod.name, bb, "nc", "127.0.0.1", "8765"]);
    let got = text(&out.stdout);
    assert_eq!(got.trim(), "hello-from-the-pod");
    podman().ok(["pod", "stop", "--time", "10", &pod.name]);
    assert_eq!(podman().exit_code(&infra), 0, "pause did not exit 0 when the pod stopped");
}

/// The Kubernetes way: `podman kube play` of a Pod with shareProcessNamespace and two containers,
/// with this image as the infra image: PID 1 is /pause, orphans leave no zombie, and `podman kube
/// down` ends it cleanly.
#[test]
fn kube_play_pod_with_shared_pid_namespace() {
    images();
    let bb = busybox();
    let name = format!("pause-test-kube-{}", std::process::id());
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  shareProcessNamespace: true\n  containers:\n  - name: one\n    image: {bb}\n    command: [\"sleep\", \"600\"]\n  - name: two\n    image: {bb}\n    command: [\"sleep\", \"600\"]\n"
    );
    let scratch = Scratch::new("kube");
    let file = scratch.join("pod.yaml");
    std::fs::write(&file, yaml).unwrap();
    // podman kube play has no --infra-image: it takes the infra image from containers.conf.
    let kube = podman().with_conf_lines(&scratch, &format!("[engine]\ninfra_image = \"{}\"", list_name()));
    let pod = kube.kube_play(file.to_str().unwrap(), &name);
    let infra = kube.infra_of(&pod.name);
    let image = kube.ok(["inspect", "--format", "{{.ImageName}}", &infra]);
    assert_eq!(image.trim(), list_name(), "the infra container is not this image");
    let one = format!("{name}-one");
    let ps = kube.ok(["exec", &one, "ps", "-o", "pid,args"]);
    let pid1 = pid_1_line(&ps);
    assert!(pid1.trim_end().ends_with("/pause"), "PID 1 is not /pause:\n{ps}");
    let init = kube.running_pid(&infra);
    orphans_are_adopted_and_reaped(init, &|script| {
        kube.ok(["exec", &one, "sh", "-c", script]);
    });
    kube.ok(["kube", "down", file.to_str().unwrap()]);
    let left = kube.run(["pod", "exists", &name]);
    assert!(!left.status.success(), "the pod is still there after kube down");
}

/// Each foreign-arch image runs under emulation (qemu-user-static through binfmt_misc) with
/// `--platform`; a machine without the binfmt_misc handler fails the test, naming it.
#[test]
fn foreign_arch_images_run_under_emulation() {
    for i in images() {
        let Some(qemu) = &i.arch.qemu else { continue };
        let binfmt = std::path::Path::new("/proc/sys/fs/binfmt_misc").join(qemu.binfmt);
        let registered = std::fs::read_to_string(&binfmt).is_ok_and(|b| b.starts_with("enabled"));
        assert!(
            registered,
            "{}: no enabled binfmt_misc handler {} on this machine, so `podman run --platform {}` cannot run the image: bash tests/run registers qemu-user-static's handlers (as root, where the kernel allows binfmt_misc)",
            i.arch.name, qemu.binfmt, i.arch.platform
        );
        let out = podman().run(["run", "--rm", "--platform", i.arch.platform, &image_name(i.arch), "-v"]);
        assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), version_line()), "{}: {}", i.arch.name, text(&out.stderr));
    }
}
